# psfleet transfer: receive a file as base64 chunks on the pipeline input, one per input
# object, into a temporary file beside the destination, hashing as it streams; move it into
# place only when the SHA-256 matches. Memory holds one chunk, whatever the file's size.
# Windows PowerShell 5.1 on Windows Server 2012 R2 and later. Uses only: Test-Path,
# Remove-Item, [System.IO.File]::Open/Move (.NET 2.0), FileStream.Write/Dispose,
# [System.Security.Cryptography.SHA256]::Create with TransformBlock/TransformFinalBlock,
# [System.Convert]::FromBase64String, [System.BitConverter]::ToString (.NET 2.0),
# Exception.HResult (.NET 4.5, shipped with Windows Server 2012 R2).
# FileShare.Delete: a stopped pipeline leaves its stream to the finalizer, and psfleet's
# cleanup must still be able to delete the temporary file.
param(
    [string]$Path,
    [string]$TempPath,
    [string]$Sha256
)
begin {
    $ErrorActionPreference = 'Stop'
    $hasher = [System.Security.Cryptography.SHA256]::Create()
    $stream = [System.IO.File]::Open(
        $TempPath,
        [System.IO.FileMode]::CreateNew,
        [System.IO.FileAccess]::Write,
        [System.IO.FileShare]::Delete)
    $written = 0
}
process {
    $ok = $false
    try {
        $bytes = [System.Convert]::FromBase64String($_)
        $null = $hasher.TransformBlock($bytes, 0, $bytes.Length, $null, 0)
        $stream.Write($bytes, 0, $bytes.Length)
        $written = $written + $bytes.Length
        $ok = $true
    }
    catch {
        # ERROR_DISK_FULL and ERROR_HANDLE_DISK_FULL, told apart from other IO errors by
        # HResult (Exception.HResult is public from .NET 4.5), whatever the host's language.
        $code = $_.Exception.InnerException.HResult
        if ($code -eq -2147024784 -or $code -eq -2147024857) {
            throw "psfleet-disk-full: $($_.Exception.InnerException.Message)"
        }
        throw $_
    }
    finally {
        if (-not $ok) {
            $stream.Dispose()
            Remove-Item -LiteralPath $TempPath -Force -ErrorAction SilentlyContinue
        }
    }
}
end {
    $ok = $false
    try {
        $stream.Dispose()
        $null = $hasher.TransformFinalBlock([System.Convert]::FromBase64String(''), 0, 0)
        $actual = [System.BitConverter]::ToString($hasher.Hash).Replace('-', '')
        if ($actual -ne $Sha256) {
            throw "psfleet-hash-mismatch: expected $Sha256, wrote $actual"
        }
        if (Test-Path -LiteralPath $Path -PathType Leaf) {
            Remove-Item -LiteralPath $Path -Force
        }
        [System.IO.File]::Move($TempPath, $Path)
        $ok = $true
    }
    finally {
        if (-not $ok) {
            Remove-Item -LiteralPath $TempPath -Force -ErrorAction SilentlyContinue
        }
    }
    [pscustomobject]@{ Path = $Path; Bytes = $written; Sha256 = $actual }
}

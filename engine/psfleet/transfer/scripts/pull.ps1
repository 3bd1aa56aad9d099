# psfleet transfer: send a file back as base64 chunks on the output stream, hashing as it
# reads; the first output is its length, the last its SHA-256. Memory holds one chunk.
# Windows PowerShell 5.1 on Windows Server 2012 R2 and later. Uses only:
# [System.IO.File]::Open, FileStream.Read/Length/Dispose, New-Object byte[],
# [System.Math]::Ceiling, [System.Security.Cryptography.SHA256]::Create with
# TransformBlock/TransformFinalBlock, [System.Convert]::ToBase64String,
# [System.BitConverter]::ToString (all .NET 2.0).
param(
    [string]$Path,
    [int]$ChunkSize
)
$ErrorActionPreference = 'Stop'
$stream = [System.IO.File]::Open(
    $Path,
    [System.IO.FileMode]::Open,
    [System.IO.FileAccess]::Read,
    [System.IO.FileShare]::Read)
try {
    $hasher = [System.Security.Cryptography.SHA256]::Create()
    $buffer = New-Object -TypeName byte[] -ArgumentList $ChunkSize
    $length = $stream.Length
    [pscustomobject]@{ Path = $Path; Length = $length }
    $chunks = [System.Math]::Ceiling($length / $ChunkSize)
    if ($chunks -gt 0) {
        foreach ($index in 1..$chunks) {
            $read = $stream.Read($buffer, 0, $ChunkSize)
            $null = $hasher.TransformBlock($buffer, 0, $read, $null, 0)
            [System.Convert]::ToBase64String($buffer, 0, $read)
        }
    }
    $null = $hasher.TransformFinalBlock($buffer, 0, 0)
    [pscustomobject]@{ Sha256 = [System.BitConverter]::ToString($hasher.Hash).Replace('-', '') }
}
finally {
    $stream.Dispose()
}

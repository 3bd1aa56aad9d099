# psfleet transfer: where a pushed file goes, and the SHA-256 of what is there now; removes
# the temporary files that earlier pushes to it left when their host could not clean up.
# Windows PowerShell 5.1 on Windows Server 2012 R2 and later. Uses only: Test-Path,
# Join-Path, Remove-Item (PowerShell 1.0), Get-FileHash (PowerShell 4.0),
# [System.IO.Directory]::CreateDirectory/GetFiles and [System.IO.Path]::GetDirectoryName/
# GetFileName (.NET 2.0).
param(
    [string]$Path,
    [string]$Name,
    [bool]$MakeParents
)
$ErrorActionPreference = 'Stop'
if (Test-Path -LiteralPath $Path -PathType Container) {
    $Path = Join-Path -Path $Path -ChildPath $Name
}
if ($MakeParents) {
    $null = [System.IO.Directory]::CreateDirectory([System.IO.Path]::GetDirectoryName($Path))
}
$folder = [System.IO.Path]::GetDirectoryName($Path)
if ($folder -and (Test-Path -LiteralPath $folder -PathType Container)) {
    $stale = [System.IO.Path]::GetFileName($Path) + '.*.psfleet-tmp'
    foreach ($old in [System.IO.Directory]::GetFiles($folder, $stale)) {
        Remove-Item -LiteralPath $old -Force -ErrorAction SilentlyContinue
    }
}
$hash = ''
if (Test-Path -LiteralPath $Path -PathType Leaf) {
    $hash = (Get-FileHash -LiteralPath $Path -Algorithm SHA256).Hash
}
[pscustomobject]@{ Path = $Path; Sha256 = $hash }

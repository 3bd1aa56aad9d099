# psfleet transfer: where a pushed file goes, and the SHA-256 of what is there now.
# Windows PowerShell 5.1 on Windows Server 2012 R2 and later. Uses only: Test-Path,
# Join-Path (PowerShell 1.0), Get-FileHash (PowerShell 4.0), [System.IO.Directory]::CreateDirectory
# and [System.IO.Path]::GetDirectoryName (.NET 2.0).
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
$hash = ''
if (Test-Path -LiteralPath $Path -PathType Leaf) {
    $hash = (Get-FileHash -LiteralPath $Path -Algorithm SHA256).Hash
}
[pscustomobject]@{ Path = $Path; Sha256 = $hash }

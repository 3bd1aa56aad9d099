# psfleet transfer: the files of a remote directory tree, for fetch --recurse.
# Windows PowerShell 5.1 on Windows Server 2012 R2 and later. Uses only: Get-ChildItem
# (-File and -Recurse: PowerShell 3.0), ForEach-Object.
param(
    [string]$Path
)
$ErrorActionPreference = 'Stop'
Get-ChildItem -LiteralPath $Path -Recurse -File | ForEach-Object { $_.FullName }

# psfleet transfer: the files of a remote directory tree, for fetch --recurse.
# Windows PowerShell 5.1 on Windows Server 2012 R2 and later. Uses only:
# [System.IO.Directory]::GetFiles with SearchOption.AllDirectories (.NET 2.0).
param(
    [string]$Path
)
$ErrorActionPreference = 'Stop'
[System.IO.Directory]::GetFiles($Path, '*', [System.IO.SearchOption]::AllDirectories)

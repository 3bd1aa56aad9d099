# psfleet transfer: remove the temporary file of a push that did not finish.
# Windows PowerShell 5.1 on Windows Server 2012 R2 and later. Uses only: Remove-Item.
param(
    [string]$TempPath
)
Remove-Item -LiteralPath $TempPath -Force -ErrorAction SilentlyContinue

"""HTTP transport: aiohttp sessions, pyspnego authentication and WinRM message encryption."""

"""Built-in psfleet plugins (inventories, sinks), loaded through psfleet.plugins entry points."""

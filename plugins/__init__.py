"""Built-in psfleet plugins (inventories, sinks), loaded through the psfleet.plugins entry points."""

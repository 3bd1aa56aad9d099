"""Built-in psfleet plugins: inventories and sinks, loaded through the psfleet.plugins entry points."""

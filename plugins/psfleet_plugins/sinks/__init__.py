"""Built-in sinks: console (rich), JSON Lines, per-host output directory."""

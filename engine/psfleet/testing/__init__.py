"""Test support shipped with psfleet: real KDC, Windows captures, event capture."""

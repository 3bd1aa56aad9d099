"""What only psfleet's own tests need: Windows captures, their replay, a corrupting proxy,
the event-loop stall guard, in-process fleet starters and free ports.

Users' support (the pytest plugin, fleets in a thread or a process, the MIT KDC) ships in
the package as `psfleet.testing`. Importable as `tests.support` from a source checkout
(pytest's `pythonpath` puts the checkout's root on sys.path).
"""

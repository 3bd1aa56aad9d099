"""Testing support for psfleet's users: simulated fleets for your own tests.

`pytest_plugin` (loaded by pytest through the `pytest11` entry point) gives the `simfleet`,
`simlab` and `mit_kdc` fixtures; `lab` and `lab_runners` run a fleet in a thread or as
`psfleet sim` in a subprocess; `fleet_thread` runs any `SimConfig` for synchronous clients;
`kdc.MitKdc` is a real MIT KDC for Kerberos. docs/testing.md explains them.
"""

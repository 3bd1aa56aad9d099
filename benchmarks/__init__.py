"""The benchmark harness: psfleet and the realistic alternatives on the same simulated fleet.

Run it as `python -m benchmarks` (see benchmarks/__main__.py); docs/performance.md
explains what it measures and the limit model it checks.
"""

"""The tools under test, one module each, run inside a child process (benchmarks.child).

Each module has `run(spec, report) -> float | None`: it runs the case, calls
`report(outcome)` as soon as the figures are final, then tears down (closing pools
that stayed open) and returns how long that took.
"""

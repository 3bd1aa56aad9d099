"""simfleet: a simulated fleet of WinRM/PSRP hosts for the demo, tests and benchmarks."""

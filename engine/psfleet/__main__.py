"""`python -m psfleet`: the same as the `psfleet` command."""

from psfleet.cli.app import main

main()

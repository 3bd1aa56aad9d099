"""psfleet's command line (typer): run, shell, doctor, bench and sim."""

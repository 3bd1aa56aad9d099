"""The command's logging: readable warnings on stderr, JSON lines for --log-json, no secrets."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

SECRET = "Hunter2-s3cret"


def test_a_logged_exception_shows_its_traceback_but_not_the_local_variables(
    tmp_path: Path,
) -> None:
    log_file = tmp_path / "run.log"
    script = f"""
        from pathlib import Path
        from psfleet.logs import configure_cli, configure_json_file, get_logger

        configure_cli()
        configure_json_file(Path({str(log_file)!r}))

        def authenticate(password):
            raise ValueError("the host said no")

        try:
            authenticate({SECRET!r})
        except ValueError:
            get_logger("psfleet.run").exception("host task failed", host="node01")
        get_logger("psfleet.run").info("host done", host="node01")
    """
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert "host task failed" in done.stderr and "host=node01" in done.stderr
    assert "ValueError: the host said no" in done.stderr
    assert "host done" not in done.stderr  # info goes to the file only
    events = [json.loads(line) for line in log_file.read_text().splitlines()]
    assert [e["event"] for e in events] == ["host task failed", "host done"]
    assert "ValueError: the host said no" in events[0]["exception"]
    assert SECRET not in done.stderr + done.stdout + log_file.read_text()

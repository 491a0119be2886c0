"""The command line's own plumbing (the commands themselves are tested with the layer each
calls: tests/training, tests/scoring, tests/serving)."""

from __future__ import annotations

import subprocess
import sys

from compass import cli


def test_only_the_answer_reaches_stdout(capfd) -> None:
    """What libraries print while a command works (MLflow's "View run ..." lines with a
    tracking server) and what its child processes print go to stderr; the answer printed
    after it is all of stdout."""
    with cli._answer_on_stdout():
        print("View run at http://tracking-server")
        subprocess.run([sys.executable, "-c", "print('a tuning worker')"], check=True)
    print('{"version": "1"}')
    out, err = capfd.readouterr()
    assert out == '{"version": "1"}\n'
    assert "View run" in err and "a tuning worker" in err

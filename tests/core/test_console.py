"""The console while a command works: its own lines there, the libraries' in the log file (or on
the console with verbose), stdout for the answer alone. Run in a child process: the redirection
is made on the real file descriptors, which pytest's capture replaces."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

# what a command's libraries do while it works, and the command's own lines around it
COMMAND = textwrap.dedent(
    """
    import logging, subprocess, sys, warnings
    from pathlib import Path
    from core.console import quiet

    with quiet(Path(sys.argv[1]), verbose=sys.argv[2] == "1") as console:
        console.say("  3/10 time-fold CV   4.2 s")
        print("a library's print")
        logging.getLogger("mlflow.store").info("an INFO line")
        warnings.warn("a library's warning")
        subprocess.run([sys.executable, "-c", "import sys; print('a worker'); "
                        "print('a worker on stderr', file=sys.stderr)"], check=True)
        logging.getLogger("training.dataset").warning("the project's own warning")
    print('{"version": "1"}')
    """
)
LIBRARY_LINES = ("a library's print", "an INFO line", "a library's warning", "a worker")


def run(tmp_path: Path, verbose: bool) -> tuple[subprocess.CompletedProcess[str], Path]:
    log = tmp_path / "command.log"
    done = subprocess.run(
        [sys.executable, "-c", COMMAND, str(log), "1" if verbose else "0"],
        cwd=REPO,
        env=os.environ | {"HIT_COMPASS_STATE": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done, log


def test_library_output_goes_to_the_log_file_and_stdout_keeps_the_answer(tmp_path: Path) -> None:
    done, log = run(tmp_path, verbose=False)
    assert done.stdout == '{"version": "1"}\n'
    console = done.stderr.splitlines()
    assert console == [
        f"log file: {log} (compass --verbose shows it here)",
        "  3/10 time-fold CV   4.2 s",
        "the project's own warning",
    ]
    logged = log.read_text()
    for line in (*LIBRARY_LINES, "a worker on stderr", "the project's own warning"):
        assert line in logged
    assert "INFO mlflow.store: an INFO line" in logged  # with its time and logger
    assert "compass:   3/10 time-fold CV" in logged  # the command's lines too, for context


def test_verbose_shows_the_libraries_on_the_console(tmp_path: Path) -> None:
    done, log = run(tmp_path, verbose=True)
    assert done.stdout == '{"version": "1"}\n'
    for line in (*LIBRARY_LINES, "a worker on stderr", "3/10 time-fold CV"):
        assert line in done.stderr
    assert "log file" not in done.stderr and not log.exists()

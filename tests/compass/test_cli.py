"""The command line's own plumbing: a quiet console and help that reads as written (the
commands themselves are tested with the layer each calls: tests/training, tests/scoring,
tests/serving; the console's redirection in tests/core/test_console.py)."""

from __future__ import annotations

import inspect
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import typer
import yaml
from typer.testing import CliRunner

from compass import cli
from features.spec import load_spec
from training import DEFAULT_SPEC
from training.pipeline import run_stages
from training.train import load_config

REPO = Path(__file__).resolve().parents[2]
# `compass` itself (compass.cli.main), then the modules of pyspark and py4j it imported, written
# to the file named first
COMPASS = (
    "import atexit, sys; out = sys.argv.pop(1); "
    "atexit.register(lambda: open(out, 'w').write(' '.join(m for m, mod in sys.modules.items() "
    "if mod is not None and m.partition('.')[0] in ('pyspark', 'py4j')))); "
    "from compass.cli import main; sys.argv[0] = 'compass'; main()"
)
# what the console must not show: library warnings, INFO lines, progress bars
NOISE = re.compile(r"Warning|\bINFO\b|\r|\d+%\||it/s|Downloading artifacts")


@pytest.mark.e2e
@pytest.mark.slow
def test_a_train_shows_its_own_lines_and_imports_no_pyspark(
    tmp_path: Path, quick_params: Path
) -> None:
    """`compass train` in a fresh state folder (MLflow creates its database: INFO lines; it
    logs a model: warnings and progress bars), as a person runs it: the console holds the
    stages with their seconds, the result and where to look; the libraries' lines are in the
    log file it names; stdout is the JSON answer; and pyspark was never imported."""
    from features.simulator import simulate

    data = tmp_path / "launches.parquet"
    simulate(1500, 3).to_parquet(data, index=False)
    state, modules = tmp_path / "state", tmp_path / "modules.txt"
    switches = ("TQDM_DISABLE", "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "MLFLOW_CONFIGURE_LOGGING")
    env = {k: v for k, v in os.environ.items() if k not in switches} | {
        "HIT_COMPASS_STATE": str(state),
        "MLFLOW_TRACKING_URI": f"sqlite:///{state / 'mlflow.db'}",
        "HIT_COMPASS_VERBOSE": "",
    }
    args = ["train", "--data", str(data), "--params", str(quick_params)]
    done = subprocess.run(
        [sys.executable, "-c", COMPASS, str(modules), *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    answer = json.loads(done.stdout)
    assert answer["version"] == "1" and answer["promotion"]["promoted"]
    assert not NOISE.search(done.stdout + done.stderr), done.stderr
    lines = done.stderr.splitlines()
    log = state / "logs" / re.search(r"^log file: .*/logs/(\S+\.log) ", lines[0], re.M)[1]
    n = len(run_stages(load_spec(DEFAULT_SPEC), load_config()))  # the interval's too
    assert [line.split()[0] for line in lines[1 : n + 1]] == [f"{i}/{n}" for i in range(1, n + 1)]
    assert all(re.search(r"\d\.\d s$", line) for line in lines[1 : n + 1])  # their seconds
    assert lines[n + 1].startswith("hit-compass version 1: test AUC")
    assert f"MLflow run {answer['mlflow_run']['id']}" in done.stderr
    assert Path(answer["mlflow_run"]["report"]).is_file()
    logged = log.read_text()
    assert "INFO mlflow.store.db.utils: Creating initial MLflow database tables" in logged
    assert "Successfully registered model" in logged  # warnings: tests/core/test_console.py
    assert modules.read_text() == ""


def commands(group: typer.Typer, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every command's words, groups included (``("bench", "serve")``...)."""
    found: list[tuple[str, ...]] = [prefix] if prefix else []
    for info in group.registered_commands:
        found.append((*prefix, info.name or info.callback.__name__.replace("_", "-")))
    for sub in group.registered_groups:
        found += commands(sub.typer_instance, (*prefix, sub.name))
    return found


WIDTH = 80  # a terminal's columns


def test_help_reads_as_written() -> None:
    """Every command's help: its docstring's paragraphs, each rewrapped to the terminal (no line
    cut where the source broke it); the commands tables show each command's first sentence,
    whole, on one line."""
    runner = CliRunner()
    group = typer.main.get_command(cli.app)
    for words in [(), *commands(cli.app)]:
        shown = runner.invoke(cli.app, [*words, "--help"], terminal_width=WIDTH)
        assert shown.exit_code == 0, shown.output
        command = group
        for word in words:
            command = command.commands[word]  # type: ignore[attr-defined]
        text = re.split(r"\n(?:Arguments|Options):", shown.output)[0]
        lines = [line.rstrip() for line in text.splitlines()]
        assert all(len(line) <= WIDTH for line in lines), shown.output
        for line, after in zip(lines, lines[1:], strict=False):
            if line and after.strip():  # within a paragraph, each line as full as it can be
                assert len(line) + 1 + len(after.split()[0]) > WIDTH - 2, shown.output
        # the lines joined again (a word cut at its hyphen, as click cuts "out-of-time", whole)
        rewrapped = re.sub(r"-\n\s*", "-", text)
        rewrapped = " ".join(rewrapped.split())
        for paragraph in inspect.cleandoc(command.help or "").split("\n\n"):
            assert " ".join(paragraph.split()) in rewrapped, (words, paragraph)
        if hasattr(command, "commands"):  # a group: its commands table
            table = shown.output.split("\nCommands:\n")[1].splitlines()
            assert len(table) == len(command.commands), shown.output  # one line each
            for line, name in zip(table, command.commands, strict=True):
                first = inspect.cleandoc(command.commands[name].help or "").split("\n\n")[0]
                entry = line.split(None, 1)[1]  # whole, not cut short with "..."
                assert not entry.endswith("...") and " ".join(first.split()).startswith(entry)


# ---- a user's mistakes: exit 1 and one paragraph, never a traceback ----------------------------
GOOD_SPEC = {
    "name": "broken_inputs",
    "source": "launches.csv",
    "id_column": "name",
    "date_column": "launched",
    "target": {"column": "hit"},
    "categorical": ["category"],
    "numeric": ["goal"],
}


def _launches(n: int = 120) -> list[dict]:
    return [
        {
            "name": f"l{i}",
            "category": ["a", "b", "c"][i % 3],
            "goal": str(100 + i),
            "launched": f"2022-{i % 12 + 1:02d}-{i % 28 + 1:02d}",
            "hit": int(i % 4 == 0),
        }
        for i in range(n)
    ]


def _csv(rows: list[dict], header: list[str] | None = None) -> str:
    header = header or list(rows[0])
    lines = [",".join(header)] + [",".join(str(r[h]) for h in header) for r in rows]
    return "\n".join(lines) + "\n"


def _broken_cases() -> dict[str, tuple[dict | str, str, str]]:
    """name -> (spec, or its YAML text; the data file's text; what the message must say)."""
    rows = _launches()
    good = _csv(rows)
    return {
        "wrong type": (GOOD_SPEC | {"categorical": "category"}, good, "categorical"),
        "unknown key": (GOOD_SPEC | {"colour": "red"}, good, "colour: unknown key"),
        "not yaml": ("name: [unclosed\nsource: x", good, "not valid YAML"),
        "missing column": (GOOD_SPEC | {"numeric": ["budget"]}, good, "budget"),
        "empty file": (GOOD_SPEC, "", "is empty"),
        "header only": (GOOD_SPEC, good.split("\n")[0] + "\n", "no launches to learn from (0 rows"),
        "dates of text": (
            GOOD_SPEC,
            _csv([r | {"launched": "soon"} for r in rows]),
            "date column 'launched'",
        ),
        "one class": (GOOD_SPEC, _csv([r | {"hit": 0} for r in rows]), "only non-hits"),
        "numbers of text": (
            GOOD_SPEC,
            _csv([r | {"goal": "about a lot"} for r in rows]),
            "numeric column 'goal'",
        ),
        "target not 0/1": (
            GOOD_SPEC,
            _csv([r | {"hit": "yes" if r["hit"] else "no"} for r in rows]),
            "target.positive",
        ),
        "one day": (GOOD_SPEC, _csv([r | {"launched": "2022-03-01"} for r in rows]), "fall on"),
        "seconds as ms": (
            GOOD_SPEC | {"date_format": "unix_ms"},
            _csv([r | {"launched": 1_434_931_811 + i} for i, r in enumerate(rows)]),
            "outside 1973 to 2100 (values from 1434931811 to 1434931930",
        ),
        "unreadable encoding": (GOOD_SPEC | {"encoding": "klingon"}, good, "unknown encoding"),
    }


def _assert_one_paragraph(result, must_say: str) -> None:
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit), result.exception  # handled, not raised
    err = result.stderr
    assert "Traceback" not in result.output
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and must_say in errors[0], err
    assert "\n\n" not in err.strip()


@pytest.mark.parametrize("case", list(_broken_cases()))
def test_a_broken_spec_or_file_exits_1_with_one_paragraph(tmp_path: Path, case: str) -> None:
    spec, data, must_say = _broken_cases()[case]
    spec_path = tmp_path / "spec.yaml"
    spec_path.write_text(spec if isinstance(spec, str) else yaml.safe_dump(spec))
    (tmp_path / "launches.csv").write_text(data)
    for command in (["train"], ["tune", "--trials", "1", "--no-report-test"]):
        result = CliRunner().invoke(cli.app, [*command, "--spec", str(spec_path)])
        _assert_one_paragraph(result, must_say)


def test_score_a_broken_concept_file_exits_1_with_one_paragraph(
    tmp_path: Path, champion: dict
) -> None:
    header = "concept_id,launch_date,category\n"
    for name, text, must_say in (
        ("empty.csv", "", "is empty"),
        ("header_only.csv", header, "no column"),
        ("concepts.txt", header, "expected a .csv or .parquet file"),
        ("missing.csv", None, "does not exist"),
    ):
        path = tmp_path / name
        if text is not None:
            path.write_text(text)
        result = CliRunner().invoke(cli.app, ["score", str(path), "-o", str(tmp_path / "o.csv")])
        _assert_one_paragraph(result, must_say)

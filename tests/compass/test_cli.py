"""The command line's own plumbing (the commands themselves are tested with the layer each
calls: tests/training, tests/scoring, tests/serving)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

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

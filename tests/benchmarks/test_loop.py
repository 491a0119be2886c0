"""The outcomes loop end to end at small scale (benchmarks/loop.py): real `compass` commands,
a real `bentoml serve`, cohorts from a drifted simulated world."""

from __future__ import annotations

import math

import pytest

from benchmarks import loop


@pytest.mark.slow
def test_the_loop_closes_against_a_real_server() -> None:
    said: list[str] = []
    result = loop.run("small", say=said.append)
    scale, run = loop.SCALES["small"], result["drift"]["run"]
    champion, retrained = run["champion"], run["retrained"]

    # cohort 1: every concept scored over HTTP by the champion, every outcome recorded & matched
    assert run["cohort1"] | {"n": scale.cohort1, "answered_by": [champion]} == run["cohort1"]
    assert run["outcomes"] == {"recorded": scale.cohort1, "duplicates": 0, "unmatched": 0}
    assert run["monitor"]["matched"] == scale.cohort1
    # the monitor names the fields the drift moved, and says so in its exit status
    assert sorted(result["drift"]["flagged_fields"]) == sorted(loop.DRIFT.drifted_fields())
    assert run["monitor"]["exit_code"] == 3
    # the retraining took cohort 1's outcomes; cohort 2 is answered by whoever the gate chose
    assert retrained["rows_added"] == scale.cohort1 and retrained["version"] != champion
    now = retrained["version"] if retrained["gate"]["promoted"] else champion
    assert run["cohort2"]["answered_by"] == [now]
    assert any("reload" in s for s in said) == retrained["gate"]["promoted"]
    for key in ("regret_before", "regret_after"):
        assert math.isfinite(result["drift"][key]) and result["drift"][key] > 0
    assert "| drift: fields the monitor flagged" in loop.markdown(result)

"""Training: launch history -> model -> MLflow registry -> champion.

The shipped dataset specs live in ``specs/``; the simulator's is the embedded default.
"""

from pathlib import Path

SPECS = Path(__file__).with_name("specs")
DEFAULT_SPEC = SPECS / "simulated.yaml"

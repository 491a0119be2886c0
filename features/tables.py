"""Reading and writing tables (CSV or Parquet, by the file's suffix): launch histories, concept
files and their scored copies."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

PARQUET, CSV = (".parquet", ".pq"), (".csv",)


def read_table(path: Path, as_text: bool = False) -> pd.DataFrame:
    """A CSV or Parquet file as a DataFrame. ``as_text``: CSV cells stay the strings they were
    typed as (empty is empty, not NaN), so a schema decides what parses, not pandas' guesses."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"data file {path} does not exist")
    suffix = path.suffix.lower()
    if suffix in PARQUET:
        return pd.read_parquet(path)
    if suffix in CSV:
        if as_text:
            return pd.read_csv(path, dtype=str, keep_default_na=False)
        return pd.read_csv(path, low_memory=False)
    raise ValueError(f"{path}: expected a .csv or .parquet file")


def write_table(frame: pd.DataFrame, path: Path) -> None:
    """Write ``frame`` as CSV or Parquet (by ``path``'s suffix), creating the folder."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in PARQUET + CSV:
        raise ValueError(f"{path}: expected a .csv or .parquet file")
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix in PARQUET:
        frame.to_parquet(path, index=False)
    else:
        frame.to_csv(path, index=False)

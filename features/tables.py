"""Reading and writing tables (CSV or Parquet, by the file's suffix): launch histories, concept
files and their scored copies.

CSV files come out of spreadsheets and shop back-ends in many encodings. Without an encoding
named (the dataset spec's ``encoding`` key), a CSV is decoded as UTF-8 (with or without a byte
order mark) if it is valid UTF-8, else as whichever of GB18030 (Chinese exports, a superset of
GBK) and cp1252 (Western European exports, a superset of latin-1's printable characters)
charset-normalizer judges more coherent, else the other. Line endings may be LF, CRLF or CR only.

A file none of them decodes (an 8-bit export with bytes cp1252 leaves undefined, such as 0x81)
is read as latin-1, which maps every byte to a character: the table says so (:attr:`Table.note`
names the bytes that ruled each encoding out, with the first offset), so the data report and the
console can. A file with NUL bytes is no 8-bit text (UTF-16, or not text at all): it fails with
:class:`TableError`, naming the file, the encodings tried and the spec key to set.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import NamedTuple

import pandas as pd

PARQUET, CSV = (".parquet", ".pq"), (".csv",)
UTF8 = "utf-8-sig"  # UTF-8, and drops a byte order mark if there is one
LEGACY = ("gb18030", "cp1252")  # tried after UTF-8, the likelier first
FALLBACK = "latin-1"  # maps every byte: the last resort of an 8-bit file
CP1252_UNDEFINED = frozenset(b"\x81\x8d\x8f\x90\x9d")  # the five bytes cp1252 leaves unassigned


class TableError(ValueError):
    """A table file that cannot be read; the message says which file and what to do."""


class Table(NamedTuple):
    frame: pd.DataFrame
    encoding: str | None  # what a CSV was decoded with (None for Parquet)
    note: str | None = None  # why the encoding is a fallback (latin-1), for the report


class Decoded(NamedTuple):
    text: str
    encoding: str
    note: str | None = None  # set when the encoding is the latin-1 fallback: why


def read_table(path: Path, as_text: bool = False, encoding: str | None = None) -> pd.DataFrame:
    """A CSV or Parquet file as a DataFrame (see :func:`read`)."""
    return read(path, as_text, encoding).frame


def read(path: Path, as_text: bool = False, encoding: str | None = None) -> Table:
    """A CSV or Parquet file. ``as_text``: CSV cells stay the strings they were typed as (empty
    is empty, not NaN), so a schema decides what parses, not pandas' guesses. ``encoding``: the
    CSV's encoding (default: detected, see the module docstring)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"data file {path} does not exist")
    suffix = path.suffix.lower()
    if suffix in PARQUET:
        return Table(pd.read_parquet(path), None)
    if suffix not in CSV:
        raise TableError(f"{path}: expected a .csv or .parquet file")
    decoded = decode(path.read_bytes(), path, encoding)
    # CR-only files (old spreadsheet exports): one line ending for the parser
    text = decoded.text.replace("\r\n", "\n").replace("\r", "\n")
    try:
        if as_text:
            frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
        else:
            frame = pd.read_csv(io.StringIO(text), low_memory=False)
    except pd.errors.EmptyDataError:
        raise TableError(f"{path} is empty (not even a header line)") from None
    except pd.errors.ParserError as exc:
        reason = str(exc).strip().splitlines()[-1]
        raise TableError(f"{path} is not a readable CSV table: {reason}") from None
    return Table(frame, decoded.encoding, decoded.note)


def decode(raw: bytes, path: Path, encoding: str | None = None) -> Decoded:
    """A CSV's bytes as text, with the encoding used (see the module docstring);
    :class:`TableError` for a named encoding that does not fit, or a file with NUL bytes."""
    if encoding is not None:
        try:
            return Decoded(_text(raw, encoding), encoding)
        except LookupError:
            msg = f"{path}: unknown encoding {encoding!r} (spec key 'encoding')"
            raise TableError(msg) from None
        except ValueError as exc:
            raise TableError(
                f"{path} is not valid {encoding} ({exc}); set the spec key 'encoding' to the "
                "file's encoding, or remove it to detect one"
            ) from None
    tried = [UTF8, *_legacy_order(raw)]
    for candidate in tried:
        try:
            return Decoded(_text(raw, candidate), candidate)
        except ValueError:
            continue
    if (nul := raw.find(b"\x00")) >= 0:  # two-byte text (UTF-16) or no text at all
        raise TableError(
            f"{path} could not be decoded as text (tried {', '.join(tried)}): it holds NUL "
            f"bytes (the first at offset {nul}), as UTF-16 text or a binary file does; set the "
            "spec key 'encoding' to the file's encoding (e.g. encoding: utf-16)"
        )
    note = (
        f"read as {FALLBACK} (which maps every byte): {'; '.join(_why_not(raw))}; check "
        "accented letters, or set the spec key 'encoding' to the file's encoding"
    )
    return Decoded(raw.decode(FALLBACK), FALLBACK, note)


def _why_not(raw: bytes) -> list[str]:
    """Per encoding tried, the bytes that ruled it out (each with its first offset)."""
    reasons = []
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        reasons.append(f"not UTF-8 (invalid byte 0x{raw[exc.start]:02X} at offset {exc.start})")
    undefined = sorted(CP1252_UNDEFINED & set(raw))
    if undefined:
        first = min(raw.index(b) for b in undefined)
        shown = ", ".join(f"0x{b:02X}" for b in undefined)
        reasons.append(f"not cp1252 ({shown} undefined there; the first at offset {first})")
    try:
        raw.decode("gb18030")
    except UnicodeDecodeError as exc:
        reasons.append(
            f"not GB18030 (invalid sequence from byte 0x{raw[exc.start]:02X} at offset {exc.start})"
        )
    return reasons


def _text(raw: bytes, encoding: str) -> str:
    text = raw.decode(encoding)  # strict: UnicodeDecodeError is a ValueError
    if "\x00" in text:  # e.g. UTF-16 read as a one-byte encoding: not this encoding's text
        raise ValueError(f"NUL characters when read as {encoding}")
    return text


def _legacy_order(raw: bytes) -> list[str]:
    """GB18030 and cp1252, the one charset-normalizer finds more coherent first (a cp1252
    'été' is also valid GB18030, so validity alone cannot choose)."""
    from charset_normalizer import from_bytes

    best = from_bytes(raw, cp_isolation=list(LEGACY)).best()
    first = best.encoding if best is not None and best.encoding in LEGACY else LEGACY[0]
    return [first, *(e for e in LEGACY if e != first)]


def write_table(frame: pd.DataFrame, path: Path) -> None:
    """Write ``frame`` as CSV (UTF-8) or Parquet (by ``path``'s suffix), creating the folder."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in PARQUET + CSV:
        raise TableError(f"{path}: expected a .csv or .parquet file")
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix in PARQUET:
        frame.to_parquet(path, index=False)
    else:
        frame.to_csv(path, index=False)

"""Reading launch histories as people export them: encodings, byte order marks, line endings."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from features.tables import TableError, read

# category names a Chinese shop back-end and a Western spreadsheet would write
CHINESE = "concept_id,category,price\r\nsku-1,护肤精华,199.0\r\nsku-2,零食礼盒,35.5\r\n"
WESTERN = "concept_id,category,price\nsku-1,crème brûlée,4.5\nsku-2,café frappé,3.0\n"


def _write(tmp_path: Path, name: str, text: str, encoding: str, newline: str = "\n") -> Path:
    path = tmp_path / name
    path.write_bytes(text.replace("\r\n", "\n").replace("\n", newline).encode(encoding))
    return path


@pytest.mark.parametrize(
    "text, encoding, newline, detected",
    [
        (CHINESE, "utf-8", "\n", "utf-8-sig"),
        (CHINESE, "utf-8-sig", "\r\n", "utf-8-sig"),  # Excel's "CSV UTF-8": with a BOM
        (CHINESE, "gb18030", "\r\n", "gb18030"),
        (CHINESE, "gbk", "\n", "gb18030"),  # GB18030 reads every GBK file
        (WESTERN, "cp1252", "\r\n", "cp1252"),
        (WESTERN, "latin-1", "\r", "cp1252"),  # old Mac exports: CR only
        (WESTERN, "utf-8", "\r", "utf-8-sig"),
    ],
)
def test_encodings_and_line_endings_are_read_as_typed(
    tmp_path: Path, text: str, encoding: str, newline: str, detected: str
) -> None:
    path = _write(tmp_path, "launches.csv", text, encoding, newline)
    frame, used, _ = read(path)
    rows = [line.split(",") for line in text.replace("\r\n", "\n").strip().split("\n")]
    assert list(frame.columns) == rows[0]  # no BOM glued to the first column's name
    assert frame["category"].tolist() == [r[1] for r in rows[1:]]
    assert frame["price"].tolist() == [float(r[2]) for r in rows[1:]]
    assert used == detected


def test_a_named_encoding_is_used_and_a_wrong_one_says_which_key(tmp_path: Path) -> None:
    path = _write(tmp_path, "launches.csv", CHINESE, "gb18030")
    assert read(path, encoding="gb18030").frame["category"][0] == "护肤精华"
    with pytest.raises(TableError, match=r"launches\.csv is not valid utf-8.*'encoding'"):
        read(path, encoding="utf-8")


def test_an_undecodable_file_names_the_file_and_what_was_tried(tmp_path: Path) -> None:
    path = _write(tmp_path, "launches.csv", WESTERN, "utf-16")  # NULs in every one-byte reading
    with pytest.raises(TableError) as err:
        read(path)
    message = str(err.value)
    assert "launches.csv" in message and "utf-8-sig, " in message and "gb18030" in message
    assert "cp1252" in message and "'encoding'" in message


def test_compass_train_on_an_undecodable_file_exits_1_with_the_message(tmp_path: Path) -> None:
    from compass.cli import app
    from training import DEFAULT_SPEC

    data = _write(tmp_path, "launches.csv", WESTERN, "utf-16")
    result = CliRunner().invoke(app, ["train", "--spec", str(DEFAULT_SPEC), "--data", str(data)])
    assert result.exit_code == 1
    assert "could not be decoded" in result.output and "Traceback" not in result.output


# a crowdfunding export: 8-bit, CR line ends, bytes cp1252 leaves undefined (0x81, 0x9D) beside
# latin-1 letters; neither UTF-8, cp1252 nor GB18030 reads it
LATIN1 = b"campaign,category,goal\rcaf\xe9 \x81one,Design,5000\rna\xefve\x9d,Games,1200\r"


def test_an_8_bit_file_no_encoding_reads_is_read_as_latin1_and_says_why(tmp_path: Path) -> None:
    path = tmp_path / "campaigns.csv"
    path.write_bytes(LATIN1)
    frame, used, note = read(path)
    assert used == "latin-1"
    assert frame["campaign"].tolist() == ["caf\xe9 \x81one", "na\xefve\x9d"]  # every byte kept
    assert frame["goal"].tolist() == [5000, 1200] and len(frame) == 2  # CR: two rows
    e_acute, first_undefined = LATIN1.index(b"\xe9"), LATIN1.index(b"\x81")
    assert f"not UTF-8 (invalid byte 0xE9 at offset {e_acute})" in note
    assert f"not cp1252 (0x81, 0x9D undefined there; the first at offset {first_undefined})" in note
    assert "not GB18030" in note and "'encoding'" in note
    assert "utf-16" not in note  # no two-byte hint for an 8-bit file
    assert read(path, encoding="latin-1").note is None  # named in the spec: nothing to say


def test_an_empty_file_is_a_table_error(tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    with pytest.raises(TableError, match=r"empty\.csv is empty"):
        read(path)

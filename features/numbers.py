"""Numbers as people write them in a launch history: `` $8,500.00 ``, ``1 200``, ``12%``,
``(1,200)``, ``€1.200,50``.

A value pandas reads as a number is kept as it is. Any other is cleaned, in this order:

* an accounting negative ``(1,200)`` is -1200;
* a trailing percent sign is dropped, the number kept as written (``12%`` is 12);
* currency signs (``$ € £ ¥ ₹ ₩ ₽ ¢``, ``US$``, ``HK$``...) and common ISO codes (``USD``,
  ``EUR``, ``CNY``...) are dropped;
* spaces are dropped (a thousands separator in French, ``1 200``, or around a sign);
* separators: with both ``,`` and ``.``, the last one is the decimal point and the other
  groups thousands (``8,500.00``, ``1.200,50``); a ``,`` alone groups thousands when every
  group after it has three digits (``1,200``, ``12,000,000``), else it is a decimal comma
  (``2,50``); ``'`` groups thousands (``1'200``).

What was cleaned is said by kind, per column; what still does not read is counted and a few
examples kept, so the loader can warn, or stop when most of a column is not numbers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

CURRENCY = re.compile(
    r"\b(?:USD|EUR|GBP|CNY|RMB|JPY|CAD|AUD|CHF|HKD|SGD|INR|KRW|BRL|MXN)\b"
    r"|[A-Z]{0,2}\$|[€£¥₹₩₽¢]"
)
_SPACES = re.compile(r"[\s\u00a0\u2009\u202f]+")  # incl. no-break and thin spaces
_THOUSANDS_COMMAS = re.compile(r"[-+]?\d{1,3}(?:,\d{3})+(?:\.\d*)?")
_THOUSANDS_DOTS = re.compile(r"[-+]?\d{1,3}(?:\.\d{3}){2,}")  # 1.200.000 (one dot: a decimal)
EXAMPLES = 3  # unreadable values kept to show


@dataclass
class ParsedNumbers:
    """A column as numbers (a numeric column as it was, whole numbers staying whole; text as
    floats, NaN where empty or unreadable), the kinds of cleaning it took (and on how many
    values), and the values that still did not read."""

    values: pd.Series
    cleaned: dict[str, int] = field(default_factory=dict)  # kind -> values cleaned so
    cleaned_values: int = 0  # values that took any cleaning
    failed: int = 0
    filled: int = 0  # non-empty values
    examples: list[str] = field(default_factory=list)

    def describe_cleaning(self) -> str:
        """e.g. 'currency signs, thousands separators (4064 values)'."""
        n = self.cleaned_values
        return f"{', '.join(self.cleaned)} ({n} value{'' if n == 1 else 's'})"


def parse_numbers(values: pd.Series) -> ParsedNumbers:
    """``values`` read as numbers (see the module doc)."""
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        # as it is: a count column stays whole, as the concepts made from it must be
        return ParsedNumbers(values, filled=int(values.notna().sum()))
    text = values.astype("string").str.strip()
    text = text.mask(text == "")
    plain = pd.to_numeric(text, errors="coerce")
    plain = plain.mask(plain.abs() == np.inf)  # "inf" written out is no amount
    todo = plain.isna() & text.notna()
    out = plain.astype(float)
    cleaned: dict[str, int] = {}
    cleaned_values = 0
    failures: list[str] = []
    if todo.any():
        counts = text[todo].value_counts()
        readings = {raw: _clean(raw) for raw in counts.index}
        for raw, (number, kinds) in readings.items():
            n = int(counts[raw])
            if number is None:
                failures += [raw] * min(n, EXAMPLES)
                continue
            for kind in kinds:
                cleaned[kind] = cleaned.get(kind, 0) + n
            cleaned_values += n if kinds else 0
        out[todo] = text[todo].map(lambda raw: readings[raw][0]).astype(float)
    failed = int((out.isna() & text.notna()).sum())
    examples = list(dict.fromkeys(failures))[:EXAMPLES]
    filled = int(text.notna().sum())
    return ParsedNumbers(out, cleaned, cleaned_values, failed, filled, examples)


def _clean(raw: str) -> tuple[float | None, list[str]]:
    """One written value -> (the number or None, the kinds of cleaning it took)."""
    kinds: list[str] = []
    s = raw.strip()
    negative = s.startswith("(") and s.endswith(")")
    if negative:
        s, kinds = s[1:-1], ["accounting negatives"]
    if s.endswith("%"):
        s = s[:-1]
        kinds.append("percent signs")
    s, n = CURRENCY.subn("", s)
    if n:
        kinds.append("currency signs")
    s, n = _SPACES.subn("", s.strip())
    if n:
        kinds.append("spaces")
    s, n = re.subn(r"(?<=\d)'(?=\d{3})", "", s)
    commas, dots = "," in s, "." in s
    if n or (commas and dots) or _THOUSANDS_COMMAS.fullmatch(s) or _THOUSANDS_DOTS.fullmatch(s):
        if commas and dots and s.rfind(",") > s.rfind("."):  # 1.200,50
            s = s.replace(".", "").replace(",", ".")
            kinds.append("decimal commas")
        elif _THOUSANDS_DOTS.fullmatch(s):
            s = s.replace(".", "")
        else:
            s = s.replace(",", "")
        kinds.append("thousands separators")
    elif commas and s.count(",") == 1:  # 2,50
        s = s.replace(",", ".")
        kinds.append("decimal commas")
    if "_" in s:  # Python's float() reads 1_000; nobody's spreadsheet writes it
        return None, []
    try:
        number = float(s)
    except ValueError:
        return None, []
    if not np.isfinite(number):  # "inf", "nan" written out are no amounts
        return None, []
    return (-abs(number) if negative else number), kinds

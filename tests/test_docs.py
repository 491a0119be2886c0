"""The README and docs/ stay true: their examples run, and every command they name exists.

**Runnable blocks.** A fenced block whose previous non-blank line is the HTML comment
``<!-- runnable -->`` (invisible on GitHub) is run against a real ``bentoml serve`` of the
session's champion (conftest's ``live_url``), with ``localhost:3000`` replaced by that server's
address. A ``bash`` block runs in bash and must exit 0 and print JSON that holds every key its
``#`` answer comments show (``# {"model": ..., "model_version": ...}``); a ``python`` block runs in
this process and must not raise. Mark a block runnable only if it is cheap and leaves the served
state as it found it (reads and scores; no training, no outcomes recorded).

**Every other block is checked without running it** (in process: seconds), as is every inline
code span that is a command:

* ``compass <command> [<sub>] --option``: the command, sub-command and each option must be in
  the CLI's own definitions (typer's click commands, introspected; ``uv run`` and ``compass/cli.py``
  under ``spark-submit`` count as ``compass``);
* ``make <target> VAR=...``: the target and each variable must be in the Makefile;
* every ``HIT_COMPASS_*`` anywhere in the text must be a variable of ``core/settings.py``, and
  every variable there must be documented in docs/operators.md;
* relative links (and their ``#anchor``) must resolve, and an inline path such as
  ``scoring/batch.py`` under an application package must exist;
* a ``python`` block must compile.

Shell blocks are the ``bash``/``sh``/``shell`` fences; a fence without a language (the README's
layer diagram) is prose.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
RUNNABLE = "<!-- runnable -->"
SHELL = {"bash", "sh", "shell"}
PACKAGES = (
    "core",
    "features",
    "models",
    "scoring",
    "training",
    "serving",
    "benchmarks",
    "compass",
    "tests",
)


@dataclass(frozen=True)
class Block:
    doc: Path
    line: int  # of the opening fence, 1-based
    lang: str
    code: str
    runnable: bool

    @property
    def where(self) -> str:
        return f"{self.doc.relative_to(REPO)}:{self.line}"


def blocks(doc: Path) -> list[Block]:
    """The fenced code blocks of a Markdown file; a ``<!-- runnable -->`` line must sit right
    before a fence (only blank lines between)."""
    found, lines = [], doc.read_text().split("\n")
    i, marked = 0, None
    while i < len(lines):
        line = lines[i]
        if line.strip() == RUNNABLE:
            marked = i + 1
        elif line.startswith("```"):
            lang, start, i = line[3:].strip(), i, i + 1
            while not lines[i].startswith("```"):
                i += 1
            code = "\n".join(lines[start + 1 : i])
            found.append(Block(doc, start + 1, lang, code, marked is not None))
            marked = None
        elif line.strip() and marked is not None:
            raise AssertionError(f"{doc.name}:{marked}: {RUNNABLE} is not followed by a code block")
        i += 1
    return found


def prose(doc: Path) -> str:
    """The text outside fenced blocks."""
    return re.sub(r"^```.*?^```[^\n]*$", "", doc.read_text(), flags=re.S | re.M)


def inline_spans(doc: Path) -> list[str]:
    """Inline code spans of the prose (a span may wrap over a line break)."""
    return [" ".join(s.split()) for s in re.findall(r"`([^`]+)`", prose(doc))]


# ---- shell: commands out of a block -------------------------------------------------------


def shell_commands(code: str) -> list[list[str]]:
    """Split shell text into simple commands (lists of words) as bash would: quotes removed,
    ``\\`` line continuations joined, ``#`` comments (at a word's start) dropped, and commands
    separated by newlines, ``;``, ``&``, ``&&``, ``||`` and ``|``."""
    commands: list[list[str]] = []
    words: list[str] = []
    word: str | None = None
    quote = ""
    i = 0

    def end_word() -> None:
        nonlocal word
        if word is not None:
            words.append(word)
        word = None

    def end_command() -> None:
        nonlocal words
        end_word()
        if words:
            commands.append(words)
        words = []

    while i < len(code):
        c = code[i]
        if quote == "'":
            if c == "'":
                quote = ""
            else:
                word += c
        elif quote == '"':
            if c == '"':
                quote = ""
            elif c == "\\" and i + 1 < len(code):
                i += 1
                word += code[i]
            else:
                word += c
        elif c == "\\" and code[i + 1 : i + 2] == "\n":
            i += 1
        elif c == "\\":
            i += 1
            word = (word or "") + code[i : i + 1]
        elif c in "'\"":
            quote, word = c, word or ""
        elif c == "#" and word is None:
            while i < len(code) and code[i] != "\n":
                i += 1
            continue
        elif c in "\n;&|":
            end_command()
        elif c in " \t":
            end_word()
        else:
            word = (word or "") + c
        i += 1
    end_command()
    return commands


def program(words: list[str]) -> tuple[str, list[str]] | None:
    """(``compass`` or ``make``, its arguments) for a command that runs one, else None."""
    while words and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=.*", words[0]):
        words = words[1:]  # VAR=value before the command
    for prefix in (["python3", "-m", "uv", "run"], ["uv", "run"]):
        if words[: len(prefix)] == prefix:
            words = words[len(prefix) :]
    if not words:
        return None
    for k, word in enumerate(words):  # spark-submit ... compass/cli.py score ...
        if word.endswith("compass/cli.py"):
            return "compass", words[k + 1 :]
    name = words[0].rsplit("/", 1)[-1]
    if name in ("compass", "make"):
        return name, words[1:]
    return None


# ---- what exists -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cli():
    """The ``compass`` command as click sees it (typer's own conversion, in process)."""
    import typer

    from compass.cli import app

    return typer.main.get_command(app)


@pytest.fixture(scope="module")
def makefile() -> tuple[set[str], set[str]]:
    """(targets, variables) of the Makefile."""
    text = (REPO / "Makefile").read_text()
    targets: set[str] = set()
    for names in re.findall(r"^([A-Za-z0-9_.\- ]+?)\s*:(?!=)", text, flags=re.M):
        targets |= set(names.split())
    variables = set(
        re.findall(r"^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*[?:+]?=", text, flags=re.M)
    )
    return targets - {".PHONY"}, variables


def settings_variables() -> set[str]:
    from core.settings import Settings

    return {str(f.description) for f in Settings.model_fields.values()}


def compass_errors(cli, args: list[str]) -> list[str]:
    """What in ``compass <args>`` the CLI does not define."""
    node, path = cli, ["compass"]
    args = [a.strip("[]") for a in args]  # `promote 3 [--force]`: an optional flag, shown so
    while hasattr(node, "commands"):
        if not args or args[0] == "--help":
            return []
        sub = node.commands.get(args[0])
        if sub is None:
            return [
                f"`{' '.join(path)}` has no command {args[0]!r} (has: {', '.join(node.commands)})"
            ]
        node, path, args = sub, [*path, args[0]], args[1:]
    options = {"--help"} | {o for p in node.params for o in (*p.opts, *p.secondary_opts)}
    return [
        f"`{' '.join(path)}` has no option {a.split('=')[0]!r}"
        for a in args
        if re.match(r"--?[A-Za-z]", a) and a.split("=")[0] not in options
    ]


def make_errors(makefile: tuple[set[str], set[str]], args: list[str]) -> list[str]:
    targets, variables = makefile
    errors = []
    for arg in args:
        if arg.startswith("-"):
            continue
        if "=" in arg:
            if arg.split("=")[0] not in variables:
                errors.append(f"the Makefile has no variable {arg.split('=')[0]!r}")
        elif arg not in targets:
            errors.append(f"the Makefile has no target {arg!r}")
    return errors


def command_errors(cli, makefile, commands: list[list[str]]) -> list[str]:
    errors = []
    for words in commands:
        found = program(words)
        if found is None:
            continue
        name, args = found
        errors += compass_errors(cli, args) if name == "compass" else make_errors(makefile, args)
    return errors


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = heading.strip().lower().replace("`", "")
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(doc: Path) -> set[str]:
    seen: dict[str, int] = {}
    out = set()
    for heading in re.findall(r"^#{1,6} (.+)$", prose(doc), flags=re.M):
        base = slug(heading)
        n = seen.get(base, 0)
        seen[base] = n + 1
        out.add(base if n == 0 else f"{base}-{n}")
    return out


# ---- the checks --------------------------------------------------------------------------


@pytest.mark.parametrize("doc", DOCS, ids=lambda d: str(d.relative_to(REPO)))
def test_commands_and_flags_exist(doc: Path, cli, makefile) -> None:
    errors = []
    for block in blocks(doc):
        if block.lang in SHELL:
            errors += [
                f"{block.where}: {e}"
                for e in command_errors(cli, makefile, shell_commands(block.code))
            ]
        elif block.lang == "python":
            compile(block.code, block.where, "exec")
    for span in inline_spans(doc):  # those that are not commands run no program: nothing to check
        errors += [
            f"{doc.name}: `{span}`: {e}"
            for e in command_errors(cli, makefile, shell_commands(span))
        ]
    assert not errors, "\n".join(errors)


@pytest.mark.parametrize("doc", DOCS, ids=lambda d: str(d.relative_to(REPO)))
def test_settings_links_and_paths_exist(doc: Path) -> None:
    known = settings_variables()
    text = doc.read_text()
    errors = [
        f"{doc.name}: {v} is not a variable of core/settings.py"
        for v in sorted(set(re.findall(r"\bHIT_COMPASS_[A-Z0-9_]+", text)) - known)
    ]
    for target in re.findall(r"\]\(([^)\s]+)\)", prose(doc)):
        if re.match(r"[a-z]+:", target):
            continue  # http(s), mailto: not checked here
        path, _, anchor = target.partition("#")
        resolved = (doc.parent / path).resolve() if path else doc
        if not resolved.exists():
            errors.append(f"{doc.name}: link to {target}: no such file")
        elif anchor and anchor not in anchors(resolved):
            errors.append(f"{doc.name}: link to {target}: no such heading")
    for span in inline_spans(doc):
        first = span.split()[0].split("::")[0].rstrip(":,")
        if re.fullmatch(rf"({'|'.join(PACKAGES)})/[\w./-]*", first) and not (REPO / first).exists():
            errors.append(f"{doc.name}: `{span}`: {first} does not exist")
    assert not errors, "\n".join(errors)


def test_every_setting_is_documented_for_operators() -> None:
    text = (REPO / "docs" / "operators.md").read_text()
    missing = sorted(v for v in settings_variables() if f"`{v}`" not in text)
    assert not missing, f"core/settings.py variables missing from docs/operators.md: {missing}"


def test_readme_leads() -> None:
    """A README of a few screens whose scored example stays runnable."""
    readme = REPO / "README.md"
    assert len(readme.read_bytes()) < 15_000
    assert any(b.runnable and "/score" in b.code for b in blocks(readme))


def test_the_checker_catches_what_it_should(cli, makefile) -> None:
    """The parser sees through comments, quotes and continuations, and the checks fail on a
    made-up command, option, target or variable."""
    code = """uv run compass train --spec a.yaml \\
    --made-up 3   # a comment with an apostrophe's 'quote
curl -d '{"a": "# not a comment"}' x && make serve PORT=1 NOPE=2
uv run spark-submit --archives env.tar.gz#env compass/cli.py score c -o s --engine spark
createuser compass --pwprompt"""
    assert shell_commands(code)[1] == ["curl", "-d", '{"a": "# not a comment"}', "x"]
    errors = command_errors(cli, makefile, shell_commands(code))
    assert errors == [
        "`compass train` has no option '--made-up'",
        "the Makefile has no variable 'NOPE'",
    ]
    assert command_errors(cli, makefile, [["compass", "bench", "nope"], ["make", "nope"]]) == [
        "`compass bench` has no command 'nope' "
        "(has: quality, compare, interval-scales, train, forecast, serve, loop)",
        "the Makefile has no target 'nope'",
    ]
    assert slug("Monitoring: is the compass right? `compass monitor`") == (
        "monitoring-is-the-compass-right-compass-monitor"
    )


RUNNABLE_BLOCKS = [b for doc in DOCS for b in blocks(doc) if b.runnable]


@pytest.mark.parametrize("block", RUNNABLE_BLOCKS, ids=lambda b: b.where)
def test_runnable_block_runs(block: Block, live_url: str) -> None:
    code = block.code.replace("http://localhost:3000", live_url).replace("localhost:3000", live_url)
    if block.lang == "python":
        with contextlib.redirect_stdout(io.StringIO()):
            exec(compile(code, block.where, "exec"), {"__name__": "__docs__"})
        return
    assert block.lang in SHELL, f"{block.where}: cannot run a {block.lang!r} block"
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", code], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, f"{block.where}: exit {done.returncode}: {done.stderr[-2000:]}"
    answer = json.loads(done.stdout)
    shown = set(
        re.findall(
            r'"(\w+)":',
            "\n".join(line for line in code.split("\n") if line.lstrip().startswith("#")),
        )
    )
    missing = shown - keys(answer)
    assert not missing, (
        f"{block.where}: the answer lacks {sorted(missing)} the doc shows: {done.stdout[:2000]}"
    )


def keys(value: object) -> set[str]:
    """Every key of a JSON value, at any depth."""
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in keys(v)}
    if isinstance(value, list):
        return {k for v in value for k in keys(v)}
    return set()

"""Every example in the documentation runs, and shows what it prints.

The pages of the site (``docs/**/*.md``) and README.md are read block by block,
in order, each page in a fresh working folder shared by its blocks:

* ```` ```python ```` blocks run, sharing one namespace per page (like a notebook);
* ```` ```console ```` blocks hold ``$ contactflow ...`` commands, each followed
  by what it prints (stdout and stderr, as a terminal shows them). The command
  runs and must print exactly those lines, except that a line ``...`` stands
  for any number of lines and ``...`` within a line for any text; it must exit
  with status 0;
* ```` ```bash ```` blocks: every ``contactflow`` command in them runs and must
  exit with status 0 (its output is not shown, so not checked);
* ```` ```toml ```` blocks must parse, unless they elide lines with ``...``.

An HTML comment on the line before a block (or before the ``??? note`` line of
a collapsed block) changes that:

* ``<!-- test: skip REASON -->``: not run (a long run, a package install, a server);
* ``<!-- test: status N -->``: the commands must exit with status N;
* ``<!-- test: run-only -->``: run, but the output is not compared (it holds timings);
* ``<!-- test: smoke ARGS -->``: run with ARGS appended to each command (a shorter
  run of a command shown at full size); the output is not compared;
* ``<!-- test: file NAME -->``: a TOML (or CSV) block is written to NAME, for the
  commands and code after it;
* ``<!-- test: needs MODULE -->``: skipped when MODULE (an optional extra) is not installed;
* ``<!-- test: same-as PAGE -->``: the output shown must be (an abridgement of) what
  PAGE (a path from the repository root) shows for the same command, which is
  checked there: README.md shows the quick start's output without running it twice.

A line ``<!-- test: copy NAME from PAGE -->`` on its own writes the block that
PAGE (a path under docs/) marks ``file NAME``, so a page can use a file another
page shows, without showing it twice.

A command block anywhere else (a ```` ```text ```` block with ``$ contactflow``)
fails the test, so no example escapes it. The outputs shown are the program's
real output for the example's scenario and seed: these tests check the
documentation, not the model (the model's numbers are checked against exact
values in the other tests). When the model changes, the failure shows the new
output to paste into the page.

``contactflow`` commands run in this process through click's test runner (a
new Python process per command would cost seconds), on one core: their numbers
do not depend on the number of workers (tests/test_parallel.py checks it), and
worker processes would cost seconds to start for each command. A command with
shell syntax (pipes, ``&&``, redirection) runs in bash with ``contactflow`` on
the PATH.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib.util
import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PAGES = sorted(p for p in DOCS.rglob("*.md") if "hooks" not in p.parts) + [ROOT / "README.md"]
MARKER = re.compile(r"^<!--\s*test:\s*(\w[\w-]*)\s*(.*?)\s*-->$")
COPY = re.compile(r"^<!--\s*test:\s*copy\s+(\S+\s+from\s+\S+)\s*-->$")
FENCE = re.compile(r"^(\s*)```(\w*)\s*$")


@dataclass
class Block:
    """A fenced block of a page, with the test marker before it (if any)."""

    page: Path
    line: int
    lang: str
    text: str
    marker: str = ""
    argument: str = ""

    def __str__(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def blocks(page: Path) -> list[Block]:
    """The fenced blocks of ``page``, in order, with their markers."""
    lines = page.read_text(encoding="utf-8").splitlines()
    found, i = [], 0
    while i < len(lines):
        opening = FENCE.match(lines[i])
        if not opening:
            copy = COPY.match(lines[i].strip())
            if copy:
                found.append(Block(page, i + 1, "", "", "copy", copy.group(1)))
            i += 1
            continue
        indent, lang = opening.groups()
        start, body = i, []
        i += 1
        while i < len(lines) and lines[i].strip() != "```":
            body.append(lines[i][len(indent):] if lines[i].startswith(indent) else lines[i].lstrip())
            i += 1
        before = next((lines[j].strip() for j in range(start - 1, -1, -1)
                       if lines[j].strip() and not lines[j].lstrip().startswith(("???", "!!!"))), "")
        marker = MARKER.match(before) if not COPY.match(before) else None
        found.append(Block(page, start + 1, lang, "\n".join(body),
                           *(marker.groups() if marker else ("", ""))))
        i += 1
    return found


def commands(block: Block) -> list[tuple[str, list[str]]]:
    """The ``contactflow`` commands of a console or bash block, each with the lines it prints."""
    found: list[tuple[str, list[str]]] = []
    lines = block.text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        prompt = line.startswith("$ ")
        command = line[2:] if prompt else line
        if block.lang == "console" and not prompt:
            if not found:
                raise AssertionError(f"{block}: output before the first '$ ' command")
            found[-1][1].append(line)
            i += 1
            continue
        while command.endswith("\\") and i + 1 < len(lines):
            i += 1
            command = command[:-1].rstrip() + " " + lines[i].strip()
        command = re.sub(r"\s+#.*$", "", command).strip()  # a trailing comment
        if command.startswith("contactflow ") or command == "contactflow":
            found.append((command, []))
        elif command and not command.startswith("#"):
            raise AssertionError(f"{block}: {command!r} is not a contactflow command; mark the block "
                                 "<!-- test: skip REASON --> if it cannot run here")
        i += 1
    return found


@contextlib.contextmanager
def working_folder(folder: Path):
    """Run the block in ``folder`` (``contextlib.chdir`` from Python 3.11)."""
    before = Path.cwd()
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(before)


def matches(expected: list[str], actual: list[str]) -> bool:
    """Whether ``actual`` lines are ``expected``, where a line ``...`` stands for any lines and ``...``
    within a line for any text."""
    patterns = [None if line.strip() == "..." else
                re.compile(".*".join(re.escape(part) for part in line.rstrip().split("...")) + r"\s*")
                for line in expected]

    @functools.lru_cache(maxsize=None)
    def match(p: int, a: int) -> bool:
        if p == len(patterns):
            return a == len(actual)
        if patterns[p] is None:
            return any(match(p + 1, b) for b in range(a, len(actual) + 1))
        return a < len(actual) and patterns[p].fullmatch(actual[a].rstrip()) is not None and match(p + 1, a + 1)

    return match(0, 0)


_OUTPUTS: dict[str, tuple[int, str]] = {}


def _folder_digest(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            digest.update(str(path.relative_to(folder)).encode() + path.read_bytes())
    return digest.hexdigest()


def run_command(command: str, folder: Path) -> tuple[int, str]:
    """Run a ``contactflow`` command line in ``folder``: its exit status and what it printed."""
    key = command + _folder_digest(folder)
    if key in _OUTPUTS:  # the same command on the same files (README and getting started)
        return _OUTPUTS[key]
    if needs_shell(command):
        bin_dir = folder.parent / "bin"
        bin_dir.mkdir(exist_ok=True)
        script = bin_dir / "contactflow"
        script.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m simulator "$@"\n')
        script.chmod(0o755)
        env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
               "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
        done = subprocess.run(["bash", "-c", command], cwd=folder, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, timeout=600)
        outcome = done.returncode, done.stdout
    else:
        from simulator.cli import main

        with working_folder(folder):
            result = CliRunner().invoke(main, shlex.split(command)[1:], prog_name="contactflow")
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        outcome = result.exit_code, result.output
    _OUTPUTS[key] = outcome
    return outcome


def needs_shell(command: str) -> bool:
    """Whether ``command`` uses shell syntax outside quotes: pipes, ``&&``, ``;``, redirection."""
    lexer = shlex.shlex(command, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    return any(token and set(token) <= set("();<>|&") for token in lexer)


def run_block(block: Block, folder: Path, namespace: dict) -> None:
    """Run one block as its language and marker say; AssertionError naming the block when it fails."""
    if block.marker == "skip" or (block.marker == "needs" and importlib.util.find_spec(block.argument) is None):
        return
    if block.marker == "copy":
        name, _, source = block.argument.split()
        shown = [b for b in blocks(DOCS / source) if b.marker == "file" and b.argument == name]
        assert shown, f"{block}: {source} has no block marked 'file {name}'"
        (folder / name).write_text(shown[0].text + "\n", encoding="utf-8")
        return
    if block.marker == "file":
        (folder / block.argument).write_text(block.text + "\n", encoding="utf-8")
        return
    if block.lang == "python":
        with working_folder(folder):
            exec(compile(block.text, str(block), "exec"), namespace)
        return
    if block.lang == "toml":
        if "..." not in block.text:
            tomllib.loads(block.text)
        return
    if block.marker == "same-as":
        source = {command: expected for b in blocks(ROOT / block.argument) if b.lang == "console"
                  for command, expected in commands(b)}
        for command, expected in commands(block):
            assert command in source, f"{block}: {block.argument} shows no {command!r}"
            assert matches(expected, source[command]), (
                f"{block}: {command!r} shows other lines than {block.argument}, which shows:\n"
                + "\n".join(source[command]))
        return
    if block.lang in ("console", "bash"):
        status = int(block.argument) if block.marker == "status" else 0
        for command, expected in commands(block):
            if block.marker == "smoke":
                command = f"{command} {block.argument}"
            code, output = run_command(command, folder)
            assert code == status, f"{block}: {command!r} exited with {code}, not {status}:\n{output}"
            if block.lang == "console" and block.marker not in ("run-only", "smoke"):
                actual = output.rstrip("\n").splitlines()
                assert matches(expected, actual), (
                    f"{block}: {command!r} printed other lines than the page shows. It printed:\n"
                    + "\n".join(actual))
        return
    if re.search(r"^\$?\s*contactflow ", block.text, re.MULTILINE):
        raise AssertionError(f"{block}: a contactflow command in a {block.lang or 'plain'} block is never "
                             "run: write it as a console (with its output) or bash block")


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_page_examples_run_and_print_what_they_show(page, tmp_path, monkeypatch):
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0}, raising=False)  # one worker by default
    folder = tmp_path / "work"
    folder.mkdir()
    namespace: dict = {"__name__": "__docs__"}
    for block in blocks(page):
        run_block(block, folder, namespace)


def test_the_matcher_reads_ellipses_as_the_pages_mean_them():
    assert matches(["a", "...", "d"], ["a", "b", "c", "d"])
    assert matches(["a", "...", "d"], ["a", "d"])
    assert not matches(["a", "...", "d"], ["a", "b", "c", "d", "e"])
    assert matches(["x: ... s"], ["x: 0.31 s"]) and matches(["row ..."], ["row 1 2 3"])
    assert not matches(["a", "b"], ["a", "c"])


def test_commands_with_shell_syntax_run_in_a_shell():
    assert needs_shell("contactflow run --json > result.json")
    assert needs_shell("contactflow run --out runs && contactflow estimate runs/journeys.parquet")
    assert not needs_shell('contactflow staff x --target "channels.phone.service_level>=0.8"')
    assert not needs_shell("contactflow run --set channels.chat.agents+=5 --set 'a={ b = 1 }'")


# --------------------------------------------------------------------------- the generated reference pages

HOOKS = DOCS / "hooks"


def _hook(name: str):
    sys.path.insert(0, str(HOOKS))
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(str(HOOKS))


def test_the_scenario_reference_states_what_the_validator_allows():
    from simulator.scenario import MAX_AGENTS, MAX_CHANNELS, TABLE_KEYS

    fields = _hook("scenario_fields")
    fields.check_meanings()  # every key the validator knows has its meaning, and no meaning is left over
    page = fields.page()
    rows = {line.split("|")[1].strip(" `"): line for line in page.splitlines() if line.startswith("| `")}
    for keys in TABLE_KEYS.values():
        assert all(key in rows for key in keys)
    agents = next(line for line in page.splitlines() if line.startswith("| `agents` | yes"))
    assert f"{MAX_AGENTS:,}" in agents and '"unlimited"' in agents
    assert "| `max_contacts` |  | a whole number >= 1 and <= 1,000 | `20` |" in page
    assert "`20` (live), `86,400` (async)" in rows["service_level_seconds"]
    assert MAX_CHANNELS  # the limit exists; the page states the validator's own words for each field


def test_the_cli_reference_lists_every_command_and_option():
    from simulator.cli import main

    page = _hook("cli_commands").page()
    sections = {part.split(" ", 1)[0]: part for part in page.split("\n## contactflow ")[1:]}
    assert set(sections) == set(main.commands)
    for name, command in main.commands.items():
        options = [p for p in command.params if isinstance(p, click.Option) and not p.hidden]
        missing = [p.opts[-1] for p in options if f"{p.opts[-1]}" not in sections[name]]
        assert not missing, f"contactflow {name}: {missing} not in the CLI reference"
        assert (command.help or "").split("\n")[0].replace("*", "\\*") in sections[name]


def test_the_site_builds_strictly(tmp_path):
    """``mkdocs build --strict``, as .ci/run runs it: broken links and anchors, and reference pages that
    cannot be generated from the code, fail it. About 5 s."""
    pytest.importorskip("mkdocs")
    pytest.importorskip("mkdocstrings")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1",
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
                          cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stdout
    built = tmp_path / "site"
    for page in ("reference/scenario-file", "reference/cli", "reference/api", "tasks/what-if"):
        assert (built / page / "index.html").is_file()
    assert (built / "images" / "journey_flow.png").is_file()

"""Mutation testing of the modules that hold the math and the bookkeeping (``make mutation``).

mutmut (configured in the ``[tool.mutmut]`` section of ``pyproject.toml``) copies ``src/`` and
``tests/`` into ``mutants/`` (ignored by git), makes small changes ("mutants") to every function
of the modules listed in ``only_mutate`` — ``+`` becomes ``-``, ``<`` becomes ``<=``, a number
grows by one, an argument becomes ``None``, a string gets ``XX`` around it — and runs, for each
mutant, only the tests that call the mutated function (recorded once, function by function, by
a first instrumented run of the suite). A mutant is *killed* when one of those tests fails,
*survives* when they all pass, and times out when they run far longer than without it.

This script runs mutmut over every module (or the ones named), then writes:

- ``docs/mutation-summary.csv``: per module, the mutants killed / survived / without tests /
  timed out / equivalent, and the score ``(killed + timed out) / (mutants - equivalent)``; a
  run over some modules replaces their rows and keeps the others;
- a list of the surviving mutants, grouped by module, each with its function, line and change
  (``mutants/survivors.md`` unless ``--survivors PATH``).

An *equivalent* mutant is one no test can kill because the changed program behaves exactly like
the original. They are listed, each with a one-line reason, in ``tools/equivalent_mutants.toml``,
keyed by module, function and the changed line before and after the change (not by mutmut's
mutant number, which shifts when the function is edited).

Usage::

    make mutation                       # every module
    make mutation MODULES=nn            # one module (MODULES may list several, space-separated)
    python tools/mutation.py nn optimizers.base --survivors /tmp/survivors.md
    python tools/mutation.py --list     # the module names

Every run starts from an empty ``mutants/`` folder, so that results never come from an older
copy of the code or of the tests; the folder is left in place afterwards, for ``mutmut show
<mutant>`` and ``mutmut browse``.
"""

from __future__ import annotations

import argparse
import csv
import datetime
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
import tomllib
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MUTANTS = ROOT / "mutants"
SUMMARY = ROOT / "docs" / "mutation-summary.csv"
EQUIVALENTS = ROOT / "tools" / "equivalent_mutants.toml"
PACKAGE = "descentlab"

# mutmut's verdicts (``mutmut.stats.status_by_exit_code``) grouped into the summary's columns.
STATUS_COLUMN = {
    "killed": "killed",
    "survived": "survived",
    "no tests": "no_tests",
    "timeout": "timeout",
}
COLUMNS = (
    "module",
    "mutants",
    "killed",
    "survived",
    "no_tests",
    "timeout",
    "other",
    "equivalent",
    "score",
    "measured",
    "commit",
)
COUNTS = COLUMNS[1:8]


class UsageError(ValueError):
    """A module name or option this script does not know (printed as one line, exit 2)."""


@dataclass(frozen=True)
class Mutant:
    """One mutant and its verdict: ``name`` is mutmut's (``descentlab.nn.xǁMLPǁforward__mutmut_3``)."""

    name: str
    module: str
    function: str
    status: str


@dataclass(frozen=True)
class Change:
    """What a mutant changes: the function's changed lines before and after, and where."""

    before: str
    after: str
    line: int | None


# --- modules ---------------------------------------------------------------------------------


def mutmut_settings() -> dict:
    """The ``[tool.mutmut]`` table of pyproject.toml (the one place the module list lives)."""
    with (ROOT / "pyproject.toml").open("rb") as file:
        return tomllib.load(file)["tool"]["mutmut"]


def configured_modules() -> dict[str, Path]:
    """Short module name (``nn``, ``optimizers.base``) → source file, from ``only_mutate``."""
    modules = {}
    for pattern in mutmut_settings()["only_mutate"]:
        path = Path(pattern)
        dotted = ".".join(path.with_suffix("").parts[2:])  # drop "src/descentlab"
        modules[dotted] = path
    return modules


def select_modules(names: Sequence[str], known: dict[str, Path]) -> list[str]:
    """The modules named (a package name selects its modules); all of them when none is named."""
    if not names:
        return list(known)
    chosen: list[str] = []
    for name in names:
        short = name.removeprefix(f"{PACKAGE}.").removesuffix(".py").replace("/", ".")
        matches = [m for m in known if m == short or m.startswith(f"{short}.")]
        if not matches:
            raise UsageError(
                f"Unknown module {name!r}: expected one of {', '.join(known)} "
                f"(or a package of them, e.g. 'optimizers')."
            )
        chosen += [m for m in matches if m not in chosen]
    return chosen


# --- running mutmut ----------------------------------------------------------------------------


def mutmut_command(modules: Sequence[str], every_module: bool, jobs: int | None) -> list[str]:
    """``mutmut run`` over all mutants, or only those of the chosen modules (by name pattern)."""
    command = [str(Path(sys.executable).with_name("mutmut")), "run"]
    if jobs is not None:
        command += ["--max-children", str(jobs)]
    if not every_module:
        command += [f"{PACKAGE}.{module}.*" for module in modules]
    return command


def run_mutmut(command: list[str], log: Path) -> None:
    """Run mutmut from the repository root with the suite's deterministic Hypothesis profile.

    Its progress is shown live and kept in ``log``; the per-mutant list mutmut prints at the end
    of a run over named mutants goes to the log only (the summary says the same, shorter).
    """
    environment = {**os.environ, "CI": "true"}  # tests/conftest.py: derandomized Hypothesis
    with log.open("wb") as kept:
        process = subprocess.Popen(command, cwd=ROOT, env=environment, stdout=subprocess.PIPE)
        echo = True
        assert process.stdout is not None
        while chunk := process.stdout.read1(65536):
            kept.write(chunk)
            if echo and b"Mutant results" in chunk:
                chunk = chunk.split(b"Mutant results")[0]
                echo = False
            if echo:
                sys.stdout.buffer.write(chunk)
                sys.stdout.flush()
        status = process.wait()
    print()
    if status != 0:
        raise SystemExit(f"mutmut failed (exit status {status}); its output is in {log}.")


def clean_workspace() -> None:
    """Start from an empty ``mutants/``: no verdict or test map is reused from an older run."""
    if MUTANTS.exists():
        shutil.rmtree(MUTANTS)
    MUTANTS.mkdir()


# --- reading the verdicts ---------------------------------------------------------------------


def function_of(mutant_name: str) -> str:
    """``descentlab.nn.xǁMLPǁforward__mutmut_3`` → ``MLP.forward``; ``…x_train__mutmut_1`` → ``train``."""
    mangled = mutant_name.partition("__mutmut_")[0].rpartition(".")[2]
    if mangled.startswith("xǁ"):
        return mangled[2:].replace("ǁ", ".")
    return mangled.removeprefix("x_")


def read_verdicts(modules: Iterable[str], files: dict[str, Path]) -> list[Mutant]:
    """Every mutant of these modules with its verdict, from mutmut's ``mutants/<file>.meta``."""
    from mutmut.stats import status_by_exit_code

    mutants = []
    for module in modules:
        meta = MUTANTS / f"{files[module]}.meta"
        if not meta.exists():
            raise SystemExit(f"mutmut left no results for {module} ({meta} is missing).")
        exit_codes = json.loads(meta.read_text(encoding="utf-8"))["exit_code_by_key"]
        for name, code in exit_codes.items():
            mutants.append(Mutant(name, module, function_of(name), status_by_exit_code[code]))
    return mutants


def change_of(mutant: Mutant, source: Path) -> Change:
    """The lines the mutant changes (mutmut's diff of the function), and their line in ``source``."""
    from mutmut.mutation.diff_apply import get_diff_for_mutant

    diff = get_diff_for_mutant(mutant.name, path=source).splitlines()[2:]  # no ---/+++ header
    before = [line[1:].strip() for line in diff if line.startswith("-")]
    after = [line[1:].strip() for line in diff if line.startswith("+")]
    return Change(" / ".join(before), " / ".join(after), line_of(before, mutant.function, source))


def line_of(before: list[str], function: str, source: Path) -> int | None:
    """The line number in ``source`` of the first changed line, searched inside ``function``."""
    import ast

    text = (ROOT / source).read_text(encoding="utf-8")
    lines = text.splitlines()
    *owner, name = function.split(".")
    for node in ast.walk(ast.parse(text)):
        body = getattr(node, "body", None)
        if isinstance(node, ast.ClassDef) and owner and node.name != owner[-1]:
            continue
        for child in body if isinstance(body, list) else []:
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef) and child.name == name:
                for number in range(child.lineno, (child.end_lineno or child.lineno) + 1):
                    if before and lines[number - 1].strip() == before[0]:
                        return number
                return child.lineno
    return None


# --- equivalent mutants -----------------------------------------------------------------------


def load_equivalents() -> list[dict[str, str]]:
    """The entries of ``tools/equivalent_mutants.toml``, each checked to have its five keys."""
    if not EQUIVALENTS.exists():
        return []
    try:
        entries = tomllib.loads(EQUIVALENTS.read_text(encoding="utf-8")).get("equivalent", [])
    except tomllib.TOMLDecodeError as error:
        raise UsageError(f"{EQUIVALENTS.relative_to(ROOT)} is not valid TOML: {error}.") from None
    keys = {"module", "function", "before", "after", "reason"}
    for number, entry in enumerate(entries, 1):
        if set(entry) != keys or not all(isinstance(v, str) and v for v in entry.values()):
            raise UsageError(
                f"{EQUIVALENTS.relative_to(ROOT)}: entry {number} must have exactly the non-empty "
                f"text keys {', '.join(sorted(keys))}; got {entry!r}."
            )
    return entries


def equivalent_key(module: str, function: str, change: Change) -> tuple[str, str, str, str]:
    """How an entry of the equivalents file names a mutant: module, function, line before/after."""
    return (f"{PACKAGE}.{module}", function, change.before, change.after)


# --- the summary ------------------------------------------------------------------------------


def count(mutants: Iterable[Mutant], equivalent: set[str]) -> dict[str, int]:
    """Mutants per column; an equivalent mutant counts only as equivalent."""
    counts = Counter({column: 0 for column in COUNTS})
    for mutant in mutants:
        counts["mutants"] += 1
        if mutant.name in equivalent:
            counts["equivalent"] += 1
        else:
            counts[STATUS_COLUMN.get(mutant.status, "other")] += 1
    return dict(counts)


def score(counts: dict[str, int]) -> str:
    """``(killed + timeout) / (mutants - equivalent)`` in percent, one decimal: a mutant that
    makes its tests run far longer than they do on the original program is detected too."""
    judged = counts["mutants"] - counts["equivalent"]
    detected = counts["killed"] + counts["timeout"]
    return f"{100 * detected / judged:.1f}" if judged else ""


def git_commit() -> str:
    """The short commit measured, with ``+`` when src/ or tests/ had uncommitted changes."""

    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)
        return done.stdout.strip() if done.returncode == 0 else ""

    head = git("rev-parse", "--short", "HEAD") or "unknown"
    return head + ("+" if git("status", "--porcelain", "--", "src", "tests") else "")


def write_summary(rows: dict[str, dict[str, str]], order: Sequence[str]) -> None:
    """``docs/mutation-summary.csv``: one row per module (in ``order``), then the total."""
    total = {column: 0 for column in COUNTS}
    for row in rows.values():
        for column in COUNTS:
            total[column] += int(row[column])
    lines = [rows[m] for m in order if m in rows]
    lines.append(
        {
            "module": "TOTAL",
            **{c: str(v) for c, v in total.items()},
            "score": score(total),
            "measured": "",
            "commit": "",
        }
    )
    with SUMMARY.open("w", newline="", encoding="utf-8") as file:
        writer = csv.DictWriter(file, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(lines)


def previous_rows(known: Iterable[str]) -> dict[str, dict[str, str]]:
    """The rows of the committed summary for modules still configured (kept by a partial run)."""
    if not SUMMARY.exists():
        return {}
    with SUMMARY.open(newline="", encoding="utf-8") as file:
        rows = {row["module"]: row for row in csv.DictReader(file)}
    return {m: rows[m] for m in known if m in rows and set(rows[m]) == set(COLUMNS)}


def print_table(rows: dict[str, dict[str, str]], modules: Sequence[str]) -> None:
    """The summary rows of the modules run, as an aligned table on the terminal."""
    shown = COLUMNS[:9]
    print(f"{shown[0]:<24}" + "".join(f"{column:>11}" for column in shown[1:]))
    for module in modules:
        row = rows[module]
        print(f"{module:<24}" + "".join(f"{row[column]:>11}" for column in shown[1:]))


# --- the survivors list -----------------------------------------------------------------------


def survivors_text(
    by_module: dict[str, list[tuple[Mutant, Change]]], files: dict[str, Path], stamp: str
) -> str:
    """Markdown: per module, every mutant not killed and not equivalent, with its change."""
    out = [
        "# Surviving mutants",
        "",
        f"Measured {stamp} by `tools/mutation.py`. Each line: function, source line, the line "
        "as written → as mutated, and mutmut's name for it (after a run, "
        "`mutmut show <name>` prints the diff). A mutant that no test can kill goes in "
        "`tools/equivalent_mutants.toml`, with its reason.",
        "",
    ]
    for module, entries in by_module.items():
        if not entries:
            continue
        out += [f"## {PACKAGE}.{module} (`{files[module]}`) — {len(entries)}", ""]
        for mutant, change in entries:
            status = "" if mutant.status == "survived" else f" **[{mutant.status}]**"
            where = f"L{change.line}" if change.line else "?"
            out.append(
                f"- `{mutant.function}` {where}{status}: `{change.before}` → `{change.after}` "
                f"({mutant.name.rpartition('.')[2]})"
            )
        out.append("")
    return "\n".join(out)


# --- checks -----------------------------------------------------------------------------------


def report_test_selection() -> None:
    """Show that each mutant ran only the tests that call its function (from mutmut's stats)."""
    stats = json.loads((MUTANTS / "mutmut-stats.json").read_text(encoding="utf-8"))
    collected = len(stats["duration_by_test"])
    sizes = [len(tests) for tests in stats["tests_by_mangled_function_name"].values()]
    if sizes:
        print(
            f"Tests per mutated function: median {statistics.median(sizes):.0f}, "
            f"max {max(sizes)}, of {collected} tests collected "
            f"({len(sizes)} functions called by at least one test)."
        )


def git_status() -> set[str]:
    done = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=all"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    return set(done.stdout.splitlines()) if done.returncode == 0 else set()


# --- main -------------------------------------------------------------------------------------


def parse_arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Mutation testing (mutmut) of the modules listed in [tool.mutmut] only_mutate.",
    )
    parser.add_argument(
        "modules",
        nargs="*",
        help="modules to test, e.g. nn optimizers.base (default: $MODULES, else all of them)",
    )
    parser.add_argument("--list", action="store_true", help="print the module names and stop")
    parser.add_argument("--jobs", type=int, help="mutants tested at once (default: one per core)")
    parser.add_argument(
        "--survivors",
        type=Path,
        default=MUTANTS / "survivors.md",
        help="where to write the list of surviving mutants (default: mutants/survivors.md)",
    )
    parser.add_argument(
        "--fail-under",
        type=float,
        metavar="PERCENT",
        help="exit with status 1 when the score of the modules run is below PERCENT",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    os.chdir(ROOT)  # mutmut works in ./mutants and reads ./pyproject.toml
    files = configured_modules()
    if arguments.list:
        print("\n".join(files))
        return 0
    try:
        modules = select_modules(arguments.modules or os.environ.get("MODULES", "").split(), files)
        if arguments.jobs is not None and arguments.jobs < 1:
            raise UsageError(f"--jobs must be a whole number >= 1; got {arguments.jobs}.")
        equivalents = load_equivalents()
    except UsageError as error:
        print(f"mutation.py: error: {error}", file=sys.stderr)
        return 2

    status_before = git_status()
    started = time.monotonic()
    clean_workspace()
    command = mutmut_command(modules, len(modules) == len(files), arguments.jobs)
    print("$", " ".join(command), flush=True)
    run_mutmut(command, MUTANTS / "mutmut-run.log")
    minutes = (time.monotonic() - started) / 60

    mutants = read_verdicts(modules, files)
    rows, survivors, matched = summarise(mutants, modules, files, equivalents)
    day, commit = f"{datetime.datetime.now(datetime.UTC):%Y-%m-%d}", git_commit()
    for row in rows.values():
        row.update(measured=day, commit=commit)
    write_summary({**previous_rows(files), **rows}, list(files))
    arguments.survivors.parent.mkdir(parents=True, exist_ok=True)
    arguments.survivors.write_text(
        survivors_text(survivors, files, f"{day} at {commit}"), encoding="utf-8"
    )

    print_table(rows, modules)
    total = count(mutants, {mutant.name for mutant, _ in matched})
    print(
        f"Score of the modules run: {score(total)}% ({total['killed']} killed and "
        f"{total['timeout']} timed out of {total['mutants'] - total['equivalent']} not "
        f"equivalent); wall time {minutes:.1f} min."
    )
    report_test_selection()
    report_stale_equivalents(equivalents, {key for _, key in matched}, modules)
    print(f"Summary: {SUMMARY.relative_to(ROOT)}; survivors: {arguments.survivors}")
    report_dirty_tree(status_before)
    if arguments.fail_under is not None and float(score(total) or 0) < arguments.fail_under:
        print(f"FAILED: the score {score(total)}% is below --fail-under {arguments.fail_under}%.")
        return 1
    return 0


Key = tuple[str, str, str, str]


def summarise(
    mutants: list[Mutant],
    modules: Sequence[str],
    files: dict[str, Path],
    equivalents: list[dict[str, str]],
) -> tuple[
    dict[str, dict[str, str]], dict[str, list[tuple[Mutant, Change]]], list[tuple[Mutant, Key]]
]:
    """Per module: its summary row and its survivors with their changes; the equivalents found.

    Every mutant that was not killed is diffed; a survivor whose change matches an entry of the
    equivalents file counts as equivalent instead of as a survivor.
    """
    listed = {(e["module"], e["function"], e["before"], e["after"]) for e in equivalents}
    rows: dict[str, dict[str, str]] = {}
    survivors: dict[str, list[tuple[Mutant, Change]]] = {}
    matched: list[tuple[Mutant, Key]] = []
    for module in modules:
        own = [mutant for mutant in mutants if mutant.module == module]
        survivors[module] = []
        for mutant in own:
            if mutant.status == "killed":
                continue
            change = change_of(mutant, files[module])
            key = equivalent_key(module, mutant.function, change)
            if mutant.status == "survived" and key in listed:
                matched.append((mutant, key))
            else:
                survivors[module].append((mutant, change))
        counts = count(own, {mutant.name for mutant, _ in matched})
        rows[module] = {"module": module, **{c: str(v) for c, v in counts.items()}}
        rows[module]["score"] = score(counts)
    return rows, survivors, matched


def report_stale_equivalents(
    equivalents: list[dict[str, str]], found: set[Key], modules: Sequence[str]
) -> None:
    """Warn about each entry of the equivalents file (for the modules run) that matched nothing."""
    run = {f"{PACKAGE}.{module}" for module in modules}
    for entry in equivalents:
        key = (entry["module"], entry["function"], entry["before"], entry["after"])
        if entry["module"] in run and key not in found:
            print(
                f"warning: {EQUIVALENTS.relative_to(ROOT)}: no surviving mutant of "
                f"{entry['module']}.{entry['function']} changes {entry['before']!r} into "
                f"{entry['after']!r}: the code changed or a test now kills it; update the entry."
            )


def report_dirty_tree(before: set[str]) -> None:
    """Warn when a file git sees (other than the summary) changed during the run."""
    summary = str(SUMMARY.relative_to(ROOT))
    changed = sorted(line for line in git_status() - before if not line.endswith(summary))
    if changed:
        print("warning: the working tree changed during the run:", *changed, sep="\n  ")


if __name__ == "__main__":
    sys.exit(main())

"""``descentlab benchmark --problems``: the protocol through the command line — its tables,
``--replot``, ``--format json``, a real interruption (SIGINT) and ``--resume``, and every
hostile option refused in one line with exit status 2 before anything is written."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import signal
from pathlib import Path

import pytest

from descentlab.cli import main as cli_main
from test_sweep import assert_session_ends, needs_proc, start_command, wait_for_rows

TINY = [
    "benchmark",
    "--problems",
    "seed-moons",
    "--optimizers",
    "sgd,adam",
    "--budget",
    "2",
    "--seeds",
    "2",
    "--epochs",
    "3",
    "--engine",
    "numpy",
    "-q",
]


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def _timeless(rows):
    return [{k: v for k, v in r.items() if k not in ("seconds", "seconds_to_target")} for r in rows]


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> tuple[Path, str]:
    """A finished tiny protocol and what the command printed."""
    out = tmp_path_factory.mktemp("protocol") / "run"
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        assert cli_main([*TINY, "--out", str(out)]) == 0
    return out, buffer.getvalue()


def test_the_protocol_prints_its_tables_and_writes_its_folder(finished) -> None:
    out, printed = finished
    lines = printed.splitlines()
    assert lines[0].split() == [
        "problem",
        "optimizer",
        "best",
        "trial",
        "val",
        "(best",
        "trial)",
        "test",
        "(mean",
        "±",
        "std)",
        "reached",
        "steps",
        "to",
        "target",
        "time",
        "to",
        "target",
    ]
    assert [line.split()[:2] for line in lines[1:3]] == [
        ["seed-moons", "sgd"],
        ["seed-moons", "adam"],
    ]
    assert lines[4].split()[:3] == ["optimizer", "score", "(time)"]
    assert lines[-1] == f"Report: {out / 'report.html'}"
    rows = _rows(out / "results.csv")
    assert [(r["label"], r["phase"], r["seed"]) for r in rows] == [
        ("sgd", "tuning", "0"),
        ("sgd", "tuning", "1"),
        ("adam", "tuning", "0"),
        ("adam", "tuning", "1"),
        ("sgd", "rerun", "2"),
        ("sgd", "rerun", "3"),
        ("adam", "rerun", "2"),
        ("adam", "rerun", "3"),
    ]
    assert {r["epochs"] for r in rows} == {"3"} and {r["engine"] for r in rows} == {"numpy"}
    summary = json.loads((out / "summary.json").read_text())
    test = [
        float(r["test_accuracy"]) for r in rows if r["label"] == "adam" and r["phase"] == "rerun"
    ]
    assert f"{sum(test) / 2:.4f}" in lines[2]
    assert summary["entries"][1]["test"]["mean"] == pytest.approx(sum(test) / 2, abs=1e-15)


def test_replot_prints_the_same_tables_and_redraws_the_files(finished, capsys) -> None:
    out, printed = finished
    report = (out / "report.html").read_bytes()
    (out / "report.html").unlink()
    assert cli_main(["benchmark", "--replot", str(out)]) == 0
    assert capsys.readouterr().out == printed
    assert (out / "report.html").read_bytes() == report


def test_json_output(finished, capsys) -> None:
    out, _ = finished
    assert cli_main(["benchmark", "--replot", str(out), "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["report"] == str(out / "report.html")
    assert [e["optimizer"] for e in doc["entries"]] == ["sgd", "adam"]
    assert doc["budget"] == 2 and doc["seeds"] == [2, 3]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--problems", "nope"], "argument --problems: Unknown problem 'nope'"),
        (["--problems", "seed-moons,seed_moons"], "a problem is listed twice"),
        (["--problems", "seed-moons", "--budget", "0"], "'budget' parameter"),
        (["--problems", "seed-moons", "--budget", "10001"], "Got 10001"),
        (["--problems", "seed-moons", "--budget", "1e3"], "expected a whole number"),
        (["--problems", "seed-moons", "--seeds", "0..3"], "are also tuning seeds"),
        (["--problems", "seed-moons", "--seeds", "0"], "a number of seeds must be from 1"),
        (["--problems", "seed-moons", "--seed", "-1"], "argument --seed"),
        (["--problems", "seed-moons", "--optimizers", "adamx"], "Unknown optimizer 'adamx'"),
        (["--problems", "seed-moons", "--optimizers", "adam:b1=1.5"], "'b1'"),
        (["--problems", "seed-moons", "--optimizers", "adam,adam"], "adam are listed twice"),
        (["--problems", "seed-moons", "--dataset", "iris"], "--dataset does not apply"),
        (["--problems", "seed-moons", "--lr", "0.1"], "--lr does not apply"),
        (["--problems", "seed-moons", "--jobs", "0"], "'jobs' parameter"),
        (["--problems", "all", "--budget", "10000", "--seeds", "10000"], "MAX_RUNS"),
        (["--budget", "3"], "--budget belongs to the benchmark protocol"),
        (["--seeds", "3"], "--seeds belongs to the benchmark protocol"),
        (["--resume"], "--resume needs --out"),
        (["--replot", "DIR", "--budget", "3"], "--budget does not apply"),
        (["--replot", "DIR/missing"], "no such folder"),
    ],
)
def test_hostile_options_are_one_line_and_write_nothing(
    tmp_path: Path, capsys, argv, message
) -> None:
    out = tmp_path / "never"
    argv = [a.replace("DIR", str(tmp_path)) for a in argv]
    extra = [] if "--replot" in argv or argv == ["--resume"] else ["--out", str(out)]
    assert cli_main(["benchmark", *argv, *extra]) == 2
    err = capsys.readouterr().err
    assert err.startswith("descentlab: error: ") and err.count("\n") == 1
    assert message in err
    assert not out.exists()


def test_resume_with_other_options_is_refused(finished, capsys) -> None:
    out, _ = finished
    argv = [a if a != "3" else "4" for a in TINY]  # --epochs 4
    assert cli_main([*argv, "--out", str(out), "--resume"]) == 2
    assert "holds a different benchmark" in capsys.readouterr().err
    assert cli_main([*TINY, "--out", str(out)]) == 2
    assert "already holds a benchmark; continue it with --resume" in capsys.readouterr().err


@pytest.mark.slow
@needs_proc
def test_sigint_then_resume_finishes_with_the_rows_of_an_uninterrupted_run(tmp_path: Path) -> None:
    argv = [
        "benchmark",
        "--problems",
        "seed-moons",
        "--optimizers",
        "adam",
        "--budget",
        "10",
        "--seeds",
        "2",
        "--epochs",
        "150",
        "--chunk-size",
        "1",
        "--engine",
        "numpy",
        "-q",
    ]
    out = tmp_path / "run"
    proc = start_command([*argv, "--out", str(out)])
    wait_for_rows(out / "results.csv", proc)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert_session_ends(proc.pid)
    done = _rows(out / "results.csv")
    assert 1 <= len(done) < 12
    assert not (out / "report.html").exists()
    assert cli_main(["benchmark", "--resume", "--out", str(out), "-q"]) == 0
    assert cli_main([*argv, "--out", str(tmp_path / "straight")]) == 0
    resumed = _rows(out / "results.csv")
    assert resumed[: len(done)] == done  # finished rows are kept as they were
    assert _timeless(resumed) == _timeless(_rows(tmp_path / "straight" / "results.csv"))

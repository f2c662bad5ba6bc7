"""Shared helpers of the benchmark scripts: the machine, the seed's data, timing, tables."""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # for `import seed_baseline`


def machine() -> str:
    """One line: CPU count, load average, Python, NumPy and BLAS."""
    load = ", ".join(f"{v:.2f}" for v in os.getloadavg())
    blas = "?"
    try:
        config = np.show_config(mode="dicts")
        blas = config["Build Dependencies"]["blas"]["name"]
    except Exception:  # pragma: no cover - older NumPy
        pass
    return (
        f"{os.cpu_count()} CPUs, load average {load}; Python {platform.python_version()}, "
        f"NumPy {np.__version__} ({blas})"
    )


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    """``(wall seconds, result)`` of one call."""
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def seed_data() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The seed's moons: ``X (2, 300)``, ``y (300,)`` and ``Y (1, 300)`` as the notebook has it."""
    from descentlab.datasets import load_moons

    ds = load_moons()
    return ds.X, ds.y, ds.y[None, :].astype(float)


def table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A Markdown table (also readable as plain text)."""
    cells = [[str(c) for c in header]] + [[str(c) for c in r] for r in rows]
    widths = [max(len(r[j]) for r in cells) for j in range(len(header))]

    def line(r: Sequence[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |"

    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(cells[0]), sep, *(line(r) for r in cells[1:])])


def median(values: Sequence[float]) -> float:
    """The median of the repeats of one measurement."""
    return float(statistics.median(values))


def thread_note() -> str:
    """The thread settings the compiled engine and the peers see (environment as given)."""
    names = ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "XLA_FLAGS")
    given = [f"{n}={os.environ[n]}" for n in names if n in os.environ]
    return ", ".join(given) if given else "no thread variables set"


UNAVAILABLE = "compiled engine not available"


def ran_as_asked(asked: str, ran: Sequence[str]) -> str:
    """Empty when every call ran the engine asked for, else a note for the table."""
    if asked == "compiled" and any(e != "compiled" for e in ran):
        return f"{UNAVAILABLE} (asked for compiled, {', '.join(sorted(set(ran)))} ran)"
    return ""


def run_worker(args: Sequence[str], env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run ``python <args>`` in a fresh process; its last stdout line is a JSON object.

    A failing worker gives ``{"error": ...}`` (the end of its stderr) instead of raising, so
    one missing peer does not stop the other measurements.
    """
    proc = subprocess.run(
        [sys.executable, *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        cwd=HERE.parent,
        check=False,
    )
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        tail = " ".join(proc.stderr.strip().splitlines()[-3:])
        return {"error": f"worker exited {proc.returncode}: {tail}"}
    return json.loads(lines[-1])


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"

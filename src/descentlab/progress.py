"""A one-line progress bar for long work on a terminal: position, a few figures, and the ETA.

It draws only when its stream is a TTY (and ``enabled`` is not False), at most ten times a
second, so it costs nothing measurable in a loop and never pollutes piped output or logs.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

__all__ = ["ProgressBar", "format_seconds"]


def format_seconds(seconds: float) -> str:
    """``75.3 -> '1:15'``, ``3725 -> '1:02:05'``."""
    seconds = max(0, round(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class ProgressBar:
    """``with ProgressBar(total, "adam") as bar: bar.update(n, cost=0.31)``.

    Args:
      total: the count that means done (epochs, runs).
      label: what is progressing, shown first.
      enabled: ``None`` draws when ``stream`` is a TTY; ``False`` never draws.
      stream: where to draw (default ``sys.stderr``).
    """

    width = 24

    def __init__(
        self,
        total: int,
        label: str = "",
        *,
        enabled: bool | None = None,
        stream: TextIO | None = None,
    ) -> None:
        self.total = max(1, int(total))
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        isatty = getattr(self.stream, "isatty", lambda: False)()
        self.enabled = isatty if enabled is None else (enabled and isatty)
        self.start = time.perf_counter()
        self._last_draw = 0.0
        self.done = 0
        self.figures: dict[str, float | str] = {}

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def update(self, done: int, **figures: float | str) -> None:
        """Set the position to ``done`` of ``total`` and show ``figures`` (e.g. cost=0.31)."""
        self.done = done
        if figures:
            self.figures = figures
        if not self.enabled:
            return
        now = time.perf_counter()
        if now - self._last_draw < 0.1 and done < self.total:
            return
        self._last_draw = now
        self._draw(now)

    def _draw(self, now: float) -> None:
        frac = min(1.0, self.done / self.total)
        filled = int(frac * self.width)
        bar = "#" * filled + "-" * (self.width - filled)
        elapsed = now - self.start
        eta = elapsed / frac - elapsed if frac > 0 else 0.0
        shown = "  ".join(
            f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in self.figures.items()
        )
        line = (
            f"\r{self.label} [{bar}] {self.done}/{self.total} {shown} "
            f"{format_seconds(elapsed)}<{format_seconds(eta)}"
        )
        self.stream.write(line[:200] + "\033[K")
        self.stream.flush()

    def close(self) -> None:
        """Draw the final state and end the line."""
        if self.enabled:
            self._draw(time.perf_counter())
            self.stream.write("\n")
            self.stream.flush()

"""Progress bars for long work, drawn by tqdm only where a person is watching.

:class:`Progress` wraps ``tqdm.auto``: in a Jupyter notebook (with ``ipywidgets``) it is a
widget; on a terminal it is tqdm's text bar on stderr; into a pipe or a log file it draws
nothing (``enabled=None`` means "only where someone watches", ``False`` never draws). Figures
such as the cost are refreshed at most ten times a second, so a bar updated every epoch costs
nothing measurable.
"""

from __future__ import annotations

import sys
import time
import warnings
from typing import Any, TextIO

__all__ = ["Progress"]


def _tqdm_class() -> Any:
    """``tqdm.auto.tqdm``; without ipywidgets a notebook falls back to the text bar, quietly."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from tqdm.auto import tqdm
    return tqdm


def _watched(stream: TextIO) -> bool:
    """Whether a person may see ``stream``: a terminal, or a Jupyter kernel's output."""
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty()) or "ipykernel" in sys.modules


class Progress:
    """``with Progress(total, "adam") as bar: bar.update(done, cost=0.31)``.

    Args:
      total: the count that means done (epochs, runs).
      label: what is progressing, shown first.
      enabled: None draws on a terminal or in a notebook, never into a pipe or a log;
        False never draws.
      unit: what one step of ``total`` is (shown in the rate).
      stream: where a text bar goes (default ``sys.stderr``).
    """

    interval = 0.1  # seconds between two refreshes of the figures

    def __init__(
        self,
        total: int,
        label: str = "",
        *,
        enabled: bool | None = None,
        unit: str = "epoch",
        stream: TextIO | None = None,
    ) -> None:
        stream = sys.stderr if stream is None else stream
        self._total = max(1, int(total))
        self._bar = None  # tqdm is imported only when something is drawn (it costs ~70 ms)
        if enabled is not False and _watched(stream):
            self._bar = _tqdm_class()(
                total=self._total,
                desc=label or None,
                unit=unit,
                file=stream,
                disable=None,
                dynamic_ncols=True,
                leave=True,
            )
            if self._bar.disable:
                self._bar = None
        self._last = -float("inf")

    @property
    def enabled(self) -> bool:
        """Whether anything is drawn."""
        return self._bar is not None

    @property
    def total(self) -> int:
        return self._total

    @total.setter
    def total(self, value: int) -> None:
        self._total = max(1, int(value))
        if self._bar is not None:
            self._bar.total = self._total

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def update(self, done: int, **figures: float | str) -> None:
        """Move to ``done`` of ``total`` and show ``figures`` (e.g. ``cost=0.31``)."""
        if self._bar is None:
            return
        now = time.monotonic()
        if now - self._last < self.interval and done < self._bar.total:
            self._bar.n = done  # drawn at the next refresh
            return
        self._last = now
        if figures:
            self._bar.set_postfix(
                {k: f"{v:.4g}" if isinstance(v, float) else v for k, v in figures.items()},
                refresh=False,
            )
        self._bar.update(done - self._bar.n)

    def close(self) -> None:
        """Draw the final state and end the line."""
        if self._bar is not None:
            self._bar.close()

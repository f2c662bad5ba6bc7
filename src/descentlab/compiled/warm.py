"""Compile the kernels into the disk cache: ``python -m descentlab.compiled.warm [LOCK]``.

Started in the background by :func:`descentlab.compiled.cache.warm_in_background`; trains a
tiny network once with one and with several members (the serial and the parallel kernel),
marks them warm, and removes ``LOCK`` when done. Prints nothing.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np


def warm() -> None:
    """Train once on each kernel with ``engine="compiled"`` (which marks it warm)."""
    from descentlab.nn import MLP
    from descentlab.optimizers import gd
    from descentlab.training import train

    X = np.linspace(-1.0, 1.0, 16).reshape(2, 8)
    y = np.arange(8) % 2
    for seeds in (0, list(range(8))):
        train(MLP((2, 2, 1)), gd(0.1), X, y, epochs=1, seed=seeds, engine="compiled")


def main(argv: list[str]) -> int:
    try:
        warm()
    finally:
        if argv:
            Path(argv[0]).unlink(missing_ok=True)
    return 0


if __name__ == "__main__":  # pragma: no cover - run as a separate process
    sys.exit(main(sys.argv[1:]))

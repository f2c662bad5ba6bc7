"""Draw every learning-rate schedule over one run: ``docs/schedules.png``.

Three panels show the step schedules of :mod:`descentlab.schedules` over a run of 30 epochs of
10 mini-batches (300 updates), each starting from alpha0 = 0.1 and evaluated at every step (the
numbers the optimizers apply). ``reduce_on_plateau`` has no curve of its own, so the fourth
panel shows a real run: Adam on the moons data (300 examples, a validation set of 300), the
validation cost after each epoch and the learning rate each epoch was trained with, as
``train`` recorded them.

Usage::

    .venv/bin/python tools/plot_schedules.py [--out docs/schedules.png]
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from descentlab.datasets import make_moons
from descentlab.nn import MLP
from descentlab.optimizers import adam
from descentlab.schedules import (
    cosine_decay,
    exponential_decay,
    inverse_time_decay,
    linear_warmup,
    one_cycle,
    polynomial_decay,
    reduce_on_plateau,
    sgdr,
    step_decay,
    warmup_stable_decay,
)
from descentlab.training import train

EPOCHS, STEPS_PER_EPOCH, LR = 30, 10, 0.1
T = EPOCHS * STEPS_PER_EPOCH

PANELS = {
    "the classic decays (per epoch) and cosine": {
        "inverse_time (decay_rate=0.1)": inverse_time_decay(LR, 0.1, STEPS_PER_EPOCH),
        "exponential (gamma=0.9)": exponential_decay(LR, 0.9, STEPS_PER_EPOCH),
        "step (every 10 epochs, x0.5)": step_decay(LR, 10, 0.5, STEPS_PER_EPOCH),
        "cosine after 30 warm-up steps": linear_warmup(cosine_decay(LR, T - 30), 30),
    },
    "polynomial and sgdr": {
        "polynomial (power=1)": polynomial_decay(LR, T),
        "polynomial (power=2, final 0.02)": polynomial_decay(LR, T, 2.0, final_value=0.02),
        "sgdr (period 5 epochs, mult 2)": sgdr(LR, 5, 2, steps_per_epoch=STEPS_PER_EPOCH),
    },
    "one_cycle and wsd": {
        "one_cycle (cos, two phases)": one_cycle(LR, T),
        "one_cycle (linear, three phases)": one_cycle(
            LR, T, anneal_strategy="linear", three_phase=True
        ),
        "wsd (30 warm-up, last 20% linear)": warmup_stable_decay(LR, T, warmup_steps=30),
        "wsd (30 warm-up, last 20% 1-sqrt)": warmup_stable_decay(
            LR, T, warmup_steps=30, decay_shape="sqrt"
        ),
    },
}


def plateau_run() -> tuple[np.ndarray, np.ndarray]:
    """Validation cost and learning rate per epoch of a reduce_on_plateau run."""
    data, val = make_moons(300, noise=0.25, seed=0), make_moons(300, noise=0.25, seed=1)
    rate = reduce_on_plateau(0.05, factor=0.5, patience=10, threshold=1e-3, min_lr=1e-4)
    result = train(
        MLP((2, 16, 1)),
        adam(rate),
        data.X,
        data.y,
        epochs=200,
        batch_size=30,
        seed=0,
        validation=(val.X, val.y),
        eval_every=1,
        engine="numpy",
        progress=False,
    )
    return result.history.val_cost, result.history.learning_rate


def draw(out: Path) -> None:
    fig, axes = plt.subplots(2, 2, figsize=(12, 8))
    steps = np.arange(T)
    for ax, (title, curves) in zip(axes.flat, PANELS.items(), strict=False):
        for label, schedule in curves.items():
            ax.plot(steps, schedule(steps), label=label, lw=1.5)
        ax.set(xlabel="optimizer step t", ylabel="learning rate", xlim=(0, T), ylim=(0, 0.105))
        ax.set_title(title)
        ax.legend(fontsize=8, loc="upper right")

    val_cost, lr = plateau_run()
    right = axes.flat[3]
    epochs = np.arange(len(lr))
    right.plot(epochs, val_cost, color="tab:blue", lw=1.2)
    right.set(xlabel="epoch", ylabel="validation cost")
    right.yaxis.label.set_color("tab:blue")
    rates = right.twinx()
    rates.step(epochs, lr, where="post", color="tab:red", lw=1.5)
    rates.set_ylabel("learning rate (as recorded)", color="tab:red")
    rates.set_yscale("log")
    right.set_title("reduce_on_plateau (factor 0.5, patience 10): Adam on moons")
    fig.suptitle(f"alpha0 = {LR}; a run of {EPOCHS} epochs x {STEPS_PER_EPOCH} mini-batches")
    fig.tight_layout()
    _save(fig, out)


def _save(fig: plt.Figure, out: Path) -> None:
    """Write atomically: a temporary file in the same folder, then a rename."""
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(suffix=".png", dir=out.parent)
    os.close(fd)
    try:
        fig.savefig(tmp, dpi=110)
        os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/schedules.png"))
    draw(parser.parse_args().out)


if __name__ == "__main__":
    main()

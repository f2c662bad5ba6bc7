"""The compiled training engine: whole epochs in numba, the same numbers as the NumPy engine.

``train(..., engine="compiled")`` runs here, and ``engine="auto"`` (the default everywhere)
when it pays. What it covers: the :class:`~descentlab.nn.MLP` (any depth, every activation,
sigmoid and softmax outputs), every transform and named optimizer of
:mod:`descentlab.optimizers` (their chains, per-member hyperparameters and
:func:`~descentlab.optimizers.stack_optimizers`), every schedule of
:mod:`descentlab.schedules`, populations, divergence, callbacks, ``on_epoch`` and resuming
from an ``opt_state``. What it does not: custom transformations and schedules, and
``clip_by_global_norm`` with one norm over a whole population.

``auto`` runs NumPy for a short run (below :data:`SHORT_RUN_SECONDS` by the estimate of
:func:`numpy_seconds`, :data:`SHORT_RUN_SECONDS_LOADED` once the kernels are loaded: loading
them would cost more than they save) and for a network whose products are mostly BLAS calls
(:func:`~descentlab.compiled.program.blas_bound`: NumPy's engine is as fast there), and runs it
*and says why* in ``TrainResult.engine_note`` when the compiled engine does not cover the
configuration, or when its kernels are not compiled yet and the run is not long (below
:data:`FOREGROUND_COMPILE_SECONDS`): then one background process compiles them for the next
runs (:mod:`.cache`). numba is imported only when the compiled engine runs.

:mod:`.program` turns an optimizer into tables, :mod:`.kernels` holds the compiled loops,
:mod:`.loop` drives them, :mod:`.cache` keeps track of the compiled code.
"""

from __future__ import annotations

import sys
from typing import Any

from descentlab._validation import InvalidParameterError
from descentlab.optimizers.base import recipe_of

__all__ = [
    "COMPILING",
    "FOREGROUND_COMPILE_SECONDS",
    "NOT_COMPILED",
    "SHORT_RUN_SECONDS",
    "SHORT_RUN_SECONDS_LOADED",
    "compiled_loop",
    "numpy_seconds",
    "resolve",
]

SHORT_RUN_SECONDS = 1.5
"""``auto`` trains a run estimated below this many seconds with NumPy when the compiled code
is not loaded in the process yet: importing numba and loading the kernels from the disk cache
take about 1 s on this project's machine (measured in ``descentlab compare``: 0.5-0.7 s
for numba's import, 0.4 s for the kernels)."""

NOT_COMPILED = "the compiled engine is not compiled yet."
"""``TrainResult.engine_note`` when ``auto`` ran numpy because the kernels are cold."""

COMPILING = (
    "the compiled engine is not compiled yet; it is being compiled in the background for the "
    "next runs (once, about 30 s)."
)
"""The same, when this run started the background compilation."""

SHORT_RUN_SECONDS_LOADED = 0.05
"""The same threshold once the kernels are loaded (a second ``train`` in the same process)."""

FOREGROUND_COMPILE_SECONDS = 120.0
"""``auto`` compiles the kernels before training (about 10-20 s, once per installation) only
for a run estimated above this many seconds with NumPy; shorter runs use NumPy meanwhile."""

_STEP_SECONDS = 40e-6  # the NumPy engine's cost per mini-batch step, whatever its size,
_BLOCK_SECONDS = 20e-6  # plus this per optimizer of the population (stack_optimizers' blocks)
_FLOP_SECONDS = 1.2e-9  # and per multiply-add of the forward and backward passes


def numpy_seconds(
    n_params: int, members: int, m: int, batch_size: int, epochs: int, blocks: int = 1
) -> float:
    """A rough estimate of the NumPy engine's time: per mini-batch step a fixed cost and one
    per optimizer (``blocks``), plus three multiply-adds per parameter, example and member
    (forward, backward, update). Fitted on this project's machine: the seed's Adam run takes
    3.0-3.4 s (estimate 3.25 s), its three optimizers as one population 4.8-5.0 s (5.75 s),
    1000 seed networks 23-27 µs per network-epoch (26.8 µs)."""
    steps = epochs * -(-m // batch_size)
    per_step = _STEP_SECONDS + _BLOCK_SECONDS * blocks
    return steps * per_step + 3 * epochs * m * members * n_params * _FLOP_SECONDS


def _short(estimate: float) -> bool:
    loaded = "descentlab.compiled.kernels" in sys.modules
    return estimate < (SHORT_RUN_SECONDS_LOADED if loaded else SHORT_RUN_SECONDS)


def _cold(kernel: str, estimate: float) -> str:
    """Why ``auto`` should not compile now (the kernel is cold and the run not long; a
    background compilation is started), or "" when it should run compiled."""
    from descentlab.compiled import cache

    if cache.is_warm(kernel) or estimate >= FOREGROUND_COMPILE_SECONDS:
        return ""
    return COMPILING if cache.warm_in_background() else NOT_COMPILED


def resolve(
    engine: str,
    *,
    n_params: int,
    members: int,
    m: int,
    batch_size: int,
    epochs: int,
    layer_dims: tuple[int, ...] = (),
    net: Any = None,
    optimizer: Any = None,
) -> tuple[str, str]:
    """``auto``'s choice made once, for work that runs in several processes (a sweep's or a
    benchmark's chunks of ``members`` networks): ``("numpy" | "compiled", why numpy)``.

    A named engine comes back as it is. Every process then trains with the same engine, so
    the results do not depend on which process trained which chunk (the two engines agree to
    1e-12, not bit for bit). With ``net`` and ``optimizer`` (the largest chunk's), a
    configuration the kernels do not cover (an MSE network, the ``reduce_on_plateau``
    schedule, a custom transformation) resolves to numpy, saying why.
    """
    if engine != "auto":
        return engine, ""
    from descentlab.compiled.program import blas_bound

    estimate = numpy_seconds(n_params, members, m, batch_size, epochs)
    if _short(estimate) or blas_bound(layer_dims, min(batch_size, m), members):
        return "numpy", ""
    if net is not None and optimizer is not None:
        why = unsupported(net, optimizer, members)
        if why:
            return "numpy", f"the compiled engine does not support {why}."
    from descentlab.compiled.loop import _threads

    why = _cold("parallel" if _threads(members) > 1 else "serial", estimate)
    return ("numpy", why) if why else ("compiled", "")


def unsupported(net: Any, optimizer: Any, members: int) -> str:
    """Why the compiled engine cannot train ``optimizer`` on a population of ``members``
    networks ``net`` (what :class:`~descentlab.compiled.program.Unsupported` says), or ``""``."""
    import numpy as np

    from descentlab.compiled.loop import _network_arrays
    from descentlab.compiled.program import Unsupported, build_program

    try:
        _network_arrays(net, np.asarray(net.layer_dims, np.int64))
        state = optimizer.init({"theta": np.zeros((members, net.n_params))})
        build_program(optimizer, state, members, net.n_params)
    except Unsupported as why:
        return str(why)
    return ""


def compiled_loop(args: tuple, *, epochs: int, required: bool) -> tuple[Any, str]:
    """The compiled engine's loop for :func:`~descentlab.training.train`'s checked arguments
    ``(net, optimizer, X, y, params, population, order, batch_size, validation, opt_state)``,
    or ``(None, why numpy runs instead)`` when ``auto`` should not use it.

    Raises:
      InvalidParameterError: ``required`` (``engine="compiled"``) and the engine cannot run
        this configuration; the message says why.
    """
    from descentlab.compiled.program import Unsupported, blas_bound

    net, optimizer, X, _, _, population, _, batch_size, _, _ = args
    recipe = recipe_of(optimizer)
    blocks = len(recipe.parts) if recipe is not None and recipe.kind == "stack" else 1
    estimate = numpy_seconds(net.n_params, population or 1, X.shape[1], batch_size, epochs, blocks)
    batch = min(batch_size, X.shape[1])
    if not required and (_short(estimate) or blas_bound(net.layer_dims, batch, population or 1)):
        return None, ""  # nothing to explain: numpy is the faster engine here
    try:
        from descentlab.compiled.loop import CompiledLoop

        loop = CompiledLoop(*args)
    except Unsupported as why:
        if required:
            raise InvalidParameterError(
                f"The compiled engine cannot train this configuration: {why}. "
                "Use engine='auto' (it falls back to numpy) or engine='numpy'."
            ) from None
        return None, f"the compiled engine does not support {why}."
    why = "" if required else _cold(loop.kernel, estimate)
    return (None, why) if why else (loop, "")

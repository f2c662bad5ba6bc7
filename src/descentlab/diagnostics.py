"""Training diagnostics: gradient norm, update ratio, sharpness, gradient noise scale.

Pure functions over a network, flat parameters and data, plus :class:`Recorder`, which
:func:`descentlab.training.train` calls (``diagnostics=True``) after every evaluation epoch.
Parameters here are *flat*: ``theta`` is ``(P,)`` for one network or ``(K, P)`` for a
population (the training engine's buffer, :class:`~descentlab.records.FlatParams`); every
figure is computed per member, shape ``()`` or ``(K,)``. ``X`` is ``(n_0, m)``, ``Y`` the
network's targets ``(n_L, m)`` (:meth:`~descentlab.nn.MLP.targets`).

- gradient norm: ``|g|`` with ``g = grad J(theta)`` the full-batch gradient;
- update ratio of layer l: ``|theta_l(end) - theta_l(start)| / |theta_l(end)|`` over one
  epoch, ``theta_l`` = ``W[l]`` and ``b[l]`` together;
- sharpness: ``lambda_1(H)``, the Hessian's top eigenvalue, by power iteration on exact
  Hessian-vector products (Pearlmutter's R-operator through the network, :func:`hvp`); gradient
  descent is stable on a quadratic while ``lambda_1 < 2 / lr`` (edge of stability, Cohen et
  al. 2021); for Adam, the preconditioned sharpness ``lambda_1(P^-1 H)`` against
  ``(2 + 2 b1) / ((1 - b1) lr)`` (Cohen et al. 2022);
- gradient noise scale ``B_simple = tr(Sigma) / |G|^2`` (McCandlish et al. 2018).

References:
  Cohen, Kaur, Li, Kolter, Talwalkar, "Gradient descent on neural networks typically occurs
  at the edge of stability", ICLR 2021.
  Cohen, Ghorbani, Krishnan, Agarwal, Medapati, Badura, Suo, Cardoze, Nado, Dahl, Gilmer,
  "Adaptive gradient methods at the edge of stability", 2022 (arXiv:2207.14484).
  McCandlish, Kaplan, Amodei and the OpenAI Dota team, "An empirical model of large-batch
  training", 2018 (arXiv:1812.06162), appendix A.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from descentlab.nn import MLP
from descentlab.optimizers.base import (
    GradientTransformation,
    Params,
    Recipe,
    StackedState,
    applied_learning_rate,
    recipe_of,
)
from descentlab.optimizers.transforms import ScaleByAdamState
from descentlab.records import FlatParams

__all__ = [
    "Recorder",
    "adam_preconditioner",
    "dense_hessian",
    "full_gradient",
    "gradient_noise_scale",
    "hvp",
    "noise_scale_from_norms",
    "sharpness",
    "update_ratio",
]

BLOCK = 4096
"""Examples times members per pass when a full-batch gradient or Hessian-vector product is
computed (the mean of the blocks' sums): ``max(1, BLOCK // K)`` examples at a time, so that
memory stays that of one network's batch of 4096 whatever ``m`` and ``K``."""
POWER_ITERS = 20
"""At most this many Hessian-vector products per sharpness (warm-started, they usually stop
earlier: :data:`POWER_TOL`)."""
POWER_TOL = 1e-4
"""Power iteration stops when every member's Rayleigh quotient changed by less than this,
relative to its size."""
NOISE_DRAWS = 32
"""Mini-batches drawn (with replacement) to estimate ``E |G_B|^2`` for the noise scale."""


def _layer_slices(net: MLP) -> list[slice]:
    """Layer l's ``W[l]`` and ``b[l]`` as one slice of the flat vector (they are adjacent)."""
    slices, offset = [], 0
    for l in range(1, net.n_layers + 1):
        size = math.prod(net.shapes()[f"W{l}"]) + net.shapes()[f"b{l}"][0]
        slices.append(slice(offset, offset + size))
        offset += size
    return slices


def _norm(a: np.ndarray) -> np.ndarray:
    """Euclidean norm over the last axis: ``()`` or ``(K,)``."""
    return np.sqrt(np.einsum("...p,...p->...", a, a))


def _block(theta: np.ndarray) -> int:
    """Examples per pass for flat parameters ``theta`` (:data:`BLOCK`)."""
    return max(1, BLOCK // (theta.shape[0] if theta.ndim == 2 else 1))


def full_gradient(net: MLP, theta: np.ndarray, X: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """``g = grad J(theta)`` on all ``m`` examples, flat, shaped like ``theta``.

    ``g = sum_blocks (m_block / m) grad J_block(theta)``: the mean cost's gradient computed
    :data:`BLOCK` examples at a time."""
    population = theta.shape[0] if theta.ndim == 2 else None
    params, grad = FlatParams(net.shapes(), population), FlatParams(net.shapes(), population)
    params.flat[...] = theta
    total = np.zeros_like(params.flat)
    m, step = X.shape[-1], _block(theta)
    for a in range(0, m, step):
        b = min(a + step, m)
        net.loss_and_grads(params.views, X[:, a:b], Y[:, a:b], out=grad.views)
        total += grad.flat * ((b - a) / m)
    return total


def _second_derivative(net: MLP, z: np.ndarray, a: np.ndarray) -> np.ndarray:
    """g''(Z) of the hidden activation from Z and A = g(Z) (0 for the piecewise-linear ones)."""
    if net.activation == "tanh":
        return -2.0 * a * (1.0 - a * a)
    if net.activation == "sigmoid":
        return a * (1.0 - a) * (1.0 - 2.0 * a)
    return np.zeros_like(z)


def _hvp_block(net: MLP, params: Params, V: Params, X: np.ndarray, Y: np.ndarray) -> Params:
    """``H v`` on one block of examples by Pearlmutter's R-operator (``R{f} = d/dr f(theta +
    r v)`` at ``r = 0``), forward then backward::

        R Z[l] = VW[l] A[l-1] + W[l] R A[l-1] + Vb[l],   R A[l] = g'(Z[l]) R Z[l],  R A[0] = 0
        R dZ[L] = R A[L] / m   (A[L] = Z[L]; sigmoid: A (1 - A) R Z; softmax: A (R Z - sum A R Z))
        R dW[l] = R dZ[l] A[l-1]^T + dZ[l] R A[l-1]^T,   R db[l] = sum(R dZ[l])
        R dZ[l-1] = (VW[l]^T dZ[l] + W[l]^T R dZ[l]) g'(Z[l-1]) + (W[l]^T dZ[l]) g''(Z[l-1]) R Z[l-1]
    """
    _, cache = net._forward(params, X)
    m, L = X.shape[-1], net.n_layers
    RA, RZs = np.zeros_like(X), []
    for l in range(1, L + 1):
        A_prev, Z, A = cache[l - 1]
        RZ = V[f"W{l}"] @ A_prev + params[f"W{l}"] @ RA + V[f"b{l}"]
        RZs.append(RZ)
        if l < L:
            RA = net._hidden_grad(Z, A) * RZ
    A_L, RZ_L = cache[-1][2], RZs[-1]
    if net.output == "sigmoid":
        RA_L = A_L * (1.0 - A_L) * RZ_L
    elif net.output == "softmax":
        RA_L = A_L * (RZ_L - (A_L * RZ_L).sum(axis=-2, keepdims=True))
    else:
        RA_L = RZ_L
    dZ, RdZ = (A_L - Y) / m, RA_L / m
    out: Params = {}
    for l in range(L, 0, -1):
        A_prev = cache[l - 1][0]
        RA_prev = net._hidden_grad(cache[l - 2][1], A_prev) * RZs[l - 2] if l > 1 else None
        out[f"W{l}"] = RdZ @ A_prev.swapaxes(-1, -2)
        if RA_prev is not None:
            out[f"W{l}"] = out[f"W{l}"] + dZ @ RA_prev.swapaxes(-1, -2)
        out[f"b{l}"] = RdZ.sum(axis=-1, keepdims=True)
        if l > 1:
            _, Z_prev, A_prev_act = cache[l - 2]
            W_T, VW_T = params[f"W{l}"].swapaxes(-1, -2), V[f"W{l}"].swapaxes(-1, -2)
            back = W_T @ dZ
            slope = net._hidden_grad(Z_prev, A_prev_act)
            RdZ = (VW_T @ dZ + W_T @ RdZ) * slope
            RdZ += back * _second_derivative(net, Z_prev, A_prev_act) * RZs[l - 2]
            dZ = back * slope
    return out


def hvp(net: MLP, theta: np.ndarray, v: np.ndarray, X: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """``H v``, the full-batch Hessian of the cost times ``v``, exactly (R-operator,
    :func:`_hvp_block`), per member, flat and shaped like ``theta``; :data:`BLOCK` examples at
    a time. For ReLU networks it is the Hessian of the piece the parameters are on (a kink
    is a set of measure zero), which central differences of gradients would smear:
    a kink crossed within the difference's step adds a jump divided by the step."""
    population = theta.shape[0] if theta.ndim == 2 else None
    params, direction = FlatParams(net.shapes(), population), FlatParams(net.shapes(), population)
    params.flat[...], direction.flat[...] = theta, v
    out, total = FlatParams(net.shapes(), population), np.zeros_like(params.flat)
    m, step = X.shape[-1], _block(theta)
    for a in range(0, m, step):
        b = min(a + step, m)
        out.load(_hvp_block(net, params.views, direction.views, X[:, a:b], Y[:, a:b]))
        total += out.flat * ((b - a) / m)
    return total


def _power(
    matvec: Callable[[np.ndarray], np.ndarray], v: np.ndarray, iters: int, tol: float
) -> tuple[np.ndarray, np.ndarray]:
    """The eigenvalue of largest magnitude of a symmetric ``matvec`` and its unit vector,
    per member: ``v <- A v / |A v|``, ``lambda = v . A v`` until every ``lambda`` changes by
    less than ``tol |lambda|``."""
    v = v / np.maximum(_norm(v), 1e-300)[..., None]
    lam = np.full(v.shape[:-1], np.nan)
    for _ in range(iters):
        Av = matvec(v)
        new = np.einsum("...p,...p->...", v, Av)
        v = Av / np.maximum(_norm(Av), 1e-300)[..., None]
        done = np.all((np.abs(new - lam) <= tol * np.abs(new)) | ~np.isfinite(new))
        lam = new
        if done:
            break
    return lam, v


def sharpness(
    net: MLP,
    theta: np.ndarray,
    X: np.ndarray,
    Y: np.ndarray,
    v0: np.ndarray | None = None,
    *,
    scale: np.ndarray | None = None,
    iters: int = POWER_ITERS,
    tol: float = POWER_TOL,
) -> tuple[np.ndarray, np.ndarray]:
    """``lambda_1``, the top eigenvalue of ``A = S H S`` (``S = diag(scale)``, default 1), by
    power iteration on Hessian-vector products (:func:`hvp`); ``()`` or ``(K,)``, with its
    unit eigenvector (shaped like ``theta``, to warm-start the next call as ``v0``).

    Power iteration finds the eigenvalue of largest magnitude ``mu``; where it is negative it
    is repeated on ``A - mu I``, whose top eigenvalue is ``lambda_1 - mu`` (slower to
    converge when ``A``'s eigenvalues crowd near ``lambda_1``; the Rayleigh quotient is a
    lower bound of ``lambda_1`` then). With
    ``scale = P^(-1/2)`` this is ``lambda_1(P^-1 H)`` (similar to ``S H S``).

    Args:
      theta: parameters ``(P,)`` or ``(K, P)``.
      v0: start vector (default: a fixed random one).
      scale: ``(P,)`` or ``(K, P)``, positive.
      iters, tol: see :data:`POWER_ITERS`, :data:`POWER_TOL`.
    """
    s = np.ones_like(theta) if scale is None else scale

    def matvec(v: np.ndarray) -> np.ndarray:
        return s * hvp(net, theta, s * v, X, Y)

    if v0 is None:
        v0 = np.random.default_rng(0).standard_normal(theta.shape)
    lam, v = _power(matvec, v0, iters, tol)
    negative = lam < 0
    if np.any(negative):  # only those members' results change (mu = 0 for the others)
        mu = np.where(negative, lam, 0.0)[..., None]
        shifted, w = _power(lambda u: matvec(u) - mu * u, v0, iters, tol)
        lam = np.where(negative, shifted + mu[..., 0], lam)
        v = np.where(negative[..., None], w, v)
    return lam, v


def dense_hessian(
    net: MLP, theta: np.ndarray, X: np.ndarray, Y: np.ndarray, h: float = 1e-5
) -> np.ndarray:
    """The Hessian ``(P, P)`` of one network by central differences of the exact gradient,
    ``H[:, j] = (g(theta + h e_j) - g(theta - h e_j)) / (2 h)``, symmetrised ``(H + H^T) / 2``.
    A reference for small networks (``2 P`` gradients)."""
    basis = np.eye(theta.size) * h
    columns = full_gradient(net, theta + basis, X, Y) - full_gradient(net, theta - basis, X, Y)
    H = columns.T / (2 * h)
    return (H + H.T) / 2


def update_ratio(net: MLP, start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """``|theta_l(end) - theta_l(start)| / |theta_l(end)|`` per layer l (``W[l]`` with
    ``b[l]``): ``(L,)``, or ``(K, L)`` for flat ``(K, P)`` parameters."""
    return np.stack(
        [_norm(end[..., s] - start[..., s]) / _norm(end[..., s]) for s in _layer_slices(net)],
        axis=-1,
    )


def noise_scale_from_norms(
    g2_small: Any, b_small: float, g2_big: Any, b_big: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(|G|^2, tr(Sigma), B_simple)`` from the squared gradient norms at two batch sizes.

    McCandlish et al. 2018, appendix A: ``E |G_B|^2 = |G|^2 + tr(Sigma) / B`` for a
    mini-batch of ``B`` examples drawn with replacement, so with ``b_small < b_big``::

        |G|^2     = (b_big |G_big|^2 - b_small |G_small|^2) / (b_big - b_small)
        tr(Sigma) = (|G_small|^2 - |G_big|^2) / (1 / b_small - 1 / b_big)
        B_simple  = tr(Sigma) / |G|^2

    ``b_big = inf`` stands for the exact (full-batch) gradient: then ``|G|^2 = |G_big|^2`` and
    ``tr(Sigma) = b_small (|G_small|^2 - |G_big|^2)``. Both estimates are unbiased; their
    ratio is not (it is the paper's estimator all the same).

    With ``|G|^2 = 1`` and ``tr(Sigma) = 3``, ``E |G_B|^2`` is 2.5 at ``B = 2`` and 1.375 at ``B = 8``:

    >>> [float(x) for x in noise_scale_from_norms(2.5, 2, 1.375, 8)]
    [1.0, 3.0, 3.0]
    """
    g2_small, g2_big = np.asarray(g2_small, dtype=float), np.asarray(g2_big, dtype=float)
    if math.isinf(b_big):
        G2 = g2_big
        trace = b_small * (g2_small - g2_big)
    else:
        G2 = (b_big * g2_big - b_small * g2_small) / (b_big - b_small)
        trace = (g2_small - g2_big) / (1.0 / b_small - 1.0 / b_big)
    return G2, trace, trace / G2


def gradient_noise_scale(
    net: MLP,
    theta: np.ndarray,
    X: np.ndarray,
    Y: np.ndarray,
    batch_size: int,
    rng: np.random.Generator,
    *,
    draws: int = NOISE_DRAWS,
    g2_full: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(|G|^2, tr(Sigma), B_simple)`` at ``theta`` (:func:`noise_scale_from_norms`):
    ``|G_small|^2`` is the mean over ``draws`` mini-batches of ``batch_size`` examples drawn
    with replacement by ``rng``, ``|G_big|^2`` the exact full-batch gradient's (``b_big = inf``;
    ``g2_full`` if it is known). ``Sigma`` is the covariance of one example's gradient over the
    training set."""
    m = X.shape[-1]
    b = min(batch_size, m)
    g2 = 0.0
    for _ in range(draws):
        idx = rng.integers(0, m, size=b)
        g2 = g2 + _norm(full_gradient(net, theta, X[:, idx], Y[:, idx])) ** 2 / draws
    if g2_full is None:
        g2_full = _norm(full_gradient(net, theta, X, Y)) ** 2
    return noise_scale_from_norms(g2, b, g2_full, math.inf)


def _find_adam(recipe: Recipe | None, state: Any) -> tuple[dict[str, Any], Any] | None:
    """``(settings, state)`` of the one ``scale_by_adam`` in a chain, or None (none, or
    several)."""
    if recipe is None:
        return None
    if recipe.kind == "scale_by_adam" and isinstance(state, ScaleByAdamState):
        return recipe.settings, state
    if recipe.kind != "chain" or not isinstance(state, tuple):
        return None
    found = [_find_adam(r, s) for r, s in zip(recipe.parts, state, strict=False)]
    found = [f for f in found if f is not None]
    return found[0] if len(found) == 1 else None


def _members(x: Any, n: int | None) -> np.ndarray:
    """A hyperparameter (a number or ``(K,)``) as ``(K, 1)`` (``()`` without a population)."""
    x = np.asarray(x, dtype=float)
    return x if n is None else np.broadcast_to(x, (n,))[:, None]


def _adam_block(recipe: Recipe | None, state: Any) -> tuple[Any, Any] | None:
    """``(P, b1)`` of one optimizer (``P`` shaped like its parameters, ``b1`` ``()`` or
    ``(K,)``), or None."""
    found = _find_adam(recipe, state)
    if found is None or found[1].count < 1:
        return None
    settings, adam = found
    t = adam.count
    s = (adam.nu if adam.nu_max is None else adam.nu_max)["theta"]
    n = s.shape[0] if s.ndim == 2 else None
    b1, b2 = _members(settings["b1"], n), _members(settings["b2"], n)
    root = np.sqrt(s / (1 - b2**t) + _members(settings["eps_root"], n))
    return (1 - b1**t) * (root + _members(settings["eps"], n)), b1[..., 0] if n else b1


def adam_preconditioner(
    optimizer: GradientTransformation, state: Any
) -> tuple[np.ndarray, np.ndarray] | None:
    """Adam's preconditioner ``P`` (its diagonal, flat like the parameters) and ``b1``, or
    None for an optimizer without exactly one ``scale_by_adam``; under
    :func:`~descentlab.optimizers.base.stack_optimizers`, per block (NaN rows and ``b1`` for
    the members of a block without Adam).

    Cohen et al. 2022 write Adam's step as ``theta -= lr P^-1 m`` with ``m`` the (uncorrected)
    first moment, ``P = (1 - b1^t) diag(sqrt(s_hat) + eps)``, ``s_hat = s / (1 - b2^t)``; here
    ``sqrt(s_hat + eps_root) + eps`` (descentlab's ``eps_root``, 0 by default). Amsgrad uses
    ``s_max`` in place of ``s``. Needs a state that has taken a step (``t >= 1``)."""
    recipe = recipe_of(optimizer)
    if recipe is None or recipe.kind != "stack" or not isinstance(state, StackedState):
        return _adam_block(recipe, state)
    blocks = [_adam_block(r, s) for r, s in zip(recipe.parts, state.blocks, strict=True)]
    if all(block is None for block in blocks):
        return None
    width = next(block[0].shape[-1] for block in blocks if block is not None)
    P = [
        np.full((k, width), np.nan) if b is None else b[0]
        for b, k in zip(blocks, state.sizes, strict=True)
    ]
    b1 = [
        np.full(k, np.nan) if b is None else b[1] for b, k in zip(blocks, state.sizes, strict=True)
    ]
    return np.concatenate(P), np.concatenate(b1)


class Recorder:
    """Measures the diagnostics of a training loop after its evaluation epochs.

    :meth:`start` takes the parameters at the start of an epoch; :meth:`measure` at the end
    of an evaluation epoch returns the figures (each ``()`` or ``(K,)``): ``grad_norm``,
    ``sharpness``, ``sharpness_threshold`` (``2 / lr``), ``precond_sharpness`` and
    ``precond_threshold`` (Adam only, else NaN), ``noise_G2``, ``noise_trace``,
    ``noise_scale`` (``B_simple``), ``suggested_batch`` (``B_simple`` rounded into
    ``[1, m]``; NaN where the estimate is <= 0) and ``update_ratio_l`` for each layer l. Sharpness power iterations are
    warm-started from the previous measurement's eigenvectors. The noise scale's mini-batches
    come from a generator of its own (seeded by the epoch), so training is not changed.
    """

    def __init__(
        self,
        net: MLP,
        optimizer: GradientTransformation,
        X: np.ndarray,
        y: np.ndarray,
        batch_size: int,
    ) -> None:
        self.net, self.optimizer, self.X = net, optimizer, X
        self.Y = net.targets(y)
        self.batch_size = batch_size
        self.start_theta: np.ndarray | None = None
        self.v: np.ndarray | None = None
        self.v_pre: np.ndarray | None = None

    def start(self, theta: np.ndarray) -> None:
        """Remember ``theta`` (flat) as the parameters at the start of the next epoch."""
        self.start_theta = theta.copy()

    def measure(self, epoch: int, theta: np.ndarray, opt_state: Any) -> dict[str, np.ndarray]:
        """The diagnostics at ``theta`` (flat ``(P,)`` or ``(K, P)``) after ``epoch``."""
        net, X, Y = self.net, self.X, self.Y
        g = full_gradient(net, theta, X, Y)
        lr = np.asarray(applied_learning_rate(opt_state), dtype=float)
        out: dict[str, np.ndarray] = {"grad_norm": _norm(g)}
        out["sharpness"], self.v = sharpness(net, theta, X, Y, self.v)
        out["sharpness_threshold"] = np.broadcast_to(2.0 / lr, out["grad_norm"].shape).copy()
        out["precond_sharpness"], out["precond_threshold"] = self._preconditioned(
            theta, opt_state, lr
        )
        rng = np.random.default_rng(epoch)
        G2, trace, B = gradient_noise_scale(
            net, theta, X, Y, self.batch_size, rng, g2_full=out["grad_norm"] ** 2
        )
        out.update(noise_G2=G2, noise_trace=trace, noise_scale=B)
        # an estimate <= 0 (tr(Sigma) estimated below 0: noise) suggests nothing
        out["suggested_batch"] = np.where(B > 0, np.clip(np.round(B), 1, X.shape[-1]), np.nan)
        ratios = update_ratio(net, theta if self.start_theta is None else self.start_theta, theta)
        for l in range(net.n_layers):
            out[f"update_ratio_{l + 1}"] = ratios[..., l]
        return out

    def _preconditioned(
        self, theta: np.ndarray, opt_state: Any, lr: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """``lambda_1(P^-1 H)`` and ``(2 + 2 b1) / ((1 - b1) lr)`` for Adam, else NaN (per
        member: the members of a stack that have Adam)."""
        nan = np.full(theta.shape[:-1], np.nan)
        found = adam_preconditioner(self.optimizer, opt_state)
        if found is None:
            return nan, nan.copy()
        P, b1 = found
        threshold = np.broadcast_to((2 + 2 * b1) / ((1 - b1) * lr), nan.shape).copy()
        scale = 1 / np.sqrt(np.broadcast_to(P, theta.shape))
        if self.v_pre is None:
            self.v_pre = np.random.default_rng(0).standard_normal(theta.shape)
        if theta.ndim == 1:
            lam, self.v_pre = sharpness(self.net, theta, self.X, self.Y, self.v_pre, scale=scale)
            return lam, threshold
        rows = np.flatnonzero(np.isfinite(P).all(axis=-1))
        lam = nan.copy()
        lam[rows], self.v_pre[rows] = sharpness(
            self.net, theta[rows], self.X, self.Y, self.v_pre[rows], scale=scale[rows]
        )
        return lam, threshold

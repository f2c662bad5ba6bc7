"""A multilayer perceptron in NumPy: initialisation, forward and backward passes, loss, prediction.

Shapes follow the seed: examples are columns. For ``layer_dims = (n_0, n_1, ..., n_L)``:

- ``X`` is ``(n_0, m)``; targets ``Y`` are ``(n_L, m)`` — 0/1 for one sigmoid output unit,
  one-hot for a softmax output (``n_L >= 2``), real values for a linear output (``loss="mse"``);
- ``W{l}`` is ``(n_l, n_{l-1})`` and ``b{l}`` is ``(n_l, 1)``.

Every parameter may carry a leading population axis of size K (K networks in lock-step); ``X``
and ``Y`` may then be shared ``(n, m)`` or per member ``(K, n, m)``. The forward pass is::

    Z[l] = W[l] @ A[l-1] + b[l],   A[l] = g(Z[l])   (A[0] = X; g the hidden activation;
                                                    on the last layer sigmoid or softmax,
                                                    or the identity for loss="mse")

and the cost is the mean cross-entropy ``J = -(1/m) sum(Y * log(A[L]) [+ (1-Y) log(1-A[L])])``,
computed from the logits ``Z[L]`` so that saturated outputs give a finite cost, or with
``loss="mse"`` half the mean squared error ``J = (1/(2m)) sum((A[L] - Y)**2)``. Both give
``dZ[L] = (A[L] - Y) / m``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.special import expit

from descentlab import limits
from descentlab._validation import (
    DataError,
    Interval,
    InvalidParameterError,
    Options,
    as_seeds,
    check_param,
    is_integer,
)
from descentlab.optimizers.base import Params

__all__ = ["ACTIVATIONS", "INITIALISERS", "LOSSES", "MLP", "gradient_check"]

ACTIVATIONS = ("relu", "tanh", "leaky_relu", "sigmoid")
INITIALISERS = ("he", "xavier", "seed")
LOSSES = ("cross_entropy", "mse")


def _sigmoid(z: np.ndarray) -> np.ndarray:
    """sigma(z) = 1 / (1 + exp(-z)), without overflow for large |z| (SciPy's ``expit`` ufunc)."""
    return expit(z)


def _softplus(z: np.ndarray) -> np.ndarray:
    """log(1 + exp(z)) = logaddexp(0, z), finite for every finite z."""
    return np.logaddexp(0.0, z)


def _log_softmax(z: np.ndarray) -> np.ndarray:
    """log softmax over the units axis (-2): z - max - log(sum(exp(z - max)))."""
    shifted = z - z.max(axis=-2, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-2, keepdims=True))


@dataclass(frozen=True)
class MLP:
    """A fully connected network ``layer_dims = (n_0, ..., n_L)`` with one hidden activation.

    With ``loss="cross_entropy"`` the output is one sigmoid unit when ``n_L == 1`` (two
    classes) and a softmax over ``n_L`` units otherwise. With ``loss="mse"`` the ``n_L`` output
    units are linear (``A[L] = Z[L]``) and the cost is ``J = (1/(2m)) sum((A[L] - Y)**2)``,
    summed over units and examples. The class holds only the architecture; parameters are plain
    dicts passed to every method, so one ``MLP`` serves any number of parameter sets (and
    populations).

    An MSE network takes two kinds of targets (:meth:`targets`): a *float* ``y`` holds real
    values (regression: ``(m,)`` for one output unit, else ``(n_L, m)``; accuracy is undefined,
    NaN), an *integer* ``y`` holds class indices (classification trained with the squared
    error: 0/1 for one unit, one-hot otherwise; predictions threshold the linear output at 0.5
    for one unit, take the argmax otherwise).

    Args:
      layer_dims: sizes of the input, hidden and output layers, e.g. ``(2, 5, 2, 1)``.
      activation: hidden activation, one of ``relu``, ``tanh``, ``leaky_relu``, ``sigmoid``.
      leaky_slope: slope of ``leaky_relu`` for negative inputs.
      loss: ``cross_entropy`` (sigmoid or softmax output) or ``mse`` (linear output).

    Example:
      >>> net = MLP((2, 5, 2, 1))
      >>> params = net.init(seed=3, method="seed")
      >>> {k: v.shape for k, v in params.items()}["W2"]
      (2, 5)
      >>> float(net.cost(params, np.zeros((2, 4)), np.ones((1, 4))))
      0.6931471805599453
    """

    layer_dims: tuple[int, ...]
    activation: str = "relu"
    leaky_slope: float = 0.01
    loss: str = "cross_entropy"

    def __post_init__(self) -> None:
        ok = isinstance(self.layer_dims, Sequence | np.ndarray) and not isinstance(
            self.layer_dims, str
        )
        dims = tuple(self.layer_dims) if ok else ()
        if len(dims) < 2 or not all(is_integer(d) and d >= 1 for d in dims):
            raise InvalidParameterError(
                "The 'layer_dims' parameter of MLP must be a sequence of at least two positive "
                f"ints (input size, ..., output size). Got {self.layer_dims!r} instead."
            )
        hidden = dims[1:-1]
        if len(hidden) > limits.MAX_HIDDEN_LAYERS or any(
            d > limits.MAX_HIDDEN_UNITS for d in hidden
        ):
            raise InvalidParameterError(
                f"The 'layer_dims' parameter of MLP allows at most {limits.MAX_HIDDEN_LAYERS} "
                f"hidden layers of at most {limits.MAX_HIDDEN_UNITS} units each "
                f"(descentlab.limits). Got {list(dims)!r} instead."
            )
        object.__setattr__(self, "layer_dims", tuple(int(d) for d in dims))
        check_param("MLP", "activation", self.activation, Options(ACTIVATIONS))
        check_param("MLP", "leaky_slope", self.leaky_slope, Interval(0, 1, "left"))
        check_param("MLP", "loss", self.loss, Options(LOSSES))

    # ------------------------------------------------------------------ structure
    @property
    def n_layers(self) -> int:
        """L, the number of weight layers."""
        return len(self.layer_dims) - 1

    @property
    def output(self) -> str:
        """``"linear"`` for ``loss="mse"``; else ``"sigmoid"`` for one output unit,
        ``"softmax"`` otherwise."""
        if self.loss == "mse":
            return "linear"
        return "sigmoid" if self.layer_dims[-1] == 1 else "softmax"

    @property
    def n_classes(self) -> int:
        """Classes the outputs stand for: 2 for one output unit, else ``n_L`` (for an MSE
        network: when it is trained on class indices)."""
        return 2 if self.layer_dims[-1] == 1 else self.layer_dims[-1]

    def shapes(self) -> dict[str, tuple[int, int]]:
        """``{"W1": (n_1, n_0), "b1": (n_1, 1), ...}`` in layer order."""
        out: dict[str, tuple[int, int]] = {}
        for l in range(1, len(self.layer_dims)):
            out[f"W{l}"] = (self.layer_dims[l], self.layer_dims[l - 1])
            out[f"b{l}"] = (self.layer_dims[l], 1)
        return out

    @property
    def n_params(self) -> int:
        return sum(a * b for a, b in self.shapes().values())

    # ------------------------------------------------------------------ init
    def init(
        self,
        seed: int | Sequence[int] | np.random.Generator | None = None,
        *,
        method: str = "he",
    ) -> Params:
        """Random weights and zero biases.

        ``W[l] = randn(n_l, n_{l-1}) * scale`` with ``scale = sqrt(2 / n_{l-1})`` (``he``, and
        ``seed``) or ``sqrt(1 / n_{l-1})`` (``xavier``, the normal Glorot/LeCun variant for
        tanh); ``b[l] = 0``. ``method="seed"`` draws from the legacy ``RandomState(seed)``
        exactly as the seed's ``np.random.seed(3); randn(...)`` (default seed 3), without
        touching NumPy's global state; ``he``/``xavier`` draw from ``default_rng(seed)``.

        Args:
          seed: an int, a ``Generator``, or a sequence of K ints for a population of K networks
            (member k is then exactly the network ``init(seed[k])`` would give).
          method: ``he``, ``xavier`` or ``seed``.

        Returns:
          ``{"W1": (n_1, n_0), "b1": (n_1, 1), ...}``, each with a leading ``(K,)`` axis when
          ``seed`` is a sequence.
        """
        check_param("MLP.init", "method", method, Options(INITIALISERS))
        if not isinstance(seed, np.random.Generator):
            as_seeds("MLP.init", "seed", seed)  # None, one seed or K seeds, each in [0, 2**32 - 1]
        elif method == "seed":
            raise InvalidParameterError(
                "The 'seed' parameter of MLP.init must be an int in [0, 2**32 - 1] or None with "
                "method='seed' (NumPy's legacy RandomState). Got a Generator instead."
            )
        if isinstance(seed, Sequence | np.ndarray) and not isinstance(seed, str):
            members = [self.init(int(s), method=method) for s in seed]  # as_seeds: not empty
            return {k: np.stack([p[k] for p in members]) for k in members[0]}
        if method == "seed":
            rs = np.random.RandomState(3 if seed is None else seed)
            draw = rs.randn
        else:
            rng = np.random.default_rng(seed)  # a Generator is returned as it is

            def draw(*shape: int) -> np.ndarray:
                return rng.standard_normal(shape)

        params: Params = {}
        for l in range(1, len(self.layer_dims)):
            n, n_prev = self.layer_dims[l], self.layer_dims[l - 1]
            scale = np.sqrt(1.0 / n_prev) if method == "xavier" else np.sqrt(2 / n_prev)
            params[f"W{l}"] = draw(n, n_prev) * scale
            params[f"b{l}"] = np.zeros((n, 1))
        return params

    # ------------------------------------------------------------------ checks
    def check_params(self, params: Params) -> int | None:
        """Raise :class:`DataError` unless ``params`` fits this architecture; return K or None."""
        if not isinstance(params, Mapping):
            raise DataError(
                "params must be a dict of arrays {'W1': ..., 'b1': ..., ...}; got "
                f"{type(params).__name__}."
            )
        expected = self.shapes()
        if set(params) != set(expected):
            raise DataError(
                f"params must have the keys {sorted(expected)} for layer_dims "
                f"{list(self.layer_dims)}; got {sorted(params)}."
            )
        for k in expected:
            _numbers(f"params[{k!r}]", params[k])
        population = {np.shape(params[k])[:-2] for k in expected}
        for k, shape in expected.items():
            if np.shape(params[k])[-2:] != shape or np.ndim(params[k]) not in (2, 3):
                raise DataError(
                    f"params[{k!r}] has shape {np.shape(params[k])}; expected {shape} "
                    f"(or (K, {shape[0]}, {shape[1]}) for a population)."
                )
        if len(population) != 1:
            raise DataError("All params must share the same population axis (K, ...) or none.")
        (lead,) = population
        return lead[0] if lead else None

    def check_inputs(self, X: np.ndarray, Y: np.ndarray | None = None) -> None:
        """Raise :class:`DataError` if ``X`` (and ``Y``) do not fit the network."""
        self._inputs(X, Y)

    def _inputs(self, X: Any, Y: Any = None) -> tuple[np.ndarray, np.ndarray | None]:
        """:meth:`check_inputs`, returning ``(X, Y)`` as arrays of numbers (see :func:`_numbers`)."""
        X = _numbers("X", X)
        Y = None if Y is None else _numbers("Y", Y)
        if np.ndim(X) not in (2, 3) or np.shape(X)[-2] != self.layer_dims[0]:
            raise DataError(
                f"X has shape {np.shape(X)}, but the network expects {self.layer_dims[0]} "
                f"features as rows: (n_features={self.layer_dims[0]}, m). Examples are columns."
            )
        if Y is not None:
            if np.ndim(Y) not in (2, 3) or np.shape(Y)[-2] != self.layer_dims[-1]:
                raise DataError(
                    f"Y has shape {np.shape(Y)}, but the network has {self.layer_dims[-1]} "
                    f"output unit(s): expected ({self.layer_dims[-1]}, m)."
                )
            if np.shape(Y)[-1] != np.shape(X)[-1]:
                raise DataError(
                    f"Found {np.shape(X)[-1]} examples in X and {np.shape(Y)[-1]} in Y."
                )
        return X, Y

    # ------------------------------------------------------------------ forward
    def _hidden(self, z: np.ndarray) -> np.ndarray:
        if self.activation == "relu":
            return np.maximum(z, 0.0)
        if self.activation == "tanh":
            return np.tanh(z)
        if self.activation == "leaky_relu":
            return np.maximum(z, self.leaky_slope * z)  # = where(z > 0, z, slope z): slope < 1
        return _sigmoid(z)

    def _hidden_grad(self, z: np.ndarray, a: np.ndarray) -> np.ndarray:
        """g'(Z) from Z and A = g(Z); ReLU's derivative at 0 is 0, as in the seed."""
        if self.activation == "relu":
            return z > 0
        if self.activation == "tanh":
            return 1.0 - a * a
        if self.activation == "leaky_relu":
            return np.where(z > 0, 1.0, self.leaky_slope)
        return a * (1.0 - a)

    def _checked(self, params: Params, X: Any) -> np.ndarray:
        """``X`` as a float array, after checking it and ``params`` against the network."""
        self.check_params(params)
        return self._inputs(X)[0]

    def forward(self, params: Params, X: np.ndarray) -> tuple[np.ndarray, list[tuple]]:
        """The forward pass; returns ``(A[L], cache)``.

        ``A[L]`` is ``(n_L, m)`` (or ``(K, n_L, m)``): sigmoid probabilities of class 1 for one
        output unit, softmax probabilities over the classes otherwise, ``Z[L]`` itself for a
        linear (MSE) output. ``cache`` holds
        ``(A[l-1], Z[l], A[l])`` per layer for :meth:`backward`. ``params`` and ``X`` are
        checked (:meth:`check_params`, :meth:`check_inputs`).
        """
        return self._forward(params, self._checked(params, X))

    def _forward(self, params: Params, X: np.ndarray) -> tuple[np.ndarray, list[tuple]]:
        """:meth:`forward` without the checks (the training engine's inner loop)."""
        A = X
        cache: list[tuple] = []
        L = self.n_layers
        for l in range(1, L + 1):
            Z = params[f"W{l}"] @ A
            Z += params[f"b{l}"]
            if l < L:
                A_next = self._hidden(Z)
            elif self.output == "linear":
                A_next = Z
            elif self.output == "sigmoid":
                A_next = _sigmoid(Z)
            else:
                A_next = np.exp(_log_softmax(Z))
            cache.append((A, Z, A_next))
            A = A_next
        return A, cache

    def _cost_from_logits(self, ZL: np.ndarray, Y: np.ndarray) -> np.ndarray:
        """The cost from the last layer's ``Z[L]``; shape ``()`` or ``(K,)``.

        Linear (MSE): ``J = (1/m) sum(0.5 (Z - Y)**2)`` over units and examples.

        Sigmoid: ``J = (1/m) sum((1 - Y) softplus(Z) + Y softplus(-Z))``, the stable form of
        ``-(1/m) sum(Y log A + (1 - Y) log(1 - A))`` (``log A = -softplus(-Z)``,
        ``log(1 - A) = -softplus(Z)``). Written so, nothing cancels: a confident right answer
        costs its true ``log(1 + exp(-|Z|))``, where ``softplus(Z) - Y Z`` would round to 0 and
        leave an absolute error of ``u |Z|``. Softmax: ``J = -(1/m) sum(Y * log_softmax(Z))``.
        """
        m = ZL.shape[-1]
        if self.output == "linear":
            per_unit = 0.5 * (ZL - Y) ** 2
        elif self.output == "sigmoid":
            per_unit = (1.0 - Y) * _softplus(ZL) + Y * _softplus(-ZL)
        else:
            per_unit = -Y * _log_softmax(ZL)
        return per_unit.sum(axis=(-2, -1)) / m

    def cost(self, params: Params, X: np.ndarray, Y: np.ndarray) -> np.ndarray:
        """The cost ``J`` on ``(X, Y)`` (mean cross-entropy, or half the mean squared error for
        ``loss="mse"``); a float, or ``(K,)`` for a population. ``Y`` is the network target
        ``(n_L, m)`` (see :meth:`targets`)."""
        self.check_params(params)
        X, Y = self._inputs(X, _numbers("Y", Y))  # Y is required here: None is refused
        _, cache = self._forward(params, X)
        return self._cost_from_logits(cache[-1][1], Y)

    # ------------------------------------------------------------------ backward
    def backward(
        self, params: Params, cache: list[tuple], Y: np.ndarray, out: Params | None = None
    ) -> Params:
        """Gradients of the cost, keyed like ``params``.

        ``dZ[L] = (A[L] - Y) / m`` (sigmoid + binary cross-entropy, softmax + cross-entropy and
        linear + half squared error alike), then for ``l = L, ..., 1``::

            dW[l] = dZ[l] @ A[l-1].T,   db[l] = sum(dZ[l], axis=-1),
            dZ[l-1] = (W[l].T @ dZ[l]) * g'(Z[l-1])

        ``out``, if given, is a dict of preallocated arrays (shapes of ``params``) written in
        place and returned — the training engine uses it to keep gradients in one buffer.
        A population's per-member data ``(K, n, m)`` gives per-member gradients; shared data
        ``(n, m)`` with population parameters gives ``(K, ...)`` gradients too.
        """
        grads: Params = {} if out is None else out
        A_L = cache[-1][2]
        dZ = A_L - Y
        dZ /= A_L.shape[-1]
        for l in range(self.n_layers, 0, -1):
            A_prev_T = cache[l - 1][0].swapaxes(-1, -2)
            kW, kb = f"W{l}", f"b{l}"
            if out is None:
                grads[kW] = dZ @ A_prev_T
                grads[kb] = np.add.reduce(dZ, axis=-1, keepdims=True)
            else:
                np.matmul(dZ, A_prev_T, out=grads[kW])
                np.add.reduce(dZ, axis=-1, keepdims=True, out=grads[kb])
            if l > 1:
                _, Z_prev, A_prev_act = cache[l - 2]
                dZ = params[kW].swapaxes(-1, -2) @ dZ
                dZ *= self._hidden_grad(Z_prev, A_prev_act)
        return grads

    def loss_and_grads(
        self, params: Params, X: np.ndarray, Y: np.ndarray, out: Params | None = None
    ) -> tuple[np.ndarray, Params]:
        """``(J, grads)`` in one forward and one backward pass (see :meth:`backward`).

        Nothing is checked: this is the training engine's inner loop, which checks the
        parameters and the data once before it starts (see :meth:`check_params`,
        :meth:`check_inputs`).
        """
        _, cache = self._forward(params, X)
        return self._cost_from_logits(cache[-1][1], Y), self.backward(params, cache, Y, out)

    # ------------------------------------------------------------------ prediction
    def predict_proba(self, params: Params, X: np.ndarray) -> np.ndarray:
        """Class probabilities, ``(n_classes, m)`` (or ``(K, n_classes, m)``).

        For one sigmoid unit the rows are ``[1 - A, A]``, so row c is always P(class c).

        Raises:
          InvalidParameterError: an MSE network, whose linear outputs are not probabilities.
        """
        if self.output == "linear":
            raise InvalidParameterError(
                "predict_proba needs a cross-entropy network (a sigmoid or softmax output); "
                "this MLP has loss='mse', whose linear outputs are not probabilities. Use "
                "predict for classes or forward for the output values."
            )
        A, _ = self._forward(params, self._checked(params, X))
        if self.output == "sigmoid":
            return np.concatenate([1.0 - A, A], axis=-2)
        return A

    def predict(self, params: Params, X: np.ndarray) -> np.ndarray:
        """Class indices ``(m,)`` (or ``(K, m)``): ``A > 0.5`` for one output unit (sigmoid, as
        the seed, or linear), argmax over the units otherwise."""
        A, _ = self._forward(params, self._checked(params, X))
        if self.layer_dims[-1] == 1:
            return (A[..., 0, :] > 0.5).astype(np.int64)
        return A.argmax(axis=-2)

    def accuracy(self, params: Params, X: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Fraction of examples whose predicted class equals ``y`` (class indices, ``(m,)``);
        a float, or ``(K,)`` for a population.

        For an MSE network with real-valued targets (a float ``y``, see :meth:`targets`)
        accuracy is undefined: NaN (``(K,)`` NaNs for a population), after the same checks.
        """
        if self._real_valued(y):
            K = self.check_params(params)
            self._inputs(X, self.targets(y))
            return np.full(() if K is None else (K,), np.nan)
        predicted = self.predict(params, X)
        y = _numbers("y", y).ravel()
        if y.size != predicted.shape[-1]:
            raise DataError(f"Found {predicted.shape[-1]} examples in X and {y.size} labels in y.")
        return np.mean(predicted == y, axis=-1)

    def _real_valued(self, y: Any) -> bool:
        """Whether ``y`` holds real-valued targets: a float array given to an MSE network."""
        if self.loss != "mse":
            return False
        try:
            return np.asarray(y).dtype.kind == "f"
        except (TypeError, ValueError):  # not an array of numbers: _numbers says so
            return False

    def targets(self, y: np.ndarray) -> np.ndarray:
        """Network targets ``Y`` ``(n_L, m)`` float64 from labels ``y``.

        Class indices ``y`` ``(m,)`` give ``(1, m)`` 0/1 for one output unit and one-hot
        ``(n_L, m)`` otherwise. For an MSE network a float ``y`` holds real values instead and
        is returned as ``(n_L, m)``: ``(m,)`` or ``(1, m)`` for one output unit, ``(n_L, m)``
        for more; they must be finite.
        """
        if self._real_valued(y):
            return self._real_targets(y)
        y = _numbers("y", y).ravel()
        bad = (y < 0) | (y >= self.n_classes) | (y != np.round(y))
        if np.any(bad):
            raise DataError(
                f"y must hold class indices in [0, {self.n_classes - 1}] for this network; "
                f"found {y[bad][0]!r}."
            )
        y = y.astype(np.int64)
        if self.layer_dims[-1] == 1:
            return y[None, :].astype(np.float64)
        Y = np.zeros((self.layer_dims[-1], y.size))
        Y[y, np.arange(y.size)] = 1.0
        return Y

    def _real_targets(self, y: Any) -> np.ndarray:
        """Real-valued targets ``y`` as ``(n_L, m)`` float64 (see :meth:`targets`)."""
        n = self.layer_dims[-1]
        Y = np.array(y, dtype=np.float64, ndmin=1)
        if Y.ndim == 1 and n == 1:
            Y = Y[None, :]
        if Y.ndim != 2 or Y.shape[0] != n:
            raise DataError(
                f"Real-valued targets y have shape {np.shape(y)}, but the network has {n} "
                f"output unit(s): expected ({n}, m)" + (" or (m,)." if n == 1 else ".")
            )
        bad = np.flatnonzero(~np.isfinite(Y).all(axis=0))
        if bad.size:
            raise DataError(
                f"Real-valued targets y must be finite; example {int(bad[0])} has "
                f"{Y[:, bad[0]].tolist()}."
            )
        return Y


def _numbers(name: str, x: Any) -> np.ndarray:
    """``x`` as an array of numbers (float64 unless it already is a float array); :class:`DataError`
    if it holds anything else (text, objects, a ragged list)."""
    try:
        arr = np.asarray(x)
    except (TypeError, ValueError) as exc:
        raise DataError(f"{name} must be an array of numbers: {exc}.") from None
    if arr.dtype.kind not in "biuf":
        raise DataError(f"{name} must hold numbers; got an array of dtype {arr.dtype}.")
    return arr if arr.dtype.kind == "f" else arr.astype(np.float64)


def gradient_check(
    net: MLP, params: Params, X: np.ndarray, Y: np.ndarray, epsilon: float = 1e-6
) -> float:
    """Relative error between :meth:`MLP.backward` and central finite differences.

    ``gradapprox_i = (J(theta + eps e_i) - J(theta - eps e_i)) / (2 eps)`` for every one of the
    ``P`` parameters ``theta_i``; returns

        ||grad - gradapprox|| / max(||grad|| + ||gradapprox||, floor),
        floor = sqrt(P) * u * max(1, |J|) / (eps * TOL),   u = 2**-53, TOL = 1e-7

    (0 when both vanish). Below ``TOL`` = 1e-7 in float64 the backward pass is right. The floor
    makes the rule scale-aware: central differences carry a rounding error of about
    ``u * |J| / eps`` per parameter, so for tiny gradients (a saturated output: norms near 1e-4)
    a plain relative error measures that noise, not the backward pass; with the floor, pure
    rounding reads as at most about ``TOL``, and gradients above the floor are judged by the
    plain relative error. Single networks only.
    """
    if net.check_params(params) is not None:
        raise DataError("gradient_check takes one network, not a population.")
    cost, grads = net.loss_and_grads(params, X, Y)
    analytic, numeric = [], []
    for k, p in params.items():
        for idx in np.ndindex(p.shape):
            plus = {**params, k: p.copy()}
            minus = {**params, k: p.copy()}
            plus[k][idx] += epsilon
            minus[k][idx] -= epsilon
            numeric.append((net.cost(plus, X, Y) - net.cost(minus, X, Y)) / (2 * epsilon))
            analytic.append(grads[k][idx])
    a, n = np.asarray(analytic), np.asarray(numeric)
    floor = np.sqrt(a.size) * 2.0**-53 * max(1.0, abs(float(cost))) / (epsilon * 1e-7)
    denom = max(np.linalg.norm(a) + np.linalg.norm(n), floor)
    return float(np.linalg.norm(a - n) / denom)

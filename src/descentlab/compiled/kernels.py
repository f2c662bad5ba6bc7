"""The compiled loops: whole epochs of mini-batch training for K networks, in numba.

Nothing here checks anything: :mod:`descentlab.compiled.loop` builds every array from checked
inputs (:mod:`descentlab.compiled.program` turns the optimizer into the opcode table). The
math is :meth:`descentlab.nn.MLP.loss_and_grads` followed by the optimizer's transforms, in the
same order of operations as the NumPy engine where the order changes the result (no
``fastmath``: every sum is rounded as written); sums over the batch use four partial sums, as
BLAS and NumPy's pairwise sums also do in their own orders.

The drivers release the GIL (``nogil``): other Python threads run while they train (the
commands import matplotlib meanwhile).

Layout (one network's parameters ``theta[k]`` is the NumPy engine's flat ``(P,)`` buffer:
``W1`` row-major, ``b1``, ``W2``, ...). Activations are ``(units, batch)`` with the batch
innermost and contiguous, so every elementwise loop and the forward product run over the
batch in SIMD registers. Member ``k`` is independent of every other member within an epoch;
the parallel driver gives each thread its own members and its own work space.
"""

from __future__ import annotations

import math

import numpy as np

from descentlab.compiled.cache import configure_numba

configure_numba()  # before the decorators below: where the compiled code is kept

from numba import njit, prange  # noqa: E402

from descentlab.compiled.program import (  # noqa: E402
    ACT_LEAKY,
    ACT_RELU,
    ACT_SIGMOID,
    ACT_TANH,
    BLAS_MIN,
    COL_A,
    COL_B,
    COL_C,
    COL_CODE,
    COL_FLAG1,
    COL_FLAG2,
    COL_HP,
    COL_RATE,
    OP_ADADELTA,
    OP_ADAGRAD,
    OP_ADAM,
    OP_ADAMAX,
    OP_CLIP,
    OP_DECAY,
    OP_EMA,
    OP_LEARNING_RATE,
    OP_LION,
    OP_NADAM,
    OP_RADAM,
    OP_RMS,
    OP_RPROP,
    OP_SCHEDULE_FREE,
    OP_TRACE,
    OUT_SIGMOID,
)

_COUNT_MAX = np.iinfo(np.int64).max


@njit(cache=True, error_model="numpy", inline="always")
def _sigmoid(z):
    return 1.0 / (1.0 + math.exp(-z))


# exp(-|z|) and log1p(e) for 0 <= e <= 1 in plain arithmetic, so that a loop over the batch
# runs them in SIMD registers (a call to libm's exp cannot be vectorised). Both are within two
# units in the last place of libm's (tests/test_compiled.py measures it), as NumPy's own SIMD
# exp and log are.
_LOG2E = 1.4426950408889634
_LN2_HI = 6.93147180369123816490e-01  # ln 2 split: k * _LN2_HI is exact for |k| < 2**11
_LN2_LO = 1.90821492927058770002e-10
_LN2 = 0.6931471805599453
_SQRT2 = 1.4142135623730951
_TWO_M500 = 2.0**-500
_EXP_C = tuple(1.0 / math.factorial(n) for n in range(14))  # Taylor to r**13: |r| <= ln2 / 2


@njit(cache=True, error_model="numpy", inline="always")
def _exp_neg_abs(z, zo, e, eo, B, ibuf, fbuf):
    """``e[eo + j] = exp(-|z[zo + j]|)`` for j < B (0 below -746, NaN for NaN).

    ``exp(x) = 2**k exp(r)``, ``k = round(x / ln 2)``, ``r = x - k ln 2`` (two-part ln 2), exp(r)
    by its Taylor polynomial to r**13 (error below 1e-17), ``2**k`` built from its bits in
    ``ibuf`` (read as ``fbuf``) as ``2**(k + 500) * 2**-500`` so that subnormal results round
    once.
    """
    c0, c1, c2, c3, c4, c5, c6, c7, c8, c9, c10, c11, c12, c13 = _EXP_C
    for j in range(B):
        x = -abs(z[zo + j])
        t = x * _LOG2E
        if not (t >= -1100.0):  # far below the range, -inf and NaN: any k in range will do
            t = -1100.0
        k = math.floor(t + 0.5)
        r = (x - k * _LN2_HI) - k * _LN2_LO
        p = c13
        p = p * r + c12
        p = p * r + c11
        p = p * r + c10
        p = p * r + c9
        p = p * r + c8
        p = p * r + c7
        p = p * r + c6
        p = p * r + c5
        p = p * r + c4
        p = p * r + c3
        p = p * r + c2
        p = p * r + c1
        p = p * r + c0
        ibuf[j] = (np.int64(k) + 1523) << 52
        e[eo + j] = p
    for j in range(B):
        v = (e[eo + j] * fbuf[j]) * _TWO_M500
        e[eo + j] = 0.0 if -abs(z[zo + j]) < -746.0 else v


@njit(cache=True, error_model="numpy", inline="always")
def _log1p_unit(e):
    """log(1 + e) for 0 <= e <= 1 (NaN for NaN): ``u = 1 + e`` halved above sqrt(2) (plus
    ln 2), ``log(u) = 2 atanh(s)``, ``s = (u - 1) / (u + 1)`` by its series to s**23, then the
    rounding of ``1 + e`` corrected: ``+ (e - (u - 1)) / u``."""
    u = 1.0 + e
    m = u * 0.5 if u > _SQRT2 else u
    extra = _LN2 if u > _SQRT2 else 0.0
    s = (m - 1.0) / (m + 1.0)
    s2 = s * s
    q = 1.0 / 23.0
    q = q * s2 + 1.0 / 21.0
    q = q * s2 + 1.0 / 19.0
    q = q * s2 + 1.0 / 17.0
    q = q * s2 + 1.0 / 15.0
    q = q * s2 + 1.0 / 13.0
    q = q * s2 + 1.0 / 11.0
    q = q * s2 + 1.0 / 9.0
    q = q * s2 + 1.0 / 7.0
    q = q * s2 + 1.0 / 5.0
    q = q * s2 + 1.0 / 3.0
    return extra + (2.0 * s + (2.0 * s) * (s2 * q)) + (e - (u - 1.0)) / u


@njit(cache=True, error_model="numpy", inline="always")
def _dot4(x, xo, y, yo, n):
    """sum_j x[xo + j] * y[yo + j] over j < n, with four partial sums (latency hidden, order
    fixed)."""
    a0 = 0.0
    a1 = 0.0
    a2 = 0.0
    a3 = 0.0
    j = 0
    while j + 4 <= n:
        a0 += x[xo + j] * y[yo + j]
        a1 += x[xo + j + 1] * y[yo + j + 1]
        a2 += x[xo + j + 2] * y[yo + j + 2]
        a3 += x[xo + j + 3] * y[yo + j + 3]
        j += 4
    while j < n:
        a0 += x[xo + j] * y[yo + j]
        j += 1
    return (a0 + a1) + (a2 + a3)


@njit(cache=True, error_model="numpy", inline="always")
def _sum4(x, xo, n):
    """sum_j x[xo + j] over j < n, with four partial sums."""
    a0 = 0.0
    a1 = 0.0
    a2 = 0.0
    a3 = 0.0
    j = 0
    while j + 4 <= n:
        a0 += x[xo + j]
        a1 += x[xo + j + 1]
        a2 += x[xo + j + 2]
        a3 += x[xo + j + 3]
        j += 4
    while j < n:
        a0 += x[xo + j]
        j += 1
    return (a0 + a1) + (a2 + a3)


@njit(cache=True, error_model="numpy", inline="always")
def _loss_and_grads(
    theta, k, dims, w_off, b_off, act, slope, out, X, Y, perm, start, B, A, Z, G, H, grad, blas,
    ibuf, fbuf,
):  # fmt: skip
    """One mini-batch of ``B`` examples ``perm[start : start + B]``: gather, forward, cost,
    backward for member k (``theta[k]``). Returns the mean cost J; ``grad`` receives
    dJ/dtheta in ``theta``'s layout.

    This thread's buffers, a flat row per layer holding ``(n_l, B)`` (row i of the layer at
    ``i * B``): ``A[l]`` and ``Z[l]`` are layer l's activations and pre-activations (``A[0]``
    the batch); ``G`` is dZ and ``H`` dA of the layer at hand. Everything is indexed in place
    (no array views in the loop: each costs reference counting, a reshape a call).
    ``blas``: products of :data:`BLAS_MIN` multiply-adds or more go to ``np.dot``.
    """
    L = dims.shape[0] - 1
    for f in range(dims[0]):  # gather: A_0[f, j] = X[f, perm[start + j]]
        for j in range(B):
            A[0, f * B + j] = X[f, perm[start + j]]
    for l in range(1, L + 1):  # forward: Z_l = W_l @ A_{l-1} + b_l
        n, n_prev, wo = dims[l], dims[l - 1], w_off[l - 1]
        if blas and n * n_prev * B >= BLAS_MIN:
            W = theta[k, wo : wo + n * n_prev].reshape((n, n_prev))
            a_prev = A[l - 1, : n_prev * B].reshape((n_prev, B))
            np.dot(W, a_prev, Z[l, : n * B].reshape((n, B)))
        else:
            _product(theta[k], wo, n_prev, 1, A[l - 1], Z[l], n, n_prev, B)
        for i in range(n):
            bias = theta[k, b_off[l - 1] + i]
            _bias_activate(Z[l], A[l], i * B, bias, B, act if l < L else -1, slope)
    nL = dims[L]
    total = 0.0  # the cost, and dZ_L = (A_L - Y) / B
    if out == OUT_SIGMOID:
        zL, aL = Z[L], A[L]
        for i in range(nL):
            _exp_neg_abs(zL, i * B, H, i * B, B, ibuf, fbuf)  # e = exp(-|z|), kept in H
            for j in range(B):  # sigma(z) = 1 / (1 + e) (z >= 0) or e / (1 + e)
                ej, zj = H[i * B + j], zL[i * B + j]
                a = (1.0 if zj >= 0.0 else ej) / (1.0 + ej)
                aL[i * B + j] = a
                y = Y[i, perm[start + j]]
                # (1 - y) softplus(z) + y softplus(-z), softplus(x) = max(x, 0) + log1p(e)
                lp = _log1p_unit(ej)
                up = (zj if zj > 0.0 else 0.0) + lp
                down = (-zj if zj < 0.0 else 0.0) + lp
                fbuf[j] = (1.0 - y) * up + y * down  # NaN where NumPy's is (0 * inf)
                G[i * B + j] = (a - y) / B
            for j in range(B):
                total += fbuf[j]
    else:
        _softmax(Z[L], A[L], H, nL, B)
        for i in range(nL):
            for j in range(B):
                y = Y[i, perm[start + j]]
                total += -y * H[i * B + j]  # the log-softmax, left in H by _softmax
                G[i * B + j] = (A[L, i * B + j] - y) / B
    for l in range(L, 0, -1):  # backward
        n, n_prev, wo = dims[l], dims[l - 1], w_off[l - 1]
        big = blas and n * n_prev * B >= BLAS_MIN
        if big:
            dz = G[: n * B].reshape((n, B))
            a_prev = A[l - 1, : n_prev * B].reshape((n_prev, B))
            np.dot(dz, a_prev.T, grad[wo : wo + n * n_prev].reshape((n, n_prev)))
        for i in range(n):
            if not big:
                for q in range(n_prev):
                    grad[wo + i * n_prev + q] = _dot4(G, i * B, A[l - 1], q * B, B)
            grad[b_off[l - 1] + i] = _sum4(G, i * B, B)
        if l > 1:
            # dA_{l-1} = W_l.T @ dZ_l, then dZ_{l-1} = dA_{l-1} * g'(Z_{l-1}) (in place of dZ)
            if big:
                W = theta[k, wo : wo + n * n_prev].reshape((n, n_prev))
                np.dot(W.T, G[: n * B].reshape((n, B)), H[: n_prev * B].reshape((n_prev, B)))
            else:
                _product(theta[k], wo, 1, n_prev, G, H, n_prev, n, B)
            for q in range(n_prev):
                _derive(Z[l - 1], A[l - 1], H, G, q * B, B, act, slope)
    return total / B


@njit(cache=True, error_model="numpy", inline="always")
def _product(W, wo, s_out, s_in, A, out, n, n_in, B):
    """``out[i, :] = sum_q W[wo + i * s_out + q * s_in] * A[q, :]`` for i < n (rows of B in
    the flat ``A`` and ``out``): W @ A, or W.T @ A with the strides swapped. Loops over the
    batch (SIMD), each sum in order over the inputs ``((w_0 a_0 + w_1 a_1) + w_2 a_2) + ...``,
    four inputs per pass over a row."""
    for i in range(n):
        o = i * B
        for j in range(B):
            out[o + j] = 0.0
        q = 0
        while q + 4 <= n_in:
            w0 = W[wo + i * s_out + q * s_in]
            w1 = W[wo + i * s_out + (q + 1) * s_in]
            w2 = W[wo + i * s_out + (q + 2) * s_in]
            w3 = W[wo + i * s_out + (q + 3) * s_in]
            r0, r1, r2, r3 = q * B, (q + 1) * B, (q + 2) * B, (q + 3) * B
            for j in range(B):
                out[o + j] = (
                    ((out[o + j] + w0 * A[r0 + j]) + w1 * A[r1 + j]) + w2 * A[r2 + j]
                ) + w3 * A[r3 + j]
            q += 4
        while q + 2 <= n_in:
            w0 = W[wo + i * s_out + q * s_in]
            w1 = W[wo + i * s_out + (q + 1) * s_in]
            r0, r1 = q * B, (q + 1) * B
            for j in range(B):
                out[o + j] = (out[o + j] + w0 * A[r0 + j]) + w1 * A[r1 + j]
            q += 2
        if q < n_in:
            w0 = W[wo + i * s_out + q * s_in]
            r0 = q * B
            for j in range(B):
                out[o + j] += w0 * A[r0 + j]


@njit(cache=True, error_model="numpy", inline="always")
def _bias_activate(z, a, o, bias, B, act, slope):
    """``z[o + j] += bias``, then ``a[o + j] = g(z)`` for j < B (``act`` -1: the output
    layer, z only); the branch outside the loop, so it vectorises."""
    if act == ACT_RELU:
        for j in range(B):
            v = z[o + j] + bias
            z[o + j] = v
            a[o + j] = v if not (v < 0.0) else 0.0  # np.maximum(v, 0): NaN stays NaN
    elif act == ACT_TANH:
        for j in range(B):
            v = z[o + j] + bias
            z[o + j] = v
            a[o + j] = math.tanh(v)
    elif act == ACT_LEAKY:
        for j in range(B):
            v = z[o + j] + bias
            z[o + j] = v
            a[o + j] = max(v, slope * v) if v == v else v
    elif act == ACT_SIGMOID:
        for j in range(B):
            v = z[o + j] + bias
            z[o + j] = v
            a[o + j] = _sigmoid(v)
    else:
        for j in range(B):
            z[o + j] += bias


@njit(cache=True, error_model="numpy", inline="always")
def _derive(z, a, da, dz, o, B, act, slope):
    """``dz[o + j] = da[o + j] * g'(z[o + j])`` for j < B (g' from z and a = g(z); ReLU's
    g'(0) = 0, as nn.py)."""
    if act == ACT_RELU:
        for j in range(B):
            dz[o + j] = da[o + j] * (1.0 if z[o + j] > 0.0 else 0.0)
    elif act == ACT_TANH:
        for j in range(B):
            dz[o + j] = da[o + j] * (1.0 - a[o + j] * a[o + j])
    elif act == ACT_LEAKY:
        for j in range(B):
            dz[o + j] = da[o + j] * (1.0 if z[o + j] > 0.0 else slope)
    else:
        for j in range(B):
            dz[o + j] = da[o + j] * (a[o + j] * (1.0 - a[o + j]))


@njit(cache=True, error_model="numpy", inline="always")
def _softmax(Z, A, logs, n, B):
    """A_L = softmax of Z_L over the units, as nn.py: ``log_softmax = (z - max) -
    log(sum(exp(z - max)))``, ``A = exp(log_softmax)``; the log-softmax is left in ``logs``."""
    for j in range(B):
        top = Z[j]
        for i in range(1, n):
            v = Z[i * B + j]
            if v > top or v != v:
                top = v
        s = 0.0
        for i in range(n):
            s += math.exp(Z[i * B + j] - top)
        ls = math.log(s)
        for i in range(n):
            lsm = (Z[i * B + j] - top) - ls
            logs[i * B + j] = lsm
            A[i * B + j] = math.exp(lsm)


@njit(cache=True, error_model="numpy", inline="always")
def _update(k, step, theta, g, state, counts, ops, n_ops, hp, rates):
    """Apply member k's optimizer program to its gradient ``g`` (in place) and step theta."""
    P = g.shape[0]
    for i in range(n_ops[k]):
        code = ops[k, i, COL_CODE]
        sa = ops[k, i, COL_A]
        sb = ops[k, i, COL_B]
        sc = ops[k, i, COL_C]
        h = ops[k, i, COL_HP]
        f1 = ops[k, i, COL_FLAG1]
        f2 = ops[k, i, COL_FLAG2]
        c_old = counts[k, i]
        c = c_old + 1 if c_old < _COUNT_MAX else c_old
        counts[k, i] = c
        if code == OP_LEARNING_RATE:
            col = ops[k, i, COL_RATE]
            neg = -(hp[k, h] if col < 0 else rates[step, col])
            for p in range(P):
                g[p] = neg * g[p]
        elif code == OP_TRACE:
            mu = hp[k, h]
            keep = hp[k, h + 1]
            if f2 == 1:  # passthrough: u = g, the buffer keeps g
                for p in range(P):
                    state[sa, k, p] = g[p]
            else:
                for p in range(P):
                    b = g[p] if c_old == 0 else mu * state[sa, k, p] + keep * g[p]
                    state[sa, k, p] = b
                    g[p] = g[p] + mu * b if f1 == 1 else b
        elif code == OP_EMA:
            beta = hp[k, h]
            for p in range(P):
                v = beta * state[sa, k, p] + (1.0 - beta) * g[p]
                state[sa, k, p] = v
                g[p] = v
        elif code == OP_RMS:
            rho = hp[k, h]
            eps = hp[k, h + 1]
            inv = 1.0 / (1.0 - math.pow(rho, float(c)))
            for p in range(P):
                gp = g[p]
                s = rho * state[sa, k, p] + (gp * gp) * (1.0 - rho)
                state[sa, k, p] = s
                if f2 == 1:
                    s = inv * s
                if f1 == 1:
                    m = rho * state[sb, k, p] + (1.0 - rho) * gp
                    state[sb, k, p] = m
                    if f2 == 1:
                        m = inv * m
                    s = s - m * m
                    s = s if not (s < 0.0) else 0.0
                g[p] = gp / (math.sqrt(s) + eps)
        elif code == OP_ADAGRAD:
            eps = hp[k, h]
            for p in range(P):
                gp = g[p]
                G = gp * gp + state[sa, k, p]
                state[sa, k, p] = G
                g[p] = gp / (math.sqrt(G) + eps)
        elif code == OP_ADAM:
            b1 = hp[k, h]
            b2 = hp[k, h + 1]
            eps = hp[k, h + 2]
            eps_root = hp[k, h + 3]
            inv1 = 1.0 / (1.0 - math.pow(b1, float(c)))
            inv2 = 1.0 / (1.0 - math.pow(b2, float(c)))
            if f1 == 1 or f2 == 0:  # amsgrad or eps_root: the general loop
                for p in range(P):
                    gp = g[p]
                    m = b1 * state[sa, k, p] + (1.0 - b1) * gp
                    s = b2 * state[sb, k, p] + (gp * gp) * (1.0 - b2)
                    state[sa, k, p] = m
                    state[sb, k, p] = s
                    if f1 == 1:
                        prev = state[sc, k, p]
                        s = s if (s > prev or s != s) else prev  # np.maximum(previous, s)
                        if prev != prev:
                            s = prev
                        state[sc, k, p] = s
                    d = inv2 * s
                    if f2 == 0:
                        d += eps_root
                    d = math.sqrt(d) + eps
                    g[p] = (inv1 * m) / d
            else:  # plain Adam: one branch-free loop over rows read in place (SIMD)
                mu, nu = state[sa, k], state[sb, k]
                for p in range(P):
                    gp = g[p]
                    m = b1 * mu[p] + (1.0 - b1) * gp
                    s = b2 * nu[p] + (gp * gp) * (1.0 - b2)
                    mu[p] = m
                    nu[p] = s
                    g[p] = (inv1 * m) / (math.sqrt(inv2 * s) + eps)
        elif code == OP_DECAY:
            if f2 == 0:
                lam = hp[k, h]
                for p in range(P):
                    g[p] = g[p] + lam * theta[k, p]
        elif code == OP_CLIP:
            cap = hp[k, h]
            sq = 0.0
            for p in range(P):
                sq += g[p] * g[p]
            norm = math.sqrt(sq)
            if f1 == 1:  # per member: scale only when norm > cap
                if norm > cap:
                    scale = cap / norm
                    for p in range(P):
                        g[p] = scale * g[p]
            elif not (norm <= cap):
                scale = cap / norm
                for p in range(P):
                    g[p] = scale * g[p]
        else:  # the transforms of optimizers.adaptive, .sign and .schedule_free
            _update_modern(code, k, c, step, theta, g, state, sa, sb, hp, h, ops[k, i, COL_RATE],
                           rates)  # fmt: skip
    for p in range(P):
        theta[k, p] += g[p]


@njit(cache=True, error_model="numpy", inline="always")
def _sign(x):
    """np.sign: -1, 0 or 1, NaN for NaN."""
    return 1.0 if x > 0.0 else (-1.0 if x < 0.0 else x * 0.0)


@njit(cache=True, error_model="numpy")
def _update_modern(code, k, c, step, theta, g, state, sa, sb, hp, h, col, rates):
    """The ops of NAdam, RAdam, Adamax, Adadelta, Lion, Rprop and schedule-free averaging on
    member k's ``g`` (in place); ``c`` is the op's step count after this update (t), ``sa``,
    ``sb`` its state slots, ``hp[k, h:]`` its hyperparameters and per-member numbers. Each is
    its NumPy transform's arithmetic, term by term (``optimizers.adaptive``, ``.sign``,
    ``.schedule_free``)."""
    P = g.shape[0]
    t = float(c)
    if code == OP_NADAM:  # hp: b1, b2, eps, psi, then the product of momenta
        b1, b2, eps, psi = hp[k, h], hp[k, h + 1], hp[k, h + 2], hp[k, h + 3]
        mu_t = b1 * (1.0 - 0.5 * math.pow(0.96, t * psi))
        mu_next = b1 * (1.0 - 0.5 * math.pow(0.96, (t + 1.0) * psi))
        product = hp[k, h + 4] * mu_t
        hp[k, h + 4] = product
        c_grad = (1.0 - mu_t) / (1.0 - product)
        c_moment = mu_next / (1.0 - product * mu_next)
        correction = 1.0 - math.pow(b2, t)
        for p in range(P):
            gp = g[p]
            m = b1 * state[sa, k, p] + (1.0 - b1) * gp
            s = b2 * state[sb, k, p] + (gp * gp) * (1.0 - b2)
            state[sa, k, p] = m
            state[sb, k, p] = s
            d = math.sqrt(s / correction) + eps
            g[p] = (c_grad * gp) / d + (c_moment * m) / d
    elif code == OP_RADAM:  # hp: b1, b2, eps
        b1, b2, eps = hp[k, h], hp[k, h + 1], hp[k, h + 2]
        inv1 = 1.0 / (1.0 - math.pow(b1, t))
        b2t = math.pow(b2, t)
        rho_inf = 2.0 / (1.0 - b2) - 1.0
        rho_t = rho_inf - 2.0 * t * b2t / (1.0 - b2t)
        rectify = rho_t > 5.0
        scale = 0.0
        if rectify:
            ratio = (rho_t - 4.0) * (rho_t - 2.0) * rho_inf
            ratio = ratio / ((rho_inf - 4.0) * (rho_inf - 2.0) * rho_t)
            scale = math.sqrt(ratio) * math.sqrt(1.0 - b2t)
        for p in range(P):
            gp = g[p]
            m = b1 * state[sa, k, p] + (1.0 - b1) * gp
            s = b2 * state[sb, k, p] + (gp * gp) * (1.0 - b2)
            state[sa, k, p] = m
            state[sb, k, p] = s
            u = inv1 * m
            g[p] = (u * scale) / (math.sqrt(s) + eps) if rectify else u
    elif code == OP_ADAMAX:  # hp: b1, b2, eps
        b1, b2, eps = hp[k, h], hp[k, h + 1], hp[k, h + 2]
        inv1 = 1.0 / (1.0 - math.pow(b1, t))
        for p in range(P):
            gp = g[p]
            m = b1 * state[sa, k, p] + (1.0 - b1) * gp
            decayed = b2 * state[sb, k, p]
            fresh = abs(gp) + eps
            w = decayed if not (decayed < fresh) else fresh  # np.maximum: NaN propagates
            if fresh != fresh:
                w = fresh
            state[sa, k, p] = m
            state[sb, k, p] = w
            g[p] = (inv1 * m) / w
    elif code == OP_ADADELTA:  # hp: rho, eps
        rho, eps = hp[k, h], hp[k, h + 1]
        for p in range(P):
            gp = g[p]
            s = rho * state[sa, k, p] + (gp * gp) * (1.0 - rho)
            a = state[sb, k, p]
            u = math.sqrt(a + eps) / math.sqrt(s + eps) * gp
            state[sa, k, p] = s
            state[sb, k, p] = rho * a + (u * u) * (1.0 - rho)
            g[p] = u
    elif code == OP_LION:  # hp: b1, b2
        b1, b2 = hp[k, h], hp[k, h + 1]
        for p in range(P):
            gp = g[p]
            m = state[sa, k, p]
            g[p] = _sign((1.0 - b1) * gp + b1 * m)
            state[sa, k, p] = b2 * m + (1.0 - b2) * gp
    elif code == OP_RPROP:  # hp: eta-, eta+, the bounds of the relative step sizes
        down, up, low, high = hp[k, h], hp[k, h + 1], hp[k, h + 2], hp[k, h + 3]
        for p in range(P):
            gp = g[p]
            turn = gp * state[sa, k, p]
            eta = up if turn > 0.0 else (down if turn < 0.0 else 1.0)
            r = state[sb, k, p] * eta
            r = r if not (r < low) else low  # np.clip: NaN stays NaN
            r = r if not (r > high) else high
            move = 0.0 if turn < 0.0 else gp
            state[sa, k, p] = move
            state[sb, k, p] = r
            g[p] = _sign(move) * r
    else:  # OP_SCHEDULE_FREE, hp: b1, power, weight sum, largest rate, fixed rate
        b1, power = hp[k, h], hp[k, h + 1]
        rate = hp[k, h + 4] if col < 0 else rates[step, col]
        top = hp[k, h + 3]
        top = rate if rate > top else top
        weight = math.pow(top, power)
        total = hp[k, h + 2] + weight
        ck = weight / total if total > 0.0 else 0.0
        hp[k, h + 2] = total
        hp[k, h + 3] = top
        for p in range(P):
            y = theta[k, p]
            z = state[sa, k, p]
            x = (y - (1.0 - b1) * z) / b1
            z = z + g[p]
            x = x * (1.0 - ck) + ck * z
            state[sa, k, p] = z
            g[p] = (b1 * x + (1.0 - b1) * z) - y


@njit(cache=True, error_model="numpy")
def _member_epoch(
    k, e, theta, dims, w_off, b_off, act, slope, out, X, Y, perms, order_of, bounds,
    state, counts, ops, n_ops, hp, rates, A, Z, G, H, grad, cost_out, last_out, blas, ibuf,
):  # fmt: skip
    """Member k's epoch e of the chunk: every mini-batch, then its mean and last cost."""
    fbuf = ibuf.view(np.float64)
    m = X.shape[1]
    perm = perms[min(e, perms.shape[0] - 1), order_of[k]]  # one row of (n_orders, m)
    total = 0.0
    cost = 0.0
    nb = bounds.shape[0] - 1
    for b in range(nb):
        start = bounds[b]
        B = bounds[b + 1] - start
        cost = _loss_and_grads(
            theta, k, dims, w_off, b_off, act, slope, out, X, Y, perm, start, B, A, Z, G, H,
            grad, blas, ibuf, fbuf,
        )  # fmt: skip
        _update(k, e * nb + b, theta, grad, state, counts, ops, n_ops, hp, rates)
        total += cost * B
    cost_out[e, k] = total / m
    last_out[e, k] = cost


@njit(cache=True, error_model="numpy")
def _stop_diverged(e, epoch0, theta, snapshot, cost_out, max_cost, stopped, diverged):
    """Freeze the members whose epoch cost is NaN, inf or above ``max_cost``; returns
    ``(every member stopped, some member stopped now)``."""
    K = theta.shape[0]
    live = 0
    newly = False
    for k in range(K):
        if stopped[k] < 0 and not (cost_out[e, k] <= max_cost):
            stopped[k] = epoch0 + e
            diverged[k] = True
            newly = True
            for p in range(theta.shape[1]):
                snapshot[k, p] = theta[k, p]
        if stopped[k] < 0:
            live += 1
    return live == 0, newly


@njit(cache=True, error_model="numpy")
def _evaluated_elsewhere(ops, n_ops):
    """Whether some member's program evaluates elsewhere than it trains (schedule-free): then
    a chunk ends after an epoch in which a member diverged, so that Python records that
    member's evaluation point of that epoch (``records.LoopBase.eval_snapshots``)."""
    for k in range(ops.shape[0]):
        for i in range(n_ops[k]):
            if ops[k, i, COL_CODE] == OP_SCHEDULE_FREE:
                return True
    return False


@njit(cache=True, error_model="numpy", nogil=True)
def run_serial(
    n_epochs, epoch0, theta, dims, w_off, b_off, act, slope, out, X, Y, perms, order_of,
    bounds, state, counts, ops, n_ops, hp, rates, A, Z, D, I, grad, cost_out, last_out, max_cost,
    stopped, diverged, snapshot, done,
):  # fmt: skip
    """Epochs ``epoch0 .. epoch0 + n_epochs - 1`` for every member, one after another.

    ``done[0]`` counts the finished epochs as they finish (read after a Ctrl-C); returns
    early after an epoch that leaves every member stopped, or in which a member diverged
    when a program evaluates elsewhere (:func:`_evaluated_elsewhere`).
    """
    elsewhere = _evaluated_elsewhere(ops, n_ops)
    for e in range(n_epochs):
        for k in range(theta.shape[0]):
            _member_epoch(
                k, e, theta, dims, w_off, b_off, act, slope, out, X, Y, perms, order_of,
                bounds, state, counts, ops, n_ops, hp, rates, A[0], Z[0], D[0, 0], D[0, 1], grad[0],
                cost_out,
                last_out, True, I[0],
            )  # fmt: skip
        finished, newly = _stop_diverged(
            e, epoch0, theta, snapshot, cost_out, max_cost, stopped, diverged
        )
        done[0] = e + 1
        if finished or (newly and elsewhere):
            return


@njit(cache=True, error_model="numpy", nogil=True, parallel=True)
def run_parallel(
    n_epochs, epoch0, theta, dims, w_off, b_off, act, slope, out, X, Y, perms, order_of,
    bounds, state, counts, ops, n_ops, hp, rates, A, Z, D, I, grad, cost_out, last_out, max_cost,
    stopped, diverged, snapshot, done,
):  # fmt: skip
    """:func:`run_serial` with the members split over ``A.shape[0]`` threads (static blocks)."""
    K = theta.shape[0]
    T = A.shape[0]
    elsewhere = _evaluated_elsewhere(ops, n_ops)
    for e in range(n_epochs):
        for t in prange(T):
            for k in range(t, K, T):
                _member_epoch(
                    k, e, theta, dims, w_off, b_off, act, slope, out, X, Y, perms, order_of,
                    bounds, state, counts, ops, n_ops, hp, rates, A[t], Z[t], D[t, 0], D[t, 1],
                    grad[t], cost_out,
                    last_out, False, I[t],
                )  # fmt: skip
        finished, newly = _stop_diverged(
            e, epoch0, theta, snapshot, cost_out, max_cost, stopped, diverged
        )
        done[0] = e + 1
        if finished or (newly and elsewhere):
            return


# ----------------------------------------------------------------------------- the seed's order
# NumPy's legacy RandomState, as batching.seed_order uses it: MT19937 seeded with one 32-bit
# int (its init_genrand), and permutation(m) = the legacy Fisher-Yates shuffle of arange(m)
# whose index for position i is a masked 32-bit draw, redrawn while it exceeds i.

_MT_N = 624
_MT_M = 397
_MASK32 = 0xFFFFFFFF


@njit(cache=True, error_model="numpy")
def _mt_seed(key, seed):
    s = seed & _MASK32
    for pos in range(_MT_N):
        key[pos] = s
        s = (1812433253 * (s ^ (s >> 30)) + pos + 1) & _MASK32


@njit(cache=True, error_model="numpy")
def _mt_twist(key):
    for i in range(_MT_N):
        nxt = i + 1 if i + 1 < _MT_N else 0
        far = i + _MT_M if i + _MT_M < _MT_N else i + _MT_M - _MT_N
        y = (key[i] & 0x80000000) | (key[nxt] & 0x7FFFFFFF)
        key[i] = key[far] ^ (y >> 1) ^ ((y & 1) * 0x9908B0DF)


@njit(cache=True, error_model="numpy", nogil=True)
def seed_orders(seeds, epoch0, n_epochs, m):
    """``out[e, r] = batching.seed_order(m, seeds[r] + epoch0 + e + 1)``, ``(n_epochs, R, m)``."""
    out = np.empty((n_epochs, seeds.shape[0], m), np.int64)
    key = np.empty(_MT_N, np.int64)
    for e in range(n_epochs):
        for r in range(seeds.shape[0]):
            _mt_seed(key, seeds[r] + epoch0 + e + 1)
            pos = _MT_N
            perm = out[e, r]
            for i in range(m):
                perm[i] = i
            for i in range(m - 1, 0, -1):
                mask = i
                mask |= mask >> 1
                mask |= mask >> 2
                mask |= mask >> 4
                mask |= mask >> 8
                mask |= mask >> 16
                while True:  # a tempered MT19937 output, masked; redrawn while > i
                    if pos == _MT_N:
                        _mt_twist(key)
                        pos = 0
                    y = key[pos]
                    pos += 1
                    y ^= y >> 11
                    y ^= (y << 7) & 0x9D2C5680
                    y ^= (y << 15) & 0xEFC60000
                    y ^= y >> 18
                    j = y & mask
                    if j <= i:
                        break
                tmp = perm[i]
                perm[i] = perm[j]
                perm[j] = tmp
    return out

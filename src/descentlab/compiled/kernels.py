"""The compiled loops: whole epochs of mini-batch training for K networks, in numba.

Nothing here checks anything: :mod:`descentlab.compiled.loop` builds every array from checked
inputs (:mod:`descentlab.compiled.program` turns the optimizer into the opcode table). The
math is :meth:`descentlab.nn.MLP.loss_and_grads` followed by the optimizer's transforms, in the
same order of operations as the NumPy engine where the order changes the result (no
``fastmath``: every sum is rounded as written); sums over the batch use four partial sums, as
BLAS and NumPy's pairwise sums also do in their own orders.

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
    COL_A,
    COL_B,
    COL_C,
    COL_CODE,
    COL_FLAG1,
    COL_FLAG2,
    COL_HP,
    COL_RATE,
    OP_ADAGRAD,
    OP_ADAM,
    OP_CLIP,
    OP_DECAY,
    OP_EMA,
    OP_LEARNING_RATE,
    OP_RMS,
    OP_TRACE,
    OUT_SIGMOID,
)

_COUNT_MAX = np.iinfo(np.int64).max


@njit(cache=True, error_model="numpy", inline="always")
def _sigmoid(z):
    return 1.0 / (1.0 + math.exp(-z))


@njit(cache=True, error_model="numpy", inline="always")
def _softplus(z):
    """logaddexp(0, z) as NumPy computes it: max + log1p(exp(-|difference|))."""
    if z == 0.0:
        return z + math.log(2.0)
    if z > 0.0:
        return z + math.log1p(math.exp(-z))
    if z <= 0.0:
        return math.log1p(math.exp(z))
    return z  # NaN


@njit(cache=True, error_model="numpy", inline="always")
def _sigmoid_cost(z, y):
    """(1 - y) softplus(z) + y softplus(-z), one softplus when y is 0 or 1 and z is finite
    (the other term is then exactly 0)."""
    if z - z == 0.0:
        if y == 0.0:
            return _softplus(z)
        if y == 1.0:
            return _softplus(-z)
    return (1.0 - y) * _softplus(z) + y * _softplus(-z)


@njit(cache=True, error_model="numpy", inline="always")
def _dot4(x, i, y, q, n):
    """sum_j x[i, j] * y[q, j] over j < n, with four partial sums (latency hidden, order
    fixed). Rows are read in place: a row view would cost two atomic reference counts."""
    a0 = 0.0
    a1 = 0.0
    a2 = 0.0
    a3 = 0.0
    j = 0
    while j + 4 <= n:
        a0 += x[i, j] * y[q, j]
        a1 += x[i, j + 1] * y[q, j + 1]
        a2 += x[i, j + 2] * y[q, j + 2]
        a3 += x[i, j + 3] * y[q, j + 3]
        j += 4
    while j < n:
        a0 += x[i, j] * y[q, j]
        j += 1
    return (a0 + a1) + (a2 + a3)


@njit(cache=True, error_model="numpy", inline="always")
def _sum4(x, i, n):
    """sum_j x[i, j] over j < n, with four partial sums."""
    a0 = 0.0
    a1 = 0.0
    a2 = 0.0
    a3 = 0.0
    j = 0
    while j + 4 <= n:
        a0 += x[i, j]
        a1 += x[i, j + 1]
        a2 += x[i, j + 2]
        a3 += x[i, j + 3]
        j += 4
    while j < n:
        a0 += x[i, j]
        j += 1
    return (a0 + a1) + (a2 + a3)


BLAS_MIN = 32768
"""A product of at least this many multiply-adds goes to BLAS (``np.dot``; SciPy's BLAS,
multi-threaded) in the serial kernel; smaller ones run as loops over the batch in SIMD."""


@njit(cache=True, error_model="numpy", inline="always")
def _rows(buf, n, B):
    """The first ``n * B`` numbers of a flat buffer as a C-contiguous ``(n, B)`` array."""
    return buf[: n * B].reshape((n, B))


@njit(cache=True, error_model="numpy", inline="always")
def _loss_and_grads(
    theta, dims, w_off, b_off, act, slope, out, X, Y, perm, start, B, A, Z, D, grad, blas
):
    """One mini-batch of ``B`` examples ``perm[start : start + B]``: gather, forward, cost,
    backward. Returns the mean cost J; ``grad`` receives dJ/dtheta in ``theta``'s layout.

    This thread's buffers, flat per layer and read as ``(n_l, B)``: ``A[l]`` and ``Z[l]``
    are layer l's activations and pre-activations (``A[0]`` the batch), ``D[0]`` is dZ and
    ``D[1]`` dA of the layer at hand. ``blas``: products of :data:`BLAS_MIN` multiply-adds
    or more go to ``np.dot``.
    """
    L = dims.shape[0] - 1
    a0 = _rows(A[0], dims[0], B)
    for f in range(dims[0]):  # gather: A_0[f, j] = X[f, perm[start + j]]
        for j in range(B):
            a0[f, j] = X[f, perm[start + j]]
    for l in range(1, L + 1):  # forward: Z_l = W_l @ A_{l-1} + b_l
        n, n_prev = dims[l], dims[l - 1]
        W = theta[w_off[l - 1] : w_off[l - 1] + n * n_prev].reshape((n, n_prev))
        z, a_prev = _rows(Z[l], n, B), _rows(A[l - 1], n_prev, B)
        if blas and n * n_prev * B >= BLAS_MIN:
            np.dot(W, a_prev, z)
        else:
            _product(W, a_prev, z, n, n_prev, B)
        a = _rows(A[l], n, B)
        for i in range(n):
            _bias_activate(z, a, i, theta[b_off[l - 1] + i], B, act if l < L else -1, slope)
    nL = dims[L]
    zL, aL, dz = _rows(Z[L], nL, B), _rows(A[L], nL, B), _rows(D[0], nL, B)
    _output(zL, aL, dz, nL, B, out)
    total = 0.0  # the cost, and dZ_L = (A_L - Y) / B
    for i in range(nL):
        for j in range(B):
            y = Y[i, perm[start + j]]
            if out == OUT_SIGMOID:
                total += _sigmoid_cost(zL[i, j], y)
            else:
                total += -y * dz[i, j]  # the log-softmax, left there by _output
            dz[i, j] = (aL[i, j] - y) / B
    for l in range(L, 0, -1):  # backward
        n, n_prev = dims[l], dims[l - 1]
        W = theta[w_off[l - 1] : w_off[l - 1] + n * n_prev].reshape((n, n_prev))
        dW = grad[w_off[l - 1] : w_off[l - 1] + n * n_prev].reshape((n, n_prev))
        dz, a_prev = _rows(D[0], n, B), _rows(A[l - 1], n_prev, B)
        big = blas and n * n_prev * B >= BLAS_MIN
        if big:
            np.dot(dz, a_prev.T, dW)
        for i in range(n):
            if not big:
                for q in range(n_prev):
                    dW[i, q] = _dot4(dz, i, a_prev, q, B)
            grad[b_off[l - 1] + i] = _sum4(dz, i, B)
        if l > 1:
            # dA_{l-1} = W_l.T @ dZ_l, then dZ_{l-1} = dA_{l-1} * g'(Z_{l-1}) (in place of dZ)
            da = _rows(D[1], n_prev, B)
            if big:
                np.dot(W.T, dz, da)
            else:
                _product(W.T, dz, da, n_prev, n, B)
            z_prev, dz_prev = _rows(Z[l - 1], n_prev, B), _rows(D[0], n_prev, B)
            for q in range(n_prev):
                _derive(z_prev, a_prev, da, dz_prev, q, B, act, slope)
    return total / B


@njit(cache=True, error_model="numpy", inline="always")
def _product(W, A, out, n, n_in, B):
    """out = W @ A as loops over the batch (SIMD), each sum in order over the inputs
    ``((w_0 a_0 + w_1 a_1) + w_2 a_2) + ...``, four inputs per pass over a row."""
    for i in range(n):
        for j in range(B):
            out[i, j] = 0.0
        q = 0
        while q + 4 <= n_in:
            w0, w1, w2, w3 = W[i, q], W[i, q + 1], W[i, q + 2], W[i, q + 3]
            for j in range(B):
                out[i, j] = (
                    ((out[i, j] + w0 * A[q, j]) + w1 * A[q + 1, j]) + w2 * A[q + 2, j]
                ) + w3 * A[q + 3, j]
            q += 4
        while q + 2 <= n_in:
            w0, w1 = W[i, q], W[i, q + 1]
            for j in range(B):
                out[i, j] = (out[i, j] + w0 * A[q, j]) + w1 * A[q + 1, j]
            q += 2
        if q < n_in:
            w0 = W[i, q]
            for j in range(B):
                out[i, j] += w0 * A[q, j]


@njit(cache=True, error_model="numpy", inline="always")
def _bias_activate(z, a, i, bias, B, act, slope):
    """Row i: z += bias, then a = g(z) (``act`` -1: the output layer, z only), one loop each
    activation (the branch outside the loop, so it vectorises)."""
    if act == ACT_RELU:
        for j in range(B):
            v = z[i, j] + bias
            z[i, j] = v
            a[i, j] = v if not (v < 0.0) else 0.0  # np.maximum(v, 0): NaN stays NaN
    elif act == ACT_TANH:
        for j in range(B):
            v = z[i, j] + bias
            z[i, j] = v
            a[i, j] = math.tanh(v)
    elif act == ACT_LEAKY:
        for j in range(B):
            v = z[i, j] + bias
            z[i, j] = v
            a[i, j] = max(v, slope * v) if v == v else v
    elif act == ACT_SIGMOID:
        for j in range(B):
            v = z[i, j] + bias
            z[i, j] = v
            a[i, j] = _sigmoid(v)
    else:
        for j in range(B):
            z[i, j] += bias


@njit(cache=True, error_model="numpy", inline="always")
def _derive(z, a, da, dz, q, B, act, slope):
    """Row q: dz = da * g'(z) (g' from z and a = g(z); ReLU's g'(0) = 0, as nn.py)."""
    if act == ACT_RELU:
        for j in range(B):
            dz[q, j] = da[q, j] * (1.0 if z[q, j] > 0.0 else 0.0)
    elif act == ACT_TANH:
        for j in range(B):
            dz[q, j] = da[q, j] * (1.0 - a[q, j] * a[q, j])
    elif act == ACT_LEAKY:
        for j in range(B):
            dz[q, j] = da[q, j] * (1.0 if z[q, j] > 0.0 else slope)
    else:
        for j in range(B):
            dz[q, j] = da[q, j] * (a[q, j] * (1.0 - a[q, j]))


@njit(cache=True, error_model="numpy", inline="always")
def _output(Z, A, logs, n, B, out):
    """A_L from Z_L: sigmoid, or softmax over the units (its log kept in ``logs``)."""
    if out == OUT_SIGMOID:
        for i in range(n):
            for j in range(B):
                A[i, j] = _sigmoid(Z[i, j])
        return
    # log_softmax = (z - max) - log(sum(exp(z - max))), A = exp(log_softmax), as nn.py
    for j in range(B):
        top = Z[0, j]
        for i in range(1, n):
            v = Z[i, j]
            if v > top or v != v:
                top = v
        s = 0.0
        for i in range(n):
            s += math.exp(Z[i, j] - top)
        ls = math.log(s)
        for i in range(n):
            lsm = (Z[i, j] - top) - ls
            logs[i, j] = lsm
            A[i, j] = math.exp(lsm)


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
    for p in range(P):
        theta[k, p] += g[p]


@njit(cache=True, error_model="numpy")
def _member_epoch(
    k, e, theta, dims, w_off, b_off, act, slope, out, X, Y, perms, order_of, bounds,
    state, counts, ops, n_ops, hp, rates, A, Z, D, grad, cost_out, last_out, blas,
):  # fmt: skip
    """Member k's epoch e of the chunk: every mini-batch, then its mean and last cost."""
    m = X.shape[1]
    perm = perms[min(e, perms.shape[0] - 1), order_of[k]]  # one row of (n_orders, m)
    total = 0.0
    cost = 0.0
    nb = bounds.shape[0] - 1
    for b in range(nb):
        start = bounds[b]
        B = bounds[b + 1] - start
        cost = _loss_and_grads(
            theta[k],
            dims,
            w_off,
            b_off,
            act,
            slope,
            out,
            X,
            Y,
            perm,
            start,
            B,
            A,
            Z,
            D,
            grad,
            blas,
        )
        _update(k, e * nb + b, theta, grad, state, counts, ops, n_ops, hp, rates)
        total += cost * B
    cost_out[e, k] = total / m
    last_out[e, k] = cost


@njit(cache=True, error_model="numpy")
def _stop_diverged(e, epoch0, theta, snapshot, cost_out, max_cost, stopped, diverged):
    """Freeze the members whose epoch cost is NaN, inf or above ``max_cost``; all stopped?"""
    K = theta.shape[0]
    live = 0
    for k in range(K):
        if stopped[k] < 0 and not (cost_out[e, k] <= max_cost):
            stopped[k] = epoch0 + e
            diverged[k] = True
            for p in range(theta.shape[1]):
                snapshot[k, p] = theta[k, p]
        if stopped[k] < 0:
            live += 1
    return live == 0


@njit(cache=True, error_model="numpy")
def run_serial(
    n_epochs, epoch0, theta, dims, w_off, b_off, act, slope, out, X, Y, perms, order_of,
    bounds, state, counts, ops, n_ops, hp, rates, A, Z, D, grad, cost_out, last_out, max_cost,
    stopped, diverged, snapshot, done,
):  # fmt: skip
    """Epochs ``epoch0 .. epoch0 + n_epochs - 1`` for every member, one after another.

    ``done[0]`` counts the finished epochs as they finish (read after a Ctrl-C); returns
    early after an epoch that leaves every member stopped.
    """
    for e in range(n_epochs):
        for k in range(theta.shape[0]):
            _member_epoch(
                k, e, theta, dims, w_off, b_off, act, slope, out, X, Y, perms, order_of,
                bounds, state, counts, ops, n_ops, hp, rates, A[0], Z[0], D[0], grad[0], cost_out,
                last_out, True,
            )  # fmt: skip
        finished = _stop_diverged(e, epoch0, theta, snapshot, cost_out, max_cost, stopped, diverged)
        done[0] = e + 1
        if finished:
            return


@njit(cache=True, error_model="numpy", parallel=True)
def run_parallel(
    n_epochs, epoch0, theta, dims, w_off, b_off, act, slope, out, X, Y, perms, order_of,
    bounds, state, counts, ops, n_ops, hp, rates, A, Z, D, grad, cost_out, last_out, max_cost,
    stopped, diverged, snapshot, done,
):  # fmt: skip
    """:func:`run_serial` with the members split over ``A.shape[0]`` threads (static blocks)."""
    K = theta.shape[0]
    T = A.shape[0]
    for e in range(n_epochs):
        for t in prange(T):
            for k in range(t, K, T):
                _member_epoch(
                    k, e, theta, dims, w_off, b_off, act, slope, out, X, Y, perms, order_of,
                    bounds, state, counts, ops, n_ops, hp, rates, A[t], Z[t], D[t], grad[t], cost_out,
                    last_out, False,
                )  # fmt: skip
        finished = _stop_diverged(e, epoch0, theta, snapshot, cost_out, max_cost, stopped, diverged)
        done[0] = e + 1
        if finished:
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


@njit(cache=True, error_model="numpy")
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

"""Training diagnostics (descentlab.diagnostics): sharpness, HVP, noise scale, gradient norm,
update ratio, their hook in train(), history.csv, the CLI and the report."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from descentlab import diagnostics as dg
from descentlab._validation import DataError, InvalidParameterError
from descentlab.cli import main
from descentlab.datasets import load_moons
from descentlab.experiments.run_folder import (
    HISTORY_COLUMNS,
    history_diagnostics,
    read_history_csv,
    write_history_csv,
)
from descentlab.nn import MLP
from descentlab.optimizers import adam, gd, momentum
from descentlab.records import FlatParams
from descentlab.training import train

NETS = [
    (activation, dims, loss)
    for activation in ("tanh", "relu", "sigmoid", "leaky_relu")
    for dims, loss in (
        ((2, 4, 3, 1), "cross_entropy"),
        ((2, 4, 3, 3), "cross_entropy"),
        ((2, 4, 3, 2), "mse"),
    )
]


def small_problem(activation: str, dims: tuple, loss: str, seed: int = 0):
    """A small network at its init on 50 random points: (net, flat theta, X, Y)."""
    rng = np.random.default_rng(seed)
    net = MLP(dims, activation=activation, loss=loss)
    X = rng.standard_normal((2, 50))
    labels = (X[0] * X[1] > 0).astype(int)
    if dims[-1] > 2:  # a third class
        labels += X[0] > 1
    Y = net.targets(labels)
    flat = FlatParams(net.shapes(), None)
    flat.load(net.init(seed=seed))
    return net, flat.flat.copy(), X, Y


def flat_of(net: MLP, params: dict) -> np.ndarray:
    flat = FlatParams(net.shapes(), None)
    flat.load(params)
    return flat.flat.copy()


# ----------------------------------------------------------------------------- the math


@pytest.mark.parametrize(("activation", "dims", "loss"), NETS)
def test_sharpness_equals_the_dense_hessians_top_eigenvalue(activation, dims, loss):
    net, theta, X, Y = small_problem(activation, dims, loss)
    H = dg.dense_hessian(net, theta, X, Y)
    top = np.linalg.eigvalsh(H)[-1]
    lam, v = dg.sharpness(net, theta, X, Y, iters=2000, tol=1e-12)
    assert lam == pytest.approx(top, rel=1e-6)
    assert v @ H @ v == pytest.approx(top, rel=1e-6)


@pytest.mark.parametrize(("activation", "dims", "loss"), NETS)
def test_hvp_equals_central_differences_of_the_gradient(activation, dims, loss):
    net, theta, X, Y = small_problem(activation, dims, loss, seed=1)
    v = np.random.default_rng(2).standard_normal(theta.shape)
    h = 1e-5
    fd = (
        dg.full_gradient(net, theta + h * v, X, Y) - dg.full_gradient(net, theta - h * v, X, Y)
    ) / (2 * h)
    np.testing.assert_allclose(dg.hvp(net, theta, v, X, Y), fd, atol=1e-7 * np.abs(fd).max())


def test_sharpness_finds_the_top_eigenvalue_when_a_negative_one_dominates(monkeypatch):
    """Power iteration finds -5 first; the shifted pass finds the top eigenvalue, 2."""
    Q, _ = np.linalg.qr(np.random.default_rng(0).standard_normal((3, 3)))
    A = Q @ np.diag([-5.0, 1.0, 2.0]) @ Q.T
    monkeypatch.setattr(dg, "hvp", lambda net, theta, v, X, Y: v @ A)
    lam, v = dg.sharpness(None, np.zeros(3), None, None, iters=3000, tol=1e-14)
    assert lam == pytest.approx(2.0, rel=1e-9)
    assert abs(v @ Q[:, 2]) == pytest.approx(1.0, rel=1e-6)


def test_population_sharpness_equals_each_members():
    net, theta, X, Y = small_problem("tanh", (2, 4, 3, 3), "cross_entropy")
    _, theta2, _, _ = small_problem("tanh", (2, 4, 3, 3), "cross_entropy", seed=5)
    both, _ = dg.sharpness(net, np.stack([theta, theta2]), X, Y, iters=2000, tol=1e-12)
    for k, th in enumerate((theta, theta2)):
        assert both[k] == pytest.approx(np.linalg.eigvalsh(dg.dense_hessian(net, th, X, Y))[-1])


def test_full_gradient_in_blocks_equals_one_pass(monkeypatch):
    net, theta, X, Y = small_problem("relu", (2, 4, 3, 3), "cross_entropy")
    whole, Hv = dg.full_gradient(net, theta, X, Y), dg.hvp(net, theta, theta, X, Y)
    monkeypatch.setattr(dg, "BLOCK", 7)  # 50 examples in blocks of 7
    np.testing.assert_allclose(dg.full_gradient(net, theta, X, Y), whole, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(dg.hvp(net, theta, theta, X, Y), Hv, rtol=1e-12, atol=1e-15)


def linear_regression(m: int = 6, seed: int = 0):
    """A linear model y = w.x + b (MLP (3, 1), MSE) at a point that is not the optimum, with
    its per-example gradients: (net, theta, X, Y, per-example gradients (m, P))."""
    rng = np.random.default_rng(seed)
    net = MLP((3, 1), loss="mse")
    X = rng.standard_normal((3, m))
    Y = net.targets(rng.standard_normal(m))
    theta = rng.standard_normal(4)
    per_example = np.stack([dg.full_gradient(net, theta, X[:, [i]], Y[:, [i]]) for i in range(m)])
    return net, theta, X, Y, per_example


def test_noise_scale_estimator_recovers_the_known_G_and_trace_sigma():
    net, theta, X, Y, g = linear_regression()
    G = g.mean(axis=0)
    trace = ((g - G) ** 2).sum(axis=1).mean()  # tr(Sigma), Sigma the per-example covariance
    # E |G_B|^2 over every ordered batch of B = 2 examples drawn with replacement (m^2 of them)
    pairs = [g[list(p)].mean(axis=0) for p in itertools.product(range(len(g)), repeat=2)]
    g2_two = np.mean([p @ p for p in pairs])
    assert g2_two == pytest.approx(G @ G + trace / 2, rel=1e-12)  # McCandlish et al. (A.1)
    g2_four = G @ G + trace / 4
    G2, tr, B = dg.noise_scale_from_norms(g2_two, 2, g2_four, 4)
    assert (G2, tr, B) == pytest.approx((G @ G, trace, trace / (G @ G)), rel=1e-12)
    G2, tr, B = dg.noise_scale_from_norms(g2_two, 2, G @ G, np.inf)  # the exact gradient
    assert (G2, tr, B) == pytest.approx((G @ G, trace, trace / (G @ G)), rel=1e-12)
    # the Monte Carlo estimate of E |G_B|^2 from random batches: 20000 draws of B = 2
    _, tr_mc, B_mc = dg.gradient_noise_scale(
        net, theta, X, Y, 2, np.random.default_rng(1), draws=20000
    )
    assert tr_mc == pytest.approx(trace, rel=0.03)
    assert B_mc == pytest.approx(trace / (G @ G), rel=0.03)


# ----------------------------------------------------------------------------- train(diagnostics=True)


@pytest.fixture(scope="module")
def moons():
    ds = load_moons()
    return ds.X, ds.y


def test_grad_norm_is_the_norm_of_the_full_batch_gradient(moons):
    X, y = moons
    net = MLP((2, 5, 2, 1))
    r = train(net, gd(0.3), X, y, epochs=7, batch_size=64, seed=1, eval_every=3,
              engine="numpy", diagnostics=True)  # fmt: skip
    _, grads = net.loss_and_grads(r.params, X, net.targets(y))
    expected = np.sqrt(sum((g**2).sum() for g in grads.values()))
    assert r.history.eval_epochs.tolist() == [0, 2, 5, 6]
    assert r.history.diagnostics["grad_norm"].shape == (4,)
    assert r.history.diagnostics["grad_norm"][-1] == pytest.approx(expected, rel=1e-12)


def test_update_ratio_equals_its_formula_on_a_two_step_run(moons):
    X, y = moons
    net = MLP((2, 3, 1))
    lr = 0.5
    p0 = net.init(seed=4)
    r = train(net, gd(lr), X, y, epochs=2, batch_size=300, params=p0, shuffle="none",
              eval_every=1, engine="numpy", diagnostics=True)  # fmt: skip
    thetas = [flat_of(net, p0)]
    params = p0
    for _ in range(2):  # two full-batch steps by hand
        _, g = net.loss_and_grads(params, X, net.targets(y))
        params = {k: params[k] - lr * g[k] for k in params}
        thetas.append(flat_of(net, params))
    layers = [slice(0, 9), slice(9, 13)]  # W1 (3, 2), b1 (3, 1); W2 (1, 3), b2 (1, 1)
    for epoch in (0, 1):
        start, end = thetas[epoch], thetas[epoch + 1]
        for l, s in enumerate(layers, start=1):
            expected = np.linalg.norm(end[s] - start[s]) / np.linalg.norm(end[s])
            assert r.history.diagnostics[f"update_ratio_{l}"][epoch] == pytest.approx(
                expected, rel=1e-12
            )


@pytest.mark.parametrize("engine", ["numpy", "compiled"])
@pytest.mark.parametrize("make", [lambda: gd(0.5), lambda: adam(0.01), lambda: momentum(0.1)])
def test_diagnostics_do_not_change_training(moons, engine, make):
    X, y = moons
    net = MLP((2, 5, 2, 1))
    kw = dict(epochs=12, batch_size=64, seed=[1, 2], eval_every=5, engine=engine)
    plain = train(net, make(), X, y, **kw)
    seen = train(net, make(), X, y, **kw, diagnostics=True)
    assert seen.engine == engine
    for k in plain.params:
        np.testing.assert_array_equal(plain.params[k], seen.params[k])
    np.testing.assert_array_equal(plain.history.cost, seen.history.cost)
    assert plain.history.diagnostics == {}
    assert seen.history.diagnostics["sharpness"].shape == (4, 2)


def test_engines_measure_the_same_diagnostics(moons):
    """The compiled engine runs chunks of epochs: the update ratio is still over one epoch."""
    X, y = moons
    net = MLP((2, 5, 2, 1))
    kw = dict(epochs=20, batch_size=64, seed=[1, 2], eval_every=6, diagnostics=True)
    a = train(net, adam(0.01), X, y, engine="numpy", **kw).history.diagnostics
    b = train(net, adam(0.01), X, y, engine="compiled", **kw).history.diagnostics
    assert set(a) == set(b)
    for key in a:
        np.testing.assert_allclose(a[key], b[key], rtol=1e-7, err_msg=key)


def test_population_diagnostics_equal_separate_runs(moons):
    X, y = moons
    net = MLP((2, 5, 2, 1))
    lrs = np.array([0.2, 0.05])
    kw = dict(epochs=9, batch_size=100, eval_every=4, engine="numpy", diagnostics=True)
    both = train(net, adam(lrs), X, y, seed=[3, 4], **kw)
    for k, (lr, seed) in enumerate(zip(lrs, [3, 4], strict=True)):
        alone = train(net, adam(float(lr)), X, y, seed=seed, **kw).history.diagnostics
        member = both.member(k).history.diagnostics
        for key, values in alone.items():
            rtol = 1e-3 if "sharpness" in key else 1e-9  # power iteration stops at 1e-4
            np.testing.assert_allclose(member[key], values, rtol=rtol, err_msg=key)


def test_adam_preconditioned_sharpness_matches_the_dense_hessian(moons):
    X, y = moons
    net = MLP((2, 3, 1), activation="tanh")
    r = train(net, adam(0.05, b1=0.8), X, y, epochs=4, batch_size=300, seed=2, eval_every=1,
              engine="numpy", diagnostics=True)  # fmt: skip
    d = r.history.diagnostics
    theta = flat_of(net, r.params)
    P, b1 = dg.adam_preconditioner(adam(0.05, b1=0.8), r.opt_state)
    assert b1 == pytest.approx(0.8)
    # Cohen et al. 2022: P = (1 - b1^t) diag(sqrt(s_hat) + eps), t = 4 steps
    s = r.opt_state[1].nu["theta"]
    np.testing.assert_allclose(P, (1 - 0.8**4) * (np.sqrt(s / (1 - 0.999**4)) + 1e-8))
    H = dg.dense_hessian(net, theta, X, net.targets(y))
    top = np.linalg.eigvalsh(H / np.sqrt(np.outer(P, P)))[-1]
    assert d["precond_sharpness"][-1] == pytest.approx(top, rel=1e-3)
    assert d["precond_threshold"][-1] == pytest.approx((2 + 2 * 0.8) / (0.2 * 0.05))
    assert d["sharpness_threshold"][-1] == pytest.approx(2 / 0.05)
    assert d["sharpness"][-1] == pytest.approx(np.linalg.eigvalsh(H)[-1], rel=1e-3)


def test_edge_of_stability_on_the_seed_problem(moons):
    """Full-batch gd at lr 0.6 (2/lr = 3.33) from the seed's initialisation: the sharpness
    starts at 0.31, rises (progressive sharpening) and then hovers just under 2/lr. Measured:
    max 0.963 x 2/lr, median of the last half 0.85 x 2/lr."""
    X, y = moons
    lr = 0.6
    r = train(MLP((2, 5, 2, 1)), gd(lr), X, y, epochs=1000, batch_size=300, seed=3, init="seed",
              eval_every=10, engine="numpy", diagnostics=True)  # fmt: skip
    s = r.history.diagnostics["sharpness"] / (2 / lr)
    assert s[0] < 0.2
    assert 0.5 <= s.max() <= 1.5
    assert 0.5 <= np.median(s[len(s) // 2 :]) <= 1.5


def test_train_refuses_bad_diagnostics_settings(moons, tmp_path):
    X, y = moons
    net = MLP((2, 3, 1))
    with pytest.raises(InvalidParameterError, match="'diagnostics' parameter of train"):
        train(net, gd(0.1), X, y, epochs=1, diagnostics="yes")
    with pytest.raises(InvalidParameterError, match="cannot be checkpointed"):
        train(net, gd(0.1), X, y, epochs=1, diagnostics=True, checkpoint=tmp_path / "c.npz")
    assert not list(tmp_path.iterdir())


# ----------------------------------------------------------------------------- files, CLI, report


def test_history_csv_keeps_the_diagnostics_and_reads_old_files(moons, tmp_path):
    X, y = moons
    r = train(MLP((2, 3, 1)), gd(0.1), X, y, epochs=5, eval_every=2, seed=0, diagnostics=True)
    plain = train(MLP((2, 3, 1)), gd(0.1), X, y, epochs=5, eval_every=2, seed=0)
    write_history_csv(tmp_path / "h.csv", [("a", r.history), ("b", plain.history)])
    cols = read_history_csv(tmp_path / "h.csv")
    assert cols["a"]["diag_sharpness"][[0, 1, 3, 4]] == pytest.approx(
        r.history.diagnostics["sharpness"], rel=1e-15
    )
    assert np.isnan(cols["a"]["diag_sharpness"][2]) and np.isnan(cols["b"]["diag_sharpness"]).all()
    found = history_diagnostics(cols)
    assert list(found) == ["a"] and found["a"]["epoch"].tolist() == [0, 1, 3, 4]
    write_history_csv(tmp_path / "old.csv", [("b", plain.history)])
    assert open(tmp_path / "old.csv").readline().strip() == ",".join(HISTORY_COLUMNS)
    assert history_diagnostics(read_history_csv(tmp_path / "old.csv")) == {}
    bad = tmp_path / "bad.csv"
    bad.write_text(",".join([*HISTORY_COLUMNS, "extra"]) + "\n")
    with pytest.raises(DataError, match="not a descentlab history"):
        read_history_csv(bad)


def test_cli_compare_diagnostics_writes_the_columns_and_the_report(capsys, tmp_path):
    out = tmp_path / "run"
    rc = main(["compare", "--optimizers", "gd,adam:lr=0.01", "--lr", "0.5", "--epochs", "6",
               "--eval-every", "2", "--diagnostics", "--quiet", "--out", str(out)])  # fmt: skip
    capsys.readouterr()
    assert rc == 0
    cols = read_history_csv(out / "history.csv")
    assert np.isfinite(cols["gd"]["diag_sharpness"][[0, 1, 3, 5]]).all()
    assert cols["gd"]["diag_sharpness_threshold"][0] == pytest.approx(2 / 0.5)
    assert np.isnan(cols["gd"]["diag_precond_sharpness"]).all()
    assert cols["adam:lr=0.01"]["diag_precond_threshold"][0] == pytest.approx(3.8 / 0.1 / 0.01)
    assert (out / "diagnostics.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    page = (out / "report.html").read_text()
    assert "<h2>Training diagnostics</h2>" in page and page.count("data:image/png") == 3
    assert main(["report", str(out)]) == 0  # rebuilt from the saved files, the plot kept
    assert "<h2>Training diagnostics</h2>" in (out / "report.html").read_text()


def test_cli_train_diagnostics_prints_and_refuses_checkpoints(capsys, tmp_path):
    rc = main(["train", "--optimizer", "gd", "--epochs", "4", "--eval-every", "2",
               "--diagnostics", "--out", str(tmp_path / "m.npz")])  # fmt: skip
    out, _ = capsys.readouterr()
    assert rc == 0
    assert "sharpness" in out and "noise scale" in out
    assert np.isfinite(read_history_csv(tmp_path / "m.history.csv")["gd"]["diag_grad_norm"][0])
    rc = main(["train", "--diagnostics", "--checkpoint-every", "2", "--out", str(tmp_path / "r")])
    _, err = capsys.readouterr()
    assert rc == 2 and "--diagnostics cannot be used with --checkpoint-every" in err
    assert len(err.strip().splitlines()) == 1 and not (tmp_path / "r").exists()

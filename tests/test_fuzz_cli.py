"""Every command-line entry point against hostile input: random bytes, random CSV / TOML / NPZ /
JSON files, and random option values.

The contract, for every input: the exit status is 0 (done) or 2 (refused), nothing is printed
as a traceback, and a refused command leaves the disk exactly as it found it (no folder, no
file, no temporary file, nothing changed). The commands run in-process on tiny workloads; a
safety alarm fails the test if any input makes a command run for long.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import string
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
import tomli_w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from descentlab.cli import main

SETTINGS = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
SECONDS_PER_CALL = 30

HOSTILE = [
    "", " ", "0", "-1", "1", "2", "0.5", "-0", "1e21", "1000000000000000000000", "inf", "-inf",
    "nan", "NaN", "1e308", "-1e308", "1e-320", "4294967296", "-4294967297", "2**32", "0x10",
    "1_000", "²", "٣", "１", "\x00", "abc", "a" * 5000, "[", "]", ",", ":", "=", "..", "1..",
    "..1", "1..1e308", "💥", "../x", "/dev/zero", "\n", "None", "true", "-", "moons",
    "moons:n_samples=100000000000", "moons:noise=inf", "gd:lr=inf", "adam:lr=1e308",
    "adam:b1=1", "gd,gd", "lr=1..1e9:100000000", "b1=0.1,0.2", "exponential:gamma=1e308",
    "inverse_time:decay_rate=-1", "1000000000000", "numpy", "AUTO", "compiled ",
    "seed-moons", "SEED_MOONS", "breast-cancer,digits", "noisy-quadratic",
]  # fmt: skip
"""Values that break naive parsers: non-numbers, non-finite and absurd numbers, Unicode digits,
separators alone, huge strings, paths that are not files, specs with hostile settings."""

values = st.one_of(st.sampled_from(HOSTILE), st.text(max_size=30))


@contextlib.contextmanager
def _alarm(seconds: int) -> Iterator[None]:
    def fire(signum: int, frame: object) -> None:
        raise TimeoutError(f"a fuzzed command ran for more than {seconds} s")

    previous = signal.signal(signal.SIGALRM, fire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def _snapshot(root: Path) -> dict[str, tuple[int, int]]:
    """Every path under ``root`` with its size and modification time (ns)."""
    out = {}
    for path in sorted(root.rglob("*")):
        stat = path.stat()
        out[str(path.relative_to(root))] = (stat.st_size, stat.st_mtime_ns)
    return out


def run_hostile(root: Path, argv: list[str]) -> tuple[int, str, str]:
    """Run ``descentlab argv`` in ``root``; assert the contract; return (status, out, err)."""
    before = _snapshot(root)
    out, err = io.StringIO(), io.StringIO()
    cwd = os.getcwd()
    os.chdir(root)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            with _alarm(SECONDS_PER_CALL):
                status = main(argv)
    finally:
        os.chdir(cwd)
    text = err.getvalue()
    shown = f"argv={argv!r}\nstderr={text[-2000:]!r}"
    assert status in (0, 2), shown
    assert "Traceback" not in text and "Traceback" not in out.getvalue(), shown
    if status == 2:
        lines = [line for line in text.splitlines() if line.strip()]
        assert lines and lines[-1].startswith(("descentlab: error:", "usage:", "descentlab")), shown
        assert _snapshot(root) == before, f"a refused command changed the disk: {shown}"
    return status, out.getvalue(), text


def _workspace() -> tempfile.TemporaryDirectory:
    return tempfile.TemporaryDirectory(prefix="descentlab-fuzz-")


# ----------------------------------------------------------------------------- option values

QUICK = {
    "compare": ["compare", "--epochs", "2", "--out", "run", "-q"],
    "train": ["train", "--epochs", "2", "--out", "model.npz", "-q"],
    "sweep": [
        "sweep",
        "--epochs",
        "2",
        "--seeds",
        "1",
        "--lr",
        "0.1",
        "--out",
        "sweep",
        "-q",
        "--no-plots",
    ],
    "benchmark": [
        "benchmark",
        "--epochs",
        "2",
        "--tune-seeds",
        "1",
        "--eval-seeds",
        "5",
        "--lr",
        "0.1",
        "--out",
        "bench",
        "-q",
    ],
    "protocol": [
        "benchmark",
        "--problems",
        "seed-moons",
        "--budget",
        "1",
        "--seeds",
        "1",
        "--epochs",
        "2",
        "--out",
        "proto",
        "-q",
    ],
    "lr-find": ["lr-find", "--rates", "3", "--epochs", "1", "--ramp-steps", "8", "--out", "lrf"],
    "trajectories": ["trajectories", "--steps", "5", "--out", "t.png", "--quiet"],
    "datasets": ["datasets"],
}
OPTIONS = {
    "compare": [
        "--problem",
        "--dataset",
        "--target",
        "--test-size",
        "--layers",
        "--activation",
        "--optimizers",
        "--lr",
        "--schedule",
        "--batch-size",
        "--epochs",
        "--seed",
        "--init",
        "--shuffle",
        "--eval-every",
        "--engine",
        "--name",
        "--out",
        "--format",
        "--config",
        "--save-trajectory",
    ],
    "train": [
        "--problem",
        "--dataset",
        "--optimizer",
        "--lr",
        "--layers",
        "--batch-size",
        "--epochs",
        "--seed",
        "--out",
        "--schedule",
        "--engine",
        "--checkpoint-every",
        "--resume",
    ],
    "sweep": [
        "--problem",
        "--dataset",
        "--optimizers",
        "--lr",
        "--lr-points",
        "--param",
        "--schedule",
        "--random",
        "--seeds",
        "--batch-size",
        "--epochs",
        "--layers",
        "--chunk-size",
        "--jobs",
        "--test-seed",
        "--val-seed",
        "--search-seed",
        "--engine",
        "--out",
    ],
    "benchmark": [
        "--dataset",
        "--optimizers",
        "--lr",
        "--lr-points",
        "--untuned-lr",
        "--tune-seeds",
        "--eval-seeds",
        "--epochs",
        "--batch-size",
        "--layers",
        "--out",
        "--jobs",
        "--engine",
    ],
    "protocol": [
        "--problems",
        "--optimizers",
        "--budget",
        "--seeds",
        "--seed",
        "--epochs",
        "--replot",
        "--jobs",
        "--engine",
        "--out",
    ],
    "lr-find": [
        "--problem",
        "--dataset",
        "--layers",
        "--optimizer",
        "--epochs",
        "--batch-size",
        "--seed",
        "--engine",
        "--min-lr",
        "--max-lr",
        "--rates",
        "--ramp-steps",
        "--rule",
        "--factor",
        "--tolerance",
        "--ramp-rule",
        "--smoothing",
        "--stop-factor",
        "--out",
        "--format",
    ],
    "trajectories": [
        "--function",
        "--optimizers",
        "--lr",
        "--steps",
        "--start",
        "--schedule",
        "--out",
        "--batch-size",
        "--seed",
    ],
    "datasets": ["--export", "--format"],
}


OUTPUTS = ("--out",)
"""Options that name something to write: their hostile values are kept inside the workspace
(``out/<value>``), so an accepted command never writes elsewhere on the machine (as root, an
absolute value could replace a system file). Input options get the raw values (reading
``/dev/zero`` or ``../x`` is refused or harmless)."""


def _option(option: str, value: str) -> str:
    return f"{option}=out/{value}" if option in OUTPUTS else f"{option}={value}"


class _Accepted(BaseException):
    """Raised instead of training: every check before training has passed."""


def _refuse_to_train(*args: object, **kwargs: object) -> None:
    raise _Accepted


@pytest.mark.parametrize("command", [c for c in QUICK if c != "datasets"])
def test_every_hostile_value_of_every_option(command: str, monkeypatch) -> None:
    """Each value of :data:`HOSTILE` for each option, one at a time. Training is replaced by a
    stop (an input that reaches it has passed every check), so the matrix stays quick; the
    random tests below train for real."""
    import descentlab.experiments.population as population

    monkeypatch.setattr(population, "train", _refuse_to_train)
    for option in OPTIONS[command]:
        for value in HOSTILE:
            with _workspace() as tmp:
                try:
                    run_hostile(Path(tmp), [*QUICK[command], _option(option, value)])
                except _Accepted:
                    pass


@pytest.mark.parametrize("command", list(QUICK))
@SETTINGS
@given(data=st.data())
def test_random_option_values(command: str, data: st.DataObject) -> None:
    argv = list(QUICK[command])
    for _ in range(data.draw(st.integers(1, 3), label="n_options")):
        option = data.draw(st.sampled_from(OPTIONS[command]), label="option")
        value = data.draw(values, label="value")
        if option == "--export":
            argv += [option, value, "out/" + data.draw(values, label="file")]
        else:
            argv += [_option(option, value)]
    with _workspace() as tmp:
        run_hostile(Path(tmp), argv)


# ----------------------------------------------------------------------------- hostile files

cells = st.one_of(
    st.sampled_from(["", "nan", "inf", "-inf", "1e308", "x", "0", "1", '"', "a,b", "²"]),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.text(alphabet=string.printable, max_size=8),
)
csv_text = st.lists(st.lists(cells, min_size=0, max_size=5), min_size=0, max_size=12).map(
    lambda rows: "\n".join(",".join(r) for r in rows)
)
raw_bytes = st.binary(max_size=2000)

toml_values = st.recursive(
    st.one_of(
        st.booleans(),
        st.integers(-(2**63), 2**63 - 1),
        st.floats(allow_nan=True, allow_infinity=True),
        st.text(max_size=10),
        st.sampled_from(["moons", "adam", "gd", "seed", "relu", "inverse_time", "he"]),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
CONFIG_KEYS = ["name", "layers", "activation", "learning_rate", "batch_size", "epochs", "seed",
               "init", "shuffle", "data_seed", "eval_every", "log_scale", "dataset", "schedule",
               "optimizers", "engine", "problem"]  # fmt: skip
toml_documents = st.dictionaries(
    st.one_of(st.sampled_from(CONFIG_KEYS), st.text(max_size=6)), toml_values, max_size=5
)


def _write_toml(path: Path, document: dict) -> None:
    try:
        text = tomli_w.dumps(document)
    except (TypeError, ValueError):
        text = json.dumps(document, default=str)  # not TOML at all: also a hostile file
    path.write_text(text, encoding="utf-8")


@SETTINGS
@given(content=st.one_of(csv_text.map(str.encode), raw_bytes), target=values)
def test_random_csv_datasets(content: bytes, target: str) -> None:
    with _workspace() as tmp:
        root = Path(tmp)
        (root / "data.csv").write_bytes(content)
        run_hostile(
            root,
            ["compare", "--dataset", "data.csv", "--target", target, "--epochs", "2",
             "--out", "run", "-q"],
        )  # fmt: skip


@SETTINGS
@given(document=toml_documents, garbage=st.one_of(st.none(), raw_bytes))
def test_random_config_files(document: dict, garbage: bytes | None) -> None:
    with _workspace() as tmp:
        root = Path(tmp)
        if garbage is None:
            _write_toml(root / "config.toml", document)
        else:
            (root / "config.toml").write_bytes(garbage)
        run_hostile(
            root, ["compare", "--config", "config.toml", "--epochs", "2", "--out", "run", "-q"]
        )


HOSTILE_CONFIGS = [
    '[[optimizers]]\nname = "adam"\nlabel = 5\n',
    '[[optimizers]]\nname = "adam"\nlr = "fast"\n',
    '[[optimizers]]\nname = ["adam"]\n',
    '[[optimizers]]\nlabel = "x"\n',
    "optimizers = [5]\n",
    'optimizers = "adam"\n',
    'layers = "abc"\n',
    "layers = [1.5]\n",
    "layers = [1000000000000]\n",
    "seed = 99999999999\n",
    "epochs = 1e21\n",
    "epochs = inf\n",
    "learning_rate = nan\n",
    "learning_rate = 1e308\n",
    "name = 5\n",
    'name = "../../x"\n',
    "[dataset]\nname = 5\n",
    '[dataset]\nname = "moons"\nn_samples = 100000000000\n',
    '[dataset]\nname = "moons"\nnoise = inf\n',
    '[dataset]\nname = "/dev/zero"\ntarget = "y"\n',
    "[schedule]\nname = 5\n",
    '[schedule]\nname = "exponential"\ngamma = 1e308\n',
    "dataset = 3\n",
    "log_scale = 1\n",
]
"""Configuration files with wrong types, absurd numbers and paths that are not data."""


@pytest.mark.parametrize("text", HOSTILE_CONFIGS)
def test_hostile_config_documents(text: str) -> None:
    with _workspace() as tmp:
        root = Path(tmp)
        (root / "config.toml").write_text(text, encoding="utf-8")
        status, _, _ = run_hostile(
            root, ["compare", "--config", "config.toml", "--out", "run", "-q"]
        )
        assert status == 2


array_dtypes = st.sampled_from(
    ["f8", "f4", "i8", "u1", "b1", "c16", "U3", "S2", "O", "M8[s]", "V4"]
)


@st.composite
def npz_members(draw: Callable) -> dict[str, np.ndarray]:
    names = draw(st.lists(st.sampled_from(["X", "y", "feature_names", "meta", "W1", "b1", "W2",
                                            "b2", "mean", "std", "labels", "other"]),
                          max_size=6, unique=True))  # fmt: skip
    out = {}
    for name in names:
        shape = tuple(draw(st.lists(st.integers(0, 4), max_size=3)))
        dtype = draw(array_dtypes)
        if dtype == "O":
            out[name] = np.array([{"a": 1}, None], dtype=object)
        else:
            out[name] = np.zeros(shape, dtype=dtype)
            if dtype.startswith("f") and out[name].size:
                out[name].flat[0] = draw(st.floats(allow_nan=True, allow_infinity=True))
    if draw(st.booleans()):
        out["meta"] = np.array(
            draw(st.one_of(st.text(max_size=30), st.just('{"format": "descentlab-model"}')))
        )
    return out


def _write_npz(path: Path, members: dict[str, np.ndarray], garbage: bytes | None) -> None:
    if garbage is not None:
        path.write_bytes(garbage)
        return
    with path.open("wb") as f:
        np.savez(f, **members)  # object arrays are pickled: loading them must be refused


@SETTINGS
@given(members=npz_members(), garbage=st.one_of(st.none(), raw_bytes))
def test_random_npz_datasets_and_models(members: dict, garbage: bytes | None) -> None:
    with _workspace() as tmp:
        root = Path(tmp)
        _write_npz(root / "data.npz", members, garbage)
        (root / "points.csv").write_text("x1,x2,y\n0.5,0.1,1\n-0.3,0.8,0\n", encoding="utf-8")
        run_hostile(
            root, ["compare", "--dataset", "data.npz", "--epochs", "2", "--out", "run", "-q"]
        )
        run_hostile(root, ["predict", "data.npz", "points.csv", "--out", "pred.csv"])


@pytest.fixture(scope="module")
def good_model(tmp_path_factory) -> Path:
    """A real model file and a real run folder, to damage copies of."""
    root = tmp_path_factory.mktemp("good")
    assert main(["train", "--epochs", "3", "--out", str(root / "model.npz"), "-q"]) == 0
    assert main(["compare", "--epochs", "3", "--out", str(root / "run"), "-q"]) == 0
    return root


@SETTINGS
@given(rows=csv_text)
def test_random_prediction_inputs(good_model: Path, rows: str) -> None:
    with _workspace() as tmp:
        root = Path(tmp)
        (root / "model.npz").write_bytes((good_model / "model.npz").read_bytes())
        (root / "points.csv").write_text(rows, encoding="utf-8")
        run_hostile(root, ["predict", "model.npz", "points.csv", "--out", "pred.csv"])


json_values = st.recursive(
    st.one_of(
        st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=8)
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=10,
)
RUN_FILES = ["results.json", "history.csv", "config.toml", "models.npz"]


@SETTINGS
@given(
    damaged=st.sampled_from(RUN_FILES),
    content=st.one_of(
        raw_bytes, csv_text.map(str.encode), json_values.map(lambda v: json.dumps(v).encode())
    ),
)
def test_random_run_folders_for_report(good_model: Path, damaged: str, content: bytes) -> None:
    with _workspace() as tmp:
        root = Path(tmp)
        run = root / "run"
        run.mkdir()
        for name in RUN_FILES:
            (run / name).write_bytes((good_model / "run" / name).read_bytes())
        (run / damaged).write_bytes(content)
        run_hostile(root, ["report", "run"])


@pytest.fixture(scope="module")
def good_sweep(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("sweep")
    argv = ["sweep", "--epochs", "2", "--seeds", "2", "--lr", "0.01,0.1", "--optimizers", "gd,adam",
            "--chunk-size", "4", "--out", str(root / "s"), "-q", "--no-plots"]  # fmt: skip
    assert main(argv) == 0
    return root / "s"


@SETTINGS
@given(
    damaged=st.sampled_from(["sweep.json", "results.csv"]),
    content=st.one_of(
        raw_bytes, csv_text.map(str.encode), json_values.map(lambda v: json.dumps(v).encode())
    ),
)
def test_random_sweep_folders_for_resume(good_sweep: Path, damaged: str, content: bytes) -> None:
    with _workspace() as tmp:
        root = Path(tmp)
        sweep = root / "s"
        sweep.mkdir()
        for name in ("sweep.json", "results.csv"):
            (sweep / name).write_bytes((good_sweep / name).read_bytes())
        (sweep / damaged).write_bytes(content)
        run_hostile(root, ["sweep", "--resume", "--out", "s", "-q", "--no-plots"])

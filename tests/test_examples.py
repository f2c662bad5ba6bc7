"""The example notebook runs from top to bottom and shows the seed's numbers and its plots.

It is executed with nbclient in a kernel started from this interpreter (a temporary kernelspec
pointing at ``sys.executable``), so it sees the venv's descentlab whatever kernels the machine
has, and with ``MPLBACKEND=Agg`` so nothing opens a window.
"""

import base64
import json
import re
import struct
import sys
from pathlib import Path

import nbclient
import nbformat
import pytest

NOTEBOOK = Path(__file__).resolve().parents[1] / "examples" / "optimization_methods.ipynb"
KERNEL = "descentlab-tests"


def _png_size(data: str) -> tuple[int, int]:
    """(width, height) of a base64 PNG, read from its IHDR chunk."""
    raw = base64.b64decode(data)
    assert raw[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", raw[16:24])


def _text(cell) -> str:
    return "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")


def _images(cell) -> list[tuple[int, int]]:
    return [
        _png_size(o["data"]["image/png"])
        for o in cell.outputs
        if o.output_type in ("display_data", "execute_result") and "image/png" in o.get("data", {})
    ]


def test_notebook_is_committed_without_outputs():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and all(c.outputs == [] and c.execution_count is None for c in code)


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    spec_dir = tmp_path_factory.mktemp("jupyter") / "kernels" / KERNEL
    spec_dir.mkdir(parents=True)
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "descentlab tests",
        "language": "python",
        "env": {"MPLBACKEND": "Agg"},
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("JUPYTER_PATH", str(spec_dir.parent.parent))
        mp.setenv("MPLBACKEND", "Agg")
        nb = nbformat.read(NOTEBOOK, as_version=4)
        client = nbclient.NotebookClient(
            nb,
            kernel_name=KERNEL,
            timeout=300,
            resources={"metadata": {"path": str(tmp_path_factory.mktemp("run"))}},
        )
        client.execute()
    return [c for c in nb.cells if c.cell_type == "code"]


def test_notebook_runs_without_errors(executed):
    for cell in executed:
        assert cell.execution_count is not None
        assert not [o for o in cell.outputs if o.output_type == "error"], cell.source
        assert "Traceback" not in _text(cell)


def test_notebook_prints_the_seed_table(executed):
    (table,) = [c for c in executed if "train acc" in _text(c) and "mean ± std" not in _text(c)]
    rows = {
        m.group(1): (float(m.group(2)), float(m.group(3)), float(m.group(4)))
        for m in re.finditer(
            r"^(gd|momentum|adam)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)", _text(table), re.M
        )
    }
    assert {name: r[0] for name, r in rows.items()} == {
        "gd": 0.7967,
        "momentum": 0.7967,
        "adam": 0.94,
    }
    assert rows["adam"][1] > rows["gd"][1] + 0.1  # also better on the held-out sample
    assert rows["adam"][2] < rows["gd"][2] / 2  # and a much lower final cost


def test_notebook_draws_the_plots(executed):
    images = [size for cell in executed for size in _images(cell)]
    assert len(images) == 4  # data, cost curves, three boundary panels, population band
    boundaries = [s for c in executed if "contourf" in c.source for s in _images(c)]
    ((width, height),) = boundaries
    assert width > 3 * height  # one figure with three panels side by side


def test_notebook_population_shows_mean_and_std(executed):
    (cell,) = [c for c in executed if "mean ± std" in _text(c)]
    rows = {
        m.group(1): [float(x) for x in m.group(2, 3, 4, 5)]
        for m in re.finditer(
            r"^(gd|momentum|adam)\s+([\d.]+) ± ([\d.]+)\s+([\d.]+) ± ([\d.]+)", _text(cell), re.M
        )
    }
    # 8 seeds, 2000 epochs: the numbers the notebook prints (seeded, so exactly these)
    assert rows == {
        "gd": [0.7121, 0.1237, 0.7058, 0.1238],
        "momentum": [0.7121, 0.1237, 0.7050, 0.1233],
        "adam": [0.9142, 0.0304, 0.9196, 0.0452],
    }
    assert rows["adam"][0] > rows["gd"][0] + 0.1  # Adam's lead holds over 8 seeds ...
    assert rows["adam"][1] < rows["gd"][1] / 2  # ... with a much smaller spread
    assert len(_images(cell)) == 1

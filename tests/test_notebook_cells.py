"""The seed exercise's checking cells (sections 1-4), pasted after descentlab's import lines.

Each cell below is the seed's ``In [n]:`` code as its notebook
(``optimization_methods_notebook.md``) shows it, run in a fresh namespace after the import
lines the README documents::

    from descentlab.notebook import *
    from descentlab.notebook_test_cases import *

Its captured stdout must equal the output the md prints under the cell, compared with runs of
whitespace collapsed (the md's transcript re-indents continuation lines). NumPy prints with
``legacy="1.13"``, the array format of the NumPy that produced the seed's outputs.

Transcribed, not parsed from the md: its transcript mangles the code (``\\"`` escapes, a cell
split over two blocks, one set in backticks, cell 20's labels missing their ``]`` although its
printed run has them). Two departures, both the md's own: the printed
labels stay as the md prints them (``v["dw1"]``) while the dict keys are the functions'
``"dW1"`` (the md's cells read ``v["dw1"]``, a key no edition has; its Expected Output blocks
say ``v["dW1"]``); and cell 5's last mini-batch has 20 examples, as its Expected Output block
says (the md's printed run shows 19, from the seed's off-by-one that descentlab fixes).
``test_transcribed_outputs_are_the_mds`` checks the transcription against the md when it is
at hand.
"""

import contextlib
import io
import re
from pathlib import Path

import numpy as np
import pytest

IMPORTS = "from descentlab.notebook import *\nfrom descentlab.notebook_test_cases import *\n"
SEED_MD = Path("/work/shared/seed/optimization_methods_notebook.md")

CELLS = {
    "In [3]": (
        """\
parameters, grads, learning_rate = update_parameters_with_gd_test_case()

parameters = update_parameters_with_gd(parameters, grads, learning_rate)
print("W1 = " + str(parameters["W1"]))
print("b1 = " + str(parameters["b1"]))
print("W2 = " + str(parameters["W2"]))
print("b2 = " + str(parameters["b2"]))
""",
        """\
W1 = [[ 1.63535156 -0.62320365 -0.53718766]
 [-1.07799357  0.85639907 -2.29470142]]
b1 = [[ 1.74604067]
 [-0.75184921]]
W2 = [[ 0.32171798 -0.25467393  1.46902454]
 [-2.05617317 -0.31554548 -0.3756023 ]
 [ 1.1404819  -1.09976462 -0.1612551 ]]
b2 = [[-0.88020257]
 [ 0.02561572]
 [ 0.57539477]]
""",
    ),
    "In [5]": (
        """\
X_assess, Y_assess, mini_batch_size = random_mini_batches_test_case()
mini_batches = random_mini_batches(X_assess, Y_assess, mini_batch_size)

print ("shape of the 1st mini_batch_X: " + str(mini_batches[0][0].shape))
print ("shape of the 2nd mini_batch_X: " + str(mini_batches[1][0].shape))
print ("shape of the 3rd mini_batch_X: " + str(mini_batches[2][0].shape))
print ("shape of the 1st mini_batch_Y: " + str(mini_batches[0][1].shape))
print ("shape of the 2nd mini_batch_Y: " + str(mini_batches[1][1].shape))
print ("shape of the 3rd mini_batch_Y: " + str(mini_batches[2][1].shape))
print ("mini batch sanity check: " + str(mini_batches[0][0][0][0:3]))
""",
        """\
shape of the 1st mini_batch_X: (12288, 64)
shape of the 2nd mini_batch_X: (12288, 64)
shape of the 3rd mini_batch_X: (12288, 20)
shape of the 1st mini_batch_Y: (1, 64)
shape of the 2nd mini_batch_Y: (1, 64)
shape of the 3rd mini_batch_Y: (1, 20)
mini batch sanity check: [ 0.90085595 -0.7612069   0.2344157 ]
""",
    ),
    "In [7]": (
        """\
parameters = initialize_velocity_test_case()

v = initialize_velocity(parameters)
print("v[\\"dW1\\"] = " + str(v["dW1"]))
print("v[\\"db1\\"] = " + str(v["db1"]))
print("v[\\"dW2\\"] = " + str(v["dW2"]))
print("v[\\"db2\\"] = " + str(v["db2"]))
""",
        """\
v["dW1"] = [[ 0.  0.  0.]
 [ 0.  0.  0.]]
v["db1"] = [[ 0.]
 [ 0.]]
v["dW2"] = [[ 0.  0.  0.]
 [ 0.  0.  0.]
 [ 0.  0.  0.]]
v["db2"] = [[ 0.]
 [ 0.]
 [ 0.]]
""",
    ),
    "In [9]": (
        """\
parameters, grads, v = update_parameters_with_momentum_test_case()

parameters, v = update_parameters_with_momentum(parameters, grads, v, beta =
0.9, learning_rate = 0.01)
print("W1 = " + str(parameters["W1"]))
print("b1 = " + str(parameters["b1"]))
print("W2 = " + str(parameters["W2"]))
print("b2 = " + str(parameters["b2"]))
print("v[\\"dw1\\"] = " + str(v["dW1"]))
print("v[\\"db1\\"] = " + str(v["db1"]))
print("v[\\"dw2\\"] = " + str(v["dW2"]))
print("v[\\"db2\\"] = " + str(v["db2"]))
""",
        """\
W1 = [[ 1.62544598 -0.61290114 -0.52907334]
 [-1.07347112  0.86450677 -2.30085497]]
b1 = [[ 1.74493465]
 [-0.76027113]]
W2 = [[ 0.31930698 -0.24990073  1.4627996 ]
 [-2.05974396 -0.32173003 -0.38320915]
 [ 1.13444069 -1.0998786  -0.1713109 ]]
b2 = [[-0.87809283]
 [ 0.04055394]
 [ 0.58207317]]
v["dw1"] = [[-0.11006192  0.11447237  0.09015907]
 [ 0.05024943  0.09008559 -0.06837279]]
v["db1"] = [[-0.01228902]
 [-0.09357694]]
v["dw2"] = [[-0.02678881  0.05303555 -0.06916608]
 [-0.03967535 -0.06871727 -0.08452056]
 [-0.06712461 -0.00126646 -0.11173103]]
v["db2"] = [[ 0.02344157]
 [ 0.16598022]
 [ 0.07420442]]
""",
    ),
    "In [11]": (
        """\
parameters = initialize_adam_test_case()

v, s = initialize_adam(parameters)
print("v[\\"dw1\\"] = " + str(v["dW1"]))
print("v[\\"db1\\"] = " + str(v["db1"]))
print("v[\\"dw2\\"] = " + str(v["dW2"]))
print("v[\\"db2\\"] = " + str(v["db2"]))
print("s[\\"dw1\\"] = " + str(s["dW1"]))
print("s[\\"db1\\"] = " + str(s["db1"]))
print("s[\\"dw2\\"] = " + str(s["dW2"]))
print("s[\\"db2\\"] = " + str(s["db2"]))
""",
        """\
v["dw1"] = [[ 0.  0.  0.]
 [ 0.  0.  0.]]
v["db1"] = [[ 0.]
 [ 0.]]
v["dw2"] = [[ 0.  0.  0.]
 [ 0.  0.  0.]
 [ 0.  0.  0.]]
v["db2"] = [[ 0.]
 [ 0.]
 [ 0.]]
s["dw1"] = [[ 0.  0.  0.]
 [ 0.  0.  0.]]
s["db1"] = [[ 0.]
 [ 0.]]
s["dw2"] = [[ 0.  0.  0.]
 [ 0.  0.  0.]
 [ 0.  0.  0.]]
s["db2"] = [[ 0.]
 [ 0.]
 [ 0.]]
""",
    ),
    "In [20]": (
        """\
parameters, grads, v, s = update_parameters_with_adam_test_case()
parameters, v, s = update_parameters_with_adam(parameters, grads, v, s, t = 2
)

print("W1 = " + str(parameters["W1"]))
print("b1 = " + str(parameters["b1"]))
print("W2 = " + str(parameters["W2"]))
print("b2 = " + str(parameters["b2"]))
print("v[\\"dw1\\"] = " + str(v["dW1"]))
print("v[\\"db1\\"] = " + str(v["db1"]))
print("v[\\"dw2\\"] = " + str(v["dW2"]))
print("v[\\"db2\\"] = " + str(v["db2"]))
print("s[\\"dw1\\"] = " + str(s["dW1"]))
print("s[\\"db1\\"] = " + str(s["db1"]))
print("s[\\"dw2\\"] = " + str(s["dW2"]))
print("s[\\"db2\\"] = " + str(s["db2"]))
""",
        """\
W1 = [[ 1.63178673 -0.61919778 -0.53561312]
 [-1.08040999  0.85796626 -2.29409733]]
b1 = [[ 1.75225313]
 [-0.75376553]]
W2 = [[ 0.32648046 -0.25681174  1.46954931]
 [-2.05269934 -0.31497584 -0.37661299]
 [ 1.14121081 -1.09245036 -0.16498684]]
b2 = [[-0.88529978]
 [ 0.03477238]
 [ 0.57537385]]
v["dw1"] = [[-0.11006192  0.11447237  0.09015907]
 [ 0.05024943  0.09008559 -0.06837279]]
v["db1"] = [[-0.01228902]
 [-0.09357694]]
v["dw2"] = [[-0.02678881  0.05303555 -0.06916608]
 [-0.03967535 -0.06871727 -0.08452056]
 [-0.06712461 -0.00126646 -0.11173103]]
v["db2"] = [[ 0.02344157]
 [ 0.16598022]
 [ 0.07420442]]
s["dw1"] = [[ 0.00121136  0.00131039  0.00081287]
 [ 0.0002525  0.00081154  0.00046748]]
s["db1"] = [[ 1.51020075e-05]
 [ 8.75664434e-04]]
s["dw2"] = [[ 7.17640232e-05  2.81276921e-04  4.78394595e-04]
 [ 1.57413361e-04  4.72206320e-04  7.14372576e-04]
 [ 4.50571368e-04  1.60392066e-07  1.24838242e-03]]
s["db2"] = [[ 5.49507194e-05]
 [ 2.75494327e-03]
 [ 5.50629536e-04]]
""",
    ),
}


def _words(text: str) -> list[str]:
    """``text`` with runs of whitespace collapsed: the comparison the md's transcript allows."""
    return text.split()


def _run(cell: str) -> str:
    """Exec the import lines then ``cell`` in a fresh namespace; the captured stdout."""
    namespace: dict = {}
    out = io.StringIO()
    with np.printoptions(legacy="1.13"), contextlib.redirect_stdout(out):
        exec(compile(IMPORTS + cell, "<cell>", "exec"), namespace)
    return out.getvalue()


@pytest.mark.parametrize("name", list(CELLS))
def test_seed_cell_prints_the_mds_output(name):
    cell, printed = CELLS[name]
    assert _words(_run(cell)) == _words(printed)


def test_cells_run_twice_print_the_same():
    # Each test case re-seeds NumPy: a cell run again (or after another) gets the same arrays.
    cell, _ = CELLS["In [20]"]
    assert _run(CELLS["In [9]"][0] + cell).endswith(_run(cell))
    assert _run(cell) == _run(cell)


def test_the_import_lines_bring_every_name_the_cells_use():
    namespace: dict = {}
    exec(IMPORTS, namespace)
    for name in (
        "update_parameters_with_gd_test_case",
        "random_mini_batches_test_case",
        "initialize_velocity_test_case",
        "update_parameters_with_momentum_test_case",
        "initialize_adam_test_case",
        "update_parameters_with_adam_test_case",
        "update_parameters_with_gd",
        "random_mini_batches",
        "initialize_velocity",
        "update_parameters_with_momentum",
        "initialize_adam",
        "update_parameters_with_adam",
    ):
        assert callable(namespace[name]), name


def _md_output_after(md: str, marker: str) -> str:
    """The md's printed output under cell ``marker``: from its first output line to the fence."""
    start = md.index(marker)
    lines = md[start:].splitlines()
    first = next(
        i
        for i, line in enumerate(lines)
        if re.match(r'^(W1 = \[\[|shape of the 1st|v\["d[Ww]1"\] = \[\[)', line)
    )
    end = next(i for i in range(first, len(lines)) if lines[i].startswith("```"))
    return "\n".join(lines[first:end])


@pytest.mark.skipif(not SEED_MD.exists(), reason=f"the seed's notebook is not at {SEED_MD}")
def test_transcribed_outputs_are_the_mds():
    md = SEED_MD.read_text(encoding="utf-8")
    for name, (_, printed) in CELLS.items():
        theirs = _md_output_after(md, name + ":")
        if name == "In [5]":
            # The printed run shows the seed's 19; its Expected Output block says 20.
            expected_block = md[md.index("### Expected Output:", md.index(name)) :][:400]
            assert "(12288, 20)" in expected_block and "(1, 20)" in expected_block
            theirs = theirs.replace("19)", "20)")
        assert _words(printed) == _words(theirs), name


# ----------------------------------------------------------------------------- the later edition
V2_IMPORTS = (
    "from descentlab.notebook_v2 import *\nfrom descentlab.notebook_v2_test_cases import *\n"
)

# Exercise 6's cell and its "Expected values" block, as the later edition prints them (with
# today's NumPy array format, so compared character for character).
V2_EXERCISE_6 = """\
parametersi, grads, vi, si, t, learning_rate, beta1, beta2, epsilon = update_parameters_with_adam_test_case()

parameters, v, s, vc, sc  = update_parameters_with_adam(parametersi, grads, vi, si, t, learning_rate, beta1, beta2, epsilon)
print(f"W1 = \\n{parameters['W1']}")
print(f"W2 = \\n{parameters['W2']}")
print(f"b1 = \\n{parameters['b1']}")
print(f"b2 = \\n{parameters['b2']}")
"""
V2_EXERCISE_6_PRINTS = """\
W1 = 
[[ 1.63937725 -0.62327448 -0.54308727]
 [-1.0578897   0.85032154 -2.31657668]]
W2 = 
[[ 0.33400549 -0.23563857]
 [ 1.47715417 -2.04561842]
 [-0.33729882 -0.36908457]]
b1 = 
[[ 1.72995096]
 [-0.7762447 ]]
b2 = 
[[ 1.14852557]
 [-1.08492339]
 [-0.15740527]]
"""  # noqa: W291


def test_later_edition_adam_cell_prints_its_expected_values():
    namespace: dict = {}
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(V2_IMPORTS + V2_EXERCISE_6, "<cell>", "exec"), namespace)
    assert out.getvalue() == V2_EXERCISE_6_PRINTS

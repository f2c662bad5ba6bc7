"""The documented caps on work and memory: what descentlab refuses up front, and why.

A number that is finite and in its range can still ask for more than any machine has
(``--layers 1000000000000``, ``--seeds 100000000``, ``n_samples=1e11``). Such requests are
refused before anything is computed or written, with a one-line error that names the setting
and the cap, instead of running out of memory or running for centuries. The caps are far above
what the library's own studies use (the seed's study: 300 examples, 10000 epochs,
30 parameters, three networks; the default sweep: 240 runs):

=========================  ===============  =================================================
cap                        value            what it bounds
=========================  ===============  =================================================
``MAX_SEED``               2**32 - 1        every seed (NumPy's legacy generator's range)
``MAX_EPOCHS``             10 000 000       epochs of one training run
``MAX_EXAMPLES``           10 000 000       examples of a data set (generated or read), a batch size
``MAX_HIDDEN_UNITS``       65 536           units of one hidden layer
``MAX_HIDDEN_LAYERS``      64               hidden layers of one network
``MAX_LEARNING_RATE``      10 000           a learning rate (and a schedule's start)
``MAX_SEEDS``              10 000           seeds of one sweep or benchmark
``MAX_GRID_POINTS``        10 000           values of one searched setting
``MAX_RUNS``               100 000          training runs of one sweep or benchmark
``MAX_CHUNK_SIZE``         10 000           runs trained as one population by a sweep
``MAX_JOBS``               256              local worker processes
``MAX_STEPS``              10 000 000       steps of one optimizer path on a 2-D surface
``MAX_DATA_VALUES``        134 217 728      numbers in a generated data set (1 GiB)
``MAX_FILE_BYTES``         2 GiB            the size of a CSV or NPZ file read
``MAX_LINE_CHARS``         16 Mi            the characters of one line of a CSV file
``MAX_CONFIG_BYTES``       1 MiB            the size of an experiment's config.toml
``MAX_MEMORY_BYTES``       4 GiB            the estimated memory of one training population;
                                            the arrays read from one NPZ archive
=========================  ===============  =================================================

``MAX_MEMORY_BYTES`` is checked by the training engine from the network, the population size,
the batch size, the number of examples and the epochs (:func:`population_bytes`), so every
entry point that trains gets it.
"""

from __future__ import annotations

__all__ = [
    "MAX_CHUNK_SIZE",
    "MAX_CONFIG_BYTES",
    "MAX_DATA_VALUES",
    "MAX_EPOCHS",
    "MAX_EXAMPLES",
    "MAX_FILE_BYTES",
    "MAX_GRID_POINTS",
    "MAX_HIDDEN_LAYERS",
    "MAX_HIDDEN_UNITS",
    "MAX_JOBS",
    "MAX_LEARNING_RATE",
    "MAX_LINE_CHARS",
    "MAX_MEMORY_BYTES",
    "MAX_RUNS",
    "MAX_SEED",
    "MAX_SEEDS",
    "MAX_STEPS",
    "population_bytes",
]

MAX_SEED = 2**32 - 1
MAX_EPOCHS = 10_000_000
MAX_EXAMPLES = 10_000_000
MAX_HIDDEN_UNITS = 65_536
MAX_HIDDEN_LAYERS = 64
MAX_LEARNING_RATE = 10_000.0
MAX_SEEDS = 10_000
MAX_GRID_POINTS = 10_000
MAX_RUNS = 100_000
MAX_CHUNK_SIZE = 10_000
MAX_JOBS = 256
MAX_STEPS = 10_000_000
MAX_MEMORY_BYTES = 4 * 2**30
MAX_DATA_VALUES = MAX_MEMORY_BYTES // 32
MAX_FILE_BYTES = 2 * 2**30
MAX_LINE_CHARS = 16 * 2**20
MAX_CONFIG_BYTES = 2**20


def population_bytes(
    layer_dims: tuple[int, ...], members: int, batch_size: int, m: int, epochs: int
) -> int:
    """An estimate of the memory (bytes, float64) that training a population takes.

    With ``P`` parameters per network, ``U`` units over all layers, ``n_0`` inputs and ``n_L``
    outputs, ``K`` members, batches of ``b`` of ``m`` examples and ``E`` epochs::

        8 * (8 K P                 parameters, gradients, updates and up to five moments
             + 3 K b U             activations, pre-activations and their gradients
             + K m (n_0 + n_L)     one shuffled copy of the data per member
             + 3 K E)              the history: cost, last-batch cost, learning rate

    >>> population_bytes((2, 5, 2, 1), 3, 64, 300, 10000)
    793440
    """
    P = sum(a * b + a for a, b in zip(layer_dims[1:], layer_dims[:-1], strict=False))
    U = sum(layer_dims)
    b = min(batch_size, m)
    K = members
    return 8 * (
        8 * K * P + 3 * K * b * U + K * m * (layer_dims[0] + layer_dims[-1]) + 3 * K * epochs
    )

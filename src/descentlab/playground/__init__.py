"""The playground: a local web page to train a small network with several optimizers and watch.

``descentlab playground`` serves :func:`create_app` with uvicorn on ``http://127.0.0.1:8765``.
The page picks a two-feature data set, the hidden layers, up to four optimizers with their
hyperparameters, batch size, epochs and learning-rate schedule; the server trains the
optimizers side by side as one population
(:class:`~descentlab.experiments.population.Population`, in a worker thread:
:mod:`~descentlab.playground.training_jobs`) and streams each optimizer's cost curve and
decision boundary to the page with Server-Sent Events.

The page also teaches: data drawn by clicking (or read from a CSV file in the browser), the
MSE loss beside cross-entropy, a quadratic mode where the closed-form rates of gradient
descent and momentum stand beside their simulation (:mod:`~descentlab.playground.quadratic`),
the whole setup kept in the page's address, and its export as the ``config.toml`` that
``descentlab compare --config`` reruns (:mod:`~descentlab.playground.export`).
"""

from descentlab.playground.server import create_app

__all__ = ["create_app"]

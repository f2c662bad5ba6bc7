"""The playground: a local web page to train a small network with several optimizers and watch.

``descentlab playground`` serves :func:`create_app` with uvicorn on ``http://127.0.0.1:8765``.
The page picks a two-feature data set, the hidden layers, up to four optimizers with their
hyperparameters, batch size, epochs and learning-rate schedule; the server trains the
optimizers side by side as one population
(:class:`~descentlab.experiments.population.Population`, in a worker thread:
:mod:`~descentlab.playground.training_jobs`) and streams each optimizer's cost curve and
decision boundary to the page with Server-Sent Events.
"""

from descentlab.playground.server import create_app

__all__ = ["create_app"]

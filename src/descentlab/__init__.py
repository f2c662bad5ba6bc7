"""descentlab — optimization methods for training neural networks, and experiments comparing them."""

__version__ = "0.1.0"

"""pykeras: the Keras API for Python on native CPU kernels."""
from pykeras import config
from pykeras import backend, ops, random

__version__ = "0.1.0"

__all__ = ["backend", "config", "ops", "random", "__version__"]

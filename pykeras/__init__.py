"""pykeras: the Keras API for Python on native CPU kernels."""
from pykeras import config

__version__ = "0.1.0"

__all__ = ["config", "__version__"]

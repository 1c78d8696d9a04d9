"""pykeras: the Keras API for Python on native CPU kernels."""
import pkgutil as _pkgutil

# Run from a source checkout (the current directory first on sys.path), this package has no
# compiled _core; letting the package span every `pykeras` directory on sys.path finds the one
# `pip install .` built, so `python -m pytest` and `python -m pykeras.examples...` work there too.
__path__ = _pkgutil.extend_path(__path__, __name__)

from pykeras import config
from pykeras import backend, ops, random
from pykeras import activations, constraints, initializers, regularizers
from pykeras import layers, models
from pykeras.layers import Input, InputSpec, KerasTensor, Layer
from pykeras.models import Model, Sequential

__version__ = "0.1.0"

__all__ = ["backend", "config", "ops", "random", "__version__", "activations", "constraints", "initializers",
           "regularizers", "layers", "models", "Input", "InputSpec", "KerasTensor", "Layer", "Model", "Sequential"]

from pykeras import callbacks, losses, metrics, optimizers, saving, utils  # noqa: E402
from pykeras import applications, preprocessing  # noqa: E402

__all__ += ["callbacks", "losses", "metrics", "optimizers", "saving", "utils", "applications", "preprocessing"]

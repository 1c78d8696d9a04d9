"""pykeras: the Keras API for Python on native CPU kernels."""
import importlib as _importlib
import importlib.util as _importlib_util

from pykeras import config
from pykeras import backend, ops, random
from pykeras import activations, constraints, initializers, regularizers
from pykeras import layers, models
from pykeras.layers import Input, InputSpec, KerasTensor, Layer
from pykeras.models import Model, Sequential

__version__ = "0.1.0"

__all__ = ["backend", "config", "ops", "random", "__version__", "activations", "constraints", "initializers",
           "regularizers", "layers", "models", "Input", "InputSpec", "KerasTensor", "Layer", "Model", "Sequential"]

# The training, saving and utility packages are written alongside; export whichever are present.
for _name in ("losses", "metrics", "optimizers", "callbacks", "utils", "saving", "datasets", "preprocessing",
              "applications"):
    if _importlib_util.find_spec(f"pykeras.{_name}") is not None:
        globals()[_name] = _importlib.import_module(f"pykeras.{_name}")
        __all__.append(_name)
del _name

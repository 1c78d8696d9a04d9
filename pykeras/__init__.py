"""pykeras: the Keras API for Python on native CPU kernels."""
import os as _os
import pkgutil as _pkgutil

# Run from a source checkout (the current directory first on sys.path), this package has no
# compiled _core; letting the package span every `pykeras` directory on sys.path finds the one
# `pip install .` built, so `python -m pytest` and `python -m pykeras.examples...` work there too.
__path__ = _pkgutil.extend_path(__path__, __name__)

# Between kernels, OpenMP's worker threads spin before they sleep. libgomp's default spin (about
# 300,000 iterations) keeps them burning a core for milliseconds, which on a busy machine starves
# the very thread they are waiting for; 10,000 iterations still bridge the microseconds of Python
# between two kernels of a training step. Set before _core loads libgomp; the user's own OpenMP
# settings win.
if "OMP_WAIT_POLICY" not in _os.environ and "GOMP_SPINCOUNT" not in _os.environ:
    _os.environ["GOMP_SPINCOUNT"] = "10000"

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

"""Weight and activity regularizers, as in `keras.regularizers`.

A regularizer maps a tensor to a scalar penalty Tensor (differentiable, built from backend ops) that
the layer adds to `layer.losses`: weight penalties are recomputed from the current variables each
time `losses` is read, activity penalties on each call.
"""
import numpy as np

from pykeras import backend as K
from pykeras.saving.object_registration import deserialize_keras_object, serialize_keras_object

_MODULE = "keras.regularizers"


def _validate_float(name, value):
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"Invalid value for argument {name}: expected a float. Received: {name}={value!r}") from None
    if not np.isfinite(value) or value < 0:
        raise ValueError(f"Invalid value for argument {name}: expected a non-negative float. Received: {name}={value}")
    return value


class Regularizer:
    """Base class: `__call__(x)` -> scalar penalty; `get_config()`/`from_config()`."""

    def __call__(self, x):
        return 0.0

    def get_config(self):
        raise NotImplementedError(f"{self.__class__.__name__} does not implement get_config()")

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class L1L2(Regularizer):
    """l1 * sum(|x|) + l2 * sum(x**2); both factors default to 0 (Keras)."""

    def __init__(self, l1=0.0, l2=0.0):
        self.l1 = _validate_float("l1", 0.0 if l1 is None else l1)
        self.l2 = _validate_float("l2", 0.0 if l2 is None else l2)

    def __call__(self, x):
        penalty = None
        if self.l1:
            penalty = self.l1 * K.sum(K.abs(x))
        if self.l2:
            term = self.l2 * K.sum(K.square(x))
            penalty = term if penalty is None else penalty + term
        return penalty if penalty is not None else K.convert_to_tensor(np.zeros((), dtype=np.float32))

    def get_config(self):
        return {"l1": self.l1, "l2": self.l2}


class L1(Regularizer):
    """l1 * sum(|x|), l1 = 0.01 by default."""

    def __init__(self, l1=0.01):
        self.l1 = _validate_float("l1", 0.01 if l1 is None else l1)

    def __call__(self, x):
        return self.l1 * K.sum(K.abs(x))

    def get_config(self):
        return {"l1": self.l1}


class L2(Regularizer):
    """l2 * sum(x**2), l2 = 0.01 by default."""

    def __init__(self, l2=0.01):
        self.l2 = _validate_float("l2", 0.01 if l2 is None else l2)

    def __call__(self, x):
        return self.l2 * K.sum(K.square(x))

    def get_config(self):
        return {"l2": self.l2}


class OrthogonalRegularizer(Regularizer):
    """factor * mean |off-diagonal of the Gram matrix of the l2-normalized rows (or columns)|."""

    def __init__(self, factor=0.01, mode="rows"):
        self.factor = _validate_float("factor", factor)
        if mode not in ("rows", "columns"):
            raise ValueError(f"Invalid value for argument mode. Expected one of {{'rows', 'columns'}}. Received: mode={mode}")
        self.mode = mode

    def __call__(self, x):
        if len(x.shape) != 2:
            raise ValueError(f"Inputs to OrthogonalRegularizer must have rank 2. Received: inputs.shape={tuple(x.shape)}")
        if self.mode == "rows":
            x = K.l2_normalize(x, axis=1)
            product = K.matmul(x, K.transpose(x))
            size = x.shape[0]
        else:
            x = K.l2_normalize(x, axis=0)
            product = K.matmul(K.transpose(x), x)
            size = x.shape[1]
        off_diagonal = product * K.convert_to_tensor((1.0 - np.eye(size)).astype(np.float32))
        num_pairs = size * (size - 1.0) / 2.0
        return self.factor * 0.5 * K.sum(K.abs(off_diagonal)) / num_pairs

    def get_config(self):
        return {"factor": self.factor, "mode": self.mode}


l1, l2, l1_l2, orthogonal_regularizer = L1, L2, L1L2, OrthogonalRegularizer

ALL_OBJECTS_DICT = {"Regularizer": Regularizer, "L1": L1, "L2": L2, "L1L2": L1L2,
                    "OrthogonalRegularizer": OrthogonalRegularizer, "l1": L1, "l2": L2, "l1_l2": L1L2,
                    "orthogonal_regularizer": OrthogonalRegularizer}


def serialize(regularizer):
    return serialize_keras_object(regularizer, _MODULE)


def deserialize(config, custom_objects=None):
    return deserialize_keras_object(config, ALL_OBJECTS_DICT, custom_objects, kind="regularizer")


def get(identifier):
    """A regularizer from None, a name ("l2"), a config dict, an instance or a callable."""
    if identifier is None:
        return None
    if isinstance(identifier, Regularizer):
        return identifier
    if isinstance(identifier, (str, dict)):
        return deserialize(identifier)
    if callable(identifier):
        return identifier
    raise ValueError(f"Could not interpret regularizer identifier: {identifier!r}")

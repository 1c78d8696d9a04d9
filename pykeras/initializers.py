"""Weight initializers, as in `keras.initializers`.

An initializer is called as `init(shape, dtype=None)` and returns a Tensor. Random ones draw from
`pykeras.backend.random` (counter-based Philox streams): an int `seed` gives the same values on
every call, as Keras 3 does; `seed=None` picks a fixed seed when the initializer is created (from
Python's `random`, which `pykeras.utils.set_random_seed` seeds), so one initializer object still
repeats itself while two unseeded objects differ. A `SeedGenerator` seed advances on every call.

Fans follow Keras: a 2-D kernel is (fan_in, fan_out); a convolution kernel (..., in, out) has
fan_in = in * receptive field and fan_out = out * receptive field.
"""
import math
import random as _py_random
import re

import numpy as np

from pykeras import backend as K
from pykeras.saving.object_registration import deserialize_keras_object, serialize_keras_object

_MODULE = "keras.initializers"


def _dtype(dtype):
    return np.dtype(dtype or K.floatx())


class Initializer:
    """Base class: subclasses implement `__call__(shape, dtype=None)` and `get_config()`."""

    def __call__(self, shape, dtype=None):
        raise NotImplementedError(f"{self.__class__.__name__} must implement __call__(shape, dtype=None)")

    def get_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def clone(self):
        return self.__class__.from_config(self.get_config())

    def __repr__(self):
        return f"<{self.__class__.__name__} {self.get_config()}>"


class Constant(Initializer):
    """Fills with `value` (a scalar, or an array broadcastable to the shape)."""

    def __init__(self, value=0.0):
        self.value = value

    def __call__(self, shape, dtype=None):
        return K.convert_to_tensor(np.broadcast_to(np.asarray(self.value, dtype=_dtype(dtype)), tuple(shape)).copy())

    def get_config(self):
        value = self.value
        if isinstance(value, np.ndarray):
            value = value.tolist()
        return {"value": value}


class Zeros(Initializer):
    """Fills with 0."""

    def __call__(self, shape, dtype=None):
        return K.convert_to_tensor(np.zeros(tuple(shape), dtype=_dtype(dtype)))


class Ones(Initializer):
    """Fills with 1."""

    def __call__(self, shape, dtype=None):
        return K.convert_to_tensor(np.ones(tuple(shape), dtype=_dtype(dtype)))


class Identity(Initializer):
    """A 2-D identity matrix times `gain` (non-square shapes get ones on the main diagonal)."""

    def __init__(self, gain=1.0):
        self.gain = gain

    def __call__(self, shape, dtype=None):
        if len(shape) != 2:
            raise ValueError(f"Identity initializer can only be used for 2D matrices. Received: shape={tuple(shape)} of rank {len(shape)}.")
        return K.convert_to_tensor((self.gain * np.eye(*shape)).astype(_dtype(dtype)))

    def get_config(self):
        return {"gain": self.gain}


IdentityInitializer = Identity


class RandomInitializer(Initializer):
    """Base of the random initializers: keeps the seed as given (for get_config) and as used."""

    def __init__(self, seed=None):
        if seed is not None and not isinstance(seed, int) and not isinstance(seed, K.random.SeedGenerator):
            raise ValueError(f"`seed` argument should be an int, a SeedGenerator or None. Received: seed={seed!r}")
        self._init_seed = seed
        self.seed = seed if seed is not None else _py_random.randint(1, int(1e9))

    def get_config(self):
        return {"seed": self._init_seed if isinstance(self._init_seed, int) else None}


class RandomNormal(RandomInitializer):
    """Normal distribution with `mean` and `stddev`."""

    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        self.mean, self.stddev = mean, stddev
        super().__init__(seed)

    def __call__(self, shape, dtype=None):
        return K.random.normal(tuple(shape), mean=self.mean, stddev=self.stddev, dtype=_dtype(dtype), seed=self.seed)

    def get_config(self):
        return {"seed": super().get_config()["seed"], "mean": self.mean, "stddev": self.stddev}


class TruncatedNormal(RandomInitializer):
    """Normal distribution re-drawn beyond two standard deviations from the mean."""

    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        self.mean, self.stddev = mean, stddev
        super().__init__(seed)

    def __call__(self, shape, dtype=None):
        return K.random.truncated_normal(tuple(shape), mean=self.mean, stddev=self.stddev, dtype=_dtype(dtype), seed=self.seed)

    def get_config(self):
        return {"seed": super().get_config()["seed"], "mean": self.mean, "stddev": self.stddev}


class RandomUniform(RandomInitializer):
    """Uniform distribution on [minval, maxval)."""

    def __init__(self, minval=-0.05, maxval=0.05, seed=None):
        self.minval, self.maxval = minval, maxval
        super().__init__(seed)

    def __call__(self, shape, dtype=None):
        return K.random.uniform(tuple(shape), minval=self.minval, maxval=self.maxval, dtype=_dtype(dtype), seed=self.seed)

    def get_config(self):
        return {"seed": super().get_config()["seed"], "minval": self.minval, "maxval": self.maxval}


def compute_fans(shape, input_axes=None, output_axes=None):
    """(fan_in, fan_out) of a weight shape, Keras's rule (see the module docstring)."""
    shape = tuple(shape)
    if input_axes is not None and output_axes is not None:
        return int(np.prod([shape[a] for a in input_axes])), int(np.prod([shape[a] for a in output_axes]))
    if len(shape) < 1:
        return 1, 1
    if len(shape) == 1:
        return int(shape[0]), int(shape[0])
    if len(shape) == 2:
        return int(shape[0]), int(shape[1])
    receptive_field = int(np.prod(shape[:-2]))
    return int(shape[-2] * receptive_field), int(shape[-1] * receptive_field)


# Standard deviation of a unit normal truncated to [-2, 2]; dividing by it makes the truncated
# draw have the requested variance (Keras's constant).
_TRUNCATED_STDDEV_CORRECTION = 0.87962566103423978


class VarianceScaling(RandomInitializer):
    """Samples with variance `scale / n`, n = fan_in, fan_out or their mean (`mode`).

    distribution: "truncated_normal" (stddev corrected for the truncation), "untruncated_normal"
    or "uniform" (limit sqrt(3 * scale / n)).
    """

    _MODES = ("fan_in", "fan_out", "fan_avg")
    _DISTRIBUTIONS = ("uniform", "truncated_normal", "untruncated_normal")

    def __init__(self, scale=1.0, mode="fan_in", distribution="truncated_normal", seed=None):
        if scale <= 0.0:
            raise ValueError(f"Argument `scale` must be positive float. Received: scale={scale}")
        if mode not in self._MODES:
            raise ValueError(f"Invalid `mode` argument: expected one of {list(self._MODES)}. Received: mode={mode}")
        distribution = distribution.lower()
        if distribution == "normal":
            distribution = "truncated_normal"
        if distribution not in self._DISTRIBUTIONS:
            raise ValueError(f"Invalid `distribution` argument: expected one of {list(self._DISTRIBUTIONS)}. "
                             f"Received: distribution={distribution}")
        self.scale, self.mode, self.distribution = scale, mode, distribution
        super().__init__(seed)

    def _fans(self, shape):
        return compute_fans(shape)

    def __call__(self, shape, dtype=None):
        fan_in, fan_out = self._fans(shape)
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2.0}[self.mode]
        scale = self.scale / max(1.0, n)
        dtype = _dtype(dtype)
        if self.distribution == "truncated_normal":
            stddev = math.sqrt(scale) / _TRUNCATED_STDDEV_CORRECTION
            return K.random.truncated_normal(tuple(shape), mean=0.0, stddev=stddev, dtype=dtype, seed=self.seed)
        if self.distribution == "untruncated_normal":
            return K.random.normal(tuple(shape), mean=0.0, stddev=math.sqrt(scale), dtype=dtype, seed=self.seed)
        limit = math.sqrt(3.0 * scale)
        return K.random.uniform(tuple(shape), minval=-limit, maxval=limit, dtype=dtype, seed=self.seed)

    def get_config(self):
        return {"seed": super().get_config()["seed"], "scale": self.scale, "mode": self.mode,
                "distribution": self.distribution}


class _FixedVarianceScaling(VarianceScaling):
    """The named special cases of VarianceScaling: only `seed` is configurable."""

    _ARGS = None  # (scale, mode, distribution)

    def __init__(self, seed=None):
        super().__init__(*self._ARGS, seed=seed)

    def get_config(self):
        return {"seed": self._init_seed if isinstance(self._init_seed, int) else None}


class GlorotUniform(_FixedVarianceScaling):
    """Uniform on +-sqrt(6 / (fan_in + fan_out)) (Xavier uniform); Keras's default kernel init."""
    _ARGS = (1.0, "fan_avg", "uniform")


class GlorotNormal(_FixedVarianceScaling):
    """Truncated normal with stddev sqrt(2 / (fan_in + fan_out))."""
    _ARGS = (1.0, "fan_avg", "truncated_normal")


class LecunNormal(_FixedVarianceScaling):
    """Truncated normal with stddev sqrt(1 / fan_in)."""
    _ARGS = (1.0, "fan_in", "truncated_normal")


class LecunUniform(_FixedVarianceScaling):
    """Uniform on +-sqrt(3 / fan_in)."""
    _ARGS = (1.0, "fan_in", "uniform")


class HeNormal(_FixedVarianceScaling):
    """Truncated normal with stddev sqrt(2 / fan_in)."""
    _ARGS = (2.0, "fan_in", "truncated_normal")


class HeUniform(_FixedVarianceScaling):
    """Uniform on +-sqrt(6 / fan_in)."""
    _ARGS = (2.0, "fan_in", "uniform")


class Orthogonal(RandomInitializer):
    """An orthogonal matrix (QR of a normal draw, signs fixed by diag(R)) times `gain`.

    Shapes of rank > 2 are flattened to (prod(shape[:-1]), shape[-1]) and reshaped back.
    """

    def __init__(self, gain=1.0, seed=None):
        self.gain = gain
        super().__init__(seed)

    def __call__(self, shape, dtype=None):
        shape = tuple(shape)
        if len(shape) < 2:
            raise ValueError(f"The tensor to initialize must be at least two-dimensional. Received: shape={shape} of rank {len(shape)}.")
        rows, cols = int(np.prod(shape[:-1])), shape[-1]
        flat = (max(rows, cols), min(rows, cols))
        a = np.asarray(K.random.normal(flat, mean=0.0, stddev=1.0, dtype=np.float32, seed=self.seed), dtype=np.float64)
        q, r = np.linalg.qr(a)
        q = q * np.sign(np.diag(r))
        if rows < cols:
            q = q.T
        return K.convert_to_tensor((self.gain * q.reshape(shape)).astype(_dtype(dtype)))

    def get_config(self):
        return {"seed": super().get_config()["seed"], "gain": self.gain}


OrthogonalInitializer = Orthogonal


def _snake(name):
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


_CLASSES = [Constant, Zeros, Ones, Identity, RandomNormal, TruncatedNormal, RandomUniform, VarianceScaling,
            GlorotUniform, GlorotNormal, LecunNormal, LecunUniform, HeNormal, HeUniform, Orthogonal]
ALL_OBJECTS_DICT = {cls.__name__: cls for cls in _CLASSES}
ALL_OBJECTS_DICT.update({_snake(cls.__name__): cls for cls in _CLASSES})
ALL_OBJECTS_DICT.update({"IdentityInitializer": Identity, "OrthogonalInitializer": Orthogonal, "normal": RandomNormal,
                         "uniform": RandomUniform, "one": Ones, "zero": Zeros, "random_normal": RandomNormal,
                         "random_uniform": RandomUniform, "truncated_normal": TruncatedNormal})

# Lower-case function-style aliases, as `keras.initializers.glorot_uniform` etc.
constant, zeros, ones, identity = Constant, Zeros, Ones, Identity
random_normal, truncated_normal, random_uniform, variance_scaling = RandomNormal, TruncatedNormal, RandomUniform, VarianceScaling
glorot_uniform, glorot_normal, lecun_normal, lecun_uniform = GlorotUniform, GlorotNormal, LecunNormal, LecunUniform
he_normal, he_uniform, orthogonal = HeNormal, HeUniform, Orthogonal


def serialize(initializer):
    """Keras 3's dict form {"module", "class_name", "config", "registered_name"}."""
    return serialize_keras_object(initializer, _MODULE)


def deserialize(config, custom_objects=None):
    return deserialize_keras_object(config, ALL_OBJECTS_DICT, custom_objects, kind="initializer")


def get(identifier):
    """An Initializer from None, a name ("glorot_uniform"), a config dict, an instance or a callable.

    Raises ValueError for an unknown name: "Unknown initializer: 'foo'".
    """
    if identifier is None:
        return None
    if isinstance(identifier, Initializer):
        return identifier
    if isinstance(identifier, (str, dict)):
        return deserialize(identifier)
    if isinstance(identifier, type) and issubclass(identifier, Initializer):
        return identifier()
    if callable(identifier):
        return identifier
    raise ValueError(f"Could not interpret initializer identifier: {identifier!r}")

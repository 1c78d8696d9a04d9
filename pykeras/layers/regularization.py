"""Noise layers active only in training: GaussianNoise, GaussianDropout, AlphaDropout,
SpatialDropout1D/2D/3D (Dropout and ActivityRegularization live in core.py).

Each is the identity unless called with training=True (as fit does). Random draws come from the
layer's SeedGenerator: an int `seed` makes a layer's sequence of masks reproducible. Spatial
dropout drops whole channels (one draw per sample and channel, shared over the spatial axes of
channels_last data). AlphaDropout keeps the mean and variance of SELU activations: dropped units
take SELU's negative saturation value and the result is scaled and shifted back, as Keras does.
"""
import math

import numpy as np

from pykeras import backend as K
from pykeras.layers.argument_validation import channels_last_only
from pykeras.layers.core import Dropout
from pykeras.layers.input_spec import InputSpec
from pykeras.layers.layer import Layer


def _check_unit_interval(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) or \
            not 0 <= value <= 1:
        raise ValueError(f"Invalid value received for argument `{name}`. Expected a float value between 0 and 1. "
                         f"Received: {name}={value!r}")
    return float(value)


class _Noise(Layer):
    def __init__(self, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.seed = seed
        self.seed_generator = K.random.SeedGenerator(seed)
        self.supports_masking = True

    def compute_output_shape(self, input_shape):
        return input_shape


class GaussianNoise(_Noise):
    """Adds zero-centred Gaussian noise of standard deviation `stddev` in training.

    Args:
        stddev: float in [0, 1].
        seed: int for reproducible noise.
    """

    def __init__(self, stddev, seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.stddev = _check_unit_interval("stddev", stddev)

    def call(self, inputs, training=False):
        if training and self.stddev > 0:
            noise = K.random.normal(tuple(inputs.shape), mean=0.0, stddev=self.stddev, dtype=inputs.dtype,
                                    seed=self.seed_generator)
            return inputs + noise
        return inputs

    def get_config(self):
        config = super().get_config()
        config.update({"stddev": self.stddev, "seed": self.seed})
        return config


class GaussianDropout(_Noise):
    """Multiplies by Gaussian noise of mean 1 and standard deviation sqrt(rate / (1 - rate)) in training.

    Args:
        rate: float in [0, 1], the drop probability of the equivalent Dropout.
        seed: int for reproducible noise.
    """

    def __init__(self, rate, seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.rate = _check_unit_interval("rate", rate)

    def call(self, inputs, training=False):
        if training and 0 < self.rate < 1:
            stddev = math.sqrt(self.rate / (1.0 - self.rate))
            noise = K.random.normal(tuple(inputs.shape), mean=1.0, stddev=stddev, dtype=inputs.dtype,
                                    seed=self.seed_generator)
            return inputs * noise
        return inputs

    def get_config(self):
        config = super().get_config()
        config.update({"rate": self.rate, "seed": self.seed})
        return config


# SELU's constants: alpha and scale of selu(x) = scale * (x if x > 0 else alpha * (exp(x) - 1)).
_SELU_ALPHA = 1.6732632423543772
_SELU_SCALE = 1.0507009873554805


class AlphaDropout(_Noise):
    """Dropout for self-normalizing (SELU) networks: keeps the inputs' mean and variance.

    Args:
        rate: float in [0, 1], the drop probability.
        noise_shape: shape of the drop mask (None entries take the input's size).
        seed: int for reproducible masks.
    """

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.rate = _check_unit_interval("rate", rate)
        self.noise_shape = None if noise_shape is None else tuple(noise_shape)

    def call(self, inputs, training=False):
        if not training or self.rate <= 0:
            return inputs
        shape = tuple(inputs.shape)
        noise_shape = shape if self.noise_shape is None else \
            tuple(shape[i] if d is None else int(d) for i, d in enumerate(self.noise_shape))
        kept = np.asarray(K.random.uniform(noise_shape, seed=self.seed_generator)) >= self.rate
        kept = np.broadcast_to(kept, shape).astype(inputs.dtype)
        alpha_p = -_SELU_ALPHA * _SELU_SCALE
        a = ((1 - self.rate) * (1 + self.rate * alpha_p ** 2)) ** -0.5
        b = -a * alpha_p * self.rate
        # a * (x * kept + alpha_p * (1 - kept)) + b, with constants folded in numpy.
        return inputs * (a * kept) + (a * alpha_p * (1.0 - kept) + b).astype(inputs.dtype)

    def get_config(self):
        config = super().get_config()
        config.update({"rate": self.rate, "seed": self.seed,
                       "noise_shape": None if self.noise_shape is None else list(self.noise_shape)})
        return config


class _SpatialDropout(Dropout):
    rank = None

    def __init__(self, rate, data_format=None, seed=None, **kwargs):
        super().__init__(rate, seed=seed, **kwargs)
        self.data_format = channels_last_only(data_format)
        self.input_spec = InputSpec(ndim=self.rank + 2)

    def _noise_shape(self, inputs):
        shape = tuple(inputs.shape)
        return (shape[0],) + (1,) * self.rank + (shape[-1],)

    def get_config(self):
        # Keras's spatial dropouts take no `trainable` argument, so their config has none.
        config = {"name": self.name, "dtype": self.dtype_policy, "rate": self.rate, "seed": self.seed}
        if self.rank > 1:
            config["data_format"] = self.data_format
        return config


class SpatialDropout1D(_SpatialDropout):
    """Drops whole channels of (batch, steps, channels) inputs in training (rate in [0, 1])."""

    rank = 1

    def __init__(self, rate, seed=None, **kwargs):
        super().__init__(rate, seed=seed, **kwargs)


class SpatialDropout2D(_SpatialDropout):
    """Drops whole feature maps of (batch, h, w, channels) inputs in training.

    Args: rate (float in [0, 1]), data_format ("channels_last" only), seed.
    """

    rank = 2


class SpatialDropout3D(_SpatialDropout):
    """Drops whole feature volumes of (batch, d1, d2, d3, channels) inputs in training.

    Args: rate (float in [0, 1]), data_format ("channels_last" only), seed.
    """

    rank = 3

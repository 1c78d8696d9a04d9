"""Activation layers with arguments: LeakyReLU, PReLU, ELU, ThresholdedReLU, ReLU, Softmax.

Each applies the backend's activation op (one recorded op, its gradient in the backend), keeps
the input's shape and passes masks through. PReLU learns its negative slope `alpha` (shape of
the input without the batch axis, size 1 along `shared_axes`). Softmax with a mask gives masked
positions a large negative logit and a probability of exactly 0, as Keras 3 does.
"""
import warnings

import numpy as np

from pykeras import backend as K
from pykeras import constraints, initializers, regularizers
from pykeras.layers.input_spec import InputSpec
from pykeras.layers.layer import Layer


def _check_non_negative(layer, name, value):
    if value is None or isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or value < 0:
        raise ValueError(f"The {name} value of a {layer} layer cannot be None or negative. Expected a float. "
                         f"Received: {name}={value!r}")
    return float(value)


class _ElementwiseActivation(Layer):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def compute_output_shape(self, input_shape):
        return input_shape


class LeakyReLU(_ElementwiseActivation):
    """x for x >= 0, negative_slope * x otherwise.

    Args:
        negative_slope: float >= 0 (default 0.3). Keras 2's `alpha` is accepted as its old name.
    """

    def __init__(self, negative_slope=0.3, **kwargs):
        if "alpha" in kwargs:
            negative_slope = kwargs.pop("alpha")
            warnings.warn("Argument `alpha` is deprecated. Use `negative_slope` instead.", stacklevel=2)
        super().__init__(**kwargs)
        self.negative_slope = _check_non_negative("LeakyReLU", "negative_slope", negative_slope)

    def call(self, inputs):
        return K.nn.leaky_relu(inputs, negative_slope=self.negative_slope)

    def get_config(self):
        config = super().get_config()
        config["negative_slope"] = self.negative_slope
        return config


class ELU(_ElementwiseActivation):
    """x for x > 0, alpha * (exp(x) - 1) otherwise.

    Args:
        alpha: scale of the negative part (default 1.0).
    """

    def __init__(self, alpha=1.0, **kwargs):
        super().__init__(**kwargs)
        self.alpha = float(alpha)

    def call(self, inputs):
        return K.nn.elu(inputs, alpha=self.alpha)

    def get_config(self):
        config = super().get_config()
        config["alpha"] = self.alpha
        return config


class ThresholdedReLU(_ElementwiseActivation):
    """x for x > theta, 0 otherwise (the Keras 2 layer).

    Args:
        theta: float >= 0 (default 1.0).
    """

    def __init__(self, theta=1.0, **kwargs):
        super().__init__(**kwargs)
        self.theta = _check_non_negative("ThresholdedReLU", "theta", theta)

    def call(self, inputs):
        return K.nn.threshold(inputs, self.theta, 0.0)

    def get_config(self):
        config = super().get_config()
        config["theta"] = self.theta
        return config


class ReLU(_ElementwiseActivation):
    """Rectified linear unit with Keras's options:
    max_value if x >= max_value, x if threshold <= x < max_value,
    negative_slope * (x - threshold) otherwise.

    Args:
        max_value: float >= 0 or None (no saturation; default).
        negative_slope: float >= 0 (default 0).
        threshold: float >= 0 (default 0).
    """

    def __init__(self, max_value=None, negative_slope=0.0, threshold=0.0, **kwargs):
        super().__init__(**kwargs)
        if max_value is not None:
            if isinstance(max_value, bool) or not isinstance(max_value, (int, float, np.integer, np.floating)) or \
                    max_value < 0:
                raise ValueError(f"max_value of a ReLU layer cannot be a negative value. Received: "
                                 f"max_value={max_value!r}")
            max_value = float(max_value)
        self.max_value = max_value
        self.negative_slope = _check_non_negative("ReLU", "negative_slope", negative_slope)
        self.threshold = _check_non_negative("ReLU", "threshold", threshold)

    def call(self, inputs):
        return K.nn.relu(inputs, negative_slope=self.negative_slope, max_value=self.max_value,
                         threshold=self.threshold)

    def get_config(self):
        config = super().get_config()
        config.update({"max_value": self.max_value, "negative_slope": self.negative_slope,
                       "threshold": self.threshold})
        return config


class PReLU(Layer):
    """Parametric ReLU: x for x >= 0, alpha * x otherwise, with alpha learned.

    Args:
        alpha_initializer: default "zeros" (starts as a ReLU).
        alpha_regularizer / alpha_constraint: optional.
        shared_axes: axes (1-based, the batch axis being 0) along which one alpha is shared, e.g.
            [1, 2] for one slope per channel of a (batch, h, w, c) input.

    Weight: alpha, the input shape without the batch axis with 1 along shared_axes.
    """

    def __init__(self, alpha_initializer="Zeros", alpha_regularizer=None, alpha_constraint=None, shared_axes=None,
                 **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True
        self.alpha_initializer = initializers.get(alpha_initializer)
        self.alpha_regularizer = regularizers.get(alpha_regularizer)
        self.alpha_constraint = constraints.get(alpha_constraint)
        if shared_axes is None:
            self.shared_axes = None
        elif isinstance(shared_axes, (list, tuple)):
            self.shared_axes = [int(a) for a in shared_axes]
        else:
            self.shared_axes = [int(shared_axes)]

    def build(self, input_shape):
        rank = len(input_shape)
        param_shape = list(input_shape[1:])
        for axis in self.shared_axes or ():
            if not 1 <= axis < rank:
                raise ValueError(f"Layer '{self.name}' (PReLU): shared_axes must be in [1, {rank - 1}] for inputs of "
                                 f"shape {tuple(input_shape)}. Received: shared_axes={self.shared_axes}")
            param_shape[axis - 1] = 1
        if any(d is None for d in param_shape):
            raise ValueError(f"Layer '{self.name}' (PReLU): every axis that is not shared must have a known size. "
                             f"Received input shape {tuple(input_shape)} with shared_axes={self.shared_axes}")
        self.alpha = self.add_weight(name="alpha", shape=tuple(param_shape), initializer=self.alpha_initializer,
                                     regularizer=self.alpha_regularizer, constraint=self.alpha_constraint)
        axes = {i: input_shape[i] for i in range(1, rank) if i not in (self.shared_axes or ())}
        self.input_spec = InputSpec(ndim=rank, axes=axes)

    def call(self, inputs):
        return K.maximum(inputs, 0.0) + self.alpha * K.minimum(inputs, 0.0)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update({
            "alpha_initializer": initializers.serialize(self.alpha_initializer),
            "alpha_regularizer": regularizers.serialize(self.alpha_regularizer),
            "alpha_constraint": constraints.serialize(self.alpha_constraint),
            "shared_axes": self.shared_axes,
        })
        return config


def _large_negative(dtype):
    return -30000.0 if np.dtype(dtype) == np.float16 else -1e9


class Softmax(_ElementwiseActivation):
    """Softmax over `axis` (an int, or a list of axes normalized together).

    Args:
        axis: default -1.

    call(inputs, mask=None): mask (broadcastable to the inputs from the right; non-boolean masks
    count where > 0.5) marks the positions that take part; the others get probability 0.
    """

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        if isinstance(axis, (list, tuple)):
            axis = [int(a) for a in axis]
        elif isinstance(axis, (int, np.integer)) and not isinstance(axis, bool):
            axis = int(axis)
        else:
            raise ValueError(f"Argument `axis` must be an int or a list of ints. Received: axis={axis!r}")
        self.axis = axis

    def call(self, inputs, mask=None):
        if mask is not None:
            m = np.asarray(K.convert_to_numpy(mask))
            shape = tuple(inputs.shape)
            if m.ndim > len(shape) or any(md != 1 and md != d for md, d in zip(m.shape[::-1], shape[::-1])):
                raise ValueError(f"Layer '{self.name}' (Softmax): the `mask` must be broadcastable to `inputs`. "
                                 f"Received: inputs.shape={shape}, mask.shape={m.shape}")
            m = m if m.dtype == np.bool_ else m > 0.5
            inputs = K.where(m, inputs, _large_negative(inputs.dtype))
        axis = self.axis
        if isinstance(axis, list):
            axis = axis[0] if len(axis) == 1 else tuple(axis)
        outputs = K.nn.softmax(inputs, axis=axis)
        if mask is not None:
            outputs = K.where(m, outputs, 0.0)
        return outputs

    def get_config(self):
        config = super().get_config()
        config["axis"] = self.axis
        return config

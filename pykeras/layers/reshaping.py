"""Spatial reshaping layers: Cropping1D/2D/3D, ZeroPadding1D/2D/3D, UpSampling1D/2D/3D.

Data is channels_last, (batch, *spatial, channels). Cropping removes (start, end) entries per
spatial axis (a slice, whose gradient scatters back), ZeroPadding adds zeros (the backend's pad),
UpSampling repeats each entry `size` times per axis ("nearest"); UpSampling2D also interpolates
with interpolation="bilinear" (half-pixel centres, as keras.ops.image.resize). Amounts are given
as Keras accepts them: an int (the same on every side), a tuple with one int per axis (symmetric),
or a tuple of (start, end) pairs.
"""
from pykeras import backend as K
from pykeras.layers.argument_validation import channels_last_only, standardize_tuple
from pykeras.layers.input_spec import InputSpec
from pykeras.layers.layer import Layer


def _pairs(value, rank, name):
    """Keras's int / (a, b, ...) / ((a0, a1), (b0, b1), ...) forms as rank (start, end) pairs."""
    if rank == 1:
        return (standardize_tuple(value, 2, name, allow_zero=True),)
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 0:
            raise ValueError(f"`{name}` cannot be negative. Received: {name}={value}.")
        return ((value, value),) * rank
    if not hasattr(value, "__len__") or len(value) != rank:
        raise ValueError(f"`{name}` should be either an int, a tuple of {rank} ints, or a tuple of {rank} tuples of 2 "
                         f"ints ((start, end) per spatial axis). Received: {name}={value!r}.")
    ordinal = ("1st", "2nd", "3rd")
    return tuple(standardize_tuple(v, 2, f"{ordinal[i]} entry of {name}", allow_zero=True) for i, v in enumerate(value))


def _config_pairs(pairs):
    return pairs[0] if len(pairs) == 1 else pairs


class _Cropping(Layer):
    rank = None

    def __init__(self, cropping, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.cropping = _pairs(cropping, self.rank, "cropping")
        self.data_format = channels_last_only(data_format)
        self.input_spec = InputSpec(ndim=self.rank + 2)

    def _check(self, input_shape):
        for n, (lo, hi) in zip(input_shape[1:-1], self.cropping):
            if n is not None and lo + hi >= n:
                raise ValueError(f"Layer '{self.name}' ({type(self).__name__}): values in `cropping` should be "
                                 f"smaller than the corresponding spatial dimension of the input. Received: "
                                 f"input_shape={tuple(input_shape)}, cropping={_config_pairs(self.cropping)}")

    def compute_output_shape(self, input_shape):
        self._check(input_shape)
        spatial = tuple(None if n is None else n - lo - hi for n, (lo, hi) in zip(input_shape[1:-1], self.cropping))
        return (input_shape[0],) + spatial + (input_shape[-1],)

    def call(self, inputs):
        shape = tuple(inputs.shape)
        self._check(shape)
        key = (slice(None),) + tuple(slice(lo, n - hi) for n, (lo, hi) in zip(shape[1:-1], self.cropping))
        return inputs[key]

    def get_config(self):
        config = super().get_config()
        config["cropping"] = _config_pairs(self.cropping)
        if self.rank > 1:
            config["data_format"] = self.data_format
        return config


class Cropping1D(_Cropping):
    """Crops the steps axis: (batch, steps, c) -> (batch, steps - start - end, c).

    Args:
        cropping: int (both ends) or (start, end) (default (1, 1)).
    """

    rank = 1

    def __init__(self, cropping=(1, 1), **kwargs):
        super().__init__(cropping, **kwargs)


class Cropping2D(_Cropping):
    """Crops rows and columns: (batch, h, w, c) -> (batch, h - top - bottom, w - left - right, c).

    Args:
        cropping: int, (symmetric_height, symmetric_width) or ((top, bottom), (left, right))
            (default ((0, 0), (0, 0))).
        data_format: "channels_last" only.
    """

    rank = 2

    def __init__(self, cropping=((0, 0), (0, 0)), data_format=None, **kwargs):
        super().__init__(cropping, data_format, **kwargs)


class Cropping3D(_Cropping):
    """Crops the three spatial axes of (batch, d1, d2, d3, c).

    Args:
        cropping: int, 3 ints or 3 (start, end) pairs (default ((1, 1), (1, 1), (1, 1))).
        data_format: "channels_last" only.
    """

    rank = 3

    def __init__(self, cropping=((1, 1), (1, 1), (1, 1)), data_format=None, **kwargs):
        super().__init__(cropping, data_format, **kwargs)


# ------------------------------------------------------------------------------------------------

class _ZeroPadding(Layer):
    rank = None

    def __init__(self, padding, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.padding = _pairs(padding, self.rank, "padding")
        self.data_format = channels_last_only(data_format)
        self.input_spec = InputSpec(ndim=self.rank + 2)
        self._pad_width = ((0, 0),) + self.padding + ((0, 0),)

    def compute_output_shape(self, input_shape):
        spatial = tuple(None if n is None else n + lo + hi for n, (lo, hi) in zip(input_shape[1:-1], self.padding))
        return (input_shape[0],) + spatial + (input_shape[-1],)

    def call(self, inputs):
        return K.pad(inputs, self._pad_width)

    def get_config(self):
        config = super().get_config()
        config.update({"padding": _config_pairs(self.padding), "data_format": self.data_format})
        return config


class ZeroPadding1D(_ZeroPadding):
    """Adds zeros before and after the steps: (batch, steps, c) -> (batch, steps + start + end, c).

    Args:
        padding: int (both ends, default 1) or (start, end).
        data_format: "channels_last" only.
    """

    rank = 1

    def __init__(self, padding=1, data_format=None, **kwargs):
        super().__init__(padding, data_format, **kwargs)


class ZeroPadding2D(_ZeroPadding):
    """Adds rows and columns of zeros: (batch, h, w, c) -> (batch, h + top + bottom, w + left + right, c).

    Args:
        padding: int, (symmetric_height, symmetric_width) (default (1, 1)) or
            ((top, bottom), (left, right)).
        data_format: "channels_last" only.
    """

    rank = 2

    def __init__(self, padding=(1, 1), data_format=None, **kwargs):
        super().__init__(padding, data_format, **kwargs)


class ZeroPadding3D(_ZeroPadding):
    """Adds zeros around the three spatial axes of (batch, d1, d2, d3, c).

    Args:
        padding: int, 3 ints or 3 (start, end) pairs (default ((1, 1), (1, 1), (1, 1))).
        data_format: "channels_last" only.
    """

    rank = 3

    def __init__(self, padding=((1, 1), (1, 1), (1, 1)), data_format=None, **kwargs):
        super().__init__(padding, data_format, **kwargs)


# ------------------------------------------------------------------------------------------------

class _UpSampling(Layer):
    rank = None

    def __init__(self, size, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.size = standardize_tuple(size, self.rank, "size")
        self.data_format = channels_last_only(data_format)
        self.input_spec = InputSpec(ndim=self.rank + 2)

    def compute_output_shape(self, input_shape):
        spatial = tuple(None if n is None else n * f for n, f in zip(input_shape[1:-1], self.size))
        return (input_shape[0],) + spatial + (input_shape[-1],)

    def call(self, inputs):
        outputs = inputs
        for axis, factor in enumerate(self.size, start=1):
            if factor != 1:
                outputs = K.repeat_elements(outputs, factor, axis)
        return outputs

    def get_config(self):
        config = super().get_config()
        config.update({"size": self.size, "data_format": self.data_format})
        return config


class UpSampling1D(_UpSampling):
    """Repeats each step `size` times: (batch, steps, c) -> (batch, steps * size, c).

    Args:
        size: positive int (default 2).
    """

    rank = 1

    def __init__(self, size=2, **kwargs):
        if isinstance(size, bool) or not isinstance(size, int):
            raise TypeError(f"Expected an integer value for `size`, got {type(size).__name__}.")
        if size <= 0:
            raise ValueError(f"Argument `size` should be a positive integer. Received: size={size}")
        super().__init__(size, **kwargs)

    def get_config(self):
        config = super().get_config()
        config["size"] = self.size[0]
        del config["data_format"]
        return config


class UpSampling2D(_UpSampling):
    """Upsamples rows and columns by integer factors: (batch, h, w, c) -> (batch, h * sh, w * sw, c).

    Args:
        size: int or (sh, sw) (default (2, 2)).
        data_format: "channels_last" only.
        interpolation: "nearest" (repeat each pixel, the default) or "bilinear".
    """

    rank = 2

    def __init__(self, size=(2, 2), data_format=None, interpolation="nearest", **kwargs):
        super().__init__(size, data_format, **kwargs)
        interpolation = str(interpolation).lower()
        if interpolation not in ("nearest", "bilinear"):
            raise ValueError(f"`interpolation` argument should be one of ('nearest', 'bilinear'). "
                             f"Received: interpolation={interpolation!r}")
        self.interpolation = interpolation

    def call(self, inputs):
        if self.interpolation == "nearest":
            return super().call(inputs)
        _, h, w, _ = inputs.shape
        return K.resize(inputs, (h * self.size[0], w * self.size[1]), interpolation="bilinear")

    def get_config(self):
        config = super().get_config()
        config["interpolation"] = self.interpolation
        return config


class UpSampling3D(_UpSampling):
    """Repeats entries along the three spatial axes of (batch, d1, d2, d3, c).

    Args:
        size: int or 3 ints (default (2, 2, 2)).
        data_format: "channels_last" only.
    """

    rank = 3

    def __init__(self, size=(2, 2, 2), data_format=None, **kwargs):
        super().__init__(size, data_format, **kwargs)

"""Pooling layers: MaxPooling1D/2D/3D, AveragePooling1D/2D/3D and the global poolings.

Data is channels_last, (batch, *spatial, channels). Windowed pooling runs the backend's
max_pool / average_pool ops; strides default to pool_size; 'valid' gives
floor((n - pool) / stride) + 1 outputs per axis, 'same' ceil(n / stride) (windows at the edges
only count the real inputs, for averages too, as Keras). Global pooling reduces every spatial
axis (keepdims keeps them as size-1 axes); GlobalAveragePooling1D averages only the unmasked
steps when its input carries a mask, as Keras does.
"""
import numpy as np

from pykeras import backend as K
from pykeras.layers.argument_validation import (channels_last_only, conv_output_length, standardize_padding,
                                                standardize_tuple)
from pykeras.layers.input_spec import InputSpec
from pykeras.layers.layer import Layer


class _Pooling(Layer):
    """Windowed max or average pooling over `rank` spatial axes."""

    rank = None
    pool_mode = None

    def __init__(self, pool_size=2, strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.pool_size = standardize_tuple(pool_size, self.rank, "pool_size")
        self.strides = self.pool_size if strides is None else standardize_tuple(strides, self.rank, "strides")
        self.padding = standardize_padding(padding)
        self.data_format = channels_last_only(data_format)
        self.input_spec = InputSpec(ndim=self.rank + 2)

    def build(self, input_shape):
        self.compute_output_shape(input_shape)  # rejects windows larger than a 'valid' input

    def call(self, inputs):
        op = K.nn.max_pool if self.pool_mode == "max" else K.nn.average_pool
        try:
            return op(inputs, self.pool_size, self.strides, self.padding)
        except ValueError as e:
            raise ValueError(f"Layer '{self.name}' ({type(self).__name__}) cannot pool an input of shape "
                             f"{tuple(inputs.shape)} with pool_size={self.pool_size}, strides={self.strides}, "
                             f"padding={self.padding!r}: {e}") from None

    def compute_output_shape(self, input_shape):
        spatial = tuple(conv_output_length(n, p, self.padding, s) for n, p, s in
                        zip(input_shape[1:-1], self.pool_size, self.strides))
        if any(d is not None and d <= 0 for d in spatial):
            raise ValueError(f"Layer '{self.name}' ({type(self).__name__}): computed output size would be zero or "
                             f"negative. Received: inputs.shape={tuple(input_shape)}, pool_size={self.pool_size}, "
                             f"strides={self.strides}, padding={self.padding!r}.")
        return (input_shape[0],) + spatial + (input_shape[-1],)

    def get_config(self):
        config = super().get_config()
        config.update({"pool_size": self.pool_size, "padding": self.padding, "strides": self.strides,
                       "data_format": self.data_format})
        return config


class MaxPooling1D(_Pooling):
    """Max over windows of `pool_size` steps: (batch, steps, c) -> (batch, new_steps, c).

    Args:
        pool_size: int (default 2). strides: int or None (default: pool_size).
        padding: "valid" or "same". data_format: "channels_last" only.
    """

    rank, pool_mode = 1, "max"


class MaxPooling2D(_Pooling):
    """Max over pool_size windows (default (2, 2)): (batch, h, w, c) -> (batch, new_h, new_w, c).

    Args as MaxPooling1D with 2-tuples.
    """

    rank, pool_mode = 2, "max"

    def __init__(self, pool_size=(2, 2), strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(pool_size, strides, padding, data_format, **kwargs)


class MaxPooling3D(_Pooling):
    """Max over pool_size windows (default (2, 2, 2)) of (batch, d, h, w, c) inputs.

    Args as MaxPooling1D with 3-tuples.
    """

    rank, pool_mode = 3, "max"

    def __init__(self, pool_size=(2, 2, 2), strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(pool_size, strides, padding, data_format, **kwargs)


class AveragePooling1D(_Pooling):
    """Mean over windows of `pool_size` steps (with 'same', edge windows average their real inputs).

    Args as MaxPooling1D.
    """

    rank, pool_mode = 1, "average"


class AveragePooling2D(_Pooling):
    """Mean over pool_size windows (default (2, 2)) of (batch, h, w, c) inputs. Args as MaxPooling2D."""

    rank, pool_mode = 2, "average"

    def __init__(self, pool_size=(2, 2), strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(pool_size, strides, padding, data_format, **kwargs)


class AveragePooling3D(_Pooling):
    """Mean over pool_size windows (default (2, 2, 2)) of (batch, d, h, w, c) inputs."""

    rank, pool_mode = 3, "average"

    def __init__(self, pool_size=(2, 2, 2), strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(pool_size, strides, padding, data_format, **kwargs)


# ------------------------------------------------------------------------------------------------
# Global pooling

class _GlobalPooling(Layer):
    """Reduces every spatial axis: (batch, *spatial, c) -> (batch, c) or (batch, 1, ..., 1, c)."""

    rank = None

    def __init__(self, data_format=None, keepdims=False, **kwargs):
        super().__init__(**kwargs)
        self.data_format = channels_last_only(data_format)
        self.keepdims = bool(keepdims)
        self.input_spec = InputSpec(ndim=self.rank + 2)
        self._axes = tuple(range(1, self.rank + 1))

    def compute_output_shape(self, input_shape):
        if self.keepdims:
            return (input_shape[0],) + (1,) * self.rank + (input_shape[-1],)
        return (input_shape[0], input_shape[-1])

    def get_config(self):
        config = super().get_config()
        config.update({"data_format": self.data_format, "keepdims": self.keepdims})
        return config


class _GlobalMaxPooling(_GlobalPooling):
    def call(self, inputs):
        return K.max(inputs, axis=self._axes, keepdims=self.keepdims)


class _GlobalAveragePooling(_GlobalPooling):
    def call(self, inputs):
        return K.mean(inputs, axis=self._axes, keepdims=self.keepdims)


class GlobalMaxPooling1D(_GlobalMaxPooling):
    """Max over the steps: (batch, steps, c) -> (batch, c) (keepdims: (batch, 1, c)).

    Args: data_format ("channels_last" only), keepdims (default False).
    """

    rank = 1


class GlobalMaxPooling2D(_GlobalMaxPooling):
    """Max over height and width: (batch, h, w, c) -> (batch, c) (keepdims: (batch, 1, 1, c))."""

    rank = 2


class GlobalMaxPooling3D(_GlobalMaxPooling):
    """Max over the three spatial axes: (batch, d, h, w, c) -> (batch, c)."""

    rank = 3


class GlobalAveragePooling1D(_GlobalAveragePooling):
    """Mean over the steps: (batch, steps, c) -> (batch, c) (keepdims: (batch, 1, c)).

    With a mask (batch, steps) on the input (e.g. from Embedding(mask_zero=True)) only the
    unmasked steps are averaged; the output carries no mask.
    """

    rank = 1

    def __init__(self, data_format=None, keepdims=False, **kwargs):
        super().__init__(data_format=data_format, keepdims=keepdims, **kwargs)
        self.supports_masking = True

    def call(self, inputs, mask=None):
        if mask is None:
            return K.mean(inputs, axis=1, keepdims=self.keepdims)
        m = np.asarray(K.convert_to_numpy(mask)).astype(bool)
        if m.shape != tuple(inputs.shape[:2]):
            raise ValueError(f"Layer '{self.name}': the mask of shape {m.shape} does not match the (batch, steps) "
                             f"axes of the input of shape {tuple(inputs.shape)}")
        weights = m.astype(inputs.dtype)[:, :, None]
        total = K.sum(K.where(m[:, :, None], inputs, 0.0), axis=1, keepdims=self.keepdims)
        count = weights.sum(axis=1, keepdims=self.keepdims)
        return total / count

    def compute_mask(self, inputs, mask=None):
        return None


class GlobalAveragePooling2D(_GlobalAveragePooling):
    """Mean over height and width: (batch, h, w, c) -> (batch, c) (keepdims: (batch, 1, 1, c))."""

    rank = 2


class GlobalAveragePooling3D(_GlobalAveragePooling):
    """Mean over the three spatial axes: (batch, d, h, w, c) -> (batch, c)."""

    rank = 3


# Keras's alternative names.
MaxPool1D, MaxPool2D, MaxPool3D = MaxPooling1D, MaxPooling2D, MaxPooling3D
AvgPool1D, AvgPool2D, AvgPool3D = AveragePooling1D, AveragePooling2D, AveragePooling3D
GlobalMaxPool1D, GlobalMaxPool2D, GlobalMaxPool3D = GlobalMaxPooling1D, GlobalMaxPooling2D, GlobalMaxPooling3D
GlobalAvgPool1D, GlobalAvgPool2D, GlobalAvgPool3D = (GlobalAveragePooling1D, GlobalAveragePooling2D,
                                                     GlobalAveragePooling3D)

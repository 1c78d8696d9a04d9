"""Argument checks shared by the spatial layer families (convolution, pooling, reshaping).

Keras spells a window, stride or padding as an int or a tuple; these helpers turn both into
tuples and raise the ValueErrors Keras raises for bad values. The spatial layers work on
channels_last data only: `channels_last_only` rejects "channels_first" with a message that says
how to proceed, instead of silently transposing on every call.
"""
import numpy as np

from pykeras import backend as K


def _is_int(v):
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool)


def standardize_tuple(value, n, name, allow_zero=False):
    """An int or a sequence of n ints as a tuple of n ints (>= 1, or >= 0 with allow_zero)."""
    if _is_int(value):
        out = (int(value),) * n
    else:
        try:
            out = tuple(value)
        except TypeError:
            raise ValueError(f"The `{name}` argument must be a tuple of {n} integers. Received {name}={value!r}") \
                from None
        if len(out) != n or not all(_is_int(v) for v in out):
            raise ValueError(f"The `{name}` argument must be a tuple of {n} integers. Received {name}={value!r}")
        out = tuple(int(v) for v in out)
    lowest = 0 if allow_zero else 1
    bad = [v for v in out if v < lowest]
    if bad:
        condition = "value >= 0" if allow_zero else "value > 0"
        raise ValueError(f"The `{name}` argument must be a tuple of {n} integers. Received {name}={value!r}, "
                         f"including values {bad} that do not satisfy `{condition}`")
    return out


def standardize_padding(padding, allow_causal=False):
    """'valid' / 'same' (and 'causal' where allowed), case-insensitive."""
    p = padding.lower() if isinstance(padding, str) else padding
    allowed = ("valid", "same", "causal") if allow_causal else ("valid", "same")
    if p not in allowed:
        extra = " or causal (only for `Conv1D`)" if allow_causal else ""
        raise ValueError(f"The `padding` argument must be one of 'valid', 'same'{extra}. Received: padding={padding!r}")
    return p


def channels_last_only(data_format):
    """The layer's data_format ("channels_last"); ValueError for "channels_first"."""
    df = K.common.standardize_data_format(data_format)
    if df != "channels_last":
        raise ValueError("pykeras layers take channels_last data (batch, *spatial, channels) only. "
                         f"Received: data_format={data_format!r} (image_data_format()={K.image_data_format()!r}); "
                         "transpose the inputs with keras.layers.Permute or pass data_format='channels_last'.")
    return df


def conv_output_length(length, window, padding, stride, dilation=1):
    """Keras's output length of a convolution/pooling window along one axis (None stays None)."""
    if length is None:
        return None
    dk = (window - 1) * dilation + 1
    if padding == "valid":
        return (length - dk) // stride + 1
    return (length - 1) // stride + 1  # 'same' and 'causal'


def conv_transpose_output_length(length, window, padding, output_padding, stride, dilation=1):
    """Keras's output length of a transposed convolution along one axis (None stays None)."""
    if length is None:
        return None
    dk = (window - 1) * dilation + 1
    if padding == "valid":
        extra = max(dk, stride) - dk if output_padding is None else output_padding
        return (length - 1) * stride + dk + extra
    if output_padding is None:
        return length * stride
    return (length - 1) * stride + dk % 2 + output_padding

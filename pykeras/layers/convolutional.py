"""Convolution layers: Conv1D/2D/3D, SeparableConv1D/2D, DepthwiseConv1D/2D, Conv1D/2D/3DTranspose.

Data is channels_last, (batch, *spatial, channels). Kernels use Keras's layouts and weight names,
so Keras weights load unchanged:
  Conv{1,2,3}D            kernel (*kernel_size, in_channels // groups, filters), bias (filters,)
  DepthwiseConv{1,2}D     kernel (*kernel_size, in_channels, depth_multiplier),
                          bias (in_channels * depth_multiplier,); output channel c * mult + m
  SeparableConv{1,2}D     depthwise_kernel (*kernel_size, in_channels, depth_multiplier),
                          pointwise_kernel (*1, in_channels * depth_multiplier, filters), bias
  Conv{1,2,3}DTranspose   kernel (*kernel_size, filters, in_channels), bias (filters,)
Each layer is one fused backend op (convolution + bias + activation when the activation is a
built-in one; other callables are applied after). Output sizes follow Keras: 'valid' gives
floor((n - dilated_window) / stride) + 1, 'same' ceil(n / stride), Conv1D's 'causal' pads
dilated_window - 1 zeros in front. A kernel larger than a 'valid' input, a wrong input rank or
channel count raises a ValueError naming the layer and the shapes.
"""
import numpy as np

from pykeras import activations, constraints, initializers, regularizers
from pykeras import backend as K
from pykeras.layers.argument_validation import (channels_last_only, conv_output_length,
                                                conv_transpose_output_length, standardize_padding,
                                                standardize_tuple)
from pykeras.layers.input_spec import InputSpec
from pykeras.layers.layer import Layer


def _check_filters(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(f"Invalid value for argument `{name}`. Expected a strictly positive value. "
                         f"Received {name}={value!r}.")
    return int(value)


class _SpatialLayer(Layer):
    """What every convolution layer shares: rank checks, output-size checks, error context."""

    rank = None

    def _init_window(self, kernel_size, strides, padding, data_format, dilation_rate, activation, use_bias,
                     allow_causal=False):
        """Sets and checks the arguments every convolution shares (window, padding, activation)."""
        rank = self.rank
        self.kernel_size = standardize_tuple(kernel_size, rank, "kernel_size")
        self.strides = standardize_tuple(strides, rank, "strides")
        self.dilation_rate = standardize_tuple(dilation_rate, rank, "dilation_rate")
        self.padding = standardize_padding(padding, allow_causal=allow_causal)
        self.data_format = channels_last_only(data_format)
        if max(self.strides) > 1 and max(self.dilation_rate) > 1:
            raise ValueError(f"`strides > 1` not supported in conjunction with `dilation_rate > 1`. "
                             f"Received: strides={self.strides} and dilation_rate={self.dilation_rate}")
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.input_spec = InputSpec(ndim=rank + 2)

    def _init_weight_args(self, **weights):
        """weights: name -> (initializer, regularizer, constraint), set as <name>_initializer, ...
        (e.g. kernel=..., bias=...); the order is the config's order."""
        self._weight_names = tuple(weights)
        for name, (initializer, regularizer, constraint) in weights.items():
            setattr(self, f"{name}_initializer", initializers.get(initializer))
            setattr(self, f"{name}_regularizer", regularizers.get(regularizer))
            setattr(self, f"{name}_constraint", constraints.get(constraint))

    def _window_config(self):
        return {"kernel_size": self.kernel_size, "strides": self.strides, "padding": self.padding,
                "data_format": self.data_format, "dilation_rate": self.dilation_rate}

    def _activation_and_weight_config(self):
        """activation, use_bias, then the weights' initializers, regularizers (and the activity
        regularizer) and constraints, in Keras's order."""
        names = self._weight_names
        config = {"activation": activations.serialize(self.activation), "use_bias": self.use_bias}
        config.update({f"{n}_initializer": initializers.serialize(getattr(self, f"{n}_initializer")) for n in names})
        config.update({f"{n}_regularizer": regularizers.serialize(getattr(self, f"{n}_regularizer")) for n in names})
        config["activity_regularizer"] = regularizers.serialize(self.activity_regularizer)
        config.update({f"{n}_constraint": constraints.serialize(getattr(self, f"{n}_constraint")) for n in names})
        return config

    def _spatial_output_shape(self, input_shape):
        return tuple(conv_output_length(n, k, self.padding, s, d) for n, k, s, d in
                     zip(input_shape[1:-1], self.kernel_size, self.strides, self.dilation_rate))

    def _input_channels(self, input_shape):
        input_shape = tuple(input_shape)
        if len(input_shape) != self.rank + 2:
            raise ValueError(f'Input 0 of layer "{self.name}" is incompatible with the layer: expected '
                             f"ndim={self.rank + 2}, found ndim={len(input_shape)}. Full shape received: {input_shape}")
        channels = input_shape[-1]
        if channels is None:
            raise ValueError(f"Layer '{self.name}': the channel dimension of the inputs should be defined. "
                             f"Found None. Full input shape received: {input_shape}")
        return channels

    def _check_positive_output(self, input_shape, output_shape, kernel_shape):
        if any(d is not None and d <= 0 for d in output_shape[1:-1]):
            raise ValueError(f"Layer '{self.name}' ({type(self).__name__}): computed output size would be zero or "
                             f"negative. Received input shape={tuple(input_shape)}, kernel shape={kernel_shape}, "
                             f"dilation_rate={self.dilation_rate}, strides={self.strides}, padding={self.padding!r}.")

    def _run(self, op, inputs, *args, **kwargs):
        """op(inputs, *args, activation=..., **kwargs) with the layer's activation fused into the
        kernel when it can be, applied afterwards otherwise; backend ValueErrors name the layer."""
        fused = activations.fusable_name(self.activation)
        try:
            outputs = op(inputs, *args, activation=fused, **kwargs)
        except ValueError as e:
            raise self._op_error(inputs, e) from None
        return outputs if fused is not None else self.activation(outputs)

    def _op_error(self, inputs, error):
        """A backend ValueError re-raised with the layer's name and the input shape."""
        return ValueError(f"Layer '{self.name}' ({type(self).__name__}) cannot process an input of shape "
                          f"{tuple(inputs.shape)}: {error}")


# ------------------------------------------------------------------------------------------------
# Conv1D / Conv2D / Conv3D

class _Conv(_SpatialLayer):
    """N-D convolution (the rank comes from the subclass)."""

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None, dilation_rate=1, groups=1,
                 activation=None, use_bias=True, kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None, kernel_constraint=None,
                 bias_constraint=None, lora_rank=None, lora_alpha=None, **kwargs):
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        rank = self.rank
        self.filters = _check_filters("filters", filters)
        if isinstance(groups, bool) or not isinstance(groups, (int, np.integer)) or groups <= 0:
            raise ValueError(f"The number of groups must be a positive integer. Received: groups={groups!r}.")
        self.groups = groups = int(groups)
        if self.filters % groups != 0:
            raise ValueError(f"The number of filters must be evenly divisible by the number of groups. "
                             f"Received: groups={groups}, filters={filters}.")
        self._init_window(kernel_size, strides, padding, data_format, dilation_rate, activation, use_bias,
                          allow_causal=rank == 1)
        self._init_weight_args(kernel=(kernel_initializer, kernel_regularizer, kernel_constraint),
                               bias=(bias_initializer, bias_regularizer, bias_constraint))
        if lora_rank:
            raise ValueError(f"LoRA (lora_rank={lora_rank}) is not supported by pykeras convolution layers.")

    def build(self, input_shape):
        channels = self._input_channels(input_shape)
        if channels % self.groups != 0:
            raise ValueError(f"Layer '{self.name}': the number of input channels must be evenly divisible by the "
                             f"number of groups. Received groups={self.groups}, but the input has {channels} channels "
                             f"(full input shape is {tuple(input_shape)}).")
        kernel_shape = self.kernel_size + (channels // self.groups, self.filters)
        self._check_positive_output(input_shape, self.compute_output_shape(input_shape), kernel_shape)
        self.kernel = self.add_weight(name="kernel", shape=kernel_shape, initializer=self.kernel_initializer,
                                      regularizer=self.kernel_regularizer, constraint=self.kernel_constraint)
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight(name="bias", shape=(self.filters,), initializer=self.bias_initializer,
                                        regularizer=self.bias_regularizer, constraint=self.bias_constraint)
        self.input_spec = InputSpec(ndim=self.rank + 2, axes={-1: channels})

    def call(self, inputs):
        return self._run(K.nn.conv, inputs, self.kernel, self.bias, strides=self.strides, padding=self.padding,
                         dilation_rate=self.dilation_rate, groups=self.groups)

    def compute_output_shape(self, input_shape):
        spatial = self._spatial_output_shape(input_shape)
        return (input_shape[0],) + spatial + (self.filters,)

    def get_config(self):
        config = super().get_config()
        config.update({
            "filters": self.filters,
            **self._window_config(),
            "groups": self.groups,
            **self._activation_and_weight_config(),
        })
        return config


class Conv1D(_Conv):
    """1-D convolution over (batch, steps, channels) -> (batch, new_steps, filters).

    Args:
        filters: number of output channels.
        kernel_size: int or tuple of 1 int, the window length.
        strides: int or tuple of 1 int (default 1).
        padding: "valid", "same" or "causal" (output[t] sees inputs up to t only).
        data_format: "channels_last" only.
        dilation_rate: int or tuple of 1 int (default 1); strides and dilation cannot both exceed 1.
        groups: the channels are split into `groups` independent convolutions.
        activation: name or callable (default None: linear).
        use_bias: add a bias vector (default True).
        kernel_initializer / bias_initializer: default "glorot_uniform" / "zeros".
        kernel_regularizer / bias_regularizer / activity_regularizer, kernel_constraint /
            bias_constraint: optional.

    Weights: kernel (kernel_size, channels // groups, filters), bias (filters,).
    """

    rank = 1


class Conv2D(_Conv):
    """2-D convolution over (batch, height, width, channels) -> (batch, new_h, new_w, filters).

    Args as Conv1D with 2-tuples (kernel_size, strides, dilation_rate); padding "valid" or "same".
    Weights: kernel (kh, kw, channels // groups, filters), bias (filters,).
    """

    rank = 2


class Conv3D(_Conv):
    """3-D convolution over (batch, d, h, w, channels) -> (batch, new_d, new_h, new_w, filters).

    Args as Conv1D with 3-tuples; padding "valid" or "same".
    Weights: kernel (kd, kh, kw, channels // groups, filters), bias (filters,).
    """

    rank = 3


# ------------------------------------------------------------------------------------------------
# DepthwiseConv1D / DepthwiseConv2D

class _DepthwiseConv(_SpatialLayer):
    """Depthwise convolution: each input channel convolved with its own depth_multiplier filters."""

    def __init__(self, kernel_size, strides=1, padding="valid", depth_multiplier=1, data_format=None, dilation_rate=1,
                 activation=None, use_bias=True, depthwise_initializer="glorot_uniform", bias_initializer="zeros",
                 depthwise_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 depthwise_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        self.depth_multiplier = _check_filters("depth_multiplier", depth_multiplier)
        self._init_window(kernel_size, strides, padding, data_format, dilation_rate, activation, use_bias)
        self._init_weight_args(depthwise=(depthwise_initializer, depthwise_regularizer, depthwise_constraint),
                               bias=(bias_initializer, bias_regularizer, bias_constraint))

    def build(self, input_shape):
        channels = self._input_channels(input_shape)
        kernel_shape = self.kernel_size + (channels, self.depth_multiplier)
        self._check_positive_output(input_shape, self.compute_output_shape(input_shape), kernel_shape)
        # Keras 3 names the depthwise weight "kernel" (Keras 2 called it "depthwise_kernel").
        self.kernel = self.add_weight(name="kernel", shape=kernel_shape, initializer=self.depthwise_initializer,
                                      regularizer=self.depthwise_regularizer, constraint=self.depthwise_constraint)
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight(name="bias", shape=(channels * self.depth_multiplier,),
                                        initializer=self.bias_initializer, regularizer=self.bias_regularizer,
                                        constraint=self.bias_constraint)
        self.input_spec = InputSpec(ndim=self.rank + 2, axes={-1: channels})

    @property
    def depthwise_kernel(self):
        """Keras 2's name for `kernel`."""
        return self.kernel

    def call(self, inputs):
        return self._run(K.nn.depthwise_conv, inputs, self.kernel, self.bias, strides=self.strides,
                         padding=self.padding, dilation_rate=self.dilation_rate)

    def compute_output_shape(self, input_shape):
        spatial = self._spatial_output_shape(input_shape)
        channels = input_shape[-1]
        return (input_shape[0],) + spatial + (None if channels is None else channels * self.depth_multiplier,)

    def get_config(self):
        config = super().get_config()
        config.update({
            "depth_multiplier": self.depth_multiplier,
            **self._window_config(),
            **self._activation_and_weight_config(),
        })
        return config


class DepthwiseConv1D(_DepthwiseConv):
    """Depthwise 1-D convolution: (batch, steps, c) -> (batch, new_steps, c * depth_multiplier).

    Args:
        kernel_size, strides, padding ("valid" / "same"), depth_multiplier (default 1),
        data_format ("channels_last" only), dilation_rate, activation, use_bias,
        depthwise_initializer / bias_initializer (default "glorot_uniform" / "zeros"),
        depthwise_regularizer, bias_regularizer, activity_regularizer, depthwise_constraint,
        bias_constraint.

    Weights: kernel (kernel_size, c, depth_multiplier), bias (c * depth_multiplier,).
    """

    rank = 1


class DepthwiseConv2D(_DepthwiseConv):
    """Depthwise 2-D convolution: (batch, h, w, c) -> (batch, new_h, new_w, c * depth_multiplier).

    Args as DepthwiseConv1D with 2-tuples. Weights: kernel (kh, kw, c, depth_multiplier), bias.
    """

    rank = 2


# ------------------------------------------------------------------------------------------------
# SeparableConv1D / SeparableConv2D

class _SeparableConv(_SpatialLayer):
    """Depthwise convolution followed by a pointwise (1x1) convolution, bias and activation."""

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None, dilation_rate=1,
                 depth_multiplier=1, activation=None, use_bias=True, depthwise_initializer="glorot_uniform",
                 pointwise_initializer="glorot_uniform", bias_initializer="zeros", depthwise_regularizer=None,
                 pointwise_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 depthwise_constraint=None, pointwise_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        self.depth_multiplier = _check_filters("depth_multiplier", depth_multiplier)
        self.filters = _check_filters("filters", filters)
        self._init_window(kernel_size, strides, padding, data_format, dilation_rate, activation, use_bias)
        self._init_weight_args(depthwise=(depthwise_initializer, depthwise_regularizer, depthwise_constraint),
                               pointwise=(pointwise_initializer, pointwise_regularizer, pointwise_constraint),
                               bias=(bias_initializer, bias_regularizer, bias_constraint))

    def build(self, input_shape):
        channels = self._input_channels(input_shape)
        depthwise_shape = self.kernel_size + (channels, self.depth_multiplier)
        pointwise_shape = (1,) * self.rank + (channels * self.depth_multiplier, self.filters)
        self._check_positive_output(input_shape, self.compute_output_shape(input_shape), depthwise_shape)
        self.depthwise_kernel = self.add_weight(name="depthwise_kernel", shape=depthwise_shape,
                                                initializer=self.depthwise_initializer,
                                                regularizer=self.depthwise_regularizer,
                                                constraint=self.depthwise_constraint)
        self.pointwise_kernel = self.add_weight(name="pointwise_kernel", shape=pointwise_shape,
                                                initializer=self.pointwise_initializer,
                                                regularizer=self.pointwise_regularizer,
                                                constraint=self.pointwise_constraint)
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight(name="bias", shape=(self.filters,), initializer=self.bias_initializer,
                                        regularizer=self.bias_regularizer, constraint=self.bias_constraint)
        self.input_spec = InputSpec(ndim=self.rank + 2, axes={-1: channels})

    def call(self, inputs):
        return self._run(K.nn.separable_conv, inputs, self.depthwise_kernel, self.pointwise_kernel, self.bias,
                         strides=self.strides, padding=self.padding, dilation_rate=self.dilation_rate)

    def compute_output_shape(self, input_shape):
        spatial = self._spatial_output_shape(input_shape)
        return (input_shape[0],) + spatial + (self.filters,)

    def get_config(self):
        config = super().get_config()
        config.update({
            "depth_multiplier": self.depth_multiplier,
            "filters": self.filters,
            **self._window_config(),
            **self._activation_and_weight_config(),
        })
        return config


class SeparableConv1D(_SeparableConv):
    """Depthwise-separable 1-D convolution: (batch, steps, c) -> (batch, new_steps, filters).

    Args:
        filters, kernel_size, strides, padding ("valid" / "same"), data_format ("channels_last"
        only), dilation_rate, depth_multiplier (default 1), activation, use_bias,
        depthwise_initializer / pointwise_initializer / bias_initializer, the matching
        regularizers (and activity_regularizer) and constraints.

    Weights: depthwise_kernel (k, c, depth_multiplier), pointwise_kernel (1, c * depth_multiplier,
    filters), bias (filters,).
    """

    rank = 1


class SeparableConv2D(_SeparableConv):
    """Depthwise-separable 2-D convolution: (batch, h, w, c) -> (batch, new_h, new_w, filters).

    Args as SeparableConv1D with 2-tuples. Weights: depthwise_kernel (kh, kw, c, mult),
    pointwise_kernel (1, 1, c * mult, filters), bias (filters,).
    """

    rank = 2


# ------------------------------------------------------------------------------------------------
# Conv1DTranspose / Conv2DTranspose / Conv3DTranspose

class _ConvTranspose(_SpatialLayer):
    """Transposed convolution (the gradient of a convolution with respect to its input)."""

    def __init__(self, filters, kernel_size, strides=1, padding="valid", output_padding=None, data_format=None,
                 dilation_rate=1, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        rank = self.rank
        self.filters = _check_filters("filters", filters)
        self._init_window(kernel_size, strides, padding, data_format, dilation_rate, activation, use_bias)
        self._init_weight_args(kernel=(kernel_initializer, kernel_regularizer, kernel_constraint),
                               bias=(bias_initializer, bias_regularizer, bias_constraint))
        self.output_padding = None if output_padding is None else \
            standardize_tuple(output_padding, rank, "output_padding", allow_zero=True)
        if self.output_padding is not None:
            for i, (op, s) in enumerate(zip(self.output_padding, self.strides)):
                if op >= s:
                    raise ValueError(f"`output_padding` must be strictly less than `strides` for all dimensions. "
                                     f"At dimension {i}, `output_padding` is {op} but `strides` is {s}. Received: "
                                     f"output_padding={self.output_padding}, strides={self.strides}")

    def build(self, input_shape):
        channels = self._input_channels(input_shape)
        kernel_shape = self.kernel_size + (self.filters, channels)
        self.kernel = self.add_weight(name="kernel", shape=kernel_shape, initializer=self.kernel_initializer,
                                      regularizer=self.kernel_regularizer, constraint=self.kernel_constraint)
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight(name="bias", shape=(self.filters,), initializer=self.bias_initializer,
                                        regularizer=self.bias_regularizer, constraint=self.bias_constraint)
        self.input_spec = InputSpec(ndim=self.rank + 2, axes={-1: channels})

    def call(self, inputs):
        return self._run(K.nn.conv_transpose, inputs, self.kernel, self.bias, strides=self.strides,
                         padding=self.padding, output_padding=self.output_padding, dilation_rate=self.dilation_rate)

    def compute_output_shape(self, input_shape):
        output_padding = self.output_padding or (None,) * self.rank
        spatial = tuple(conv_transpose_output_length(n, k, self.padding, op, s, d) for n, k, op, s, d in
                        zip(input_shape[1:-1], self.kernel_size, output_padding, self.strides, self.dilation_rate))
        return (input_shape[0],) + spatial + (self.filters,)

    def get_config(self):
        config = super().get_config()
        config.update({
            "filters": self.filters,
            **self._window_config(),
            "output_padding": self.output_padding,
            **self._activation_and_weight_config(),
        })
        return config


class Conv1DTranspose(_ConvTranspose):
    """Transposed 1-D convolution: (batch, steps, c) -> (batch, new_steps, filters).

    Args:
        filters, kernel_size, strides, padding ("valid" / "same"), output_padding (None or ints
        smaller than the strides: extra length at the end), data_format ("channels_last" only),
        dilation_rate, activation, use_bias, kernel/bias initializers, regularizers, constraints.

    Output length: 'valid' (n - 1) * s + k + output_padding (output_padding default
    max(k, s) - k), 'same' n * s (or (n - 1) * s + k % 2 + output_padding when given).
    Weights: kernel (k, filters, c), bias (filters,).
    """

    rank = 1


class Conv2DTranspose(_ConvTranspose):
    """Transposed 2-D convolution: (batch, h, w, c) -> (batch, new_h, new_w, filters).

    Args as Conv1DTranspose with 2-tuples. Weights: kernel (kh, kw, filters, c), bias (filters,).
    """

    rank = 2


class Conv3DTranspose(_ConvTranspose):
    """Transposed 3-D convolution: (batch, d, h, w, c) -> (batch, new_d, new_h, new_w, filters).

    Args as Conv1DTranspose with 3-tuples (Keras puts data_format before output_padding here).
    Weights: kernel (kd, kh, kw, filters, c), bias (filters,).
    """

    rank = 3

    def __init__(self, filters, kernel_size, strides=(1, 1, 1), padding="valid", data_format=None,
                 output_padding=None, dilation_rate=(1, 1, 1), activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros", kernel_regularizer=None,
                 bias_regularizer=None, activity_regularizer=None, kernel_constraint=None, bias_constraint=None,
                 **kwargs):
        super().__init__(filters, kernel_size, strides=strides, padding=padding, output_padding=output_padding,
                         data_format=data_format, dilation_rate=dilation_rate, activation=activation,
                         use_bias=use_bias, kernel_initializer=kernel_initializer, bias_initializer=bias_initializer,
                         kernel_regularizer=kernel_regularizer, bias_regularizer=bias_regularizer,
                         activity_regularizer=activity_regularizer, kernel_constraint=kernel_constraint,
                         bias_constraint=bias_constraint, **kwargs)


# Keras's alternative names.
Convolution1D = Conv1D
Convolution2D = Conv2D
Convolution3D = Conv3D
Convolution1DTranspose = Conv1DTranspose
Convolution2DTranspose = Conv2DTranspose
Convolution3DTranspose = Conv3DTranspose
SeparableConvolution1D = SeparableConv1D
SeparableConvolution2D = SeparableConv2D

"""LayerNormalization: normalizes each sample over `axis` (default the last), then scales/shifts.

y = (x - mean) / sqrt(var + epsilon) * gamma + beta, with mean and (biased) variance taken over
`axis` per sample; gamma and beta have the shape of the normalized axes. With rms_scaling the
mean is not subtracted and beta is not used: y = x / sqrt(mean(x**2) + epsilon) * gamma.
Weights, in Keras's order: gamma (if scale), beta (if center).
"""
from pykeras import backend as K
from pykeras import constraints, initializers, regularizers
from pykeras.layers.layer import Layer


class LayerNormalization(Layer):
    """Layer normalization (Ba et al., 2016).

    Args:
        axis: int or list of ints, the axes normalized (default -1).
        epsilon: added to the variance (default 1e-3).
        center / scale: learn beta / gamma.
        rms_scaling: RMS normalization instead (no centering).
        beta_initializer / gamma_initializer: default "zeros" / "ones"; regularizers, constraints.
    """

    def __init__(self, axis=-1, epsilon=1e-3, center=True, scale=True, rms_scaling=False,
                 beta_initializer="zeros", gamma_initializer="ones", beta_regularizer=None, gamma_regularizer=None,
                 beta_constraint=None, gamma_constraint=None, **kwargs):
        super().__init__(**kwargs)
        if isinstance(axis, (list, tuple)):
            self.axis = list(axis)
        elif isinstance(axis, int):
            self.axis = axis
        else:
            raise TypeError(f"Expected an int or a list/tuple of ints for the argument 'axis', but received: {axis!r}")
        if epsilon is None or epsilon < 0:
            raise ValueError(f"Argument `epsilon` must be a non-negative float. Received: epsilon={epsilon!r}")
        self.epsilon = float(epsilon)
        self.center, self.scale, self.rms_scaling = bool(center), bool(scale), bool(rms_scaling)
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)
        self.beta_regularizer = regularizers.get(beta_regularizer)
        self.gamma_regularizer = regularizers.get(gamma_regularizer)
        self.beta_constraint = constraints.get(beta_constraint)
        self.gamma_constraint = constraints.get(gamma_constraint)
        self.supports_masking = True

    def _axes(self, ndim):
        axes = self.axis if isinstance(self.axis, list) else [self.axis]
        out = []
        for a in axes:
            if not -ndim <= a < ndim:
                raise ValueError(f"Layer '{self.name}': invalid axis {a} for inputs of rank {ndim}")
            out.append(a % ndim)
        return sorted(out)

    def build(self, input_shape):
        axes = self._axes(len(input_shape))
        param_shape = tuple(input_shape[a] for a in axes)
        if any(d is None for d in param_shape):
            raise ValueError(f"Layer '{self.name}': the normalized axes {axes} must have known sizes; "
                             f"received input shape {tuple(input_shape)}")
        self.gamma = None
        self.beta = None
        if self.scale or self.rms_scaling:
            self.gamma = self.add_weight(name="gamma", shape=param_shape, initializer=self.gamma_initializer,
                                         regularizer=self.gamma_regularizer, constraint=self.gamma_constraint)
        if self.center and not self.rms_scaling:
            self.beta = self.add_weight(name="beta", shape=param_shape, initializer=self.beta_initializer,
                                        regularizer=self.beta_regularizer, constraint=self.beta_constraint)

    def _broadcast(self, param, ndim, axes):
        if axes == list(range(ndim - len(axes), ndim)):
            return param  # trailing axes broadcast as they are
        shape = [1] * ndim
        for a in axes:
            shape[a] = param.shape[axes.index(a)]
        return K.reshape(param, tuple(shape))

    def call(self, inputs):
        ndim = len(inputs.shape)
        axes = self._axes(ndim)
        axis = tuple(axes)
        if self.rms_scaling:
            ms = K.mean(K.square(inputs), axis=axis, keepdims=True)
            outputs = inputs * K.rsqrt(ms + self.epsilon)
        else:
            mean = K.mean(inputs, axis=axis, keepdims=True)
            centered = inputs - mean
            variance = K.mean(K.square(centered), axis=axis, keepdims=True)
            outputs = centered * K.rsqrt(variance + self.epsilon)
        if self.gamma is not None:
            outputs = outputs * self._broadcast(self.gamma, ndim, axes)
        if self.beta is not None:
            outputs = outputs + self._broadcast(self.beta, ndim, axes)
        return outputs

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update({
            "axis": self.axis, "epsilon": self.epsilon, "center": self.center, "scale": self.scale,
            "rms_scaling": self.rms_scaling,
            "beta_initializer": initializers.serialize(self.beta_initializer),
            "gamma_initializer": initializers.serialize(self.gamma_initializer),
            "beta_regularizer": regularizers.serialize(self.beta_regularizer),
            "gamma_regularizer": regularizers.serialize(self.gamma_regularizer),
            "beta_constraint": constraints.serialize(self.beta_constraint),
            "gamma_constraint": constraints.serialize(self.gamma_constraint),
        })
        return config

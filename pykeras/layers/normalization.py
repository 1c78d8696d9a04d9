"""BatchNormalization (LayerNormalization lives in layer_normalization.py).

y = (x - mean) / sqrt(variance + epsilon) * gamma + beta per feature along `axis`. In training
(called with training=True, as fit does, and the layer trainable) mean and variance are the
batch's (biased variance, over every axis but `axis`) and the moving statistics move towards
them: moving = moving * momentum + batch * (1 - momentum); this is one fused backend op whose
gradient flows through the batch statistics. Otherwise (inference, or trainable=False as in
Keras 3 fine-tuning) the moving statistics are used. With a mask (one axis fewer than the
inputs, e.g. (batch, steps)), training statistics count only the unmasked positions, as Keras.
Weights, in Keras's order: gamma (if scale), beta (if center), moving_mean, moving_variance
(the last two non-trainable).
"""
import numpy as np

from pykeras import backend as K
from pykeras import constraints, initializers, regularizers
from pykeras.layers.input_spec import InputSpec
from pykeras.layers.layer import Layer


class BatchNormalization(Layer):
    """Batch normalization (Ioffe & Szegedy, 2015).

    Args:
        axis: the feature axis (default -1, the channels of channels_last data).
        momentum: of the moving statistics (default 0.99).
        epsilon: added to the variance (default 1e-3).
        center / scale: learn beta / gamma (default True).
        beta_initializer / gamma_initializer: default "zeros" / "ones".
        moving_mean_initializer / moving_variance_initializer: default "zeros" / "ones".
        beta_regularizer / gamma_regularizer, beta_constraint / gamma_constraint: optional.
        synchronized: must be False (cross-replica statistics need the TensorFlow backend in Keras).
        renorm, renorm_clipping, renorm_momentum: batch renormalization is not supported
            (renorm must be False); the other two are kept for config compatibility.

    call(inputs, training=None, mask=None).
    """

    def __init__(self, axis=-1, momentum=0.99, epsilon=1e-3, center=True, scale=True, beta_initializer="zeros",
                 gamma_initializer="ones", moving_mean_initializer="zeros", moving_variance_initializer="ones",
                 beta_regularizer=None, gamma_regularizer=None, beta_constraint=None, gamma_constraint=None,
                 renorm=False, renorm_clipping=None, renorm_momentum=0.99, synchronized=False, **kwargs):
        super().__init__(**kwargs)
        if isinstance(axis, (list, tuple)):  # Keras 2 configs store the axis as a one-element list
            if len(axis) != 1:
                raise ValueError(f"BatchNormalization normalizes one feature axis. Received: axis={list(axis)}")
            axis = axis[0]
        if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
            raise ValueError(f"Argument `axis` must be an int. Received: axis={axis!r}")
        self.axis = int(axis)
        if synchronized:
            raise ValueError("Argument synchronized=True is only supported with the TensorFlow backend.")
        if renorm:
            raise ValueError("Batch renormalization (renorm=True) is not supported by pykeras.")
        self.synchronized = False
        self.renorm = False
        self.renorm_clipping = renorm_clipping
        self.renorm_momentum = renorm_momentum
        self.momentum = float(momentum)
        self.epsilon = float(epsilon)
        if self.epsilon <= 0:
            raise ValueError(f"Argument `epsilon` must be positive. Received: epsilon={epsilon!r}")
        self.center = bool(center)
        self.scale = bool(scale)
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)
        self.moving_mean_initializer = initializers.get(moving_mean_initializer)
        self.moving_variance_initializer = initializers.get(moving_variance_initializer)
        self.beta_regularizer = regularizers.get(beta_regularizer)
        self.gamma_regularizer = regularizers.get(gamma_regularizer)
        self.beta_constraint = constraints.get(beta_constraint)
        self.gamma_constraint = constraints.get(gamma_constraint)
        self.supports_masking = True
        self.gamma = None
        self.beta = None
        self.moving_mean = None
        self.moving_variance = None

    def _resolved_axis(self, input_shape):
        rank = len(input_shape)
        if not -rank <= self.axis < rank:
            raise ValueError(f"Layer '{self.name}' (BatchNormalization): axis {self.axis} is out of bounds for input "
                             f"shape {tuple(input_shape)}")
        return self.axis % rank

    def build(self, input_shape):
        axis = self._resolved_axis(input_shape)
        size = input_shape[axis]
        if size is None:
            raise ValueError(f"Layer '{self.name}' (BatchNormalization): axis {self.axis} of the inputs must have a "
                             f"known size. Received input shape {tuple(input_shape)}")
        shape = (size,)
        if self.scale:
            self.gamma = self.add_weight(name="gamma", shape=shape, initializer=self.gamma_initializer,
                                         regularizer=self.gamma_regularizer, constraint=self.gamma_constraint)
        if self.center:
            self.beta = self.add_weight(name="beta", shape=shape, initializer=self.beta_initializer,
                                        regularizer=self.beta_regularizer, constraint=self.beta_constraint)
        self.moving_mean = self.add_weight(name="moving_mean", shape=shape, initializer=self.moving_mean_initializer,
                                           trainable=False)
        self.moving_variance = self.add_weight(name="moving_variance", shape=shape,
                                               initializer=self.moving_variance_initializer, trainable=False)
        self.input_spec = InputSpec(ndim=len(input_shape), axes={self.axis: size})

    def call(self, inputs, training=None, mask=None):
        axis = self.axis % len(inputs.shape)
        if training and self.trainable:
            if mask is not None:
                return self._masked_training_call(inputs, mask, axis)
            return K.nn.fused_batch_norm_train(inputs, self.gamma, self.beta, self.moving_mean, self.moving_variance,
                                               axis=axis, momentum=self.momentum, epsilon=self.epsilon)
        return K.nn.batch_normalization(inputs, self.moving_mean, self.moving_variance, self.beta, self.gamma,
                                        axis=axis, epsilon=self.epsilon)

    def _masked_training_call(self, inputs, mask, axis):
        m = np.asarray(K.convert_to_numpy(mask)).astype(bool)
        if m.ndim != len(inputs.shape) - 1:
            raise ValueError(f"Layer '{self.name}' (BatchNormalization): the mask provided should be one dimension "
                             f"less than the inputs. Received: mask.shape={m.shape}, "
                             f"inputs.shape={tuple(inputs.shape)}")
        m = np.broadcast_to(m[..., None], tuple(inputs.shape))
        reduce = tuple(a for a in range(len(inputs.shape)) if a != axis)
        weight = m.sum(axis=reduce, keepdims=True).astype(inputs.dtype) + K.epsilon()
        mean = K.sum(K.where(m, inputs, 0.0), axis=reduce, keepdims=True) / weight
        variance = K.sum(K.square(K.where(m, inputs - mean, 0.0)), axis=reduce, keepdims=True) / weight
        mean, variance = K.reshape(mean, (-1,)), K.reshape(variance, (-1,))
        for moving, stat in ((self.moving_mean, mean), (self.moving_variance, variance)):
            moving.assign(np.asarray(moving) * self.momentum + np.asarray(stat) * (1.0 - self.momentum))
        return K.nn.batch_normalization(inputs, mean, variance, self.beta, self.gamma, axis=axis,
                                        epsilon=self.epsilon)

    def compute_output_shape(self, input_shape):
        self._resolved_axis(input_shape)
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update({
            "axis": self.axis,
            "momentum": self.momentum,
            "epsilon": self.epsilon,
            "center": self.center,
            "scale": self.scale,
            "beta_initializer": initializers.serialize(self.beta_initializer),
            "gamma_initializer": initializers.serialize(self.gamma_initializer),
            "moving_mean_initializer": initializers.serialize(self.moving_mean_initializer),
            "moving_variance_initializer": initializers.serialize(self.moving_variance_initializer),
            "beta_regularizer": regularizers.serialize(self.beta_regularizer),
            "gamma_regularizer": regularizers.serialize(self.gamma_regularizer),
            "beta_constraint": constraints.serialize(self.beta_constraint),
            "gamma_constraint": constraints.serialize(self.gamma_constraint),
            "synchronized": self.synchronized,
            "renorm": self.renorm,
            "renorm_clipping": self.renorm_clipping,
            "renorm_momentum": self.renorm_momentum,
        })
        return config

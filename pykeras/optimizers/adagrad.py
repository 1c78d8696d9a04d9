"""Adagrad: per-parameter rates scaled by the accumulated squared gradients.

Keras 3's rule: `acc += g^2; p -= lr * g / sqrt(acc + eps)`, the accumulator starting at
`initial_accumulator_value` (0.1).
"""
import numpy as np

from pykeras.optimizers import native
from pykeras.optimizers.optimizer import Optimizer


class Adagrad(Optimizer):
    """Adagrad.

    Args:
        learning_rate: defaults to 0.001.
        initial_accumulator_value: starting value of the accumulators. Defaults to 0.1.
        epsilon: defaults to 1e-7.
    """

    _slot_names = ("accumulator",)

    def __init__(self, learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7, weight_decay=None,
                 clipnorm=None, clipvalue=None, global_clipnorm=None, use_ema=False, ema_momentum=0.99,
                 ema_overwrite_frequency=None, loss_scale_factor=None, gradient_accumulation_steps=None,
                 name=None, **kwargs):
        super().__init__(learning_rate=learning_rate, weight_decay=weight_decay, clipnorm=clipnorm,
                         clipvalue=clipvalue, global_clipnorm=global_clipnorm, use_ema=use_ema,
                         ema_momentum=ema_momentum, ema_overwrite_frequency=ema_overwrite_frequency,
                         loss_scale_factor=loss_scale_factor,
                         gradient_accumulation_steps=gradient_accumulation_steps, name=name, **kwargs)
        self.initial_accumulator_value = initial_accumulator_value
        self.epsilon = epsilon
        self._slot_initial_value = initial_accumulator_value

    def _update(self, grads, params, indices, lr, decays):
        slots = [self._slot_buffers[i] for i in indices]
        if native.adagrad(params, grads, slots, lr, self.epsilon, decays=decays):
            return
        self._decay(params, decays, lr)
        lr = np.float32(lr)
        eps = np.float32(self.epsilon)
        for g, p, s in zip(grads, params, slots):
            acc = s[0]
            acc += np.square(g)
            denom = acc + eps
            np.sqrt(denom, out=denom)
            step = lr * g
            step /= denom
            p -= step

    def get_config(self):
        config = super().get_config()
        config.update({"initial_accumulator_value": self.initial_accumulator_value, "epsilon": self.epsilon})
        return config

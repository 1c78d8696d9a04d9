"""Adamax: Adam with the infinity norm.

Keras 3's rule at step t: `m += (g - m) * (1 - beta_1)`, `u = max(beta_2 * u, |g|)`,
`p -= lr * m / ((1 - beta_1^t) * (u + eps))`.
"""
import numpy as np

from pykeras.optimizers import native
from pykeras.optimizers.optimizer import Optimizer


class Adamax(Optimizer):
    """Adamax.

    Args:
        learning_rate: defaults to 0.001.
        beta_1: defaults to 0.9.
        beta_2: decay of the weighted infinity norm. Defaults to 0.999.
        epsilon: defaults to 1e-7.
    """

    _slot_names = ("momentum", "norm")

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, weight_decay=None,
                 clipnorm=None, clipvalue=None, global_clipnorm=None, use_ema=False, ema_momentum=0.99,
                 ema_overwrite_frequency=None, loss_scale_factor=None, gradient_accumulation_steps=None,
                 name=None, **kwargs):
        super().__init__(learning_rate=learning_rate, weight_decay=weight_decay, clipnorm=clipnorm,
                         clipvalue=clipvalue, global_clipnorm=global_clipnorm, use_ema=use_ema,
                         ema_momentum=ema_momentum, ema_overwrite_frequency=ema_overwrite_frequency,
                         loss_scale_factor=loss_scale_factor,
                         gradient_accumulation_steps=gradient_accumulation_steps, name=name, **kwargs)
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon

    def _update(self, grads, params, indices, lr, decays):
        slots = [self._slot_buffers[i] for i in indices]
        t = self.iterations_value + 1
        if native.adamax(params, grads, slots, lr, self.beta_1, self.beta_2, self.epsilon, t, decays=decays):
            return
        self._decay(params, decays, lr)
        b1 = np.float32(1.0 - self.beta_1)
        b2 = np.float32(self.beta_2)
        eps = np.float32(self.epsilon)
        scale = np.float32(lr / (1.0 - self.beta_1**t))
        for g, p, s in zip(grads, params, slots):
            m, u = s
            m += (g - m) * b1
            u *= b2
            np.maximum(u, np.abs(g), out=u)
            step = m * scale
            step /= u + eps
            p -= step

    def get_config(self):
        config = super().get_config()
        config.update({"beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon})
        return config

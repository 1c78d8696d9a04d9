"""Adadelta: step sizes from running averages of squared gradients and squared updates.

Keras 3's rule: `ag = rho * ag + (1 - rho) * g^2`,
`delta = -sqrt(ad + eps) * g / sqrt(ag + eps)`, `ad = rho * ad + (1 - rho) * delta^2`,
`p += lr * delta`.
"""
import numpy as np

from pykeras.optimizers import native
from pykeras.optimizers.optimizer import Optimizer


class Adadelta(Optimizer):
    """Adadelta.

    Args:
        learning_rate: defaults to 0.001 (Keras 3; Keras 2's 1.0 recovers the original paper).
        rho: decay rate. Defaults to 0.95.
        epsilon: defaults to 1e-7.
    """

    _slot_names = ("accumulated_grad", "accumulated_delta_var")

    def __init__(self, learning_rate=0.001, rho=0.95, epsilon=1e-7, weight_decay=None, clipnorm=None,
                 clipvalue=None, global_clipnorm=None, use_ema=False, ema_momentum=0.99,
                 ema_overwrite_frequency=None, loss_scale_factor=None, gradient_accumulation_steps=None,
                 name=None, **kwargs):
        super().__init__(learning_rate=learning_rate, weight_decay=weight_decay, clipnorm=clipnorm,
                         clipvalue=clipvalue, global_clipnorm=global_clipnorm, use_ema=use_ema,
                         ema_momentum=ema_momentum, ema_overwrite_frequency=ema_overwrite_frequency,
                         loss_scale_factor=loss_scale_factor,
                         gradient_accumulation_steps=gradient_accumulation_steps, name=name, **kwargs)
        self.rho = rho
        self.epsilon = epsilon

    def _update(self, grads, params, indices, lr, decays):
        slots = [self._slot_buffers[i] for i in indices]
        if native.adadelta(params, grads, slots, lr, self.rho, self.epsilon, decays=decays):
            return
        self._decay(params, decays, lr)
        rho = np.float32(self.rho)
        one_minus_rho = np.float32(1.0 - self.rho)
        eps = np.float32(self.epsilon)
        lr = np.float32(lr)
        for g, p, s in zip(grads, params, slots):
            ag, ad = s
            ag *= rho
            ag += one_minus_rho * np.square(g)
            delta = np.sqrt(ad + eps)
            delta *= g
            delta /= np.sqrt(ag + eps)
            np.negative(delta, out=delta)
            ad *= rho
            ad += one_minus_rho * np.square(delta)
            p += lr * delta

    def get_config(self):
        config = super().get_config()
        config.update({"rho": self.rho, "epsilon": self.epsilon})
        return config

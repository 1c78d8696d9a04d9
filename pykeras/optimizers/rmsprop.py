"""RMSprop: divide the gradient by a running root mean square of recent gradients.

Keras 3's rule: `v = rho * v + (1 - rho) * g^2`; centered: `a = rho * a + (1 - rho) * g` and the
denominator is `sqrt(v - a^2 + eps)`, else `sqrt(v + eps)`; `inc = lr * g / denominator`; with
momentum `m = momentum * m + inc; p -= m`, else `p -= inc`. Note eps sits inside the sqrt.
"""
import numpy as np

from pykeras.optimizers import native
from pykeras.optimizers.optimizer import Optimizer


class RMSprop(Optimizer):
    """RMSprop.

    Args:
        learning_rate: defaults to 0.001.
        rho: discounting factor of the squared-gradient average. Defaults to 0.9.
        momentum: defaults to 0.0.
        epsilon: small constant for numerical stability. Defaults to 1e-7.
        centered: normalize by the estimated variance of the gradient. Defaults to False.
    """

    def __init__(self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False,
                 weight_decay=None, clipnorm=None, clipvalue=None, global_clipnorm=None, use_ema=False,
                 ema_momentum=0.99, ema_overwrite_frequency=None, loss_scale_factor=None,
                 gradient_accumulation_steps=None, name=None, **kwargs):
        super().__init__(learning_rate=learning_rate, weight_decay=weight_decay, clipnorm=clipnorm,
                         clipvalue=clipvalue, global_clipnorm=global_clipnorm, use_ema=use_ema,
                         ema_momentum=ema_momentum, ema_overwrite_frequency=ema_overwrite_frequency,
                         loss_scale_factor=loss_scale_factor,
                         gradient_accumulation_steps=gradient_accumulation_steps, name=name, **kwargs)
        self.rho = rho
        self.momentum = momentum
        self.epsilon = epsilon
        self.centered = centered
        self._slot_names = ("velocity",) + (("momentum",) if momentum > 0 else ()) + (
            ("average_gradient",) if centered else ())

    def _update(self, grads, params, indices, lr, decays):
        slots = [self._slot_buffers[i] for i in indices]
        if native.rmsprop(params, grads, slots, lr, self.rho, self.momentum, self.epsilon, self.centered,
                          decays=decays):
            return
        self._decay(params, decays, lr)
        rho = np.float32(self.rho)
        one_minus_rho = np.float32(1.0 - self.rho)
        eps = np.float32(self.epsilon)
        lr = np.float32(lr)
        mom = np.float32(self.momentum)
        for g, p, s in zip(grads, params, slots):
            v = s[0]
            v *= rho
            v += one_minus_rho * np.square(g)
            if self.centered:
                a = s[-1]
                a *= rho
                a += one_minus_rho * g
                denom = v - np.square(a) + eps
            else:
                denom = v + eps
            np.sqrt(denom, out=denom)
            inc = lr * g
            inc /= denom
            if self.momentum > 0:
                m = s[1]
                m *= mom
                m += inc
                p -= m
            else:
                p -= inc

    def get_config(self):
        config = super().get_config()
        config.update({"rho": self.rho, "momentum": self.momentum, "epsilon": self.epsilon,
                       "centered": self.centered})
        return config

"""Adam (and AMSGrad).

Keras 3's rule at step t = iterations + 1: `m += (g - m) * (1 - beta_1)`,
`v += (g^2 - v) * (1 - beta_2)`, AMSGrad `v_hat = max(v_hat, v)` used in place of v, and
`p -= m * alpha / (sqrt(v) + eps)` with `alpha = lr * sqrt(1 - beta_2^t) / (1 - beta_1^t)`
(the bias correction folded into the step size, eps outside the sqrt).
"""
import math

import numpy as np

from pykeras.optimizers import native
from pykeras.optimizers.optimizer import Optimizer


class Adam(Optimizer):
    """Adam.

    Args:
        learning_rate: defaults to 0.001.
        beta_1: decay of the first moment. Defaults to 0.9.
        beta_2: decay of the second moment. Defaults to 0.999.
        epsilon: defaults to 1e-7.
        amsgrad: use the AMSGrad variant. Defaults to False.
    """

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False,
                 weight_decay=None, clipnorm=None, clipvalue=None, global_clipnorm=None, use_ema=False,
                 ema_momentum=0.99, ema_overwrite_frequency=None, loss_scale_factor=None,
                 gradient_accumulation_steps=None, name=None, **kwargs):
        super().__init__(learning_rate=learning_rate, weight_decay=weight_decay, clipnorm=clipnorm,
                         clipvalue=clipvalue, global_clipnorm=global_clipnorm, use_ema=use_ema,
                         ema_momentum=ema_momentum, ema_overwrite_frequency=ema_overwrite_frequency,
                         loss_scale_factor=loss_scale_factor,
                         gradient_accumulation_steps=gradient_accumulation_steps, name=name, **kwargs)
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.amsgrad = amsgrad
        self._slot_names = ("momentum", "velocity") + (("velocity_hat",) if amsgrad else ())

    def _update(self, grads, params, indices, lr, decays):
        slots = [self._slot_buffers[i] for i in indices]
        t = self.iterations_value + 1
        if native.adam(params, grads, slots, lr, self.beta_1, self.beta_2, self.epsilon, self.amsgrad, t,
                       decays=decays):
            return
        self._decay(params, decays, lr)
        alpha = np.float32(lr * math.sqrt(1.0 - self.beta_2**t) / (1.0 - self.beta_1**t))
        b1 = np.float32(1.0 - self.beta_1)
        b2 = np.float32(1.0 - self.beta_2)
        eps = np.float32(self.epsilon)
        for g, p, s in zip(grads, params, slots):
            m, v = s[0], s[1]
            m += (g - m) * b1
            v += (np.square(g) - v) * b2
            if self.amsgrad:
                np.maximum(s[2], v, out=s[2])
                v = s[2]
            denom = np.sqrt(v)
            denom += eps
            step = m * alpha
            step /= denom
            p -= step

    def get_config(self):
        config = super().get_config()
        config.update({"beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon,
                       "amsgrad": self.amsgrad})
        return config

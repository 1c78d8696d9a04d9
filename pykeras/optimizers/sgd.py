"""Stochastic gradient descent, with optional (Nesterov) momentum.

Keras 3's rule: without momentum `p -= lr * g`; with momentum `m = momentum * m - lr * g`, then
`p += m` (or, Nesterov, `p += momentum * m - lr * g`).
"""
import numpy as np

from pykeras.optimizers import native
from pykeras.optimizers.optimizer import Optimizer


class SGD(Optimizer):
    """Gradient descent (with momentum).

    Args:
        learning_rate: defaults to 0.01.
        momentum: float in [0, 1] accelerating descent in the relevant direction. Defaults to 0.
        nesterov: whether to apply Nesterov momentum. Defaults to False.
        (and the base Optimizer arguments)
    """

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, weight_decay=None, clipnorm=None,
                 clipvalue=None, global_clipnorm=None, use_ema=False, ema_momentum=0.99,
                 ema_overwrite_frequency=None, loss_scale_factor=None, gradient_accumulation_steps=None,
                 name=None, **kwargs):
        super().__init__(learning_rate=learning_rate, weight_decay=weight_decay, clipnorm=clipnorm,
                         clipvalue=clipvalue, global_clipnorm=global_clipnorm, use_ema=use_ema,
                         ema_momentum=ema_momentum, ema_overwrite_frequency=ema_overwrite_frequency,
                         loss_scale_factor=loss_scale_factor,
                         gradient_accumulation_steps=gradient_accumulation_steps, name=name, **kwargs)
        if isinstance(momentum, int) and not isinstance(momentum, bool):
            momentum = float(momentum)
        if not isinstance(momentum, float) or momentum < 0 or momentum > 1:
            raise ValueError(f"`momentum` must be a float between [0, 1]. Received: momentum={momentum!r}")
        self.momentum = momentum
        self.nesterov = nesterov
        if momentum != 0:
            self._slot_names = ("momentum",)

    def _update(self, grads, params, indices, lr, decays):
        slots = [self._slot_buffers[i] for i in indices]
        if native.sgd(params, grads, slots, lr, self.momentum, self.nesterov, decays=decays):
            return
        self._decay(params, decays, lr)
        lr = np.float32(lr)
        mom = np.float32(self.momentum)
        for g, p, s in zip(grads, params, slots):
            if not s:
                p -= lr * g
                continue
            m = s[0]
            m *= mom
            m -= lr * g
            if self.nesterov:
                p += mom * m - lr * g
            else:
                p += m

    def get_config(self):
        config = super().get_config()
        config.update({"momentum": self.momentum, "nesterov": self.nesterov})
        return config

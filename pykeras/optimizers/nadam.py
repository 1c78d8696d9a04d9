"""Nadam: Adam with Nesterov momentum and Keras's momentum schedule.

Keras 3's rule at step t = iterations + 1, with `mu_t = beta_1 * (1 - 0.5 * 0.96^t)`: a running
product `P_t = P_{t-1} * mu_t` (a state variable, starting at 1), then
`m += (g - m) * (1 - beta_1)`, `v += (g^2 - v) * (1 - beta_2)`,
`m_hat = mu_{t+1} * m / (1 - P_t * mu_{t+1}) + (1 - mu_t) * g / (1 - P_t)`,
`v_hat = v / (1 - beta_2^t)`, `p -= lr * m_hat / (sqrt(v_hat) + eps)`.
"""
import numpy as np

from pykeras.optimizers import native
from pykeras.optimizers.optimizer import Optimizer, _buffer, _new_variable


class Nadam(Optimizer):
    """Nadam.

    Args:
        learning_rate: defaults to 0.001.
        beta_1: defaults to 0.9.
        beta_2: defaults to 0.999.
        epsilon: defaults to 1e-7.
    """

    _slot_names = ("momentum", "velocity")

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

    def _build_extra(self, var_list):
        self._u_product = _new_variable(1.0, f"{self.name}/u_product")
        self._variables.append(self._u_product)

    def _update(self, grads, params, indices, lr, decays):
        slots = [self._slot_buffers[i] for i in indices]
        t = self.iterations_value + 1
        u_t = self.beta_1 * (1.0 - 0.5 * 0.96**t)
        u_t1 = self.beta_1 * (1.0 - 0.5 * 0.96 ** (t + 1))
        prod = _buffer(self._u_product)
        prod[...] = prod * np.float32(u_t)
        u_prod = float(prod)
        u_prod_next = u_prod * u_t1
        if native.nadam(params, grads, slots, lr, self.beta_1, self.beta_2, self.epsilon, t, decays=decays):
            return
        self._decay(params, decays, lr)
        c_m = np.float32(u_t1 / (1.0 - u_prod_next))
        c_g = np.float32((1.0 - u_t) / (1.0 - u_prod))
        b1 = np.float32(1.0 - self.beta_1)
        b2 = np.float32(1.0 - self.beta_2)
        v_scale = np.float32(1.0 / (1.0 - self.beta_2**t))
        eps = np.float32(self.epsilon)
        lr = np.float32(lr)
        for g, p, s in zip(grads, params, slots):
            m, v = s
            m += (g - m) * b1
            v += (np.square(g) - v) * b2
            m_hat = c_m * m
            m_hat += c_g * g
            denom = np.sqrt(v * v_scale)
            denom += eps
            m_hat *= lr
            m_hat /= denom
            p -= m_hat

    def get_config(self):
        config = super().get_config()
        config.update({"beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon})
        return config

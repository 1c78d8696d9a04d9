"""Process-wide backend settings and the hooks other packages register into.

floatx (the default float dtype), epsilon (the fuzz factor of losses and normalisations),
image_data_format (only 'channels_last' is computed natively; 'channels_first' is accepted by the
ops that take `data_format` and handled by transposing), the Keras 2 learning phase, and
clear_session(), which calls every callback registered with `register_clear_session_callback`
(the layers package registers its name-counter reset there).
"""
import gc

import numpy as np

_FLOATX = "float32"
_FLOATX_DTYPE = np.dtype(np.float32)
_EPSILON = 1e-7
_IMAGE_DATA_FORMAT = "channels_last"
_LEARNING_PHASE = 0

_FLOAT_NAMES = ("float16", "float32", "float64")

# Callables run (in registration order) by clear_session().
_CLEAR_SESSION_CALLBACKS = []
# Classes whose instances are symbolic Keras tensors (registered by pykeras.layers / models).
KERAS_TENSOR_TYPES = []


def floatx():
    """The default float type as a string: 'float32' unless changed with set_floatx."""
    return _FLOATX


def floatx_dtype():
    """The default float type as a numpy dtype."""
    return _FLOATX_DTYPE


def set_floatx(value):
    """Sets the default float type ('float16', 'float32' or 'float64').

    Native kernels compute in float32; other float types run the numpy code paths.
    """
    global _FLOATX, _FLOATX_DTYPE
    value = str(np.dtype(value)) if not isinstance(value, str) else value
    if value not in _FLOAT_NAMES:
        raise ValueError(f"set_floatx: unknown float type {value!r}, expected one of {', '.join(_FLOAT_NAMES)}")
    _FLOATX = value
    _FLOATX_DTYPE = np.dtype(value)


def epsilon():
    """The fuzz factor used to avoid dividing by zero (1e-7 by default)."""
    return _EPSILON


def set_epsilon(value):
    global _EPSILON
    _EPSILON = float(value)


def image_data_format():
    """'channels_last' (the default) or 'channels_first'."""
    return _IMAGE_DATA_FORMAT


def set_image_data_format(data_format):
    global _IMAGE_DATA_FORMAT
    data_format = str(data_format).lower()
    if data_format not in ("channels_last", "channels_first"):
        raise ValueError(f"set_image_data_format: unknown data format {data_format!r}, "
                         "expected 'channels_last' or 'channels_first'")
    _IMAGE_DATA_FORMAT = data_format


def standardize_data_format(data_format):
    if data_format is None:
        return _IMAGE_DATA_FORMAT
    data_format = str(data_format).lower()
    if data_format not in ("channels_last", "channels_first"):
        raise ValueError(f"unknown data_format {data_format!r}, expected 'channels_last' or 'channels_first'")
    return data_format


def learning_phase():
    """The Keras 2 learning phase: 0 (test) unless set to 1 (train) with set_learning_phase."""
    return _LEARNING_PHASE


def set_learning_phase(value):
    global _LEARNING_PHASE
    if value not in (0, 1, True, False):
        raise ValueError(f"set_learning_phase: expected 0 or 1, got {value!r}")
    _LEARNING_PHASE = int(value)


def register_clear_session_callback(fn):
    """Registers `fn()` to be called by clear_session(); returns fn (usable as a decorator)."""
    if fn not in _CLEAR_SESSION_CALLBACKS:
        _CLEAR_SESSION_CALLBACKS.append(fn)
    return fn


def clear_session(free_memory=True):
    """Resets the global state: layer name counters (via registered callbacks), learning phase."""
    global _LEARNING_PHASE
    _LEARNING_PHASE = 0
    for fn in list(_CLEAR_SESSION_CALLBACKS):
        fn()
    if free_memory:
        gc.collect()


def register_keras_tensor_type(cls):
    """Declares `cls` a symbolic Keras tensor type (for is_keras_tensor); returns cls."""
    if cls not in KERAS_TENSOR_TYPES:
        KERAS_TENSOR_TYPES.append(cls)
    return cls


def is_keras_tensor(x):
    """True for the symbolic tensors of the functional API (types registered by the layers package)."""
    return bool(KERAS_TENSOR_TYPES) and isinstance(x, tuple(KERAS_TENSOR_TYPES))


# ------------------------------------------------------------------------------------------------
# Backend functions applied to symbolic Keras tensors (Keras 3: `ops.mean(Input((3, 4)), axis=1)`
# adds a node to the functional graph). Converting a symbolic tensor to a value raises
# SymbolicInputError; the public functions of `K` and `pykeras.ops` are wrapped by
# `symbolic_aware`, which then hands the call to the layers package's hook (a function
# `(fn, args, kwargs) -> symbolic outputs`, registered with register_symbolic_call or found as
# `symbolic_call` in the module that defines the registered KerasTensor type).

_SYMBOLIC_CALL = [None]


class SymbolicInputError(TypeError):
    """A symbolic Keras tensor reached an op that needs values."""


def register_symbolic_call(fn):
    _SYMBOLIC_CALL[0] = fn
    return fn


def _symbolic_hook():
    if _SYMBOLIC_CALL[0] is None:
        import sys

        for cls in KERAS_TENSOR_TYPES:
            hook = getattr(sys.modules.get(cls.__module__), "symbolic_call", None)
            if callable(hook):
                _SYMBOLIC_CALL[0] = hook
                break
    return _SYMBOLIC_CALL[0]


_WRAPPERS = {}


def symbolic_aware(fn):
    """fn, calling the symbolic hook instead when a symbolic Keras tensor is among its inputs.

    One wrapper per function, so that K.<name> and pykeras.ops.<name> stay the same object.
    """
    import functools

    if fn in _WRAPPERS:
        return _WRAPPERS[fn]

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except SymbolicInputError:
            hook = _symbolic_hook()
            if hook is None:
                raise
            return hook(fn, args, kwargs)

    _WRAPPERS[fn] = wrapper
    _WRAPPERS[wrapper] = wrapper
    return wrapper


def wrap_public_functions(namespace, exclude=()):
    """Replaces the public functions of a module namespace defined in pykeras by symbolic_aware ones."""
    import types

    for name, obj in list(namespace.items()):
        if (not name.startswith("_") and isinstance(obj, types.FunctionType) and name not in exclude
                and (obj.__module__ or "").startswith("pykeras.")):
            namespace[name] = symbolic_aware(obj)

"""Activation functions, as in `keras.activations`.

Every function takes a tensor (or anything `convert_to_tensor` accepts) and returns a Tensor built
from backend ops, so it is differentiable. Where the backend has a fused kernel for an activation
(`pykeras.backend.nn.<name>`) it is used; the rest are compositions of elementwise ops. `get(name)`
resolves Keras's names and aliases (swish = silu, hard_swish = hard_silu); `serialize` gives the
name Keras writes into configs. Layers with a fused activation (Dense, Conv) pass the *name*
of a built-in activation to the backend (see `fusable_name`).
"""
from pykeras import backend as K
from pykeras.saving.object_registration import get_registered_name, get_registered_object


def _nn():
    return K.nn


def relu(x, negative_slope=0.0, max_value=None, threshold=0.0):
    """max(x, 0), with optional leak below `threshold`, cap at `max_value`, shifted threshold."""
    return _nn().relu(x, negative_slope=negative_slope, max_value=max_value, threshold=threshold)


def leaky_relu(x, negative_slope=0.2):
    return _nn().leaky_relu(x, negative_slope=negative_slope)


def relu6(x):
    return _nn().relu6(x)


def softmax(x, axis=-1):
    """exp(x) / sum(exp(x)) over `axis` (a tuple of axes is allowed, as Keras)."""
    return _nn().softmax(x, axis=axis)


def log_softmax(x, axis=-1):
    return _nn().log_softmax(x, axis=axis)


def elu(x, alpha=1.0):
    return _nn().elu(x, alpha=alpha)


def selu(x):
    return _nn().selu(x)


def softplus(x):
    return _nn().softplus(x)


def softsign(x):
    return _nn().softsign(x)


def silu(x):
    """x * sigmoid(x) (swish)."""
    return _nn().silu(x)


swish = silu


def gelu(x, approximate=False):
    return _nn().gelu(x, approximate=approximate)


def tanh(x):
    return _nn().tanh(x)


def sigmoid(x):
    return _nn().sigmoid(x)


def exponential(x):
    return K.exp(x)


def hard_sigmoid(x):
    """relu6(x + 3) / 6 (Keras 3's definition)."""
    return _nn().hard_sigmoid(x)


def hard_silu(x):
    """x * hard_sigmoid(x)."""
    x = K.convert_to_tensor(x)
    return x * hard_sigmoid(x)


hard_swish = hard_silu


def linear(x):
    """The identity (Keras's default activation)."""
    return x


def mish(x):
    """x * tanh(softplus(x))."""
    return _nn().mish(x)


def celu(x, alpha=1.0):
    """max(x, 0) + min(0, alpha * (exp(x / alpha) - 1))."""
    return _nn().celu(x, alpha=alpha)


def glu(x, axis=-1):
    """a * sigmoid(b) where a, b are the two halves of `x` along `axis`."""
    return _nn().glu(x, axis=axis)


def tanh_shrink(x):
    return _nn().tanh_shrink(x)


def hard_tanh(x):
    return _nn().hard_tanh(x)


def hard_shrink(x, threshold=0.5):
    return _nn().hard_shrink(x, threshold=threshold)


def soft_shrink(x, threshold=0.5):
    return _nn().soft_shrink(x, threshold=threshold)


def threshold(x, threshold, default_value):
    """x where x > threshold, else default_value."""
    return _nn().threshold(x, threshold, default_value)


def log_sigmoid(x):
    """-softplus(-x)."""
    return _nn().log_sigmoid(x)


def sparse_plus(x):
    """0 for x <= -1, (x + 1)**2 / 4 on (-1, 1), x for x >= 1."""
    return _nn().sparse_plus(x)


def sparse_sigmoid(x):
    """0 for x <= -1, (x + 1) / 2 on (-1, 1), 1 for x >= 1."""
    return K.clip(0.5 * (K.convert_to_tensor(x) + 1.0), 0.0, 1.0)


def squareplus(x, b=4):
    """(x + sqrt(x**2 + b)) / 2."""
    return _nn().squareplus(x, b=b)


def sparsemax(x, axis=-1):
    """Euclidean projection of x onto the probability simplex along `axis` (sparse softmax)."""
    return _nn().sparsemax(x, axis=axis)


_ALL = [relu, leaky_relu, relu6, softmax, celu, elu, selu, softplus, softsign, squareplus, soft_shrink,
        sparse_plus, silu, gelu, glu, tanh, tanh_shrink, threshold, sigmoid, sparse_sigmoid, exponential,
        hard_sigmoid, hard_silu, hard_tanh, hard_shrink, linear, mish, log_softmax, log_sigmoid, sparsemax]
ALL_OBJECTS_DICT = {fn.__name__: fn for fn in _ALL}
ALL_OBJECTS_DICT["swish"] = silu
ALL_OBJECTS_DICT["hard_swish"] = hard_silu

# Names the backend's fused layer ops (dense, conv) accept for their `activation` argument.
_FUSABLE = {"linear", "relu", "relu6", "leaky_relu", "elu", "sigmoid", "tanh", "hard_sigmoid", "silu",
            "gelu", "softplus", "selu", "exponential", "softsign", "softmax"}


def fusable_name(activation):
    """The backend name of `activation` if a fused layer op can apply it, else None.

    Only the built-in functions qualify (called with their default arguments); any other
    callable must be applied after the op.
    """
    name = getattr(activation, "__name__", None)
    if name in _FUSABLE and ALL_OBJECTS_DICT.get(name) is activation:
        return name
    return None


def serialize(activation):
    """The name of a built-in or registered activation (Keras writes plain strings)."""
    if activation is None:
        return "linear"
    if hasattr(activation, "get_config"):  # an activation layer object used as activation
        from pykeras.saving.object_registration import serialize_keras_object
        return serialize_keras_object(activation, "keras.layers")
    name = getattr(activation, "__name__", None)
    if name in ALL_OBJECTS_DICT and ALL_OBJECTS_DICT[name] is activation:
        return name
    if name is not None:
        return get_registered_name(activation)
    raise ValueError(f"Could not serialize activation {activation!r}: it has no __name__")


def deserialize(config, custom_objects=None):
    if isinstance(config, dict):
        from pykeras.saving.object_registration import deserialize_keras_object
        if config.get("class_name") == "function":
            config = config.get("config")
        else:
            from pykeras import layers as _layers
            return deserialize_keras_object(config, {**ALL_OBJECTS_DICT, **_layers.ALL_OBJECTS_DICT},
                                            custom_objects, kind="activation")
    if isinstance(config, str):
        fn = get_registered_object(config, custom_objects, ALL_OBJECTS_DICT)
        if fn is None:
            raise ValueError(f"Unknown activation function: '{config}'. Please ensure you are using a "
                             f"`keras.utils.custom_object_scope` and that this object is included in the scope.")
        return fn
    raise ValueError(f"Could not interpret serialized activation: {config!r}")


def get(identifier):
    """An activation function from None (linear), a name ("relu"), a config, or a callable.

    Raises ValueError for an unknown name: "Unknown activation function: 'foo'".
    """
    if identifier is None:
        return linear
    if isinstance(identifier, (str, dict)):
        return deserialize(identifier)
    if callable(identifier):
        return identifier
    raise ValueError(f"Could not interpret activation function identifier: {identifier!r}")

"""pykeras.backend, used as `K`: values, ops with gradients, the gradient tape, settings.

    from pykeras import backend as K
    x = K.variable(np.ones((2, 3)))
    with K.GradientTape() as tape:
        loss = K.mean(K.square(K.dot(x, K.transpose(x))))
    grad = tape.gradient(loss, x)

The classic Keras backend names (K.mean, K.dot, K.batch_dot, K.conv2d, K.categorical_crossentropy,
...) are here with their Keras semantics; `pykeras.ops` gives the Keras 3 `keras.ops` spelling of
the same functions. Submodules: tensor (Tensor, Variable), tape (GradientTape), math_ops,
array_ops, nn (activations, losses, fused layer ops), random, gradient_rules (every backward
rule), kernels (the bridge to the native kernels).
"""
import contextlib

import numpy as np

from pykeras.backend import common, kernels, random
from pykeras.backend import gradient_rules
from pykeras.backend.array_ops import (arange, batch_flatten, broadcast_to, concatenate, expand_dims, flatten, flip,
                                       full, full_like, gather, getitem, linspace, moveaxis, one_hot, pad,
                                       permute_dimensions, ravel, repeat, repeat_elements, repeat_vector, reshape,
                                       resize, resize_images, resize_volumes, reverse, roll, spatial_2d_cropping,
                                       spatial_2d_padding, spatial_3d_cropping, spatial_3d_padding, split, squeeze,
                                       stack, swapaxes, take, take_along_axis, temporal_cropping, temporal_padding,
                                       tile, transpose, unstack)
from pykeras.backend.array_ops import eye as _eye_tensor
from pykeras.backend.array_ops import ones as _ones_tensor
from pykeras.backend.array_ops import ones_like, zeros_like
from pykeras.backend.array_ops import zeros as _zeros_tensor
from pykeras.backend.common import (clear_session, epsilon, floatx, image_data_format, is_keras_tensor,
                                    standardize_data_format,
                                    learning_phase, register_clear_session_callback, register_keras_tensor_type,
                                    set_epsilon, set_floatx, set_image_data_format, set_learning_phase)
from pykeras.backend.math_ops import (abs, absolute, add, all, amax, amin, any, arccos, arcsin, arctan, arctan2, argmax,
                                      divide_no_nan,
                                      argmin, batch_dot, cast, cast_to_floatx, ceil, clip, cos, cosh, count_nonzero,
                                      cumprod, cumsum, divide, dot, equal, erf, exp, expm1, floor, floor_divide,
                                      floordiv, greater, greater_equal, identity, isfinite, isinf, isnan, less,
                                      less_equal, log, log1p, log2, log10, logical_and, logical_not, logical_or,
                                      logical_xor, logsumexp, matmul, max, maximum, mean, min, minimum, mod,
                                      multiply, negative, not_equal, outer, pow, power, prod, reciprocal, round,
                                      rsqrt, sign, sin, sinh, sqrt, square, std, subtract, sum, switch, tan, arcsinh, arccosh,
                                      arctanh, exp2, trunc,
                                      tensordot, true_divide, var, where)
from pykeras.backend.nn import (activation, average_pool, dot_product_attention, celu, glu, hard_shrink, hard_tanh, soft_shrink, sparse_plus,
                                sparsemax, squareplus, tanh_shrink, threshold, batch_normalization, bias_add, binary_crossentropy,
                                categorical_crossentropy, conv, conv1d, conv2d, conv2d_transpose, conv3d,
                                conv3d_transpose, conv_transpose, dense, depthwise_conv, depthwise_conv2d, dropout,
                                elu, exponential, fused_batch_norm_train, gelu, hard_sigmoid, hard_silu, hard_swish,
                                in_top_k, l2_normalize, leaky_relu, linear, log_sigmoid, log_softmax, max_pool, mish,
                                moments, normalize, normalize_batch_in_training, pool2d, pool3d, relu, relu6, selu,
                                separable_conv, separable_conv1d, separable_conv2d, sigmoid, silu, softmax, softplus,
                                softsign, sparse_categorical_crossentropy, swish, tanh, top_k)
from pykeras.backend.tape import GradientTape, stop_gradient
from pykeras.backend.tensor import (Tensor, Variable, convert_to_numpy, convert_to_tensor, is_tensor,
                                    standardize_dtype)

SeedGenerator = random.SeedGenerator


# ------------------------------------------------------------------------------------------------
# Values (Keras 2 backend helpers)

def variable(value, dtype=None, name=None, constraint=None):
    """A trainable Variable holding `value` (dtype defaults to floatx() for floats)."""
    return Variable(value, dtype=dtype, name=name, constraint=constraint)


def constant(value, dtype=None, shape=None, name=None):
    """A constant Tensor; with `shape`, a scalar value is broadcast to it."""
    t = convert_to_tensor(value, dtype if dtype is not None else (floatx() if np.asarray(value).dtype.kind in "fiu"
                                                                   else None))
    if shape is not None:
        shape = tuple(int(s) for s in shape)
        v = t._v
        if v.shape != shape:
            if v.size == 1:
                return Tensor(np.full(shape, v.reshape(()).item(), v.dtype))
            return reshape(t, shape)
    return t


def zeros(shape, dtype=None, name=None):
    """An all-zeros Variable (Keras 2 K.zeros)."""
    return Variable(_zeros_tensor(shape, dtype)._v, name=name)


def ones(shape, dtype=None, name=None):
    """An all-ones Variable (Keras 2 K.ones)."""
    return Variable(_ones_tensor(shape, dtype)._v, name=name)


def eye(size, dtype=None, name=None):
    """An identity-matrix Variable; size is n or (n, m) (Keras 2 K.eye)."""
    return Variable(_eye_tensor(size, dtype=dtype)._v, name=name)


def random_uniform_variable(shape, low, high, dtype=None, name=None, seed=None):
    return Variable(random.uniform(shape, low, high, dtype, seed)._v, name=name)


def random_normal_variable(shape, mean, scale, dtype=None, name=None, seed=None):
    return Variable(random.normal(shape, mean, scale, dtype, seed)._v, name=name)


def random_uniform(shape, minval=0.0, maxval=1.0, dtype=None, seed=None):
    return random.uniform(shape, minval, maxval, dtype, seed)


def random_normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
    return random.normal(shape, mean, stddev, dtype, seed)


def truncated_normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
    return random.truncated_normal(shape, mean, stddev, dtype, seed)


def random_bernoulli(shape, p=0.0, dtype=None, seed=None):
    return random.bernoulli(shape, p, dtype, seed)


random_binomial = random_bernoulli


def eval(x):  # noqa: A001 - Keras name
    """The value of x as a numpy array (a copy)."""
    return convert_to_numpy(x)


def get_value(x):
    return convert_to_numpy(x)


def batch_get_value(tensors):
    return [convert_to_numpy(t) for t in tensors]


def set_value(x, value):
    """Writes value into Variable x."""
    if not isinstance(x, Variable):
        raise TypeError(f"set_value: expected a Variable, got {type(x).__name__}")
    x.assign(np.asarray(value))


def batch_set_value(tuples):
    for x, v in tuples:
        set_value(x, v)


def update(x, new_x):
    return x.assign(new_x)


def update_add(x, increment):
    return x.assign_add(increment)


def update_sub(x, decrement):
    return x.assign_sub(decrement)


def moving_average_update(x, value, momentum):
    """x = x * momentum + value * (1 - momentum), in place."""
    v = np.asarray(convert_to_numpy(value) if isinstance(value, Tensor) else value)
    return x.assign(x._v * momentum + v * (1.0 - momentum))


def int_shape(x):
    """The shape as a tuple of ints (None for unknown dimensions of symbolic tensors)."""
    s = getattr(x, "shape", None)
    if s is None:
        s = np.shape(x)
    return tuple(None if d is None else int(d) for d in s)


def shape(x):
    """The shape of x as a tuple (Keras 3 ops.shape)."""
    return int_shape(x)


def ndim(x):
    return len(int_shape(x))


def size(x):
    return int(np.prod(int_shape(x)))


def dtype(x):
    """The dtype name of x ('float32', 'int32', ...)."""
    d = getattr(x, "dtype", None)
    if d is None:
        d = np.asarray(x).dtype
    return standardize_dtype(d).name


def count_params(x):
    return int(np.prod(int_shape(x)))


def print_tensor(x, message="", summarize=3):
    print(message, convert_to_numpy(x))
    return x


@contextlib.contextmanager
def name_scope(name):
    yield


def in_train_phase(x, alt, training=None):
    """x in training (training=True, or learning_phase() == 1 when training is None), else alt."""
    if training is None:
        training = learning_phase()
    if isinstance(training, Tensor):
        training = bool(training)
    branch = x if training else alt
    return branch() if callable(branch) else branch


def in_test_phase(x, alt, training=None):
    return in_train_phase(alt, x, training=training)


def gradients(loss, variables):
    raise NotImplementedError("K.gradients needs a symbolic graph; pykeras runs eagerly: use "
                              "`with K.GradientTape() as tape: ...` and `tape.gradient(loss, variables)`")


def function(inputs, outputs, updates=None, name=None, **kwargs):
    raise NotImplementedError("K.function needs a symbolic graph; call the model or the backend ops directly")


def placeholder(shape=None, ndim=None, dtype=None, sparse=False, name=None, ragged=False):
    raise NotImplementedError("K.placeholder needs a symbolic graph; use pykeras.Input for functional models")


def is_sparse(x):
    return False


def to_dense(x):
    return x


# ------------------------------------------------------------------------------------------------
# Control flow over the first axis (Python loops over recorded ops)

def map_fn(fn, elems, name=None, dtype=None):
    return stack([fn(e) for e in unstack(elems)])


def foldl(fn, elems, initializer=None, name=None):
    items = unstack(elems)
    acc = items[0] if initializer is None else initializer
    for e in (items[1:] if initializer is None else items):
        acc = fn(acc, e)
    return acc


def foldr(fn, elems, initializer=None, name=None):
    items = unstack(elems)[::-1]
    acc = items[0] if initializer is None else initializer
    for e in (items[1:] if initializer is None else items):
        acc = fn(acc, e)
    return acc


def rnn(step_function, inputs, initial_states, go_backwards=False, mask=None, constants=None, unroll=False,
        input_length=None, time_major=False, zero_output_for_mask=False, return_all_outputs=True):
    """Keras 2 K.rnn: iterates `step_function(x_t, states) -> (output_t, new_states)` over time.

    inputs: (batch, time, ...) (or (time, batch, ...) with time_major); mask: (batch, time) bools,
    where masked steps keep the previous states (and output zeros with zero_output_for_mask, else
    the previous output). Returns (last_output, outputs, new_states).
    """
    constants = list(constants or [])
    steps = unstack(inputs, axis=0 if time_major else 1)
    masks = None
    if mask is not None:
        mv = np.asarray(convert_to_numpy(mask)).astype(bool)
        if mv.ndim != 2:
            raise ValueError(f"rnn: mask must be (batch, time), got shape {mv.shape}")
        masks = [mv[:, t] for t in range(mv.shape[1])] if not time_major else [mv[t] for t in range(mv.shape[0])]
    order = list(range(len(steps)))
    if go_backwards:
        order = order[::-1]
    states = list(initial_states)
    outputs = []
    last = None
    for t in order:
        out, new_states = step_function(steps[t], states + constants if constants else states)
        new_states = list(new_states)
        if masks is not None:
            m = masks[t]
            new_states = [where(m.reshape((-1,) + (1,) * (ndim(s) - 1)), s, old)
                          for s, old in zip(new_states, states)]
            prev = last if last is not None else zeros_like(out)
            keep = zeros_like(out) if zero_output_for_mask else prev
            out = where(m.reshape((-1,) + (1,) * (ndim(out) - 1)), out, keep)
        states = new_states
        last = out
        if return_all_outputs:
            outputs.append(out)
    if return_all_outputs:
        seq = stack(outputs, axis=0 if time_major else 1)
    else:
        seq = expand_dims(last, 0 if time_major else 1)
    return last, seq, states


# Keras 2's K.repeat is RepeatVector's op; keras.ops.repeat (numpy repeat) is pykeras.ops.repeat.
repeat = repeat_vector  # noqa: F811


# Functions that take no tensor values (settings, variables, shapes, graph-mode stubs) are left
# as they are; every other public function also accepts symbolic Keras tensors (see
# common.symbolic_aware).
_NOT_SYMBOLIC = {
    "floatx", "set_floatx", "epsilon", "set_epsilon", "image_data_format", "set_image_data_format", "clear_session",
    "learning_phase", "set_learning_phase", "register_clear_session_callback", "register_keras_tensor_type",
    "register_symbolic_call", "is_keras_tensor", "is_tensor", "is_sparse", "int_shape", "shape", "ndim", "size",
    "dtype", "count_params", "variable", "eval", "get_value", "set_value", "batch_get_value", "batch_set_value",
    "update", "update_add", "update_sub", "moving_average_update", "print_tensor", "name_scope", "in_train_phase",
    "in_test_phase", "gradients", "function", "placeholder", "to_dense", "convert_to_numpy", "standardize_dtype",
    "zeros", "ones", "eye", "arange", "linspace", "random_uniform_variable", "random_normal_variable",
    "random_uniform", "random_normal", "truncated_normal", "random_bernoulli", "random_binomial", "rnn", "map_fn",
    "foldl", "foldr", "standardize_data_format",
}
register_symbolic_call = common.register_symbolic_call


common.wrap_public_functions(globals(), _NOT_SYMBOLIC)

__all__ = [n for n in dir() if not n.startswith("_") and n not in ("contextlib", "np")]

"""pykeras.ops: Keras 3's `keras.ops` names over the backend ops (pykeras.backend).

The functions are the backend's own wherever the Keras 3 signature is the same; the wrappers
below exist only where keras.ops differs from the classic backend (argument order of the
convolutions, `identity` meaning the identity matrix, numpy's `repeat`, `argmax` over all axes by
default, batch_normalization's axis/offset/scale form).
"""
import builtins

import numpy as np

from pykeras.backend import array_ops as _A
from pykeras.backend import math_ops as _M
from pykeras.backend import nn as _N
from pykeras.backend.array_ops import (arange, broadcast_to, concatenate, expand_dims, eye, flip, full, full_like,
                                       linspace, moveaxis, one_hot, ones, ones_like, pad, ravel, repeat, reshape, roll,
                                       split, squeeze, stack, swapaxes, take, take_along_axis, tile, transpose, unstack,
                                       zeros, zeros_like)
from pykeras.backend.math_ops import (abs, absolute, add, all, amax, amin, any, arccos, arcsin, arctan, arctan2, cast, ceil,
                                      divide_no_nan,
                                      clip, cos, cosh, count_nonzero, cumprod, cumsum, divide, dot, einsum, equal, erf,
                                      exp, expm1, floor, floor_divide, greater, greater_equal, isfinite, isinf, isnan,
                                      less, less_equal, log, log1p, log2, log10, logical_and, logical_not, logical_or,
                                      logical_xor, logsumexp, matmul, max, maximum, mean, min, minimum, mod, multiply,
                                      negative, not_equal, outer, power, prod, reciprocal, round, rsqrt, sign, sin, arcsinh,
                                      arccosh, arctanh, exp2, trunc,
                                      sinh, sqrt, square, std, subtract, sum, tan, tensordot, true_divide, var, where)
from pykeras.backend.nn import (average_pool, dot_product_attention, celu, glu, hard_shrink, hard_tanh, soft_shrink, sparse_plus, sparsemax,
                                squareplus, tanh_shrink, threshold, binary_crossentropy, categorical_crossentropy, elu, gelu, hard_sigmoid,
                                hard_silu, hard_swish, in_top_k, leaky_relu, log_sigmoid, log_softmax, max_pool, mish,
                                moments, normalize, relu, relu6, selu, sigmoid, silu, softmax, softplus, softsign,
                                sparse_categorical_crossentropy, swish, tanh, top_k)
from pykeras.backend.tape import stop_gradient
from pykeras.backend.common import wrap_public_functions as _wrap_public_functions
from pykeras.backend.tensor import convert_to_numpy, convert_to_tensor, is_tensor, standardize_dtype
from pykeras.ops import image


def shape(x):
    return tuple(np.shape(x)) if not hasattr(x, "shape") else tuple(x.shape)


def ndim(x):
    return len(shape(x))


def size(x):
    return int(np.prod(shape(x)))


def dtype(x):
    return standardize_dtype(getattr(x, "dtype", None) or np.asarray(x).dtype).name


def identity(n, dtype=None):
    """The n x n identity matrix (keras.ops.identity)."""
    return eye(n, dtype=dtype)


def argmax(x, axis=None, keepdims=False):
    return _M.argmax(x, axis=axis, keepdims=keepdims)


def argmin(x, axis=None, keepdims=False):
    return _M.argmin(x, axis=axis, keepdims=keepdims)


def conv(inputs, kernel, strides=1, padding="valid", data_format=None, dilation_rate=1):
    return _N.conv(inputs, kernel, None, strides, padding, dilation_rate, data_format=data_format)


def depthwise_conv(inputs, kernel, strides=1, padding="valid", data_format=None, dilation_rate=1):
    return _N.depthwise_conv(inputs, kernel, None, strides, padding, dilation_rate, data_format=data_format)


def separable_conv(inputs, depthwise_kernel, pointwise_kernel, strides=1, padding="valid", data_format=None,
                   dilation_rate=1):
    return _N.separable_conv(inputs, depthwise_kernel, pointwise_kernel, None, strides, padding, dilation_rate,
                             data_format=data_format)


def conv_transpose(inputs, kernel, strides=1, padding="valid", output_padding=None, data_format=None,
                   dilation_rate=1):
    return _N.conv_transpose(inputs, kernel, None, strides, padding, output_padding, dilation_rate,
                             data_format=data_format)


def batch_normalization(x, mean, variance, axis, offset=None, scale=None, epsilon=1e-3):
    return _N.batch_normalization(x, mean, variance, offset, scale, axis=axis, epsilon=epsilon)


def slice(inputs, start_indices, shape):  # noqa: A001 - Keras name
    return _A.slice_(inputs, start_indices, shape)


def slice_update(inputs, start_indices, updates):
    """inputs with the block at start_indices replaced by updates (differentiable in both)."""
    xv = _M.value(inputs)
    uv = _M.value(updates)
    widths = [(int(s), int(n) - int(s) - int(u)) for s, n, u in zip(start_indices, xv.shape, uv.shape)]
    if builtins.any(lo < 0 or hi < 0 for lo, hi in widths):
        raise ValueError(f"slice_update: updates of shape {uv.shape} at {tuple(start_indices)} do not fit "
                         f"inputs of shape {xv.shape}")
    mask = np.zeros(xv.shape, bool)
    mask[tuple(builtins.slice(lo, n - hi) for (lo, hi), n in zip(widths, xv.shape))] = True
    return _M.where(mask, _A.pad(updates, widths), inputs)


def sort(x, axis=-1):
    idx = np.argsort(_M.value(x), axis=axis, kind="stable")
    return _A.take_along_axis(x, idx, axis=axis)


def argsort(x, axis=-1):
    return convert_to_tensor(np.argsort(_M.value(x), axis=axis, kind="stable").astype(np.int32))


def norm(x, ord=None, axis=None, keepdims=False):  # noqa: A002
    """Vector norms: 2 (default), 1, inf, -inf, or any p >= 1; 'fro' for the Frobenius norm."""
    if ord in (None, 2, "fro", "euclidean"):
        return _M.sqrt(_M.sum(_M.square(x), axis=axis, keepdims=keepdims))
    if ord == 1:
        return _M.sum(_M.abs(x), axis=axis, keepdims=keepdims)
    if ord == np.inf:
        return _M.max(_M.abs(x), axis=axis, keepdims=keepdims)
    if ord == -np.inf:
        return _M.min(_M.abs(x), axis=axis, keepdims=keepdims)
    p = float(ord)
    return _M.power(_M.sum(_M.power(_M.abs(x), p), axis=axis, keepdims=keepdims), 1.0 / p)


def average(x, axis=None, weights=None):
    if weights is None:
        return _M.mean(x, axis=axis)
    w = convert_to_tensor(weights)
    if _M.value(w).ndim == 1 and _M.value(x).ndim > 1 and axis is not None:
        shp = [1] * _M.value(x).ndim
        shp[axis] = -1
        w = _A.reshape(w, shp)
    return _M.divide(_M.sum(_M.multiply(x, w), axis=axis), _M.sum(_M.multiply(w, _A.ones_like(x)), axis=axis))


def triu(x, k=0):
    xv = _M.value(x)
    return _M.where(np.triu(np.ones(xv.shape[-2:], bool), k), x, 0.0)


def tril(x, k=0):
    xv = _M.value(x)
    return _M.where(np.tril(np.ones(xv.shape[-2:], bool), k), x, 0.0)


def nan_to_num(x, nan=0.0, posinf=None, neginf=None):
    xv = _M.value(x)
    fixed = np.nan_to_num(xv, nan=nan, posinf=posinf, neginf=neginf)
    return _M.where(np.isfinite(xv), x, fixed)


def hstack(xs):
    xs = list(xs)
    return _A.concatenate(xs, axis=0 if _M.value(xs[0]).ndim == 1 else 1)


def vstack(xs):
    xs = [_A.reshape(x, (1, -1)) if _M.value(x).ndim == 1 else x for x in xs]
    return _A.concatenate(xs, axis=0)


def multi_hot(inputs, num_classes, axis=-1, dtype=None):
    oh = _A.one_hot(inputs, num_classes, dtype=dtype)
    return _M.max(oh, axis=-2) if _M.value(inputs).ndim > 1 else oh


def cond(pred, true_fn, false_fn):
    return true_fn() if bool(pred) else false_fn()


def fori_loop(lower, upper, body_fun, init_val):
    val = init_val
    for i in range(int(lower), int(upper)):
        val = body_fun(i, val)
    return val


def while_loop(cond, body, loop_vars, maximum_iterations=None):
    is_tuple = isinstance(loop_vars, (list, tuple))
    vars_ = tuple(loop_vars) if is_tuple else (loop_vars,)
    n = 0
    while (cond(*vars_)) and (maximum_iterations is None or n < maximum_iterations):
        vars_ = body(*vars_)
        vars_ = tuple(vars_) if isinstance(vars_, (list, tuple)) else (vars_,)
        n += 1
    return vars_ if is_tuple else vars_[0]


def scatter(indices, values, shape):
    return _A.scatter(indices, values, shape)


def scatter_update(inputs, indices, updates):
    """inputs with the entries at indices (N, k) replaced by updates (differentiable in both)."""
    xv = _M.value(inputs)
    idx = np.asarray(_M.value(indices))
    mask = np.zeros(xv.shape, bool)
    mask[tuple(np.moveaxis(idx, -1, 0))] = True
    return _M.where(mask, _A.scatter(indices, updates, xv.shape), inputs)


def segment_sum(data, segment_ids, num_segments=None, sorted=False):  # noqa: A002 - Keras name
    ids = np.asarray(_M.value(segment_ids)).reshape(-1)
    dv = _M.value(data)
    n = int(ids.max()) + 1 if num_segments is None else int(num_segments)
    return _A.scatter(ids[:, None], data, (n,) + dv.shape[1:])


def logaddexp(x1, x2):
    m = _M.maximum(x1, x2)
    return _M.add(m, _M.log1p(_M.exp(_M.negative(_M.abs(_M.subtract(x1, x2))))))


def array(x, dtype=None):
    return convert_to_tensor(x, dtype=dtype)


def copy(x):
    return _M.identity(convert_to_tensor(x))


def append(x1, x2, axis=None):
    if axis is None:
        return _A.concatenate([_A.reshape(x1, (-1,)), _A.reshape(x2, (-1,))], axis=0)
    return _A.concatenate([x1, x2], axis=axis)


def isclose(x1, x2, rtol=1e-5, atol=1e-8, equal_nan=False):
    return convert_to_tensor(np.isclose(_M.value(x1), _M.value(x2), rtol=rtol, atol=atol, equal_nan=equal_nan))


def nonzero(x):
    return tuple(convert_to_tensor(i.astype(np.int32)) for i in np.nonzero(_M.value(x)))


def _diagonal(x, offset=0, axis1=0, axis2=1):
    xv = _M.value(x)
    n = np.diagonal(np.empty(xv.shape, bool), offset, axis1, axis2).shape[-1]
    rows = np.arange(n) + builtins.max(-offset, 0)
    cols = np.arange(n) + builtins.max(offset, 0)
    moved = _A.moveaxis(x, (axis1, axis2), (-2, -1))
    return moved[..., rows, cols]


def diagonal(x, offset=0, axis1=0, axis2=1):
    return _diagonal(x, offset, axis1, axis2)


def diag(x, k=0):
    xv = _M.value(x)
    if xv.ndim == 1:
        n = xv.shape[0] + builtins.abs(k)
        rows = np.arange(xv.shape[0]) + builtins.max(-k, 0)
        cols = np.arange(xv.shape[0]) + builtins.max(k, 0)
        return _A.scatter(np.stack([rows, cols], axis=-1), x, (n, n))
    return _diagonal(x, k)


def trace(x, offset=0, axis1=0, axis2=1):
    return _M.sum(_diagonal(x, offset, axis1, axis2), axis=-1)


def meshgrid(*xs, indexing="xy"):
    return [convert_to_tensor(m) for m in np.meshgrid(*[_M.value(x) for x in xs], indexing=indexing)]


def map(f, xs):  # noqa: A001 - Keras name
    return _A.stack([f(x) for x in _A.unstack(xs)])


vectorized_map = map


def bincount(x, weights=None, minlength=0):
    return convert_to_tensor(np.bincount(np.asarray(_M.value(x)).reshape(-1),
                                         None if weights is None else _M.value(weights), minlength).astype(np.int32
                                                                                                           if weights is None
                                                                                                           else np.float32))


# Every function above also accepts symbolic Keras tensors (building a functional-graph node), except
# those that read shapes or run Python control flow.
_wrap_public_functions(globals(), {"shape", "ndim", "size", "dtype", "is_tensor", "convert_to_numpy",
                                   "standardize_dtype", "cond", "fori_loop", "while_loop", "arange", "linspace",
                                   "eye", "identity", "zeros", "ones", "full"})

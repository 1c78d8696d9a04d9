"""Elementwise math, comparisons, reductions and matrix products.

Each op converts its inputs (Tensors, numpy arrays, Python scalars), computes with numpy or a
native kernel (kernels.py), wraps the result in a Tensor and, only while a tape records, records
itself with its rule from gradients.py. Ops that produce integers or booleans (comparisons,
argmax, floor division, logical ops) are never recorded. Composite ops (dot, batch_dot,
tensordot, einsum-free helpers) are written with recorded primitives and need no rule.
"""
import builtins

import numpy as np

from pykeras.backend import common
from pykeras.backend import gradient_rules as G
from pykeras.backend import kernels
from pykeras.backend.tape import _active, record
from pykeras.backend.tensor import Tensor, binary_operands, operand, standardize_dtype, to_array

_ndarray = np.ndarray
_new = object.__new__


def wrap(v):
    if v.__class__ is not _ndarray:
        v = np.asarray(v)
    t = _new(Tensor)
    t._v = v
    t._node = None
    return t


def value(x):
    """numpy array of x."""
    return x._v if isinstance(x, Tensor) else to_array(x)


def float_value(x):
    """numpy array of x, integers and booleans converted to floatx()."""
    v = x._v if isinstance(x, Tensor) else to_array(x)
    if v.dtype.kind != "f":
        v = v.astype(common._FLOATX_DTYPE)
    return v


def _shape_str(v):
    return str(tuple(np.shape(v)))


_BIG = kernels.NATIVE_ELTWISE_MIN


def _large(xv, yv):
    """Whether a binary op on these operands is big enough for the native kernels."""
    return ((xv.__class__ is _ndarray and xv.size >= _BIG) or (yv.__class__ is _ndarray and yv.size >= _BIG))


def broadcast_error(name, xv, yv):
    return ValueError(f"{name}: incompatible shapes {_shape_str(xv)} and {_shape_str(yv)} (they do not broadcast)")


def normalize_axes(axis, ndim, name, shape=None):
    """Sorted tuple of non-negative axes; None means all axes. ValueError names the op and shape."""
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, Tensor):
        axis = axis._v.tolist()
    if isinstance(axis, (int, np.integer)):
        axes = (axis,)
    elif isinstance(axis, (tuple, list)):
        axes = tuple(axis)
    else:
        raise TypeError(f"{name}: axis must be an int or a tuple of ints, got {axis!r}")
    out = []
    for a in axes:
        if isinstance(a, bool) or not isinstance(a, (int, np.integer)):
            raise TypeError(f"{name}: axis must be an int or a tuple of ints, got {axis!r}")
        a = int(a)
        if not -ndim <= a < ndim:
            raise ValueError(f"{name}: axis {a} is out of range for a tensor of shape "
                             f"{tuple(shape) if shape is not None else ndim} (rank {ndim})")
        out.append(a % ndim if ndim else 0)
    if len(set(out)) != len(out):
        raise ValueError(f"{name}: repeated axis in {axis!r}")
    return tuple(sorted(out))


def normalize_axis(axis, ndim, name, shape=None):
    if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
        raise TypeError(f"{name}: axis must be an int, got {axis!r}")
    axis = int(axis)
    if not -ndim <= axis < ndim:
        raise ValueError(f"{name}: axis {axis} is out of range for a tensor of shape "
                         f"{tuple(shape) if shape is not None else ndim} (rank {ndim})")
    return axis % ndim


# ------------------------------------------------------------------------------------------------
# Binary elementwise ops

def _binary(name, ufunc, rule, fallback=None, record_any_dtype=False):
    """A broadcasting binary op: numpy's `ufunc` for small operands, the native kernel `name` for
    large ones (`fallback` when they do not suit it). It is recorded for float results only, or
    for every dtype with `record_any_dtype`."""
    if fallback is None:
        fallback = ufunc

    def op(x, y):
        xv, yv = binary_operands(x, y)
        try:
            if _large(xv, yv):
                out = wrap(kernels.binary(name, xv, yv, fallback))
            else:
                out = wrap(ufunc(xv, yv))
        except ValueError:
            raise broadcast_error(name, xv, yv) from None
        if _active and (record_any_dtype or out._v.dtype.kind == "f"):
            record(out, rule, (x, y), (xv, yv))
        return out

    op.__name__ = name
    op.__qualname__ = name
    op.__doc__ = f"Elementwise {name} (numpy broadcasting)."
    return op


add = _binary("add", np.add, G.add, fallback=kernels.add, record_any_dtype=True)
subtract = _binary("subtract", np.subtract, G.subtract, record_any_dtype=True)
multiply = _binary("multiply", np.multiply, G.multiply, record_any_dtype=True)
maximum = _binary("maximum", np.maximum, G.maximum)
minimum = _binary("minimum", np.minimum, G.minimum)


def divide(x, y):
    xv, yv = binary_operands(x, y)
    if getattr(xv, "dtype", np.dtype("f")).kind != "f" and getattr(yv, "dtype", np.dtype("f")).kind != "f":
        xv = np.asarray(xv, common._FLOATX_DTYPE)
        yv = np.asarray(yv, common._FLOATX_DTYPE)
    try:
        out = wrap(kernels.binary("divide", xv, yv, np.true_divide) if _large(xv, yv) else np.true_divide(xv, yv))
    except ValueError:
        raise broadcast_error("divide", xv, yv) from None
    if _active:
        record(out, G.divide, (x, y), (xv, yv))
    return out


true_divide = divide


def floor_divide(x, y):
    """Floor division (not differentiable)."""
    xv, yv = binary_operands(x, y)
    try:
        return wrap(np.floor_divide(xv, yv))
    except ValueError:
        raise broadcast_error("floor_divide", xv, yv) from None


floordiv = floor_divide


def mod(x, y):
    xv, yv = binary_operands(x, y)
    try:
        out = wrap(np.mod(xv, yv))
    except ValueError:
        raise broadcast_error("mod", xv, yv) from None
    if _active and out._v.dtype.kind == "f":
        record(out, G.mod, (x, y), (xv, yv))
    return out


def power(x, y):
    xv, yv = binary_operands(x, y)
    try:
        out = wrap(kernels.binary("power", xv, yv, np.power) if _large(xv, yv) else np.power(xv, yv))
    except ValueError:
        raise broadcast_error("power", xv, yv) from None
    if _active and out._v.dtype.kind == "f":
        record(out, G.power, (x, y), (xv, yv, out._v))
    return out


pow = power  # noqa: A001 - Keras backend name


def arctan2(y, x):
    """Elementwise angle of (x, y), in (-pi, pi]."""
    yv, xv = binary_operands(y, x)
    try:
        out = wrap(np.arctan2(yv, xv))
    except ValueError:
        raise broadcast_error("arctan2", yv, xv) from None
    if _active and out._v.dtype.kind == "f":
        record(out, G.arctan2, (y, x), (yv, xv))
    return out


def divide_no_nan(x, y):
    """x / y, and 0 where y == 0."""
    yv = value(y)
    zero = np.equal(yv, 0)
    return where(zero, 0.0, divide(x, where(zero, 1.0, y)))


def _compare(name, ufunc):
    def op(x, y):
        if y is None or x is None:
            return NotImplemented
        xv, yv = binary_operands(x, y)
        try:
            if _large(xv, yv):
                return wrap(kernels.binary(name, xv, yv, ufunc))
            return wrap(ufunc(xv, yv))
        except ValueError:
            raise broadcast_error(name, xv, yv) from None

    op.__name__ = name
    op.__doc__ = f"Elementwise {name} (a bool tensor, not differentiable)."
    return op


equal = _compare("equal", np.equal)
not_equal = _compare("not_equal", np.not_equal)
less = _compare("less", np.less)
less_equal = _compare("less_equal", np.less_equal)
greater = _compare("greater", np.greater)
greater_equal = _compare("greater_equal", np.greater_equal)


def _logical(name, ufunc):
    def op(x, y):
        xv, yv = value(x), value(y)
        try:
            return wrap(ufunc(xv.astype(bool, copy=False), yv.astype(bool, copy=False)))
        except ValueError:
            raise broadcast_error(name, xv, yv) from None

    op.__name__ = name
    return op


logical_and = _logical("logical_and", np.logical_and)
logical_or = _logical("logical_or", np.logical_or)
logical_xor = _logical("logical_xor", np.logical_xor)


def logical_not(x):
    return wrap(np.logical_not(value(x).astype(bool, copy=False)))


def isnan(x):
    return wrap(np.isnan(value(x)))


def isinf(x):
    return wrap(np.isinf(value(x)))


def isfinite(x):
    return wrap(np.isfinite(value(x)))


def where(condition, x=None, y=None):
    """Elements of x where condition holds, else of y (all broadcast). With one argument: indices."""
    cv = value(condition).astype(bool, copy=False)
    if x is None and y is None:
        return wrap(np.stack(np.nonzero(cv), axis=-1).astype(np.int32))
    if x is None or y is None:
        raise ValueError("where: give both x and y, or neither")
    xv, yv = binary_operands(x, y)
    try:
        out = wrap(np.where(cv, xv, yv))
    except ValueError:
        raise ValueError(f"where: incompatible shapes condition {cv.shape}, x {_shape_str(xv)}, "
                         f"y {_shape_str(yv)}") from None
    if _active and out._v.dtype.kind == "f":
        record(out, G.where, (x, y), (cv, xv, yv))
    return out


def switch(condition, then_expression, else_expression):
    """Keras 2 switch: a scalar condition picks a branch (callables are called), else elementwise where."""
    cv = value(condition)
    if cv.ndim == 0:
        branch = then_expression if bool(cv) else else_expression
        return branch() if callable(branch) else convert(branch)
    t = then_expression() if callable(then_expression) else then_expression
    e = else_expression() if callable(else_expression) else else_expression
    tnd = np.ndim(value(t))
    if cv.ndim > tnd:
        raise ValueError(f"switch: the condition has rank {cv.ndim}, more than the expressions' rank {tnd}")
    cond = cv.reshape(cv.shape + (1,) * (tnd - cv.ndim))
    return where(cond, t, e)


def convert(x):
    return x if isinstance(x, Tensor) else wrap(to_array(x))


def clip(x, min_value, max_value):
    """Values clipped to [min_value, max_value] (gradient 1 inside, 0 outside)."""
    xv = value(x)
    lo = -np.inf if min_value is None else (min_value._v if isinstance(min_value, Tensor) else operand(min_value))
    hi = np.inf if max_value is None else (max_value._v if isinstance(max_value, Tensor) else operand(max_value))
    if xv.dtype.kind == "f":
        lo = float(lo) if isinstance(lo, int) else lo
        hi = float(hi) if isinstance(hi, int) else hi
    if isinstance(lo, _ndarray) and lo.dtype != xv.dtype and xv.dtype.kind == "f":
        lo = lo.astype(xv.dtype)
    if isinstance(hi, _ndarray) and hi.dtype != xv.dtype and xv.dtype.kind == "f":
        hi = hi.astype(xv.dtype)
    try:
        if isinstance(lo, float) and isinstance(hi, float):
            out = wrap(kernels.unary("clip", xv, lambda v: np.clip(v, lo, hi), min_value=lo, max_value=hi))
        else:
            out = wrap(np.clip(xv, lo, hi))
    except ValueError:
        raise ValueError(f"clip: incompatible shapes x {xv.shape}, min {_shape_str(lo)}, max {_shape_str(hi)}") from None
    if out._v.dtype != xv.dtype and xv.dtype.kind == "f":
        out._v = out._v.astype(xv.dtype)
    if _active and xv.dtype.kind == "f":
        record(out, G.clip, (x,), (xv, lo, hi))
    return out


# ------------------------------------------------------------------------------------------------
# Unary elementwise ops

def _unary(name, ufunc, rule, float_only=True):
    """An elementwise op: numpy's `ufunc` for small arrays, the native kernel `name` for large ones."""
    unary = kernels.unary
    if float_only:
        def op(x):
            xv = x._v if isinstance(x, Tensor) else to_array(x)
            if xv.dtype.kind != "f":
                xv = xv.astype(common._FLOATX_DTYPE)
            out = wrap(unary(name, xv, ufunc))
            if _active:
                record(out, rule, (x,), (xv, out._v))
            return out
    else:
        def op(x):
            xv = x._v if isinstance(x, Tensor) else to_array(x)
            out = wrap(unary(name, xv, ufunc))
            if _active and xv.dtype.kind == "f":
                record(out, rule, (x,), (xv, out._v))
            return out
    op.__name__ = name
    op.__qualname__ = name
    op.__doc__ = f"Elementwise {name}."
    return op


def _rsqrt(v):
    y = np.sqrt(v)
    return np.reciprocal(y, out=y)


def _reciprocal(v):
    return np.reciprocal(v)


negative = _unary("negative", np.negative, G.negative, float_only=False)
square = _unary("square", np.square, G.square, float_only=False)
abs = _unary("abs", np.abs, G.abs, float_only=False)  # noqa: A001
absolute = abs
sqrt = _unary("sqrt", np.sqrt, G.sqrt)
rsqrt = _unary("rsqrt", _rsqrt, G.rsqrt)
exp = _unary("exp", np.exp, G.exp)
expm1 = _unary("expm1", np.expm1, G.expm1)
log = _unary("log", np.log, G.log)
log1p = _unary("log1p", np.log1p, G.log1p)
log2 = _unary("log2", np.log2, G.log2)
log10 = _unary("log10", np.log10, G.log10)
reciprocal = _unary("reciprocal", _reciprocal, G.reciprocal)
sin = _unary("sin", np.sin, G.sin)
cos = _unary("cos", np.cos, G.cos)
tan = _unary("tan", np.tan, G.tan)
arcsin = _unary("arcsin", np.arcsin, G.arcsin)
arccos = _unary("arccos", np.arccos, G.arccos)
arctan = _unary("arctan", np.arctan, G.arctan)
sinh = _unary("sinh", np.sinh, G.sinh)
cosh = _unary("cosh", np.cosh, G.cosh)
arcsinh = _unary("arcsinh", np.arcsinh, G.arcsinh)
arccosh = _unary("arccosh", np.arccosh, G.arccosh)
arctanh = _unary("arctanh", np.arctanh, G.arctanh)
exp2 = _unary("exp2", np.exp2, G.exp2)


def erf(x):
    from pykeras.backend import numpy_kernels

    xv = float_value(x)
    out = wrap(kernels.unary("erf", xv, numpy_kernels.erf))
    if _active:
        record(out, G.erf, (x,), (xv, out._v))
    return out


def _piecewise_constant(name, ufunc):
    def op(x):
        xv = value(x)
        out = wrap(kernels.unary(name, xv, ufunc))
        if _active and xv.dtype.kind == "f":
            record(out, G.zero_gradient, (x,), xv.shape)
        return out

    op.__name__ = name
    op.__doc__ = f"Elementwise {name} (zero gradient)."
    return op


def _round_half_even(v):
    return np.round(v)


sign = _piecewise_constant("sign", np.sign)
round = _piecewise_constant("round", _round_half_even)  # noqa: A001
floor = _piecewise_constant("floor", np.floor)
ceil = _piecewise_constant("ceil", np.ceil)
trunc = _piecewise_constant("trunc", np.trunc)


def identity(x):
    """x itself as a new Tensor (recorded: gradients flow through)."""
    xv = value(x)
    out = wrap(xv)
    if _active:
        record(out, G.identity, (x,), None)
    return out


def cast(x, dtype):
    """x converted to dtype (differentiable between float types)."""
    xv = value(x)
    dt = standardize_dtype(dtype)
    if xv.dtype == dt:
        return identity(x) if isinstance(x, Tensor) else wrap(xv)
    out = wrap(xv.astype(dt))
    if _active and xv.dtype.kind == "f" and dt.kind == "f":
        record(out, G.cast, (x,), xv.dtype)
    return out


def cast_to_floatx(x):
    return cast(x, common.floatx())


# ------------------------------------------------------------------------------------------------
# Reductions

def _reduce_setup(x, axis, name, float_result=False):
    xv = value(x)
    if float_result and xv.dtype.kind != "f":
        xv = xv.astype(common._FLOATX_DTYPE)
    axes = normalize_axes(axis, xv.ndim, name, xv.shape)
    return xv, axes


def sum(x, axis=None, keepdims=False):  # noqa: A001
    xv, axes = _reduce_setup(x, axis, "sum")
    if xv.dtype.kind == "b":
        xv = xv.astype(np.int32)
    out = wrap(kernels.reduce("sum", xv, axes, keepdims, lambda: np.sum(xv, axis=axes, keepdims=keepdims,
                                                                       dtype=xv.dtype)))
    if _active and xv.dtype.kind == "f":
        record(out, G.sum, (x,), (xv.shape, axes, keepdims))
    return out


_add_reduce = np.add.reduce


def mean(x, axis=None, keepdims=False):
    xv, axes = _reduce_setup(x, axis, "mean", float_result=True)
    n = 1
    for a in axes:
        n *= xv.shape[a]
    if n and xv.size >= _BIG:
        out = wrap(kernels.reduce("mean", xv, axes, keepdims,
                                  lambda: _add_reduce(xv, axis=axes, keepdims=keepdims) * (1.0 / n)))
    else:
        # add.reduce (pairwise summation, as np.mean) without np.mean's Python-level overhead.
        s = _add_reduce(xv, axis=axes, keepdims=keepdims)
        out = wrap(s * (1.0 / n) if n else np.full(np.shape(s), np.nan, xv.dtype))
    if _active:
        record(out, G.mean, (x,), (xv.shape, axes, keepdims))
    return out


def max(x, axis=None, keepdims=False, initial=None):  # noqa: A001
    xv, axes = _reduce_setup(x, axis, "max")
    if xv.size == 0 and initial is None:
        raise ValueError(f"max: cannot reduce an empty tensor of shape {xv.shape}")
    out = wrap(kernels.reduce("max", xv, axes, keepdims, lambda: np.max(xv, axis=axes, keepdims=keepdims))
               if initial is None else np.max(xv, axis=axes, keepdims=keepdims, initial=initial))
    if _active and xv.dtype.kind == "f":
        record(out, G.max, (x,), (xv, out._v, axes, keepdims))
    return out


def min(x, axis=None, keepdims=False, initial=None):  # noqa: A001
    xv, axes = _reduce_setup(x, axis, "min")
    if xv.size == 0 and initial is None:
        raise ValueError(f"min: cannot reduce an empty tensor of shape {xv.shape}")
    out = wrap(kernels.reduce("min", xv, axes, keepdims, lambda: np.min(xv, axis=axes, keepdims=keepdims))
               if initial is None else np.min(xv, axis=axes, keepdims=keepdims, initial=initial))
    if _active and xv.dtype.kind == "f":
        record(out, G.min, (x,), (xv, out._v, axes, keepdims))
    return out


amax = max
amin = min


def prod(x, axis=None, keepdims=False):
    xv, axes = _reduce_setup(x, axis, "prod")
    out = wrap(kernels.reduce("prod", xv, axes, keepdims, lambda: np.prod(xv, axis=axes, keepdims=keepdims)))
    if _active and xv.dtype.kind == "f":
        record(out, G.prod, (x,), (xv, out._v, axes, keepdims))
    return out


def var(x, axis=None, keepdims=False):
    """Population variance (Keras: no Bessel correction)."""
    xv, axes = _reduce_setup(x, axis, "var", float_result=True)

    def numpy_var():
        return np.mean(np.square(xv - np.mean(xv, axis=axes, keepdims=True)), axis=axes, keepdims=keepdims)

    out = wrap(kernels.reduce("var", xv, axes, keepdims, numpy_var))
    if _active:
        n = int(np.prod([xv.shape[a] for a in axes])) if axes else 1
        record(out, G.var, (x,), (xv, out._v, axes, keepdims, n))
    return out


def std(x, axis=None, keepdims=False):
    xv, axes = _reduce_setup(x, axis, "std", float_result=True)

    def numpy_std():
        s_ = np.sqrt(np.mean(np.square(xv - np.mean(xv, axis=axes, keepdims=True)), axis=axes, keepdims=True))
        return s_ if keepdims else s_.reshape([d for i, d in enumerate(s_.shape) if i not in axes])

    out = wrap(kernels.reduce("std", xv, axes, keepdims, numpy_std))
    if _active:
        n = int(np.prod([xv.shape[a] for a in axes])) if axes else 1
        record(out, G.std, (x,), (xv, out._v, axes, keepdims, n))
    return out


def logsumexp(x, axis=None, keepdims=False):
    xv, axes = _reduce_setup(x, axis, "logsumexp", float_result=True)

    def numpy_lse():
        m = np.max(xv, axis=axes, keepdims=True)
        m = np.where(np.isfinite(m), m, 0.0).astype(xv.dtype, copy=False)
        r = np.log(np.sum(np.exp(xv - m), axis=axes, keepdims=True)) + m
        return r if keepdims else r.reshape([d for i, d in enumerate(r.shape) if i not in axes])

    out = wrap(kernels.reduce("logsumexp", xv, axes, keepdims, numpy_lse))
    if _active:
        record(out, G.logsumexp, (x,), (xv, out._v, axes, keepdims))
    return out


def any(x, axis=None, keepdims=False):  # noqa: A001
    xv, axes = _reduce_setup(x, axis, "any")
    return wrap(np.any(xv, axis=axes, keepdims=keepdims))


def all(x, axis=None, keepdims=False):  # noqa: A001
    xv, axes = _reduce_setup(x, axis, "all")
    return wrap(np.all(xv, axis=axes, keepdims=keepdims))


def count_nonzero(x, axis=None):
    xv, axes = _reduce_setup(x, axis, "count_nonzero")
    return wrap(np.asarray(np.count_nonzero(xv, axis=axes), np.int32))


def argmax(x, axis=-1, keepdims=False):
    """int32 index of the (first) maximum along axis (None: of the flattened tensor)."""
    xv = value(x)
    a = None if axis is None else normalize_axis(axis, xv.ndim, "argmax", xv.shape)
    return wrap(kernels.arg_reduce(True, xv, a, keepdims and a is not None))


def argmin(x, axis=-1, keepdims=False):
    xv = value(x)
    a = None if axis is None else normalize_axis(axis, xv.ndim, "argmin", xv.shape)
    return wrap(kernels.arg_reduce(False, xv, a, keepdims and a is not None))


def cumsum(x, axis=None):
    xv = value(x)
    if axis is None:
        from pykeras.backend import array_ops as _shape

        return cumsum(_shape.reshape(x, (-1,)), 0)
    a = normalize_axis(axis, xv.ndim, "cumsum", xv.shape)
    out = wrap(np.cumsum(xv, axis=a, dtype=xv.dtype if xv.dtype.kind != "b" else np.int32))
    if _active and xv.dtype.kind == "f":
        record(out, G.cumsum, (x,), (a,))
    return out


def cumprod(x, axis=None):
    xv = value(x)
    if axis is None:
        from pykeras.backend import array_ops as _shape

        return cumprod(_shape.reshape(x, (-1,)), 0)
    a = normalize_axis(axis, xv.ndim, "cumprod", xv.shape)
    out = wrap(np.cumprod(xv, axis=a))
    if _active and xv.dtype.kind == "f":
        record(out, G.cumprod, (x,), (xv, out._v, a))
    return out


# ------------------------------------------------------------------------------------------------
# Matrix products

def matmul(x, y):
    """numpy matmul semantics: batch dimensions broadcast, 1-D operands promoted then squeezed."""
    xv, yv = value(x), value(y)
    if xv.ndim == 0 or yv.ndim == 0:
        raise ValueError(f"matmul: operands must have rank >= 1, got shapes {xv.shape} and {yv.shape}")
    if xv.ndim == 1 or yv.ndim == 1:
        from pykeras.backend import array_ops as _shape

        xe = _shape.expand_dims(x, 0) if xv.ndim == 1 else x
        ye = _shape.expand_dims(y, -1) if yv.ndim == 1 else y
        r = matmul(xe, ye)
        if xv.ndim == 1:
            r = _shape.squeeze(r, -2)
        if yv.ndim == 1:
            r = _shape.squeeze(r, -1)
        return r
    if xv.shape[-1] != yv.shape[-2]:
        raise ValueError(f"matmul: inner dimensions differ: shapes {xv.shape} and {yv.shape} "
                         f"({xv.shape[-1]} != {yv.shape[-2]})")
    if xv.dtype != yv.dtype:
        xv, yv = binary_operands(xv, yv)
    try:
        out = wrap(kernels.matmul(xv, yv))
    except ValueError:
        raise ValueError(f"matmul: batch dimensions of shapes {xv.shape} and {yv.shape} do not broadcast") from None
    if _active and out._v.dtype.kind == "f":
        record(out, G.matmul, (x, y), (xv, yv))
    return out


def dot(x, y):
    """Keras K.dot: np.dot semantics (contracts the last axis of x with the second-to-last of y)."""
    from pykeras.backend import array_ops as _shape

    xv, yv = value(x), value(y)
    if xv.ndim <= 2 and yv.ndim <= 2:
        if xv.ndim == 1 and yv.ndim == 1:
            if xv.shape != yv.shape:
                raise ValueError(f"dot: shapes {xv.shape} and {yv.shape} differ")
            return sum(multiply(x, y))
        return matmul(x, y)
    if yv.ndim == 1:
        return matmul(x, y)
    k = xv.shape[-1]
    if yv.shape[-2] != k:
        raise ValueError(f"dot: shapes {xv.shape} and {yv.shape} are not aligned ({k} != {yv.shape[-2]})")
    # y (..., k, n) -> (k, ... * n)
    perm = [yv.ndim - 2] + [i for i in range(yv.ndim) if i != yv.ndim - 2]
    y2 = _shape.reshape(_shape.transpose(y, perm), (k, -1))
    r = matmul(_shape.reshape(x, (-1, k)), y2)
    return _shape.reshape(r, xv.shape[:-1] + yv.shape[:-2] + yv.shape[-1:])


def batch_dot(x, y, axes=None):
    """Keras K.batch_dot: per-sample dot products over `axes` (Keras 2 semantics)."""
    from pykeras.backend import array_ops as _shape

    xv, yv = value(x), value(y)
    xs, ys = xv.shape, yv.shape
    xn, yn = len(xs), len(ys)
    if xn < 2 or yn < 2:
        raise ValueError(f"batch_dot: inputs must have rank >= 2, got shapes {xs} and {ys}")
    if xs[0] != ys[0]:
        raise ValueError(f"batch_dot: batch sizes differ: shapes {xs} and {ys}")
    if isinstance(axes, (int, np.integer)):
        axes = (int(axes), int(axes))
    if axes is None:
        axes = (xn - 1, yn - 1) if yn == 2 else (xn - 1, yn - 2)
    if builtins.any(isinstance(a, (list, tuple)) for a in axes):
        raise ValueError(f"batch_dot: multiple contraction axes are not supported, got axes={axes}")
    a0, a1 = (int(axes[0]) % xn, int(axes[1]) % yn)
    if a0 == 0 or a1 == 0:
        raise ValueError(f"batch_dot: cannot contract over the batch axis (axes={axes}, shapes {xs} and {ys})")
    if xs[a0] != ys[a1]:
        raise ValueError(f"batch_dot: shapes {xs} and {ys} with axes={tuple(axes)} do not align "
                         f"({xs[a0]} != {ys[a1]})")
    orig_xn, orig_yn = xn, yn
    if xn == 2:
        x = _shape.expand_dims(x, 1)
        a0 += 1
        xn += 1
    if yn == 2:
        y = _shape.expand_dims(y, 2)
        yn += 1
    if a0 != xn - 1:
        x = _shape.transpose(x, [i for i in range(xn) if i != a0] + [a0])
    if a1 != 1:
        y = _shape.transpose(y, [0, a1] + [i for i in range(1, yn) if i != a1])
    xsh, ysh = value(x).shape, value(y).shape
    b, k = xsh[0], xsh[-1]
    x3 = _shape.reshape(x, (b, -1, k))
    y3 = _shape.reshape(y, (b, k, -1))
    r = matmul(x3, y3)
    r = _shape.reshape(r, (b,) + tuple(xsh[1:-1]) + tuple(ysh[2:]))
    if orig_xn == 2:
        r = _shape.squeeze(r, 1)
    elif orig_yn == 2:
        r = _shape.squeeze(r, -1)
    if value(r).ndim == 1:
        r = _shape.expand_dims(r, 1)
    return r


def tensordot(x, y, axes=2):
    """numpy tensordot: contracts `axes` (an int, or two lists of axes)."""
    from pykeras.backend import array_ops as _shape

    xv, yv = value(x), value(y)
    if isinstance(axes, (int, np.integer)):
        n = int(axes)
        ax, ay = list(range(xv.ndim - n, xv.ndim)), list(range(n))
    else:
        ax, ay = axes
        ax = [ax] if isinstance(ax, (int, np.integer)) else list(ax)
        ay = [ay] if isinstance(ay, (int, np.integer)) else list(ay)
    ax = [normalize_axis(a, xv.ndim, "tensordot", xv.shape) for a in ax]
    ay = [normalize_axis(a, yv.ndim, "tensordot", yv.shape) for a in ay]
    if len(ax) != len(ay) or builtins.any(xv.shape[a] != yv.shape[b] for a, b in zip(ax, ay)):
        raise ValueError(f"tensordot: shapes {xv.shape} and {yv.shape} do not align on axes {ax} and {ay}")
    fx = [i for i in range(xv.ndim) if i not in ax]
    fy = [i for i in range(yv.ndim) if i not in ay]
    k = int(np.prod([xv.shape[a] for a in ax])) if ax else 1
    x2 = _shape.reshape(_shape.transpose(x, fx + ax), (-1, k))
    y2 = _shape.reshape(_shape.transpose(y, ay + fy), (k, -1))
    r = matmul(x2, y2)
    return _shape.reshape(r, tuple(xv.shape[i] for i in fx) + tuple(yv.shape[i] for i in fy))


_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _parse_einsum(subscripts, shapes):
    """Explicit per-operand subscripts and output subscripts (ellipses spelled out as letters)."""
    subscripts = subscripts.replace(" ", "")
    if "->" in subscripts:
        lhs, out = subscripts.split("->")
    else:
        lhs, out = subscripts, None
    ins = lhs.split(",")
    if len(ins) != len(shapes):
        raise ValueError(f"einsum: {len(ins)} operand subscripts in {subscripts!r} for {len(shapes)} operands")
    used = set(c for c in subscripts if c.isalpha())
    free = [c for c in _LETTERS if c not in used]
    n_ell = builtins.max([len(sh) - (len(sub) - 3) for sub, sh in zip(ins, shapes) if "..." in sub] or [0])
    ell = "".join(free[:n_ell])
    explicit = []
    for sub, sh in zip(ins, shapes):
        if "..." in sub:
            k = len(sh) - (len(sub) - 3)
            sub = sub.replace("...", ell[n_ell - k:] if k else "")
        if len(sub) != len(sh):
            raise ValueError(f"einsum: subscripts {sub!r} do not match an operand of shape {tuple(sh)}")
        explicit.append(sub)
    if out is None:
        counts = {}
        for sub in explicit:
            for c in sub:
                counts[c] = counts.get(c, 0) + 1
        out = ell + "".join(sorted(c for c, n in counts.items() if n == 1 and c not in ell))
    else:
        out = out.replace("...", ell)
    return explicit, out


def einsum(subscripts, *operands):
    """numpy einsum (differentiable when no operand repeats a subscript letter)."""
    vals = [value(o) for o in operands]
    if builtins.any(v.dtype != vals[0].dtype for v in vals):
        target = np.result_type(*[v.dtype for v in vals if v.dtype.kind == "f"] or [v.dtype for v in vals])
        vals = [v.astype(target, copy=False) for v in vals]
    ins, out_sub = _parse_einsum(subscripts, [v.shape for v in vals])
    spec = ",".join(ins) + "->" + out_sub
    try:
        if len(vals) == 2:
            r = kernels.einsum2(ins[0], ins[1], out_sub, vals[0], vals[1])
        else:
            r = np.einsum(spec, *vals, optimize=len(vals) > 1)
    except ValueError as e:
        raise ValueError(f"einsum: {subscripts!r} does not fit operands of shapes {[v.shape for v in vals]}: {e}") from None
    out = wrap(np.asarray(r, dtype=vals[0].dtype))
    if _active and out._v.dtype.kind == "f":
        if builtins.any(len(set(sub)) != len(sub) for sub in ins):
            raise NotImplementedError(f"einsum: gradients of {subscripts!r} (a repeated subscript in one operand) "
                                      "are not supported")
        record(out, G.einsum, list(operands), (vals, ins, out_sub))
    return out


def outer(x, y):
    from pykeras.backend import array_ops as _shape

    return multiply(_shape.reshape(x, (-1, 1)), _shape.reshape(y, (1, -1)))


def _install_operators():
    """Python operators of Tensor."""
    def rev(fn):
        def r(self, other):
            return fn(other, self)
        r.__name__ = "r" + fn.__name__
        return r

    T = Tensor
    T.__add__ = add
    T.__radd__ = rev(add)
    T.__sub__ = subtract
    T.__rsub__ = rev(subtract)
    T.__mul__ = multiply
    T.__rmul__ = rev(multiply)
    T.__truediv__ = divide
    T.__rtruediv__ = rev(divide)
    T.__floordiv__ = floor_divide
    T.__rfloordiv__ = rev(floor_divide)
    T.__mod__ = mod
    T.__rmod__ = rev(mod)
    T.__pow__ = power
    T.__rpow__ = rev(power)
    T.__matmul__ = matmul
    T.__rmatmul__ = rev(matmul)
    T.__neg__ = negative
    T.__pos__ = identity
    T.__abs__ = abs
    T.__lt__ = less
    T.__le__ = less_equal
    T.__gt__ = greater
    T.__ge__ = greater_equal
    T.__eq__ = equal
    T.__ne__ = not_equal
    T.__and__ = logical_and
    T.__or__ = logical_or
    T.__xor__ = logical_xor
    T.__invert__ = logical_not
    T.__hash__ = object.__hash__


_install_operators()

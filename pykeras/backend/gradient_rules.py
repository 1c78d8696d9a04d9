"""Every backward rule of the backend, one per op, in one place.

A rule is `rule(node, g) -> sequence of input gradients`, aligned with the op's recorded inputs
(None where no gradient is needed: `node.parents[i] is None` means the input is not tracked, so
rules skip that work). `node.saved` holds what the op kept from its forward pass (numpy arrays
and parameters; its layout is documented at each rule and set by the op that records it).
Rules never write into `g` or into saved arrays: the tape may hand the same array to several
rules. Each returned gradient has exactly the shape of its input; `unbroadcast` sums the axes a
binary op broadcast over.

Composite ops (tensordot, batch_dot, l2_normalize, losses without logits...) are built from
recorded primitives and need no rule here. tests/backend/test_backend_gradients.py checks every
rule in RULES against central finite differences.
"""
import numpy as np

from pykeras.backend import kernels
from pykeras.backend.tape import IndexedGrad

RULES = {}

_LN2 = 0.6931471805599453
_LN10 = 2.302585092994046
_TWO_OVER_SQRT_PI = 1.1283791670955126


def rule(fn):
    RULES[fn.__name__] = fn
    return fn


def unbroadcast(g, shape):
    """Sums g over the axes that broadcasting added or stretched to reach g.shape from `shape`."""
    if g.shape == shape:
        return g
    r = kernels.reduce_to_shape(g, shape)
    if r is not None:
        return r
    lead = g.ndim - len(shape)
    if lead:
        g = g.sum(axis=tuple(range(lead)))
    axes = tuple(i for i, (s, gs) in enumerate(zip(shape, g.shape)) if s == 1 and gs != 1)
    if axes:
        g = g.sum(axis=axes, keepdims=True)
    return g.reshape(shape)


def _shape(v):
    return v.shape if isinstance(v, np.ndarray) else ()


# ------------------------------------------------------------------------------------------------
# Elementwise binary ops. saved = (x, y) as numpy arrays (or Python scalars for constants; a
# scalar input is never tracked, so its gradient is never computed).

@rule
def add(node, g):
    x, y = node.saved
    p = node.parents
    gx = gy = None
    if p[0] is not None:
        gx = g if g.shape == x.shape else unbroadcast(g, x.shape)
    if p[1] is not None:
        gy = g if g.shape == y.shape else unbroadcast(g, y.shape)
    return gx, gy


@rule
def subtract(node, g):
    x, y = node.saved
    p = node.parents
    gx = gy = None
    if p[0] is not None:
        gx = g if g.shape == x.shape else unbroadcast(g, x.shape)
    if p[1] is not None:
        gy = -g if g.shape == y.shape else unbroadcast(-g, y.shape)
    return gx, gy


def _native_binary(name, node, g):
    """(dx, dy) from the native kernel for large operands, or None."""
    if g.size < kernels.NATIVE_ELTWISE_MIN:
        return None
    x, y = node.saved[0], node.saved[1]
    p = node.parents
    return kernels.binary_backward(name, x, y, g, p[0] is not None, p[1] is not None)


@rule
def multiply(node, g):
    r = _native_binary("multiply", node, g)
    if r is not None:
        return r
    x, y = node.saved
    p = node.parents
    gx = gy = None
    if p[0] is not None:
        gx = g * y
        if gx.shape != x.shape:
            gx = unbroadcast(gx, x.shape)
    if p[1] is not None:
        gy = g * x
        if gy.shape != y.shape:
            gy = unbroadcast(gy, y.shape)
    return gx, gy


@rule
def divide(node, g):
    r = _native_binary("divide", node, g)
    if r is not None:
        return r
    x, y = node.saved
    p = node.parents
    gx = g / y
    return (unbroadcast(gx, _shape(x)) if p[0] is not None else None,
            unbroadcast(-gx * x / y, _shape(y)) if p[1] is not None else None)


@rule
def power(node, g):
    # saved = (x, y, out)
    x, y, out = node.saved
    p = node.parents
    gx = gy = None
    if p[0] is not None:
        gx = unbroadcast(g * y * np.power(x, y - 1), _shape(x))
    if p[1] is not None:
        safe = np.where(x > 0, x, 1.0)
        gy = unbroadcast(g * out * np.log(safe).astype(g.dtype, copy=False), _shape(y))
    return gx, gy


@rule
def arctan2(node, g):
    # inputs (y, x): d/dy = x / (x^2 + y^2), d/dx = -y / (x^2 + y^2)
    y, x = node.saved
    r2 = x * x + y * y
    p = node.parents
    return (unbroadcast(g * x / r2, _shape(y)) if p[0] is not None else None,
            unbroadcast(-g * y / r2, _shape(x)) if p[1] is not None else None)


@rule
def maximum(node, g):
    # Ties go to x (TensorFlow's convention).
    r = _native_binary("maximum", node, g)
    if r is not None:
        return r
    x, y = node.saved
    mask = np.greater_equal(x, y)
    p = node.parents
    return (unbroadcast(np.where(mask, g, 0.0).astype(g.dtype, copy=False), _shape(x)) if p[0] is not None else None,
            unbroadcast(np.where(mask, 0.0, g).astype(g.dtype, copy=False), _shape(y)) if p[1] is not None else None)


@rule
def minimum(node, g):
    r = _native_binary("minimum", node, g)
    if r is not None:
        return r
    x, y = node.saved
    mask = np.less_equal(x, y)
    p = node.parents
    return (unbroadcast(np.where(mask, g, 0.0).astype(g.dtype, copy=False), _shape(x)) if p[0] is not None else None,
            unbroadcast(np.where(mask, 0.0, g).astype(g.dtype, copy=False), _shape(y)) if p[1] is not None else None)


@rule
def mod(node, g):
    x, y = node.saved
    p = node.parents
    return (unbroadcast(g, _shape(x)) if p[0] is not None else None,
            unbroadcast(-g * np.floor_divide(x, y), _shape(y)) if p[1] is not None else None)


@rule
def where(node, g):
    # saved = (cond, x, y); inputs (x, y).
    cond, x, y = node.saved
    p = node.parents
    zero = np.zeros((), g.dtype)
    return (unbroadcast(np.where(cond, g, zero), _shape(x)) if p[0] is not None else None,
            unbroadcast(np.where(cond, zero, g), _shape(y)) if p[1] is not None else None)


@rule
def clip(node, g):
    # saved = (x, lo, hi): the gradient passes where lo <= x <= hi.
    x, lo, hi = node.saved
    if isinstance(lo, float) and isinstance(hi, float):
        r = kernels.unary_backward("clip", g, x, None, min_value=lo, max_value=hi)
        if r is not None:
            return (r,)
    inside = (x >= lo) & (x <= hi)
    return (np.where(inside, g, 0.0).astype(g.dtype, copy=False),)


# ------------------------------------------------------------------------------------------------
# Elementwise unary ops. saved = (x, y) unless stated.

@rule
def identity(node, g):
    return (g,)


# Each rule hands large float32 arrays to the native kernel (kernels.unary_backward returns None
# otherwise) and states the formula for the numpy path.

@rule
def negative(node, g):
    return (-g,)


@rule
def square(node, g):
    x, y = node.saved
    r = kernels.unary_backward("square", g, x, y)
    return (g * (2.0 * x) if r is None else r,)


@rule
def sqrt(node, g):
    x, y = node.saved
    r = kernels.unary_backward("sqrt", g, x, y)
    return (g / (2.0 * y) if r is None else r,)


@rule
def rsqrt(node, g):
    x, y = node.saved
    r = kernels.unary_backward("rsqrt", g, x, y)
    return (g * (-0.5 * y * y * y) if r is None else r,)


@rule
def exp(node, g):
    x, y = node.saved
    r = kernels.unary_backward("exp", g, x, y)
    return (g * y if r is None else r,)


@rule
def exp2(node, g):
    x, y = node.saved
    r = kernels.unary_backward("exp2", g, x, y)
    return (g * y * _LN2 if r is None else r,)


@rule
def expm1(node, g):
    x, y = node.saved
    r = kernels.unary_backward("expm1", g, x, y)
    return (g * (y + 1.0) if r is None else r,)


@rule
def log(node, g):
    x, y = node.saved
    r = kernels.unary_backward("log", g, x, y)
    return (g / x if r is None else r,)


@rule
def log1p(node, g):
    x, y = node.saved
    r = kernels.unary_backward("log1p", g, x, y)
    return (g / (x + 1.0) if r is None else r,)


@rule
def log2(node, g):
    x, y = node.saved
    r = kernels.unary_backward("log2", g, x, y)
    return (g / (x * _LN2) if r is None else r,)


@rule
def log10(node, g):
    x, y = node.saved
    r = kernels.unary_backward("log10", g, x, y)
    return (g / (x * _LN10) if r is None else r,)


@rule
def abs(node, g):  # noqa: A001 - the op's name
    x, y = node.saved
    r = kernels.unary_backward("abs", g, x, y)
    return (g * np.sign(x) if r is None else r,)


@rule
def reciprocal(node, g):
    x, y = node.saved
    r = kernels.unary_backward("reciprocal", g, x, y)
    return (g * -(y * y) if r is None else r,)


@rule
def sin(node, g):
    x, y = node.saved
    r = kernels.unary_backward("sin", g, x, y)
    return (g * np.cos(x) if r is None else r,)


@rule
def cos(node, g):
    x, y = node.saved
    r = kernels.unary_backward("cos", g, x, y)
    return (g * -np.sin(x) if r is None else r,)


@rule
def tan(node, g):
    x, y = node.saved
    r = kernels.unary_backward("tan", g, x, y)
    return (g * (1.0 + y * y) if r is None else r,)


@rule
def arcsin(node, g):
    x, y = node.saved
    r = kernels.unary_backward("arcsin", g, x, y)
    return (g / np.sqrt(1.0 - x * x) if r is None else r,)


@rule
def arccos(node, g):
    x, y = node.saved
    r = kernels.unary_backward("arccos", g, x, y)
    return (-g / np.sqrt(1.0 - x * x) if r is None else r,)


@rule
def arctan(node, g):
    x, y = node.saved
    r = kernels.unary_backward("arctan", g, x, y)
    return (g / (1.0 + x * x) if r is None else r,)


@rule
def sinh(node, g):
    x, y = node.saved
    r = kernels.unary_backward("sinh", g, x, y)
    return (g * np.cosh(x) if r is None else r,)


@rule
def cosh(node, g):
    x, y = node.saved
    r = kernels.unary_backward("cosh", g, x, y)
    return (g * np.sinh(x) if r is None else r,)


@rule
def arcsinh(node, g):
    x, y = node.saved
    r = kernels.unary_backward("arcsinh", g, x, y)
    return (g / np.sqrt(x * x + 1.0) if r is None else r,)


@rule
def arccosh(node, g):
    x, y = node.saved
    r = kernels.unary_backward("arccosh", g, x, y)
    return (g / np.sqrt(x * x - 1.0) if r is None else r,)


@rule
def arctanh(node, g):
    x, y = node.saved
    r = kernels.unary_backward("arctanh", g, x, y)
    return (g / (1.0 - x * x) if r is None else r,)


@rule
def erf(node, g):
    x, y = node.saved
    r = kernels.unary_backward("erf", g, x, y)
    return (g * (_TWO_OVER_SQRT_PI * np.exp(-x * x)) if r is None else r,)


@rule
def zero_gradient(node, g):
    """round, floor, ceil, sign: piecewise constant, zero gradient (saved = input shape)."""
    return (np.zeros(node.saved, g.dtype),)


@rule
def cast(node, g):
    # saved = source dtype (a float dtype; casts from integers are not recorded).
    return (g.astype(node.saved, copy=False),)


# ------------------------------------------------------------------------------------------------
# Activations. saved = (name, x, y, alpha); x may be None for names in kernels.FROM_OUTPUT.

@rule
def activation(node, g):
    name, x, y, alpha = node.saved
    return (kernels.act_backward(name, g, x, y, alpha),)


@rule
def softmax(node, g):
    # saved = (y2d, axis_moved, shape): y2d is the output with the softmax axis last, as 2-D.
    y2, moved_shape, axis = node.saved
    g2 = _rows(g, axis, moved_shape)
    return (_unrows(kernels.softmax_backward(y2, g2), axis, moved_shape),)


@rule
def log_softmax(node, g):
    y2, moved_shape, axis = node.saved
    g2 = _rows(g, axis, moved_shape)
    return (_unrows(kernels.log_softmax_backward(y2, g2), axis, moved_shape),)


def _rows(a, axis, moved_shape):
    """a with `axis` moved last, as a C-contiguous 2-D array (rows, classes)."""
    if axis != a.ndim - 1:
        a = np.moveaxis(a, axis, -1)
    return np.ascontiguousarray(a).reshape(-1, moved_shape[-1])


def _unrows(a2, axis, moved_shape):
    a = a2.reshape(moved_shape)
    if axis != len(moved_shape) - 1:
        a = np.moveaxis(a, -1, axis)
    return a


@rule
def softmax_crossentropy(node, g):
    # inputs (target, logits); saved = (grad2d, logits2d, moved_shape, axis): grad2d is the
    # logits' gradient for unit upstream gradients, softmax * sum(target) - target, computed by the
    # forward kernel. The target's gradient is -log_softmax(logits).
    grad, logits, moved_shape, axis = node.saved
    p = node.parents
    g1 = np.ascontiguousarray(g).reshape(-1)
    dt = dz = None
    if p[1] is not None and grad is not None:
        dz = _unrows(kernels.scale_rows(grad, g1), axis, moved_shape)
    if p[0] is not None:
        dt = _unrows(kernels.scale_rows(-kernels.log_softmax(logits), g1), axis, moved_shape)
    return dt, dz


@rule
def sparse_softmax_crossentropy(node, g):
    # inputs (logits,); saved = (grad2d = softmax - onehot, moved_shape, axis).
    grad, moved_shape, axis = node.saved
    return (_unrows(kernels.scale_rows(grad, np.ascontiguousarray(g).reshape(-1)), axis, moved_shape),)


@rule
def sigmoid_crossentropy(node, g):
    # inputs (target, logits); saved = (grad = sigmoid(logits) - target, logits, target shape,
    # logits shape), grad and logits at the broadcast shape.
    grad, logits, t_shape, z_shape = node.saved
    p = node.parents
    dt = dz = None
    if p[1] is not None:
        dz = unbroadcast(grad * g, z_shape)
    if p[0] is not None:
        dt = unbroadcast(-logits * g, t_shape)
    return dt, dz


# ------------------------------------------------------------------------------------------------
# Reductions. saved = (x, y, axes, keepdims) unless stated; axes is a tuple of non-negative ints.

def _expand(g, ndim, axes, keepdims):
    if keepdims or not axes:
        return g
    shape = list(g.shape)
    for a in sorted(axes):
        shape.insert(a, 1)
    return g.reshape(shape)


@rule
def sum(node, g):  # noqa: A001
    shape, axes, keepdims = node.saved
    return (np.broadcast_to(_expand(g, len(shape), axes, keepdims), shape),)


@rule
def mean(node, g):
    shape, axes, keepdims = node.saved
    n = 1
    for a in axes:
        n *= shape[a]
    return (np.broadcast_to(_expand(g, len(shape), axes, keepdims) * (1.0 / n if n else 1.0), shape),)


def _extremum(node, g):
    # Ties share the gradient equally (TensorFlow and JAX do the same).
    x, y, axes, keepdims = node.saved
    yk = _expand(y, x.ndim, axes, keepdims)
    mask = (x == yk)
    count = mask.sum(axis=axes, keepdims=True)
    return (np.where(mask, _expand(g, x.ndim, axes, keepdims) / count, 0.0).astype(g.dtype, copy=False),)


@rule
def max(node, g):  # noqa: A001
    return _extremum(node, g)


@rule
def min(node, g):  # noqa: A001
    return _extremum(node, g)


@rule
def prod(node, g):
    # The product of the other elements of each reduced group, via exclusive cumulative
    # products from both ends (exact with zeros, unlike y / x).
    x, _, axes, keepdims = node.saved
    nd = x.ndim
    rest = [a for a in range(nd) if a not in axes]
    perm = rest + list(axes)
    xt = np.transpose(x, perm)
    lead = xt.shape[:len(rest)]
    flat = xt.reshape(lead + (-1,))
    ones = np.ones(lead + (1,), x.dtype)
    left = np.cumprod(np.concatenate([ones, flat[..., :-1]], axis=-1), axis=-1)
    right = np.cumprod(np.concatenate([ones, flat[..., :0:-1]], axis=-1), axis=-1)[..., ::-1]
    others = (left * right).reshape(xt.shape)
    others = np.transpose(others, np.argsort(perm))
    return (others * _expand(g, nd, axes, keepdims),)


@rule
def var(node, g):
    # saved = (x, y, axes, keepdims, n): d var / dx = 2 (x - mean) / n
    x, y, axes, keepdims, n = node.saved
    r = kernels.reduce_backward("var", x, y, g, axes, keepdims)
    if r is not None:
        return (r,)
    m = np.mean(x, axis=axes, keepdims=True)
    return ((x - m) * (_expand(g, x.ndim, axes, keepdims) * (2.0 / n)),)


@rule
def std(node, g):
    # d std / dx = (x - mean) / (n std)
    x, y, axes, keepdims, n = node.saved
    r = kernels.reduce_backward("std", x, y, g, axes, keepdims)
    if r is not None:
        return (r,)
    m = np.mean(x, axis=axes, keepdims=True)
    return ((x - m) * (_expand(g, x.ndim, axes, keepdims) / (_expand(y, x.ndim, axes, keepdims) * n)),)


@rule
def logsumexp(node, g):
    x, y, axes, keepdims = node.saved
    r = kernels.reduce_backward("logsumexp", x, y, g, axes, keepdims)
    if r is not None:
        return (r,)
    return (np.exp(x - _expand(y, x.ndim, axes, keepdims)) * _expand(g, x.ndim, axes, keepdims),)


@rule
def cumsum(node, g):
    axis, = node.saved
    return (np.flip(np.cumsum(np.flip(g, axis), axis=axis), axis),)


@rule
def cumprod(node, g):
    # d y_j / d x_i = y_j / x_i for j >= i (inputs away from zero).
    x, y, axis = node.saved
    acc = np.flip(np.cumsum(np.flip(g * y, axis), axis=axis), axis)
    return (acc / x,)


# ------------------------------------------------------------------------------------------------
# Linear algebra

@rule
def matmul(node, g):
    # saved = (a, b) with ndim >= 2 (1-D operands are expanded by the op, then squeezed).
    # da = g @ b^T, db = a^T @ g, summed over broadcast batch dimensions.
    a, b = node.saved
    p = node.parents
    da = db = None
    if p[0] is not None:
        da = unbroadcast(kernels.matmul(g, b, trans_b=True), a.shape)
    if p[1] is not None:
        if b.ndim == 2 and a.ndim > 2:
            db = kernels.gemm(np.ascontiguousarray(a).reshape(-1, a.shape[-1]),
                              np.ascontiguousarray(g).reshape(-1, g.shape[-1]), trans_a=True)
        else:
            db = unbroadcast(kernels.matmul(a, g, trans_a=True), b.shape)
    return da, db


@rule
def einsum(node, g):
    # saved = (operand arrays, per-operand subscripts, output subscripts), no operand repeating a
    # letter. d out / d operand_i = einsum of g and the other operands onto operand i's letters;
    # letters only operand i has (summed away on their own) come back by broadcasting.
    vals, ins, out_sub = node.saved
    res = []
    for i, (v, sub) in enumerate(zip(vals, ins)):
        if node.parents[i] is None:
            res.append(None)
            continue
        others = [(s_, w) for j, (w, s_) in enumerate(zip(vals, ins)) if j != i]
        present = set(out_sub).union(*[set(s_) for s_, _ in others]) if others else set(out_sub)
        kept = "".join(c for c in sub if c in present)
        if len(others) == 1:
            r = kernels.einsum2(out_sub, others[0][0], kept, g, others[0][1])
        else:
            spec = ",".join([out_sub] + [s_ for s_, _ in others]) + "->" + kept
            r = np.einsum(spec, g, *[w for _, w in others], optimize=len(others) > 0)
        if kept != sub:
            r = _expand_letters(r, kept, sub)
        r = unbroadcast(np.asarray(r, g.dtype), tuple(1 if d == 1 else e for d, e in zip(v.shape, r.shape)))
        res.append(np.broadcast_to(r, v.shape) if r.shape != v.shape else r)
    return res


def _expand_letters(r, kept, sub):
    """Reshape r (letters `kept`) to the rank of `sub`, size 1 at the letters kept lacks."""
    shape = []
    it = iter(r.shape)
    for c in sub:
        shape.append(next(it) if c in kept else 1)
    return r.reshape(shape)


@rule
def dense(node, g):
    # inputs (x, kernel, bias); saved = (x2d, kernel, out2d or z2d, act, alpha, x_shape).
    # With an activation in kernels.FROM_OUTPUT the output is enough; otherwise z (pre-activation) is kept.
    x2, w, r, act, alpha, x_shape, from_output = node.saved
    p = node.parents
    g2 = g.reshape(-1, w.shape[1]) if g.ndim != 2 else g
    if act == "linear":
        dz = g2
    elif from_output:
        dz = kernels.act_backward(act, g2, None, r, alpha)
    else:
        dz = kernels.act_backward(act, g2, r, None, alpha)
    dx = dw = db = None
    if p[0] is not None:
        dx = kernels.gemm(dz, w, trans_b=True)
        if len(x_shape) != 2:
            dx = dx.reshape(x_shape)
    if p[1] is not None:
        dw = kernels.gemm(x2, dz, trans_a=True)
    if len(p) > 2 and p[2] is not None:
        db = kernels.column_sums(dz)
    return dx, dw, db


@rule
def bias_add(node, g):
    # saved = (x_shape, bias_shape, channel_axis)
    x_shape, b_shape, axis = node.saved
    axes = tuple(i for i in range(len(x_shape)) if i != axis)
    return g, g.sum(axis=axes).reshape(b_shape)


# ------------------------------------------------------------------------------------------------
# Shape and movement ops

@rule
def reshape(node, g):
    shape, = node.saved
    return (g.reshape(shape),)


@rule
def transpose(node, g):
    perm, = node.saved
    return (np.transpose(g, np.argsort(perm)),)


@rule
def broadcast_to(node, g):
    shape, = node.saved
    return (unbroadcast(g, shape),)


@rule
def concatenate(node, g):
    # saved = (sizes along axis, axis)
    sizes, axis = node.saved
    bounds = np.cumsum(sizes)[:-1]
    return tuple(np.split(g, bounds, axis=axis))


@rule
def stack(node, g):
    n, axis = node.saved
    return tuple(np.take(g, i, axis=axis) for i in range(n))


@rule
def getitem(node, g):
    # saved = (x_shape, dtype, key, basic): basic indexing selects each element at most once.
    # The gradient is returned as an IndexedGrad, which the tape adds into the input's gradient
    # buffer in place (cheap for many slices of one tensor).
    shape, dtype, key, basic = node.saved
    return (IndexedGrad(shape, g.dtype, key, g, basic),)


@rule
def take(node, g):
    # saved = (x_shape, indices, axis): numpy.take along axis (indices already non-negative).
    shape, idx, axis = node.saved
    dx = np.zeros(shape, g.dtype)
    dxm = np.moveaxis(dx, axis, 0)
    gm = np.moveaxis(g, list(range(axis, axis + idx.ndim)), list(range(idx.ndim)))
    np.add.at(dxm, idx, gm)
    return (dx,)


@rule
def take_along_axis(node, g):
    # saved = (x_shape, indices, axis); x and indices may broadcast against each other outside axis.
    shape, idx, axis = node.saved
    full = tuple(g.shape[i] if i != axis else shape[axis] for i in range(g.ndim))
    dx = np.zeros(full, g.dtype)
    grids = list(np.ogrid[tuple(slice(n) for n in g.shape)])
    grids[axis] = np.broadcast_to(idx, g.shape)
    np.add.at(dx, tuple(grids), g)
    return (unbroadcast(dx, shape),)


@rule
def scatter(node, g):
    # saved = (index tuple, values shape): the gradient of the values is the gather at the indices.
    key, shape = node.saved
    return (np.ascontiguousarray(g[key]).reshape(shape),)


@rule
def pad(node, g):
    widths, = node.saved
    sl = tuple(slice(lo, g.shape[i] - hi) for i, (lo, hi) in enumerate(widths))
    return (g[sl],)


@rule
def tile(node, g):
    # saved = (x_shape, reps) with len(reps) == len(x_shape) (the op pads both).
    shape, reps = node.saved
    inter = []
    for r, s in zip(reps, shape):
        inter += [r, s]
    return (g.reshape(inter).sum(axis=tuple(range(0, 2 * len(shape), 2))),)


@rule
def repeat(node, g):
    # saved = (x_shape, repeats, axis); integer repeats only (the op checks).
    shape, r, axis = node.saved
    new = shape[:axis] + (shape[axis], r) + shape[axis + 1:]
    return (g.reshape(new).sum(axis=axis + 1),)


@rule
def flip(node, g):
    axes, = node.saved
    return (np.flip(g, axes),)


@rule
def roll(node, g):
    shift, axis = node.saved
    neg = tuple(-s for s in shift) if isinstance(shift, tuple) else -shift
    return (np.roll(g, neg, axis=axis),)


@rule
def resize_linear(node, g):
    # saved = (matrices): y[n, i, j, c] = sum_h,w A[i, h] B[j, w] x[n, h, w, c] (2-D) and the
    # 1-D/3-D analogues; the gradient applies the transposed matrices.
    mats, = node.saved
    for d, m in enumerate(mats):
        g = np.moveaxis(np.tensordot(m.T, np.moveaxis(g, 1 + d, 0), axes=1), 0, 1 + d)
    return (np.ascontiguousarray(g),)


# ------------------------------------------------------------------------------------------------
# Convolution, pooling, normalisation, dropout

@rule
def conv(node, g):
    # inputs (x, kernel[, bias]); saved = (x, w, y, act, alpha, strides, dilations, pads, groups),
    # y the output after the fused activation.
    x, w, y, act, alpha, strides, dil, pads, groups = node.saved
    p = node.parents
    dx, dw, db = kernels.conv_backward(x, w, g, y, strides, dil, pads, groups, act, alpha,
                                       need_dx=p[0] is not None, need_db=len(p) > 2 and p[2] is not None)
    return dx, dw, db


@rule
def depthwise_conv(node, g):
    x, w, y, act, alpha, strides, dil, pads = node.saved
    p = node.parents
    return kernels.depthwise_backward(x, w, g, y, strides, dil, pads, act, alpha,
                                      need_dx=p[0] is not None, need_db=len(p) > 2 and p[2] is not None)


@rule
def separable_conv(node, g):
    # inputs (x, depthwise_kernel, pointwise_kernel[, bias]);
    # saved = (x, dw, pw, y, act, alpha, strides, dilations, pads)
    x, dw, pw, y, act, alpha, strides, dil, pads = node.saved
    p = node.parents
    return kernels.separable_backward(x, dw, pw, g, y, strides, dil, pads, act, alpha,
                                      need_dx=p[0] is not None, need_db=len(p) > 3 and p[3] is not None)


@rule
def conv_transpose(node, g):
    # saved = (x, w, y, act, alpha, strides, padding, output_padding, dilations)
    x, w, y, act, alpha, strides, padding, out_pad, dil = node.saved
    p = node.parents
    return kernels.conv_transpose_backward(x, w, g, y, strides, padding, out_pad, dil, act, alpha,
                                           need_dx=p[0] is not None, need_db=len(p) > 2 and p[2] is not None)


@rule
def max_pool(node, g):
    # saved = (x, pool, strides, padding); the first maximum of each window gets the gradient.
    x, pool, strides, padding = node.saved
    return (kernels.max_pool_backward(x, g, pool, strides, padding),)


@rule
def average_pool(node, g):
    x_shape, pool, strides, padding = node.saved
    return (kernels.avg_pool_backward(g, x_shape, pool, strides, padding),)


@rule
def batch_norm_train(node, g):
    # inputs (x, gamma, beta); saved = (x, batch mean, inv_std, gamma, channel axis).
    x, mean, inv, gamma, axis = node.saved
    p = node.parents
    dx, dgamma, dbeta = kernels.bn_backward(g, x, mean, inv, gamma, axis)
    return (dx if p[0] is not None else None,
            dgamma if p[1] is not None else None,
            dbeta if p[2] is not None else None)


@rule
def batch_norm_infer(node, g):
    # inputs (x, mean, variance, beta, gamma); saved = (x, mean, var, beta, gamma, eps, shapes):
    # the statistics as laid out to broadcast against x, and their shapes as given to the op.
    x, mean, var, beta, gamma, eps, shapes = node.saved
    p = node.parents
    inv = 1.0 / np.sqrt(var + eps)
    scale = inv * gamma if gamma is not None else inv

    def back(d, stat, shape):
        return unbroadcast(d, np.shape(stat)).reshape(shape)

    dx = dmean = dvar = dbeta = dgamma = None
    if p[0] is not None:
        dx = unbroadcast(g * scale, x.shape)
    if p[1] is not None:
        dmean = back(-g * scale, mean, shapes[0])
    if p[2] is not None:
        dvar = back(g * (x - mean) * (-0.5 * inv * inv * scale), var, shapes[1])
    if p[3] is not None:
        dbeta = back(g, beta, shapes[2])
    if p[4] is not None:
        dgamma = back(g * (x - mean) * inv, gamma, shapes[3])
    return dx, dmean, dvar, dbeta, dgamma


@rule
def dropout(node, g):
    # saved = (rate, mask): mask holds the elements the forward pass kept.
    rate, mask = node.saved
    return (kernels.dropout_masked_backward(np.ascontiguousarray(g), mask, rate),)


@rule
def masked_scale(node, g):
    # Dropout with a noise_shape: y = x * mask (mask already holds 1 / (1 - rate) or 0).
    mask, = node.saved
    return (g * mask,)

"""The one place where backend ops meet the native kernels (pykeras._core).

Ops and gradient rules call these functions, never _core directly. Each function runs the
native kernel for float32 data and numpy (numpy_kernels.py) for other dtypes (the kernels are
float32 only); `sources()` reports which runs. Elementwise ops and reductions stay on numpy below
NATIVE_ELTWISE_MIN elements, where its call costs as little and threads gain nothing. Bindings
validate their arguments (TypeError for non-float32 or non-contiguous arrays): wrappers either
pass arrays through f32c (no copy for what already is contiguous float32) or try the call first
and convert only on that TypeError.
"""
import numpy as np

from pykeras import _core
from pykeras.backend import numpy_kernels as npk

_F32 = np.dtype(np.float32)

# Below this many elements an elementwise op is not worth threads and numpy's call is as cheap.
NATIVE_ELTWISE_MIN = 16384

_sgemm = _core.gemm.sgemm
_dropout = _core.random.dropout
_dropout_masked_backward = _core.random.dropout_masked_backward

# Activation codes (csrc/kernels/activation.h) of the activations fused into GEMM and convolution
# epilogues. Every kernel accepts every code, with the elementwise family's definitions; only
# activations whose derivative follows from the output (numpy_kernels.FROM_OUTPUT) are fused, so
# that the backward pass needs only the fused output. The alpha passed with a code is the layer's
# (nn._DEFAULT_ALPHA): hard_sigmoid's 1/6 is Keras 3's slope (clip(x / 6 + 0.5, 0, 1)).
GEMM_ACT = {"linear": 0, "relu": 1, "relu6": 2, "leaky_relu": 3, "elu": 4, "sigmoid": 5, "tanh": 6,
            "hard_sigmoid": 7, "softplus": 10, "selu": 11, "exponential": 12, "softsign": 13}


def sources():
    """{kernel entry point: where it runs for float32 data}.

    'core' is pykeras._core; 'numpy' means numpy runs it (where stated, small arrays stay on numpy
    because its call is cheaper and there is nothing to thread).
    """
    small = "core from 16K elements, numpy below"
    return {
        "matmul / dense (GEMM + bias + activation epilogue)": "core",
        "batched matmul (3-D and up by 3-D and up)": "core per matrix from 32K multiply-adds, numpy below",
        "einsum (two operands) / tensordot / batch_dot": "GEMM (core) from 32K multiply-adds per matrix, numpy below",
        "einsum (three or more operands)": "numpy",
        "activations fwd/bwd": "core",
        "unary math (exp, log, sqrt, trig, erf, ...) fwd/bwd": small,
        "broadcast binary ops (add, subtract, multiply, divide, maximum, minimum, power) fwd/bwd": small,
        "reductions (sum, mean, max, min, prod, var, std, logsumexp), argmax/argmin": small,
        "softmax / log_softmax fwd/bwd": "core",
        "softmax+crossentropy, sparse, sigmoid+crossentropy": "core",
        "conv fwd/bwd": "core",
        "depthwise conv fwd/bwd": "core",
        "separable conv fwd/bwd": "core",
        "transposed conv fwd/bwd": "core",
        "max/avg pooling fwd/bwd": "core",
        "batch norm train fwd/bwd": "core",
        "batch norm inference": "core",
        "dropout fwd/bwd, random draws": "core",
    }


def f32c(a):
    """a as a C-contiguous float32 array (no copy when it already is one)."""
    if a.dtype is _F32 and a.flags.c_contiguous:
        return a
    return np.ascontiguousarray(a, dtype=np.float32)


# ------------------------------------------------------------------------------------------------
# GEMM

def gemm(a, b, trans_a=False, trans_b=False, bias=None, act="linear", alpha=0.0, out=None):
    """act(op(a) @ op(b) + bias) for 2-D arrays; act must be a key of GEMM_ACT."""
    if a.dtype is _F32 and b.dtype is _F32:
        code = GEMM_ACT[act]
        try:
            return _sgemm(a, b, out, trans_a, trans_b, 1.0, 0.0, bias, code, alpha)
        except TypeError:
            return _sgemm(f32c(a), f32c(b), out, trans_a, trans_b, 1.0, 0.0,
                          None if bias is None else f32c(bias), code, alpha)
    y = np.matmul(a.T if trans_a else a, b.T if trans_b else b)
    if bias is not None:
        y += bias
    if act != "linear":
        y = npk.act_forward(act, y, alpha)
    if out is not None:
        out[...] = y
        return out
    return y


# A batched product runs one native GEMM per matrix when each matrix product has at least this
# many multiply-adds; below it numpy's own loop over its BLAS costs less than a Python loop.
BATCHED_NATIVE_MIN = 32768


def matmul(a, b, trans_a=False, trans_b=False):
    """np.matmul semantics (batch dimensions broadcast) for arrays of ndim >= 2, with op(a) = a^T
    over the last two axes when trans_a (same for b)."""
    if a.ndim == 2 and b.ndim == 2:
        return gemm(a, b, trans_a, trans_b)
    f32 = a.dtype is _F32 and b.dtype is _F32
    if b.ndim == 2 and f32 and not trans_a:
        # Fold the batch dimensions of `a` into GEMM rows.
        y = gemm(np.ascontiguousarray(a).reshape(-1, a.shape[-1]), b, False, trans_b)
        return y.reshape(a.shape[:-1] + (y.shape[-1],))
    m = a.shape[-1] if trans_a else a.shape[-2]
    k = a.shape[-2] if trans_a else a.shape[-1]
    n = b.shape[-2] if trans_b else b.shape[-1]
    if f32 and m * n * k >= BATCHED_NATIVE_MIN:
        batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
        ab = np.broadcast_to(f32c(a), batch + a.shape[-2:])
        bb = np.broadcast_to(f32c(b), batch + b.shape[-2:])
        out = np.empty(batch + (m, n), np.float32)
        for idx in np.ndindex(*batch):
            _sgemm(ab[idx], bb[idx], out[idx], trans_a, trans_b)
        return out
    return np.matmul(np.swapaxes(a, -1, -2) if trans_a else a, np.swapaxes(b, -1, -2) if trans_b else b)


def einsum2(sa, sb, so, a, b):
    """Two-operand einsum sa,sb->so (explicit letters) lowered onto (batched) GEMM.

    Letters of both operands and the output are batch axes, of both operands only contracted, of
    one operand and the output kept; letters of one operand only are summed first. Falls back to
    np.einsum for repeated letters in one operand, broadcast (size-1) letters, non-float32 data
    or products too small to gain from the native GEMM.
    """
    dims = {}
    for sub, arr in ((sa, a), (sb, b)):
        for c, n in zip(sub, arr.shape):
            if dims.setdefault(c, n) != n:
                return np.einsum(f"{sa},{sb}->{so}", a, b, optimize=True)
    if (len(set(sa)) != len(sa) or len(set(sb)) != len(sb) or a.dtype is not _F32 or b.dtype is not _F32):
        return np.einsum(f"{sa},{sb}->{so}", a, b, optimize=True)
    for sub, arr, other, name in ((sa, a, sb, "a"), (sb, b, sa, "b")):
        lone = [i for i, c in enumerate(sub) if c not in other and c not in so]
        if lone:
            arr = arr.sum(axis=tuple(lone))
            sub = "".join(c for i, c in enumerate(sub) if i not in lone)
            if name == "a":
                a, sa = arr, sub
            else:
                b, sb = arr, sub
    batch = [c for c in so if c in sa and c in sb]
    contract = [c for c in sa if c in sb and c not in so]
    keep_a = [c for c in sa if c in so and c not in sb]
    keep_b = [c for c in sb if c in so and c not in sa]

    def size(letters):
        n = 1
        for c in letters:
            n *= dims[c]
        return n

    nb, m, k, n = size(batch), size(keep_a), size(contract), size(keep_b)
    if m * n * k < BATCHED_NATIVE_MIN:
        return np.einsum(f"{sa},{sb}->{so}", a, b, optimize=True)
    at = np.transpose(a, [sa.index(c) for c in batch + keep_a + contract]).reshape(nb, m, k)
    bt = np.transpose(b, [sb.index(c) for c in batch + contract + keep_b]).reshape(nb, k, n)
    c = matmul(at, bt) if nb > 1 else gemm(f32c(at[0]), f32c(bt[0]))[None]
    order = batch + keep_a + keep_b
    c = c.reshape([dims[x] for x in order])
    return np.transpose(c, [order.index(x) for x in so])


# ------------------------------------------------------------------------------------------------
# Activations

_unary = _core.eltwise.unary
_unary_backward = _core.eltwise.unary_backward
# Names the native elementwise family implements (activations and unary math, forward and backward).
NATIVE_UNARY = frozenset(_core.eltwise.UNARY_OPS)
_NO_PARAMS = {}


def _act_params(name, alpha):
    """Keyword parameters of the native unary op for an activation and its alpha."""
    if name in ("leaky_relu", "elu"):
        return {"alpha": alpha}
    if name == "gelu":
        return {"approximate": bool(alpha)}
    return _NO_PARAMS


def act_forward(name, x, alpha=0.0):
    if x.dtype is _F32 and name in NATIVE_UNARY:
        return _unary(name, f32c(x), **_act_params(name, alpha))
    return npk.act_forward(name, x, alpha)


def act_backward(name, dy, x=None, y=None, alpha=0.0):
    """dx = dy * f'(.), from x when given, else from the output y (names in npk.FROM_OUTPUT)."""
    if dy.dtype is _F32 and name in NATIVE_UNARY:
        return _unary_backward(name, f32c(dy), None if x is None else f32c(x), None if y is None else f32c(y),
                               **_act_params(name, alpha))
    return npk.act_backward(name, dy, x, y, alpha)


# Unary math (exp, log, sqrt, sin, ...): numpy for small arrays (its call is as cheap and there is
# nothing to thread), the native kernels from NATIVE_ELTWISE_MIN elements on.

def unary(name, x, fallback, **params):
    """Elementwise `name`; `fallback(x)` is the numpy form."""
    if x.dtype is _F32 and x.size >= NATIVE_ELTWISE_MIN and name in NATIVE_UNARY:
        return _unary(name, f32c(x), **params)
    return fallback(x)


def unary_backward(name, dy, x, y, **params):
    """Native dy * f'(.) for large float32 arrays, or None when the numpy formula should run."""
    if dy.dtype is _F32 and dy.size >= NATIVE_ELTWISE_MIN and name in NATIVE_UNARY:
        return _unary_backward(name, f32c(dy), None if x is None else f32c(x), None if y is None else f32c(y),
                               **params)
    return None


FROM_OUTPUT = npk.FROM_OUTPUT

# ------------------------------------------------------------------------------------------------
# Softmax and crossentropies on 2-D (rows, classes) arrays.

_softmax = _core.eltwise.softmax
_log_softmax = _core.eltwise.log_softmax
_softmax_backward = _core.eltwise.softmax_backward
_log_softmax_backward = _core.eltwise.log_softmax_backward
_softmax_xent = _core.eltwise.softmax_cross_entropy
_sparse_softmax_xent = _core.eltwise.sparse_softmax_cross_entropy
_sigmoid_xent = _core.eltwise.sigmoid_cross_entropy


def softmax(x):
    if x.dtype is _F32:
        return _softmax(f32c(x), -1)
    return npk.softmax(x)


def log_softmax(x):
    if x.dtype is _F32:
        return _log_softmax(f32c(x), -1)
    return npk.log_softmax(x)


def softmax_backward(y, dy):
    if dy.dtype is _F32:
        return _softmax_backward(f32c(y), f32c(dy), -1)
    return npk.softmax_backward(y, dy)


def log_softmax_backward(y, dy):
    if dy.dtype is _F32:
        return _log_softmax_backward(f32c(y), f32c(dy), -1)
    return npk.log_softmax_backward(y, dy)


def softmax_xent(logits, target, with_grad=False):
    """(per-row loss, d loss / d logits for unit upstream gradients or None) over the last axis."""
    if logits.dtype is _F32 and target.dtype is _F32:
        r = _softmax_xent(f32c(logits), f32c(target), -1, with_grad)
        return r if with_grad else (r, None)
    return npk.softmax_xent(logits, target, with_grad)


def sparse_softmax_xent(logits, labels, with_grad=False):
    """As softmax_xent with integer class labels (one per row)."""
    if logits.dtype is _F32:
        r = _sparse_softmax_xent(f32c(logits), np.ascontiguousarray(labels), -1, None, with_grad)
        return r if with_grad else (r, None)
    return npk.sparse_softmax_xent(logits, labels, with_grad)


def sigmoid_xent(logits, target, with_grad=False):
    """(elementwise loss, sigmoid(logits) - target or None)."""
    if logits.dtype is _F32 and target.dtype is _F32 and logits.shape == target.shape:
        r = _sigmoid_xent(f32c(logits), f32c(target), with_grad)
        return r if with_grad else (r, None)
    return npk.sigmoid_xent(logits, target, with_grad)


def scale_rows(grad, g):
    """grad (rows, classes) times the per-row upstream gradient g (rows,)."""
    g2 = g.reshape(-1, 1)
    if grad.size >= NATIVE_ELTWISE_MIN:
        return binary("multiply", grad, np.ascontiguousarray(g2, grad.dtype), np.multiply)
    return grad * g2


def column_sums(a):
    """Sums over every axis but the last (bias gradients)."""
    a2 = a.reshape(-1, a.shape[-1])
    return reduce("sum", a2, (0,), False, lambda: a2.sum(axis=0))


# ------------------------------------------------------------------------------------------------
# Elementwise binary ops with numpy broadcasting, and reductions. The ops call these only for
# large arrays (NATIVE_ELTWISE_MIN elements); numpy runs when an operand is not a contiguous
# float32 array (a copy would cost more than numpy's strided loop).

_binary = _core.eltwise.binary
_binary_backward = _core.eltwise.binary_backward
_reduce_to_shape = _core.eltwise.reduce_to_shape
_reduce = _core.eltwise.reduce
_reduce_backward = _core.eltwise.reduce_backward
_argmax = _core.eltwise.argmax
_argmin = _core.eltwise.argmin


def _native_operand(a):
    """a is a Python number or a C-contiguous float32 array."""
    if a.__class__ is float or a.__class__ is int:
        return True
    return a.__class__ is np.ndarray and a.dtype is _F32 and a.flags.c_contiguous


def binary(name, a, b, fallback):
    """a <name> b (numpy broadcasting): the native kernel when both operands suit it."""
    if _native_operand(a) and _native_operand(b):
        return _binary(name, a, b)
    return fallback(a, b)


def binary_backward(name, a, b, dy, need_a, need_b):
    """(da, db) reduced to the operands' shapes, or None when the rule's numpy formula should run."""
    if _native_operand(a) and _native_operand(b) and dy.dtype is _F32 and dy.flags.c_contiguous:
        return _binary_backward(name, a, b, dy, need_a, need_b)
    return None


def reduce_to_shape(g, shape):
    """g summed over the axes along which `shape` was broadcast to g.shape (large arrays only)."""
    if g.dtype is _F32 and g.size >= NATIVE_ELTWISE_MIN:
        return _reduce_to_shape(f32c(g), shape)
    return None


def reduce(name, x, axes, keepdims, fallback):
    """Reduction `name` (sum mean max min prod var std logsumexp) over `axes` (a tuple)."""
    if x.size >= NATIVE_ELTWISE_MIN and x.dtype is _F32 and x.flags.c_contiguous:
        return _reduce(name, x, axes, keepdims)
    return fallback()


def reduce_backward(name, x, y, dy, axes, keepdims):
    """Native gradient of a reduction for large float32 inputs, else None."""
    if x.size >= NATIVE_ELTWISE_MIN and x.dtype is _F32 and dy.dtype is _F32:
        return _reduce_backward(name, f32c(x), f32c(y), f32c(dy), axes, keepdims)
    return None


def arg_reduce(is_max, x, axis, keepdims):
    """int32 argmax/argmin over one axis (None: the flattened array)."""
    native = _argmax if is_max else _argmin
    if x.size >= NATIVE_ELTWISE_MIN and x.dtype is _F32 and x.flags.c_contiguous:
        r = native(x, axis, keepdims)
    else:
        r = (np.argmax if is_max else np.argmin)(x, axis=axis, keepdims=keepdims) if axis is not None else \
            (np.argmax if is_max else np.argmin)(x)
    return np.asarray(r).astype(np.int32)


def add(a, b):
    """a + b (numpy broadcasting), native for C-contiguous float32 arrays."""
    if (a.__class__ is np.ndarray and b.__class__ is np.ndarray and a.dtype is _F32 and b.dtype is _F32
            and a.flags.c_contiguous and b.flags.c_contiguous):
        return _binary("add", a, b)
    return np.add(a, b)


# ------------------------------------------------------------------------------------------------
# Convolution (channels_last, Keras kernel layouts). Forward functions fuse bias and an activation
# of GEMM_ACT; backward functions take the output gradient dy and the forward output y, apply the
# activation's derivative from y, and return (dx or None, dkernel, dbias or None).

def _act_out(z, act, alpha):
    return z if act == "linear" else npk.act_forward(act, z, alpha)


def _act_in(dy, y, act, alpha):
    return np.ascontiguousarray(dy) if act == "linear" else npk.act_backward(act, dy, None, y, alpha)


_conv_forward = _core.conv.conv_forward
_conv_backward = _core.conv.conv_backward
_dw_forward = _core.conv.depthwise_forward
_dw_backward = _core.conv.depthwise_backward
_sep_forward = _core.conv.separable_forward
_sep_backward = _core.conv.separable_backward
_convt_forward = _core.conv.conv_transpose_forward
_convt_backward = _core.conv.conv_transpose_backward


def _all_f32(*arrays):
    return all(a is None or a.dtype is _F32 for a in arrays)


def _c(a):
    return None if a is None else f32c(a)


def _pads_arg(pads):
    return [list(p) for p in pads]


def conv_forward(x, w, bias, strides, dilations, pads, groups, act="linear", alpha=0.0):
    if _all_f32(x, w, bias):
        return _conv_forward(f32c(x), f32c(w), _c(bias), strides, _pads_arg(pads), dilations, groups, GEMM_ACT[act],
                             alpha)
    z = npk.conv_forward(x, w, strides, dilations, pads, groups, gemm)
    if bias is not None:
        z += bias
    return _act_out(z, act, alpha)


def conv_backward(x, w, dy, y, strides, dilations, pads, groups, act="linear", alpha=0.0, need_dx=True, need_db=True):
    if _all_f32(x, w, dy):
        return tuple(_conv_backward(f32c(x), f32c(w), f32c(dy), strides, _pads_arg(pads), dilations, groups,
                                    _c(y) if act != "linear" else None, GEMM_ACT[act], alpha, need_db, need_dx))
    dz = _act_in(dy, y, act, alpha)
    dx = npk.conv_backward_input(dz, w, x.shape, strides, dilations, pads, groups, gemm) if need_dx else None
    dw = npk.conv_backward_kernel(x, dz, w.shape, strides, dilations, pads, groups, gemm)
    db = column_sums(dz) if need_db else None
    return dx, dw, db


def depthwise_forward(x, w, bias, strides, dilations, pads, act="linear", alpha=0.0):
    if _all_f32(x, w, bias):
        return _dw_forward(f32c(x), f32c(w), _c(bias), strides, _pads_arg(pads), dilations, GEMM_ACT[act], alpha)
    z = npk.depthwise_forward(x, w, strides, dilations, pads)
    if bias is not None:
        z += bias
    return _act_out(z, act, alpha)


def depthwise_backward(x, w, dy, y, strides, dilations, pads, act="linear", alpha=0.0, need_dx=True, need_db=True):
    if _all_f32(x, w, dy):
        return tuple(_dw_backward(f32c(x), f32c(w), f32c(dy), strides, _pads_arg(pads), dilations,
                                  _c(y) if act != "linear" else None, GEMM_ACT[act], alpha, need_db, need_dx))
    dz = _act_in(dy, y, act, alpha)
    dx = npk.depthwise_backward_input(dz, w, x.shape, strides, dilations, pads) if need_dx else None
    dw = npk.depthwise_backward_kernel(x, dz, w.shape, strides, dilations, pads)
    db = column_sums(dz) if need_db else None
    return dx, dw, db


def separable_forward(x, dw, pw, bias, strides, dilations, pads, act="linear", alpha=0.0):
    """act(pointwise(depthwise(x)) + bias); pw is (*1, C * M, out) or (C * M, out)."""
    if _all_f32(x, dw, pw, bias):
        return _sep_forward(f32c(x), f32c(dw), f32c(pw), _c(bias), strides, _pads_arg(pads), dilations,
                            GEMM_ACT[act], alpha)
    d = npk.depthwise_forward(x, dw, strides, dilations, pads)
    pw2 = pw.reshape(-1, pw.shape[-1])
    z = gemm(d.reshape(-1, d.shape[-1]), pw2, bias=bias).reshape(d.shape[:-1] + (pw2.shape[1],))
    return _act_out(z, act, alpha)


def separable_backward(x, dw, pw, dy, y, strides, dilations, pads, act="linear", alpha=0.0, need_dx=True,
                       need_db=True):
    """(dx or None, d_depthwise, d_pointwise, dbias or None); the depthwise output is recomputed."""
    if _all_f32(x, dw, pw, dy):
        return tuple(_sep_backward(f32c(x), f32c(dw), f32c(pw), f32c(dy), strides, _pads_arg(pads), dilations,
                                   _c(y) if act != "linear" else None, GEMM_ACT[act], alpha, need_db, need_dx))
    dz = _act_in(dy, y, act, alpha)
    d = npk.depthwise_forward(x, dw, strides, dilations, pads)
    pw2 = pw.reshape(-1, pw.shape[-1])
    dz2 = dz.reshape(-1, dz.shape[-1])
    dpw = gemm(d.reshape(-1, d.shape[-1]), dz2, trans_a=True).reshape(pw.shape)
    dd = gemm(dz2, pw2, trans_b=True).reshape(d.shape)
    dx = npk.depthwise_backward_input(dd, dw, x.shape, strides, dilations, pads) if need_dx else None
    ddw = npk.depthwise_backward_kernel(x, dd, dw.shape, strides, dilations, pads)
    db = column_sums(dz2) if need_db else None
    return dx, ddw, dpw, db


def conv_transpose_forward(x, w, bias, strides, padding, output_padding, dilations, act="linear", alpha=0.0):
    if _all_f32(x, w, bias):
        return _convt_forward(f32c(x), f32c(w), _c(bias), strides, padding, output_padding, dilations, GEMM_ACT[act],
                              alpha)
    sizes, pads = npk.conv_transpose_geometry(x.shape, w.shape, strides, padding, output_padding, dilations)
    out_shape = (x.shape[0],) + sizes + (w.shape[-2],)
    z = np.ascontiguousarray(npk.conv_backward_input(x, w, out_shape, strides, dilations, pads, 1, gemm))
    if bias is not None:
        z += bias
    return _act_out(z, act, alpha)


def conv_transpose_backward(x, w, dy, y, strides, padding, output_padding, dilations, act="linear", alpha=0.0,
                            need_dx=True, need_db=True):
    if _all_f32(x, w, dy):
        return tuple(_convt_backward(f32c(x), f32c(w), f32c(dy), strides, padding, output_padding, dilations,
                                     _c(y) if act != "linear" else None, GEMM_ACT[act], alpha, need_db, need_dx))
    # y = F^T x for the forward convolution F from the output side to the input side (kernel w
    # read as HWIO with I = this op's output channels): dx = F dz, dw = F's kernel gradient for
    # input dz and output gradient x.
    _, pads = npk.conv_transpose_geometry(x.shape, w.shape, strides, padding, output_padding, dilations)
    dz = _act_in(dy, y, act, alpha)
    dx = npk.conv_forward(dz, w, strides, dilations, pads, 1, gemm) if need_dx else None
    dw = npk.conv_backward_kernel(dz, x, w.shape, strides, dilations, pads, 1, gemm)
    db = column_sums(dz) if need_db else None
    return dx, dw, db


# ------------------------------------------------------------------------------------------------
# Pooling (channels_last; padding 'valid' or 'same'; strides given)

_max_pool = _core.pool.max_pool
_max_pool_backward = _core.pool.max_pool_backward
_avg_pool = _core.pool.avg_pool
_avg_pool_backward = _core.pool.avg_pool_backward


def max_pool(x, pool, strides, padding):
    if x.dtype is _F32:
        return _max_pool(f32c(x), pool, strides, padding)
    pads = npk.window_pads(x.shape[1:-1], pool, strides, (1,) * len(pool), padding)
    return npk.max_pool_forward(x, pool, strides, pads)


def max_pool_backward(x, dy, pool, strides, padding):
    if _all_f32(x, dy):
        return _max_pool_backward(f32c(x), f32c(dy), pool, strides, padding)
    pads = npk.window_pads(x.shape[1:-1], pool, strides, (1,) * len(pool), padding)
    return npk.max_pool_backward(x, np.ascontiguousarray(dy), pool, strides, pads)


def avg_pool(x, pool, strides, padding):
    if x.dtype is _F32:
        return _avg_pool(f32c(x), pool, strides, padding)
    pads = npk.window_pads(x.shape[1:-1], pool, strides, (1,) * len(pool), padding)
    return npk.avg_pool_forward(x, pool, strides, pads)


def avg_pool_backward(dy, x_shape, pool, strides, padding):
    if dy.dtype is _F32:
        return _avg_pool_backward(f32c(dy), x_shape, pool, strides, padding)
    pads = npk.window_pads(x_shape[1:-1], pool, strides, (1,) * len(pool), padding)
    return npk.avg_pool_backward(np.ascontiguousarray(dy), x_shape, pool, strides, pads)


# ------------------------------------------------------------------------------------------------
# Batch normalisation over every axis but `axis` (per-channel 1-D parameters).

_bn_train = _core.norm.batch_norm_train
_bn_backward = _core.norm.batch_norm_backward
_bn_inference = _core.norm.batch_norm_inference


def bn_train(x, gamma, beta, moving_mean, moving_var, axis, momentum, eps):
    """(y, batch mean, inv_std); moving statistics (float arrays or None) updated in place."""
    both = (moving_mean is None) == (moving_var is None)
    if both and _all_f32(x, gamma, beta, moving_mean, moving_var):
        y, mean, inv = _bn_train(f32c(x), _c(gamma), _c(beta), moving_mean, moving_var, axis, momentum, eps)
        return y, mean, inv
    x2, moved = npk.moved_rows(x, axis)
    y2, mean, var, inv = npk.bn_train_forward(x2, gamma, beta, eps)
    for buf, stat in ((moving_mean, mean), (moving_var, var)):
        if buf is not None:
            buf *= momentum
            buf += stat * (1.0 - momentum)
    return npk.unmoved(y2, moved, axis, x.ndim), mean, inv


def bn_backward(dy, x, mean, inv, gamma, axis):
    """(dx, dgamma, dbeta) of the training-mode normalisation."""
    if _all_f32(dy, x, mean, inv, gamma):
        return tuple(_bn_backward(f32c(dy), f32c(x), mean, inv, _c(gamma), axis, True))
    x2, moved = npk.moved_rows(x, axis)
    dy2, _ = npk.moved_rows(dy, axis)
    dx2, dgamma, dbeta = npk.bn_train_backward(dy2, x2, mean, inv, gamma)
    return npk.unmoved(dx2, moved, axis, x.ndim), dgamma, dbeta


def bn_infer(x, mean, var, gamma, beta, eps, axis=None):
    """Inference normalisation; with `axis`, the statistics are 1-D along that axis."""
    if (axis is not None and _all_f32(x, mean, var, gamma, beta)
            and mean.ndim == 1 and var.ndim == 1):
        return _bn_inference(f32c(x), f32c(mean), f32c(var), _c(gamma), _c(beta), axis, eps)
    if axis is not None:
        shape = [1] * x.ndim
        shape[axis] = -1
        mean, var, gamma, beta = (None if v is None else v.reshape(shape) for v in (mean, var, gamma, beta))
    return npk.bn_infer(x, mean, var, gamma, beta, eps)





# ------------------------------------------------------------------------------------------------
# Dropout (the mask is redrawn from (seed, stream) in the backward pass, never stored).

def dropout(x, rate, seed, stream, mask=None):
    """Seeded dropout of x; `mask` (a bool array of x's shape), when given, receives the kept flags."""
    try:
        return _dropout(x, rate, seed, stream, None, mask)
    except TypeError:
        return _dropout(f32c(x), rate, seed, stream, None, mask)


def dropout_masked_backward(dy, mask, rate):
    """dy / (1 - rate) where the forward pass kept the element (mask), else 0."""
    try:
        return _dropout_masked_backward(dy, mask, rate)
    except TypeError:
        return _dropout_masked_backward(f32c(dy), mask, rate)



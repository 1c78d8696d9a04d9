"""The one place where backend ops meet the native kernels (pykeras._core).

Ops and gradient rules call these functions, never _core directly. Each function runs the
native kernel for float32 inputs and falls back to numpy (numpy_kernels.py) for other dtypes or
where no native kernel exists yet; `sources()` tells which is which. Bindings validate their
arguments and raise TypeError for non-float32 or non-contiguous arrays, so the wrappers first
try the call as is (no check costs on the common path) and convert only on that TypeError.
"""
import numpy as np

from pykeras import _core
from pykeras.backend import numpy_kernels as npk

_F32 = np.dtype(np.float32)
_sgemm = _core.gemm.sgemm
_relu = _core.eltwise.relu
_relu_backward = _core.eltwise.relu_backward
_add = _core.eltwise.add
_dropout = _core.random.dropout
_dropout_backward = _core.random.dropout_backward

# Activation codes of the GEMM epilogue (csrc/kernels/activation.h). Only activations whose
# derivative follows from the output, and whose definition matches Keras 3, are fused, so that
# the backward pass needs only the fused output. hard_sigmoid is not here: the kernel codes
# Keras 2's 0.2 * x + 0.5 while Keras 3 uses relu6(x + 3) / 6.
GEMM_ACT = {"linear": 0, "relu": 1, "relu6": 2, "leaky_relu": 3, "elu": 4, "sigmoid": 5, "tanh": 6,
            "softplus": 10, "selu": 11, "exponential": 12, "softsign": 13}

# Which implementation each kernel entry point uses for float32 ("core" or "numpy").
_SOURCES = {
    "matmul (2-D)": "core", "dense (fused bias + activation)": "core", "relu fwd/bwd": "core",
    "add (same shape)": "core", "dropout fwd/bwd": "core", "random uniform/normal/truncated_normal": "core",
    "other activations fwd/bwd": "numpy", "softmax / log_softmax fwd/bwd": "numpy",
    "softmax+crossentropy, sparse, sigmoid+crossentropy": "numpy", "broadcast binary ops": "numpy",
    "unary math": "numpy", "reductions": "numpy", "conv fwd/bwd (im2col on core GEMM)": "numpy+core",
    "depthwise conv fwd/bwd": "numpy", "max/avg pool fwd/bwd": "numpy", "batch norm train/infer fwd/bwd": "numpy",
    "batched matmul": "numpy",
}


def sources():
    """{kernel entry point: 'core' | 'numpy' | 'numpy+core'} for float32 data."""
    return dict(_SOURCES)


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


def matmul(a, b):
    """np.matmul semantics (broadcast batch dimensions) for arrays of ndim >= 2."""
    if a.ndim == 2 and b.ndim == 2:
        return gemm(a, b)
    if b.ndim == 2 and a.dtype is _F32 and b.dtype is _F32:
        # Fold the batch dimensions of `a` into GEMM rows.
        y = gemm(np.ascontiguousarray(a).reshape(-1, a.shape[-1]), b)
        return y.reshape(a.shape[:-1] + (b.shape[-1],))
    return np.matmul(a, b)


# ------------------------------------------------------------------------------------------------
# Activations

def act_forward(name, x, alpha=0.0):
    if name == "relu" and x.dtype is _F32:
        try:
            return _relu(x)
        except TypeError:
            return _relu(f32c(x))
    return npk.act_forward(name, x, alpha)


def act_backward(name, dy, x=None, y=None, alpha=0.0):
    """dx = dy * f'(.), from x when given, else from the output y (names in npk.FROM_OUTPUT)."""
    if name == "relu" and dy.dtype is _F32:
        r = x if x is not None else y
        try:
            return _relu_backward(r, dy)
        except (TypeError, ValueError):
            return _relu_backward(f32c(r), f32c(np.broadcast_to(dy, r.shape)))
    return npk.act_backward(name, dy, x, y, alpha)


FROM_OUTPUT = npk.FROM_OUTPUT

# ------------------------------------------------------------------------------------------------
# Softmax and crossentropies on 2-D (rows, classes) arrays.

softmax = npk.softmax
softmax_backward = npk.softmax_backward
log_softmax = npk.log_softmax
log_softmax_backward = npk.log_softmax_backward
softmax_xent = npk.softmax_xent
sparse_softmax_xent = npk.sparse_softmax_xent
sigmoid_xent = npk.sigmoid_xent
sigmoid = npk.sigmoid


# ------------------------------------------------------------------------------------------------
# Elementwise

# Below this many elements an elementwise op is not worth threads and numpy's call is as cheap.
NATIVE_ELTWISE_MIN = 16384


def add(a, b):
    """a + b with numpy broadcasting."""
    if a.__class__ is np.ndarray and b.__class__ is np.ndarray and a.dtype is _F32 and b.dtype is _F32 and a.shape == b.shape:
        try:
            return _add(a, b)
        except TypeError:
            pass
    return np.add(a, b)


# ------------------------------------------------------------------------------------------------
# Convolution (channels_last, Keras kernel layouts). Forward functions fuse bias and an activation
# of GEMM_ACT; backward functions take the output gradient dy and the forward output y, apply the
# activation's derivative from y, and return (dx or None, dkernel, dbias or None).

def _act_out(z, act, alpha):
    return z if act == "linear" else npk.act_forward(act, z, alpha)


def _act_in(dy, y, act, alpha):
    return np.ascontiguousarray(dy) if act == "linear" else npk.act_backward(act, dy, None, y, alpha)


def conv_forward(x, w, bias, strides, dilations, pads, groups, act="linear", alpha=0.0):
    z = npk.conv_forward(x, w, strides, dilations, pads, groups, gemm)
    if bias is not None:
        z += bias
    return _act_out(z, act, alpha)


def conv_backward(x, w, dy, y, strides, dilations, pads, groups, act="linear", alpha=0.0, need_dx=True, need_db=True):
    dz = _act_in(dy, y, act, alpha)
    dx = npk.conv_backward_input(dz, w, x.shape, strides, dilations, pads, groups, gemm) if need_dx else None
    dw = npk.conv_backward_kernel(x, dz, w.shape, strides, dilations, pads, groups, gemm)
    db = dz.reshape(-1, dz.shape[-1]).sum(axis=0) if need_db else None
    return dx, dw, db


def depthwise_forward(x, w, bias, strides, dilations, pads, act="linear", alpha=0.0):
    z = npk.depthwise_forward(x, w, strides, dilations, pads)
    if bias is not None:
        z += bias
    return _act_out(z, act, alpha)


def depthwise_backward(x, w, dy, y, strides, dilations, pads, act="linear", alpha=0.0, need_dx=True, need_db=True):
    dz = _act_in(dy, y, act, alpha)
    dx = npk.depthwise_backward_input(dz, w, x.shape, strides, dilations, pads) if need_dx else None
    dw = npk.depthwise_backward_kernel(x, dz, w.shape, strides, dilations, pads)
    db = dz.reshape(-1, dz.shape[-1]).sum(axis=0) if need_db else None
    return dx, dw, db


def separable_forward(x, dw, pw, bias, strides, dilations, pads, act="linear", alpha=0.0):
    """act(pointwise(depthwise(x)) + bias); pw is (*1, C * M, out) or (C * M, out)."""
    d = npk.depthwise_forward(x, dw, strides, dilations, pads)
    pw2 = pw.reshape(-1, pw.shape[-1])
    z = gemm(d.reshape(-1, d.shape[-1]), pw2, bias=bias).reshape(d.shape[:-1] + (pw2.shape[1],))
    return _act_out(z, act, alpha)


def separable_backward(x, dw, pw, dy, y, strides, dilations, pads, act="linear", alpha=0.0, need_dx=True,
                       need_db=True):
    """(dx or None, d_depthwise, d_pointwise, dbias or None); the depthwise output is recomputed."""
    dz = _act_in(dy, y, act, alpha)
    d = npk.depthwise_forward(x, dw, strides, dilations, pads)
    pw2 = pw.reshape(-1, pw.shape[-1])
    dz2 = dz.reshape(-1, dz.shape[-1])
    dpw = gemm(d.reshape(-1, d.shape[-1]), dz2, trans_a=True).reshape(pw.shape)
    dd = gemm(dz2, pw2, trans_b=True).reshape(d.shape)
    dx = npk.depthwise_backward_input(dd, dw, x.shape, strides, dilations, pads) if need_dx else None
    ddw = npk.depthwise_backward_kernel(x, dd, dw.shape, strides, dilations, pads)
    db = dz2.sum(axis=0) if need_db else None
    return dx, ddw, dpw, db


def conv_transpose_forward(x, w, bias, strides, padding, output_padding, dilations, act="linear", alpha=0.0):
    sizes, pads = npk.conv_transpose_geometry(x.shape, w.shape, strides, padding, output_padding, dilations)
    out_shape = (x.shape[0],) + sizes + (w.shape[-2],)
    z = np.ascontiguousarray(npk.conv_backward_input(x, w, out_shape, strides, dilations, pads, 1, gemm))
    if bias is not None:
        z += bias
    return _act_out(z, act, alpha)


def conv_transpose_backward(x, w, dy, y, strides, padding, output_padding, dilations, act="linear", alpha=0.0,
                            need_dx=True, need_db=True):
    # y = F^T x for the forward convolution F from the output side to the input side (kernel w
    # read as HWIO with I = this op's output channels): dx = F dz, dw = F's kernel gradient for
    # input dz and output gradient x.
    _, pads = npk.conv_transpose_geometry(x.shape, w.shape, strides, padding, output_padding, dilations)
    dz = _act_in(dy, y, act, alpha)
    dx = npk.conv_forward(dz, w, strides, dilations, pads, 1, gemm) if need_dx else None
    dw = npk.conv_backward_kernel(dz, x, w.shape, strides, dilations, pads, 1, gemm)
    db = dz.reshape(-1, dz.shape[-1]).sum(axis=0) if need_db else None
    return dx, dw, db


# ------------------------------------------------------------------------------------------------
# Pooling (channels_last; padding 'valid' or 'same'; strides given)

def max_pool(x, pool, strides, padding):
    pads = npk.window_pads(x.shape[1:-1], pool, strides, (1,) * len(pool), padding)
    return npk.max_pool_forward(x, pool, strides, pads)


def max_pool_backward(x, dy, pool, strides, padding):
    pads = npk.window_pads(x.shape[1:-1], pool, strides, (1,) * len(pool), padding)
    return npk.max_pool_backward(x, np.ascontiguousarray(dy), pool, strides, pads)


def avg_pool(x, pool, strides, padding):
    pads = npk.window_pads(x.shape[1:-1], pool, strides, (1,) * len(pool), padding)
    return npk.avg_pool_forward(x, pool, strides, pads)


def avg_pool_backward(dy, x_shape, pool, strides, padding):
    pads = npk.window_pads(x_shape[1:-1], pool, strides, (1,) * len(pool), padding)
    return npk.avg_pool_backward(np.ascontiguousarray(dy), x_shape, pool, strides, pads)


# ------------------------------------------------------------------------------------------------
# Batch normalisation over every axis but `axis` (per-channel 1-D parameters).

def bn_train(x, gamma, beta, moving_mean, moving_var, axis, momentum, eps):
    """(y, batch mean, inv_std); moving statistics (arrays or None) updated in place."""
    x2, moved = npk.moved_rows(x, axis)
    y2, mean, var, inv = npk.bn_train_forward(x2, gamma, beta, eps)
    for buf, stat in ((moving_mean, mean), (moving_var, var)):
        if buf is not None:
            buf *= momentum
            buf += stat * (1.0 - momentum)
    return npk.unmoved(y2, moved, axis, x.ndim), mean, inv


def bn_backward(dy, x, mean, inv, gamma, axis):
    """(dx, dgamma, dbeta) of the training-mode normalisation."""
    x2, moved = npk.moved_rows(x, axis)
    dy2, _ = npk.moved_rows(dy, axis)
    dx2, dgamma, dbeta = npk.bn_train_backward(dy2, x2, mean, inv, gamma)
    return npk.unmoved(dx2, moved, axis, x.ndim), dgamma, dbeta


bn_infer = npk.bn_infer


# ------------------------------------------------------------------------------------------------
# Dropout (the mask is redrawn from (seed, stream) in the backward pass, never stored).

def dropout(x, rate, seed, stream):
    try:
        return _dropout(x, rate, seed, stream)
    except TypeError:
        return _dropout(f32c(x), rate, seed, stream)


def dropout_backward(dy, rate, seed, stream):
    try:
        return _dropout_backward(dy, rate, seed, stream)
    except TypeError:
        return _dropout_backward(f32c(dy), rate, seed, stream)

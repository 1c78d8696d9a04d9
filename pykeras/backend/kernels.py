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
# Convolution, pooling, normalisation

def conv_forward(x, w, strides, dilations, pads, groups):
    return npk.conv_forward(x, w, strides, dilations, pads, groups, gemm)


def conv_backward_input(dy, w, x_shape, strides, dilations, pads, groups):
    return npk.conv_backward_input(dy, w, x_shape, strides, dilations, pads, groups, gemm)


def conv_backward_kernel(x, dy, w_shape, strides, dilations, pads, groups):
    return npk.conv_backward_kernel(x, dy, w_shape, strides, dilations, pads, groups, gemm)


depthwise_forward = npk.depthwise_forward
depthwise_backward_input = npk.depthwise_backward_input
depthwise_backward_kernel = npk.depthwise_backward_kernel
max_pool_forward = npk.max_pool_forward
max_pool_backward = npk.max_pool_backward
avg_pool_forward = npk.avg_pool_forward
avg_pool_backward = npk.avg_pool_backward
bn_train_forward = npk.bn_train_forward
bn_train_backward = npk.bn_train_backward
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

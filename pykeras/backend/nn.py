"""Neural-network ops: activations, softmax and crossentropies, and the fused layer ops.

Layer-sized ops are one tape node each: dense = GEMM + bias + activation in one native call;
conv / depthwise / transpose conv = convolution + bias + activation; softmax + crossentropy =
one fused kernel whose gradient is (p - y). An activation is fused into its producer when its
derivative follows from the output (kernels.FROM_OUTPUT, kernels.GEMM_ACT); other activations
(softmax, gelu, swish, callables) run as their own op after it.

Softmax and sigmoid outputs remember their logits (`_keras_logits`, as Keras does), and the
crossentropies use them: `categorical_crossentropy(y, softmax(z))` computes from z with the fused
kernel, whatever `from_logits` says.
"""
import builtins

import numpy as np

from pykeras.backend import common
from pykeras.backend import gradient_rules as G
from pykeras.backend import kernels
from pykeras.backend import math_ops as M
from pykeras.backend import array_ops as S
from pykeras.backend.math_ops import float_value, normalize_axes, normalize_axis, value, wrap
from pykeras.backend.tape import _active, record, stop_gradient
from pykeras.backend.tensor import Tensor, Variable

_F32 = np.dtype(np.float32)

# ------------------------------------------------------------------------------------------------
# Activations

# Canonical names and the default alpha of parameterised activations (Keras 3 defaults).
_ALIASES = {"silu": "swish", "hard_swish": "hard_silu", "linear": "linear"}
_DEFAULT_ALPHA = {"leaky_relu": 0.2, "elu": 1.0, "hard_sigmoid": 1.0 / 6.0}
ACTIVATION_NAMES = ("linear", "relu", "relu6", "leaky_relu", "elu", "selu", "sigmoid", "tanh", "hard_sigmoid",
                    "hard_silu", "swish", "gelu", "softplus", "softsign", "exponential", "log_sigmoid", "mish",
                    "softmax", "log_softmax")


def _activation_op(name, x, alpha=0.0):
    xv = float_value(x)
    yv = kernels.act_forward(name, xv, alpha)
    out = wrap(yv)
    if _active:
        record(out, G.activation, (x,), (name, xv, yv, alpha))
    return out


def relu(x, negative_slope=0.0, max_value=None, threshold=0.0, alpha=None):
    """max(x, 0) with Keras's options: slope below the threshold, saturation at max_value.

    `alpha` is the Keras 2 name of negative_slope.
    """
    if alpha is not None:
        negative_slope = alpha
    negative_slope = float(value(negative_slope)) if isinstance(negative_slope, Tensor) else negative_slope
    if threshold == 0 and max_value is None:
        if negative_slope == 0:
            return _activation_op("relu", x)
        return _activation_op("leaky_relu", x, float(negative_slope))
    if threshold == 0 and max_value == 6 and negative_slope == 0:
        return _activation_op("relu6", x)
    # The general form, composed as Keras composes it.
    x = M.convert(x)
    if negative_slope != 0:
        negative_part = _activation_op("relu", M.add(M.negative(x), threshold) if threshold != 0 else M.negative(x))
    clip_max = max_value is not None
    if threshold != 0:
        y = M.where(M.greater(x, threshold), x, 0.0)
    elif max_value == 6:
        y = _activation_op("relu6", x)
        clip_max = False
    else:
        y = _activation_op("relu", x)
    if clip_max:
        y = M.clip(y, 0.0, float(max_value))
    if negative_slope != 0:
        y = M.subtract(y, M.multiply(float(negative_slope), negative_part))
    return y


def relu6(x):
    return _activation_op("relu6", x)


def leaky_relu(x, negative_slope=0.2, alpha=None):
    return _activation_op("leaky_relu", x, float(negative_slope if alpha is None else alpha))


def elu(x, alpha=1.0):
    return _activation_op("elu", x, float(alpha))


def selu(x):
    return _activation_op("selu", x)


def gelu(x, approximate=True):
    """GELU; approximate=True is the tanh form (keras.ops default), False the exact erf form."""
    return _activation_op("gelu", x, 1.0 if approximate else 0.0)


def sigmoid(x):
    out = _activation_op("sigmoid", x)
    out._keras_logits = M.convert(x)
    out._logits_of = "sigmoid"
    return out


def tanh(x):
    return _activation_op("tanh", x)


def hard_sigmoid(x):
    """Keras 3: relu6(x + 3) / 6."""
    return _activation_op("hard_sigmoid", x)


def hard_silu(x):
    return _activation_op("hard_silu", x)


hard_swish = hard_silu


def silu(x):
    return _activation_op("swish", x)


swish = silu


def softplus(x):
    return _activation_op("softplus", x)


def softsign(x):
    return _activation_op("softsign", x)


def exponential(x):
    return _activation_op("exponential", x)


def log_sigmoid(x):
    return _activation_op("log_sigmoid", x)


def mish(x):
    return _activation_op("mish", x)


def linear(x):
    return x


# Keras 3's less common activations, composed from recorded primitives (gradients follow).
def celu(x, alpha=1.0):
    """max(x, 0) + min(0, alpha * (exp(x / alpha) - 1))."""
    return M.add(_activation_op("relu", x), M.minimum(0.0, M.multiply(alpha, M.expm1(M.divide(x, alpha)))))


def glu(x, axis=-1):
    """a * sigmoid(b) for the two halves (a, b) of x along axis."""
    a, b = S.split(x, 2, axis=axis)
    return M.multiply(a, sigmoid(b))


def hard_tanh(x):
    return M.clip(x, -1.0, 1.0)


def hard_shrink(x, threshold=0.5):
    return M.where(M.greater(M.abs(x), threshold), x, 0.0)


def soft_shrink(x, threshold=0.5):
    x = M.convert(x)
    return M.where(M.greater(x, threshold), M.subtract(x, threshold),
                   M.where(M.less(x, -threshold), M.add(x, threshold), 0.0))


def tanh_shrink(x):
    return M.subtract(x, tanh(x))


def squareplus(x, b=4):
    """(x + sqrt(x ** 2 + b)) / 2."""
    return M.multiply(M.add(x, M.sqrt(M.add(M.square(x), float(b)))), 0.5)


def sparse_plus(x):
    """0 for x <= -1, (x + 1) ** 2 / 4 for -1 < x < 1, x for x >= 1."""
    x = M.convert(x)
    mid = M.multiply(M.square(M.add(x, 1.0)), 0.25)
    return M.where(M.less_equal(x, -1.0), 0.0, M.where(M.greater_equal(x, 1.0), x, mid))


def threshold(x, threshold, default_value):
    """x where x > threshold, else default_value."""
    return M.where(M.greater(x, threshold), x, default_value)


def sparsemax(x, axis=-1):
    """Euclidean projection of x onto the probability simplex along axis (Martins & Astudillo)."""
    xv = float_value(x)
    a = normalize_axis(axis, xv.ndim, "sparsemax", xv.shape)
    z = np.flip(np.sort(xv, axis=a), axis=a)
    k = np.arange(1, xv.shape[a] + 1, dtype=xv.dtype).reshape([-1 if i == a else 1 for i in range(xv.ndim)])
    cum = np.cumsum(z, axis=a)
    support = (1.0 + k * z) > cum
    kz = support.sum(axis=a, keepdims=True)
    tau_value = (np.take_along_axis(cum, kz - 1, axis=a) - 1.0) / kz
    # On the support S (fixed near x) the output is x - tau with tau = (sum_S x - 1) / |S|;
    # writing tau with recorded ops gives the gradient.
    mask = (xv > tau_value).astype(xv.dtype)
    tau = M.divide(M.subtract(M.sum(M.multiply(x, mask), axis=a, keepdims=True), 1.0), kz.astype(xv.dtype))
    return M.multiply(M.subtract(x, tau), mask)


def softmax(x, axis=-1):
    """exp(x) / sum(exp(x)) along `axis` (an int or a tuple of ints)."""
    if not isinstance(axis, (int, np.integer)):
        x = M.convert(x)
        e = M.exp(M.subtract(x, M.max(stop_gradient(x), axis=axis, keepdims=True)))
        out = M.divide(e, M.sum(e, axis=axis, keepdims=True))
    else:
        out = _softmax_like(x, axis, "softmax", kernels.softmax, G.softmax)
    out._keras_logits = M.convert(x)
    out._logits_of = "softmax"
    return out


def log_softmax(x, axis=-1):
    if not isinstance(axis, (int, np.integer)):
        x = M.convert(x)
        return M.subtract(x, M.logsumexp(x, axis=axis, keepdims=True))
    return _softmax_like(x, axis, "log_softmax", kernels.log_softmax, G.log_softmax)


def _softmax_like(x, axis, name, fn, rule):
    xv = float_value(x)
    if xv.ndim == 0:
        raise ValueError(f"{name}: needs a tensor of rank >= 1, got a scalar")
    a = normalize_axis(axis, xv.ndim, name, xv.shape)
    xm = np.moveaxis(xv, a, -1) if a != xv.ndim - 1 else xv
    moved_shape = xm.shape
    y2 = fn(np.ascontiguousarray(xm).reshape(-1, moved_shape[-1]))
    y = y2.reshape(moved_shape)
    if a != xv.ndim - 1:
        y = np.moveaxis(y, -1, a)
    out = wrap(y)
    if _active:
        record(out, rule, (x,), (y2, moved_shape, a))
    return out


_ACTIVATION_FUNCS = {
    "relu": relu, "relu6": relu6, "leaky_relu": leaky_relu, "elu": elu, "selu": selu, "gelu": gelu,
    "sigmoid": sigmoid, "tanh": tanh, "hard_sigmoid": hard_sigmoid, "hard_silu": hard_silu, "swish": silu,
    "softplus": softplus, "softsign": softsign, "exponential": exponential, "log_sigmoid": log_sigmoid,
    "mish": mish, "linear": linear, "softmax": softmax, "log_softmax": log_softmax, "celu": celu, "glu": glu,
    "hard_tanh": hard_tanh, "hard_shrink": hard_shrink, "soft_shrink": soft_shrink, "tanh_shrink": tanh_shrink,
    "squareplus": squareplus, "sparse_plus": sparse_plus, "sparsemax": sparsemax,
}


def activation(x, name, **kwargs):
    """Applies the activation called `name` (Keras names; 'silu'/'swish' and 'hard_silu'/'hard_swish' alike)."""
    key = _ALIASES.get(name, name)
    fn = _ACTIVATION_FUNCS.get(key)
    if fn is None:
        raise ValueError(f"activation: unknown activation {name!r}; known: {', '.join(sorted(_ACTIVATION_FUNCS))}")
    if key == "gelu" and "approximate" not in kwargs:
        kwargs["approximate"] = False  # keras.activations.gelu default
    return fn(x, **kwargs)


_RESOLVED = {}


def _resolve_activation(act):
    """(fused name, alpha, after): the activation fused into a producer, and what to apply after it.

    Strings and pykeras's own activation functions are recognised by name; any other callable is
    applied after the op as it is.
    """
    if act is None:
        return "linear", 0.0, None
    if act.__class__ is str:
        r = _RESOLVED.get(act)
        if r is None:
            r = _RESOLVED[act] = _resolve_uncached(act)
        return r
    return _resolve_uncached(act)


def _resolve_uncached(act):
    if callable(act) and not isinstance(act, str):
        name = getattr(act, "__name__", None)
        module = getattr(act, "__module__", "") or ""
        if name and module.startswith("pykeras.") and _ALIASES.get(name, name) in _ACTIVATION_FUNCS:
            act = name
        else:
            return "linear", 0.0, act
    if not isinstance(act, str):
        raise TypeError(f"activation must be None, a string or a callable, got {act!r}")
    key = _ALIASES.get(act, act)
    if key not in _ACTIVATION_FUNCS:
        raise ValueError(f"unknown activation {act!r}; known: {', '.join(sorted(_ACTIVATION_FUNCS))}")
    if key in kernels.GEMM_ACT:
        return key, _DEFAULT_ALPHA.get(key, 0.0), None
    return "linear", 0.0, (lambda t, _k=key: activation(t, _k))


# ------------------------------------------------------------------------------------------------
# Crossentropies (per-sample, no reduction)

def _logits_of(output, kind):
    if isinstance(output, Tensor):
        logits = getattr(output, "_keras_logits", None)
        if logits is not None and getattr(output, "_logits_of", None) == kind:
            return logits
    return None


def categorical_crossentropy(target, output, from_logits=False, axis=-1):
    """-sum(target * log(output)) along axis (Keras 3 numerics; softmax outputs use their logits)."""
    tv, ov = value(target), value(output)
    if tv.shape != ov.shape:
        raise ValueError(f"categorical_crossentropy: target and output must have the same shape, "
                         f"got target {tv.shape} and output {ov.shape}")
    if ov.ndim < 1:
        raise ValueError(f"categorical_crossentropy: needs tensors of rank >= 1, got shape {ov.shape}")
    logits = _logits_of(output, "softmax")
    if logits is not None and axis in (-1, ov.ndim - 1):
        return _softmax_xent(target, logits, axis)
    if from_logits:
        return _softmax_xent(target, output, axis)
    eps = common.epsilon()
    o = M.divide(output, M.sum(output, axis=axis, keepdims=True))
    o = M.clip(o, eps, 1.0 - eps)
    return M.negative(M.sum(M.multiply(target, M.log(o)), axis=axis))


def _softmax_xent(target, logits, axis):
    zv = float_value(logits)
    tv = float_value(target)
    if tv.dtype != zv.dtype:
        tv = tv.astype(zv.dtype)
    a = normalize_axis(axis, zv.ndim, "categorical_crossentropy", zv.shape)
    if a != zv.ndim - 1:
        zv = np.moveaxis(zv, a, -1)
        tv = np.moveaxis(tv, a, -1)
    moved_shape = zv.shape
    z2 = np.ascontiguousarray(zv).reshape(-1, moved_shape[-1])
    t2 = np.ascontiguousarray(tv).reshape(-1, moved_shape[-1])
    loss, grad = kernels.softmax_xent(z2, t2, with_grad=bool(_active))
    out = wrap(loss.reshape(moved_shape[:-1]))
    if _active:
        record(out, G.softmax_crossentropy, (target, logits), (grad, z2, moved_shape, a))
    return out


def sparse_categorical_crossentropy(target, output, from_logits=False, axis=-1):
    """Crossentropy with integer labels (Keras 3 numerics; softmax outputs use their logits)."""
    tv = np.asarray(value(target))
    ov = value(output)
    if ov.ndim < 1:
        raise ValueError(f"sparse_categorical_crossentropy: output must have rank >= 1, got shape {ov.shape}")
    a = normalize_axis(axis, ov.ndim, "sparse_categorical_crossentropy", ov.shape)
    if tv.ndim == ov.ndim and tv.shape[-1] == 1:
        tv = tv.reshape(tv.shape[:-1])
    expected = ov.shape[:a] + ov.shape[a + 1:]
    if tv.shape != expected:
        raise ValueError(f"sparse_categorical_crossentropy: target shape {tv.shape} does not match output shape "
                         f"{ov.shape} without axis {a} (expected {expected})")
    if tv.dtype.kind not in "iu":
        if tv.dtype.kind in "fb" and np.all(np.floor(tv) == tv):
            tv = tv.astype(np.int64)
        else:
            raise TypeError(f"sparse_categorical_crossentropy: target must hold integer labels, got dtype {tv.dtype}")
    n = ov.shape[a]
    if tv.size and (tv.min() < 0 or tv.max() >= n):
        raise ValueError(f"sparse_categorical_crossentropy: labels must be in [0, {n}), got values in "
                         f"[{tv.min()}, {tv.max()}]")
    logits = _logits_of(output, "softmax")
    if logits is not None and a == ov.ndim - 1:
        return _sparse_softmax_xent(tv, logits, a)
    if from_logits:
        return _sparse_softmax_xent(tv, output, a)
    eps = common.epsilon()
    o = M.divide(output, M.sum(output, axis=a, keepdims=True))
    o = M.clip(o, eps, 1.0 - eps)
    picked = S.take_along_axis(M.log(o), np.expand_dims(tv, a), axis=a)
    return M.negative(S.squeeze(picked, a))


def _sparse_softmax_xent(labels, logits, a):
    zv = float_value(logits)
    if a != zv.ndim - 1:
        zv = np.moveaxis(zv, a, -1)
    moved_shape = zv.shape
    z2 = np.ascontiguousarray(zv).reshape(-1, moved_shape[-1])
    l1 = labels.reshape(-1)
    loss, grad = kernels.sparse_softmax_xent(z2, l1, with_grad=bool(_active))
    out = wrap(loss.reshape(moved_shape[:-1]))
    if _active:
        record(out, G.sparse_softmax_crossentropy, (logits,), (grad, moved_shape, a))
    return out


def binary_crossentropy(target, output, from_logits=False):
    """Elementwise binary crossentropy (Keras 3 numerics; sigmoid outputs use their logits)."""
    tv, ov = value(target), value(output)
    if tv.shape != ov.shape:
        raise ValueError(f"binary_crossentropy: target and output must have the same shape, "
                         f"got target {tv.shape} and output {ov.shape}")
    logits = _logits_of(output, "sigmoid")
    if logits is not None:
        return _sigmoid_xent(target, logits)
    if from_logits:
        return _sigmoid_xent(target, output)
    eps = common.epsilon()
    o = M.clip(output, eps, 1.0 - eps)
    bce = M.add(M.multiply(target, M.log(o)), M.multiply(M.subtract(1.0, target), M.log(M.subtract(1.0, o))))
    return M.negative(bce)


def _sigmoid_xent(target, logits):
    zv = float_value(logits)
    tv = float_value(target)
    if tv.dtype != zv.dtype:
        tv = tv.astype(zv.dtype)
    shapes = (tv.shape, zv.shape)
    if zv.shape != tv.shape:
        zv, tv = (np.ascontiguousarray(a) for a in np.broadcast_arrays(zv, tv))
    loss, grad = kernels.sigmoid_xent(zv, tv, with_grad=bool(_active))
    out = wrap(loss)
    if _active:
        record(out, G.sigmoid_crossentropy, (target, logits), (grad, zv) + shapes)
    return out


# ------------------------------------------------------------------------------------------------
# Dense and bias

def dense(x, kernel, bias=None, activation=None):
    """act(x @ kernel + bias) for x (..., in) and kernel (in, out), in one fused GEMM where possible."""
    xv = float_value(x)
    wv = value(kernel)
    if wv.ndim != 2:
        raise ValueError(f"dense: kernel must be 2-D (in, out), got shape {wv.shape}")
    if xv.ndim < 1 or xv.shape[-1] != wv.shape[0]:
        raise ValueError(f"dense: input of shape {xv.shape} does not match kernel of shape {wv.shape} "
                         f"(last input dimension must be {wv.shape[0]})")
    bv = None
    if bias is not None:
        bv = value(bias)
        if bv.shape != (wv.shape[1],):
            raise ValueError(f"dense: bias of shape {bv.shape} does not match kernel of shape {wv.shape} "
                             f"(expected ({wv.shape[1]},))")
    act, alpha, after = _resolve_activation(activation)
    if xv.dtype != wv.dtype:
        xv = xv.astype(wv.dtype)
    x2 = xv if xv.ndim == 2 else xv.reshape(-1, wv.shape[0])
    y2 = kernels.gemm(x2, wv, bias=bv, act=act, alpha=alpha)
    out = wrap(y2 if xv.ndim == 2 else y2.reshape(xv.shape[:-1] + (wv.shape[1],)))
    if _active:
        inputs = (x, kernel) if bias is None else (x, kernel, bias)
        record(out, G.dense, inputs, (x2, wv, y2, act, alpha, xv.shape, True))
    if after is not None:
        return after(out)
    return out


def bias_add(x, bias, data_format=None):
    """x + bias, bias along the channel axis (last for channels_last), or of shape x.shape[1:]."""
    xv, bv = value(x), value(bias)
    df = common.standardize_data_format(data_format)
    if bv.ndim != 1:
        if bv.ndim != xv.ndim - 1:
            raise ValueError(f"bias_add: bias of shape {bv.shape} must be 1-D or of rank {xv.ndim - 1} "
                             f"for an input of shape {xv.shape}")
        if df == "channels_first" and xv.ndim > 2:
            bias = S.transpose(bias, (bv.ndim - 1,) + tuple(range(bv.ndim - 1)))
        return M.add(x, bias)
    axis = xv.ndim - 1 if df == "channels_last" or xv.ndim < 3 else 1
    if xv.shape[axis] != bv.shape[0]:
        raise ValueError(f"bias_add: bias of shape {bv.shape} does not match axis {axis} of input shape {xv.shape}")
    b = bv if axis == xv.ndim - 1 else bv.reshape((-1,) + (1,) * (xv.ndim - 2))
    if xv.dtype != bv.dtype:
        xv, b = np.asarray(xv, np.result_type(xv, b)), b.astype(np.result_type(xv, b))
    out = wrap(xv + b)
    if _active:
        record(out, G.bias_add, (x, bias), (xv.shape, bv.shape, axis))
    return out


# ------------------------------------------------------------------------------------------------
# Convolution

def _tuple(v, n, name, what):
    if isinstance(v, (int, np.integer)):
        return (int(v),) * n
    v = tuple(int(e) for e in v)
    if len(v) == 1 and n > 1:
        v = v * n
    if len(v) != n:
        raise ValueError(f"{name}: {what} must be an int or a tuple of {n} ints, got {v}")
    if builtins.any(e < 1 for e in v):
        raise ValueError(f"{name}: {what} must be positive, got {v}")
    return v


def _conv_bias(bias, channels, name):
    """The value of an optional convolution bias, checked to hold one entry per output channel."""
    if bias is None:
        return None
    bv = value(bias)
    if bv.shape != (channels,):
        raise ValueError(f"{name}: bias of shape {bv.shape} does not match {channels} output channels")
    return bv


def _padding(padding, name):
    p = str(padding).lower()
    if p not in ("valid", "same", "causal"):
        raise ValueError(f"{name}: padding must be 'valid', 'same' or 'causal', got {padding!r}")
    return p


def conv_pads(spatial, window, strides, dilations, padding, name):
    """Explicit ((lo, hi), ...) paddings for Keras 'valid' / 'same' / 'causal'."""
    pads = []
    for n, k, s, d in zip(spatial, window, strides, dilations):
        dk = (k - 1) * d + 1
        if padding == "valid":
            if n < dk:
                raise ValueError(f"{name}: input size {n} is smaller than the (dilated) window {dk} with padding 'valid'")
            pads.append((0, 0))
        elif padding == "same":
            out = -(-n // s)
            total = builtins.max((out - 1) * s + dk - n, 0)
            pads.append((total // 2, total - total // 2))
        else:  # causal
            pads.append((dk - 1, 0))
    return tuple(pads)


def _channels_first_wrap(fn, x, data_format, *args, **kwargs):
    df = common.standardize_data_format(data_format)
    if df == "channels_last":
        return None
    nd = value(x).ndim
    xt = S.transpose(x, (0,) + tuple(range(2, nd)) + (1,))
    y = fn(xt, *args, **kwargs)
    return S.transpose(y, (0, nd - 1) + tuple(range(1, nd - 1)))


def conv(x, kernel, bias=None, strides=1, padding="valid", dilation_rate=1, groups=1, activation=None,
         data_format=None):
    """N-d convolution (rank = kernel.ndim - 2), channels_last, kernel (*window, in / groups, out)."""
    r = _channels_first_wrap(conv, x, data_format, kernel, bias, strides, padding, dilation_rate, groups, activation)
    if r is not None:
        return r
    xv, wv = float_value(x), value(kernel)
    rank = wv.ndim - 2
    if rank not in (1, 2, 3):
        raise ValueError(f"conv: kernel must have rank 3, 4 or 5 (got shape {wv.shape})")
    if xv.ndim != rank + 2:
        raise ValueError(f"conv: a kernel of shape {wv.shape} needs an input of rank {rank + 2}, got shape {xv.shape}")
    groups = int(groups)
    if xv.shape[-1] != wv.shape[-2] * groups or wv.shape[-1] % groups:
        raise ValueError(f"conv: input channels {xv.shape[-1]} do not match kernel of shape {wv.shape} with "
                         f"groups={groups}")
    strides = _tuple(strides, rank, "conv", "strides")
    dil = _tuple(dilation_rate, rank, "conv", "dilation_rate")
    p = _padding(padding, "conv")
    if p == "causal" and rank != 1:
        raise ValueError("conv: padding 'causal' is only valid for 1-D convolution")
    pads = conv_pads(xv.shape[1:-1], wv.shape[:rank], strides, dil, p, "conv")
    if xv.dtype != wv.dtype:
        xv = xv.astype(wv.dtype)
    act, alpha, after = _resolve_activation(activation)
    bv = _conv_bias(bias, wv.shape[-1], "conv")
    y = kernels.conv_forward(xv, wv, bv, strides, dil, pads, groups, act, alpha)
    out = wrap(y)
    if _active:
        inputs = (x, kernel) if bias is None else (x, kernel, bias)
        record(out, G.conv, inputs, (xv, wv, y, act, alpha, strides, dil, pads, groups))
    return after(out) if after is not None else out


def depthwise_conv(x, depthwise_kernel, bias=None, strides=1, padding="valid", dilation_rate=1, activation=None,
                   data_format=None):
    """Depthwise convolution: kernel (*window, channels, multiplier); output channel c * multiplier + m."""
    r = _channels_first_wrap(depthwise_conv, x, data_format, depthwise_kernel, bias, strides, padding,
                             dilation_rate, activation)
    if r is not None:
        return r
    xv, wv = float_value(x), value(depthwise_kernel)
    rank = wv.ndim - 2
    if rank not in (1, 2, 3) or xv.ndim != rank + 2:
        raise ValueError(f"depthwise_conv: input of shape {xv.shape} does not match kernel of shape {wv.shape}")
    if xv.shape[-1] != wv.shape[-2]:
        raise ValueError(f"depthwise_conv: input channels {xv.shape[-1]} do not match kernel of shape {wv.shape}")
    strides = _tuple(strides, rank, "depthwise_conv", "strides")
    dil = _tuple(dilation_rate, rank, "depthwise_conv", "dilation_rate")
    p = _padding(padding, "depthwise_conv")
    pads = conv_pads(xv.shape[1:-1], wv.shape[:rank], strides, dil, p, "depthwise_conv")
    if xv.dtype != wv.dtype:
        xv = xv.astype(wv.dtype)
    act, alpha, after = _resolve_activation(activation)
    bv = _conv_bias(bias, wv.shape[-2] * wv.shape[-1], "depthwise_conv")
    y = kernels.depthwise_forward(xv, wv, bv, strides, dil, pads, act, alpha)
    out = wrap(y)
    if _active:
        inputs = (x, depthwise_kernel) if bias is None else (x, depthwise_kernel, bias)
        record(out, G.depthwise_conv, inputs, (xv, wv, y, act, alpha, strides, dil, pads))
    return after(out) if after is not None else out


def separable_conv(x, depthwise_kernel, pointwise_kernel, bias=None, strides=1, padding="valid", dilation_rate=1,
                   activation=None, data_format=None):
    """Depthwise convolution followed by a 1x1 convolution with the bias and activation, as one op."""
    r = _channels_first_wrap(separable_conv, x, data_format, depthwise_kernel, pointwise_kernel, bias, strides,
                             padding, dilation_rate, activation)
    if r is not None:
        return r
    xv, dv, pv = float_value(x), value(depthwise_kernel), value(pointwise_kernel)
    rank = dv.ndim - 2
    if rank not in (1, 2, 3) or xv.ndim != rank + 2 or xv.shape[-1] != dv.shape[-2]:
        raise ValueError(f"separable_conv: input of shape {xv.shape} does not match depthwise kernel of shape "
                         f"{dv.shape}")
    mid = dv.shape[-2] * dv.shape[-1]
    if pv.ndim not in (2, rank + 2) or pv.shape[-2] != mid or builtins.any(d != 1 for d in pv.shape[:-2]):
        raise ValueError(f"separable_conv: pointwise kernel of shape {pv.shape} must be (*1, {mid}, out) after a "
                         f"depthwise kernel of shape {dv.shape}")
    strides = _tuple(strides, rank, "separable_conv", "strides")
    dil = _tuple(dilation_rate, rank, "separable_conv", "dilation_rate")
    p = _padding(padding, "separable_conv")
    pads = conv_pads(xv.shape[1:-1], dv.shape[:rank], strides, dil, p, "separable_conv")
    if xv.dtype != dv.dtype:
        xv = xv.astype(dv.dtype)
    act, alpha, after = _resolve_activation(activation)
    bv = _conv_bias(bias, pv.shape[-1], "separable_conv")
    y = kernels.separable_forward(xv, dv, pv, bv, strides, dil, pads, act, alpha)
    out = wrap(y)
    if _active:
        inputs = (x, depthwise_kernel, pointwise_kernel) + (() if bias is None else (bias,))
        record(out, G.separable_conv, inputs, (xv, dv, pv, y, act, alpha, strides, dil, pads))
    return after(out) if after is not None else out


def conv_transpose(x, kernel, bias=None, strides=1, padding="valid", output_padding=None, dilation_rate=1,
                   activation=None, data_format=None):
    """Transposed convolution; kernel (*window, out_channels, in_channels) as Keras Conv*Transpose."""
    r = _channels_first_wrap(conv_transpose, x, data_format, kernel, bias, strides, padding, output_padding,
                             dilation_rate, activation)
    if r is not None:
        return r
    xv, wv = float_value(x), value(kernel)
    rank = wv.ndim - 2
    if rank not in (1, 2, 3) or xv.ndim != rank + 2:
        raise ValueError(f"conv_transpose: input of shape {xv.shape} does not match kernel of shape {wv.shape}")
    if xv.shape[-1] != wv.shape[-1]:
        raise ValueError(f"conv_transpose: input channels {xv.shape[-1]} do not match kernel of shape {wv.shape} "
                         f"(expected {wv.shape[-1]} = its last dimension)")
    strides = _tuple(strides, rank, "conv_transpose", "strides")
    dil = _tuple(dilation_rate, rank, "conv_transpose", "dilation_rate")
    p = _padding(padding, "conv_transpose")
    if p == "causal":
        raise ValueError("conv_transpose: padding must be 'valid' or 'same', got 'causal'")
    if output_padding is None or isinstance(output_padding, (int, np.integer)):
        out_pad = output_padding if output_padding is None else (int(output_padding),) * rank
    else:
        out_pad = tuple(int(v) for v in output_padding)
        if len(out_pad) != rank:
            raise ValueError(f"conv_transpose: output_padding must be an int or {rank} ints, got {output_padding!r}")
    if out_pad is not None and builtins.any(o < 0 or o >= s_ for o, s_ in zip(out_pad, strides)):
        raise ValueError(f"conv_transpose: output_padding {out_pad} must be non-negative and smaller than the "
                         f"strides {strides}")
    if xv.dtype != wv.dtype:
        xv = xv.astype(wv.dtype)
    act, alpha, after = _resolve_activation(activation)
    bv = _conv_bias(bias, wv.shape[-2], "conv_transpose")
    y = kernels.conv_transpose_forward(xv, wv, bv, strides, p, out_pad, dil, act, alpha)
    out = wrap(y)
    if _active:
        inputs = (x, kernel) if bias is None else (x, kernel, bias)
        record(out, G.conv_transpose, inputs, (xv, wv, y, act, alpha, strides, p, out_pad, dil))
    return after(out) if after is not None else out


# Keras 2 backend spellings.
def conv1d(x, kernel, strides=1, padding="valid", data_format=None, dilation_rate=1):
    return conv(x, kernel, None, strides, padding, dilation_rate, data_format=data_format)


def conv2d(x, kernel, strides=(1, 1), padding="valid", data_format=None, dilation_rate=(1, 1)):
    return conv(x, kernel, None, strides, padding, dilation_rate, data_format=data_format)


def conv3d(x, kernel, strides=(1, 1, 1), padding="valid", data_format=None, dilation_rate=(1, 1, 1)):
    return conv(x, kernel, None, strides, padding, dilation_rate, data_format=data_format)


def depthwise_conv2d(x, depthwise_kernel, strides=(1, 1), padding="valid", data_format=None, dilation_rate=(1, 1)):
    return depthwise_conv(x, depthwise_kernel, None, strides, padding, dilation_rate, data_format=data_format)


def separable_conv1d(x, depthwise_kernel, pointwise_kernel, strides=1, padding="valid", data_format=None,
                     dilation_rate=1):
    return separable_conv(x, depthwise_kernel, pointwise_kernel, None, strides, padding, dilation_rate,
                          data_format=data_format)


def separable_conv2d(x, depthwise_kernel, pointwise_kernel, strides=(1, 1), padding="valid", data_format=None,
                     dilation_rate=(1, 1)):
    return separable_conv(x, depthwise_kernel, pointwise_kernel, None, strides, padding, dilation_rate,
                          data_format=data_format)


def conv2d_transpose(x, kernel, output_shape=None, strides=(1, 1), padding="valid", data_format=None,
                     dilation_rate=(1, 1)):
    """Keras 2 spelling; `output_shape` is checked against the computed one when given."""
    y = conv_transpose(x, kernel, None, strides, padding, None, dilation_rate, data_format=data_format)
    if output_shape is not None:
        want = tuple(int(d) for d in output_shape)
        got = value(y).shape
        if len(want) != len(got) or builtins.any(w not in (-1, g) for w, g in zip(want, got)):
            raise ValueError(f"conv2d_transpose: output_shape {want} differs from the computed shape {got}")
    return y


def conv3d_transpose(x, kernel, output_shape=None, strides=(1, 1, 1), padding="valid", data_format=None):
    return conv_transpose(x, kernel, None, strides, padding, None, 1, data_format=data_format)


# ------------------------------------------------------------------------------------------------
# Pooling

def _pool_setup(x, pool_size, strides, padding, name):
    xv = float_value(x)
    rank = xv.ndim - 2
    if rank not in (1, 2, 3):
        raise ValueError(f"{name}: expected a 3-D, 4-D or 5-D input, got shape {xv.shape}")
    pool = _tuple(pool_size, rank, name, "pool_size")
    st = pool if strides is None else _tuple(strides, rank, name, "strides")
    p = _padding(padding, name)
    if p == "causal":
        raise ValueError(f"{name}: padding must be 'valid' or 'same', got 'causal'")
    conv_pads(xv.shape[1:-1], pool, st, (1,) * rank, p, name)  # validates the sizes
    return xv, pool, st, p


def max_pool(x, pool_size, strides=None, padding="valid", data_format=None):
    r = _channels_first_wrap(max_pool, x, data_format, pool_size, strides, padding)
    if r is not None:
        return r
    xv, pool, st, p = _pool_setup(x, pool_size, strides, padding, "max_pool")
    out = wrap(kernels.max_pool(xv, pool, st, p))
    if _active:
        record(out, G.max_pool, (x,), (xv, pool, st, p))
    return out


def average_pool(x, pool_size, strides=None, padding="valid", data_format=None):
    r = _channels_first_wrap(average_pool, x, data_format, pool_size, strides, padding)
    if r is not None:
        return r
    xv, pool, st, p = _pool_setup(x, pool_size, strides, padding, "average_pool")
    out = wrap(kernels.avg_pool(xv, pool, st, p))
    if _active:
        record(out, G.average_pool, (x,), (xv.shape, pool, st, p))
    return out


def pool2d(x, pool_size, strides=(1, 1), padding="valid", data_format=None, pool_mode="max"):
    if pool_mode not in ("max", "avg"):
        raise ValueError(f"pool2d: pool_mode must be 'max' or 'avg', got {pool_mode!r}")
    fn = max_pool if pool_mode == "max" else average_pool
    return fn(x, pool_size, strides, padding, data_format)


def pool3d(x, pool_size, strides=(1, 1, 1), padding="valid", data_format=None, pool_mode="max"):
    return pool2d(x, pool_size, strides, padding, data_format, pool_mode)


# ------------------------------------------------------------------------------------------------
# Normalisation

def _stat(v, ndim, axis, name, what, x_shape):
    """A statistic as an array broadcastable against x: 1-D vectors are laid along `axis`."""
    if v is None:
        return None
    a = np.asarray(value(v))
    if a.ndim == 1 and ndim > 1:
        if a.shape[0] != x_shape[axis]:
            raise ValueError(f"{name}: {what} of shape {a.shape} does not match axis {axis} of input shape {x_shape}")
        shape = [1] * ndim
        shape[axis] = a.shape[0]
        return a.reshape(shape)
    try:
        np.broadcast_shapes(a.shape, x_shape)
    except ValueError:
        raise ValueError(f"{name}: {what} of shape {a.shape} does not broadcast against input shape {x_shape}") from None
    return a


def batch_normalization(x, mean, var, beta, gamma, axis=-1, epsilon=1e-3):
    """(x - mean) / sqrt(var + epsilon) * gamma + beta (inference form; Keras 2 signature)."""
    if isinstance(axis, float) and not float(axis).is_integer():
        axis, epsilon = -1, axis  # called as (x, mean, var, beta, gamma, epsilon)
    xv = float_value(x)
    a = normalize_axis(int(axis), xv.ndim, "batch_normalization", xv.shape) if xv.ndim else 0
    mv = _stat(mean, xv.ndim, a, "batch_normalization", "mean", xv.shape)
    vv = _stat(var, xv.ndim, a, "batch_normalization", "variance", xv.shape)
    bv = _stat(beta, xv.ndim, a, "batch_normalization", "beta", xv.shape)
    gv = _stat(gamma, xv.ndim, a, "batch_normalization", "gamma", xv.shape)
    eps = float(epsilon)
    stats = (mean, var, gamma, beta)
    if xv.ndim > 1 and builtins.all(v is None or np.ndim(value(v)) == 1 for v in stats):
        m1, v1, g1, b1 = (None if v is None else np.asarray(value(v)) for v in stats)
        y = kernels.bn_infer(xv, m1, v1, g1, b1, eps, axis=a)
    else:
        y = kernels.bn_infer(xv, mv, vv, gv, bv, eps)
    out = wrap(y.astype(xv.dtype, copy=False))
    if _active:
        shapes = tuple(None if v is None else np.shape(value(v)) for v in (mean, var, beta, gamma))
        record(out, G.batch_norm_infer, (x, mean, var, beta, gamma), (xv, mv, vv, bv, gv, eps, shapes))
    return out


def fused_batch_norm_train(x, gamma, beta, moving_mean, moving_variance, axis=-1, momentum=0.99, epsilon=1e-3):
    """Training-mode batch normalisation over every axis but `axis`; returns y.

    The moving statistics (Variables, or None) are updated in place:
    moving = moving * momentum + batch_statistic * (1 - momentum), with the biased batch variance
    (Keras 3). They receive no gradient.
    """
    xv = float_value(x)
    a = normalize_axis(axis, xv.ndim, "fused_batch_norm_train", xv.shape)
    c = xv.shape[a]
    gv = None if gamma is None else value(gamma)
    bv = None if beta is None else value(beta)
    for what, v in (("gamma", gv), ("beta", bv)):
        if v is not None and v.shape != (c,):
            raise ValueError(f"fused_batch_norm_train: {what} of shape {v.shape} does not match {c} channels "
                             f"(axis {a} of input shape {xv.shape})")
    if xv.size == 0:
        raise ValueError(f"fused_batch_norm_train: empty batch (input shape {xv.shape})")
    bufs = []
    for mv in (moving_mean, moving_variance):
        if mv is None:
            bufs.append(None)
        elif isinstance(mv, Variable):
            if mv._v.shape != (c,):
                raise ValueError(f"fused_batch_norm_train: moving statistic {mv.path!r} has shape {mv._v.shape}, "
                                 f"expected ({c},)")
            bufs.append(mv._v)
        else:
            raise TypeError("fused_batch_norm_train: moving_mean / moving_variance must be Variables (or None)")
    y, mean, inv = kernels.bn_train(xv, gv, bv, bufs[0], bufs[1], a, float(momentum), float(epsilon))
    out = wrap(y)
    if _active:
        record(out, G.batch_norm_train, (x, gamma, beta), (xv, mean, inv, gv, a))
    return out


def moments(x, axes, keepdims=False, synchronized=False):
    """(mean, variance) over `axes`."""
    return M.mean(x, axis=axes, keepdims=keepdims), M.var(x, axis=axes, keepdims=keepdims)


def normalize_batch_in_training(x, gamma, beta, reduction_axes, epsilon=1e-3):
    """Keras 2: (normalised x, batch mean, batch variance)."""
    xv = value(x)
    axes = normalize_axes(reduction_axes, xv.ndim, "normalize_batch_in_training", xv.shape)
    mean, variance = moments(x, axes, keepdims=True)
    inv = M.rsqrt(M.add(variance, float(epsilon)))
    y = M.multiply(M.subtract(x, mean), inv)
    if gamma is not None:
        y = M.multiply(y, gamma)
    if beta is not None:
        y = M.add(y, beta)
    return y, S.squeeze(mean, axes), S.squeeze(variance, axes)


def l2_normalize(x, axis=None):
    """x / sqrt(max(sum(x ** 2, axis), 1e-12)) (TensorFlow's l2_normalize, as Keras's K.l2_normalize)."""
    sq = M.sum(M.square(x), axis=axis, keepdims=True)
    return M.multiply(x, M.rsqrt(M.maximum(sq, 1e-12)))


def normalize(x, axis=-1, order=2, epsilon=None):
    """Keras 3 ops.normalize: x / max(norm(x), epsilon)."""
    if not isinstance(order, int) or order < 1:
        raise ValueError(f"normalize: order must be an int >= 1, got {order!r}")
    eps = common.epsilon() if epsilon is None else float(epsilon)
    if order == 2:
        inv = M.rsqrt(M.sum(M.square(x), axis=axis, keepdims=True))
        return M.multiply(x, M.minimum(inv, 1.0 / eps))
    norm = M.power(M.sum(M.power(M.abs(x), float(order)), axis=axis, keepdims=True), 1.0 / order)
    return M.divide(x, M.maximum(norm, eps))


# ------------------------------------------------------------------------------------------------
# Dropout

def dropout(x, rate, noise_shape=None, seed=None):
    """Zeroes each element with probability `rate` and scales the rest by 1 / (1 - rate).

    seed: an int (the same mask every call), a SeedGenerator, or None (the global generator).
    noise_shape: the shape of the random mask (None entries take x's size), broadcast over x.
    """
    from pykeras.backend import random as R

    rate = float(value(rate)) if isinstance(rate, Tensor) else float(rate)
    if not 0.0 <= rate < 1.0:
        raise ValueError(f"dropout: rate must be in [0, 1), got {rate}")
    xv = float_value(x)
    if rate == 0.0:
        return M.identity(x)
    s, stream = R.draw_seed(seed)
    if noise_shape is None or tuple(noise_shape) == xv.shape:
        # Under a tape the kept flags are stored (1 byte per element), so the backward pass is a
        # plain multiply instead of a second pass of the generator.
        mask = np.empty(xv.shape, np.bool_) if _active else None
        out = wrap(kernels.dropout(xv, rate, s, stream, mask))
        if out._v.dtype != xv.dtype:
            out._v = out._v.astype(xv.dtype)
        if _active:
            record(out, G.dropout, (x,), (rate, mask))
        return out
    ns = tuple(xv.shape[i] if d is None else int(d) for i, d in enumerate(noise_shape))
    try:
        np.broadcast_shapes(ns, xv.shape)
    except ValueError:
        raise ValueError(f"dropout: noise_shape {tuple(noise_shape)} does not broadcast to input shape {xv.shape}") from None
    from pykeras import _core

    u = _core.random.uniform(ns, s, stream, 0.0, 1.0)
    mask = np.where(u >= rate, 1.0 / (1.0 - rate), 0.0).astype(xv.dtype)
    out = wrap(xv * mask)
    if _active:
        record(out, G.masked_scale, (x,), (mask,))
    return out


# ------------------------------------------------------------------------------------------------
# Attention

def dot_product_attention(query, key, value, bias=None, mask=None, scale=None, is_causal=False, flash_attention=None,
                          attn_logits_soft_cap=None):
    """softmax(Q K^T * scale + bias, masked) V for (B, T, N, H) queries and (B, S, K, H) keys/values.

    K < N (grouped-query attention) repeats each key/value head N // K times. mask: booleans
    broadcastable to (B, N, T, S), True where attention is allowed; is_causal adds the lower
    triangle. Masked logits become a large negative number, as Keras does.
    """
    if flash_attention:
        raise ValueError("dot_product_attention: flash attention is not available on the CPU backend")
    if attn_logits_soft_cap is not None:
        raise ValueError("dot_product_attention: attn_logits_soft_cap is not supported")
    qv, kv, vv = M.value(query), M.value(key), M.value(value)
    if qv.ndim != 4 or kv.ndim != 4 or vv.shape != kv.shape:
        raise ValueError(f"dot_product_attention: expected query (B, T, N, H) and key/value (B, S, K, H) of one shape, "
                         f"got query {qv.shape}, key {kv.shape}, value {vv.shape}")
    n, k_heads = qv.shape[2], kv.shape[2]
    if qv.shape[-1] != kv.shape[-1] or n % k_heads or qv.shape[0] != kv.shape[0]:
        raise ValueError(f"dot_product_attention: query {qv.shape} and key {kv.shape} do not match (same batch and "
                         f"head size, query heads a multiple of key heads)")
    if k_heads != n:
        key = S.repeat(key, n // k_heads, axis=2)
        value = S.repeat(value, n // k_heads, axis=2)
    scale = 1.0 / float(np.sqrt(kv.shape[-1])) if scale is None else float(scale)
    logits = M.multiply(M.einsum("BTNH,BSNH->BNTS", query, key), scale)
    if bias is not None:
        logits = M.add(logits, bias)
    if mask is not None or is_causal:
        lv = M.value(logits)
        allowed = np.ones(lv.shape, bool)
        if mask is not None:
            allowed &= np.asarray(M.value(mask)).astype(bool)
        if is_causal:
            allowed &= np.tril(np.ones(lv.shape[-2:], bool))
        logits = M.where(allowed, logits, float(np.finfo(lv.dtype).max) * -0.7)
    probs = softmax(logits, axis=-1)
    return M.einsum("BNTS,BSNH->BTNH", probs, value)


# ------------------------------------------------------------------------------------------------
# Top-k

def top_k(x, k, sorted=True):  # noqa: A002 - Keras name
    """(values, indices) of the k largest entries along the last axis."""
    xv = value(x)
    k = int(k)
    if xv.ndim < 1 or not 0 <= k <= xv.shape[-1]:
        raise ValueError(f"top_k: k={k} is out of range for a tensor of shape {xv.shape}")
    idx = np.argsort(-xv, axis=-1, kind="stable")[..., :k]
    return S.take_along_axis(x, idx, axis=-1), wrap(idx.astype(np.int32))


def in_top_k(predictions, targets, k):
    """Whether each target class is among the k highest predictions (ties count as inside)."""
    pv = np.asarray(value(predictions))
    tv = np.asarray(value(targets)).reshape(-1).astype(np.int64)
    if pv.ndim != 2 or pv.shape[0] != tv.shape[0]:
        raise ValueError(f"in_top_k: predictions (batch, classes) {pv.shape} and targets (batch,) {tv.shape} differ")
    target_scores = pv[np.arange(pv.shape[0]), tv]
    higher = (pv > target_scores[:, None]).sum(axis=1)
    return wrap(higher < int(k))

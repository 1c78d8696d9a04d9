"""numpy implementations of the compute kernels, for the data the native kernels do not take.

The native kernels (pykeras._core) are float32 only: kernels.py runs these for other dtypes
(float64 above all) and for the few argument combinations it names, and
tests/backend/test_backend_fallbacks.py holds the two paths against each other. Everything here
is dtype-preserving (float32 in, float32 out: constants are Python floats, which numpy treats as
weak scalars) and vectorised; loops run over kernel-window positions or groups only, never over
elements.

Layouts: channels_last throughout. Convolution inputs are (N, *spatial, C), kernels
(*window, C_in / groups, C_out) (Keras/HWIO), explicit paddings are ((lo, hi), ...) per spatial
dimension. Convolution is im2col (a strided window view copied into a (N * out_pixels,
window * C_in) matrix) times the kernel matrix on the native GEMM; its input gradient scatters
the column gradients back window position by window position (col2im).
"""
import itertools
import math

import numpy as np
from numpy.lib.stride_tricks import as_strided

# ------------------------------------------------------------------------------------------------
# Activations: forward y = f(x), backward dx = dy * f'(x) from x and/or y.

_SELU_ALPHA = 1.6732632423543772
_SELU_SCALE = 1.0507009873554805
_SQRT_2_OVER_PI = 0.7978845608028654
_INV_SQRT2 = 0.7071067811865476
_INV_SQRT_2PI = 0.3989422804014327
_GELU_CUBIC = 0.044715

# Abramowitz & Stegun 7.1.26: erf(x) = 1 - poly(t) exp(-x^2), t = 1 / (1 + p x), x >= 0,
# absolute error below 1.5e-7 (under float32 rounding of the result).
_ERF_P = 0.3275911
_ERF_A = (0.254829592, -0.284496736, 1.421413741, -1.453152027, 1.061405429)


def erf(x):
    a = np.abs(x)
    t = 1.0 / (1.0 + _ERF_P * a)
    a1, a2, a3, a4, a5 = _ERF_A
    poly = t * (a1 + t * (a2 + t * (a3 + t * (a4 + t * a5))))
    y = 1.0 - poly * np.exp(-a * a)
    return np.copysign(y, x)


def sigmoid(x):
    # tanh form: no overflow warning for large |x| and exact 0/1 saturation.
    y = np.tanh(x * 0.5)
    y *= 0.5
    y += 0.5
    return y


def softplus(x):
    return np.logaddexp(0.0, x).astype(x.dtype, copy=False)


def act_forward(name, x, alpha=0.0):
    if name == "relu":
        return np.maximum(x, 0.0)
    if name == "relu6":
        return np.clip(x, 0.0, 6.0)
    if name == "leaky_relu":
        return np.where(x > 0, x, x * alpha)
    if name == "elu":
        return np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0.0)))
    if name == "selu":
        return _SELU_SCALE * np.where(x > 0, x, _SELU_ALPHA * np.expm1(np.minimum(x, 0.0)))
    if name == "sigmoid":
        return sigmoid(x)
    if name == "tanh":
        return np.tanh(x)
    if name == "hard_sigmoid":
        return np.clip(x * (1.0 / 6.0) + 0.5, 0.0, 1.0)
    if name == "hard_silu":
        return x * np.clip(x * (1.0 / 6.0) + 0.5, 0.0, 1.0)
    if name == "swish":
        return x * sigmoid(x)
    if name == "gelu":
        if alpha:  # tanh approximation
            return 0.5 * x * (1.0 + np.tanh(_SQRT_2_OVER_PI * (x + _GELU_CUBIC * x * x * x)))
        return 0.5 * x * (1.0 + erf(x * _INV_SQRT2))
    if name == "softplus":
        return softplus(x)
    if name == "softsign":
        return x / (1.0 + np.abs(x))
    if name == "exponential":
        return np.exp(x)
    if name == "log_sigmoid":
        return -softplus(-x)
    if name == "mish":
        return x * np.tanh(softplus(x))
    if name == "linear":
        return x
    raise ValueError(f"unknown activation {name!r}")


# Activations whose derivative is a function of the output y alone (with the given alpha range),
# so that a kernel may fuse them into its epilogue and keep only y for the backward pass.
FROM_OUTPUT = {"linear", "relu", "relu6", "leaky_relu", "elu", "selu", "sigmoid", "tanh", "softplus",
               "softsign", "exponential", "hard_sigmoid"}


def act_backward(name, dy, x=None, y=None, alpha=0.0):
    """dx for activation `name`; x is needed for names outside FROM_OUTPUT, y may replace x for those in it."""
    if name == "linear":
        return dy
    if name == "relu":
        return np.where((x if x is not None else y) > 0, dy, 0.0).astype(dy.dtype, copy=False)
    if name == "relu6":
        r = x if x is not None else y
        return np.where((r > 0) & (r < 6.0), dy, 0.0).astype(dy.dtype, copy=False)
    if name == "leaky_relu":
        r = x if x is not None else y
        return np.where(r > 0, dy, dy * alpha)
    if name == "elu":
        if y is None:
            y = act_forward("elu", x, alpha)
        pos = (x > 0) if x is not None else (y > 0)
        return np.where(pos, dy, dy * (y + alpha))
    if name == "selu":
        if y is None:
            y = act_forward("selu", x)
        pos = (x > 0) if x is not None else (y > 0)
        return np.where(pos, dy * _SELU_SCALE, dy * (y + _SELU_SCALE * _SELU_ALPHA))
    if name == "sigmoid":
        if y is None:
            y = sigmoid(x)
        return dy * y * (1.0 - y)
    if name == "tanh":
        if y is None:
            y = np.tanh(x)
        return dy * (1.0 - y * y)
    if name == "hard_sigmoid":
        if x is not None:
            inside = (x > -3.0) & (x < 3.0)
        else:
            inside = (y > 0.0) & (y < 1.0)
        return np.where(inside, dy * (1.0 / 6.0), 0.0).astype(dy.dtype, copy=False)
    if name == "hard_silu":
        hs = np.clip(x * (1.0 / 6.0) + 0.5, 0.0, 1.0)
        inside = (x > -3.0) & (x < 3.0)
        return dy * (hs + np.where(inside, x * (1.0 / 6.0), 0.0))
    if name == "swish":
        s = sigmoid(x)
        return dy * (s * (1.0 + x * (1.0 - s)))
    if name == "gelu":
        if alpha:
            inner = _SQRT_2_OVER_PI * (x + _GELU_CUBIC * x * x * x)
            t = np.tanh(inner)
            dinner = _SQRT_2_OVER_PI * (1.0 + 3.0 * _GELU_CUBIC * x * x)
            return dy * (0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * dinner)
        cdf = 0.5 * (1.0 + erf(x * _INV_SQRT2))
        pdf = _INV_SQRT_2PI * np.exp(-0.5 * x * x)
        return dy * (cdf + x * pdf)
    if name == "softplus":
        if x is not None:
            return dy * sigmoid(x)
        return dy * -np.expm1(-y)
    if name == "softsign":
        if x is not None:
            d = 1.0 + np.abs(x)
            return dy / (d * d)
        d = 1.0 - np.abs(y)
        return dy * (d * d)
    if name == "exponential":
        if y is None:
            y = np.exp(x)
        return dy * y
    if name == "log_sigmoid":
        return dy * sigmoid(-x)
    if name == "mish":
        sp = softplus(x)
        t = np.tanh(sp)
        return dy * (t + x * (1.0 - t * t) * sigmoid(x))
    raise ValueError(f"unknown activation {name!r}")


# ------------------------------------------------------------------------------------------------
# Softmax family on 2-D (rows, classes) arrays, over the last axis.

def softmax(x):
    m = x.max(axis=-1, keepdims=True)
    e = np.exp(x - m)
    e /= e.sum(axis=-1, keepdims=True)
    return e


def softmax_backward(y, dy):
    s = (dy * y).sum(axis=-1, keepdims=True)
    return y * (dy - s)


def log_softmax(x):
    m = x.max(axis=-1, keepdims=True)
    z = x - m
    z -= np.log(np.exp(z).sum(axis=-1, keepdims=True))
    return z


def log_softmax_backward(y, dy):
    return dy - np.exp(y) * dy.sum(axis=-1, keepdims=True)


def softmax_xent(logits, target, with_grad=False):
    """Per-row -sum(target * log_softmax(logits)), and with_grad: its gradient for a unit upstream
    gradient, softmax(logits) * sum(target) - target."""
    m = logits.max(axis=-1, keepdims=True)
    z = logits - m
    e = np.exp(z)
    s = e.sum(axis=-1, keepdims=True)
    lse = np.log(s)  # logsumexp - max
    loss = (target * (lse - z)).sum(axis=-1)
    if not with_grad:
        return loss, None
    e /= s
    e *= target.sum(axis=-1, keepdims=True)
    e -= target
    return loss, e


def sparse_softmax_xent(logits, labels, with_grad=False):
    """Per-row logsumexp(logits) - logits[label], and with_grad: softmax(logits) - onehot(label)."""
    m = logits.max(axis=-1, keepdims=True)
    z = logits - m
    e = np.exp(z)
    s = e.sum(axis=-1, keepdims=True)
    rows = np.arange(logits.shape[0])
    loss = np.log(s[:, 0]) - z[rows, labels]
    if not with_grad:
        return loss, None
    e /= s
    e[rows, labels] -= 1.0
    return loss, e


def sigmoid_xent(logits, target, with_grad=False):
    """Elementwise max(z, 0) - z * t + log1p(exp(-|z|)), and with_grad: sigmoid(z) - t."""
    loss = np.maximum(logits, 0.0) - logits * target + np.log1p(np.exp(-np.abs(logits)))
    return loss, (sigmoid(logits) - target if with_grad else None)


# ------------------------------------------------------------------------------------------------
# Window views shared by convolution and pooling.

def _pad_spatial(x, pads, value=0.0):
    """x padded by ((lo, hi), ...) on its spatial axes; a negative amount crops instead."""
    if not any(lo or hi for lo, hi in pads):
        return x
    if any(lo < 0 or hi < 0 for lo, hi in pads):
        crop = (slice(None),) + tuple(slice(-lo if lo < 0 else 0, n + hi if hi < 0 else n)
                                      for (lo, hi), n in zip(pads, x.shape[1:-1]))
        x = x[crop]
        pads = tuple((lo if lo > 0 else 0, hi if hi > 0 else 0) for lo, hi in pads)
        if not any(lo or hi for lo, hi in pads):
            return x
    widths = [(0, 0)] + [tuple(p) for p in pads] + [(0, 0)]
    return np.pad(x, widths, constant_values=value)


def _window_view(xp, window, strides, dilations, out_sizes):
    """Read-only view (N, *out, *window, C) of padded input xp (N, *spatial, C)."""
    st = xp.strides
    shape = (xp.shape[0],) + tuple(out_sizes) + tuple(window) + (xp.shape[-1],)
    sp = st[1:-1]
    strides_ = ((st[0],) + tuple(s * k for s, k in zip(sp, strides)) + tuple(s * d for s, d in zip(sp, dilations))
                + (st[-1],))
    return as_strided(xp, shape, strides_, writeable=False)


def _window_slices(pos, strides, dilations, out_sizes):
    """Slices of the padded input touched by window position `pos` over all outputs."""
    return tuple(slice(p * d, p * d + s * (o - 1) + 1, s) for p, s, d, o in zip(pos, strides, dilations, out_sizes))


def out_size(n, k, s, d, lo, hi):
    return (n + lo + hi - (k - 1) * d - 1) // s + 1


# ------------------------------------------------------------------------------------------------
# Convolution (groups >= 1), channels_last, kernel (*window, C_in / groups, C_out).

def conv_forward(x, w, strides, dilations, pads, groups, gemm):
    rank = w.ndim - 2
    window = w.shape[:rank]
    cin_g, cout = w.shape[rank], w.shape[rank + 1]
    outs = [out_size(x.shape[1 + i], window[i], strides[i], dilations[i], *pads[i]) for i in range(rank)]
    xp = _pad_spatial(x, pads)
    view = _window_view(xp, window, strides, dilations, outs)
    m = x.shape[0] * math.prod(outs)
    kk = math.prod(window)
    if groups == 1:
        cols = view.reshape(m, kk * cin_g)
        y = gemm(cols, w.reshape(kk * cin_g, cout))
        return y.reshape((x.shape[0],) + tuple(outs) + (cout,))
    cout_g = cout // groups
    y = np.empty((m, cout), x.dtype)
    for g in range(groups):
        cols = np.ascontiguousarray(view[..., g * cin_g:(g + 1) * cin_g]).reshape(m, kk * cin_g)
        wg = np.ascontiguousarray(w[..., g * cout_g:(g + 1) * cout_g]).reshape(kk * cin_g, cout_g)
        y[:, g * cout_g:(g + 1) * cout_g] = gemm(cols, wg)
    return y.reshape((x.shape[0],) + tuple(outs) + (cout,))


def conv_backward_input(dy, w, x_shape, strides, dilations, pads, groups, gemm):
    rank = w.ndim - 2
    window = w.shape[:rank]
    cin_g, cout = w.shape[rank], w.shape[rank + 1]
    outs = dy.shape[1:-1]
    n = dy.shape[0]
    m = n * math.prod(outs)
    kk = math.prod(window)
    dy2 = np.ascontiguousarray(dy).reshape(m, cout)
    cin = cin_g * groups
    if groups == 1:
        dcols = gemm(dy2, w.reshape(kk * cin_g, cout), trans_b=True)
    else:
        cout_g = cout // groups
        dcols = np.empty((m, kk, cin), dy.dtype)
        for g in range(groups):
            wg = np.ascontiguousarray(w[..., g * cout_g:(g + 1) * cout_g]).reshape(kk * cin_g, cout_g)
            dyg = np.ascontiguousarray(dy2[:, g * cout_g:(g + 1) * cout_g])
            dcols[:, :, g * cin_g:(g + 1) * cin_g] = gemm(dyg, wg, trans_b=True).reshape(m, kk, cin_g)
    dcols = dcols.reshape((n,) + tuple(outs) + tuple(window) + (cin,))
    return _col2im(dcols, x_shape, window, strides, dilations, pads, outs)


def _col2im(dcols, x_shape, window, strides, dilations, pads, outs):
    # A negative trailing pad (the window never reaches the end of x) leaves those cells at zero.
    rank = len(window)
    padded = ((x_shape[0],) + tuple(x_shape[1 + i] + pads[i][0] + max(pads[i][1], 0) for i in range(rank))
              + (x_shape[-1],))
    dxp = np.zeros(padded, dcols.dtype)
    lead = (slice(None),) * (1 + rank)
    for pos in itertools.product(*(range(k) for k in window)):
        sl = _window_slices(pos, strides, dilations, outs)
        dxp[(slice(None),) + sl] += dcols[lead + pos]
    crop = (slice(None),) + tuple(slice(pads[i][0], pads[i][0] + x_shape[1 + i]) for i in range(rank))
    return dxp[crop]


def conv_backward_kernel(x, dy, w_shape, strides, dilations, pads, groups, gemm):
    rank = len(w_shape) - 2
    window = tuple(w_shape[:rank])
    cin_g, cout = w_shape[rank], w_shape[rank + 1]
    outs = dy.shape[1:-1]
    xp = _pad_spatial(x, pads)
    view = _window_view(xp, window, strides, dilations, outs)
    m = x.shape[0] * math.prod(outs)
    kk = math.prod(window)
    dy2 = np.ascontiguousarray(dy).reshape(m, cout)
    if groups == 1:
        cols = view.reshape(m, kk * cin_g)
        return gemm(cols, dy2, trans_a=True).reshape(w_shape)
    cout_g = cout // groups
    dw = np.empty(w_shape, x.dtype)
    for g in range(groups):
        cols = np.ascontiguousarray(view[..., g * cin_g:(g + 1) * cin_g]).reshape(m, kk * cin_g)
        dyg = np.ascontiguousarray(dy2[:, g * cout_g:(g + 1) * cout_g])
        dw[..., g * cout_g:(g + 1) * cout_g] = gemm(cols, dyg, trans_a=True).reshape(window + (cin_g, cout_g))
    return dw


# ------------------------------------------------------------------------------------------------
# Depthwise convolution: kernel (*window, C, multiplier), output channel c * multiplier + m.

def depthwise_forward(x, w, strides, dilations, pads):
    rank = w.ndim - 2
    window = w.shape[:rank]
    c, mult = w.shape[rank], w.shape[rank + 1]
    outs = [out_size(x.shape[1 + i], window[i], strides[i], dilations[i], *pads[i]) for i in range(rank)]
    xp = _pad_spatial(x, pads)
    y = np.zeros((x.shape[0],) + tuple(outs) + (c, mult), x.dtype)
    for pos in itertools.product(*(range(k) for k in window)):
        sl = _window_slices(pos, strides, dilations, outs)
        y += xp[(slice(None),) + sl][..., None] * w[pos]
    return y.reshape((x.shape[0],) + tuple(outs) + (c * mult,))


def depthwise_backward_input(dy, w, x_shape, strides, dilations, pads):
    rank = w.ndim - 2
    window = w.shape[:rank]
    c, mult = w.shape[rank], w.shape[rank + 1]
    outs = dy.shape[1:-1]
    dy = dy.reshape(dy.shape[:-1] + (c, mult))
    padded = (x_shape[0],) + tuple(x_shape[1 + i] + pads[i][0] + pads[i][1] for i in range(rank)) + (c,)
    dxp = np.zeros(padded, dy.dtype)
    for pos in itertools.product(*(range(k) for k in window)):
        sl = _window_slices(pos, strides, dilations, outs)
        dxp[(slice(None),) + sl] += (dy * w[pos]).sum(axis=-1)
    crop = (slice(None),) + tuple(slice(pads[i][0], pads[i][0] + x_shape[1 + i]) for i in range(rank))
    return dxp[crop]


def depthwise_backward_kernel(x, dy, w_shape, strides, dilations, pads):
    rank = len(w_shape) - 2
    window = tuple(w_shape[:rank])
    c, mult = w_shape[rank], w_shape[rank + 1]
    outs = dy.shape[1:-1]
    p = dy.shape[0] * math.prod(outs)
    dy3 = dy.reshape(p, c, mult)
    xp = _pad_spatial(x, pads)
    dw = np.empty(w_shape, x.dtype)
    for pos in itertools.product(*(range(k) for k in window)):
        sl = _window_slices(pos, strides, dilations, outs)
        xs = xp[(slice(None),) + sl].reshape(p, c)
        dw[pos] = np.einsum("pc,pcm->cm", xs, dy3)
    return dw


# ------------------------------------------------------------------------------------------------
# Pooling (channels_last). 'same' padding: max ignores padded cells, average divides by the
# number of real cells in each window (Keras/TensorFlow semantics).

def max_pool_forward(x, pool, strides, pads):
    rank = len(pool)
    outs = [out_size(x.shape[1 + i], pool[i], strides[i], 1, *pads[i]) for i in range(rank)]
    xp = _pad_spatial(x, pads, -np.inf)
    view = _window_view(xp, pool, strides, (1,) * rank, outs)
    return view.max(axis=tuple(range(1 + rank, 1 + 2 * rank)))


def max_pool_backward(x, dy, pool, strides, pads):
    rank = len(pool)
    outs = dy.shape[1:-1]
    xp = _pad_spatial(x, pads, -np.inf)
    view = _window_view(xp, pool, strides, (1,) * rank, outs)
    kk = math.prod(pool)
    # (N, *out, C, window) so that the first maximum of each window gets the gradient.
    flat = np.moveaxis(view, -1, 1 + rank).reshape(view.shape[:1 + rank] + (x.shape[-1], kk))
    arg = flat.argmax(axis=-1)
    dxp = np.zeros(xp.shape, dy.dtype)
    for j, pos in enumerate(itertools.product(*(range(k) for k in pool))):
        sl = _window_slices(pos, strides, (1,) * rank, outs)
        dxp[(slice(None),) + sl] += np.where(arg == j, dy, 0.0)
    crop = (slice(None),) + tuple(slice(pads[i][0], pads[i][0] + x.shape[1 + i]) for i in range(rank))
    return dxp[crop]


def _avg_counts(spatial, pool, strides, pads, outs, dtype):
    ones = np.ones((1,) + tuple(spatial) + (1,), dtype)
    onesp = _pad_spatial(ones, pads)
    rank = len(pool)
    view = _window_view(onesp, pool, strides, (1,) * rank, outs)
    return view.sum(axis=tuple(range(1 + rank, 1 + 2 * rank)))


def avg_pool_forward(x, pool, strides, pads):
    rank = len(pool)
    outs = [out_size(x.shape[1 + i], pool[i], strides[i], 1, *pads[i]) for i in range(rank)]
    xp = _pad_spatial(x, pads)
    view = _window_view(xp, pool, strides, (1,) * rank, outs)
    s = view.sum(axis=tuple(range(1 + rank, 1 + 2 * rank)))
    if any(lo or hi for lo, hi in pads):
        s /= _avg_counts(x.shape[1:-1], pool, strides, pads, outs, x.dtype)
    else:
        s *= 1.0 / math.prod(pool)
    return s


def avg_pool_backward(dy, x_shape, pool, strides, pads):
    rank = len(pool)
    outs = dy.shape[1:-1]
    if any(lo or hi for lo, hi in pads):
        g = dy / _avg_counts(x_shape[1:-1], pool, strides, pads, outs, dy.dtype)
    else:
        g = dy * (1.0 / math.prod(pool))
    padded = (x_shape[0],) + tuple(x_shape[1 + i] + pads[i][0] + pads[i][1] for i in range(rank)) + (x_shape[-1],)
    dxp = np.zeros(padded, dy.dtype)
    for pos in itertools.product(*(range(k) for k in pool)):
        sl = _window_slices(pos, strides, (1,) * rank, outs)
        dxp[(slice(None),) + sl] += g
    crop = (slice(None),) + tuple(slice(pads[i][0], pads[i][0] + x_shape[1 + i]) for i in range(rank))
    return dxp[crop]


# ------------------------------------------------------------------------------------------------
# Batch normalisation over the rows of a 2-D (rows, C) array.

def bn_train_forward(x, gamma, beta, eps):
    """y, batch mean, batch (biased) variance, 1 / sqrt(var + eps)."""
    mean = x.mean(axis=0)
    xc = x - mean
    var = np.square(xc).mean(axis=0)
    inv = 1.0 / np.sqrt(var + eps)
    xhat = xc * inv
    y = xhat * gamma if gamma is not None else xhat
    if beta is not None:
        y += beta
    return y, mean, var, inv


def bn_train_backward(dy, x, mean, inv, gamma):
    """dx, dgamma, dbeta of the training-mode normalisation."""
    n = x.shape[0]
    xhat = (x - mean) * inv
    dbeta = dy.sum(axis=0)
    dgamma = (dy * xhat).sum(axis=0)
    scale = inv * (gamma if gamma is not None else 1.0)
    dx = (dy - dbeta * (1.0 / n) - xhat * (dgamma * (1.0 / n))) * scale
    return dx, dgamma, dbeta


def bn_infer(x, mean, var, gamma, beta, eps):
    inv = 1.0 / np.sqrt(var + eps)
    scale = inv * gamma if gamma is not None else inv
    y = (x - mean) * scale
    if beta is not None:
        y += beta
    return y


# ------------------------------------------------------------------------------------------------
# Geometry (Keras / TensorFlow arithmetic)

def window_pads(spatial, window, strides, dilations, padding):
    """((lo, hi), ...) for 'valid', 'same' (out = ceil(in / stride), odd padding after) or 'causal'."""
    pads = []
    for n, k, s, d in zip(spatial, window, strides, dilations):
        dk = (k - 1) * d + 1
        if padding == "same":
            out = -(-n // s)
            total = max((out - 1) * s + dk - n, 0)
            pads.append((total // 2, total - total // 2))
        elif padding == "causal":
            pads.append((dk - 1, 0))
        else:
            pads.append((0, 0))
    return tuple(pads)


def conv_transpose_geometry(x_shape, w_shape, strides, padding, output_padding, dilations):
    """(output spatial sizes, pads of the forward convolution it transposes).

    Keras's Conv*Transpose places the output as JAX does: the stride-dilated input padded by
    (left, right) and convolved with the flipped kernel; that is the adjoint of a forward
    convolution from the output to the input with left padding dk - 1 - left (dk the dilated
    window), whose right padding may be negative (the window never reaches the output's end).
    """
    rank = len(w_shape) - 2
    ops_ = (output_padding,) * rank if output_padding is None or isinstance(output_padding, int) else output_padding
    sizes, pads = [], []
    for i in range(rank):
        k, s, d, n = w_shape[i], strides[i], dilations[i], x_shape[1 + i]
        dk = (k - 1) * d + 1
        op = ops_[i]
        if padding == "valid":
            op = max(dk, s) - dk if op is None else op
            left, right = dk - 1, dk - 1 + op
        else:
            pad_len = s + dk - 2 if op is None else dk + dk % 2 - 2 + op
            left = min(pad_len // 2 + pad_len % 2, dk - 1)
            right = pad_len - left
        n_out = (n - 1) * s + 1 + left + right - dk + 1
        lo = dk - 1 - left
        sizes.append(n_out)
        pads.append((lo, (n - 1) * s + dk - n_out - lo))
    return tuple(sizes), tuple(pads)


def moved_rows(x, axis):
    """x with `axis` moved last as a contiguous 2-D (rows, channels) array, and the moved shape."""
    xm = np.moveaxis(x, axis, -1) if axis not in (-1, x.ndim - 1) else x
    return np.ascontiguousarray(xm).reshape(-1, xm.shape[-1]), xm.shape


def unmoved(a2, moved_shape, axis, ndim):
    a = a2.reshape(moved_shape)
    return np.moveaxis(a, -1, axis) if axis not in (-1, ndim - 1) else a

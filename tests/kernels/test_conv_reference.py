"""Float64 numpy references for the convolution kernels, and their own check by finite differences.

The other test_conv_* files import these references. Every convolution is computed in 3 spatial
dimensions (1-d and 2-d inputs get leading unit dimensions) as a sum over kernel taps of strided
slices of a zero-padded input, so the references share no code or idea with the kernels beyond
the definition of a convolution.
"""
import itertools
import math

import numpy as np
import pytest


# ---------------------------------------------------------------------------------- geometry
def same_pads(in_size, k, s, d):
    """TensorFlow 'same': out = ceil(in / s), the odd padding after."""
    keff = (k - 1) * d + 1
    out = -(-in_size // s)
    total = max((out - 1) * s + keff - in_size, 0)
    return total // 2, total - total // 2


def geometry(in_sp, k_sp, strides, dilation, padding):
    """Per-dimension (out, pad_before) for padding 'valid', 'same', 'causal' or explicit pairs."""
    outs, pads = [], []
    for i, (n, k, s, d) in enumerate(zip(in_sp, k_sp, strides, dilation)):
        keff = (k - 1) * d + 1
        if padding == "valid":
            before, total = 0, n
        elif padding == "same":
            b, a = same_pads(n, k, s, d)
            before, total = b, n + b + a
        elif padding == "causal":
            before, total = keff - 1, n + keff - 1
        else:
            b, a = padding[i]
            before, total = b, n + b + a
        outs.append((total - keff) // s + 1)
        pads.append(before)
    return outs, pads


def tup(v, n):
    return (v,) * n if isinstance(v, int) else tuple(v)


def to3(a_shape_sp, fill=1):
    return (fill,) * (3 - len(a_shape_sp)) + tuple(a_shape_sp)


# ---------------------------------------------------------------------------------- dense conv
def _taps(k3):
    return itertools.product(range(k3[0]), range(k3[1]), range(k3[2]))


def _window(xp, tap, dil, stride, out3):
    """Strided slice of the padded input read by one kernel tap, shape (n, *out3, c)."""
    sl = [slice(None)]
    for t, d, s, o in zip(tap, dil, stride, out3):
        start = t * d
        sl.append(slice(start, start + (o - 1) * s + 1, s))
    sl.append(slice(None))
    return xp[tuple(sl)]


def _pad_input(x5, pads3, need3):
    """Zero-pads x5 (n, D, H, W, c) with pads3 before and enough after to cover need3 sizes."""
    widths = [(0, 0)]
    for p, n, need in zip(pads3, x5.shape[1:4], need3):
        widths.append((p, max(need - p - n, 0)))
    widths.append((0, 0))
    return np.pad(x5, widths)


def conv_forward(x, kernel, bias=None, strides=1, padding="valid", dilation=1, groups=1):
    """y = conv(x, kernel) + bias in float64; x (n, *sp, cin), kernel (*k, cin // groups, cout)."""
    x = np.asarray(x, np.float64)
    kernel = np.asarray(kernel, np.float64)
    nd = x.ndim - 2
    strides, dilation = tup(strides, nd), tup(dilation, nd)
    outs, pads = geometry(x.shape[1:-1], kernel.shape[:nd], strides, dilation, padding)
    s3, d3, o3, p3 = to3(strides), to3(dilation), to3(outs), to3(pads, 0)
    k3 = to3(kernel.shape[:nd])
    x5 = x.reshape((x.shape[0],) + to3(x.shape[1:-1]) + (x.shape[-1],))
    k5 = kernel.reshape(k3 + kernel.shape[nd:])
    need = [(o - 1) * s + (k - 1) * d + 1 for o, s, k, d in zip(o3, s3, k3, d3)]
    xp = _pad_input(x5, p3, need)
    cin, cout = x.shape[-1], kernel.shape[-1]
    cig, cog = cin // groups, cout // groups
    y = np.zeros((x.shape[0],) + tuple(o3) + (cout,))
    for tap in _taps(k3):
        win = _window(xp, tap, d3, s3, o3)
        for g in range(groups):
            y[..., g * cog:(g + 1) * cog] += win[..., g * cig:(g + 1) * cig] @ k5[tap][:, g * cog:(g + 1) * cog]
    if bias is not None:
        y += np.asarray(bias, np.float64)
    return y.reshape((x.shape[0],) + tuple(outs) + (cout,))


def conv_backward_data(dy, kernel, input_shape, strides=1, padding="valid", dilation=1, groups=1):
    """dL/dx for y = conv(x, kernel), by scattering every tap's contribution (float64)."""
    dy = np.asarray(dy, np.float64)
    kernel = np.asarray(kernel, np.float64)
    nd = len(input_shape) - 2
    strides, dilation = tup(strides, nd), tup(dilation, nd)
    outs, pads = geometry(input_shape[1:-1], kernel.shape[:nd], strides, dilation, padding)
    s3, d3, o3, p3 = to3(strides), to3(dilation), to3(outs), to3(pads, 0)
    k3 = to3(kernel.shape[:nd])
    in3 = to3(input_shape[1:-1])
    k5 = kernel.reshape(k3 + kernel.shape[nd:])
    dy5 = dy.reshape((dy.shape[0],) + tuple(o3) + (dy.shape[-1],))
    need = [(o - 1) * s + (k - 1) * d + 1 for o, s, k, d in zip(o3, s3, k3, d3)]
    shape_p = [input_shape[0]] + [max(p + n, nd_) for p, n, nd_ in zip(p3, in3, need)] + [input_shape[-1]]
    dxp = np.zeros(shape_p)
    cin, cout = input_shape[-1], kernel.shape[-1]
    cig, cog = cin // groups, cout // groups
    for tap in _taps(k3):
        win = _window(dxp, tap, d3, s3, o3)  # a view: += writes through
        for g in range(groups):
            win[..., g * cig:(g + 1) * cig] += dy5[..., g * cog:(g + 1) * cog] @ k5[tap][:, g * cog:(g + 1) * cog].T
    dx = dxp[:, p3[0]:p3[0] + in3[0], p3[1]:p3[1] + in3[1], p3[2]:p3[2] + in3[2], :]
    return dx.reshape(input_shape)


def conv_backward_filter(x, dy, kernel_size, strides=1, padding="valid", dilation=1, groups=1):
    """(dL/dkernel, dL/dbias) for y = conv(x, kernel) + bias (float64)."""
    x = np.asarray(x, np.float64)
    dy = np.asarray(dy, np.float64)
    nd = x.ndim - 2
    strides, dilation = tup(strides, nd), tup(dilation, nd)
    outs, pads = geometry(x.shape[1:-1], kernel_size, strides, dilation, padding)
    s3, d3, o3, p3 = to3(strides), to3(dilation), to3(outs), to3(pads, 0)
    k3 = to3(tuple(kernel_size))
    x5 = x.reshape((x.shape[0],) + to3(x.shape[1:-1]) + (x.shape[-1],))
    dy5 = dy.reshape((dy.shape[0],) + tuple(o3) + (dy.shape[-1],))
    need = [(o - 1) * s + (k - 1) * d + 1 for o, s, k, d in zip(o3, s3, k3, d3)]
    xp = _pad_input(x5, p3, need)
    cin, cout = x.shape[-1], dy.shape[-1]
    cig, cog = cin // groups, cout // groups
    dk = np.zeros(k3 + (cig, cout))
    for tap in _taps(k3):
        win = _window(xp, tap, d3, s3, o3)
        for g in range(groups):
            a = win[..., g * cig:(g + 1) * cig].reshape(-1, cig)
            b = dy5[..., g * cog:(g + 1) * cog].reshape(-1, cog)
            dk[tap][:, g * cog:(g + 1) * cog] = a.T @ b
    db = dy.reshape(-1, cout).sum(axis=0)
    return dk.reshape(tuple(kernel_size) + (cig, cout)), db


# ---------------------------------------------------------------------------------- depthwise / separable
def depthwise_as_grouped(kernel):
    """Keras depthwise kernel (*k, C, M) -> grouped kernel (*k, 1, C * M) (same element order)."""
    k = np.asarray(kernel)
    return k.reshape(k.shape[:-2] + (1, k.shape[-2] * k.shape[-1]))


def depthwise_forward(x, kernel, bias=None, **kw):
    return conv_forward(x, depthwise_as_grouped(kernel), bias, groups=x.shape[-1], **kw)


def separable_forward(x, dk, pk, bias=None, **kw):
    mid = depthwise_forward(x, dk, **kw)
    pk2 = np.asarray(pk, np.float64).reshape(pk.shape[-2], pk.shape[-1])
    y = mid @ pk2
    return y + bias if bias is not None else y


# ---------------------------------------------------------------------------------- transposed
def transpose_geometry(in_sp, k_sp, strides, dilation, padding, output_padding):
    """Keras Conv*Transpose: (output sizes, pad_before of the equivalent forward convolution)."""
    outs, pads = [], []
    for i, (n, k, s, d) in enumerate(zip(in_sp, k_sp, strides, dilation)):
        keff = (k - 1) * d + 1
        op = None if output_padding is None else tup(output_padding, len(in_sp))[i]
        if padding == "valid":
            op = max(keff, s) - keff if op is None else op
            length = (n - 1) * s + keff + op
            left = keff - 1
        else:
            pad_len = s + keff - 2 if op is None else keff + keff % 2 - 2 + op
            length = n * s if op is None else (n - 1) * s + keff % 2 + op
            left = min(pad_len // 2 + pad_len % 2, keff - 1)
        outs.append(length)
        pads.append(keff - 1 - left)
    return outs, pads


def conv_transpose_forward(x, kernel, bias=None, strides=1, padding="valid", output_padding=None, dilation=1):
    """Keras Conv*Transpose in float64 by direct scattering: kernel (*k, out, in)."""
    x = np.asarray(x, np.float64)
    kernel = np.asarray(kernel, np.float64)
    nd = x.ndim - 2
    strides, dilation = tup(strides, nd), tup(dilation, nd)
    outs, pads = transpose_geometry(x.shape[1:-1], kernel.shape[:nd], strides, dilation, padding, output_padding)
    y = np.zeros((x.shape[0],) + tuple(outs) + (kernel.shape[-2],))
    # Output o = i * s - pad + t * d receives x[i] @ kernel[t].T
    for tap in itertools.product(*[range(k) for k in kernel.shape[:nd]]):
        contrib = x @ kernel[tap].T  # (n, *in, out)
        for idx in itertools.product(*[range(n) for n in x.shape[1:-1]]):
            o = [i * s - p + t * d for i, s, p, t, d in zip(idx, strides, pads, tap, dilation)]
            if all(0 <= oo < L for oo, L in zip(o, outs)):
                y[(slice(None),) + tuple(o)] += contrib[(slice(None),) + idx]
    if bias is not None:
        y += np.asarray(bias, np.float64)
    return y


# ---------------------------------------------------------------------------------- activations
def activation(z, code, alpha=0.0):
    z = np.asarray(z, np.float64)
    if code == 0:
        return z
    if code == 1:
        return np.maximum(z, 0)
    if code == 2:
        return np.clip(z, 0, 6)
    if code == 3:
        return np.where(z < 0, alpha * z, z)
    if code == 4:
        return np.where(z > 0, z, alpha * np.expm1(z))
    if code == 5:
        return 1 / (1 + np.exp(-z))
    if code == 6:
        return np.tanh(z)
    if code == 7:
        return np.clip(0.2 * z + 0.5, 0, 1)
    if code == 8:
        return z / (1 + np.exp(-z))
    if code == 10:
        return np.log1p(np.exp(z))
    if code == 11:
        return 1.0507009873554805 * np.where(z > 0, z, 1.6732632423543772 * np.expm1(z))
    if code == 12:
        return np.exp(z)
    if code == 13:
        return z / (1 + np.abs(z))
    raise ValueError(code)


# ---------------------------------------------------------------------------------- tests of the references
def _numeric_grad(f, a, eps=1e-6):
    g = np.zeros_like(a)
    flat, gflat = a.reshape(-1), g.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + eps
        hi = f()
        flat[i] = old - eps
        lo = f()
        flat[i] = old
        gflat[i] = (hi - lo) / (2 * eps)
    return g


REF_CASES = [
    # (x shape, kernel shape, strides, padding, dilation, groups)
    ((2, 7, 3), (3, 3, 4), 2, "same", 1, 1),
    ((1, 5, 6, 4), (2, 3, 2, 6), (1, 2), "same", (2, 1), 2),
    ((1, 6, 5, 2), (3, 2, 2, 3), 2, "valid", 1, 1),
    ((1, 4, 5, 3, 2), (2, 3, 2, 2, 2), (1, 2, 1), "same", 1, 1),
    ((2, 9, 1), (3, 1, 2), 1, "causal", 2, 1),
    ((1, 5, 4, 3), (3, 3, 1, 6), 1, ((2, 0), (1, 3)), 1, 3),
]


@pytest.mark.parametrize("case", REF_CASES)
def test_reference_gradients_match_finite_differences(case):
    xs, ks, strides, padding, dilation, groups = case
    rng = np.random.default_rng(7)
    x = rng.standard_normal(xs)
    k = rng.standard_normal(ks)
    b = rng.standard_normal(ks[-1])
    y = conv_forward(x, k, b, strides, padding, dilation, groups)
    w = rng.standard_normal(y.shape)  # loss = sum(w * y)
    dx = conv_backward_data(w, k, x.shape, strides, padding, dilation, groups)
    dk, db = conv_backward_filter(x, w, ks[:-2], strides, padding, dilation, groups)
    loss = lambda: float(np.sum(w * conv_forward(x, k, b, strides, padding, dilation, groups)))  # noqa: E731
    np.testing.assert_allclose(dx, _numeric_grad(loss, x), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(dk, _numeric_grad(loss, k), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(db, _numeric_grad(loss, b), rtol=1e-6, atol=1e-7)


def test_reference_same_padding_matches_tensorflow_arithmetic():
    # in 7, k 4, s 2: out 4, total pad (4-1)*2+4-7 = 3 -> 1 before, 2 after.
    assert same_pads(7, 4, 2, 1) == (1, 2)
    assert geometry((7,), (4,), (2,), (1,), "same") == ([4], [1])
    # in 10, k 3, s 3: out 4, total (4-1)*3+3-10 = 2 -> 1, 1.
    assert same_pads(10, 3, 3, 1) == (1, 1)
    # Never negative: in 5, k 1, s 2 -> out 3, total max(4+1-5, 0) = 0.
    assert same_pads(5, 1, 2, 1) == (0, 0)


def test_reference_transpose_is_the_adjoint_of_the_convolution():
    # <conv_transpose(x), z> == <x, conv(z)> for the forward convolution with the same geometry.
    rng = np.random.default_rng(3)
    for padding, op, s in [("valid", None, 2), ("same", None, 2), ("same", 1, 3), ("valid", 1, 2)]:
        x = rng.standard_normal((1, 4, 3, 2))
        k = rng.standard_normal((3, 2, 5, 2))  # (*k, out=5, in=2)
        y = conv_transpose_forward(x, k, None, s, padding, op)
        outs, pads = transpose_geometry(x.shape[1:-1], k.shape[:2], (s, s), (1, 1), padding, op)
        assert list(y.shape[1:-1]) == outs
        z = rng.standard_normal(y.shape)
        explicit = [(p, 10) for p in pads]  # generous after-padding; the output is cropped below
        cz = conv_forward(z, k, None, s, explicit)[:, : x.shape[1], : x.shape[2]]
        assert math.isclose(float(np.sum(y * z)), float(np.sum(x * cz)), rel_tol=1e-9)

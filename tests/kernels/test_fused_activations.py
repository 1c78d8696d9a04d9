"""Every activation code fused into a GEMM or convolution epilogue gives what the elementwise
kernel gives on the unfused result (pykeras._core.eltwise.unary / unary_backward).

The fusing kernels and eltwise share one implementation of each activation, so the comparison is
tight (a couple of ulps: only the compiler's instruction choices may differ). Covers every code
(0-17) with its parameter variants, including hard_sigmoid with Keras 3's slope 1/6 and Keras 2's
0.2, on every kernel path (`isa` fixture): sgemm (register-tile activations and those applied to
the stored tile, over partial tiles), dense, 1x1, depthwise, separable and transposed
convolutions forward, and the convolution backward through the activation from its output where
the derivative allows it (a clear ValueError elsewhere).
"""
import math

import numpy as np
import pytest

from pykeras import _core

eltwise, gemm, conv = _core.eltwise, _core.gemm, _core.conv

# (code, act_alpha for the fusing kernels, eltwise op name, its parameters for the same function)
CASES = [
    (0, 0.0, "linear", {}),
    (1, 0.0, "relu", {}),
    (1, 0.1, "relu", {"alpha": 0.1}),  # relu's alpha is Keras's negative_slope
    (2, 0.0, "relu6", {}),
    (3, 0.3, "leaky_relu", {"alpha": 0.3}),
    (3, 0.0, "leaky_relu", {"alpha": 0.0}),
    (4, 1.0, "elu", {"alpha": 1.0}),
    (4, 0.5, "elu", {"alpha": 0.5}),
    (5, 0.0, "sigmoid", {}),
    (6, 0.0, "tanh", {}),
    (7, 1.0 / 6.0, "hard_sigmoid", {}),  # Keras 3 (eltwise's default slope)
    (7, 0.2, "hard_sigmoid", {"alpha": 0.2}),
    (7, 0.0, "hard_sigmoid", {"alpha": 0.2}),  # alpha 0 is Keras 2's slope (activation.h)
    (8, 0.0, "swish", {}),
    (9, 0.0, "gelu", {}),
    (9, 1.0, "gelu", {"approximate": True}),
    (10, 0.0, "softplus", {}),
    (11, 0.0, "selu", {}),
    (12, 0.0, "exponential", {}),
    (13, 0.0, "softsign", {}),
    (14, 0.0, "hard_silu", {}),
    (15, 1.0, "thresholded_relu", {"threshold": 1.0}),
    (15, -0.5, "thresholded_relu", {"threshold": -0.5}),
    (16, 0.0, "mish", {}),
    (17, 0.0, "log_sigmoid", {}),
]


def _id(case):
    code, alpha, name, _ = case
    return f"{code}-{name}-{alpha:.3g}"


def rand(shape, seed, scale=1.0):
    return (np.random.default_rng(seed).standard_normal(shape) * scale).astype(np.float32)


def assert_same(fused, ref, what):
    """Within 2 ulps of the unfused result (bitwise in practice)."""
    assert fused.shape == ref.shape, what
    tiny = np.finfo(np.float32).tiny
    ulp = np.spacing(np.maximum(np.abs(ref), tiny).astype(np.float32))
    err = np.abs(fused.astype(np.float64) - ref.astype(np.float64))
    worst = float(np.max(err / ulp)) if ref.size else 0.0
    assert np.array_equal(np.isnan(fused), np.isnan(ref)), what
    assert worst <= 2.0, f"{what}: {worst:.1f} ulps from the unfused activation"


def test_cases_cover_every_code():
    assert {c[0] for c in CASES} == set(range(len(set(eltwise.ACTIVATIONS.values()))))
    for code, _, name, _ in CASES:
        assert eltwise.ACTIVATIONS[name] == code


def test_hard_sigmoid_keras3_slope_fused(isa):
    # Keras 3: hard_sigmoid(x) = relu6(x + 3) / 6, fused into sgemm and conv_forward.
    a, b = rand((37, 11), 1, 2.0), rand((11, 45), 2)
    y = gemm.sgemm(a, b, activation=7, act_alpha=1.0 / 6.0)
    z = a.astype(np.float64) @ b.astype(np.float64)
    np.testing.assert_allclose(y, np.clip(z + 3, 0, 6) / 6, rtol=1e-5, atol=1e-5)
    x, k = rand((1, 6, 7, 5), 3, 2.0), rand((3, 3, 5, 9), 4)
    yc = conv.conv_forward(x, k, None, 1, "same", activation=7, act_alpha=1.0 / 6.0)
    zc = conv.conv_forward(x, k, None, 1, "same").astype(np.float64)
    np.testing.assert_allclose(yc, np.clip(zc + 3, 0, 6) / 6, rtol=1e-5, atol=1e-5)


# ----------------------------------------------------------------------------------- GEMM

@pytest.mark.parametrize("case", CASES, ids=_id)
def test_sgemm_epilogue_matches_eltwise(isa, case):
    code, alpha, name, params = case
    # Rows and columns off the register tiles (14 x 32, 6 x 16, 4 x 4) and off the vector width
    # (the stored-tile pass has a masked tail); pre-activations spread over about [-8, 8], across
    # every kink and saturation point; beta and bias in the epilogue.
    for m, n, k in [(31, 45, 23), (3, 17, 5), (16, 64, 9)]:
        a, b = rand((m, k), 5, 2.5 / math.sqrt(k)), rand((k, n), 6, 1.0)
        c0, bias = rand((m, n), 7), rand(n, 8)
        linear = gemm.sgemm(a, b, c0.copy(), beta=0.5, bias=bias)
        fused = gemm.sgemm(a, b, c0.copy(), beta=0.5, bias=bias, activation=code, act_alpha=alpha)
        assert_same(fused, eltwise.unary(name, linear, **params), f"sgemm {m}x{n}x{k} {name}")


@pytest.mark.parametrize("case", CASES, ids=_id)
def test_sgemm_batched_and_deep_epilogue_matches_eltwise(isa, case):
    # Several k-ranges (the activation runs once, after the last) and a batch of products.
    code, alpha, name, params = case
    a, b, bias = rand((2, 20, 700), 9, 0.1), rand((700, 33), 10), rand(33, 11)
    linear = gemm.sgemm_batched(a, b, bias=bias)
    fused = gemm.sgemm_batched(a, b, bias=bias, activation=code, act_alpha=alpha)
    assert_same(fused, eltwise.unary(name, linear, **params), f"sgemm_batched {name}")


def test_sgemm_relu_family_keeps_nan(isa):
    # The register activations are the eltwise ones: relu(NaN) = NaN, as numpy's maximum.
    a = np.ones((3, 4), np.float32)
    a[1, 2] = np.nan
    b = np.ones((4, 5), np.float32)
    for code, name in [(1, "relu"), (2, "relu6"), (3, "leaky_relu")]:
        y = gemm.sgemm(a, b, activation=code, act_alpha=0.2)
        assert np.isnan(y[1]).all() and not np.isnan(y[[0, 2]]).any(), name


# ----------------------------------------------------------------------------------- convolution

# (kind, input shape, kernel shape(s), strides, padding), chosen to reach each epilogue: the
# indirect-GEMM tile store (dense, grouped, 1x1 as one long row), the depthwise row kernels (the
# 3-tap fast path and the masked channel tail), the separable pointwise stage, and the transposed
# convolution's two paths (few output channels on wide rows; the general tile path).
CONV_SHAPES = [
    ("dense", (2, 6, 7, 17), (3, 3, 17, 19), 1, "same"),
    ("grouped", (1, 5, 5, 6), (3, 2, 3, 10), 2, "same"),
    ("pointwise", (1, 4, 9, 8), (1, 1, 8, 33), 1, "valid"),
    ("depthwise", (2, 9, 11, 19), (3, 3, 19, 1), 1, "same"),
    ("depthwise-mult", (1, 7, 6, 5), (3, 3, 5, 2), 2, "valid"),
    ("separable", (1, 8, 8, 6), ((3, 3, 6, 2), (1, 1, 12, 13)), 1, "same"),
    ("transpose-few", (1, 4, 40, 8), (3, 3, 3, 8), 2, "same"),
    ("transpose", (2, 3, 4, 5), (3, 3, 17, 5), 2, "valid"),
]


def _conv_forward(kind, x, k, bias, strides, padding, code=0, alpha=0.0):
    if kind in ("dense", "pointwise"):
        return conv.conv_forward(x, k, bias, strides, padding, activation=code, act_alpha=alpha)
    if kind == "grouped":
        return conv.conv_forward(x, k, bias, strides, padding, groups=2, activation=code, act_alpha=alpha)
    if kind.startswith("depthwise"):
        return conv.depthwise_forward(x, k, bias, strides, padding, activation=code, act_alpha=alpha)
    if kind == "separable":
        return conv.separable_forward(x, k[0], k[1], bias, strides, padding, activation=code, act_alpha=alpha)
    return conv.conv_transpose_forward(x, k, bias, strides, padding, activation=code, act_alpha=alpha)


def _conv_operands(kind, xs, ks, seed):
    x = rand(xs, seed, 1.5)
    if kind == "separable":
        k = (rand(ks[0], seed + 1, 0.6), rand(ks[1], seed + 2, 0.5))
        channels = ks[1][-1]
    else:
        k = rand(ks, seed + 1, 2.0 / math.sqrt(np.prod(ks[:-1])))
        channels = ks[-2] if kind.startswith("transpose") else (ks[-2] * ks[-1] if kind.startswith("depthwise")
                                                                else ks[-1])
    return x, k, rand(channels, seed + 3)


@pytest.mark.parametrize("shape", CONV_SHAPES, ids=[s[0] for s in CONV_SHAPES])
@pytest.mark.parametrize("case", CASES, ids=_id)
def test_conv_forward_epilogue_matches_eltwise(isa, case, shape):
    code, alpha, name, params = case
    kind, xs, ks, strides, padding = shape
    x, k, bias = _conv_operands(kind, xs, ks, 20)
    linear = _conv_forward(kind, x, k, bias, strides, padding)
    fused = _conv_forward(kind, x, k, bias, strides, padding, code, alpha)
    assert_same(fused, eltwise.unary(name, linear, **params), f"{kind} {name}")


def _from_output(name, params, y, dy):
    """eltwise's dy * act'(x) from y alone, or None where the derivative does not follow from y."""
    try:
        return eltwise.unary_backward(name, dy, y=y, **params)
    except ValueError:
        return None


@pytest.mark.parametrize("case", CASES, ids=_id)
def test_activation_backward_matches_eltwise(isa, case):
    code, alpha, name, params = case
    z = rand((3, 5, 7, 11), 30, 3.0)
    y = eltwise.unary(name, z, **params)
    dy = rand(y.shape, 31)
    ref = _from_output(name, params, y, dy)
    if ref is None:
        with pytest.raises(ValueError, match="cannot be formed from its output"):
            conv.activation_backward(y, dy, code, alpha)
    else:
        np.testing.assert_array_equal(conv.activation_backward(y, dy, code, alpha), ref)


@pytest.mark.parametrize("case", CASES, ids=_id)
def test_conv_backward_through_fused_activation_matches_eltwise(isa, case):
    # conv_backward(dy, y) == conv_backward of eltwise's dz, for every path that takes y.
    code, alpha, name, params = case
    x, k, b = rand((2, 6, 5, 7), 40, 1.5), rand((3, 3, 7, 9), 41, 0.4), rand(9, 42)
    y = conv.conv_forward(x, k, b, 1, "same", activation=code, act_alpha=alpha)
    dy = rand(y.shape, 43)
    dz = _from_output(name, params, y, dy)
    if dz is None:
        with pytest.raises(ValueError, match="cannot be formed from its output"):
            conv.conv_backward(x, k, dy, 1, "same", y=y, activation=code, act_alpha=alpha)
        return
    got = conv.conv_backward(x, k, dy, 1, "same", y=y, activation=code, act_alpha=alpha)
    ref = conv.conv_backward(x, k, dz, 1, "same")
    for g, r, what in zip(got, ref, ("dx", "dkernel", "dbias")):
        np.testing.assert_array_equal(g, r, err_msg=f"conv_backward {what} {name}")

    xd, kd, bd = rand((1, 7, 6, 5), 44, 1.5), rand((3, 3, 5, 2), 45, 0.5), rand(10, 46)
    yd = conv.depthwise_forward(xd, kd, bd, 1, "same", activation=code, act_alpha=alpha)
    dyd = rand(yd.shape, 47)
    dzd = eltwise.unary_backward(name, dyd, y=yd, **params)
    got = conv.depthwise_backward(xd, kd, dyd, 1, "same", y=yd, activation=code, act_alpha=alpha)
    ref = conv.depthwise_backward(xd, kd, dzd, 1, "same")
    for g, r, what in zip(got, ref, ("dx", "dkernel", "dbias")):
        np.testing.assert_array_equal(g, r, err_msg=f"depthwise_backward {what} {name}")


def test_unknown_codes_are_refused():
    a, b = np.zeros((2, 3), np.float32), np.zeros((3, 4), np.float32)
    n = len(set(eltwise.ACTIVATIONS.values()))
    with pytest.raises(ValueError, match=f"unknown activation code {n}"):
        gemm.sgemm(a, b, activation=n)
    with pytest.raises(ValueError, match="unknown activation code -1"):
        conv.conv_forward(np.zeros((1, 3, 3, 2), np.float32), np.zeros((1, 1, 2, 2), np.float32), activation=-1)

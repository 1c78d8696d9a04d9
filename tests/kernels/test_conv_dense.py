"""Dense and grouped convolutions (pykeras._core.conv.conv_*) against the float64 references.

The sweep is a covering design drawn with a fixed seed rather than a full product: every kernel
size (1-5, 7), stride (1-3), dilation (1-2), padding (valid, same, causal, explicit), spatial
size (1, primes, odd and even), channel count around the vector widths (1, 15, 16, 17, 33),
group count and rank (1-d, 2-d, 3-d) appears in several cases, each case checking the forward
pass (with bias and a fused activation) and both gradients on every kernel path.
"""
import math

import numpy as np
import pytest

from pykeras import _core, config
from test_conv_reference import activation, conv_backward_data, conv_backward_filter, conv_forward, geometry

conv = _core.conv

KERNELS = [1, 2, 3, 4, 5, 7]
STRIDES = [1, 2, 3]
DILATIONS = [1, 2]
SIZES = [1, 2, 5, 7, 8, 11, 13]
CHANNELS = [1, 15, 16, 17, 33]


def _draw_cases(count, seed):
    rng = np.random.default_rng(seed)
    cases = []
    while len(cases) < count:
        nd = int(rng.choice([1, 2, 2, 2, 3]))
        ks = tuple(int(rng.choice(KERNELS if nd < 3 else [1, 2, 3])) for _ in range(nd))
        strides = tuple(int(rng.choice(STRIDES)) for _ in range(nd))
        dil = tuple(int(rng.choice(DILATIONS)) for _ in range(nd))
        sizes = tuple(int(rng.choice(SIZES if nd < 3 else [1, 3, 5, 6])) for _ in range(nd))
        if nd == 1:
            sizes = (int(rng.choice([5, 13, 31, 64])),)
        pick = rng.integers(10)
        if pick < 4:
            padding = "valid"
        elif pick < 8:
            padding = "same"
        elif pick == 8 and nd == 1:
            padding = "causal"
        else:
            padding = tuple((int(rng.integers(0, 3)), int(rng.integers(0, 3))) for _ in range(nd))
        groups = int(rng.choice([1, 1, 1, 2, 3]))
        cig = int(rng.choice(CHANNELS[:4] if groups > 1 else CHANNELS))
        cog = int(rng.choice(CHANNELS))
        batch = int(rng.choice([1, 2]))
        xs = (batch,) + sizes + (cig * groups,)
        kshape = ks + (cig, cog * groups)
        outs, _ = geometry(sizes, ks, strides, dil, padding)
        if min(outs) < 1:
            continue  # kernel larger than the (padded) input: an error case, tested elsewhere
        cases.append((xs, kshape, strides, padding, dil, groups))
    return cases


CASES = _draw_cases(60, seed=2024) + [
    # Hand-picked edges: 1x1 (the pointwise GEMM path), long rows, width-1 images, big channels.
    ((2, 7, 9, 33), (1, 1, 33, 17), (1, 1), "valid", (1, 1), 1),
    ((1, 1, 600, 16), (1, 1, 16, 15), (1, 1), "valid", (1, 1), 1),
    ((1, 13, 1, 5), (3, 1, 5, 64), (2, 1), "same", (1, 1), 1),
    ((2, 9, 9, 3), (3, 3, 3, 32), (2, 2), "same", (1, 1), 1),
    ((1, 6, 6, 64), (3, 3, 64, 80), (1, 1), "same", (1, 1), 1),
    ((1, 5, 4, 4), (7, 7, 4, 5), (1, 1), "same", (1, 1), 1),
    ((1, 5, 5, 8), (3, 3, 2, 8), (1, 1), "same", (2, 2), 4),
    # 1-4 input channels on wide rows: the pixel-vectorised input-gradient kernel.
    ((2, 9, 70, 3), (3, 3, 3, 8), (2, 2), "same", (1, 1), 1),
    ((1, 5, 67, 1), (2, 3, 1, 5), (1, 3), "valid", (1, 2), 1),
    ((2, 130, 4), (5, 4, 7), (2,), "causal", (1,), 1),
    ((1, 3, 4, 129, 2), (2, 2, 3, 2, 17), (1, 2, 1), "same", (1, 1, 1), 1),
]


def _ids(c):
    return f"x{c[0]}-k{c[1]}-s{c[2]}-{c[3]}-d{c[4]}-g{c[5]}".replace(" ", "")


def rand(shape, seed):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def assert_close(got, ref, k_terms):
    # float32 sums of k_terms products of O(1) values: error grows like sqrt(k) * eps * |terms|.
    scale = max(1.0, float(np.max(np.abs(ref)))) if ref.size else 1.0
    tol = 2e-6 * math.sqrt(k_terms + 1) * max(scale, math.sqrt(k_terms + 1))
    np.testing.assert_allclose(got, ref, rtol=1e-4, atol=tol)


@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_forward_and_gradients_match_reference(isa, case):
    xs, ks, strides, padding, dil, groups = case
    x, k, b = rand(xs, 1), rand(ks, 2), rand(ks[-1], 3)
    nd = len(xs) - 2
    act = 3  # leaky_relu with a fused bias
    y = conv.conv_forward(x, k, b, strides, padding, dil, groups, activation=act, act_alpha=0.1)
    z = conv_forward(x, k, b, strides, padding, dil, groups)
    assert y.shape == z.shape
    red = int(np.prod(ks[:-1]))
    assert_close(y, activation(z, act, 0.1), red)

    dy = rand(y.shape, 4)
    dx = conv.conv_backward_data(dy, k, xs, strides, padding, dil, groups)
    assert_close(dx, conv_backward_data(dy, k, xs, strides, padding, dil, groups), int(np.prod(ks[:nd])) * ks[-1])
    dk, db = conv.conv_backward_filter(x, dy, ks[:nd], strides, padding, dil, groups)
    rk, rb = conv_backward_filter(x, dy, ks[:nd], strides, padding, dil, groups)
    pixels = int(np.prod(y.shape[:-1]))
    assert_close(dk, rk, pixels)
    assert_close(db, rb, pixels)


@pytest.mark.parametrize("code,alpha", [(0, 0), (1, 0), (2, 0), (3, 0.2), (4, 1.0), (5, 0), (6, 0), (7, 0), (8, 0),
                                        (9, 0), (9, 1), (10, 0), (11, 0), (12, 0), (13, 0)])
def test_every_fused_activation(isa, code, alpha):
    x, k, b = rand((2, 6, 5, 17), 5) * 0.5, rand((3, 3, 17, 19), 6) * 0.2, rand(19, 7)
    y = conv.conv_forward(x, k, b, 1, "same", activation=code, act_alpha=alpha)
    z = conv_forward(x, k, b, 1, "same")
    if code == 9:
        if alpha:
            ref = 0.5 * z * (1 + np.tanh(0.7978845608028654 * (z + 0.044715 * z**3)))
        else:
            ref = 0.5 * z * (1 + np.vectorize(math.erf)(z / math.sqrt(2)))
    else:
        ref = activation(z, code, alpha)
    np.testing.assert_allclose(y, ref, rtol=1e-4, atol=1e-4)


def _act_grad(z, code, alpha):
    if code == 0:
        return np.ones_like(z)
    if code == 1:
        return (z > 0).astype(np.float64)
    if code == 2:
        return ((z > 0) & (z < 6)).astype(np.float64)
    if code == 3:
        return np.where(z > 0, 1.0, alpha)
    if code == 4:
        return np.where(z > 0, 1.0, alpha * np.exp(z))
    if code == 5:
        s = 1 / (1 + np.exp(-z))
        return s * (1 - s)
    if code == 6:
        return 1 - np.tanh(z) ** 2
    if code == 7:
        return np.where((z > -2.5) & (z < 2.5), 0.2, 0.0)
    if code == 10:
        return 1 / (1 + np.exp(-z))
    if code == 11:
        return 1.0507009873554805 * np.where(z > 0, 1.0, 1.6732632423543772 * np.exp(z))
    if code == 12:
        return np.exp(z)
    if code == 13:
        return 1 / (1 + np.abs(z)) ** 2
    raise ValueError(code)


@pytest.mark.parametrize("code,alpha", [(0, 0), (1, 0), (2, 0), (3, 0.2), (4, 1.0), (5, 0), (6, 0), (7, 0),
                                        (10, 0), (11, 0), (12, 0), (13, 0)])
def test_backward_through_fused_activation(isa, code, alpha):
    x, k, b = rand((2, 7, 6, 5), 8), rand((3, 3, 5, 9), 9) * 0.5, rand(9, 10)
    y = conv.conv_forward(x, k, b, 2, "same", activation=code, act_alpha=alpha)
    dy = rand(y.shape, 11)
    dx, dk, db = conv.conv_backward(x, k, dy, 2, "same", y=y, activation=code, act_alpha=alpha)
    z = conv_forward(x, k, b, 2, "same")
    dz = dy * _act_grad(z, code, alpha)
    # The derivative is recovered from float32 outputs: compare away from kinks only.
    np.testing.assert_allclose(dx, conv_backward_data(dz, k, x.shape, 2, "same"), rtol=2e-3, atol=2e-3)
    rk, rb = conv_backward_filter(x, dz, (3, 3), 2, "same")
    np.testing.assert_allclose(dk, rk, rtol=2e-3, atol=2e-3)
    np.testing.assert_allclose(db, rb, rtol=2e-3, atol=2e-3)


def test_combined_backward_options(isa):
    x, k = rand((1, 5, 5, 3), 12), rand((2, 2, 3, 4), 13)
    y = conv.conv_forward(x, k)
    dy = rand(y.shape, 14)
    dx, dk, db = conv.conv_backward(x, k, dy, bias=False, input_grad=False)
    assert dx is None and db is None
    np.testing.assert_allclose(dk, conv_backward_filter(x, dy, (2, 2))[0], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("case", [CASES[0], CASES[5], CASES[11]], ids=_ids)
def test_gradients_by_finite_differences(isa, case):
    # The convolution is linear in x and in the kernel, so a central difference with step 1 is
    # exact up to float32 rounding: this checks the kernels without going through the reference.
    xs, ks, strides, padding, dil, groups = case
    x, k = rand(xs, 15), rand(ks, 16)
    y = conv.conv_forward(x, k, None, strides, padding, dil, groups)
    w = rand(y.shape, 17).astype(np.float64)
    loss = lambda xx, kk: float(np.sum(w * conv.conv_forward(xx, kk, None, strides, padding, dil, groups)))  # noqa: E731
    dx = conv.conv_backward_data(w.astype(np.float32), k, xs, strides, padding, dil, groups)
    dk, _ = conv.conv_backward_filter(x, w.astype(np.float32), ks[:-2], strides, padding, dil, groups)
    rng = np.random.default_rng(18)
    for idx in rng.choice(x.size, size=min(6, x.size), replace=False):
        e = np.zeros(x.size, np.float32)
        e[idx] = 1
        e = e.reshape(xs)
        num = (loss(x + e, k) - loss(x - e, k)) / 2
        assert math.isclose(num, dx.reshape(-1)[idx], rel_tol=1e-3, abs_tol=1e-3)
    for idx in rng.choice(k.size, size=min(6, k.size), replace=False):
        e = np.zeros(k.size, np.float32)
        e[idx] = 1
        e = e.reshape(ks)
        num = (loss(x, k + e) - loss(x, k - e)) / 2
        assert math.isclose(num, dk.reshape(-1)[idx], rel_tol=1e-3, abs_tol=1e-3)


THREAD_CASES = [
    ((4, 20, 20, 16), (3, 3, 16, 17), 1, "same", 1, 1),
    ((2, 31, 29, 33), (5, 5, 33, 16), 2, "valid", 1, 1),
    ((3, 24, 24, 32), (3, 3, 16, 32), 1, "same", 2, 2),
    ((2, 1500, 64), (3, 64, 48), 1, "same", 1, 1),
    ((1, 40, 40, 64), (1, 1, 64, 64), 1, "valid", 1, 1),
    ((4, 40, 96, 3), (3, 3, 3, 32), 2, "same", 1, 1),
    ((2, 9, 10, 11, 8), (3, 3, 3, 8, 16), 1, "same", 1, 1),
]


@pytest.mark.parametrize("case", THREAD_CASES, ids=_ids)
def test_one_and_two_threads_are_bitwise_identical(isa, case):
    xs, ks, strides, padding, dil, groups = case
    x, k, b = rand(xs, 19), rand(ks, 20), rand(ks[-1], 21)
    results = []
    for threads in (1, 2):
        config.set_num_threads(threads)
        y = conv.conv_forward(x, k, b, strides, padding, dil, groups, activation=1)
        dy = rand(y.shape, 22)
        dx, dk, db = conv.conv_backward(x, k, dy, strides, padding, dil, groups)
        results.append((y, dx, dk, db))
    for a, b2 in zip(*results):
        np.testing.assert_array_equal(a, b2)
    # And the result is right.
    z = conv_forward(x, k, None, strides, padding, dil, groups)
    rk, _ = conv_backward_filter(x, rand(z.shape, 22), ks[:-2], strides, padding, dil, groups)
    assert_close(results[0][2], rk, int(np.prod(z.shape[:-1])))


def test_out_argument_and_output_shape(isa):
    x, k = rand((2, 9, 7, 4), 23), rand((3, 2, 4, 6), 24)
    assert conv.conv_output_shape(x.shape, k.shape, (2, 1), "same") == (2, 5, 7, 6)
    out = np.full((2, 5, 7, 6), np.nan, np.float32)
    assert conv.conv_forward(x, k, strides=(2, 1), padding="same", out=out) is out
    np.testing.assert_allclose(out, conv_forward(x, k, None, (2, 1), "same"), rtol=1e-4, atol=1e-5)
    dk_out = np.full(k.shape, np.nan, np.float32)
    db_out = np.full(6, np.nan, np.float32)
    dk, db = conv.conv_backward_filter(x, out, (3, 2), (2, 1), "same", out=dk_out, bias_out=db_out)
    assert dk is dk_out and db is db_out
    np.testing.assert_allclose(dk, conv_backward_filter(x, out, (3, 2), (2, 1), "same")[0], rtol=1e-4, atol=1e-4)


def test_combined_backward_into_given_outputs(isa):
    x, k = rand((2, 6, 7, 5), 25), rand((3, 3, 5, 6), 26)
    dy = rand((2, 6, 7, 6), 27)
    dx_o, dk_o, db_o = (np.full(s, np.nan, np.float32) for s in (x.shape, k.shape, (6,)))
    dx, dk, db = conv.conv_backward(x, k, dy, 1, "same", dx_out=dx_o, dkernel_out=dk_o, dbias_out=db_o)
    assert dx is dx_o and dk is dk_o and db is db_o
    ref = conv.conv_backward(x, k, dy, 1, "same")
    for a, b in zip((dx, dk, db), ref):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="'out' has shape"):
        conv.conv_backward(x, k, dy, 1, "same", dkernel_out=np.zeros((3, 3, 5, 5), np.float32))
    with pytest.raises(ValueError, match="must not overlap"):
        conv.conv_backward(x, k, dy, 1, "same", dx_out=x)

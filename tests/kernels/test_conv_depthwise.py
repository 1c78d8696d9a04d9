"""Depthwise and separable convolutions against the float64 references.

Covering design with a fixed seed over kernel sizes (1-5, 7), strides, dilations, paddings,
spatial sizes, channel counts around the vector widths and depth multipliers (1-3), in 1-d and
2-d (and a 3-d depthwise case through the grouped entry point), on every kernel path.
"""
import numpy as np
import pytest

from pykeras import _core, config
from test_conv_reference import (activation, conv_backward_data, conv_backward_filter, depthwise_as_grouped,
                                 depthwise_forward, geometry, separable_forward)

conv = _core.conv


def rand(shape, seed):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def _draw(count, seed):
    rng = np.random.default_rng(seed)
    cases = []
    while len(cases) < count:
        nd = int(rng.choice([1, 2, 2, 2]))
        ks = tuple(int(rng.choice([1, 2, 3, 3, 4, 5, 7])) for _ in range(nd))
        strides = tuple(int(rng.choice([1, 2, 3])) for _ in range(nd))
        dil = tuple(int(rng.choice([1, 2])) for _ in range(nd))
        sizes = tuple(int(rng.choice([1, 3, 5, 7, 8, 11, 13, 17])) for _ in range(nd))
        padding = "same" if rng.integers(2) else "valid"
        c = int(rng.choice([1, 3, 15, 16, 17, 33, 64]))
        mult = int(rng.choice([1, 1, 2, 3]))
        batch = int(rng.choice([1, 2]))
        outs, _ = geometry(sizes, ks, strides, dil, padding)
        if min(outs) < 1:
            continue
        cases.append(((batch,) + sizes + (c,), ks + (c, mult), strides, padding, dil))
    return cases


CASES = _draw(40, seed=77) + [
    ((2, 16, 16, 32), (3, 3, 32, 1), (1, 1), "same", (1, 1)),   # the MobileNet block
    ((1, 15, 17, 32), (3, 3, 32, 1), (2, 2), "same", (1, 1)),
    ((1, 9, 9, 8), (5, 5, 8, 4), (1, 1), "same", (2, 2)),
]


def _ids(c):
    return f"x{c[0]}-k{c[1]}-s{c[2]}-{c[3]}-d{c[4]}".replace(" ", "")


def close(got, ref, atol=2e-4):
    scale = max(1.0, float(np.max(np.abs(ref))))
    np.testing.assert_allclose(got, ref, rtol=1e-4, atol=atol * scale)


@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_depthwise_matches_reference(isa, case):
    xs, ks, strides, padding, dil = case
    nd = len(xs) - 2
    c, mult = ks[-2], ks[-1]
    x, k, b = rand(xs, 1), rand(ks, 2), rand(c * mult, 3)
    y = conv.depthwise_forward(x, k, b, strides, padding, dil, activation=2)
    z = depthwise_forward(x, k, b, strides=strides, padding=padding, dilation=dil)
    close(y, activation(z, 2))
    dy = rand(y.shape, 4)
    gk = depthwise_as_grouped(k)
    dx = conv.depthwise_backward_data(dy, k, xs, strides, padding, dil)
    close(dx, conv_backward_data(dy, gk, xs, strides, padding, dil, c))
    dk, db = conv.depthwise_backward_filter(x, dy, ks[:nd], strides, padding, dil)
    rk, rb = conv_backward_filter(x, dy, ks[:nd], strides, padding, dil, c)
    assert dk.shape == ks
    close(dk, rk.reshape(ks), atol=1e-4 * np.sqrt(dy.size))
    close(db, rb, atol=1e-4 * np.sqrt(dy.size))
    # The grouped entry point with the reshaped kernel takes the same path.
    np.testing.assert_array_equal(conv.conv_forward(x, gk.astype(np.float32), b, strides, padding, dil, c, activation=2), y)


@pytest.mark.parametrize("case", CASES[::2], ids=_ids)
def test_separable_matches_reference(isa, case):
    xs, ks, strides, padding, dil = case
    c, mult = ks[-2], ks[-1]
    cm = c * mult
    filters = [1, 17, 32][len(xs) % 3]
    x, dk_, b = rand(xs, 5), rand(ks, 6), rand(filters, 7)
    pk = rand((1,) * (len(xs) - 2) + (cm, filters), 8)
    y = conv.separable_forward(x, dk_, pk, b, strides, padding, dil, activation=1)
    z = separable_forward(x, dk_, pk, b, strides=strides, padding=padding, dilation=dil)
    close(y, activation(z, 1), atol=1e-4 * np.sqrt(cm * np.prod(ks)))
    dy = rand(y.shape, 9)
    dx, ddk, dpk, db = conv.separable_backward(x, dk_, pk, dy, strides, padding, dil)
    mid = depthwise_forward(x, dk_, strides=strides, padding=padding, dilation=dil)
    dmid = dy.astype(np.float64) @ pk.reshape(cm, filters).astype(np.float64).T
    n = dy.size // filters
    close(dpk.reshape(cm, filters), mid.reshape(-1, cm).T @ dy.reshape(-1, filters), atol=1e-4 * np.sqrt(n))
    close(db, dy.reshape(-1, filters).sum(0), atol=1e-4 * np.sqrt(n))
    rk, _ = conv_backward_filter(x, dmid, ks[:-2], strides, padding, dil, c)
    close(ddk, rk.reshape(ks), atol=1e-4 * np.sqrt(n * filters))
    close(dx, conv_backward_data(dmid, depthwise_as_grouped(dk_), xs, strides, padding, dil, c),
          atol=1e-4 * np.sqrt(filters * np.prod(ks)))
    # 2-d pointwise kernels are accepted too, and gradients can be skipped.
    y2 = conv.separable_forward(x, dk_, pk.reshape(cm, filters), b, strides, padding, dil, activation=1)
    np.testing.assert_array_equal(y, y2)
    none_dx, _, _, none_db = conv.separable_backward(x, dk_, pk, dy, strides, padding, dil, bias=False, input_grad=False)
    assert none_dx is None and none_db is None


def test_depthwise_3d_through_groups(isa):
    x, k = rand((2, 5, 6, 7, 17), 10), rand((3, 2, 3, 1, 34), 11)
    y = conv.conv_forward(x, k, None, (1, 2, 1), "same", 1, 17)
    from test_conv_reference import conv_forward
    close(y, conv_forward(x, k, None, (1, 2, 1), "same", 1, 17))
    dy = rand(y.shape, 12)
    dx, dk, db = conv.conv_backward(x, k, dy, (1, 2, 1), "same", 1, 17)
    close(dx, conv_backward_data(dy, k, x.shape, (1, 2, 1), "same", 1, 17))
    rk, rb = conv_backward_filter(x, dy, (3, 2, 3), (1, 2, 1), "same", 1, 17)
    close(dk, rk, atol=1e-3)
    close(db, rb, atol=1e-3)


def test_depthwise_backward_through_activation(isa):
    x, k, b = rand((2, 9, 9, 16), 13), rand((3, 3, 16, 2), 14), rand(32, 15)
    y = conv.depthwise_forward(x, k, b, 1, "same", activation=6)
    dy = rand(y.shape, 16)
    dx, dk, db = conv.depthwise_backward(x, k, dy, 1, "same", y=y, activation=6)
    z = depthwise_forward(x, k, b, strides=1, padding="same")
    dz = dy * (1 - np.tanh(z) ** 2)
    close(dx, conv_backward_data(dz, depthwise_as_grouped(k), x.shape, 1, "same", 1, 16), atol=1e-3)
    rk, rb = conv_backward_filter(x, dz, (3, 3), 1, "same", 1, 16)
    close(dk, rk.reshape(k.shape), atol=1e-3)
    close(db, rb, atol=1e-3)


@pytest.mark.parametrize("mult,stride", [(1, 1), (1, 2), (3, 1)])
def test_depthwise_and_separable_threads_bitwise_identical(isa, mult, stride):
    x, k, pk = rand((4, 40, 36, 33), 17), rand((3, 3, 33, mult), 18), rand((1, 1, 33 * mult, 40), 19)
    b = rand(33 * mult, 20)
    res = []
    for threads in (1, 2):
        config.set_num_threads(threads)
        y = conv.depthwise_forward(x, k, b, stride, "same", activation=1)
        dy = rand(y.shape, 21)
        grads = conv.depthwise_backward(x, k, dy, stride, "same")
        ys = conv.separable_forward(x, k, pk, None, stride, "same")
        sgrads = conv.separable_backward(x, k, pk, rand(ys.shape, 22), stride, "same")
        res.append((y,) + tuple(grads) + (ys,) + tuple(sgrads))
    for a, c in zip(*res):
        np.testing.assert_array_equal(a, c)

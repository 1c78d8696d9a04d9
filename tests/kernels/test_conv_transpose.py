"""Conv*Transpose (kernel (*k, out, in), Keras's output-shape arithmetic and output_padding)
against a float64 scatter reference, with gradients checked through the adjoint identities."""
import numpy as np
import pytest

from pykeras import _core, config
from test_conv_reference import activation, conv_transpose_forward, transpose_geometry

conv = _core.conv


def rand(shape, seed):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def _draw(count, seed):
    rng = np.random.default_rng(seed)
    cases = []
    while len(cases) < count:
        nd = int(rng.choice([1, 2, 2, 3]))
        ks = tuple(int(rng.choice([1, 2, 3, 4, 5] if nd < 3 else [1, 2, 3])) for _ in range(nd))
        strides = tuple(int(rng.choice([1, 2, 3])) for _ in range(nd))
        dil = tuple(int(rng.choice([1, 1, 2])) for _ in range(nd))
        sizes = tuple(int(rng.choice([1, 2, 3, 5, 7] if nd < 3 else [1, 2, 3])) for _ in range(nd))
        padding = "same" if rng.integers(2) else "valid"
        op = None if rng.integers(2) else tuple(int(rng.integers(0, s)) for s in strides)
        cin = int(rng.choice([1, 3, 16, 17]))
        cout = int(rng.choice([1, 2, 15, 16, 33]))
        outs, _ = transpose_geometry(sizes, ks, strides, dil, padding, op)
        if min(outs) < 1:
            continue
        cases.append(((int(rng.choice([1, 2])),) + sizes + (cin,), ks + (cout, cin), strides, padding, op, dil))
    return cases


CASES = _draw(30, seed=5) + [
    ((2, 7, 7, 32), (3, 3, 16, 32), (2, 2), "same", None, (1, 1)),   # a typical decoder upsampling
    ((1, 4, 4, 8), (4, 4, 3, 8), (2, 2), "same", (1, 1), (1, 1)),
    ((1, 6, 5), (3, 7, 5), (3,), "valid", (2,), (1,)),
    ((1, 3, 40, 8), (3, 3, 3, 8), (2, 2), "same", None, (1, 1)),   # a decoder's RGB output layer
]


def _ids(c):
    return f"x{c[0]}-k{c[1]}-s{c[2]}-{c[3]}-op{c[4]}-d{c[5]}".replace(" ", "")


def close(got, ref, atol):
    scale = max(1.0, float(np.max(np.abs(ref))))
    np.testing.assert_allclose(got, ref, rtol=1e-4, atol=atol * scale)


@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_transpose_forward_and_gradients(isa, case):
    xs, ks, strides, padding, op, dil = case
    x, k, b = rand(xs, 1), rand(ks, 2), rand(ks[-2], 3)
    shape = conv.conv_transpose_output_shape(xs, ks, strides, padding, op, dil)
    y = conv.conv_transpose_forward(x, k, b, strides, padding, op, dil, activation=1)
    ref = conv_transpose_forward(x, k, b, strides, padding, op, dil)
    assert y.shape == shape == ref.shape
    close(y, activation(ref, 1), 1e-5 * np.sqrt(np.prod(ks)))

    # L = <w, T(x, k)> is bilinear: dL/dx = T^T(w) in x's shape, checked by <dx, e> = <w, T(e, k)>
    # for random directions e, and likewise for the kernel; dL/db = sum of w over pixels.
    w = rand(shape, 4)
    dx, dk, db = conv.conv_transpose_backward(x, k, w, strides, padding, op, dil)
    for seed in (5, 6):
        e = np.random.default_rng(seed).standard_normal(xs)
        lhs = float(np.sum(dx * e))
        rhs = float(np.sum(w * conv_transpose_forward(e, k, None, strides, padding, op, dil)))
        assert abs(lhs - rhs) <= 1e-4 * (1 + abs(rhs)) * np.sqrt(w.size)
        ek = np.random.default_rng(seed + 10).standard_normal(ks)
        lhs = float(np.sum(dk * ek))
        rhs = float(np.sum(w * conv_transpose_forward(x, ek, None, strides, padding, op, dil)))
        assert abs(lhs - rhs) <= 1e-4 * (1 + abs(rhs)) * np.sqrt(w.size)
    close(db, w.reshape(-1, ks[-2]).sum(0), 1e-5 * np.sqrt(w.size))


def test_transpose_backward_through_activation(isa):
    x, k, b = rand((2, 4, 5, 6), 7), rand((3, 3, 5, 6), 8), rand(5, 9)
    y = conv.conv_transpose_forward(x, k, b, 2, "same", activation=1)
    dy = rand(y.shape, 10)
    dx, dk, db = conv.conv_transpose_backward(x, k, dy, 2, "same", y=y, activation=1)
    dx0, dk0, db0 = conv.conv_transpose_backward(x, k, np.where(y > 0, dy, 0).astype(np.float32), 2, "same")
    np.testing.assert_array_equal(dx, dx0)
    np.testing.assert_array_equal(dk, dk0)
    np.testing.assert_array_equal(db, db0)


def test_transpose_threads_bitwise_identical(isa):
    x, k, b = rand((4, 20, 20, 32), 11), rand((3, 3, 16, 32), 12), rand(16, 13)
    res = []
    for threads in (1, 2):
        config.set_num_threads(threads)
        y = conv.conv_transpose_forward(x, k, b, 2, "same")
        res.append((y,) + tuple(conv.conv_transpose_backward(x, k, rand(y.shape, 14), 2, "same")))
    for a, c in zip(*res):
        np.testing.assert_array_equal(a, c)

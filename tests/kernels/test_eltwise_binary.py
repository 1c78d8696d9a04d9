"""Binary operations with numpy broadcasting, their gradients, broadcast_to / reduce_to_shape and PReLU.

Forward results must equal numpy's float32 results (the operations are correctly rounded; power
goes through libm's powf); gradients are compared with float64 formulas reduced over the
broadcast axes with numpy, and with central finite differences on small cases.
"""
import numpy as np
import pytest

from pykeras import _core, config

E = _core.eltwise

# (shape_a, shape_b): same shape, scalar either side, row, column, middle axis, both sides,
# size-1 dims, higher rank, empty, sizes around the vector widths and past the thread grain.
PATTERNS = [
    ((7,), (7,)), ((16,), (16,)), ((17,), ()), ((), (33,)), ((5, 9), (9,)), ((5, 9), (5, 1)),
    ((4, 6, 5), (1, 6, 1)), ((8, 1), (1, 15)), ((1, 16, 1), (3, 1, 7)), ((2, 1, 3, 1, 5), (4, 1, 6, 1)),
    ((0, 3), (3,)), ((1,), (1,)), ((), ()), ((300, 257), (257,)), ((257, 300), (257, 1)), ((3, 70001), (3, 1)),
    ((9, 8, 7, 6), (9, 1, 7, 1)),
]
PATTERN_IDS = [f"{a}+{b}" for a, b in PATTERNS]
ARITH = ["add", "subtract", "multiply", "divide", "maximum", "minimum", "power", "prelu"]
COMPARE = ["equal", "not_equal", "less", "less_equal", "greater", "greater_equal"]


def rand(shape, seed=0, positive=False):
    x = np.random.default_rng(seed).standard_normal(shape).astype(np.float32)
    if positive:
        x = np.asarray(np.abs(x) + np.float32(0.5), np.float32)
    # A few exact ties for the comparisons and max/min.
    flat = x.reshape(-1)
    flat[::7] = np.float32(0.5)
    return x


def numpy_binary(op, a, b):
    if op == "prelu":
        return np.where(a > 0, a, b * a)
    return getattr(np, op)(a, b)


def unbroadcast(g, shape):
    """Sum g (float64) over the axes along which `shape` was broadcast."""
    lead = g.ndim - len(shape)
    g = g.sum(axis=tuple(range(lead)))
    axes = tuple(i for i, d in enumerate(shape) if d == 1 and g.shape[i] != 1)
    return g.sum(axis=axes, keepdims=True).reshape(shape)


def grads64(op, a, b, dy):
    a, b, dy = (v.astype(np.float64) for v in (a, b, dy))
    a, b = np.broadcast_arrays(a, b)
    if op == "add":
        return dy, dy
    if op == "subtract":
        return dy, -dy
    if op == "multiply":
        return dy * b, dy * a
    if op == "divide":
        return dy / b, -dy * a / b**2
    if op in ("maximum", "minimum"):
        wins = a > b if op == "maximum" else a < b
        tie = a == b
        return dy * np.where(wins, 1, np.where(tie, 0.5, 0)), dy * np.where(~wins & ~tie, 1, np.where(tie, 0.5, 0))
    if op == "power":
        return dy * b * a ** (b - 1), dy * a**b * np.log(a)
    return dy * np.where(a > 0, 1, b), dy * np.where(a > 0, 0, a)  # prelu


@pytest.mark.parametrize("op", ARITH + COMPARE)
@pytest.mark.parametrize("sa, sb", PATTERNS, ids=PATTERN_IDS)
def test_forward_matches_numpy(isa, threads, op, sa, sb):
    a = rand(sa, 1, positive=op == "power")
    b = rand(sb, 2)
    y = E.binary(op, a, b)
    expected = numpy_binary(op, a, b)
    assert y.shape == expected.shape and y.dtype == expected.dtype
    if op == "power":
        np.testing.assert_allclose(y, expected, rtol=2e-7)
    else:
        np.testing.assert_array_equal(y, expected)


@pytest.mark.parametrize("op", ARITH)
@pytest.mark.parametrize("sa, sb", PATTERNS, ids=PATTERN_IDS)
def test_backward_matches_reference(isa, threads, op, sa, sb):
    a = rand(sa, 3, positive=op == "power")
    b = rand(sb, 4, positive=op in ("divide",))
    if op == "power":
        b = np.clip(b, -2, 2)
    out_shape = np.broadcast_shapes(sa, sb)
    dy = rand(out_shape, 5)
    da, db = E.binary_backward(op, a, b, dy)
    ga, gb = grads64(op, a, b, dy)
    assert da.shape == a.shape and db.shape == b.shape
    np.testing.assert_allclose(da, unbroadcast(ga, sa), rtol=2e-5, atol=2e-5)
    np.testing.assert_allclose(db, unbroadcast(gb, sb), rtol=2e-5, atol=2e-5)
    only_a = E.binary_backward(op, a, b, dy, need_b=False)
    assert only_a[1] is None
    np.testing.assert_array_equal(only_a[0], da)


@pytest.mark.parametrize("op", ARITH)
def test_backward_matches_finite_differences(isa, op):
    rng = np.random.default_rng(6)
    a = (rng.random((3, 4)) + 0.5) if op in ("power",) else rng.standard_normal((3, 4))
    b = rng.random((4,)) + 0.5 if op in ("divide", "power") else rng.standard_normal((4,))
    dy = rng.standard_normal((3, 4))
    da, db = E.binary_backward(op, a.astype(np.float32), b.astype(np.float32), dy.astype(np.float32))

    def loss(a_, b_):
        return (numpy_binary(op, a_, b_) * dy).sum()

    for x, g in ((a, da), (b, db)):
        fd = np.zeros_like(x)
        for idx in np.ndindex(x.shape):
            xp, xm = x.copy(), x.copy()
            xp[idx] += 1e-6
            xm[idx] -= 1e-6
            fd[idx] = ((loss(xp, b) - loss(xm, b)) if x is a else (loss(a, xp) - loss(a, xm))) / 2e-6
        np.testing.assert_allclose(g, fd, rtol=1e-4, atol=1e-5)


def test_nan_and_infinity_follow_numpy(isa):
    a = np.array([np.nan, 1.0, np.nan, np.inf, -np.inf, 0.0, -0.0, 2.0], np.float32)
    b = np.array([1.0, np.nan, np.nan, np.inf, np.inf, -0.0, 0.0, np.inf], np.float32)
    for op in ["add", "subtract", "multiply", "divide", "maximum", "minimum"] + COMPARE:
        with np.errstate(all="ignore"):
            np.testing.assert_array_equal(E.binary(op, a, b), numpy_binary(op, a, b), err_msg=op)
    with np.errstate(all="ignore"):
        np.testing.assert_array_equal(E.binary("divide", np.float32(1.0), np.zeros(3, np.float32)), [np.inf] * 3)


def test_python_numbers_as_operands(isa):
    a = rand((5, 7), 7)
    np.testing.assert_array_equal(E.binary("multiply", a, 2.5), a * np.float32(2.5))
    np.testing.assert_array_equal(E.binary("subtract", 1, a), np.float32(1) - a)
    np.testing.assert_array_equal(E.binary("power", np.abs(a), 2.0), np.abs(a) ** 2)
    assert E.binary("add", 1.0, 2.0).shape == ()
    da, db = E.binary_backward("multiply", a, 3.0, np.ones_like(a))
    np.testing.assert_array_equal(da, np.full_like(a, 3.0))
    assert db.shape == () and np.isclose(db, a.astype(np.float64).sum(), rtol=1e-5)


def test_binary_backward_bits_do_not_depend_on_threads():
    a, b, dy = rand((40000, 64), 8), rand((64,), 9), rand((40000, 64), 10)
    results = []
    for t in (1, 2):
        config.set_num_threads(t)
        results.append(E.binary_backward("multiply", a, b, dy) + (E.binary("maximum", a, b),))
    for x, y in zip(*results):
        np.testing.assert_array_equal(x, y)


def test_out_argument(isa):
    a, b = rand((6, 5), 11), rand((5,), 12)
    out = np.empty((6, 5), np.float32)
    assert E.binary("add", a, b, out=out) is out
    np.testing.assert_array_equal(out, a + b)
    expected = a * b
    E.binary("multiply", a, b, out=a)  # in place on the full-shape operand
    np.testing.assert_array_equal(a, expected)
    mask = np.empty((6, 5), bool)
    assert E.binary("less", out, b, out=mask) is mask
    np.testing.assert_array_equal(mask, out < b)
    with pytest.raises(TypeError, match="bool"):
        E.binary("less", out, b, out=np.empty((6, 5), np.float32))


def test_argument_errors():
    a = np.ones((2, 3), np.float32)
    with pytest.raises(ValueError, match=r"could not be broadcast together with shapes \(2, 3\) and \(2,\)"):
        E.binary("add", a, np.ones(2, np.float32))
    with pytest.raises(ValueError, match="unknown binary op 'pow'"):
        E.binary("pow", a, a)
    with pytest.raises(TypeError, match="float32"):
        E.binary("add", a, np.ones(3))
    with pytest.raises(ValueError, match="has no gradient"):
        E.binary_backward("less", a, a, a)
    with pytest.raises(ValueError, match="'dy' has shape"):
        E.binary_backward("add", a, a, np.ones((3, 2), np.float32))


# ----------------------------------------------------------------------------- broadcast helpers

@pytest.mark.parametrize("src, dst", [((3,), (4, 3)), ((4, 1), (4, 5)), ((), (2, 3)), ((1, 6, 1), (2, 6, 7)),
                                      ((5,), (5,)), ((1,), (0, 1)), ((3, 1), (2, 3, 40000))])
def test_broadcast_to_and_reduce_to_shape(isa, threads, src, dst):
    x = rand(src, 13)
    y = E.broadcast_to(x, dst)
    np.testing.assert_array_equal(y, np.broadcast_to(x, dst))
    g = rand(dst, 14)
    r = E.reduce_to_shape(g, src)
    assert r.shape == src
    np.testing.assert_allclose(r, unbroadcast(g.astype(np.float64), src), rtol=1e-5, atol=1e-5)


def test_broadcast_helpers_reject_bad_shapes():
    with pytest.raises(ValueError, match="cannot broadcast"):
        E.broadcast_to(np.ones(3, np.float32), (4, 2))
    with pytest.raises(ValueError, match="does not broadcast"):
        E.reduce_to_shape(np.ones((4, 3), np.float32), (2, 3))


# ----------------------------------------------------------------------------- PReLU

@pytest.mark.parametrize("x_shape, alpha_shape", [((8, 5, 5, 3), (5, 5, 3)), ((8, 5, 5, 3), (1, 1, 3)),
                                                  ((8, 5, 5, 3), (5, 1, 1)), ((16, 17), (17,)), ((4, 10), (1,))])
def test_prelu_forward_and_backward_with_shared_axes(isa, threads, x_shape, alpha_shape):
    x = rand(x_shape, 15)
    alpha = (np.random.default_rng(16).random(alpha_shape) * 0.5).astype(np.float32)
    y = E.prelu(x, alpha)
    # Keras: relu(x) - alpha * relu(-x)
    np.testing.assert_array_equal(y, np.maximum(x, 0) - alpha * np.maximum(-x, 0))
    dy = rand(x_shape, 17)
    dx, dalpha = E.prelu_backward(x, alpha, dy)
    np.testing.assert_allclose(dx, np.where(x > 0, dy, alpha * dy), rtol=1e-6)
    expected = unbroadcast((dy * np.minimum(x, 0)).astype(np.float64), alpha_shape)
    np.testing.assert_allclose(dalpha, expected, rtol=1e-5, atol=1e-5)

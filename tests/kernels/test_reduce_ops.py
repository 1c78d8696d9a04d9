"""Reductions over any set of axes (sum, mean, max, min, prod, var, std, logsumexp, argmax, argmin)
and their gradients, against float64 numpy; 1 vs 2 threads must give the same bits."""
import numpy as np
import pytest
from scipy.special import logsumexp as logsumexp64

from pykeras import _core, config

E = _core.eltwise
OPS = ["sum", "mean", "max", "min", "prod", "var", "std", "logsumexp"]

# (shape, axis): rows, columns, middle axes, interleaved groups (transposed), size-1 dims,
# sizes around the vector widths, past one superblock (32768 elements), and empty arrays.
CASES = [
    ((7,), None), ((1,), 0), ((16,), 0), ((17,), -1), ((3, 17), 1), ((3, 17), 0), ((16, 8), None),
    ((5, 1, 9), (0, 2)), ((5, 1, 9), 1), ((4, 6, 10), 1), ((4, 6, 10), (0, 2)), ((4, 6, 10), (0, 1)),
    ((4, 6, 10), (1, 2)), ((2, 3, 4, 5), (0, 2)), ((2, 3, 4, 5), (1, 3)), ((3, 100003), -1), ((70001, 3), 0),
    ((2, 40000, 33), 1), ((300007,), None), ((6, 0), 0), ((0, 6), 1), ((4, 6, 10), ()),
]
CASE_IDS = [f"{s}-{a}" for s, a in CASES]


def rand(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def inputs(op, shape, seed=0):
    x = rand(shape, seed)
    if op == "prod":  # keep products of many factors in range
        x = (1 + 0.01 * x).astype(np.float32)
    return x


def reference(op, x, axis, keepdims=False):
    x = x.astype(np.float64)
    if op == "logsumexp":
        with np.errstate(all="ignore"):
            return logsumexp64(x, axis=axis, keepdims=keepdims)
    return getattr(np, op)(x, axis=axis, keepdims=keepdims)


def tolerance(op, x, axis):
    """Absolute tolerance per output: float32 blocked summation error bound (generous constant)."""
    if op in ("max", "min"):
        return 0.0
    scale = np.abs(x.astype(np.float64)).sum(axis=axis) if x.size else 0
    if op == "mean":
        n = x.size // max(1, np.asarray(scale).size)
        scale = scale / max(n, 1)
    return 1e-6 * np.max(scale, initial=1.0) + 1e-6


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("shape, axis", CASES, ids=CASE_IDS)
def test_forward_matches_numpy(isa, threads, op, shape, axis):
    x = inputs(op, shape)
    try:
        with np.errstate(all="ignore"):
            reference(op, x, axis)
    except ValueError:  # numpy: max/min of an empty axis has no identity
        with pytest.raises(ValueError, match="zero-size"):
            E.reduce(op, x, axis=axis)
        return
    for keepdims in (False, True):
        with np.errstate(all="ignore"):
            expected = reference(op, x, axis, keepdims)
        y = E.reduce(op, x, axis=axis, keepdims=keepdims)
        assert y.shape == np.shape(expected) and y.dtype == np.float32
        if op in ("var", "std", "prod"):
            np.testing.assert_allclose(y, expected, rtol=2e-5, atol=1e-6)
        elif op in ("max", "min"):
            np.testing.assert_array_equal(y, np.asarray(expected, np.float32))
        else:
            np.testing.assert_allclose(y, expected, rtol=1e-6, atol=tolerance(op, x, axis))


def test_summation_is_accurate_for_long_rows(isa):
    # A naive float32 running sum of 2^22 ones plus noise drifts by ~1e-3 relative; blocks do not.
    x = (1 + 1e-3 * rand((1 << 22,), 1)).astype(np.float32)
    y = E.reduce("sum", x)
    assert abs(float(y) - x.astype(np.float64).sum()) / x.size < 2e-7
    # Columns of 2^18 rows: a running sum would be off by ~1e-5 relative; a few ulp here.
    col = np.ascontiguousarray(x.reshape(-1, 16))
    np.testing.assert_allclose(E.reduce("sum", col, axis=0), col.astype(np.float64).sum(0), rtol=1e-6)


@pytest.mark.parametrize("op", OPS)
def test_special_values(isa, op):
    x = np.array([[1.0, np.nan, 2.0], [np.inf, 1.0, 2.0], [-np.inf, -np.inf, -np.inf], [1e30, 2e30, 3.0],
                  [-np.inf, 0.0, np.inf]], np.float32)
    if op in ("var", "std", "prod"):
        x = x[[0, 1, 2, 4]]  # squares/products of 1e30 overflow float32 (as in numpy's float32)
    with np.errstate(all="ignore"):
        expected = reference(op, x, 1).astype(np.float32)
    y = E.reduce(op, x, axis=1)
    np.testing.assert_allclose(y, expected, rtol=1e-6, equal_nan=True)
    yc = E.reduce(op, np.ascontiguousarray(x.T), axis=0)
    np.testing.assert_allclose(yc, y, rtol=1e-6, equal_nan=True)


@pytest.mark.parametrize("fn", ["argmax", "argmin"])
@pytest.mark.parametrize("shape, axis", [((7,), None), ((17,), 0), ((5, 9), 0), ((5, 9), 1), ((4, 6, 10), 1),
                                         ((3, 100003), 1), ((70001, 3), 0), ((3, 4, 5), None)])
def test_arg_reductions(isa, threads, fn, shape, axis):
    x = np.round(rand(shape, 2) * 4)  # many ties: the first one wins
    y = getattr(E, fn)(x, axis=axis)
    expected = getattr(np, fn)(x, axis=axis)
    assert y.dtype == np.int64 and y.shape == np.shape(expected)
    np.testing.assert_array_equal(y, expected)
    yk = getattr(E, fn)(x, axis=axis, keepdims=True)
    np.testing.assert_array_equal(yk, getattr(np, fn)(x, axis=axis, keepdims=True))


def test_arg_reductions_with_nan(isa):
    x = np.array([[1.0, np.nan, 5.0, np.nan], [3.0, 3.0, -1.0, -1.0]], np.float32)
    np.testing.assert_array_equal(E.argmax(x, axis=1), np.argmax(x, axis=1))
    np.testing.assert_array_equal(E.argmin(x, axis=1), np.argmin(x, axis=1))
    np.testing.assert_array_equal(E.argmax(np.ascontiguousarray(x.T), axis=0), np.argmax(x, axis=1))
    with pytest.raises(ValueError, match="empty"):
        E.argmax(np.ones((3, 0), np.float32), axis=1)


# ----------------------------------------------------------------------------- backward

def grad64(op, x, axis, dy):
    """d/dx of sum(dy * reduce(op, x, axis, keepdims=True)) in float64."""
    x = x.astype(np.float64)
    dy = dy.astype(np.float64)
    n = x.size // max(1, dy.size)
    if op == "sum":
        return np.broadcast_to(dy, x.shape)
    if op == "mean":
        return np.broadcast_to(dy / n, x.shape)
    if op in ("max", "min"):
        r = getattr(np, op)(x, axis=axis, keepdims=True)
        eq = x == r
        return dy * eq / eq.sum(axis=axis, keepdims=True)
    if op == "prod":
        if np.all(x != 0):
            return dy * np.prod(x, axis=axis, keepdims=True) / x
        out = np.empty_like(x)
        for idx in np.ndindex(x.shape):
            xi = x.copy()
            xi[idx] = 1.0
            out[idx] = np.broadcast_to(dy * np.prod(xi, axis=axis, keepdims=True), x.shape)[idx]
        return out
    m = x.mean(axis=axis, keepdims=True)
    if op == "var":
        return dy * 2 * (x - m) / n
    if op == "std":
        return dy * (x - m) / (n * x.std(axis=axis, keepdims=True))
    lse = logsumexp64(x, axis=axis, keepdims=True)
    return dy * np.exp(x - lse)


BWD_CASES = [((7,), None), ((17,), 0), ((3, 17), 1), ((3, 17), 0), ((4, 6, 10), 1), ((4, 6, 10), (0, 2)),
             ((2, 3, 4, 5), (1, 3)), ((3, 40009), 1), ((40009, 3), 0), ((5, 1, 9), (0, 1))]


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("shape, axis", BWD_CASES, ids=[f"{s}-{a}" for s, a in BWD_CASES])
def test_backward_matches_reference(isa, threads, op, shape, axis):
    x = inputs(op, shape, 3)
    if op in ("max", "min"):
        x = np.round(x * 2) / 2  # ties
    y = E.reduce(op, x, axis=axis, keepdims=True)
    dy = rand(y.shape, 4)
    dx = E.reduce_backward(op, x, y, dy, axis=axis, keepdims=True)
    np.testing.assert_allclose(dx, grad64(op, x, axis, dy), rtol=2e-5, atol=2e-6)
    # y and dy may come without the kept dims.
    y2 = E.reduce(op, x, axis=axis)
    dx2 = E.reduce_backward(op, x, y2, dy.reshape(y2.shape), axis=axis)
    np.testing.assert_array_equal(dx2, dx)


def test_prod_backward_with_zeros(isa):
    x = np.array([[2.0, 0.0, 3.0, 4.0], [0.0, 5.0, 0.0, 1.0], [1.5, 2.0, -1.0, 0.5]], np.float32)
    y = E.reduce("prod", x, axis=1)
    dx = E.reduce_backward("prod", x, y, np.ones(3, np.float32), axis=1)
    np.testing.assert_array_equal(dx, [[0, 24, 0, 0], [0, 0, 0, 0], [-1, -0.75, 1.5, -3]])


def test_backward_of_special_rows(isa):
    x = np.array([[1.0, 1.0, -2.0], [np.inf, 0.0, np.inf], [5.0, 5.0, 5.0]], np.float32)
    ones = np.ones(3, np.float32)
    dmax = E.reduce_backward("max", x, E.reduce("max", x, axis=1), ones, axis=1)
    np.testing.assert_allclose(dmax, [[0.5, 0.5, 0], [0.5, 0, 0.5], [1 / 3, 1 / 3, 1 / 3]], rtol=1e-7)
    dlse = E.reduce_backward("logsumexp", x, E.reduce("logsumexp", x, axis=1), ones, axis=1)
    np.testing.assert_allclose(dlse[1], [0.5, 0, 0.5])
    np.testing.assert_allclose(dlse[2], [1 / 3] * 3, rtol=1e-6)
    dstd = E.reduce_backward("std", x[2:], E.reduce("std", x[2:], axis=1), ones[:1], axis=1)
    np.testing.assert_array_equal(dstd, [[0, 0, 0]])


@pytest.mark.parametrize("op", ["var", "std", "logsumexp", "prod"])
def test_backward_matches_finite_differences(isa, op):
    x = inputs(op, (3, 7), 5).astype(np.float64)
    dy = rand((3,), 6).astype(np.float64)
    y = E.reduce(op, x.astype(np.float32), axis=1)
    dx = E.reduce_backward(op, x.astype(np.float32), y, dy.astype(np.float32), axis=1)
    fd = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        xp, xm = x.copy(), x.copy()
        xp[idx] += 1e-6
        xm[idx] -= 1e-6
        fd[idx] = ((reference(op, xp, 1) - reference(op, xm, 1)) * dy).sum() / 2e-6
    np.testing.assert_allclose(dx, fd, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("shape, axis", [((3, 300007), 1), ((100003, 40), 0), ((4, 30011, 17), 1), ((600011,), None),
                                         ((20, 3000, 7), (0, 2))])
def test_bits_do_not_depend_on_threads(isa, shape, axis):
    x = rand(shape, 7)
    dy_shape = E.reduce("sum", x, axis=axis, keepdims=True).shape
    dy = rand(dy_shape, 8)
    results = []
    for t in (1, 2):
        config.set_num_threads(t)
        r = []
        for op in OPS:
            y = E.reduce(op, x, axis=axis, keepdims=True)
            r += [y, E.reduce_backward(op, x, y, dy, axis=axis, keepdims=True)]
        if not isinstance(axis, tuple):
            r.append(E.argmax(x, axis=axis))
        results.append(r)
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)


def test_argument_errors():
    x = np.ones((2, 3), np.float32)
    with pytest.raises(ValueError, match="unknown reduction 'median'"):
        E.reduce("median", x)
    with pytest.raises(ValueError, match="axis 2 is out of range"):
        E.reduce("sum", x, axis=2)
    with pytest.raises(ValueError, match="repeated"):
        E.reduce("sum", x, axis=(1, -1))
    with pytest.raises(TypeError, match="axis"):
        E.reduce("sum", x, axis="1")
    with pytest.raises(ValueError, match="zero-size"):
        E.reduce("max", np.ones((2, 0), np.float32), axis=1)
    with pytest.raises(ValueError, match="'dy' has shape"):
        E.reduce_backward("sum", x, np.ones(2, np.float32), np.ones(3, np.float32), axis=1)
    with pytest.raises(TypeError, match="float32"):
        E.reduce("sum", np.ones(3))

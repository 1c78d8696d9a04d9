"""Windowed max/average pooling kernels (pykeras._core.pool) against float64 numpy references.

The references follow Keras/TensorFlow: 'same' gives out = ceil(in / stride) with
pad_before = pad_total // 2, padded positions never win a max, and an average divides by the
number of real elements in its window. Max gradients go to the first maximum of each window
in scan order (depth, row, column).
"""
import itertools

import numpy as np
import pytest

from pykeras import _core, config

P = _core.pool


# ----------------------------------------------------------------------------- references
def ref_geometry(in_sizes, pool, strides, padding):
    """Per spatial dimension: (out, pad_before)."""
    dims = []
    for n, k, s in zip(in_sizes, pool, strides):
        if padding == "same":
            out = -(-n // s)
            pad = max((out - 1) * s + k - n, 0) // 2
        else:
            out = (n - k) // s + 1
            pad = 0
        dims.append((out, pad))
    return dims


def ref_windows(in_sizes, pool, strides, padding):
    """Yields (output index, tuple of slices of the real input elements in its window)."""
    dims = ref_geometry(in_sizes, pool, strides, padding)
    for idx in itertools.product(*[range(out) for out, _ in dims]):
        slices = []
        for o, (out, pad), k, s, n in zip(idx, dims, pool, strides, in_sizes):
            lo = o * s - pad
            slices.append(slice(max(lo, 0), min(lo + k, n)))
        yield idx, tuple(slices)


def ref_forward(x, pool, strides, padding, op):
    x = x.astype(np.float64)
    dims = ref_geometry(x.shape[1:-1], pool, strides, padding)
    y = np.zeros((x.shape[0],) + tuple(out for out, _ in dims) + (x.shape[-1],))
    axes = tuple(range(1, x.ndim - 1))
    for idx, sl in ref_windows(x.shape[1:-1], pool, strides, padding):
        win = x[(slice(None),) + sl + (slice(None),)]
        y[(slice(None),) + idx + (slice(None),)] = win.max(axis=axes) if op == "max" else win.mean(axis=axes)
    return y


def ref_backward(x, dy, pool, strides, padding, op):
    dx = np.zeros(x.shape)
    dy = dy.astype(np.float64)
    n, c = x.shape[0], x.shape[-1]
    for idx, sl in ref_windows(x.shape[1:-1], pool, strides, padding):
        g = dy[(slice(None),) + idx + (slice(None),)]  # (n, c)
        region = (slice(None),) + sl + (slice(None),)
        win = x[region]
        if op == "avg":
            dx[region] += g.reshape((n,) + (1,) * len(sl) + (c,)) / np.prod(win.shape[1:-1])
        else:
            flat = win.reshape(n, -1, c)
            first = flat.argmax(axis=1)  # argmax returns the first maximum in C (scan) order
            contrib = np.zeros(flat.shape)
            contrib[np.arange(n)[:, None], first, np.arange(c)[None, :]] = g
            dx[region] += contrib.reshape(win.shape)
    return dx


def rand(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def as_tuple(v, rank):
    return (v,) * rank if isinstance(v, int) else tuple(v)


# ----------------------------------------------------------------------------- cases
# (input shape, pool_size, strides, padding): ranks 1-3, pools equal to / different from the
# strides (overlapping and gapped windows), pools larger than the input with 'same', batch 1,
# spatial 1, primes, and channel counts around the vector widths (1, 7, 15, 16, 17, 33, 64).
CASES = [
    ((2, 9, 16), 2, None, "valid"),
    ((1, 7, 17), 3, 2, "same"),
    ((3, 1, 5), 1, None, "valid"),
    ((2, 11, 33), 4, 3, "same"),
    ((2, 10, 3), 2, 3, "valid"),  # stride > pool: gaps
    ((2, 4, 4, 16), 2, None, "valid"),
    ((1, 5, 7, 15), 2, None, "same"),
    ((2, 7, 5, 17), 3, 2, "same"),
    ((2, 7, 5, 17), 3, 2, "valid"),
    ((1, 6, 6, 1), 3, 1, "same"),
    ((2, 5, 5, 33), (2, 3), (1, 2), "valid"),
    ((1, 3, 2, 7), 5, 1, "same"),  # pool larger than the input
    ((3, 8, 9, 64), 2, None, "valid"),
    ((2, 13, 11, 8), (3, 3), (2, 2), "same"),
    ((1, 1, 1, 16), 1, None, "valid"),
    ((2, 9, 8, 5), (2, 2), (3, 3), "same"),
    ((2, 4, 4, 4, 3), 2, None, "valid"),
    ((1, 5, 6, 7, 17), 3, 2, "same"),
    ((2, 3, 5, 4, 16), (1, 2, 3), (1, 1, 2), "valid"),
    ((1, 4, 3, 5, 33), 2, 1, "same"),
]


def case_id(case):
    shape, pool, strides, padding = case
    return f"{'x'.join(map(str, shape))}-p{pool}-s{strides}-{padding}"


@pytest.mark.parametrize("case", CASES, ids=case_id)
@pytest.mark.parametrize("op", ["max", "avg"])
def test_forward_matches_reference(isa, threads, case, op):
    shape, pool, strides, padding = case
    rank = len(shape) - 2
    x = rand(shape, 1)
    fn = P.max_pool if op == "max" else P.avg_pool
    y = fn(x, pool, strides, padding)
    k = as_tuple(pool, rank)
    s = k if strides is None else as_tuple(strides, rank)
    expected = ref_forward(x, k, s, padding, op)
    assert y.shape == expected.shape == P.output_shape(shape, pool, strides, padding)
    if op == "max":
        np.testing.assert_array_equal(y, expected.astype(np.float32))
    else:
        np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("case", CASES, ids=case_id)
@pytest.mark.parametrize("op", ["max", "avg"])
def test_backward_matches_reference(isa, threads, case, op):
    shape, pool, strides, padding = case
    rank = len(shape) - 2
    x = rand(shape, 2)
    k = as_tuple(pool, rank)
    s = k if strides is None else as_tuple(strides, rank)
    dy = rand(P.output_shape(shape, pool, strides, padding), 3)
    if op == "max":
        dx = P.max_pool_backward(x, dy, pool, strides, padding)
    else:
        dx = P.avg_pool_backward(dy, shape, pool, strides, padding)
    assert dx.shape == x.shape and dx.dtype == np.float32
    np.testing.assert_allclose(dx, ref_backward(x, dy, k, s, padding, op), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("case", [CASES[1], CASES[7], CASES[11], CASES[17]], ids=case_id)
@pytest.mark.parametrize("op", ["max", "avg"])
def test_backward_matches_finite_differences(isa, case, op):
    # Distinct values spaced 1 apart (centred to keep float32 rounding small) so that a step of
    # 0.4 never changes which element wins a max; pooling is piecewise linear, so the central
    # difference is exact up to rounding.
    shape, pool, strides, padding = case
    rng = np.random.default_rng(4)
    size = int(np.prod(shape))
    x = (rng.permutation(size) - size // 2).reshape(shape).astype(np.float32)
    dy = rand(P.output_shape(shape, pool, strides, padding), 5).astype(np.float64)
    fwd = P.max_pool if op == "max" else P.avg_pool

    def loss(v):
        return float(np.sum(dy * fwd(v.astype(np.float32), pool, strides, padding).astype(np.float64)))

    eps = 0.4
    numeric = np.zeros(shape)
    for i in np.ndindex(*shape):
        xp, xm = x.astype(np.float64), x.astype(np.float64)
        xp[i] += eps
        xm[i] -= eps
        numeric[i] = (loss(xp) - loss(xm)) / (2 * eps)
    dyf = dy.astype(np.float32)
    if op == "max":
        dx = P.max_pool_backward(x, dyf, pool, strides, padding)
    else:
        dx = P.avg_pool_backward(dyf, shape, pool, strides, padding)
    np.testing.assert_allclose(dx, numeric, rtol=1e-3, atol=5e-4)


@pytest.mark.parametrize("strides", [None, 1])
def test_max_ties_go_to_first_element_in_scan_order(isa, strides):
    x = np.zeros((1, 4, 4, 17), np.float32)  # every window is a tie
    dy = np.ones(P.output_shape(x.shape, 2, strides, "valid"), np.float32)
    dx = P.max_pool_backward(x, dy, 2, strides, "valid")
    expected = np.zeros(x.shape)
    for oh, ow in np.ndindex(*dy.shape[1:3]):
        s = 2 if strides is None else 1
        expected[0, oh * s, ow * s, :] += 1
    np.testing.assert_array_equal(dx, expected)


@pytest.mark.parametrize("shape,pool,strides", [((1, 42, 39, 20), 3, 1), ((2, 31, 30, 16), (3, 2), (2, 1))])
def test_max_ties_across_thread_row_splits(isa, shape, pool, strides):
    # Values in {0, 1}: nearly every overlapping window has tied maxima, some of them in rows
    # owned by different threads; the first occurrence must win for any thread count.
    x = np.random.default_rng(12).integers(0, 2, shape).astype(np.float32)
    dy = rand(P.output_shape(shape, pool, strides, "valid"), 13)
    rank = len(shape) - 2
    expected = ref_backward(x, dy, as_tuple(pool, rank), as_tuple(strides, rank), "valid", "max")
    for t in (1, 2, 3):
        config.set_num_threads(t)
        np.testing.assert_allclose(P.max_pool_backward(x, dy, pool, strides, "valid"), expected, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize(
    "shape,pool,strides,padding",
    [
        ((4, 33, 35, 17), 3, 1, "same"),  # overlapping, accumulate path
        ((3, 64, 30, 16), 2, None, "valid"),  # disjoint, store path
        ((2, 40, 31, 9), 3, 2, "valid"),  # overlapping with uncovered tail
        ((2, 12, 13, 11, 16), 3, 2, "same"),
        ((8, 400, 33), 5, 3, "same"),
    ],
)
@pytest.mark.parametrize("op", ["max", "avg"])
def test_results_do_not_depend_on_thread_count(isa, shape, pool, strides, padding, op):
    x = rand(shape, 6)
    dy = rand(P.output_shape(shape, pool, strides, padding), 7)
    results = []
    for t in (1, 2, 3):
        config.set_num_threads(t)
        if op == "max":
            results.append((P.max_pool(x, pool, strides, padding), P.max_pool_backward(x, dy, pool, strides, padding)))
        else:
            results.append((P.avg_pool(x, pool, strides, padding), P.avg_pool_backward(dy, shape, pool, strides, padding)))
    for y, dx in results[1:]:
        np.testing.assert_array_equal(y, results[0][0])
        np.testing.assert_array_equal(dx, results[0][1])


def test_backward_overwrites_garbage_in_out(isa):
    # dx must be fully written, including elements no window covers (stride > pool).
    x = rand((2, 10, 11, 5), 8)
    dy = rand(P.output_shape(x.shape, 2, 3, "valid"), 9)
    for op in ("max", "avg"):
        out = np.full(x.shape, np.nan, np.float32)
        if op == "max":
            got = P.max_pool_backward(x, dy, 2, 3, "valid", out=out)
        else:
            got = P.avg_pool_backward(dy, x.shape, 2, 3, "valid", out=out)
        assert got is out
        np.testing.assert_allclose(out, ref_backward(x, dy, (2, 2), (3, 3), "valid", op), rtol=1e-6, atol=1e-7)


def test_infinities_and_large_values(isa):
    x = rand((1, 4, 4, 3), 10)
    x[0, 0, 0, 0] = -np.inf
    x[0, 1, 1, 1] = np.inf
    x[0, 2, 2, 2] = 3e38
    y = P.max_pool(x, 2)
    np.testing.assert_array_equal(y, ref_forward(x, (2, 2), (2, 2), "valid", "max").astype(np.float32))
    # A window of -inf keeps -inf as its maximum and its gradient.
    z = np.full((1, 2, 2, 1), -np.inf, np.float32)
    assert P.max_pool(z, 2)[0, 0, 0, 0] == -np.inf
    assert P.max_pool_backward(z, np.ones((1, 1, 1, 1), np.float32), 2)[0, 0, 0, 0] == 1


def test_max_pool_skips_nan(isa):
    x = np.arange(16, dtype=np.float32).reshape(1, 4, 4, 1)
    x[0, 1, 1, 0] = np.nan  # the maximum of its window, were it a number
    y = P.max_pool(x, 2)
    assert y[0, 0, 0, 0] == 4.0  # max of 0, 1, 4
    dx = P.max_pool_backward(x, np.ones_like(y), 2)
    assert dx[0, 1, 0, 0] == 1.0 and dx[0, 1, 1, 0] == 0.0
    z = np.full((1, 2, 2, 3), np.nan, np.float32)
    np.testing.assert_array_equal(P.max_pool(z, 2), np.full((1, 1, 1, 3), -np.inf, np.float32))


def test_zero_batch_and_out_parameter(isa):
    x = np.zeros((0, 4, 4, 3), np.float32)
    assert P.max_pool(x, 2).shape == (0, 2, 2, 3)
    x = rand((2, 4, 4, 3))
    out = np.empty((2, 2, 2, 3), np.float32)
    assert P.avg_pool(x, 2, out=out) is out


# ----------------------------------------------------------------------------- errors
def test_pool_larger_than_valid_input_is_a_value_error():
    with pytest.raises(ValueError, match=r"pool_size \(5, 5\).*\(1, 4, 4, 3\).*valid"):
        P.max_pool(np.zeros((1, 4, 4, 3), np.float32), 5)


@pytest.mark.parametrize(
    "kwargs,exc,pattern",
    [
        (dict(pool_size=0), ValueError, ">= 1"),
        (dict(pool_size=(2, -1)), ValueError, ">= 1"),
        (dict(pool_size=2, strides=0), ValueError, "strides"),
        (dict(pool_size=(2, 2, 2)), ValueError, "2 value"),
        (dict(pool_size=2, strides=(1,)), ValueError, "strides"),
        (dict(pool_size="2"), TypeError, "pool_size"),
        (dict(pool_size=2.0), TypeError, "pool_size"),
        (dict(pool_size=2, padding="full"), ValueError, "padding"),
    ],
)
def test_bad_arguments(kwargs, exc, pattern):
    with pytest.raises(exc, match=pattern):
        P.max_pool(np.zeros((1, 4, 4, 3), np.float32), **kwargs)


def test_padding_is_case_insensitive():
    x = rand((1, 5, 5, 2))
    np.testing.assert_array_equal(P.max_pool(x, 2, padding="SAME"), P.max_pool(x, 2, padding="same"))


def test_bad_arrays():
    with pytest.raises(TypeError, match="float32"):
        P.max_pool(np.zeros((1, 4, 4, 3)), 2)
    with pytest.raises(TypeError, match="C-contiguous"):
        P.avg_pool(np.zeros((1, 4, 8, 3), np.float32)[:, :, ::2], 2)
    with pytest.raises(ValueError, match="3-D"):
        P.max_pool(np.zeros((4, 3), np.float32), 2)
    with pytest.raises(ValueError, match=r"'dy' has shape \(1, 2, 2, 4\), expected \(1, 2, 2, 3\)"):
        P.max_pool_backward(np.zeros((1, 4, 4, 3), np.float32), np.zeros((1, 2, 2, 4), np.float32), 2)
    with pytest.raises(ValueError, match="'out' has shape"):
        P.max_pool(np.zeros((1, 4, 4, 3), np.float32), 2, out=np.zeros((1, 4, 4, 3), np.float32))
    with pytest.raises(ValueError, match="'dy' has shape"):
        P.avg_pool_backward(np.zeros((1, 2, 2, 3), np.float32), (1, 5, 5, 3), 2, padding="same")
    x = np.zeros((1, 4, 4, 3), np.float32)
    with pytest.raises(ValueError, match="'out' shares memory with 'x'"):
        P.max_pool(x, 3, 1, "same", out=x)
    with pytest.raises(ValueError, match="'out' shares memory with 'x'"):
        P.max_pool_backward(x, np.zeros_like(x), 3, 1, "same", out=x)


# ----------------------------------------------------------------------------- Keras
@pytest.mark.keras_reference
@pytest.mark.parametrize("layer,pool,strides,padding,shape", [
    ("MaxPooling2D", 3, 2, "same", (2, 7, 6, 5)),
    ("AveragePooling2D", 3, 2, "same", (2, 7, 6, 5)),
    ("AveragePooling1D", 4, 3, "same", (2, 11, 3)),
    ("MaxPooling3D", 2, 1, "valid", (1, 3, 4, 5, 2)),
])
def test_matches_keras_layers(monkeypatch, layer, pool, strides, padding, shape):
    monkeypatch.setenv("KERAS_BACKEND", "jax")
    keras = pytest.importorskip("keras")
    x = rand(shape, 11)
    expected = np.asarray(getattr(keras.layers, layer)(pool, strides, padding)(x))
    fn = P.max_pool if layer.startswith("Max") else P.avg_pool
    np.testing.assert_allclose(fn(x, pool, strides, padding), expected, rtol=1e-6, atol=1e-6)

"""Global max/average pooling kernels (pykeras._core.pool.global_*) against float64 numpy."""
import numpy as np
import pytest

from pykeras import _core, config

P = _core.pool

# Ranks 3-5, batch 1, spatial 1, primes, channels around the vector widths and the 4-vector
# tiles (1, 15, 16, 17, 33, 64, 65, 130).
SHAPES = [
    (2, 5, 16),
    (1, 1, 1),
    (3, 7, 17),
    (2, 3, 5, 15),
    (1, 1, 1, 33),
    (2, 7, 7, 64),
    (1, 4, 5, 65),
    (2, 3, 3, 130),
    (2, 2, 3, 4, 17),
    (1, 200, 3),
]


def rand(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def ref_max_backward(x, dy):
    n, c = x.shape[0], x.shape[-1]
    flat = x.reshape(n, -1, c)
    first = flat.argmax(axis=1)  # first maximum in scan order
    dx = np.zeros(flat.shape)
    dx[np.arange(n)[:, None], first, np.arange(c)[None, :]] = dy.reshape(n, c)
    return dx.reshape(x.shape)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("keepdims", [False, True])
def test_forward(isa, threads, shape, keepdims):
    x = rand(shape, 1)
    axes = tuple(range(1, len(shape) - 1))
    ymax = P.global_max_pool(x, keepdims)
    yavg = P.global_avg_pool(x, keepdims)
    np.testing.assert_array_equal(ymax, x.max(axis=axes, keepdims=keepdims))
    np.testing.assert_allclose(yavg, x.astype(np.float64).mean(axis=axes, keepdims=keepdims), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("keepdims", [False, True])
def test_backward(isa, threads, shape, keepdims):
    x = rand(shape, 2)
    n, c = shape[0], shape[-1]
    dy = rand((n,) + (1,) * (len(shape) - 2) + (c,) if keepdims else (n, c), 3)
    s = int(np.prod(shape[1:-1]))
    dx = P.global_max_pool_backward(x, dy)
    np.testing.assert_array_equal(dx, ref_max_backward(x, dy).astype(np.float32))
    dxa = P.global_avg_pool_backward(dy, shape)
    expected = np.broadcast_to(dy.reshape((n,) + (1,) * (len(shape) - 2) + (c,)) / s, shape)
    np.testing.assert_allclose(dxa, expected, rtol=1e-6, atol=1e-7)


def test_max_backward_ties_and_finite_differences(isa):
    x = np.zeros((2, 3, 3, 17), np.float32)
    x[1, 2, 2, 5] = 1.0
    dy = rand((2, 17), 4)
    np.testing.assert_array_equal(P.global_max_pool_backward(x, dy), ref_max_backward(x, dy).astype(np.float32))
    # Average pooling is linear: central differences are exact up to rounding.
    x = rand((2, 3, 4, 5), 5)
    dy = rand((2, 5), 6).astype(np.float64)
    eps = 0.25
    numeric = np.zeros(x.shape)
    for i in np.ndindex(*x.shape):
        xp, xm = x.copy(), x.copy()
        xp[i] += eps
        xm[i] -= eps
        numeric[i] = np.sum(dy * (P.global_avg_pool(xp).astype(np.float64) - P.global_avg_pool(xm))) / (2 * eps)
    np.testing.assert_allclose(P.global_avg_pool_backward(dy.astype(np.float32), x.shape), numeric, atol=1e-5)


def test_mean_is_accurate_over_many_positions(isa):
    # 2^18 positions of 1 + tiny noise: a naive float running sum would drift by ~1e-3.
    x = (1.0 + 1e-3 * rand((1, 1 << 18, 3), 7)).astype(np.float32)
    np.testing.assert_allclose(P.global_avg_pool(x), x.astype(np.float64).mean(axis=1), rtol=2e-6)


def test_thread_count_does_not_change_results(isa):
    x = rand((16, 9, 9, 200), 8)
    dy = rand((16, 200), 9)
    outs = []
    for t in (1, 2, 3):
        config.set_num_threads(t)
        outs.append([P.global_max_pool(x), P.global_avg_pool(x), P.global_max_pool_backward(x, dy),
                     P.global_avg_pool_backward(dy, x.shape)])
    for other in outs[1:]:
        for a, b in zip(outs[0], other):
            np.testing.assert_array_equal(a, b)


def test_errors():
    with pytest.raises(ValueError, match="empty spatial"):
        P.global_avg_pool(np.zeros((2, 0, 3), np.float32))
    with pytest.raises(ValueError, match="3-D"):
        P.global_max_pool(np.zeros((2, 3), np.float32))
    with pytest.raises(TypeError, match="float32"):
        P.global_max_pool(np.zeros((2, 3, 3), np.int32))
    with pytest.raises(ValueError, match=r"'dy' has shape \(2, 4\), expected \(2, 3\) or \(2, 1, 1, 3\)"):
        P.global_max_pool_backward(np.zeros((2, 5, 5, 3), np.float32), np.zeros((2, 4), np.float32))
    with pytest.raises(ValueError, match="'dy'"):
        P.global_avg_pool_backward(np.zeros((3, 3), np.float32), (2, 5, 5, 3))
    with pytest.raises(ValueError, match="'out' has shape"):
        P.global_avg_pool(np.zeros((2, 5, 3), np.float32), keepdims=True, out=np.zeros((2, 3), np.float32))

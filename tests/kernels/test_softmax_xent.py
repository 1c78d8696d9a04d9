"""Softmax / log-softmax over any axis and the fused softmax / sigmoid cross-entropy kernels.

References are float64 numpy; gradients are also checked against central finite differences of
the float64 loss. Rows and columns (axis not last) run on each kernel path and 1 and 2 threads;
1 vs 2 threads must give the same bits.
"""
import os

import numpy as np
import pytest

from pykeras import _core, config

E = _core.eltwise

# (shape, axis): rows around the vector widths, primes, multi-chunk, and non-last axes.
CASES = [((1, 1), -1), ((3, 1), -1), ((5, 7), -1), ((4, 8), -1), ((2, 15), 1), ((2, 16), -1), ((2, 17), -1),
         ((3, 97), -1), ((67, 1000), -1), ((4096, 10), -1), ((6, 5, 33), 1), ((6, 5, 33), 0), ((3, 4, 5, 7), 2),
         ((7,), 0), ((0, 5), -1), ((5, 0), -1), ((2, 3000, 40), 1)]
CASE_IDS = [f"{s}-axis{a}" for s, a in CASES]


def rand(shape, seed=0, scale=3.0):
    return (np.random.default_rng(seed).standard_normal(shape) * scale).astype(np.float32)


def softmax64(x, axis):
    x = x.astype(np.float64)
    e = np.exp(x - x.max(axis=axis, keepdims=True, initial=-np.inf))
    return e / e.sum(axis=axis, keepdims=True)


def log_softmax64(x, axis):
    x = x.astype(np.float64)
    m = x.max(axis=axis, keepdims=True, initial=-np.inf)
    with np.errstate(divide="ignore"):
        return x - m - np.log(np.exp(x - m).sum(axis=axis, keepdims=True))


@pytest.mark.parametrize("shape, axis", CASES, ids=CASE_IDS)
def test_softmax_forward(isa, threads, shape, axis):
    x = rand(shape)
    y = E.softmax(x, axis=axis)
    assert y.shape == x.shape and y.dtype == np.float32
    np.testing.assert_allclose(y, softmax64(x, axis), rtol=2e-6, atol=1e-30)
    ly = E.log_softmax(x, axis=axis)
    np.testing.assert_allclose(ly, log_softmax64(x, axis), rtol=2e-6, atol=2e-6)


@pytest.mark.parametrize("shape, axis", CASES, ids=CASE_IDS)
def test_softmax_backward(isa, threads, shape, axis):
    x, dy = rand(shape, 1), rand(shape, 2)
    y64 = softmax64(x, axis)
    expected = y64 * (dy - (dy * y64).sum(axis=axis, keepdims=True))
    y = E.softmax(x, axis=axis)
    np.testing.assert_allclose(E.softmax_backward(y, dy, axis=axis), expected, rtol=1e-5, atol=2e-6)
    ly = E.log_softmax(x, axis=axis)
    expected_log = dy - y64 * dy.sum(axis=axis, keepdims=True)
    np.testing.assert_allclose(E.log_softmax_backward(ly, dy, axis=axis), expected_log, rtol=1e-5, atol=2e-5)


def test_softmax_backward_matches_finite_differences(isa):
    x, dy = rand((3, 11), 3).astype(np.float64), rand((3, 11), 4).astype(np.float64)
    for fn, bwd, ref in [(E.softmax, E.softmax_backward, softmax64), (E.log_softmax, E.log_softmax_backward,
                                                                         log_softmax64)]:
        y = fn(x.astype(np.float32), axis=1)
        dx = bwd(y, dy.astype(np.float32), axis=1)
        fd = np.zeros_like(x)
        for idx in np.ndindex(x.shape):
            h = 1e-6
            xp, xm = x.copy(), x.copy()
            xp[idx] += h
            xm[idx] -= h
            fd[idx] = ((ref(xp, 1) - ref(xm, 1)) * dy).sum() / (2 * h)
        np.testing.assert_allclose(dx, fd, rtol=1e-4, atol=1e-5)


def test_softmax_extreme_logits(isa):
    x = np.array([[1e4, -1e4, 0.0], [-1e30, 1e30, 3.0], [np.inf, 1.0, np.inf], [-np.inf, 0.0, 1.0],
                  [np.nan, 1.0, 2.0], [88.0, 89.0, 90.0]], np.float32)
    y = E.softmax(x)
    np.testing.assert_array_equal(y[0], [1, 0, 0])
    np.testing.assert_array_equal(y[1], [0, 1, 0])
    np.testing.assert_array_equal(y[2], [0.5, 0, 0.5])  # the limit, not NaN
    np.testing.assert_allclose(y[3], softmax64(x[3:4], -1)[0], rtol=1e-6)
    assert np.isnan(y[4]).all()
    np.testing.assert_allclose(y[5], softmax64(x[5:6], -1)[0], rtol=1e-6)
    ly = E.log_softmax(x)
    np.testing.assert_allclose(ly[0], [0, -2e4, -1e4], rtol=1e-6)
    assert ly[3, 0] == -np.inf and np.isfinite(ly[3, 1:]).all()
    # Columns take the same limits.
    yc = E.softmax(np.ascontiguousarray(x.T), axis=0)
    np.testing.assert_array_equal(yc[:, :4], y[:4].T)


@pytest.mark.parametrize("shape, axis", [((513, 1000), -1), ((40, 300, 20), 1), ((100003,), 0)])
def test_softmax_bits_do_not_depend_on_threads(isa, shape, axis):
    x, dy = rand(shape, 5), rand(shape, 6)
    results = []
    for t in (1, 2):
        config.set_num_threads(t)
        y = E.softmax(x, axis=axis)
        results.append((y, E.log_softmax(x, axis=axis), E.softmax_backward(y, dy, axis=axis)))
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)


def test_softmax_argument_errors():
    x = np.ones((2, 3), np.float32)
    with pytest.raises(ValueError, match="axis 2 is out of range"):
        E.softmax(x, axis=2)
    with pytest.raises(TypeError, match="float32"):
        E.softmax(np.ones((2, 3)))
    with pytest.raises(ValueError, match="'dy' has shape"):
        E.softmax_backward(x, np.ones((3, 2), np.float32))


# ----------------------------------------------------------------------------- cross-entropy

def xent64(logits, labels, axis):
    lp = log_softmax64(logits, axis)
    return -(np.where(labels != 0, labels * lp, 0.0)).sum(axis=axis)


def xent_grad64(logits, labels, axis, dloss):
    p = softmax64(logits, axis)
    return (p * labels.sum(axis=axis, keepdims=True) - labels) * np.expand_dims(dloss, axis)


def soft_labels(shape, axis, seed):
    y = np.random.default_rng(seed).random(shape)
    return (y / y.sum(axis=axis, keepdims=True)).astype(np.float32)


XENT_CASES = [((1, 1), -1), ((5, 7), -1), ((3, 16), -1), ((2, 17), -1), ((130, 1000), -1), ((4, 6, 10), -1),
              ((4, 6, 10), 1), ((9, 3), 0), ((0, 4), -1)]


@pytest.mark.parametrize("shape, axis", XENT_CASES, ids=[f"{s}-axis{a}" for s, a in XENT_CASES])
def test_softmax_cross_entropy(isa, threads, shape, axis):
    logits, labels = rand(shape, 7), soft_labels(shape, axis, 8)
    loss, grad = E.softmax_cross_entropy(logits, labels, axis=axis, return_grad=True)
    np.testing.assert_allclose(loss, xent64(logits, labels, axis), rtol=2e-6, atol=2e-6)
    dloss = np.ones(loss.shape)
    np.testing.assert_allclose(grad, xent_grad64(logits, labels, axis, dloss), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(E.softmax_cross_entropy(logits, labels, axis=axis), loss)
    dloss = rand(loss.shape, 9)
    dx = E.softmax_cross_entropy_backward(logits, labels, dloss, axis=axis)
    np.testing.assert_allclose(dx, xent_grad64(logits, labels, axis, dloss), rtol=1e-5, atol=2e-6)
    out = np.empty_like(logits)
    assert E.softmax_cross_entropy_backward(logits, labels, dloss, axis=axis, out=out) is out
    np.testing.assert_array_equal(out, dx)


def test_softmax_cross_entropy_gradient_matches_finite_differences(isa):
    logits, labels = rand((4, 9), 10).astype(np.float64), soft_labels((4, 9), -1, 11).astype(np.float64)
    labels *= 1.3  # unnormalised labels: the gradient carries sum(labels)
    dloss = rand((4,), 12)
    dx = E.softmax_cross_entropy_backward(logits.astype(np.float32), labels.astype(np.float32), dloss)
    fd = np.zeros_like(logits)
    for idx in np.ndindex(logits.shape):
        lp, lm = logits.copy(), logits.copy()
        lp[idx] += 1e-6
        lm[idx] -= 1e-6
        fd[idx] = ((xent64(lp, labels, -1) - xent64(lm, labels, -1)) * dloss).sum() / 2e-6
    np.testing.assert_allclose(dx, fd, rtol=1e-4, atol=1e-5)


def test_softmax_cross_entropy_extreme_logits(isa):
    logits = np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 0.0], [-np.inf, 2.0, 1.0], [np.inf, 0.0, 1.0],
                       [np.inf, 0.0, 1.0], [0.0, -np.inf, 1.0]], np.float32)
    labels = np.array([[1, 0, 0], [1, 0, 0], [0, 1, 0], [1, 0, 0], [0, 1, 0], [0, 1, 0]], np.float32)
    loss, grad = E.softmax_cross_entropy(logits, labels, return_grad=True)
    np.testing.assert_allclose(loss[:3], [0.0, 2e4, np.log1p(np.exp(-1.0))], rtol=1e-6, atol=1e-6)
    assert loss[3] == 0 and loss[4] == np.inf and loss[5] == np.inf
    np.testing.assert_allclose(grad[0], [0, 0, 0], atol=1e-6)
    np.testing.assert_allclose(grad[1], [-1, 1, 0], atol=1e-6)
    assert grad[2, 0] == 0 and np.isfinite(grad[:5]).all()


@pytest.mark.parametrize("dtype", [np.int32, np.int64])
@pytest.mark.parametrize("shape, axis", [((1, 1), -1), ((5, 7), -1), ((3, 17), -1), ((130, 1000), -1),
                                         ((4, 6, 10), -1), ((4, 6, 10), 1)])
def test_sparse_softmax_cross_entropy(isa, threads, dtype, shape, axis):
    logits = rand(shape, 13)
    ax = axis % len(shape)
    label_shape = shape[:ax] + shape[ax + 1:]
    labels = np.random.default_rng(14).integers(0, shape[ax], label_shape).astype(dtype)
    one_hot = np.moveaxis(np.eye(shape[ax], dtype=np.float32)[labels], -1, ax)
    loss, grad = E.sparse_softmax_cross_entropy(logits, labels, axis=axis, return_grad=True)
    np.testing.assert_allclose(loss, xent64(logits, one_hot, axis), rtol=2e-6, atol=2e-6)
    np.testing.assert_allclose(grad, xent_grad64(logits, one_hot, axis, np.ones(loss.shape)), rtol=1e-5, atol=1e-6)
    dloss = rand(loss.shape, 15)
    dx = E.sparse_softmax_cross_entropy_backward(logits, labels, dloss, axis=axis)
    np.testing.assert_allclose(dx, xent_grad64(logits, one_hot, axis, dloss), rtol=1e-5, atol=2e-6)


def test_sparse_ignore_class_and_label_errors(isa):
    logits = rand((6, 5), 16)
    labels = np.array([0, -1, 4, 2, -1, 1], np.int64)
    loss, grad = E.sparse_softmax_cross_entropy(logits, labels, ignore_class=-1, return_grad=True)
    assert loss[1] == 0 and loss[4] == 0 and np.all(grad[[1, 4]] == 0)
    keep = labels != -1
    ref, ref_grad = E.sparse_softmax_cross_entropy(logits[keep], labels[keep], return_grad=True)
    np.testing.assert_array_equal(loss[keep], ref)
    np.testing.assert_array_equal(grad[keep], ref_grad)
    with pytest.raises(ValueError, match=r"label -1 at flat index 1 is outside \[0, 5\)"):
        E.sparse_softmax_cross_entropy(logits, labels)
    with pytest.raises(ValueError, match="label 5"):
        E.sparse_softmax_cross_entropy(logits, np.array([0, 1, 2, 3, 4, 5], np.int32))
    with pytest.raises(TypeError, match="int32 or int64"):
        E.sparse_softmax_cross_entropy(logits, labels.astype(np.float32))
    with pytest.raises(ValueError, match="'labels' has shape"):
        E.sparse_softmax_cross_entropy(logits, labels[:5])


def sigmoid_xent64(z, y):
    z, y = z.astype(np.float64), y.astype(np.float64)
    return np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z)))


@pytest.mark.parametrize("n", [0, 1, 15, 16, 17, 1009, 70001])
def test_sigmoid_cross_entropy(isa, threads, n):
    z = rand((n,), 17, scale=6)
    y = np.random.default_rng(18).random(n).astype(np.float32)
    loss, grad = E.sigmoid_cross_entropy(z, y, return_grad=True)
    np.testing.assert_allclose(loss, sigmoid_xent64(z, y), rtol=2e-6, atol=1e-7)
    expected_grad = 1 / (1 + np.exp(-z.astype(np.float64))) - y
    # sigmoid(z) - y cancels: the absolute error is that of sigmoid (~1 ulp of 1).
    np.testing.assert_allclose(grad, expected_grad, rtol=1e-5, atol=2e-7)
    dloss = rand((n,), 19)
    np.testing.assert_allclose(E.sigmoid_cross_entropy_backward(z, y, dloss), expected_grad * dloss,
                               rtol=1e-5, atol=2e-7 * np.abs(dloss).max(initial=1))


def test_sigmoid_cross_entropy_extremes(isa):
    z = np.array([np.inf, np.inf, -np.inf, -np.inf, 1e4, -1e4, 1e4, np.nan], np.float32)
    y = np.array([1, 0, 0, 1, 1, 0, 0, 1], np.float32)
    loss, grad = E.sigmoid_cross_entropy(z, y, return_grad=True)
    np.testing.assert_array_equal(loss[:7], [0, np.inf, 0, np.inf, 0, 0, 1e4])
    np.testing.assert_array_equal(grad[:7], [0, 1, 0, -1, 0, 0, 1])
    assert np.isnan(loss[7]) and np.isnan(grad[7])


@pytest.mark.keras_reference
def test_losses_match_keras():
    os.environ.setdefault("KERAS_BACKEND", "jax")
    keras = pytest.importorskip("keras")
    logits, labels = rand((64, 10), 20), soft_labels((64, 10), -1, 21)
    np.testing.assert_allclose(E.softmax_cross_entropy(logits, labels),
                               keras.losses.categorical_crossentropy(labels, logits, from_logits=True),
                               rtol=1e-5, atol=1e-6)
    sparse = np.random.default_rng(22).integers(0, 10, 64)
    np.testing.assert_allclose(E.sparse_softmax_cross_entropy(logits, sparse),
                               keras.losses.sparse_categorical_crossentropy(sparse, logits, from_logits=True),
                               rtol=1e-5, atol=1e-6)
    y01 = (np.random.default_rng(23).random((64, 10)) > 0.5).astype(np.float32)
    np.testing.assert_allclose(E.sigmoid_cross_entropy(logits, y01).mean(axis=-1),
                               keras.losses.binary_crossentropy(y01, logits, from_logits=True), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(E.softmax(logits), keras.activations.softmax(logits), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(E.log_softmax(logits, axis=0), keras.activations.log_softmax(logits, axis=0),
                               rtol=1e-5, atol=1e-6)

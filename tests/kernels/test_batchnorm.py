"""Batch normalization kernels (pykeras._core.norm) against float64 numpy references.

Keras 3 semantics: biased batch variance for normalisation and for the moving variance,
moving = moving * momentum + batch * (1 - momentum), statistics over every axis but `axis`.
"""
import numpy as np
import pytest

from pykeras import _core, config

N = _core.norm


# ----------------------------------------------------------------------------- references
def bshape(x, axis):
    shape = [1] * x.ndim
    shape[axis] = x.shape[axis]
    return shape


def reduce_axes(x, axis):
    axis %= x.ndim
    return tuple(i for i in range(x.ndim) if i != axis)


def ref_train(x, gamma, beta, mm, mv, axis, momentum, eps):
    x = x.astype(np.float64)
    axes = reduce_axes(x, axis)
    mean, var = x.mean(axis=axes), x.var(axis=axes)
    inv = 1.0 / np.sqrt(var + eps)
    g = np.ones_like(mean) if gamma is None else gamma.astype(np.float64)
    b = np.zeros_like(mean) if beta is None else beta.astype(np.float64)
    s = bshape(x, axis)
    y = (x - mean.reshape(s)) * (inv * g).reshape(s) + b.reshape(s)
    return y, mean, inv, mm * momentum + mean * (1 - momentum), mv * momentum + var * (1 - momentum)


def ref_backward(dy, x, mean, inv, gamma, axis, training):
    dy, x = dy.astype(np.float64), x.astype(np.float64)
    mean, inv = mean.astype(np.float64), inv.astype(np.float64)
    axes = reduce_axes(x, axis)
    s = bshape(x, axis)
    n = x.size // x.shape[axis]
    xhat = (x - mean.reshape(s)) * inv.reshape(s)
    dbeta = dy.sum(axis=axes)
    dgamma = (dy * xhat).sum(axis=axes)
    g = np.ones_like(mean) if gamma is None else gamma.astype(np.float64)
    scale = (g * inv).reshape(s)
    if training:
        dx = scale * (dy - dbeta.reshape(s) / n - xhat * dgamma.reshape(s) / n)
    else:
        dx = scale * dy
    return dx, dgamma, dbeta


def rand(shape, seed=0, loc=0.0, scale=1.0):
    return (loc + scale * np.random.default_rng(seed).standard_normal(shape)).astype(np.float32)


def params(c, seed=1, affine=(True, True)):
    rng = np.random.default_rng(seed)
    gamma = (1 + 0.3 * rng.standard_normal(c)).astype(np.float32) if affine[0] else None
    beta = (0.5 * rng.standard_normal(c)).astype(np.float32) if affine[1] else None
    mm = rng.standard_normal(c).astype(np.float32)
    mv = (0.5 + rng.random(c)).astype(np.float32)
    return gamma, beta, mm, mv


# (shape, axis): channels-last with channel counts around the vector widths and tiles (1, 15,
# 16, 17, 33, 64, 65, 130), batch 1, primes, enough rows for several reduction blocks; and
# other axes (inner > 1) including run lengths that are not multiples of the width.
CASES = [
    ((7, 16), -1),
    ((1, 1), -1),
    ((2, 1), -1),
    ((32, 17), -1),
    ((3, 5, 7, 15), -1),
    ((4, 9, 9, 33), 3),
    ((5003, 5), -1),
    ((2, 16, 16, 64), -1),
    ((600, 65), 1),
    ((9, 130), -1),
    ((2, 3, 5, 7), 1),
    ((4, 6, 33, 17), 1),
    ((3, 8, 9), 0),
    ((64, 3, 40, 40), 1),
    ((2, 5, 4, 3, 6), 2),
]


def case_id(case):
    return f"{'x'.join(map(str, case[0]))}-axis{case[1]}"


@pytest.mark.parametrize("case", CASES, ids=case_id)
@pytest.mark.parametrize("affine", [(True, True), (False, True), (True, False)], ids=["both", "no_scale", "no_center"])
def test_train_forward(isa, threads, case, affine):
    shape, axis = case
    x = rand(shape, 2, loc=3.0, scale=2.0)
    c = shape[axis]
    gamma, beta, mm, mv = params(c, 3, affine)
    y, mean, inv, emm, emv = ref_train(x, gamma, beta, mm.astype(np.float64), mv.astype(np.float64), axis, 0.9, 1e-3)
    mm_k, mv_k = mm.copy(), mv.copy()
    got_y, got_mean, got_inv = N.batch_norm_train(x, gamma, beta, mm_k, mv_k, axis=axis, momentum=0.9, epsilon=1e-3)
    assert got_y.shape == x.shape and got_mean.shape == (c,) and got_inv.shape == (c,)
    np.testing.assert_allclose(got_mean, mean, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(got_inv, inv, rtol=1e-5)
    np.testing.assert_allclose(got_y, y, rtol=1e-5, atol=2e-5)
    np.testing.assert_allclose(mm_k, emm, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(mv_k, emv, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_inference_forward(isa, threads, case):
    shape, axis = case
    x = rand(shape, 4)
    gamma, beta, mm, mv = params(shape[axis], 5)
    s = bshape(x, axis)
    expected = (x - mm.reshape(s)) / np.sqrt(mv.astype(np.float64) + 1e-3).reshape(s) * gamma.reshape(s) + beta.reshape(s)
    np.testing.assert_allclose(N.batch_norm_inference(x, mm, mv, gamma, beta, axis=axis), expected, rtol=1e-5, atol=1e-5)
    # No gamma/beta: plain standardisation with the moving statistics.
    expected = (x - mm.reshape(s)) / np.sqrt(mv.astype(np.float64) + 1e-2).reshape(s)
    np.testing.assert_allclose(N.batch_norm_inference(x, mm, mv, axis=axis, epsilon=1e-2), expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("case", CASES, ids=case_id)
@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("with_gamma", [True, False])
def test_backward(isa, threads, case, training, with_gamma):
    shape, axis = case
    x = rand(shape, 6, loc=1.0)
    dy = rand(shape, 7)
    gamma = params(shape[axis], 8)[0] if with_gamma else None
    if training:
        _, mean, inv = N.batch_norm_train(x, gamma, axis=axis)
    else:
        _, _, mm, mv = params(shape[axis], 9)
        mean, inv = mm, (1 / np.sqrt(mv + 1e-3)).astype(np.float32)
    dx, dgamma, dbeta = N.batch_norm_backward(dy, x, mean, inv, gamma, axis=axis, training=training)
    edx, edgamma, edbeta = ref_backward(dy, x, mean, inv, gamma, axis, training)
    scale = np.sqrt(x.size / shape[axis])  # sums grow like sqrt(n)
    np.testing.assert_allclose(dbeta, edbeta, rtol=1e-5, atol=1e-5 * scale)
    np.testing.assert_allclose(dgamma, edgamma, rtol=1e-5, atol=1e-5 * scale)
    np.testing.assert_allclose(dx, edx, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("shape,axis", [((6, 3), -1), ((2, 3, 4), 1), ((3, 2, 2, 5), -1)])
def test_gradients_match_finite_differences(isa, shape, axis):
    # Central differences of L = sum(dy * y) through the kernel's own training forward
    # (float32, so a relatively large step and a loose tolerance).
    x = rand(shape, 10)
    dy = rand(shape, 11).astype(np.float64)
    gamma, beta, _, _ = params(shape[axis], 12)

    def loss(xv, g, b):
        y, _, _ = N.batch_norm_train(xv.astype(np.float32), g.astype(np.float32), b.astype(np.float32), axis=axis)
        return float(np.sum(dy * y))

    def numeric(f, v, eps=1e-2):
        out = np.zeros(v.shape)
        for i in np.ndindex(*v.shape):
            vp, vm = v.astype(np.float64), v.astype(np.float64)
            vp[i] += eps
            vm[i] -= eps
            out[i] = (f(vp) - f(vm)) / (2 * eps)
        return out

    _, mean, inv = N.batch_norm_train(x, gamma, beta, axis=axis)
    dx, dgamma, dbeta = N.batch_norm_backward(dy.astype(np.float32), x, mean, inv, gamma, axis=axis)
    np.testing.assert_allclose(dx, numeric(lambda v: loss(v, gamma, beta), x), rtol=5e-3, atol=5e-3)
    np.testing.assert_allclose(dgamma, numeric(lambda v: loss(x, v, beta), gamma), rtol=5e-3, atol=5e-3)
    np.testing.assert_allclose(dbeta, numeric(lambda v: loss(x, gamma, v), beta), rtol=5e-3, atol=5e-3)


@pytest.mark.parametrize("layout", ["channels_last", "inner"])
def test_variance_is_accurate_for_large_means_and_outliers(isa, layout):
    shape, axis = ((20000, 4), -1) if layout == "channels_last" else ((50, 4, 400), 1)
    x = rand(shape, 13, loc=1e4, scale=1.0)
    # An outlier as the very first element must not spoil the others' accuracy either.
    x.reshape(-1)[0] = 1e6
    _, mean, inv = N.batch_norm_train(x, axis=axis, epsilon=0.0)
    x64 = x.astype(np.float64)
    axes = reduce_axes(x, axis)
    np.testing.assert_allclose(mean, x64.mean(axis=axes), rtol=1e-7)
    np.testing.assert_allclose(1.0 / inv.astype(np.float64) ** 2, x64.var(axis=axes), rtol=1e-5)


def test_constant_channel_has_zero_variance(isa):
    x = np.full((100, 3), 7.25, np.float32)
    y, mean, inv = N.batch_norm_train(x, epsilon=1e-3)
    np.testing.assert_array_equal(mean, np.full(3, 7.25, np.float32))
    np.testing.assert_allclose(inv, 1 / np.sqrt(1e-3), rtol=1e-6)
    np.testing.assert_array_equal(y, np.zeros_like(x))


@pytest.mark.parametrize("shape,axis", [((33000, 17), -1), ((40, 64, 48), 1), ((6000, 130), -1), ((3, 7000, 5), 1)])
def test_results_do_not_depend_on_thread_count(isa, shape, axis):
    x = rand(shape, 14, loc=2.0)
    dy = rand(shape, 15)
    gamma, beta, mm, mv = params(shape[axis], 16)
    results = []
    for t in (1, 2, 3):
        config.set_num_threads(t)
        mmt, mvt = mm.copy(), mv.copy()
        y, mean, inv = N.batch_norm_train(x, gamma, beta, mmt, mvt, axis=axis)
        dx, dg, db = N.batch_norm_backward(dy, x, mean, inv, gamma, axis=axis)
        yi = N.batch_norm_inference(x, mm, mv, gamma, beta, axis=axis)
        results.append((y, mean, inv, mmt, mvt, dx, dg, db, yi))
    for other in results[1:]:
        for a, b in zip(results[0], other):
            np.testing.assert_array_equal(a, b)


def test_in_place_output(isa):
    x = rand((50, 20), 17)
    expected = N.batch_norm_train(x.copy())[0]
    y, _, _ = N.batch_norm_train(x, out=x)
    assert y is x
    np.testing.assert_array_equal(x, expected)


def test_empty_channels_and_inference_on_empty_batch(isa):
    y, mean, inv = N.batch_norm_train(np.zeros((4, 0), np.float32))
    assert y.shape == (4, 0) and mean.shape == (0,)
    c = 3
    ones = np.ones(c, np.float32)
    assert N.batch_norm_inference(np.zeros((0, c), np.float32), ones, ones).shape == (0, c)
    dx, dg, db = N.batch_norm_backward(np.zeros((0, c), np.float32), np.zeros((0, c), np.float32), ones, ones)
    assert dx.shape == (0, c)
    np.testing.assert_array_equal(dg, np.zeros(c))


# ----------------------------------------------------------------------------- errors
def test_errors():
    x = np.zeros((4, 3), np.float32)
    c3 = np.ones(3, np.float32)
    with pytest.raises(ValueError, match="axis 2 is out of range"):
        N.batch_norm_train(x, axis=2)
    with pytest.raises(ValueError, match=r"'gamma' has shape \(4,\), expected \(3,\)"):
        N.batch_norm_train(x, np.ones(4, np.float32))
    with pytest.raises(ValueError, match="both moving_mean and moving_variance"):
        N.batch_norm_train(x, moving_mean=c3.copy())
    with pytest.raises(TypeError, match="float32"):
        N.batch_norm_train(x.astype(np.float64))
    with pytest.raises(TypeError, match="float32"):
        N.batch_norm_train(x, beta=np.ones(3))
    ro = c3.copy()
    ro.setflags(write=False)
    with pytest.raises(ValueError, match="read-only"):
        N.batch_norm_train(x, moving_mean=ro, moving_variance=c3.copy())
    with pytest.raises(ValueError, match="no elements"):
        N.batch_norm_train(np.zeros((0, 3), np.float32))
    with pytest.raises(ValueError, match="epsilon"):
        N.batch_norm_train(x, epsilon=-1.0)
    with pytest.raises(ValueError, match=r"'dy' has shape \(4, 2\), expected \(4, 3\)"):
        N.batch_norm_backward(np.zeros((4, 2), np.float32), x, c3, c3)
    with pytest.raises(ValueError, match="'mean'"):
        N.batch_norm_backward(x, x, np.ones(2, np.float32), c3)
    with pytest.raises(ValueError, match="moving_mean and moving_variance are required"):
        N.batch_norm_inference(x, None, c3)
    with pytest.raises(TypeError, match="C-contiguous"):
        N.batch_norm_inference(np.zeros((3, 8), np.float32)[:, ::2], c3, c3, axis=0)


# ----------------------------------------------------------------------------- Keras
@pytest.mark.keras_reference
@pytest.mark.parametrize("shape,axis", [((8, 5, 5, 6), -1), ((4, 6, 3, 3), 1)])
def test_matches_keras_batch_normalization(monkeypatch, shape, axis):
    monkeypatch.setenv("KERAS_BACKEND", "jax")
    keras = pytest.importorskip("keras")
    jax = pytest.importorskip("jax")
    x = rand(shape, 18, loc=2.0)
    dy = rand(shape, 19)
    c = shape[axis]
    gamma, beta, mm, mv = params(c, 20)
    layer = keras.layers.BatchNormalization(axis=axis, momentum=0.9, epsilon=1e-3)
    layer.build(shape)
    layer.gamma.assign(gamma)
    layer.beta.assign(beta)
    layer.moving_mean.assign(mm)
    layer.moving_variance.assign(mv)
    tw = [v.value for v in layer.trainable_variables]
    ntw = [v.value for v in layer.non_trainable_variables]

    def f(xv, w):
        return layer.stateless_call(w, ntw, xv, training=True)

    y_k, new_state = f(x, tw)
    _, pullback = jax.vjp(lambda xv, w: f(xv, w)[0], x, tw)
    dx_k, dw_k = pullback(dy)
    names = [v.path.split("/")[-1] for v in layer.trainable_variables]
    grads_k = dict(zip(names, dw_k))
    state_k = dict(zip([v.path.split("/")[-1] for v in layer.non_trainable_variables], new_state))

    mmt, mvt = mm.copy(), mv.copy()
    y, mean, inv = N.batch_norm_train(x, gamma, beta, mmt, mvt, axis=axis, momentum=0.9, epsilon=1e-3)
    dx, dgamma, dbeta = N.batch_norm_backward(dy, x, mean, inv, gamma, axis=axis)
    np.testing.assert_allclose(y, np.asarray(y_k), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(mmt, np.asarray(state_k["moving_mean"]), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(mvt, np.asarray(state_k["moving_variance"]), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(dx, np.asarray(dx_k), rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(dgamma, np.asarray(grads_k["gamma"]), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(dbeta, np.asarray(grads_k["beta"]), rtol=1e-4, atol=1e-4)

"""Losses against float64 numpy references of Keras 3's formulas: every function (and its
classic alias), the Loss classes with from_logits / label_smoothing / reductions / sample
weights, gradients through the tape against finite differences, `losses.get`, and clear errors
for labels of the wrong shape."""
import os

import numpy as np
import pytest

from pykeras import backend as K
from pykeras import losses

EPS = 1e-7
rng = np.random.default_rng(1)


def _softmax(z):
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def ref_cce(t, p):
    p = p / p.sum(-1, keepdims=True)
    return -np.sum(t * np.log(np.clip(p, EPS, 1 - EPS)), -1)


def ref_bce(t, p):
    p = np.clip(p, EPS, 1 - EPS)
    return np.mean(-(t * np.log(p) + (1 - t) * np.log(1 - p)), -1)


def _pm1(t):
    return 2 * t - 1 if np.all((t == 0) | (t == 1)) else t


REFS = {
    "mean_squared_error": lambda t, p: np.mean((t - p) ** 2, -1),
    "mean_absolute_error": lambda t, p: np.mean(np.abs(t - p), -1),
    "mean_absolute_percentage_error": lambda t, p: 100 * np.mean(np.abs((t - p) / np.maximum(np.abs(t), EPS)), -1),
    "mean_squared_logarithmic_error": lambda t, p: np.mean(
        (np.log(np.maximum(p, EPS) + 1) - np.log(np.maximum(t, EPS) + 1)) ** 2, -1),
    "log_cosh": lambda t, p: np.mean(np.log(np.cosh(p - t)), -1),
    "huber": lambda t, p: np.mean(np.where(np.abs(p - t) <= 1, 0.5 * (p - t) ** 2, np.abs(p - t) - 0.5), -1),
    "poisson": lambda t, p: np.mean(p - t * np.log(p + EPS), -1),
    "kl_divergence": lambda t, p: np.sum(np.clip(t, EPS, 1) * np.log(np.clip(t, EPS, 1) / np.clip(p, EPS, 1)), -1),
    "cosine_similarity": lambda t, p: -np.sum(t * p, -1) / np.linalg.norm(t, axis=-1) / np.linalg.norm(p, axis=-1),
    "hinge": lambda t, p: np.mean(np.maximum(1 - _pm1(t) * p, 0), -1),
    "squared_hinge": lambda t, p: np.mean(np.maximum(1 - _pm1(t) * p, 0) ** 2, -1),
    "categorical_hinge": lambda t, p: np.maximum(np.max((1 - t) * p, -1) - np.sum(t * p, -1) + 1, 0),
}
ALIASES = {"mse": "mean_squared_error", "MSE": "mean_squared_error", "mae": "mean_absolute_error",
           "mape": "mean_absolute_percentage_error", "msle": "mean_squared_logarithmic_error",
           "logcosh": "log_cosh", "kld": "kl_divergence", "KLD": "kl_divergence",
           "kullback_leibler_divergence": "kl_divergence", "cosine_proximity": "cosine_similarity"}


def _data(name, shape=(6, 5)):
    if name in ("hinge", "squared_hinge"):
        return rng.integers(0, 2, shape).astype(np.float64), rng.standard_normal(shape)
    if name == "categorical_hinge":
        return np.eye(shape[-1])[rng.integers(0, shape[-1], shape[0])], rng.standard_normal(shape)
    if name in ("kl_divergence",):
        return _softmax(rng.standard_normal(shape)), _softmax(rng.standard_normal(shape))
    t = rng.uniform(0.1, 2.0, shape)
    p = rng.uniform(0.1, 2.0, shape) if name != "huber" else t + rng.standard_normal(shape) * 1.5
    return t, p


@pytest.mark.parametrize("name", sorted(REFS) + sorted(ALIASES))
def test_loss_function_matches_reference(name):
    ref = REFS[ALIASES.get(name, name)]
    t, p = _data(ALIASES.get(name, name))
    fn = losses.get(name)
    got = np.asarray(fn(t.astype(np.float32), p.astype(np.float32)))
    assert got.shape == (t.shape[0],)
    np.testing.assert_allclose(got, ref(t, p), rtol=3e-5, atol=2e-6)


def test_crossentropies_match_reference():
    logits = rng.standard_normal((8, 4))
    p = _softmax(logits)
    labels = rng.integers(0, 4, 8)
    onehot = np.eye(4)[labels]
    f32 = np.float32
    np.testing.assert_allclose(np.asarray(losses.categorical_crossentropy(onehot.astype(f32), p.astype(f32))),
                               ref_cce(onehot, p), rtol=2e-5)
    np.testing.assert_allclose(
        np.asarray(losses.categorical_crossentropy(onehot.astype(f32), logits.astype(f32), from_logits=True)),
        ref_cce(onehot, p), rtol=2e-5)
    np.testing.assert_allclose(np.asarray(losses.sparse_categorical_crossentropy(labels, p.astype(f32))),
                               ref_cce(onehot, p), rtol=2e-5)
    np.testing.assert_allclose(np.asarray(losses.sparse_categorical_crossentropy(labels[:, None], logits.astype(f32),
                                                                                 from_logits=True)),
                               ref_cce(onehot, p), rtol=2e-5)
    smooth = onehot * 0.8 + 0.2 / 4
    np.testing.assert_allclose(
        np.asarray(losses.categorical_crossentropy(onehot.astype(f32), p.astype(f32), label_smoothing=0.2)),
        ref_cce(smooth, p), rtol=2e-5)
    tb = rng.integers(0, 2, (8, 3)).astype(np.float64)
    pb = rng.uniform(0.02, 0.98, (8, 3))
    np.testing.assert_allclose(np.asarray(losses.binary_crossentropy(tb.astype(f32), pb.astype(f32))), ref_bce(tb, pb),
                               rtol=2e-5)
    np.testing.assert_allclose(
        np.asarray(losses.binary_crossentropy(tb.astype(f32), np.log(pb / (1 - pb)).astype(f32), from_logits=True)),
        ref_bce(tb, pb), rtol=2e-5)
    np.testing.assert_allclose(
        np.asarray(losses.binary_crossentropy(tb.astype(f32), pb.astype(f32), label_smoothing=0.1)),
        ref_bce(tb * 0.9 + 0.05, pb), rtol=2e-5)
    ignore = losses.sparse_categorical_crossentropy(np.array([0, 3, 1]), p[:3].astype(f32), ignore_class=3)
    np.testing.assert_allclose(np.asarray(ignore), [ref_cce(np.eye(4)[[0]], p[:1])[0], 0.0,
                                                    ref_cce(np.eye(4)[[1]], p[2:3])[0]], rtol=2e-5)


def test_loss_classes_reduction_and_sample_weight():
    t, p = _data("mean_squared_error", (6, 3))
    per = REFS["mean_squared_error"](t, p)
    w = rng.uniform(0, 2, 6)
    f32 = np.float32
    mse = losses.MeanSquaredError()
    assert mse.name == "mean_squared_error" and mse.reduction == "sum_over_batch_size"
    assert float(mse(t.astype(f32), p.astype(f32))) == pytest.approx(per.mean(), rel=1e-5)
    assert float(mse(t.astype(f32), p.astype(f32), sample_weight=w.astype(f32))) == pytest.approx(
        np.sum(per * w) / 6, rel=1e-5)
    assert float(losses.MeanSquaredError(reduction="sum")(t.astype(f32), p.astype(f32))) == pytest.approx(
        per.sum(), rel=1e-5)
    mw = losses.MeanSquaredError(reduction="mean_with_sample_weight")
    assert float(mw(t.astype(f32), p.astype(f32), sample_weight=w.astype(f32))) == pytest.approx(
        np.sum(per * w) / w.sum(), rel=1e-5)
    none = losses.MeanSquaredError(reduction=None)(t.astype(f32), p.astype(f32))
    np.testing.assert_allclose(np.asarray(none), per, rtol=1e-5)
    with pytest.raises(ValueError, match="reduction"):
        losses.MeanSquaredError(reduction="average")


def test_loss_class_options_and_config():
    logits = rng.standard_normal((5, 3)).astype(np.float32)
    labels = rng.integers(0, 3, 5)
    cce = losses.CategoricalCrossentropy(from_logits=True, label_smoothing=0.1)
    onehot = np.eye(3)[labels]
    want = ref_cce(onehot * 0.9 + 0.1 / 3, _softmax(logits.astype(np.float64))).mean()
    assert float(cce(onehot.astype(np.float32), logits)) == pytest.approx(want, rel=1e-5)
    scce = losses.SparseCategoricalCrossentropy(from_logits=True)
    assert float(scce(labels, logits)) == pytest.approx(ref_cce(onehot, _softmax(logits.astype(np.float64))).mean(),
                                                        rel=1e-5)
    h = losses.Huber(delta=0.5)
    t, p = np.zeros((4, 2), np.float32), rng.standard_normal((4, 2)).astype(np.float32)
    e = np.abs(p.astype(np.float64))
    assert float(h(t, p)) == pytest.approx(np.mean(np.where(e <= 0.5, 0.5 * e**2, 0.5 * e - 0.125)), rel=1e-5)
    for obj in (cce, scce, h, losses.BinaryCrossentropy(label_smoothing=0.2), losses.CosineSimilarity(axis=-1)):
        clone = type(obj).from_config(obj.get_config())
        assert clone.get_config() == obj.get_config()
    assert losses.Huber().name == "huber_loss" and losses.BinaryCrossentropy().name == "binary_crossentropy"


@pytest.mark.parametrize("name", ["mean_squared_error", "mean_absolute_percentage_error", "log_cosh", "huber",
                                  "poisson", "kl_divergence", "cosine_similarity", "squared_hinge",
                                  "categorical_crossentropy", "binary_crossentropy"])
def test_gradient_matches_finite_differences(name):
    if name == "categorical_crossentropy":
        t = np.eye(4)[rng.integers(0, 4, 3)]
        p = _softmax(rng.standard_normal((3, 4)))
        ref = ref_cce
    elif name == "binary_crossentropy":
        t = rng.integers(0, 2, (3, 4)).astype(np.float64)
        p = rng.uniform(0.1, 0.9, (3, 4))
        ref = ref_bce
    else:
        t, p = _data(name, (3, 4))
        ref = REFS[name]
    x = K.Variable(p.astype(np.float32))
    with K.GradientTape() as tape:
        loss = K.sum(losses.get(name)(t.astype(np.float32), x))
    grad = np.asarray(tape.gradient(loss, x), dtype=np.float64)
    h = 1e-5
    num = np.zeros_like(p)
    for idx in np.ndindex(p.shape):
        up, down = p.copy(), p.copy()
        up[idx] += h
        down[idx] -= h
        num[idx] = (ref(t, up).sum() - ref(t, down).sum()) / (2 * h)
    np.testing.assert_allclose(grad, num, rtol=2e-3, atol=2e-4)


def test_get_and_errors():
    assert losses.get("mse") is losses.mean_squared_error
    assert isinstance(losses.get("CategoricalCrossentropy"), losses.CategoricalCrossentropy)
    with pytest.raises(ValueError, match="Could not interpret loss identifier: 'mean_sqared_error'"):
        losses.get("mean_sqared_error")
    p = _softmax(rng.standard_normal((4, 3))).astype(np.float32)
    with pytest.raises(ValueError, match="must have the same shape up until the last dimension"):
        losses.sparse_categorical_crossentropy(np.eye(3)[[0, 1, 2, 0]], p)
    with pytest.raises(ValueError, match=r"must have the same shape.*sparse_categorical_crossentropy"):
        losses.categorical_crossentropy(np.array([0.0, 1.0, 2.0, 1.0]), p)
    with pytest.raises(ValueError, match="labels must lie in"):
        losses.sparse_categorical_crossentropy(np.array([0, 1, 5, 0]), p)
    with pytest.raises(ValueError, match="same shape"):
        losses.mean_squared_error(np.zeros((4, 2), np.float32), p)


@pytest.mark.keras_reference
@pytest.mark.parametrize("name", sorted(REFS) + ["categorical_crossentropy", "binary_crossentropy"])
def test_against_real_keras(name):
    os.environ.setdefault("KERAS_BACKEND", "jax")
    keras = pytest.importorskip("keras")
    if name in ("categorical_crossentropy", "binary_crossentropy"):
        t = np.eye(4)[rng.integers(0, 4, 6)].astype(np.float32)
        p = _softmax(rng.standard_normal((6, 4))).astype(np.float32)
    else:
        t, p = (a.astype(np.float32) for a in _data(name))
    kfn = getattr(keras.losses, name)
    np.testing.assert_allclose(np.asarray(losses.get(name)(t, p)), np.asarray(kfn(t, p)), rtol=2e-5, atol=2e-6)

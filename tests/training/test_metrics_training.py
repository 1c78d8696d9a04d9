"""Metrics against float64 numpy references of Keras's formulas: per-sample functions, stateful
accumulation over several batches, sample weights, reset, names and `metrics.get`."""
import numpy as np
import pytest

from pykeras import metrics

EPS = 1e-7
rng = np.random.default_rng(0)


def _probs(n, c):
    z = rng.standard_normal((n, c))
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


# -- float64 references (Keras 3 formulas) --------------------------------------------------------
def ref_bce(t, p):
    p = np.clip(p, EPS, 1 - EPS)
    return np.mean(-(t * np.log(p) + (1 - t) * np.log(1 - p)), -1)


def ref_cce(t, p):
    p = p / p.sum(-1, keepdims=True)
    return -np.sum(t * np.log(np.clip(p, EPS, 1 - EPS)), -1)


REGRESSION_REFS = {
    "mean_squared_error": lambda t, p: np.mean((t - p) ** 2, -1),
    "mean_absolute_error": lambda t, p: np.mean(np.abs(t - p), -1),
    "mean_absolute_percentage_error": lambda t, p: 100 * np.mean(np.abs((t - p) / np.maximum(np.abs(t), EPS)), -1),
    "mean_squared_logarithmic_error": lambda t, p: np.mean(
        (np.log(np.maximum(p, EPS) + 1) - np.log(np.maximum(t, EPS) + 1)) ** 2, -1),
    "log_cosh": lambda t, p: np.mean(np.log(np.cosh(p - t)), -1),
    "poisson": lambda t, p: np.mean(p - t * np.log(p + EPS), -1),
    "kl_divergence": lambda t, p: np.sum(np.clip(t, EPS, 1) * np.log(np.clip(t, EPS, 1) / np.clip(p, EPS, 1)), -1),
    "cosine_proximity": lambda t, p: -np.sum(t * p, -1) / np.linalg.norm(t, axis=-1) / np.linalg.norm(p, axis=-1),
    "huber": lambda t, p: np.mean(np.where(np.abs(p - t) <= 1, 0.5 * (p - t) ** 2, np.abs(p - t) - 0.5), -1),
}


@pytest.mark.parametrize("name", sorted(REGRESSION_REFS))
def test_regression_metric_functions(name):
    t = rng.uniform(0.1, 1.0, (7, 5))
    p = rng.uniform(0.1, 1.0, (7, 5)) * 1.8
    got = getattr(metrics, name)(t.astype(np.float32), p.astype(np.float32))
    np.testing.assert_allclose(got, REGRESSION_REFS[name](t, p), rtol=2e-5, atol=1e-6)
    assert got.shape == (7,)


def test_hinge_family_with_binary_labels_mapped_to_pm1():
    t01 = rng.integers(0, 2, (6, 4)).astype(np.float32)
    p = rng.standard_normal((6, 4)).astype(np.float32)
    tpm = 2 * t01 - 1
    np.testing.assert_allclose(metrics.hinge(t01, p), np.mean(np.maximum(1 - tpm * p, 0), -1), rtol=1e-6)
    np.testing.assert_allclose(metrics.squared_hinge(t01, p), np.mean(np.maximum(1 - tpm * p, 0) ** 2, -1), rtol=1e-6)
    onehot = np.eye(4, dtype=np.float32)[rng.integers(0, 4, 6)]
    pos = np.sum(onehot * p, -1)
    neg = np.max((1 - onehot) * p, -1)
    np.testing.assert_allclose(metrics.categorical_hinge(onehot, p), np.maximum(neg - pos + 1, 0), rtol=1e-6)


def test_crossentropy_metric_functions():
    p = _probs(8, 5)
    labels = rng.integers(0, 5, 8)
    onehot = np.eye(5)[labels]
    np.testing.assert_allclose(metrics.categorical_crossentropy(onehot, p), ref_cce(onehot, p), rtol=1e-5)
    np.testing.assert_allclose(metrics.sparse_categorical_crossentropy(labels, p), ref_cce(onehot, p), rtol=1e-5)
    np.testing.assert_allclose(metrics.sparse_categorical_crossentropy(labels[:, None], p), ref_cce(onehot, p),
                               rtol=1e-5)
    logits = rng.standard_normal((8, 5))
    np.testing.assert_allclose(metrics.categorical_crossentropy(onehot, logits, from_logits=True),
                               ref_cce(onehot, np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)), rtol=1e-5)
    tb = rng.integers(0, 2, (8, 3)).astype(np.float64)
    pb = rng.uniform(0.01, 0.99, (8, 3))
    np.testing.assert_allclose(metrics.binary_crossentropy(tb, pb), ref_bce(tb, pb), rtol=1e-5)
    np.testing.assert_allclose(metrics.binary_crossentropy(tb, np.log(pb / (1 - pb)), from_logits=True),
                               ref_bce(tb, pb), rtol=1e-5)


def test_accuracy_functions():
    p = np.array([[0.1, 0.6, 0.3], [0.5, 0.2, 0.3], [0.2, 0.3, 0.5], [0.4, 0.35, 0.25]])
    labels = np.array([1, 2, 2, 1])
    onehot = np.eye(3)[labels]
    np.testing.assert_array_equal(metrics.categorical_accuracy(onehot, p), [1, 0, 1, 0])
    np.testing.assert_array_equal(metrics.sparse_categorical_accuracy(labels, p), [1, 0, 1, 0])
    np.testing.assert_array_equal(metrics.sparse_categorical_accuracy(labels[:, None], p), [1, 0, 1, 0])
    np.testing.assert_array_equal(metrics.top_k_categorical_accuracy(onehot, p, k=2), [1, 1, 1, 1])
    np.testing.assert_array_equal(metrics.sparse_top_k_categorical_accuracy(labels, p, k=1), [1, 0, 1, 0])
    np.testing.assert_array_equal(metrics.sparse_top_k_categorical_accuracy(np.array([2, 1, 0, 2]), p, k=2),
                                  [1, 0, 0, 0])
    np.testing.assert_allclose(metrics.binary_accuracy(np.array([[1], [0], [1]]), np.array([[0.7], [0.6], [0.2]])),
                               [1, 0, 0])
    np.testing.assert_allclose(metrics.binary_accuracy(np.array([1, 0, 1]), np.array([[0.7], [0.4], [0.9]])), [1, 1, 1])
    np.testing.assert_allclose(
        metrics.binary_accuracy(np.array([[1, 0]]), np.array([[0.3, 0.1]]), threshold=0.35), [0.5])


def test_stateful_metrics_accumulate_over_batches_and_reset():
    m = metrics.SparseCategoricalAccuracy()
    assert m.name == "sparse_categorical_accuracy"
    hits = []
    for _ in range(4):
        p = _probs(9, 4)
        y = rng.integers(0, 4, 9)
        m.update_state(y, p)
        hits.append(np.argmax(p, -1) == y)
    assert float(m.result()) == pytest.approx(np.mean(np.concatenate(hits)), abs=1e-7)
    m.reset_state()
    assert float(m.result()) == 0.0


def test_sample_weighted_mean_metric():
    m = metrics.MeanSquaredError()
    num = den = 0.0
    for _ in range(3):
        t = rng.standard_normal((5, 2))
        p = rng.standard_normal((5, 2))
        w = rng.uniform(0, 2, 5)
        m.update_state(t, p, sample_weight=w)
        per = np.mean((t - p) ** 2, -1)
        num += np.sum(per * w)
        den += np.sum(w)
    assert float(m.result()) == pytest.approx(num / den, rel=1e-6)


def test_mean_and_sum():
    m = metrics.Mean()
    m.update_state([1.0, 2.0, 3.0])
    m.update_state([4.0], sample_weight=[3.0])
    assert float(m.result()) == pytest.approx((1 + 2 + 3 + 12) / 6)
    s = metrics.Sum()
    s.update_state([1.0, 2.0])
    s.update_state(np.ones((2, 2)))
    assert float(s.result()) == 7.0
    assert float(metrics.Mean()([2.0, 4.0])) == 3.0  # __call__ updates and returns the result


def test_metric_classes_names_and_values():
    t = rng.standard_normal((6, 3))
    p = rng.standard_normal((6, 3))
    assert metrics.RootMeanSquaredError()(t, p) == pytest.approx(np.sqrt(np.mean((t - p) ** 2)), rel=1e-6)
    cos = metrics.CosineSimilarity()(t, p)
    ref = np.mean(np.sum(t * p, -1) / np.linalg.norm(t, axis=-1) / np.linalg.norm(p, axis=-1))
    assert cos == pytest.approx(ref, rel=1e-5)
    expected = {
        metrics.Accuracy: "accuracy", metrics.BinaryAccuracy: "binary_accuracy",
        metrics.CategoricalAccuracy: "categorical_accuracy", metrics.TopKCategoricalAccuracy: "top_k_categorical_accuracy",
        metrics.SparseTopKCategoricalAccuracy: "sparse_top_k_categorical_accuracy",
        metrics.MeanAbsoluteError: "mean_absolute_error", metrics.KLDivergence: "kl_divergence",
        metrics.Precision: "precision", metrics.Recall: "recall", metrics.AUC: "auc",
    }
    for cls, name in expected.items():
        assert cls().name == name
    top2 = metrics.TopKCategoricalAccuracy(k=2)
    top2.update_state(np.eye(3)[[0, 1]], np.array([[0.5, 0.3, 0.2], [0.5, 0.1, 0.4]]))
    assert float(top2.result()) == 0.5


def test_precision_recall_auc():
    y = np.array([0, 1, 1, 1, 0, 0, 1, 0])
    p = np.array([0.6, 0.2, 0.7, 0.9, 0.1, 0.4, 0.55, 0.8])
    pred = p > 0.5
    tp = np.sum(pred & (y == 1))
    assert float(metrics.Precision()(y, p)) == pytest.approx(tp / pred.sum())
    assert float(metrics.Recall()(y, p)) == pytest.approx(tp / (y == 1).sum())
    # Exact ROC AUC by pair counting; 200 thresholds resolve these well-separated scores.
    pos, neg = p[y == 1], p[y == 0]
    exact = np.mean([(a > b) + 0.5 * (a == b) for a in pos for b in neg])
    assert float(metrics.AUC()(y, p)) == pytest.approx(exact, abs=1e-6)


def test_get_resolves_names_and_rejects_unknown():
    assert metrics.get("mse") is metrics.mean_squared_error
    assert metrics.get("MAE") is metrics.mean_absolute_error
    assert metrics.get("kld") is metrics.kl_divergence
    assert isinstance(metrics.get("CategoricalAccuracy"), metrics.CategoricalAccuracy)
    m = metrics.Mean()
    assert metrics.get(m) is m
    with pytest.raises(ValueError, match="Could not interpret metric identifier: 'acurracy'"):
        metrics.get("acurracy")


@pytest.mark.keras_reference
def test_confusion_metrics_against_real_keras():
    import os

    os.environ.setdefault("KERAS_BACKEND", "jax")
    keras = pytest.importorskip("keras")
    y = rng.integers(0, 2, 200)
    p = np.clip(y * 0.3 + rng.uniform(0, 0.7, 200), 0, 1)
    w = rng.uniform(0.5, 2.0, 200)
    for make in (lambda m: m.AUC(), lambda m: m.AUC(curve="PR"), lambda m: m.AUC(num_thresholds=13, summation_method="minoring"),
                 lambda m: m.AUC(curve="PR", summation_method="majoring"), lambda m: m.Precision(thresholds=[0.3, 0.6]),
                 lambda m: m.Recall()):
        ours, theirs = make(metrics), make(keras.metrics)
        ours.update_state(y[:120], p[:120], sample_weight=w[:120])
        ours.update_state(y[120:], p[120:], sample_weight=w[120:])
        theirs.update_state(y[:120], p[:120], sample_weight=w[:120])
        theirs.update_state(y[120:], p[120:], sample_weight=w[120:])
        np.testing.assert_allclose(ours.result(), np.asarray(theirs.result()), rtol=1e-5, atol=1e-6)

"""compile / fit / evaluate / predict and the *_on_batch methods on small real models: known
losses, exact optimizer steps, History keys, 'accuracy' resolution, data formats (arrays, lists,
dicts, generators, PyDataset), weights, validation, reproducibility and error messages."""
import numpy as np
import pytest

import pykeras
from pykeras import backend as K
from pykeras import layers, losses, metrics, optimizers
from pykeras.models import Model, Sequential
from pykeras.utils import PyDataset, Sequence, set_random_seed, to_categorical


def _linear_data(n=96, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 3)).astype(np.float32)
    y = (x @ np.array([[1.5], [-2.0], [0.5]]) + 0.25).astype(np.float32)
    return x, y


def _blobs(n=120, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, classes, n)
    centers = rng.standard_normal((classes, 4)) * 3
    x = (centers[labels] + rng.standard_normal((n, 4)) * 0.3).astype(np.float32)
    return x, labels


def _classifier(classes=3, activation="softmax", dropout=0.0):
    return Sequential([layers.Input((4,)), layers.Dense(16, activation="relu"), layers.Dropout(dropout),
                       layers.Dense(classes, activation=activation)])


def test_linear_regression_reaches_known_loss():
    x, y = _linear_data()
    model = Sequential([layers.Input((3,)), layers.Dense(1)])
    model.compile(optimizer=optimizers.SGD(learning_rate=0.1), loss="mse")
    hist = model.fit(x, y, batch_size=16, epochs=40, verbose=0)
    assert hist.history["loss"][-1] < 1e-6
    kernel, bias = model.get_weights()
    np.testing.assert_allclose(kernel[:, 0], [1.5, -2.0, 0.5], atol=1e-3)
    np.testing.assert_allclose(bias, [0.25], atol=1e-3)
    assert float(model.evaluate(x, y, verbose=0)) < 1e-6


def test_one_step_equals_numpy_gradient_descent():
    x, y = _linear_data(8)
    model = Sequential([layers.Input((3,)), layers.Dense(1)])
    model.compile(optimizer=optimizers.SGD(learning_rate=0.1), loss="mse")
    w, b = (a.astype(np.float64) for a in model.get_weights())
    err = x @ w + b - y  # d mean(err^2) / d pred = 2 err / n
    loss = model.train_on_batch(x, y)
    assert float(loss) == pytest.approx(float(np.mean(err**2)), rel=1e-5)
    g = 2 * err / len(x)
    np.testing.assert_allclose(model.get_weights()[0], w - 0.1 * x.T @ g, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model.get_weights()[1], b - 0.1 * g.sum(0), rtol=1e-5, atol=1e-6)


def test_history_keys_params_and_metric_values():
    x, labels = _blobs()
    y = to_categorical(labels, 3)
    model = _classifier()
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy", "mse"])
    hist = model.fit(x, y, batch_size=32, epochs=3, verbose=0, validation_split=0.25)
    assert list(hist.history) == ["accuracy", "loss", "mse", "val_accuracy", "val_loss", "val_mse"]
    assert hist.params == {"verbose": 0, "epochs": 3, "steps": 3}
    assert hist.epoch == [0, 1, 2] and hist is model.history
    result = model.evaluate(x[90:], y[90:], verbose=0)
    assert result == pytest.approx([hist.history["val_loss"][-1], hist.history["val_accuracy"][-1],
                                    hist.history["val_mse"][-1]], rel=1e-5)
    assert model.metrics_names == ["loss", "accuracy", "mse"]
    d = model.evaluate(x[90:], y[90:], verbose=0, return_dict=True)
    assert list(d) == ["accuracy", "loss", "mse"]
    p = model.predict(x[90:], verbose=0)
    acc = np.mean(np.argmax(p, -1) == labels[90:])
    assert d["accuracy"] == pytest.approx(acc)
    ref_loss = np.mean(-np.sum(y[90:] * np.log(np.clip(p, 1e-7, 1 - 1e-7)), -1))
    assert d["loss"] == pytest.approx(ref_loss, rel=1e-4)


@pytest.mark.parametrize("loss,target,activation,units,expected", [
    ("sparse_categorical_crossentropy", "sparse", "softmax", 3, metrics.SparseCategoricalAccuracy),
    ("categorical_crossentropy", "onehot", "softmax", 3, metrics.CategoricalAccuracy),
    ("binary_crossentropy", "binary", "sigmoid", 1, metrics.BinaryAccuracy),
    ("binary_crossentropy", "multilabel", "sigmoid", 3, metrics.BinaryAccuracy),
    ("mse", "sparse", "linear", 1, metrics.BinaryAccuracy),
])
def test_accuracy_resolution(loss, target, activation, units, expected):
    x, labels = _blobs()
    y = {"sparse": labels, "onehot": to_categorical(labels, 3), "binary": (labels > 0).astype(np.float32),
         "multilabel": to_categorical(labels, 3)}[target]
    model = _classifier(units, activation)
    model.compile(optimizer="rmsprop", loss=loss, metrics=["acc"])
    model.fit(x, y, epochs=1, verbose=0)
    m = [m for m in model.metrics if m.name == "acc"]
    assert len(m) == 1 and isinstance(m[0], expected)


def test_sparse_classification_learns():
    x, labels = _blobs(300)
    set_random_seed(1)
    model = _classifier(dropout=0.1)
    model.compile(optimizer=optimizers.Adam(learning_rate=0.01), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    hist = model.fit(x, labels, batch_size=32, epochs=15, verbose=0)
    assert hist.history["accuracy"][-1] > 0.95
    assert model.evaluate(x, labels, verbose=0)[1] > 0.95


def test_seeded_fit_is_reproducible():
    x, labels = _blobs(200)

    def run():
        set_random_seed(42)
        model = _classifier(dropout=0.3)
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        hist = model.fit(x, labels, batch_size=16, epochs=3, verbose=0, validation_split=0.2)
        return model.get_weights(), hist.history

    w1, h1 = run()
    w2, h2 = run()
    assert h1 == h2
    for a, b in zip(w1, w2):
        np.testing.assert_array_equal(a, b)


def test_predict_is_batched_into_one_array_and_matches_direct_call():
    x, _ = _blobs(77)
    model = _classifier()
    out = model.predict(x, batch_size=10, verbose=0)
    assert isinstance(out, np.ndarray) and out.shape == (77, 3) and out.dtype == np.float32
    np.testing.assert_allclose(out, np.asarray(model(x, training=False)), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model.predict_on_batch(x[:5]), out[:5], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.asarray(model(x[:5])), out[:5], rtol=1e-5, atol=1e-6)


def test_train_and_test_on_batch():
    x, labels = _blobs(32)
    model = _classifier()
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    loss, acc = model.test_on_batch(x, labels)
    before = model.get_weights()
    out = model.train_on_batch(x, labels, return_dict=True)
    assert sorted(out) == ["accuracy", "loss"] and out["loss"] == pytest.approx(loss, rel=1e-5)
    assert any(not np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
    weighted = model.train_on_batch(x, labels, class_weight={0: 1.0, 1: 0.0, 2: 0.0})
    assert isinstance(weighted, list) and len(weighted) == 2


def test_sample_weight_and_class_weight_scale_the_loss():
    x, y = _linear_data(10)
    model = Sequential([layers.Input((3,)), layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    pred = model.predict(x, verbose=0)
    per = np.mean((pred - y) ** 2, -1)
    w = np.linspace(0, 2, 10).astype(np.float32)
    got = model.evaluate(x, y, sample_weight=w, verbose=0, batch_size=10)
    assert got == pytest.approx(np.sum(per * w) / 10, rel=1e-5)
    xc, labels = _blobs(30)
    clf = _classifier()
    clf.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    p = clf.predict(xc, verbose=0)
    ce = -np.log(p[np.arange(30), labels])
    cw = {0: 2.0, 1: 0.5, 2: 1.0}
    loss = clf.train_on_batch(xc, labels, class_weight=cw)
    assert loss == pytest.approx(np.mean(ce * np.array([cw[c] for c in labels])), rel=1e-4)
    with pytest.raises(ValueError, match="class_weight"):
        clf.fit(xc, labels, class_weight=cw, sample_weight=np.ones(30), verbose=0)


def test_validation_split_uses_the_last_samples_and_validation_freq():
    x, y = _linear_data(40)
    model = Sequential([layers.Input((3,)), layers.Dense(1)])
    model.compile(optimizer=optimizers.SGD(learning_rate=0.0), loss="mse")  # frozen: losses are exact
    hist = model.fit(x, y, epochs=4, batch_size=8, verbose=0, validation_split=0.25, validation_freq=2)
    assert len(hist.history["val_loss"]) == 2 and len(hist.history["loss"]) == 4
    assert hist.history["val_loss"][0] == pytest.approx(model.evaluate(x[30:], y[30:], verbose=0), rel=1e-5)
    assert hist.history["loss"][0] == pytest.approx(model.evaluate(x[:30], y[:30], verbose=0), rel=1e-5)


def test_generators_and_pydataset_inputs():
    x, y = _linear_data(64)

    def gen():
        while True:
            for i in range(0, 64, 16):
                yield x[i:i + 16], y[i:i + 16]

    class Data(PyDataset):
        def __init__(self):
            super().__init__()
            self.epochs_ended = 0

        def __len__(self):
            return 4

        def __getitem__(self, i):
            return x[i * 16:(i + 1) * 16], y[i * 16:(i + 1) * 16]

        def on_epoch_end(self):
            self.epochs_ended += 1

    assert Sequence is PyDataset
    model = Sequential([layers.Input((3,)), layers.Dense(1)])
    model.compile(optimizer=optimizers.SGD(learning_rate=0.05), loss="mse")
    hist = model.fit(gen(), steps_per_epoch=4, epochs=3, verbose=0)
    assert hist.params["steps"] == 4 and len(hist.history["loss"]) == 3
    data = Data()
    hist = model.fit(data, epochs=2, verbose=0, validation_data=Data())
    assert data.epochs_ended == 2 and "val_loss" in hist.history
    assert model.evaluate(Data(), verbose=0) == pytest.approx(model.evaluate(x, y, verbose=0), rel=1e-5)
    assert model.predict(Data(), verbose=0).shape == (64, 1)
    finite = ((x[i:i + 16], y[i:i + 16]) for i in range(0, 64, 16))
    hist = model.fit(finite, epochs=1, verbose=0)  # runs until the generator is exhausted
    assert len(hist.history["loss"]) == 1
    with pytest.raises(ValueError, match="`y` should not be passed"):
        model.fit(Data(), y, verbose=0)


def test_multi_input_multi_output_functional_model():
    rng = np.random.default_rng(3)
    a = layers.Input((4,), name="a")
    b = layers.Input((2,), name="b")
    h = layers.Dense(8, activation="relu")(a)
    reg = layers.Dense(1, name="reg")(h)
    cls = layers.Dense(3, activation="softmax", name="cls")(layers.Dense(8)(b))
    model = Model(inputs=[a, b], outputs=[reg, cls])
    xa = rng.standard_normal((40, 4)).astype(np.float32)
    xb = rng.standard_normal((40, 2)).astype(np.float32)
    y_reg = xa.sum(-1, keepdims=True)
    y_cls = rng.integers(0, 3, 40)
    model.compile(optimizer="adam", loss={"reg": "mse", "cls": "sparse_categorical_crossentropy"},
                  loss_weights={"reg": 0.5, "cls": 2.0}, metrics={"cls": ["accuracy"], "reg": ["mae"]})
    hist = model.fit({"a": xa, "b": xb}, {"reg": y_reg, "cls": y_cls}, epochs=2, batch_size=8, verbose=0)
    assert list(hist.history) == ["cls_accuracy", "cls_loss", "loss", "reg_loss", "reg_mae"]
    res = model.evaluate([xa, xb], [y_reg, y_cls], verbose=0, return_dict=True, batch_size=40)
    pr, pc = model.predict([xa, xb], verbose=0)
    mse = np.mean((pr - y_reg) ** 2)
    ce = np.mean(-np.log(pc[np.arange(40), y_cls]))
    assert res["reg_loss"] == pytest.approx(mse, rel=1e-4) and res["cls_loss"] == pytest.approx(ce, rel=1e-4)
    assert res["loss"] == pytest.approx(0.5 * mse + 2.0 * ce, rel=1e-4)
    assert res["reg_mae"] == pytest.approx(np.mean(np.abs(pr - y_reg)), rel=1e-4)


def test_regularization_losses_are_added():
    x, y = _linear_data(16)
    model = Sequential([layers.Input((3,)), layers.Dense(1, kernel_regularizer=pykeras.regularizers.L2(0.5))])
    model.compile(optimizer="sgd", loss="mse")
    kernel, bias = model.get_weights()
    data = np.mean((x @ kernel + bias - y) ** 2)
    assert model.evaluate(x, y, verbose=0) == pytest.approx(data + 0.5 * np.sum(kernel**2), rel=1e-5)


def test_loss_objects_and_custom_functions_and_metric_objects():
    x, labels = _blobs(60)
    model = _classifier(activation="linear")

    def my_metric(y_true, y_pred):
        return np.mean(np.asarray(y_pred), -1)

    model.compile(optimizer=optimizers.RMSprop(learning_rate=0.01),
                  loss=losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=[metrics.SparseTopKCategoricalAccuracy(k=2), my_metric])
    hist = model.fit(x, labels, epochs=3, verbose=0)
    assert list(hist.history) == ["loss", "my_metric", "sparse_top_k_categorical_accuracy"]
    assert hist.history["loss"][-1] < hist.history["loss"][0]


@pytest.mark.parametrize("name", ["sgd", "rmsprop", "adam", "adagrad", "adadelta", "adamax", "nadam", "adamw"])
def test_every_optimizer_trains(name):
    x, y = _linear_data(64)
    model = Sequential([layers.Input((3,)), layers.Dense(1)])
    opt = optimizers.get(name)
    opt.learning_rate = 1.0 if name == "adadelta" else 0.05
    model.compile(optimizer=opt, loss="mse")
    hist = model.fit(x, y, epochs=5, batch_size=16, verbose=0)
    assert hist.history["loss"][-1] < hist.history["loss"][0]


def test_errors_are_clear():
    x, labels = _blobs(20)
    model = _classifier()
    with pytest.raises(ValueError, match="compile"):
        model.fit(x, labels, verbose=0)
    with pytest.raises(ValueError, match="Could not interpret optimizer identifier"):
        model.compile(optimizer="adamm", loss="mse")
    with pytest.raises(ValueError, match="Could not interpret loss identifier"):
        model.compile(optimizer="adam", loss="categorical_crossentropyy")
    with pytest.raises(ValueError, match="Could not interpret metric identifier"):
        model.compile(optimizer="adam", loss="mse", metrics=["acuracy"])
    model.compile(optimizer="adam", loss="categorical_crossentropy")
    with pytest.raises(ValueError, match="Data cardinality is ambiguous"):
        model.fit(x, to_categorical(labels[:15], 3), verbose=0)
    with pytest.raises(ValueError, match="sparse_categorical_crossentropy"):
        model.fit(x, labels, verbose=0)  # integer labels with categorical crossentropy
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    with pytest.raises(ValueError, match="up until the last dimension"):
        model.fit(x, to_categorical(labels, 3), verbose=0)
    with pytest.raises(TypeError, match="unexpected keyword"):
        model.fit(x, labels, epochz=3)
    with pytest.raises(ValueError, match="validation_data"):
        model.fit(x, labels, validation_data=(x,), verbose=0)


def test_stop_training_from_a_callback_ends_the_epoch_loop():
    x, y = _linear_data(32)
    model = Sequential([layers.Input((3,)), layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")

    class StopAt(pykeras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if batch == 1:
                self.model.stop_training = True

    hist = model.fit(x, y, batch_size=8, epochs=5, verbose=0, callbacks=[StopAt()])
    assert len(hist.history["loss"]) == 1
    assert int(np.asarray(model.optimizer.iterations)) == 2


def test_utils_to_categorical_and_normalize():
    np.testing.assert_array_equal(to_categorical([0, 2, 1]), np.eye(3)[[0, 2, 1]])
    assert to_categorical(np.array([[1], [0]]), 4).shape == (2, 4)
    assert to_categorical(np.zeros((2, 3), int), 5).shape == (2, 3, 5)
    with pytest.raises(ValueError):
        to_categorical([0, 3], num_classes=3)
    v = pykeras.utils.normalize(np.array([[3.0, 4.0], [0.0, 0.0]]))
    np.testing.assert_allclose(v, [[0.6, 0.8], [0.0, 0.0]])


def test_set_random_seed_makes_draws_repeat():
    set_random_seed(7)
    a = (np.random.rand(), K.random.uniform((3,)).numpy() if hasattr(K, "random") else None)
    set_random_seed(7)
    b = (np.random.rand(), K.random.uniform((3,)).numpy() if hasattr(K, "random") else None)
    assert a[0] == b[0]
    np.testing.assert_array_equal(a[1], b[1])
    with pytest.raises(ValueError):
        set_random_seed("seven")


def test_compile_config_round_trip():
    import json

    model = _classifier()
    model.compile(optimizer=optimizers.Adam(learning_rate=0.003, amsgrad=True),
                  loss=losses.SparseCategoricalCrossentropy(from_logits=False),
                  metrics=["accuracy", metrics.SparseTopKCategoricalAccuracy(k=2)])
    config = model.get_compile_config()
    json.dumps(config)  # JSON-ready
    other = _classifier()
    other.compile_from_config(json.loads(json.dumps(config)))
    assert isinstance(other.optimizer, optimizers.Adam) and other.optimizer.amsgrad
    assert float(np.asarray(other.optimizer.learning_rate)) == pytest.approx(0.003)
    x, labels = _blobs(40)
    hist = other.fit(x, labels, epochs=1, verbose=0)
    assert list(hist.history) == ["accuracy", "loss", "sparse_top_k_categorical_accuracy"]


@pytest.mark.keras_reference
@pytest.mark.parametrize("optimizer,loss,target", [
    ("adam", "sparse_categorical_crossentropy", "sparse"),
    ("rmsprop", "categorical_crossentropy", "onehot"),
])
def test_fit_matches_real_keras(optimizer, loss, target):
    import os

    os.environ.setdefault("KERAS_BACKEND", "jax")
    keras = pytest.importorskip("keras")
    x, labels = _blobs(64)
    y = labels if target == "sparse" else to_categorical(labels, 3)
    sw = np.linspace(0.5, 1.5, 64).astype(np.float32)

    def build(k):
        model = k.Sequential([k.layers.Input((4,)), k.layers.Dense(8, activation="tanh"),
                              k.layers.Dense(3, activation="softmax")])
        model.compile(optimizer=optimizer, loss=loss, metrics=["accuracy"])
        return model

    ours, theirs = build(pykeras), build(keras)
    theirs.set_weights(ours.get_weights())
    h1 = ours.fit(x, y, batch_size=16, epochs=3, shuffle=False, verbose=0, sample_weight=sw)
    h2 = theirs.fit(x, y, batch_size=16, epochs=3, shuffle=False, verbose=0, sample_weight=sw)
    assert list(h1.history) == list(h2.history)
    for key in h1.history:
        np.testing.assert_allclose(h1.history[key], h2.history[key], rtol=2e-4, atol=1e-5, err_msg=key)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, rtol=2e-4, atol=2e-5)
    np.testing.assert_allclose(ours.evaluate(x, y, verbose=0), theirs.evaluate(x, y, verbose=0), rtol=2e-4)


def test_shuffling_orders_and_exhausted_generator_warning():
    seen = []

    class Recorder(Model):
        def __init__(self):
            super().__init__()
            self.dense = layers.Dense(1)

        def call(self, x):
            seen.append(np.asarray(x)[:, 0].copy())
            return self.dense(x)

    x = np.repeat(np.arange(20, dtype=np.float32)[:, None], 2, axis=1)
    y = np.zeros((20, 1), np.float32)
    model = Recorder()
    model.compile(optimizer="sgd", loss="mse")
    model(x[:1])  # builds the model (its first calls may see placeholder data)
    seen.clear()
    model.fit(x, y, batch_size=5, epochs=1, shuffle=False, verbose=0)
    assert [b.tolist() for b in seen] == [list(range(i, i + 5)) for i in range(0, 20, 5)]
    for shuffle in (True, "batch"):
        seen.clear()
        set_random_seed(0)
        model.fit(x, y, batch_size=5, epochs=2, shuffle=shuffle, verbose=0)
        epochs = [np.concatenate(seen[:4]), np.concatenate(seen[4:])]
        for e in epochs:
            assert sorted(e.tolist()) == list(range(20))  # every sample once per epoch
        assert epochs[0].tolist() != list(range(20))
        if shuffle == "batch":  # whole batches move together
            assert all(b.tolist() == list(range(int(b[0]), int(b[0]) + 5)) for b in seen)
    finite = ((x[i:i + 5], y[i:i + 5]) for i in range(0, 20, 5))
    with pytest.warns(UserWarning, match="ran out of data"):
        hist = model.fit(finite, epochs=3, verbose=0)
    assert len(hist.history["loss"]) == 1

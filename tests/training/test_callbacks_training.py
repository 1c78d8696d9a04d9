"""Callbacks: scheduling logic driven hook by hook against stub models (whose save/weights
methods record calls), and the same callbacks inside real `fit` runs."""
import csv
import math

import numpy as np
import pytest

from pykeras import callbacks as cb
from pykeras import layers, optimizers
from pykeras.models import Sequential


class StubModel:
    """Records weights/saves; weights are just the epoch counter so restores are visible."""

    def __init__(self, lr=0.1):
        self.stop_training = False
        self.weights = [np.array(0.0)]
        self.restored = None
        self.saved = []
        self.optimizer = optimizers.SGD(learning_rate=lr)
        self.metrics = []

    def get_weights(self):
        return [w.copy() for w in self.weights]

    def set_weights(self, w):
        self.restored = [x.copy() for x in w]
        self.weights = w

    def save(self, path, overwrite=True):
        self.saved.append(("model", path))

    def save_weights(self, path, overwrite=True):
        self.saved.append(("weights", path))


def drive(callback, model, values, key="val_loss"):
    """Runs train_begin / epoch_end(values) / train_end; returns the epoch at which it stopped."""
    callback.set_model(model)
    callback.on_train_begin()
    stopped = None
    for epoch, v in enumerate(values):
        model.weights = [np.array(float(epoch))]
        callback.on_epoch_begin(epoch)
        callback.on_epoch_end(epoch, {key: v, "loss": v})
        if model.stop_training:
            stopped = epoch
            break
    callback.on_train_end()
    return stopped


def test_early_stopping_patience_and_restore_best_weights():
    model = StubModel()
    es = cb.EarlyStopping(monitor="val_loss", patience=2, restore_best_weights=True)
    stopped = drive(es, model, [1.0, 0.8, 0.9, 0.85, 0.7, 0.6])
    assert stopped == 3 and es.stopped_epoch == 3  # no improvement on epochs 2 and 3
    assert es.best == 0.8 and es.best_epoch == 1
    assert float(model.restored[0]) == 1.0  # the weights of epoch 1


def test_early_stopping_min_delta_mode_max_baseline_start_from_epoch():
    model = StubModel()
    es = cb.EarlyStopping(monitor="val_accuracy", min_delta=0.05, patience=1)
    assert drive(es, model, [0.5, 0.53, 0.9], key="val_accuracy") == 1  # 0.03 < min_delta; mode auto -> max
    model = StubModel()
    es = cb.EarlyStopping(monitor="val_loss", patience=2, baseline=0.5)
    assert drive(es, model, [0.9, 0.8, 0.85, 0.86]) == 2  # improvements above the baseline do not reset patience
    assert drive(cb.EarlyStopping(monitor="val_loss", patience=2), StubModel(), [0.9, 0.8, 0.85, 0.86]) == 3
    model = StubModel()
    es = cb.EarlyStopping(monitor="val_loss", patience=0, start_from_epoch=3)
    assert drive(es, model, [1.0, 2.0, 3.0, 4.0, 5.0]) == 4
    with pytest.warns(UserWarning, match="not available"):
        drive(cb.EarlyStopping(monitor="val_missing", mode="min"), StubModel(), [1.0], key="loss")
    with pytest.raises(ValueError, match="mode='max'"):
        drive(cb.EarlyStopping(monitor="val_missing"), StubModel(), [1.0], key="loss")


def test_reduce_lr_on_plateau_after_patience_with_cooldown_and_min_lr():
    model = StubModel(lr=1.0)
    r = cb.ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=2, cooldown=1, min_lr=0.2)
    lrs = []
    r.set_model(model)
    r.on_train_begin()
    for epoch, v in enumerate([1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]):
        logs = {"val_loss": v}
        r.on_epoch_end(epoch, logs)
        lrs.append(float(np.asarray(model.optimizer.learning_rate)))
        assert logs["learning_rate"] == pytest.approx(lrs[-2] if len(lrs) > 1 else 1.0)
    # epoch 2 reduces (2 epochs without improvement); the cooldown epoch after a reduction resets the count
    # but still counts as a bad epoch once the cooldown is over (Keras's order), so every 2 epochs; min_lr bounds
    assert lrs == pytest.approx([1.0, 1.0, 0.5, 0.5, 0.25, 0.25, 0.2, 0.2])
    with pytest.raises(ValueError, match="factor"):
        cb.ReduceLROnPlateau(factor=1.5)


def test_learning_rate_scheduler_one_and_two_arguments():
    model = StubModel(lr=0.1)
    s = cb.LearningRateScheduler(lambda epoch, lr: lr * 0.5 if epoch > 0 else lr)
    s.set_model(model)
    seen = []
    for epoch in range(3):
        s.on_epoch_begin(epoch)
        logs = {}
        s.on_epoch_end(epoch, logs)
        seen.append(logs["learning_rate"])
    assert seen == pytest.approx([0.1, 0.05, 0.025])
    s = cb.LearningRateScheduler(lambda epoch: 0.01 * (epoch + 1))
    s.set_model(model)
    s.on_epoch_begin(4)
    assert float(np.asarray(model.optimizer.learning_rate)) == pytest.approx(0.05)
    bad = cb.LearningRateScheduler(lambda epoch, lr: "x")
    bad.set_model(model)
    with pytest.raises(ValueError, match="should be a float"):
        bad.on_epoch_begin(0)


def test_model_checkpoint_formats_paths_and_saves_best_only(tmp_path):
    model = StubModel()
    path = str(tmp_path / "ckpt-{epoch:02d}-{val_loss:.2f}.keras")
    mc = cb.ModelCheckpoint(path, monitor="val_loss", save_best_only=True)
    drive(mc, model, [0.5, 0.7, 0.4])
    assert model.saved == [("model", str(tmp_path / "ckpt-01-0.50.keras")),
                           ("model", str(tmp_path / "ckpt-03-0.40.keras"))]
    model = StubModel()
    mc = cb.ModelCheckpoint(str(tmp_path / "sub" / "w.weights.h5"), save_weights_only=True)
    drive(mc, model, [0.5, 0.7])
    assert model.saved == [("weights", str(tmp_path / "sub" / "w.weights.h5"))] * 2
    assert (tmp_path / "sub").is_dir()
    model = StubModel()
    mc = cb.ModelCheckpoint(str(tmp_path / "b{epoch}-{batch}.keras"), save_freq=3)
    mc.set_model(model)
    mc.on_epoch_begin(0)
    for batch in range(7):
        mc.on_train_batch_end(batch, {"loss": 1.0})
    assert [p for _, p in model.saved] == [str(tmp_path / "b1-3.keras"), str(tmp_path / "b1-6.keras")]
    with pytest.raises(ValueError, match=".keras"):
        cb.ModelCheckpoint(str(tmp_path / "model.txt"))
    with pytest.raises(ValueError, match=".weights.h5"):
        cb.ModelCheckpoint(str(tmp_path / "model.keras"), save_weights_only=True)


def test_terminate_on_nan():
    model = StubModel()
    t = cb.TerminateOnNaN()
    t.set_model(model)
    t.on_train_batch_end(0, {"loss": 1.0})
    assert not model.stop_training
    t.on_train_batch_end(1, {"loss": float("nan")})
    assert model.stop_training
    r = cb.TerminateOnNaN(raise_error=True)
    r.set_model(StubModel())
    with pytest.raises(RuntimeError, match="NaN or Inf loss"):
        r.on_train_batch_end(3, {"loss": math.inf})


def test_callback_list_dispatches_only_overridden_batch_hooks():
    calls = []

    class Counting(cb.Callback):
        def on_train_batch_end(self, batch, logs=None):
            calls.append(batch)

    lst = cb.CallbackList([Counting(), cb.Callback()], add_history=True, add_progbar=False, model=StubModel())
    assert len(lst._batch_targets["on_train_batch_end"]) == 1
    assert lst._batch_targets["on_test_batch_end"] == []
    lst.on_train_batch_end(5, {})
    assert calls == [5]
    assert any(isinstance(c, cb.History) for c in lst.callbacks)


# -- inside fit ------------------------------------------------------------------------------------
def _tiny_model(lr=0.05, optimizer=None):
    model = Sequential([layers.Input((3,)), layers.Dense(1)])
    model.compile(optimizer=optimizer or optimizers.SGD(learning_rate=lr), loss="mse")
    return model


def _regression_data(n=64, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 3)).astype(np.float32)
    y = (x @ np.array([[1.0], [-2.0], [0.5]]) + 0.3).astype(np.float32)
    return x, y


def test_lambda_callback_hooks_in_order():
    events = []
    lam = cb.LambdaCallback(
        on_train_begin=lambda logs: events.append("train_begin"),
        on_epoch_begin=lambda epoch, logs: events.append(f"epoch_begin {epoch}"),
        on_batch_begin=lambda batch, logs: events.append(f"batch_begin {batch}"),
        on_batch_end=lambda batch, logs: events.append(f"batch_end {batch} {sorted(logs)}"),
        on_epoch_end=lambda epoch, logs: events.append(f"epoch_end {epoch} {sorted(logs)}"),
        on_train_end=lambda logs: events.append("train_end"),
        on_test_begin=lambda logs: events.append("test_begin"),
        on_test_end=lambda logs: events.append("test_end"),
    )
    x, y = _regression_data(8)
    _tiny_model().fit(x, y, batch_size=4, epochs=2, verbose=0, callbacks=[lam], validation_data=(x, y), shuffle=False)
    assert events == [
        "train_begin",
        "epoch_begin 0", "batch_begin 0", "batch_end 0 ['loss']", "batch_begin 1", "batch_end 1 ['loss']",
        "test_begin", "test_end", "epoch_end 0 ['loss', 'val_loss']",
        "epoch_begin 1", "batch_begin 0", "batch_end 0 ['loss']", "batch_begin 1", "batch_end 1 ['loss']",
        "test_begin", "test_end", "epoch_end 1 ['loss', 'val_loss']",
        "train_end",
    ]


def test_early_stopping_in_fit_restores_best_weights():
    x, y = _regression_data()
    model = _tiny_model(lr=0.05)
    snapshots = []

    class Snap(cb.Callback):
        def on_epoch_end(self, epoch, logs=None):
            snapshots.append((logs["val_loss"], model.get_weights()))

    # validating against the untrained model's own predictions: val_loss is lowest early and rises
    y_val = model.predict(x, verbose=0) + 0.05
    es = cb.EarlyStopping(monitor="val_loss", patience=2, restore_best_weights=True)
    hist = model.fit(x, y, epochs=40, batch_size=16, verbose=0, validation_data=(x, y_val), callbacks=[Snap(), es])
    n = len(hist.history["loss"])
    assert n < 40 and es.stopped_epoch == n - 1
    best = int(np.argmin([v for v, _ in snapshots]))
    assert es.best_epoch == best and n - 1 - best == 2
    for got, want in zip(model.get_weights(), snapshots[best][1]):
        np.testing.assert_array_equal(got, want)


def test_reduce_lr_and_scheduler_in_fit():
    x, y = _regression_data()
    model = _tiny_model(lr=0.1)
    r = cb.ReduceLROnPlateau(monitor="loss", factor=0.5, patience=1, min_delta=10.0)  # never "improves"
    hist = model.fit(x, y, epochs=4, batch_size=32, verbose=0, callbacks=[r])
    # logged at the end of each epoch, before that epoch's reduction (Keras's order)
    assert hist.history["learning_rate"] == pytest.approx([0.1, 0.1, 0.05, 0.025])
    assert float(np.asarray(model.optimizer.learning_rate)) == pytest.approx(0.0125)
    model = _tiny_model(lr=0.1)
    s = cb.LearningRateScheduler(lambda epoch: 0.1 / (epoch + 1))
    hist = model.fit(x, y, epochs=3, batch_size=32, verbose=0, callbacks=[s])
    assert hist.history["learning_rate"] == pytest.approx([0.1, 0.05, 0.1 / 3])


def test_csv_logger_file_content(tmp_path):
    x, y = _regression_data()
    path = tmp_path / "log.csv"
    model = _tiny_model()
    model.compile(optimizer="sgd", loss="mse", metrics=["mae"])
    hist = model.fit(x, y, epochs=3, batch_size=16, verbose=0, validation_split=0.25,
                     callbacks=[cb.CSVLogger(str(path))])
    rows = list(csv.reader(open(path)))
    assert rows[0] == ["epoch", "loss", "mae", "val_loss", "val_mae"]
    assert [r[0] for r in rows[1:]] == ["0", "1", "2"]
    for i, r in enumerate(rows[1:]):
        assert float(r[1]) == pytest.approx(hist.history["loss"][i])
        assert float(r[4]) == pytest.approx(hist.history["val_mae"][i])
    model.fit(x, y, epochs=1, verbose=0, callbacks=[cb.CSVLogger(str(path), append=True, separator=";")])
    lines = open(path).read().splitlines()
    assert len(lines) == 5 and lines[-1].startswith("0;")


def test_terminate_on_nan_in_fit_stops_cleanly():
    x, y = _regression_data()
    y[5] = np.nan
    model = _tiny_model()
    hist = model.fit(x, y, epochs=5, batch_size=8, verbose=0, shuffle=False, callbacks=[cb.TerminateOnNaN()])
    assert len(hist.history["loss"]) == 1 and math.isnan(hist.history["loss"][0])


def test_model_checkpoint_in_fit_writes_loadable_files(tmp_path):
    x, y = _regression_data()
    model = _tiny_model()
    best = cb.ModelCheckpoint(str(tmp_path / "best.weights.h5"), monitor="loss", save_best_only=True,
                              save_weights_only=True)
    every = cb.ModelCheckpoint(str(tmp_path / "m-{epoch:02d}.keras"))
    model.fit(x, y, epochs=3, batch_size=16, verbose=0, callbacks=[best, every])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best.weights.h5", "m-01.keras", "m-02.keras",
                                                          "m-03.keras"]
    other = _tiny_model()
    other.load_weights(str(tmp_path / "best.weights.h5"))
    for a, b in zip(other.get_weights(), model.get_weights()):  # the loss fell every epoch: last is best
        np.testing.assert_array_equal(a, b)

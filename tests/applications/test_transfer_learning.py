"""Transfer learning with the applications, end to end as in Keras's guide: a frozen base
(its weights, BatchNormalization statistics included, stay exactly as they were, and its
BatchNormalization layers run in inference mode), a new head that learns, then unfreezing and
fine-tuning the whole network; and the `base(x, training=False)` pattern that keeps the base's
BatchNormalization in inference mode while its weights are fine-tuned."""
import numpy as np
import pytest

import pykeras
from pykeras import applications, layers

SIDE = 96


def _data(n=8, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 255, (n, SIDE, SIDE, 3)).astype(np.float32)
    y = rng.integers(0, classes, n)
    return x, y


def _classifier(base, training=None, classes=3):
    inp = pykeras.Input((SIDE, SIDE, 3))
    h = base(inp) if training is None else base(inp, training=training)
    h = layers.GlobalAveragePooling2D()(h)
    h = layers.Dropout(0.2)(h)
    return pykeras.Model(inp, layers.Dense(classes, activation="softmax", name="head")(h))


def _pretend_pretrained(base, x):
    """Gives every BatchNormalization layer the statistics of its inputs on `x`, as pretraining
    would (one training-mode pass with momentum 0): without it, randomly initialised bases in
    inference mode shrink their activations towards zero (as in Keras)."""
    norms = [layer for layer in base.layers if isinstance(layer, layers.BatchNormalization)]
    for layer in norms:
        layer.momentum = 0.0
    base(x, training=True)
    for layer in norms:
        layer.momentum = 0.99


def _snapshot(model):
    return [np.array(w, copy=True) for w in model.get_weights()]


def _changed(before, model):
    return [not np.array_equal(a, b) for a, b in zip(before, model.get_weights())]


@pytest.mark.parametrize("name", ["ResNet50", "MobileNet"])
def test_freeze_train_head_then_fine_tune(name):
    base = getattr(applications, name)(include_top=False, weights=None, input_shape=(SIDE, SIDE, 3))
    x, y = _data()
    x = getattr(applications, "resnet" if name == "ResNet50" else "mobilenet").preprocess_input(x)
    _pretend_pretrained(base, x)
    base.trainable = False
    model = _classifier(base)
    head = model.get_layer("head")
    assert [w.path for w in model.trainable_weights] == ["head/kernel", "head/bias"]
    assert all(not layer.trainable for layer in base.layers)

    # A frozen base runs its BatchNormalization layers in inference mode, even under training=True.
    probe = x[:4]
    np.testing.assert_array_equal(base(probe, training=True), base(probe, training=False))

    model.compile(optimizer=pykeras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy")
    base_before, head_before = _snapshot(base), _snapshot(head)
    history = model.fit(x, y, batch_size=8, epochs=2, verbose=0)
    assert not any(_changed(base_before, base)), "a frozen base must not change (moving statistics included)"
    assert all(_changed(head_before, head))
    assert np.all(np.isfinite(history.history["loss"]))

    # Unfreeze and fine-tune everything with a small learning rate: every base weight moves,
    # the BatchNormalization statistics included (the layers train again).
    base.trainable = True
    model.compile(optimizer=pykeras.optimizers.Adam(1e-5), loss="sparse_categorical_crossentropy")
    assert len(model.trainable_weights) == len(base.trainable_weights) + 2
    base_before = _snapshot(base)
    model.fit(x, y, batch_size=8, epochs=2, verbose=0)
    assert all(_changed(base_before, base))
    moving = [w for w in base.weights if "moving_" in w.path]
    assert moving and not any(w.trainable for w in moving)


def test_fine_tuning_with_training_false_keeps_batchnorm_in_inference_mode():
    base = applications.ResNet50(include_top=False, weights=None, input_shape=(SIDE, SIDE, 3))
    model = _classifier(base, training=False)
    model.compile(optimizer=pykeras.optimizers.SGD(1e-3), loss="sparse_categorical_crossentropy")
    x, y = _data(n=8, seed=1)
    x = applications.resnet.preprocess_input(x)
    _pretend_pretrained(base, x)
    before = {w.path: np.array(w, copy=True) for w in base.weights}
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    after = {w.path: np.asarray(w) for w in base.weights}
    for path in before:
        if "moving_" in path:
            np.testing.assert_array_equal(after[path], before[path], err_msg=path)
    assert not np.array_equal(after["conv5_block3_3_conv/kernel"], before["conv5_block3_3_conv/kernel"])
    assert not np.array_equal(after["conv5_block3_3_bn/gamma"], before["conv5_block3_3_bn/gamma"])


def test_feature_extraction_with_pooling_and_predict():
    base = applications.MobileNet(include_top=False, weights=None, input_shape=(SIDE, SIDE, 3), pooling="avg",
                                  alpha=0.5)
    x, _ = _data(n=5)
    features = base.predict(applications.mobilenet.preprocess_input(x), batch_size=2, verbose=0)
    assert features.shape == (5, 512)
    np.testing.assert_allclose(features[:2], base.predict(applications.mobilenet.preprocess_input(x[:2]),
                                                          verbose=0), rtol=1e-5, atol=1e-6)

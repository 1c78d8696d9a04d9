"""The new layer families against real Keras 3 (JAX backend) with identical weights: each layer's
outputs (and its training-mode outputs), a CNN mixing convolutions, batch normalization,
pooling, merges and activation layers (outputs, then every weight after one SGD step, which
checks the gradients and the moving statistics), and summary()/count_params() of the classic
mnist_cnn. Skipped when Keras is not installed."""
import os

import numpy as np
import pytest

import pykeras
from pykeras import backend as K

pytestmark = pytest.mark.keras_reference


@pytest.fixture(scope="module")
def keras():
    os.environ.setdefault("KERAS_BACKEND", "jax")
    return pytest.importorskip("keras")


LAYER_CASES = [
    ("Conv1D", dict(filters=3, kernel_size=3, padding="causal", dilation_rate=2, activation="tanh"), (2, 9, 2)),
    ("Conv1D", dict(filters=4, kernel_size=3, strides=2, padding="same", groups=2), (2, 9, 4)),
    ("Conv2D", dict(filters=4, kernel_size=(3, 2), strides=(2, 1), padding="same"), (2, 7, 6, 3)),
    ("Conv3D", dict(filters=2, kernel_size=2, padding="same"), (1, 3, 4, 3, 2)),
    ("DepthwiseConv1D", dict(kernel_size=3, depth_multiplier=2, padding="same"), (2, 7, 3)),
    ("DepthwiseConv2D", dict(kernel_size=3, strides=2, padding="same", depth_multiplier=2), (2, 7, 6, 3)),
    ("SeparableConv1D", dict(filters=4, kernel_size=3, depth_multiplier=2), (2, 8, 3)),
    ("SeparableConv2D", dict(filters=4, kernel_size=3, strides=2, padding="same", activation="relu"),
     (2, 7, 7, 3)),
    ("Conv1DTranspose", dict(filters=3, kernel_size=4, strides=2, padding="same", output_padding=1), (2, 5, 2)),
    ("Conv2DTranspose", dict(filters=3, kernel_size=3, strides=2), (2, 4, 3, 2)),
    ("Conv2DTranspose", dict(filters=2, kernel_size=4, strides=3, padding="same", output_padding=(2, 1)),
     (1, 3, 4, 2)),
    ("Conv2DTranspose", dict(filters=2, kernel_size=3, dilation_rate=2, padding="same"), (1, 4, 4, 2)),
    ("Conv3DTranspose", dict(filters=2, kernel_size=2, strides=2, padding="valid"), (1, 2, 2, 3, 2)),
    ("MaxPooling1D", dict(pool_size=3, strides=2, padding="same"), (2, 8, 3)),
    ("AveragePooling2D", dict(pool_size=3, strides=2, padding="same"), (2, 6, 7, 2)),
    ("AveragePooling3D", dict(pool_size=2, padding="same"), (1, 3, 4, 5, 2)),
    ("MaxPooling3D", dict(pool_size=(2, 1, 2)), (1, 4, 3, 4, 2)),
    ("GlobalAveragePooling2D", dict(keepdims=True), (2, 3, 4, 5)),
    ("GlobalMaxPooling1D", dict(), (2, 3, 4)),
    ("Cropping2D", dict(cropping=((1, 0), (0, 2))), (2, 4, 5, 2)),
    ("Cropping3D", dict(cropping=1), (1, 3, 4, 5, 2)),
    ("ZeroPadding2D", dict(padding=((1, 0), (2, 1))), (2, 3, 2, 2)),
    ("ZeroPadding1D", dict(padding=(0, 2)), (2, 3, 2)),
    ("UpSampling2D", dict(size=(2, 3), interpolation="bilinear"), (2, 3, 4, 2)),
    ("UpSampling3D", dict(size=(1, 2, 2)), (1, 2, 2, 2, 2)),
    ("UpSampling1D", dict(size=3), (2, 3, 2)),
    ("LeakyReLU", dict(negative_slope=0.2), (3, 5)),
    ("ELU", dict(alpha=0.7), (3, 5)),
    ("ReLU", dict(max_value=1.5, negative_slope=0.1, threshold=0.5), (3, 5)),
    ("PReLU", dict(shared_axes=[1]), (3, 4, 5)),
    ("Softmax", dict(axis=1), (3, 4, 5)),
    ("BatchNormalization", dict(axis=1, momentum=0.7), (4, 3, 5)),
    ("BatchNormalization", dict(center=False), (6, 4)),
]


@pytest.mark.parametrize("name,kwargs,shape", LAYER_CASES, ids=[c[0] for c in LAYER_CASES])
def test_layer_outputs_match_keras(keras, name, kwargs, shape):
    rng = np.random.RandomState(len(shape) + len(kwargs))
    x = rng.standard_normal(shape).astype(np.float32)
    ours, theirs = getattr(pykeras.layers, name)(**kwargs), getattr(keras.layers, name)(**kwargs)
    theirs.build(shape)
    ours.build(shape)
    assert [w.name for w in ours.weights] == [w.name for w in theirs.weights]
    weights = [rng.standard_normal(w.shape).astype(np.float32) * 0.5 for w in theirs.get_weights()]
    if name == "BatchNormalization":
        weights[-1] = np.abs(weights[-1]) + 0.5  # a variance
    ours.set_weights(weights)
    theirs.set_weights(weights)
    np.testing.assert_allclose(np.asarray(ours(x)), np.asarray(theirs(x)), rtol=1e-4, atol=1e-5)
    assert tuple(ours.compute_output_shape(shape)) == tuple(theirs.compute_output_shape(shape))
    if name == "BatchNormalization":  # the one layer here whose training mode differs
        np.testing.assert_allclose(np.asarray(ours(x, training=True)), np.asarray(theirs(x, training=True)),
                                   rtol=1e-4, atol=1e-4)
        for a, b in zip(ours.get_weights(), theirs.get_weights()):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def _mixed_cnn(lib):
    L = lib.layers
    inp = lib.Input((8, 8, 3), name="img")
    a = L.Conv2D(6, 3, padding="same", activation="relu", name="conv")(inp)
    a = L.BatchNormalization(name="bn")(a)
    b = L.SeparableConv2D(6, 3, padding="same", depth_multiplier=2, name="sep")(inp)
    b = L.LeakyReLU(negative_slope=0.1, name="leaky")(b)
    m = L.Add(name="add")([a, b])
    c = L.DepthwiseConv2D(3, strides=2, padding="same", name="dw")(m)
    c = L.PReLU(shared_axes=[1, 2], alpha_initializer="ones", name="prelu")(c)
    p = L.MaxPooling2D(name="maxpool")(m)
    q = L.AveragePooling2D(3, strides=2, padding="same", name="avgpool")(m)
    cat = L.Concatenate(name="cat")([c, p, q])
    t = L.Conv2DTranspose(4, 3, strides=2, padding="same", name="tconv")(cat)
    t = L.ELU(name="elu")(t)
    t = L.Cropping2D(1, name="crop")(L.ZeroPadding2D(1, name="pad")(t))
    u = L.Conv2D(4, 1, name="pointwise")(L.Multiply(name="mul")([L.Maximum(name="max")([c, p]), q]))
    u = L.UpSampling2D(name="up")(L.ReLU(max_value=6.0, name="relu6")(u))
    s = L.Subtract(name="sub")([t, u])
    g1 = L.GlobalAveragePooling2D(name="gap")(s)
    g2 = L.GlobalMaxPooling2D(name="gmp")(L.Average(name="avg")([t, L.Minimum(name="min")([t, u])]))
    d = L.Dot(axes=1, normalize=True, name="cos")([g1, g2])
    h = L.Concatenate(name="cat2")([g1, g2, d])
    out = L.Softmax(name="softmax")(L.Dense(3, name="head")(h))
    return lib.Model(inp, out, name="mixed_cnn")


def _sgd_step(model, x, y, lr):
    variables = model.trainable_weights
    with K.GradientTape() as tape:
        loss = K.mean(K.square(model(x, training=True) - y))
    grads = tape.gradient(loss, variables)
    for v, g in zip(variables, grads):
        v.assign(np.asarray(v) - lr * np.asarray(g))


def test_mixed_cnn_outputs_and_sgd_step_match_keras(keras):
    rng = np.random.RandomState(0)
    ours, theirs = _mixed_cnn(pykeras), _mixed_cnn(keras)
    assert [w.name for w in ours.weights] == [w.name for w in theirs.weights]
    assert [tuple(w.shape) for w in ours.weights] == [tuple(w.shape) for w in theirs.weights]
    weights = [rng.standard_normal(w.shape).astype(np.float32) * 0.4 for w in theirs.get_weights()]
    for i, w in enumerate(theirs.weights):
        if w.name == "moving_variance":
            weights[i] = np.abs(weights[i]) + 0.5
    ours.set_weights(weights)
    theirs.set_weights(weights)
    assert ours.count_params() == theirs.count_params()
    a, b = [], []
    ours.summary(print_fn=a.append, line_length=120)
    theirs.summary(print_fn=b.append, line_length=120)
    assert a == b, f"\n{a[0]}\n{b[0]}"
    x = rng.standard_normal((4, 8, 8, 3)).astype(np.float32)
    np.testing.assert_allclose(np.asarray(ours(x)), np.asarray(theirs(x)), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(np.asarray(ours(x, training=True)), np.asarray(theirs(x, training=True)),
                               rtol=1e-4, atol=1e-5)
    ours.set_weights(weights)
    theirs.set_weights(weights)
    y = rng.standard_normal((4, 3)).astype(np.float32)
    lr = 0.5
    theirs.compile(optimizer=keras.optimizers.SGD(learning_rate=lr), loss="mse")
    theirs.train_on_batch(x, y)
    _sgd_step(ours, x, y, lr)
    for a, b, w in zip(ours.get_weights(), theirs.get_weights(), theirs.weights):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5, err_msg=w.path)


def _masked_sequence_model(lib):
    """Masks from Embedding(mask_zero=True) through merges, BatchNormalization, an activation layer
    and the masked average (Softmax rejects a (batch, steps) mask on (batch, steps, features), in
    Keras too)."""
    L = lib.layers
    tokens = lib.Input((6,), dtype="int32", name="tokens")
    e = L.Embedding(12, 4, mask_zero=True, name="emb")(tokens)
    a = L.Dense(4, name="da")(e)
    b = L.Dense(4, name="db")(e)
    m = L.Concatenate(name="cat")([L.Maximum(name="max")([a, b]), L.Multiply(name="mul")([a, b]),
                                   L.Minimum(name="min")([a, e]), L.Add(name="add")([b, e])])
    m = L.BatchNormalization(name="bn")(m)
    m = L.LeakyReLU(negative_slope=0.2, name="leaky")(m)
    return lib.Model(tokens, L.GlobalAveragePooling1D(name="gap")(m), name="masked")


def test_masks_match_keras(keras):
    rng = np.random.RandomState(1)
    ours, theirs = _masked_sequence_model(pykeras), _masked_sequence_model(keras)
    weights = [rng.standard_normal(w.shape).astype(np.float32) for w in theirs.get_weights()]
    weights[-1] = np.abs(weights[-1]) + 0.5  # moving_variance
    ours.set_weights(weights)
    theirs.set_weights(weights)
    ids = np.array([[3, 1, 4, 1, 0, 0], [5, 9, 2, 6, 5, 3], [7, 0, 0, 0, 0, 0]], np.int32)
    np.testing.assert_allclose(np.asarray(ours(ids)), np.asarray(theirs(ids)), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(np.asarray(ours(ids, training=True)), np.asarray(theirs(ids, training=True)),
                               rtol=1e-4, atol=1e-5)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):  # masked batch statistics
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def _mnist_cnn(lib):
    L = lib.layers
    return lib.Sequential([
        lib.Input((28, 28, 1)),
        L.Conv2D(32, kernel_size=(3, 3), activation="relu", name="conv2d"),
        L.Conv2D(64, (3, 3), activation="relu", name="conv2d_1"),
        L.MaxPooling2D(pool_size=(2, 2), name="max_pooling2d"),
        L.Dropout(0.25, name="dropout"),
        L.Flatten(name="flatten"),
        L.Dense(128, activation="relu", name="dense"),
        L.Dropout(0.5, name="dropout_1"),
        L.Dense(10, activation="softmax", name="dense_1"),
    ], name="sequential")


def test_mnist_cnn_summary_and_count_params_match_keras(keras, monkeypatch):
    monkeypatch.setenv("COLUMNS", "100")
    ours, theirs = _mnist_cnn(pykeras), _mnist_cnn(keras)
    assert ours.count_params() == theirs.count_params() == 1199882
    for kwargs in ({}, {"show_trainable": True}):
        a, b = [], []
        ours.summary(print_fn=a.append, **kwargs)
        theirs.summary(print_fn=b.append, **kwargs)
        assert a == b, f"\n{a[0]}\n{b[0]}"

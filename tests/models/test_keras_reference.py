"""Same models, same weights, in pykeras and in real Keras 3 (JAX backend): outputs, weight
order and shapes, and the weights after one SGD step (which checks the gradients). Skipped
when Keras is not installed."""
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


def _mlp(lib):
    L = lib.layers
    inp = lib.Input((6,), name="x")
    h = L.Dense(8, activation="tanh", name="d1")(inp)
    h = L.LayerNormalization(name="ln")(h)
    h = L.Dense(8, activation="relu", name="d2")(h)
    h = L.Reshape((2, 4), name="r")(h)
    h = L.Permute((2, 1), name="p")(h)
    h = L.Flatten(name="f")(h)
    out = L.Dense(3, activation="softmax", name="out")(h)
    return lib.Model(inp, out, name="mlp")


def _embedding_model(lib):
    L = lib.layers
    return lib.Sequential([lib.Input((5,), dtype="int32"), L.Embedding(20, 4, name="emb"),
                           L.LayerNormalization(axis=[1, 2], name="ln2"), L.Flatten(name="flat"),
                           L.RepeatVector(2, name="rep"), L.Flatten(name="flat2"), L.Dense(2, name="head")],
                          name="emb_model")


def _sgd_step(model, x, y, lr):
    variables = model.trainable_weights
    with K.GradientTape() as tape:
        loss = K.mean(K.square(model(x, training=True) - y))
    grads = tape.gradient(loss, variables)
    for v, g in zip(variables, grads):
        v.assign(np.asarray(v) - lr * np.asarray(g))


@pytest.mark.parametrize("builder,make_input", [
    (_mlp, lambda rng: rng.standard_normal((7, 6)).astype(np.float32)),
    (_embedding_model, lambda rng: rng.randint(0, 20, size=(7, 5)).astype(np.int32)),
])
def test_outputs_and_sgd_step_match_keras(keras, builder, make_input):
    rng = np.random.RandomState(0)
    ours, theirs = builder(pykeras), builder(keras)
    assert [w.name for w in ours.weights] == [w.name for w in theirs.weights]
    assert [tuple(w.shape) for w in ours.weights] == [tuple(w.shape) for w in theirs.weights]
    weights = [rng.standard_normal(w.shape).astype(np.float32) * 0.5 for w in theirs.get_weights()]
    ours.set_weights(weights)
    theirs.set_weights(weights)
    x = make_input(rng)
    np.testing.assert_allclose(np.asarray(ours(x)), np.asarray(theirs(x)), rtol=1e-4, atol=1e-5)
    y = rng.standard_normal(np.asarray(theirs(x)).shape).astype(np.float32)
    lr = 0.1
    theirs.compile(optimizer=keras.optimizers.SGD(learning_rate=lr), loss="mse")
    theirs.train_on_batch(x, y)
    _sgd_step(ours, x, y, lr)
    for a, b, w in zip(ours.get_weights(), theirs.get_weights(), theirs.weights):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5, err_msg=w.name)

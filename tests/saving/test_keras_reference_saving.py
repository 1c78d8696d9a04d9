"""The reverse direction: files pykeras writes load in real Keras 3 (JAX) and predict the same.

Marked `keras_reference`; they skip cleanly where Keras cannot be imported. Covers the `.keras`
archive (architecture, weights, compile config and optimizer state), the legacy `.h5` file, and
weights-only files loaded into the same architecture built in Keras.
"""
import numpy as np
import pytest
from saving_helpers import LAYER_CASES, layer_case_inputs, predict, randomize_weights, scale_by_two

import pykeras
from pykeras import layers

pytestmark = pytest.mark.keras_reference
RTOL, ATOL = 2e-5, 2e-6


def _keras_predict(model, x):
    out = model.predict(x, verbose=0)
    return [np.asarray(o) for o in out] if isinstance(out, (list, tuple)) else np.asarray(out)


def _close(a, b, rtol=RTOL, atol=ATOL):
    if isinstance(a, list):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            _close(x, y, rtol, atol)
    else:
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=rtol, atol=atol)


def _mlp():
    model = pykeras.Sequential([pykeras.Input((6,)), layers.Dense(8, activation="relu",
                                                                   kernel_regularizer=pykeras.regularizers.L2(1e-3)),
                                layers.Dropout(0.2), layers.Dense(3, activation="softmax")], name="ref_mlp")
    randomize_weights(model, 1)
    return model, np.random.default_rng(1).normal(size=(4, 6)).astype("float32")


def _functional():
    a = pykeras.Input((5,), name="in_a")
    b = pykeras.Input((5,), name="in_b")
    shared = layers.Dense(6, activation="tanh", name="shared")
    inner = pykeras.Sequential([layers.Dense(4, activation="relu"), layers.Dense(3)], name="inner")
    out_a = layers.Dense(2, name="out_a")(inner(shared(a)))
    out_b = layers.Dense(1, activation="sigmoid", name="out_b")(shared(b))
    model = pykeras.Model([a, b], [out_a, out_b], name="ref_functional")
    randomize_weights(model, 2)
    rng = np.random.default_rng(2)
    return model, [rng.normal(size=(3, 5)).astype("float32"), rng.normal(size=(3, 5)).astype("float32")]


def _more_layers():
    inp = pykeras.Input((3, 4))
    h = layers.Flatten()(layers.Permute((2, 1))(inp))
    h = layers.LayerNormalization()(layers.Dense(6, kernel_constraint=pykeras.constraints.MaxNorm(2.0))(h))
    h = layers.Activation("elu")(layers.Reshape((2, 3))(h))
    out = layers.Dense(2)(layers.Flatten()(h))
    model = pykeras.Model(inp, out, name="ref_more")
    randomize_weights(model, 3)
    return model, np.random.default_rng(3).normal(size=(2, 3, 4)).astype("float32")


def _bn():
    if not hasattr(layers, "BatchNormalization"):
        return _mlp()
    model = pykeras.Sequential([pykeras.Input((5,)), layers.Dense(6), layers.BatchNormalization(),
                                layers.Dense(2)], name="ref_bn")
    randomize_weights(model, 4)
    return model, np.random.default_rng(4).normal(size=(3, 5)).astype("float32")


MODELS = {"mlp": _mlp, "functional": _functional, "more_layers": _more_layers, "bn": _bn}


@pytest.mark.parametrize("fmt", [".keras", ".h5"])
@pytest.mark.parametrize("name", sorted(MODELS))
def test_keras_loads_pykeras_model(name, fmt, tmp_path, keras_module):
    model, x = MODELS[name]()
    path = str(tmp_path / f"{name}{fmt}")
    model.save(path)
    kmodel = keras_module.saving.load_model(path)
    assert [layer.name for layer in kmodel.layers] == [layer.name for layer in model.layers]
    for a, b in zip(model.get_weights(), kmodel.get_weights()):
        np.testing.assert_array_equal(a, np.asarray(b))
    _close(_keras_predict(kmodel, x), predict(model, x))


@pytest.mark.parametrize("fmt", [".weights.h5", ".h5"])
@pytest.mark.parametrize("name", sorted(MODELS))
def test_keras_loads_pykeras_weights(name, fmt, tmp_path, keras_module):
    model, x = MODELS[name]()
    model.save(str(tmp_path / "arch.keras"))
    kmodel = keras_module.saving.load_model(str(tmp_path / "arch.keras"))
    for w in kmodel.weights:
        w.assign(np.zeros(w.shape, dtype="float32"))
    path = str(tmp_path / f"w{fmt}")
    model.save_weights(path)
    kmodel.load_weights(path)
    _close(_keras_predict(kmodel, x), predict(model, x))


@pytest.mark.parametrize("fmt", [".keras", ".h5"])
def test_keras_resumes_pykeras_training(fmt, tmp_path, keras_module):
    """Compile config and Adam state written by pykeras drive Keras's next step.

    Keras 3.15's legacy .h5 reader builds the optimizer on the model's own (empty) variable list,
    so from an .h5 file it restores only the iteration count and learning rate, for its own files
    too; the full state is compared for .keras only.
    """
    model = pykeras.Sequential([pykeras.Input((6,)), layers.Dense(8, activation="relu"),
                                layers.Dense(3, activation="softmax")], name="ref_resume")
    randomize_weights(model, 7)
    x = np.random.default_rng(7).normal(size=(4, 6)).astype("float32")
    model.compile(optimizer=pykeras.optimizers.Adam(learning_rate=0.01), loss="categorical_crossentropy",
                  metrics=["accuracy"])
    rng = np.random.default_rng(5)
    for _ in range(3):
        xb = rng.normal(size=(8, 6)).astype("float32")
        yb = np.eye(3, dtype="float32")[rng.integers(0, 3, size=8)]
        model.train_on_batch(xb, yb)
    path = str(tmp_path / f"c{fmt}")
    model.save(path)
    kmodel = keras_module.saving.load_model(path)
    assert isinstance(kmodel.optimizer, keras_module.optimizers.Adam)
    assert float(kmodel.optimizer.learning_rate) == pytest.approx(0.01)
    kvars = kmodel.optimizer.variables
    assert int(np.asarray(kvars[0])) == 3
    if fmt == ".h5":
        assert len(kvars) == 2
        return
    assert len(kvars) == len(model.optimizer.variables)
    for a, b in zip(model.optimizer.variables, kvars):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=0, atol=0)
    xb = rng.normal(size=(8, 6)).astype("float32")
    yb = np.eye(3, dtype="float32")[rng.integers(0, 3, size=8)]
    model.train_on_batch(xb, yb)
    kmodel.train_on_batch(xb, yb)
    _close(_keras_predict(kmodel, x), predict(model, x), rtol=1e-4, atol=1e-5)


def test_keras_reads_pykeras_json(keras_module):
    model, x = _functional()
    from pykeras import saving

    kmodel = keras_module.models.model_from_json(saving.model_to_json(model))
    kmodel.set_weights(model.get_weights())
    _close(_keras_predict(kmodel, x), predict(model, x))


def test_keras_registered_custom_layer(tmp_path, keras_module):
    """A custom class registered under the same "package>Name" in both libraries."""
    from pykeras import saving

    @saving.register_keras_serializable(package="ref_tests", name="Scale")
    class PyScale(layers.Layer):
        def __init__(self, factor=2.0, **kwargs):
            super().__init__(**kwargs)
            self.factor = factor

        def call(self, x):
            return x * self.factor

        def get_config(self):
            return {**super().get_config(), "factor": self.factor}

    @keras_module.saving.register_keras_serializable(package="ref_tests", name="Scale")
    class KScale(keras_module.layers.Layer):
        def __init__(self, factor=2.0, **kwargs):
            super().__init__(**kwargs)
            self.factor = factor

        def call(self, x):
            return x * self.factor

        def get_config(self):
            return {**super().get_config(), "factor": self.factor}

    inp = pykeras.Input((3,))
    model = pykeras.Model(inp, PyScale(0.5)(layers.Dense(3)(inp)))
    randomize_weights(model, 6)
    model.save(str(tmp_path / "custom.keras"))
    kmodel = keras_module.saving.load_model(str(tmp_path / "custom.keras"))
    x = np.ones((2, 3), np.float32)
    _close(_keras_predict(kmodel, x), predict(model, x))
    kmodel.save(str(tmp_path / "back.keras"))
    back = saving.load_model(str(tmp_path / "back.keras"))
    _close(predict(back, x), predict(model, x))


def test_nested_functional_models_both_ways(tmp_path, keras_module):
    """Keras numbers a nested functional model's calls from 1 in output_layers: both directions."""
    from pykeras import saving

    k = keras_module
    i = k.Input((3,))
    inner = k.Model(i, k.layers.Dense(2, name="inner_dense")(i), name="inner")
    x = k.Input((3,), name="x")
    h = k.layers.Dense(3, name="pre")(x)
    kmodel = k.Model(x, [inner(h), k.layers.Dense(2, name="post")(inner(x))], name="outer")
    xx = np.random.default_rng(8).normal(size=(2, 3)).astype("float32")
    kmodel.save(str(tmp_path / "k.keras"))
    loaded = saving.load_model(str(tmp_path / "k.keras"))
    _close(predict(loaded, xx), _keras_predict(kmodel, xx))

    pi = pykeras.Input((3,))
    pinner = pykeras.Model(pi, layers.Dense(2, name="inner_dense")(pi), name="inner")
    px = pykeras.Input((3,), name="x")
    ph = layers.Dense(3, name="pre")(px)
    pmodel = pykeras.Model(px, [pinner(ph), layers.Dense(2, name="post")(pinner(px))], name="outer")
    randomize_weights(pmodel, 9)
    pmodel.save(str(tmp_path / "p.keras"))
    _close(_keras_predict(k.saving.load_model(str(tmp_path / "p.keras")), xx), predict(pmodel, xx))


OPTIMIZERS = {
    "SGD": dict(learning_rate=0.05, momentum=0.9, nesterov=True),
    "RMSprop": dict(learning_rate=0.01, rho=0.8, momentum=0.5, centered=True),
    "Adam": dict(learning_rate=0.01, amsgrad=True),
    "AdamW": dict(learning_rate=0.01, weight_decay=0.02),
    "Adagrad": dict(learning_rate=0.1),
    "Adadelta": dict(learning_rate=1.0),
    "Adamax": dict(learning_rate=0.01),
    "Nadam": dict(learning_rate=0.01),
}


def _step_batches(n, seed):
    rng = np.random.default_rng(seed)
    return [(rng.normal(size=(8, 6)).astype("float32"), rng.normal(size=(8, 3)).astype("float32")) for _ in range(n)]


@pytest.mark.parametrize("direction", ["keras_to_pykeras", "pykeras_to_keras"])
@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_optimizer_state_crosses_over(name, direction, tmp_path, keras_module):
    """Train 3 steps in one library, save .keras, load in the other, take one more step in both:
    the slots line up (Keras's order, e.g. RMSprop's grouped velocity/momentum/average_gradient)."""
    from pykeras import saving

    k = keras_module
    batches = _step_batches(4, seed=len(name))
    kmodel = k.Sequential([k.Input((6,)), k.layers.Dense(5, activation="tanh"), k.layers.Dense(3)])
    pmodel = pykeras.Sequential([pykeras.Input((6,)), layers.Dense(5, activation="tanh"), layers.Dense(3)])
    randomize_weights(pmodel, 10)
    kmodel.set_weights(pmodel.get_weights())
    kmodel.compile(optimizer=getattr(k.optimizers, name)(**OPTIMIZERS[name]), loss="mean_squared_error")
    pmodel.compile(optimizer=getattr(pykeras.optimizers, name)(**OPTIMIZERS[name]), loss="mean_squared_error")
    path = str(tmp_path / "m.keras")
    if direction == "keras_to_pykeras":
        for xb, yb in batches[:3]:
            kmodel.train_on_batch(xb, yb)
        kmodel.save(path)
        first, second = kmodel, saving.load_model(path)
    else:
        for xb, yb in batches[:3]:
            pmodel.train_on_batch(xb, yb)
        pmodel.save(path)
        first, second = pmodel, k.saving.load_model(path)
    first.train_on_batch(*batches[3])
    second.train_on_batch(*batches[3])
    for a, b in zip(first.get_weights(), second.get_weights()):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-4, atol=1e-5)


# Layers Keras 3 dropped (pykeras keeps them with their Keras 2 meaning) cannot go through Keras 3.
KERAS2_ONLY = {"ThresholdedReLU"}
PER_LAYER = sorted(name for name in LAYER_CASES if hasattr(layers, name) and name not in KERAS2_ONLY)


def _build_case(lib, layers_module, name):
    factory, shapes, dtype = LAYER_CASES[name]
    ins = [lib.Input(shape=s, dtype=dtype) for s in shapes]
    out = factory(layers_module)(ins[0] if len(ins) == 1 else ins)
    return lib.Model(ins[0] if len(ins) == 1 else ins, out)


@pytest.mark.parametrize("fmt", [".keras", ".h5"])
@pytest.mark.parametrize("name", PER_LAYER)
def test_every_layer_type_both_ways(name, fmt, tmp_path, keras_module):
    """Each layer type: a Keras-made file predicts the same in pykeras, and a pykeras-made file
    predicts the same in Keras."""
    from pykeras import saving

    k = keras_module
    custom = {"scale_by_two": scale_by_two}
    x = layer_case_inputs(name)
    kmodel = _build_case(k, k.layers, name)
    rng = np.random.default_rng(12)
    kmodel.set_weights([rng.normal(size=w.shape).astype("float32") * 0.5 for w in kmodel.get_weights()])
    kmodel.save(str(tmp_path / f"k{fmt}"))
    loaded = saving.load_model(str(tmp_path / f"k{fmt}"), custom_objects=custom)
    assert type(loaded.layers[-1]).__name__ == name
    _close(predict(loaded, x), _keras_predict(kmodel, x))

    pmodel = _build_case(pykeras, layers, name)
    randomize_weights(pmodel, 13)
    pmodel.save(str(tmp_path / f"p{fmt}"))
    kloaded = k.saving.load_model(str(tmp_path / f"p{fmt}"), custom_objects=custom)
    _close(_keras_predict(kloaded, x), predict(pmodel, x))


def test_unregistered_custom_layer_with_custom_objects(tmp_path, keras_module):
    """A custom class known to neither registry: both loaders find it through custom_objects."""
    from pykeras import saving

    class Halve(layers.Layer):
        def call(self, x):
            return x * 0.5

    class KHalve(keras_module.layers.Layer):
        def call(self, x):
            return x * 0.5

    inp = pykeras.Input((3,))
    model = pykeras.Model(inp, Halve(name="halve")(layers.Dense(3)(inp)))
    randomize_weights(model, 14)
    model.save(str(tmp_path / "c.keras"))
    kmodel = keras_module.saving.load_model(str(tmp_path / "c.keras"), custom_objects={"Halve": KHalve})
    x = np.ones((2, 3), np.float32)
    _close(_keras_predict(kmodel, x), predict(model, x))
    back = saving.load_model(str(tmp_path / "c.keras"), custom_objects={"Halve": Halve})
    _close(predict(back, x), predict(model, x))

"""pykeras saves, pykeras loads: every layer type, Sequential / functional / nested / subclassed
models, in the .keras, legacy .h5 and weights-only formats, plus JSON and get_config round trips.

After loading, weights must be bitwise equal and predictions identical (same kernels, same
weights). Compiled models must come back compiled with the same optimizer state, so that one more
training step on the same batch gives bitwise the same weights.
"""
import json
import logging
import os

import numpy as np
import pytest
from saving_helpers import (LAYER_CASES, NOT_USER_LAYERS, assert_same_outputs, assert_same_weights, layer_case_inputs,
                            predict, randomize_weights, scale_by_two)

import pykeras
from pykeras import layers, saving


# ---- one small model per layer type (cases in saving_helpers.LAYER_CASES) ----------------------

AVAILABLE_CASES = sorted(name for name in LAYER_CASES if hasattr(layers, name))
CUSTOM = {"scale_by_two": scale_by_two}


def _layer_model(name):
    factory, shapes, dtype = LAYER_CASES[name]
    ins = [pykeras.Input(shape=s, dtype=dtype) for s in shapes]
    out = factory(layers)(ins[0] if len(ins) == 1 else ins)
    model = pykeras.Model(ins[0] if len(ins) == 1 else ins, out)
    randomize_weights(model, seed=len(name))
    return model, layer_case_inputs(name)


def test_every_layer_class_has_a_case():
    # Alternative names of a class (MaxPool2D for MaxPooling2D) are covered by its own case.
    exported = {name for name, obj in vars(layers).items()
                if isinstance(obj, type) and issubclass(obj, layers.Layer) and name not in NOT_USER_LAYERS
                and name == obj.__name__}
    exported |= {n for n in getattr(layers, "ALL_OBJECTS_DICT", {}) if n not in NOT_USER_LAYERS}
    missing = sorted(exported - set(LAYER_CASES))
    assert not missing, f"add a round-trip case to LAYER_CASES for: {missing}"


@pytest.mark.parametrize("fmt", [".keras", ".h5"])
@pytest.mark.parametrize("name", AVAILABLE_CASES)
def test_layer_round_trip(name, fmt, tmp_path):
    model, x = _layer_model(name)
    expected = predict(model, x)
    path = str(tmp_path / f"model{fmt}")
    model.save(path)
    loaded = saving.load_model(path, custom_objects=CUSTOM)
    assert type(loaded.layers[-1]).__name__ == name
    assert loaded.layers[-1].get_config() == model.layers[-1].get_config()
    assert_same_weights(model, loaded)
    assert_same_outputs(expected, predict(loaded, x))


@pytest.mark.parametrize("name", AVAILABLE_CASES)
def test_layer_weights_only_round_trip(name, tmp_path):
    model, x = _layer_model(name)
    for fname in ("w.weights.h5", "w.h5"):
        fresh, _ = _layer_model(name)
        randomize_weights(fresh, seed=99)
        model.save_weights(str(tmp_path / fname))
        fresh.load_weights(str(tmp_path / fname))
        assert_same_weights(model, fresh)
        assert_same_outputs(predict(model, x), predict(fresh, x))


# ---- whole models ----------------------------------------------------------------------------------

def _mlp():
    model = pykeras.Sequential([pykeras.Input((6,)), layers.Dense(8, activation="relu", name="hidden"),
                                layers.Dropout(0.2), layers.Dense(3, activation="softmax")], name="mlp")
    randomize_weights(model, 1)
    return model, np.random.default_rng(1).normal(size=(4, 6)).astype("float32")


def _sequential_built_by_call():
    model = pykeras.Sequential([layers.Dense(5, activation="tanh"), layers.Dense(2)])
    x = np.random.default_rng(2).normal(size=(3, 4)).astype("float32")
    model(x)
    randomize_weights(model, 2)
    return model, x


def _sequential_input_shape_kwarg():
    model = pykeras.Sequential([layers.Dense(5, input_shape=(3,)), layers.Activation("relu"), layers.Dense(1)])
    randomize_weights(model, 3)
    return model, np.random.default_rng(3).normal(size=(2, 3)).astype("float32")


def _functional_multi_io():
    a = pykeras.Input((5,), name="in_a")
    b = pykeras.Input((5,), name="in_b")
    shared = layers.Dense(6, activation="relu", name="shared")
    inner = pykeras.Sequential([layers.Dense(4, activation="relu"), layers.Dense(3)], name="inner_seq")
    ci = pykeras.Input((6,))
    inner_fn = pykeras.Model(ci, layers.Dense(2, name="inner_dense")(ci), name="inner_fn")
    out_a = layers.Dense(2, name="out_a")(inner(shared(a)))
    out_b = inner_fn(shared(b))
    model = pykeras.Model([a, b], [out_a, out_b], name="multi_io")
    randomize_weights(model, 4)
    rng = np.random.default_rng(4)
    return model, [rng.normal(size=(3, 5)).astype("float32"), rng.normal(size=(3, 5)).astype("float32")]


def _functional_dict_io():
    a = pykeras.Input((3,), name="left")
    b = pykeras.Input((3,), name="right")
    d = layers.Dense(2, name="d")
    model = pykeras.Model({"left": a, "right": b}, {"l": d(a), "r": d(b)}, name="dict_io")
    randomize_weights(model, 5)
    rng = np.random.default_rng(5)
    return model, {"left": rng.normal(size=(2, 3)).astype("float32"),
                   "right": rng.normal(size=(2, 3)).astype("float32")}


@saving.register_keras_serializable(package="saving_tests")
class ScaledDense(layers.Layer):
    """A custom layer with its own weights and a sublayer."""

    def __init__(self, units, factor=2.0, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.factor = factor
        self.inner = layers.Dense(units)

    def build(self, input_shape):
        self.scale = self.add_weight(name="scale", shape=(self.units,), initializer="ones")
        self.inner.build(input_shape)

    def call(self, x):
        return self.inner(x) * self.scale * self.factor

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)

    def get_config(self):
        return {**super().get_config(), "units": self.units, "factor": self.factor}


@saving.register_keras_serializable(package="saving_tests")
class TwoTower(pykeras.Model):
    """A subclassed model: attributes, a list of blocks, a custom layer."""

    def __init__(self, width=4, **kwargs):
        super().__init__(**kwargs)
        self.width = width
        self.encoder = layers.Dense(width, activation="relu")
        self.blocks = [layers.Dense(width), layers.Dense(width)]
        self.head = ScaledDense(2)

    def call(self, x):
        h = self.encoder(x)
        for block in self.blocks:
            h = block(h)
        return self.head(h)

    def get_config(self):
        return {**super().get_config(), "width": self.width}


def _subclassed():
    model = TwoTower(width=4, name="two_tower")
    x = np.random.default_rng(6).normal(size=(3, 5)).astype("float32")
    model(x)
    randomize_weights(model, 6)
    return model, x


def _custom_layer_in_functional():
    inp = pykeras.Input((4,))
    out = ScaledDense(3, factor=0.5, name="scaled")(layers.Dense(4)(inp))
    model = pykeras.Model(inp, out)
    randomize_weights(model, 7)
    return model, np.random.default_rng(7).normal(size=(2, 4)).astype("float32")


MODELS = {
    "mlp": _mlp,
    "sequential_built_by_call": _sequential_built_by_call,
    "sequential_input_shape_kwarg": _sequential_input_shape_kwarg,
    "functional_multi_io": _functional_multi_io,
    "functional_dict_io": _functional_dict_io,
    "subclassed": _subclassed,
    "custom_layer_in_functional": _custom_layer_in_functional,
}


@pytest.mark.parametrize("fmt", [".keras", ".h5"])
@pytest.mark.parametrize("name", sorted(MODELS))
def test_model_round_trip(name, fmt, tmp_path):
    model, x = MODELS[name]()
    expected = predict(model, x)
    path = tmp_path / f"{name}{fmt}"
    model.save(path)  # a pathlib.Path works as well as a str
    loaded = saving.load_model(path)
    assert type(loaded) is type(model)
    assert loaded.name == model.name
    assert [type(layer) for layer in loaded.layers] == [type(layer) for layer in model.layers]
    if name != "subclassed":  # a subclassed model names the sublayers it creates afresh, as Keras
        assert [layer.name for layer in loaded.layers] == [layer.name for layer in model.layers]
    assert_same_weights(model, loaded)
    assert_same_outputs(expected, predict(loaded, x))


@pytest.mark.parametrize("name", sorted(MODELS))
def test_model_json_and_config_round_trip(name):
    model, x = MODELS[name]()
    clone = pykeras.models.model_from_json(saving.model_to_json(model))
    assert [type(layer) for layer in clone.layers] == [type(layer) for layer in model.layers]
    clone.set_weights(model.get_weights())
    assert_same_outputs(predict(model, x), predict(clone, x))
    config = json.loads(saving.model_to_json(model))
    assert config["class_name"] in (type(model).__name__, "Functional")
    again = saving.model_from_config(config)
    assert json.loads(saving.model_to_json(again))["config"]["name"] == model.name


def test_nested_model_weights_layout(tmp_path):
    """The .keras weights file uses Keras 3's object paths (class-based names in containers)."""
    import h5py

    model, _ = _functional_multi_io()
    model.save_weights(str(tmp_path / "m.weights.h5"))
    with h5py.File(str(tmp_path / "m.weights.h5"), "r") as f:
        names = []
        f.visit(names.append)
        assert f["vars"].attrs["name"] == "multi_io"
        assert f["layers/input_layer/vars"].attrs["name"] == "in_a"
        assert f["layers/sequential/layers/dense/vars/0"].shape == (6, 4)
        assert f["layers/functional/layers/dense/vars"].attrs["name"] == "inner_dense"
        shared = [n for n in names if n.endswith("vars") and f[n].attrs.get("name") == "shared"]
        assert len(shared) == 1 and f[shared[0] + "/0"].shape == (5, 6)
    sub, _ = _subclassed()
    sub.save_weights(str(tmp_path / "s.weights.h5"))
    with h5py.File(str(tmp_path / "s.weights.h5"), "r") as f:
        assert f["encoder/vars/0"].shape == (5, 4)
        assert f["blocks/dense/vars/0"].shape == (4, 4)
        assert f["blocks/dense_1/vars/0"].shape == (4, 4)
        assert f["head/vars/0"].shape == (2,)  # ScaledDense's own `scale`
        assert f["head/inner/vars/0"].shape == (4, 2)


def test_custom_objects_argument_instead_of_registration(tmp_path):
    class Doubler(layers.Layer):
        def call(self, x):
            return x * 2.0

    inp = pykeras.Input((3,))
    model = pykeras.Model(inp, Doubler(name="doubler")(layers.Dense(3)(inp)))
    path = str(tmp_path / "c.keras")
    model.save(path)
    with pytest.raises(saving.UnknownObjectError, match="Doubler"):
        saving.load_model(path)
    loaded = saving.load_model(path, custom_objects={"Doubler": Doubler})
    x = np.ones((2, 3), np.float32)
    assert_same_outputs(predict(model, x), predict(loaded, x))
    with saving.custom_object_scope({"Doubler": Doubler}):
        assert isinstance(saving.load_model(path).layers[-1], Doubler)


def test_lambda_needs_safe_mode_off(tmp_path):
    inp = pykeras.Input((3,))
    model = pykeras.Model(inp, layers.Lambda(lambda t: t * 3.0)(inp))
    path = str(tmp_path / "lam.keras")
    model.save(path)
    with pytest.raises(ValueError, match="safe_mode"):
        saving.load_model(path)
    loaded = saving.load_model(path, safe_mode=False)
    x = np.ones((2, 3), np.float32)
    assert_same_outputs(predict(model, x), predict(loaded, x))
    with pytest.raises(ValueError, match="safe_mode"):
        pykeras.models.model_from_json(model.to_json())
    # Keras's global switch (per thread) wins over the loaders' default.
    from pykeras.saving import serialization_lib
    try:
        pykeras.config.enable_unsafe_deserialization()
        assert_same_outputs(predict(model, x), predict(saving.load_model(path), x))
        assert_same_outputs(predict(model, x), predict(pykeras.models.model_from_json(model.to_json()), x))
    finally:
        serialization_lib._state.safe_mode = None


# ---- compiled models: optimizer state survives --------------------------------------------------

def _deterministic_mlp():
    """An MLP without dropout, so that two copies take identical training steps."""
    model = pykeras.Sequential([pykeras.Input((6,)), layers.Dense(8, activation="relu",
                                                                   kernel_regularizer=pykeras.regularizers.L2(1e-3)),
                                layers.Dense(3, activation="softmax")], name="det_mlp")
    randomize_weights(model, 11)
    return model


def _train_batch(seed):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(8, 6)).astype("float32"), rng.integers(0, 3, size=(8,)).astype("int32")


@pytest.mark.parametrize("fmt", [".keras", ".h5"])
@pytest.mark.parametrize("optimizer", ["adam", "sgd_momentum", "rmsprop"])
def test_compiled_model_continues_training_identically(optimizer, fmt, tmp_path):
    model = _deterministic_mlp()
    opt = {"adam": lambda: pykeras.optimizers.Adam(learning_rate=0.01),
           "sgd_momentum": lambda: pykeras.optimizers.SGD(learning_rate=0.05, momentum=0.9, nesterov=True),
           "rmsprop": lambda: pykeras.optimizers.RMSprop(learning_rate=0.01, centered=True)}[optimizer]()
    model.compile(optimizer=opt, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    for step in range(3):
        model.train_on_batch(*_train_batch(step))
    path = str(tmp_path / f"c{fmt}")
    model.save(path)
    loaded = saving.load_model(path)
    assert loaded.compiled
    assert type(loaded.optimizer) is type(model.optimizer)
    assert loaded.optimizer.get_config() == model.optimizer.get_config()
    assert len(loaded.optimizer.variables) == len(model.optimizer.variables)
    for a, b in zip(model.optimizer.variables, loaded.optimizer.variables):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    batch = _train_batch(10)
    model.train_on_batch(*batch)
    loaded.train_on_batch(*batch)
    assert_same_weights(model, loaded)


def test_load_without_compile(tmp_path):
    model, x = _mlp()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.train_on_batch(*_train_batch(0))
    for fmt in (".keras", ".h5"):
        path = str(tmp_path / f"m{fmt}")
        model.save(path)
        loaded = saving.load_model(path, compile=False)
        assert not getattr(loaded, "compiled", False)
        assert_same_outputs(predict(model, x), predict(loaded, x))


def test_h5_without_optimizer(tmp_path, caplog):
    import h5py

    model, _ = _mlp()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.train_on_batch(*_train_batch(0))
    path = str(tmp_path / "m.h5")
    model.save(path, include_optimizer=False)
    with h5py.File(path, "r") as f:
        assert "optimizer_weights" not in f and "training_config" not in f.attrs
    with caplog.at_level(logging.WARNING, logger="pykeras.saving"):
        loaded = saving.load_model(path)
    assert "not* compiled" in caplog.text
    assert not getattr(loaded, "compiled", False)


def test_weights_file_carries_optimizer_state(tmp_path):
    model = _deterministic_mlp()
    model.compile(optimizer=pykeras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy")
    model.train_on_batch(*_train_batch(0))
    model.save_weights(str(tmp_path / "w.weights.h5"))
    other = _deterministic_mlp()
    other.compile(optimizer=pykeras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy")
    other.load_weights(str(tmp_path / "w.weights.h5"))
    for a, b in zip(model.optimizer.variables, other.optimizer.variables):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    model.train_on_batch(*_train_batch(1))
    other.train_on_batch(*_train_batch(1))
    assert_same_weights(model, other)


def test_legacy_h5_weights_by_name(tmp_path):
    model, x = _mlp()
    model.save_weights(str(tmp_path / "w.h5"))
    other = pykeras.Sequential([pykeras.Input((6,)), layers.Dense(8, activation="relu", name="hidden"),
                                layers.Dense(7, name="other_head")])
    before = other.layers[1].get_weights()
    other.load_weights(str(tmp_path / "w.h5"), by_name=True)
    for a, b in zip(other.get_layer("hidden").get_weights(), model.get_layer("hidden").get_weights()):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(other.layers[1].get_weights(), before):
        np.testing.assert_array_equal(a, b)


def test_save_format_is_chosen_by_extension(tmp_path):
    import zipfile

    import h5py

    model, _ = _mlp()
    model.save(str(tmp_path / "m.keras"))
    assert zipfile.is_zipfile(str(tmp_path / "m.keras"))
    with zipfile.ZipFile(str(tmp_path / "m.keras")) as zf:
        assert sorted(zf.namelist()) == ["config.json", "metadata.json", "model.weights.h5"]
        meta = json.loads(zf.read("metadata.json"))
        assert "keras_version" in meta and "date_saved" in meta
    model.save(str(tmp_path / "m.hdf5"))
    with h5py.File(str(tmp_path / "m.hdf5"), "r") as f:
        assert "model_config" in f.attrs and "model_weights" in f
    with pytest.raises(ValueError, match="extension"):
        model.save(str(tmp_path / "m.bin"))
    with pytest.raises(ValueError, match=".weights.h5"):
        model.save_weights(str(tmp_path / "m.npz"))
    assert sorted(os.listdir(tmp_path)) == ["m.hdf5", "m.keras"]


def test_keras2_nested_functional_node_indices():
    """tf.keras numbered a nested functional model's calls from 1 in list-style inbound nodes and
    in output_layers (its node 0 being its construction)."""
    dense = {"class_name": "Dense", "config": {"name": "d", "units": 2, "dtype": "float32"}}
    inner = {"class_name": "Functional", "name": "inner", "config": {
        "name": "inner", "layers": [
            {"class_name": "InputLayer", "config": {"batch_input_shape": [None, 3], "name": "i"}, "name": "i",
             "inbound_nodes": []},
            {**dense, "name": "d", "inbound_nodes": [[["i", 0, 0, {}]]]}],
        "input_layers": [["i", 0, 0]], "output_layers": [["d", 0, 0]]},
        "inbound_nodes": [[["x", 0, 0, {}]]]}
    outer = {"class_name": "Functional", "config": {
        "name": "outer", "layers": [
            {"class_name": "InputLayer", "config": {"batch_input_shape": [None, 3], "name": "x"}, "name": "x",
             "inbound_nodes": []},
            inner,
            {"class_name": "Dense", "config": {"name": "post", "units": 1, "dtype": "float32"}, "name": "post",
             "inbound_nodes": [[["inner", 1, 0, {}]]]}],
        "input_layers": [["x", 0, 0]], "output_layers": [["post", 0, 0], ["inner", 1, 0]]},
        "keras_version": "2.13.1", "backend": "tensorflow"}
    model = pykeras.models.model_from_json(json.dumps(outer))
    x = np.ones((2, 3), np.float32)
    post, inner_out = predict(model, x)
    assert post.shape == (2, 1) and inner_out.shape == (2, 2)
    inner_model = model.get_layer("inner")
    np.testing.assert_allclose(inner_out, predict(inner_model, x), rtol=1e-6)
    again = json.loads(model.to_json())
    assert again["config"]["output_layers"] == [["post", 0, 0], ["inner", 1, 0]]


def test_frozen_layers_stay_frozen(tmp_path):
    model, x = _mlp()
    model.get_layer("hidden").trainable = False
    for fmt in (".keras", ".h5"):
        model.save(str(tmp_path / f"f{fmt}"))
        loaded = saving.load_model(str(tmp_path / f"f{fmt}"))
        assert loaded.get_layer("hidden").trainable is False
        assert len(loaded.trainable_weights) == len(model.trainable_weights) == 2
        assert_same_weights(model, loaded)
        assert_same_outputs(predict(model, x), predict(loaded, x))
    nested, _ = _functional_multi_io()
    nested.get_layer("inner_seq").layers[0].trainable = False
    nested.save(str(tmp_path / "n.keras"))
    loaded = saving.load_model(str(tmp_path / "n.keras"))
    assert [layer.trainable for layer in loaded.get_layer("inner_seq").layers] == [False, True]
    assert len(loaded.trainable_weights) == len(nested.trainable_weights)


def test_keras2_functional_named_model_class():
    """tf.keras before 2.4 wrote functional models with class_name "Model"."""
    config = {"class_name": "Model", "config": {
        "name": "old", "layers": [
            {"class_name": "InputLayer", "config": {"batch_input_shape": [None, 2], "name": "in"}, "name": "in",
             "inbound_nodes": []},
            {"class_name": "Dense", "config": {"name": "d", "units": 3}, "name": "d",
             "inbound_nodes": [[["in", 0, 0, {}]]]}],
        "input_layers": [["in", 0, 0]], "output_layers": [["d", 0, 0]]}}
    model = saving.model_from_config(config)
    assert isinstance(model, pykeras.models.Functional)
    assert predict(model, np.ones((1, 2), np.float32)).shape == (1, 3)


def test_keras3_weights_under_plain_h5_name(tmp_path):
    model, x = _mlp()
    model.save_weights(str(tmp_path / "w.weights.h5"))
    os.rename(str(tmp_path / "w.weights.h5"), str(tmp_path / "w.h5"))
    other, _ = _mlp()
    randomize_weights(other, 42)
    other.load_weights(str(tmp_path / "w.h5"))
    assert_same_weights(model, other)


def test_large_attributes_are_chunked(tmp_path):
    """Attribute lists over HDF5's 64 KB header limit are split as Keras does (name0, name1, ...)."""
    import h5py

    from pykeras.saving import legacy_h5

    names = [f"layer_with_a_long_name_{i:05d}" for i in range(4000)]
    with h5py.File(str(tmp_path / "a.h5"), "w") as f:
        legacy_h5.save_attributes(f, "layer_names", names)
        assert "layer_names" not in f.attrs and "layer_names0" in f.attrs and "layer_names1" in f.attrs
        assert legacy_h5.load_attributes(f, "layer_names") == names
        legacy_h5.save_attributes(f, "weight_names", [])
        assert legacy_h5.load_attributes(f, "weight_names") == []


def test_unbuilt_model_cannot_save_weights(tmp_path):
    unbuilt = pykeras.Sequential([layers.Dense(2)])
    for name in ("w.weights.h5", "w.h5"):
        with pytest.raises(ValueError, match="not yet been built"):
            unbuilt.save_weights(str(tmp_path / name))
    assert os.listdir(tmp_path) == []


def test_keras2_sub_config_forms():
    """tf.keras 2.x spellings: Policy dtypes, module-less initializer/regularizer/constraint dicts,
    one-element axis lists, activity_regularizer, and a Sequential whose first layer carries
    batch_input_shape."""
    dense = {"class_name": "Dense", "config": {
        "name": "d", "trainable": True, "batch_input_shape": [None, 4],
        "dtype": {"class_name": "Policy", "config": {"name": "float32"}},
        "units": 3, "activation": "relu", "use_bias": True,
        "kernel_initializer": {"class_name": "VarianceScaling",
                               "config": {"scale": 2.0, "mode": "fan_in", "distribution": "truncated_normal",
                                          "seed": 7}},
        "bias_initializer": {"class_name": "Constant", "config": {"value": 0.5}},
        "kernel_regularizer": {"class_name": "L1L2", "config": {"l1": 0.0, "l2": 0.01}},
        "bias_regularizer": None, "activity_regularizer": None,
        "kernel_constraint": {"class_name": "MaxNorm", "config": {"max_value": 2, "axis": 0}},
        "bias_constraint": None}}
    norm = {"class_name": "LayerNormalization", "config": {"name": "ln", "axis": [1], "epsilon": 0.001,
                                                           "center": True, "scale": True, "dtype": "float32"}}
    config = {"class_name": "Sequential", "config": {"name": "k2", "layers": [dense, norm]},
              "keras_version": "2.13.1", "backend": "tensorflow"}
    model = pykeras.models.model_from_json(json.dumps(config))
    d = model.get_layer("d")
    assert model.layers[0].kernel.shape == (4, 3)
    assert isinstance(d.kernel_initializer, pykeras.initializers.VarianceScaling)
    assert d.kernel_initializer.get_config()["scale"] == 2.0
    np.testing.assert_array_equal(np.asarray(d.bias), np.full(3, 0.5, np.float32))
    assert isinstance(d.kernel_regularizer, pykeras.regularizers.L1L2)
    assert isinstance(d.kernel_constraint, pykeras.constraints.MaxNorm)
    assert model.get_layer("ln").get_config()["axis"] in (1, -1, [1], [-1])
    # Written back in Keras 3's forms.
    written = json.loads(model.to_json())["config"]["layers"]
    assert written[0]["class_name"] == "InputLayer"
    dense3 = written[1]["config"]
    assert dense3["dtype"] == {"module": "keras", "class_name": "DTypePolicy", "config": {"name": "float32"},
                               "registered_name": None}
    assert dense3["kernel_regularizer"]["module"] == "keras.regularizers"
    assert dense3["kernel_constraint"]["module"] == "keras.constraints"
    assert "batch_input_shape" not in dense3


def test_models_module_spellings(tmp_path):
    model, x = _mlp()
    pykeras.models.save_model(model, str(tmp_path / "m.keras"))
    loaded = pykeras.models.load_model(str(tmp_path / "m.keras"))
    assert_same_outputs(predict(model, x), predict(loaded, x))
    clone = pykeras.models.model_from_json(model.to_json())
    assert [type(layer) for layer in clone.layers] == [type(layer) for layer in model.layers]

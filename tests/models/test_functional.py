"""Functional models: multiple inputs/outputs (lists and dicts), shared layers, nested models,
freezing, layer access, config round-trip, operators on KerasTensors, bad graphs."""
import numpy as np
import pytest

from pykeras import backend as K
from pykeras import layers, models
import pykeras as keras


def _dense_ref(layer, x):
    k, b = layer.get_weights()
    return x @ k + b


def test_multi_input_multi_output_lists():
    a = keras.Input((4,), name="a")
    b = keras.Input((3,), name="b")
    da, db = layers.Dense(2, name="da"), layers.Dense(2, name="db")
    s = layers.Lambda(lambda t: t[0] + t[1], name="sum")([da(a), db(b)])
    o1 = layers.Dense(1, name="o1")(s)
    o2 = layers.Dense(5, name="o2")(s)
    model = keras.Model([a, b], [o1, o2])
    assert [l.name for l in model.layers] == ["a", "b", "da", "db", "sum", "o1", "o2"]
    assert model.input_names == ["a", "b"] and model.output_names == ["o1", "o2"]
    assert [t.shape for t in model.outputs] == [(None, 1), (None, 5)]
    xa = np.random.RandomState(0).standard_normal((6, 4)).astype(np.float32)
    xb = np.random.RandomState(1).standard_normal((6, 3)).astype(np.float32)
    y1, y2 = model([xa, xb])
    ref_s = _dense_ref(da, xa) + _dense_ref(db, xb)
    np.testing.assert_allclose(np.asarray(y1), _dense_ref(model.get_layer("o1"), ref_s), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(np.asarray(y2), _dense_ref(model.get_layer("o2"), ref_s), rtol=1e-5, atol=1e-5)
    # Inputs by name.
    y1d, _ = model({"a": xa, "b": xb})
    np.testing.assert_allclose(np.asarray(y1d), np.asarray(y1))
    assert model.count_params() == (4 * 2 + 2) + (3 * 2 + 2) + (2 + 1) + (2 * 5 + 5)


def test_dict_inputs_and_outputs():
    inputs = {"x": keras.Input((2,), name="x"), "y": keras.Input((2,), name="y")}
    summed = layers.Lambda(lambda t: t[0] * t[1])([inputs["x"], inputs["y"]])
    model = keras.Model(inputs, {"prod": summed, "twice": summed * 2.0})
    x = np.array([[1.0, 2.0]], np.float32)
    y = np.array([[3.0, 4.0]], np.float32)
    out = model({"x": x, "y": y})
    assert set(out) == {"prod", "twice"}
    np.testing.assert_allclose(np.asarray(out["prod"]), x * y)
    np.testing.assert_allclose(np.asarray(out["twice"]), 2 * x * y)


def test_shared_layer_has_several_nodes():
    inp1, inp2 = keras.Input((3,)), keras.Input((3,))
    shared = layers.Dense(2, name="shared")
    o1, o2 = shared(inp1), shared(inp2)
    model = keras.Model([inp1, inp2], [o1, o2])
    assert len(shared._inbound_nodes) == 2
    assert o1._keras_history.node_index == 0 and o2._keras_history.node_index == 1
    assert len(model.weights) == 2
    x1, x2 = np.ones((1, 3), np.float32), 2 * np.ones((1, 3), np.float32)
    r1, r2 = model([x1, x2])
    np.testing.assert_allclose(np.asarray(r1), _dense_ref(shared, x1), rtol=1e-6)
    np.testing.assert_allclose(np.asarray(r2), _dense_ref(shared, x2), rtol=1e-6)
    assert shared.output_shape == (None, 2)
    with pytest.raises(AttributeError):
        layers.Dense(2).output


def test_nested_models_and_freezing():
    inner = keras.Sequential([keras.Input((4,)), layers.Dense(3, name="i1"), layers.Dense(2, name="i2")], name="inner")
    inp = keras.Input((4,))
    out = layers.Dense(1, name="head")(inner(inp))
    model = keras.Model(inp, out)
    assert len(model.trainable_weights) == 6
    x = np.random.RandomState(0).standard_normal((5, 4)).astype(np.float32)
    ref = _dense_ref(model.get_layer("head"), _dense_ref(inner.layers[1], _dense_ref(inner.layers[0], x)))
    np.testing.assert_allclose(np.asarray(model(x)), ref, rtol=1e-5, atol=1e-5)
    inner.trainable = False
    assert len(model.trainable_weights) == 2 and len(model.non_trainable_weights) == 4
    assert not inner.layers[0].trainable and not inner.layers[0].kernel.trainable
    inner.trainable = True
    assert len(model.trainable_weights) == 6


def test_nested_functional_called_on_new_inputs():
    a = keras.Input((3,))
    block = keras.Model(a, layers.Dense(3, activation="relu")(a), name="block")
    x = keras.Input((3,))
    y = block(block(x))
    model = keras.Model(x, y)
    assert len(block._inbound_nodes) == 2  # one Node per call
    data = np.ones((2, 3), np.float32)
    np.testing.assert_allclose(np.asarray(model(data)), np.asarray(block(block(data))), rtol=1e-6)


def test_layer_input_output_accessors_and_get_layer():
    inp = keras.Input((5,), name="inp")
    d = layers.Dense(2, name="d")
    out = d(inp)
    model = keras.Model(inp, out)
    assert d.input is inp and d.output is out
    assert d.input_shape == (None, 5) and d.output_shape == (None, 2)
    assert model.get_layer("d") is d and model.get_layer(index=1) is d
    assert model.inputs == [inp] and model.outputs == [out]
    with pytest.raises(ValueError, match="No such layer: nope"):
        model.get_layer("nope")


def test_keras_tensor_operators():
    inp = keras.Input((3,))
    out = ((inp * 2.0 + 1.0) - inp[:, :1]) + 3.0
    model = keras.Model(inp, out)
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    np.testing.assert_allclose(np.asarray(model(x)), x * 2 + 1 - x[:, :1] + 3)


def test_backend_function_on_keras_tensors_via_symbolic_call():
    from pykeras.layers.keras_tensor import symbolic_call
    inp = keras.Input((3, 4))
    pooled = symbolic_call(K.mean, (inp,), {"axis": 1})
    assert pooled.shape == (None, 4)
    model = keras.Model(inp, pooled)
    x = np.random.RandomState(0).rand(2, 3, 4).astype(np.float32)
    np.testing.assert_allclose(np.asarray(model(x)), x.mean(axis=1), rtol=1e-6)


def test_config_round_trip_keeps_graph_and_outputs():
    a, b = keras.Input((4,), name="a"), keras.Input((4,), name="b")
    shared = layers.Dense(3, name="shared")
    merged = layers.Lambda(lambda t: t[0] - t[1], name="diff")([shared(a), shared(b)])
    model = keras.Model([a, b], layers.Dense(2, name="out")(merged), name="siamese")
    config = model.get_config()
    assert config["input_layers"] == [["a", 0, 0], ["b", 0, 0]]
    assert config["output_layers"] == [["out", 0, 0]]
    clone = keras.Model.from_config(config)
    clone.set_weights(model.get_weights())
    xa = np.random.RandomState(0).standard_normal((2, 4)).astype(np.float32)
    xb = np.random.RandomState(1).standard_normal((2, 4)).astype(np.float32)
    np.testing.assert_allclose(np.asarray(clone([xa, xb])), np.asarray(model([xa, xb])), rtol=1e-6)
    assert [l.name for l in clone.layers] == [l.name for l in model.layers]
    # A Python lambda in a config is code: as in Keras, rebuilding it needs safe mode off.
    from pykeras.saving.serialization_lib import safe_mode_scope
    with safe_mode_scope(False):
        again = models.model_from_json(model.to_json())
    assert again.get_config()["output_layers"] == config["output_layers"]


def test_keras2_style_config_is_read():
    config = {
        "name": "m", "layers": [
            {"class_name": "InputLayer", "config": {"batch_input_shape": [None, 3], "dtype": "float32", "name": "in"},
             "name": "in", "inbound_nodes": []},
            {"class_name": "Dense", "config": {"name": "d", "units": 2, "activation": "relu"}, "name": "d",
             "inbound_nodes": [[["in", 0, 0, {}]]]},
        ],
        "input_layers": [["in", 0, 0]], "output_layers": [["d", 0, 0]]}
    model = keras.Model.from_config(config)
    assert model.output_shape == (None, 2)
    assert model(np.ones((1, 3), np.float32)).shape == (1, 2)


def test_training_flag_reaches_nested_layers():
    inp = keras.Input((100,))
    model = keras.Model(inp, layers.Dropout(0.5, seed=1)(layers.Dense(100, kernel_initializer="identity")(inp)))
    x = np.ones((4, 100), np.float32)
    np.testing.assert_allclose(np.asarray(model(x)), x)
    assert np.any(np.asarray(model(x, training=True)) == 0)


def test_input_validation_and_bad_graphs():
    inp = keras.Input((3,))
    model = keras.Model(inp, layers.Dense(2)(inp), name="checked")
    with pytest.raises(ValueError, match=r'"checked".*expected shape=\(None, 3\), found shape=\(2, 4\)'):
        model(np.ones((2, 4), np.float32))
    assert model(np.ones((2, 3), np.float64)).dtype == np.float32  # cast to the Input's dtype
    other = keras.Input((3,))
    with pytest.raises(ValueError, match="Graph disconnected"):
        keras.Model(inp, layers.Add()([inp, other]) if hasattr(layers, "Add") else
                    layers.Lambda(lambda t: t[0] + t[1])([inp, other]))
    with pytest.raises(ValueError, match="KerasTensor"):
        keras.Model(inp, np.ones(3))


def test_subclassed_model_tracks_layers_and_weights():
    class MLP(keras.Model):
        def __init__(self):
            super().__init__(name="mlp")
            self.hidden = layers.Dense(4, activation="relu")
            self.blocks = [layers.Dense(3), layers.Dense(2)]

        def call(self, x, training=False):
            x = self.hidden(x)
            for block in self.blocks:
                x = block(x)
            return x

    model = MLP()
    assert not model.built
    out = model(np.ones((2, 5), np.float32))
    assert out.shape == (2, 2)
    assert [l.name for l in model.layers] == [model.hidden.name] + [b.name for b in model.blocks]
    assert [tuple(w.shape) for w in model.weights] == [(5, 4), (4,), (4, 3), (3,), (3, 2), (2,)]
    model2 = MLP()
    model2.build((None, 5))
    assert model2.count_params() == model.count_params()


def test_subclass_passing_inputs_and_outputs_becomes_functional():
    class Wrapped(keras.Model):
        def __init__(self):
            inp = keras.Input((3,))
            super().__init__(inputs=inp, outputs=layers.Dense(2)(inp), name="wrapped")

    model = Wrapped()
    assert isinstance(model, Wrapped) and isinstance(model, models.Functional)
    assert model(np.ones((1, 3), np.float32)).shape == (1, 2)


def test_eager_call_drops_intermediates_after_their_last_use():
    """A functional call keeps only live activations: once no later layer reads a value, it is
    released (its memory is reused by the next layers instead of growing with the depth)."""
    import weakref

    seen = {}

    def remember(x):
        seen["first"] = weakref.ref(x)
        return x * 2.0

    def check(x):
        # remember's input (the first Dense's output) has no reader after remember ran.
        seen["alive_at_check"] = seen["first"]() is not None
        return x

    inputs = keras.Input((4,))
    h = layers.Dense(3)(inputs)
    h = layers.Lambda(remember)(h)
    h = layers.Dense(3)(h)
    outputs = layers.Lambda(check)(h)
    model = keras.Model(inputs, outputs)
    y = model(np.ones((2, 4), np.float32))
    assert seen["alive_at_check"] is False
    assert np.asarray(y).shape == (2, 3)
    # Under a tape, what the backward pass needs stays alive through the tape and gradients flow.
    with K.GradientTape() as tape:
        loss = K.sum(model(np.ones((2, 4), np.float32)))
    grads = tape.gradient(loss, model.trainable_weights)
    assert all(g is not None for g in grads)

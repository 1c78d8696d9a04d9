"""Sequential: construction styles, deferred build, add/pop, layers list, config round-trip."""
import numpy as np
import pytest

import pykeras as keras
from pykeras import backend as K
from pykeras import layers, models
from pykeras.layers import Dense, Lambda, Reshape


def test_reshape_first_layer_with_input_shape_seed_example():
    model = models.Sequential()
    model.add(Reshape((3, 4), input_shape=(12,)))
    assert model.built and model.output_shape == (None, 3, 4)
    assert [type(l).__name__ for l in model.layers] == ["Reshape"]  # no InputLayer, as Keras
    x = np.arange(24, dtype=np.float32).reshape(2, 12)
    np.testing.assert_array_equal(np.asarray(model(x)), x.reshape(2, 3, 4))


def test_lambda_square_seed_example():
    model = models.Sequential()
    model.add(Dense(4, input_dim=3))
    model.add(Lambda(lambda x: x ** 2))
    assert model.output_shape == (None, 4)
    x = np.random.RandomState(0).standard_normal((5, 3)).astype(np.float32)
    k, b = model.layers[0].get_weights()
    np.testing.assert_allclose(np.asarray(model(x)), (x @ k + b) ** 2, rtol=1e-5, atol=1e-6)


def antirectifier(x):
    x -= K.mean(x, axis=1, keepdims=True)
    x = K.l2_normalize(x, axis=1)
    pos = K.relu(x)
    neg = K.relu(-x)
    return K.concatenate([pos, neg], axis=1)


def antirectifier_output_shape(input_shape):
    shape = list(input_shape)
    assert len(shape) == 2  # only valid for 2D tensors
    shape[-1] *= 2
    return tuple(shape)


def test_antirectifier_seed_example():
    model = models.Sequential()
    model.add(Dense(6, input_shape=(4,)))
    model.add(Lambda(antirectifier, output_shape=antirectifier_output_shape))
    model.add(Dense(3))
    assert model.layers[1].output_shape == (None, 12)
    x = np.random.RandomState(1).standard_normal((5, 4)).astype(np.float32)
    k, b = model.layers[0].get_weights()
    h = x @ k + b
    h = h - h.mean(axis=1, keepdims=True)
    h = h / np.sqrt(np.maximum((h ** 2).sum(axis=1, keepdims=True), 1e-12))
    h = np.concatenate([np.maximum(h, 0), np.maximum(-h, 0)], axis=1)
    k2, b2 = model.layers[2].get_weights()
    np.testing.assert_allclose(np.asarray(model(x)), h @ k2 + b2, rtol=1e-4, atol=1e-5)


def test_input_first_and_list_construction():
    model = keras.Sequential([keras.Input((8,)), layers.Dense(4), layers.Dense(2)])
    assert len(model.layers) == 2 and model.input_shape == (None, 8) and model.output_shape == (None, 2)
    assert model.count_params() == 8 * 4 + 4 + 4 * 2 + 2
    model2 = keras.Sequential([layers.InputLayer(shape=(8,)), layers.Dense(4)])
    assert model2.output_shape == (None, 4)
    model3 = keras.Sequential([layers.Dense(4, batch_input_shape=(None, 8))])
    assert model3.input_shape == (None, 8)


def test_deferred_build_on_data_and_build_method():
    model = keras.Sequential([layers.Dense(4), layers.Dense(1)])
    assert not model.built
    with pytest.raises(ValueError, match="isn't built"):
        model.count_params()
    out = model(np.ones((3, 5), np.float32))
    assert out.shape == (3, 1) and model.built and model.input_shape == (3, 5)  # Keras 3 keeps the batch size
    assert model(np.ones((7, 5), np.float32)).shape == (7, 1)
    other = keras.Sequential([layers.Dense(4), layers.Dense(1)])
    other.build((None, 5))
    assert other.count_params() == model.count_params() == 5 * 4 + 4 + 4 + 1


def test_add_checks_compatibility_and_pop():
    model = keras.Sequential([keras.Input((4,)), layers.Dense(3, name="a")])
    with pytest.raises(ValueError, match="Only instances of `keras.Layer`"):
        model.add("dense")
    with pytest.raises(ValueError, match=r"reshape_x.*input_shape = \(3,\), output_shape = \(2, 2\)"):
        model.add(layers.Reshape((2, 2), name="reshape_x"))
    assert len(model.layers) == 1
    model.add(layers.Dense(2, name="b"))
    popped = model.pop()
    assert popped.name == "b" and [l.name for l in model.layers] == ["a"]
    assert model.output_shape == (None, 3)
    with pytest.raises(ValueError, match="unique names"):
        model.add(layers.Dense(2, name="a"))


def test_sequential_config_round_trip_and_json():
    model = keras.Sequential([keras.Input((6,)), layers.Dense(4, activation="relu"), layers.Dropout(0.2),
                              layers.Dense(2, activation="softmax")], name="seq_cfg")
    config = model.get_config()
    assert config["layers"][0]["class_name"] == "InputLayer"
    clone = keras.Sequential.from_config(config)
    clone.set_weights(model.get_weights())
    x = np.random.RandomState(0).standard_normal((3, 6)).astype(np.float32)
    np.testing.assert_allclose(np.asarray(clone(x)), np.asarray(model(x)), rtol=1e-6)
    from_json = models.model_from_json(model.to_json())
    assert isinstance(from_json, keras.Sequential) and from_json.count_params() == model.count_params()
    cloned = models.clone_model(model)
    assert cloned.count_params() == model.count_params()


def test_sequential_freezing_nested_base():
    base = keras.Sequential([keras.Input((5,)), layers.Dense(4), layers.Dense(3)], name="base")
    model = keras.Sequential([base, layers.Dense(1)])
    assert len(model.trainable_weights) == 6
    base.trainable = False
    assert len(model.trainable_weights) == 2 and len(model.non_trainable_weights) == 4
    assert model.output_shape == (None, 1)


def test_masks_flow_through_sequential():
    seen = {}

    class Probe(layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.supports_masking = True

        def call(self, inputs, mask=None):
            seen["mask"] = mask
            return inputs

    model = keras.Sequential([layers.Embedding(10, 4, mask_zero=True), layers.Dense(4), Probe()])
    ids = np.array([[1, 2, 0, 0]])
    model(ids)
    np.testing.assert_array_equal(np.asarray(seen["mask"]), ids != 0)


def test_keras2_embedding_input_length_and_node_accessors():
    model = keras.Sequential([layers.Embedding(50, 8, input_length=10), layers.Flatten(), layers.Dense(1)])
    assert model.input_shape == (None, 10) and model.output_shape == (None, 1)
    assert model.inputs[0].dtype == np.int32
    ids = np.random.RandomState(0).randint(0, 50, size=(3, 10))
    assert model(ids).shape == (3, 1)
    dense = model.layers[-1]
    assert dense.get_input_shape_at(0) == (None, 80) and dense.get_output_shape_at(0) == (None, 1)
    assert dense.get_output_at(0) is dense.output


def test_subclassed_model_auto_config():
    class Tiny(keras.Model):
        def __init__(self, units=3, **kwargs):
            super().__init__(**kwargs)
            self.units = units
            self.d = layers.Dense(units)

        def call(self, x):
            return self.d(x)

    config = Tiny(units=5, name="tiny").get_config()
    assert config["units"] == 5 and config["name"] == "tiny"
    clone = Tiny.from_config(config)
    assert clone.units == 5 and clone(np.ones((1, 2), np.float32)).shape == (1, 5)

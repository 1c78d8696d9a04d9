"""The Layer machinery: naming, weights, building, custom layers, training flag, losses, config."""
import numpy as np
import pytest

import pykeras
from pykeras import backend as K
from pykeras import layers, models
from pykeras.layers import naming
from pykeras.saving.object_registration import custom_object_scope, register_keras_serializable


def test_unique_default_names_and_reset():
    naming.reset_names()
    assert [layers.Dense(1).name for _ in range(3)] == ["dense", "dense_1", "dense_2"]
    assert layers.LayerNormalization().name == "layer_normalization"
    assert layers.Input((2,))._keras_history.operation.name == "input_layer"
    K.clear_session()
    assert layers.Dense(1).name == "dense"
    assert layers.Dense(1, name="mine").name == "mine"


class ComputeSum(layers.Layer):
    """Keras's example: a non-trainable weight created in __init__ and updated in call."""

    def __init__(self, input_dim, **kwargs):
        super().__init__(**kwargs)
        self.input_dim = input_dim
        self.total = self.add_weight(shape=(), initializer="zeros", trainable=False, name="total")

    def call(self, inputs):
        self.total.assign(np.asarray(self.total) + np.asarray(K.sum(inputs)))
        return inputs * 1.0


class Linear(layers.Layer):
    """Weights in build, only backend ops in call, no compute_output_shape, no get_config."""

    def __init__(self, units=4, scale=1.0, **kwargs):
        super().__init__(**kwargs)
        self.units, self.scale = units, scale

    def build(self, input_shape):  # deliberately does not call super().build()
        self.w = self.add_weight(shape=(input_shape[-1], self.units), initializer="random_normal", name="w")
        self.b = self.add_weight(shape=(self.units,), initializer="zeros", name="b")

    def call(self, inputs):
        return K.matmul(inputs, self.w) * self.scale + self.b


def test_weights_in_init_and_state_untouched_by_symbolic_calls():
    layer = ComputeSum(2)
    assert layer.weights == [layer.total] and layer.non_trainable_weights == [layer.total]
    assert layer.trainable_weights == []
    layer(np.ones((2, 2), np.float32))
    assert float(np.asarray(layer.total)) == 4.0
    out = layer(layers.Input((2,)))  # shape inference runs call on dummy data, then restores state
    assert out.shape == (None, 2)
    assert float(np.asarray(layer.total)) == 4.0


def test_custom_layer_build_call_shape_inference_and_auto_config():
    layer = Linear(3)
    assert not layer.built
    y = layer(layers.Input((5,)))
    assert layer.built and y.shape == (None, 3)
    assert [w.name for w in layer.weights] == ["w", "b"]
    assert layer.compute_output_shape((7, 5)) == (7, 3)
    config = layer.get_config()
    assert config["units"] == 3 and "scale" not in config  # Keras 3 records the arguments given
    clone = Linear.from_config(config)
    assert clone.units == 3 and clone.scale == 1.0 and clone.name == layer.name
    x = np.random.RandomState(0).standard_normal((2, 5)).astype(np.float32)
    w, b = layer.get_weights()
    np.testing.assert_allclose(np.asarray(layer(x)), x @ w + b, rtol=1e-5, atol=1e-6)


def test_auto_config_refuses_unserializable_arguments():
    class Holder(layers.Layer):
        def __init__(self, thing, **kwargs):
            super().__init__(**kwargs)
            self.thing = thing

    assert Holder(3).get_config()["thing"] == 3
    with pytest.raises(NotImplementedError, match="must override `get_config\\(\\)`"):
        Holder(object()).get_config()


def test_missing_super_init_is_reported():
    class Broken(layers.Layer):
        def __init__(self):
            self.x = 1

    with pytest.raises(RuntimeError, match="forgot to call `super\\(\\).__init__\\(\\)`"):
        Broken()(np.ones((1, 2), np.float32))


def test_add_weight_keras2_order_regularizer_constraint_dtype():
    class Old(layers.Layer):
        def build(self, input_shape):
            self.k = self.add_weight("k", (input_shape[-1], 2), "float32", "ones", "l2", True, "non_neg")

        def call(self, x):
            return K.matmul(x, self.k)

    layer = Old()
    layer(np.ones((1, 3), np.float32))
    assert layer.k.name == "k" and tuple(layer.k.shape) == (3, 2)
    np.testing.assert_array_equal(np.asarray(layer.k), np.ones((3, 2)))
    assert layer.k.constraint is not None
    np.testing.assert_allclose(float(np.asarray(layer.losses[0])), 0.01 * 6, rtol=1e-6)
    int_weight = layers.Layer().add_weight(shape=(2,), dtype="int32", name="count")
    assert int_weight.dtype == np.int32 and np.all(np.asarray(int_weight) == 0)


def test_dtype_argument():
    layer = layers.Dense(2, dtype="float64")
    out = layer(np.ones((1, 3)))
    assert layer.kernel.dtype == np.float64 and out.dtype == np.float64
    assert layers.Dense(2).dtype == "float32"
    assert layers.Dense(2)(np.ones((1, 3), np.float64)).dtype == np.float32  # inputs cast to the layer dtype


def test_first_layer_shape_arguments():
    for kwargs in ({"input_shape": (5,)}, {"input_dim": 5}, {"batch_input_shape": (None, 5)}):
        model = models.Sequential([layers.Dense(2, **kwargs)])
        assert model.input_shape == (None, 5), kwargs
    model = models.Sequential([layers.Dense(2, input_shape=(5,), batch_size=8)])
    assert model.input_shape == (8, 5)


def test_set_weights_errors_name_the_layer():
    layer = layers.Dense(2, name="dd")
    layer(np.ones((1, 3), np.float32))
    with pytest.raises(ValueError, match="layer 'dd' with a weight list of length 1, but the layer was expecting 2"):
        layer.set_weights([np.ones((3, 2))])
    with pytest.raises(ValueError, match=r"Layer dd weight shape \(3, 2\) is not compatible with provided weight shape \(2, 2\)"):
        layer.set_weights([np.ones((2, 2)), np.ones(2)])
    with pytest.raises(ValueError, match="isn't built"):
        layers.Dense(2, name="unbuilt_d").count_params()


def test_trainable_flag_freezes_weights_and_sublayers():
    class Block(layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.inner = [layers.Dense(3), layers.Dense(2)]

        def call(self, x):
            return self.inner[1](self.inner[0](x))

    block = Block()
    block(np.ones((1, 4), np.float32))
    assert len(block.trainable_weights) == 4
    block.trainable = False
    assert block.trainable_weights == [] and len(block.non_trainable_weights) == 4
    assert not block.inner[0].trainable
    block.trainable = True
    assert len(block.trainable_weights) == 4


def test_training_flag_resolution():
    seen = []

    class Probe(layers.Layer):
        def call(self, x, training=None):
            seen.append(training)
            return x

    class Outer(layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.probe = Probe()

        def call(self, x):  # does not declare training: nested layers still inherit it
            return self.probe(x)

    outer = Outer()
    x = np.ones((1, 2), np.float32)
    outer(x)
    outer(x, training=True)
    outer(x, training=False)
    assert seen == [None, True, False]


def test_add_loss_is_recomputed_each_call():
    class Penalized(layers.Layer):
        def call(self, x):
            self.add_loss(K.sum(x))
            return x

    inp = layers.Input((2,))
    model = models.Model(inp, Penalized()(layers.Dense(2, kernel_regularizer="l1")(inp)))
    model(np.ones((1, 2), np.float32))
    assert len(model.losses) == 2
    model(np.ones((1, 2), np.float32))
    assert len(model.losses) == 2


def test_masks_supports_masking_and_compute_mask():
    class Half(layers.Layer):
        def compute_mask(self, inputs, mask=None):
            return K.not_equal(inputs[:, :, 0], 0.0)

        def call(self, x):
            return x * 0.5

    layer = Half()
    assert layer.supports_masking  # overriding compute_mask turns it on, as in Keras 3
    x = np.array([[[1.0], [0.0]]], np.float32)
    out = layer(x)
    np.testing.assert_array_equal(np.asarray(out._keras_mask), [[True, False]])


def test_input_spec_messages():
    class Needs3D(layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.input_spec = layers.InputSpec(ndim=3, axes={-1: 2})

    layer = Needs3D(name="needs3d")
    with pytest.raises(ValueError, match=r'Input 0 of layer "needs3d" is incompatible.*expected ndim=3, found ndim=2'):
        layer(np.ones((1, 2), np.float32))
    with pytest.raises(ValueError, match=r'"needs3d".*axis -1 of input shape to have value 2.*\(None, 4, 3\)'):
        layer(layers.Input((4, 3)))


def test_registered_custom_layer_deserializes():
    @register_keras_serializable(package="tests")
    class Scale(layers.Layer):
        def __init__(self, factor=2.0, **kwargs):
            super().__init__(**kwargs)
            self.factor = factor

        def call(self, x):
            return x * self.factor

        def get_config(self):
            return {**super().get_config(), "factor": self.factor}

    serialized = layers.serialize(Scale(3.0))
    assert serialized["registered_name"] == "tests>Scale"
    revived = layers.deserialize(serialized)
    assert isinstance(revived, Scale) and revived.factor == 3.0

    class Unregistered(Scale):
        pass

    config = layers.serialize(Unregistered())
    with pytest.raises(ValueError, match="Unknown layer: 'Unregistered'"):
        layers.deserialize(config)
    with custom_object_scope({"Unregistered": Unregistered}):
        assert isinstance(layers.deserialize(config), Unregistered)


def test_top_level_names():
    for name in ("Sequential", "Model", "Input", "Layer", "layers", "models", "initializers", "regularizers",
                 "constraints", "activations", "backend", "config"):
        assert hasattr(pykeras, name), name
    from pykeras.layers import Dense, Dropout, Embedding, LayerNormalization  # noqa: F401

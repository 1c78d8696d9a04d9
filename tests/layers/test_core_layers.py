"""Core layers: run_layer_test on each, numerics against numpy, argument validation."""
import numpy as np
import pytest

from layer_testing import run_layer_test
from pykeras import backend as K
from pykeras import layers, models


def test_dense():
    rng = np.random.RandomState(1)
    x = rng.standard_normal((3, 5)).astype(np.float32)
    layer = run_layer_test(layers.Dense, {"units": 4, "activation": "relu"}, input_data=x,
                           expected_output_shape=(3, 4), expected_num_trainable_weights=2, supports_masking=True)
    kernel, bias = layer.get_weights()
    assert kernel.shape == (5, 4) and bias.shape == (4,)
    assert [w.name for w in layer.weights] == ["kernel", "bias"]
    np.testing.assert_allclose(np.asarray(layer(x)), np.maximum(x @ kernel + bias, 0), rtol=1e-5, atol=1e-6)


def test_dense_3d_input_no_bias_and_custom_activation():
    x = np.random.RandomState(2).standard_normal((2, 3, 5)).astype(np.float32)
    layer = run_layer_test(layers.Dense, {"units": 2, "use_bias": False}, input_data=x,
                           expected_output_shape=(2, 3, 2), expected_num_trainable_weights=1)
    (kernel,) = layer.get_weights()
    np.testing.assert_allclose(np.asarray(layer(x)), x @ kernel, rtol=1e-5, atol=1e-6)
    # A callable that is not a built-in activation is applied after the fused op.
    layer = layers.Dense(3, activation=lambda t: t * 2.0)
    out = np.asarray(layer(x))
    k, b = layer.get_weights()
    np.testing.assert_allclose(out, 2.0 * (x @ k + b), rtol=1e-5, atol=1e-6)


def test_dense_regularizers_and_constraints():
    layer = run_layer_test(layers.Dense, {"units": 3, "kernel_regularizer": "l2", "bias_regularizer": "l1",
                                          "activity_regularizer": "l2", "kernel_constraint": "max_norm"},
                           input_shape=(4, 2), expected_output_shape=(4, 3), expected_num_trainable_weights=2,
                           expected_num_losses=3)
    kernel, bias = layer.get_weights()
    x = np.ones((4, 2), np.float32)
    out = np.asarray(layer(x))
    losses = [float(np.asarray(l)) for l in layer.losses]
    np.testing.assert_allclose(losses[0], 0.01 * np.sum(out ** 2) / 4, rtol=1e-5)
    np.testing.assert_allclose(losses[1], 0.01 * np.sum(kernel ** 2), rtol=1e-5)
    np.testing.assert_allclose(losses[2], 0.01 * np.sum(np.abs(bias)), rtol=1e-5, atol=1e-8)
    assert layer.kernel.constraint is not None and layer.bias.constraint is None


def test_dense_bad_arguments_and_inputs():
    with pytest.raises(ValueError, match="units"):
        layers.Dense(0)
    with pytest.raises(ValueError, match="Dense 'named': Unknown activation function: 'nope'"):
        layers.Dense(3, activation="nope", name="named")
    with pytest.raises(ValueError, match="Dense '.*': Unknown initializer: 'nope'"):
        layers.Dense(3, kernel_initializer="nope")
    with pytest.raises(ValueError, match="Unrecognized keyword arguments passed to Dense"):
        layers.Dense(3, foo=1)
    layer = layers.Dense(3, name="my_dense")
    layer(np.ones((2, 4), np.float32))
    with pytest.raises(ValueError, match=r'layer "my_dense".*axis -1.*value 4.*\(2, 5\)'):
        layer(np.ones((2, 5), np.float32))
    with pytest.raises(ValueError, match=r'layer "my_dense".*min_ndim=2.*\(4,\)'):
        layer(np.ones((4,), np.float32))


def test_dropout():
    x = np.ones((20, 50), np.float32)
    layer = run_layer_test(layers.Dropout, {"rate": 0.5, "seed": 3}, input_data=x, expected_output_shape=(20, 50),
                           supports_masking=True, training_differs=True)
    out = np.asarray(layer(x, training=True))
    kept = out != 0
    assert 0.3 < kept.mean() < 0.7
    np.testing.assert_allclose(out[kept], 2.0)
    np.testing.assert_array_equal(np.asarray(layer(x)), x)   # inference by default


def test_dropout_noise_shape_and_validation():
    layer = layers.Dropout(0.5, noise_shape=(None, 1, 6), seed=1)
    x = np.ones((4, 5, 6), np.float32)
    out = np.asarray(layer(x, training=True))
    # The same features are dropped at every timestep.
    assert np.all(out == out[:, :1, :])
    with pytest.raises(ValueError, match="rate=1.5"):
        layers.Dropout(1.5)


def test_activation():
    x = np.linspace(-2, 2, 12, dtype=np.float32).reshape(3, 4)
    run_layer_test(layers.Activation, {"activation": "tanh"}, input_data=x, expected_output_shape=(3, 4),
                   expected_output=np.tanh(x), supports_masking=True)
    run_layer_test(layers.Activation, {"activation": "softmax"}, input_data=x, expected_output_shape=(3, 4),
                   expected_output=np.exp(x) / np.exp(x).sum(-1, keepdims=True))


def test_flatten():
    x = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    run_layer_test(layers.Flatten, {}, input_data=x, expected_output_shape=(2, 12), expected_output=x.reshape(2, 12))
    run_layer_test(layers.Flatten, {"data_format": "channels_first"}, input_data=x, expected_output_shape=(2, 12),
                   expected_output=x.transpose(0, 2, 1).reshape(2, 12))
    assert layers.Flatten().compute_output_shape((None, None, 4)) == (None, None)


def test_reshape():
    x = np.arange(24, dtype=np.float32).reshape(2, 12)
    run_layer_test(layers.Reshape, {"target_shape": (3, 4)}, input_data=x, expected_output_shape=(2, 3, 4),
                   expected_output=x.reshape(2, 3, 4))
    run_layer_test(layers.Reshape, {"target_shape": (-1, 2)}, input_data=x, expected_output_shape=(2, 6, 2),
                   expected_output=x.reshape(2, 6, 2))


def test_reshape_bad_sizes_name_layer_and_shapes():
    with pytest.raises(ValueError, match=r"reshape_bad.*input_shape = \(12,\), output_shape = \(5, 2\)"):
        layers.Reshape((5, 2), name="reshape_bad")(layers.Input((12,)))
    with pytest.raises(ValueError, match=r"reshape_bad2.*input_shape = \(12,\)"):
        layers.Reshape((5, 2), name="reshape_bad2")(np.ones((2, 12), np.float32))
    with pytest.raises(ValueError, match="at most one unknown dimension"):
        layers.Reshape((-1, -1))
    with pytest.raises(ValueError, match="total size"):
        layers.Reshape((-1, 5))(layers.Input((12,)))


def test_permute():
    x = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    run_layer_test(layers.Permute, {"dims": (2, 1)}, input_data=x, expected_output_shape=(2, 4, 3),
                   expected_output=x.transpose(0, 2, 1))
    with pytest.raises(ValueError, match=r"dims=\(1, 3\)"):
        layers.Permute((1, 3))


def test_repeat_vector():
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    run_layer_test(layers.RepeatVector, {"n": 4}, input_data=x, expected_output_shape=(2, 4, 3),
                   expected_output=np.repeat(x[:, None, :], 4, axis=1))
    with pytest.raises(ValueError, match=r"expected ndim=2, found ndim=3"):
        layers.RepeatVector(2)(np.ones((2, 3, 4), np.float32))


def test_activity_regularization():
    x = np.linspace(-1, 1, 8, dtype=np.float32).reshape(2, 4)
    layer = run_layer_test(layers.ActivityRegularization, {"l1": 0.1, "l2": 0.2}, input_data=x,
                           expected_output_shape=(2, 4), expected_output=x, expected_num_losses=1, supports_masking=True)
    layer(x)
    (loss,) = layer.losses
    np.testing.assert_allclose(float(np.asarray(loss)), (0.1 * np.abs(x).sum() + 0.2 * (x ** 2).sum()) / 2, rtol=1e-5)


def test_masking():
    x = np.ones((2, 3, 4), np.float32)
    x[0, 1] = 0.0
    x[1, 2] = 0.0
    layer = run_layer_test(layers.Masking, {"mask_value": 0.0}, input_data=x, expected_output_shape=(2, 3, 4),
                           expected_output=x, supports_masking=True)
    out = layer(x)
    np.testing.assert_array_equal(np.asarray(out._keras_mask), [[True, False, True], [True, True, False]])


def test_embedding():
    ids = np.array([[0, 1, 2], [3, 4, 0]], dtype=np.int32)
    layer = run_layer_test(layers.Embedding, {"input_dim": 5, "output_dim": 3}, input_data=ids, input_dtype="int32",
                           expected_output_shape=(2, 3, 3), expected_num_trainable_weights=1, supports_masking=False)
    (table,) = layer.get_weights()
    np.testing.assert_allclose(np.asarray(layer(ids)), table[ids])
    fresh = layers.Embedding(5, 3)
    fresh.build((None, 3))
    assert np.all(np.abs(fresh.get_weights()[0]) <= 0.05)  # RandomUniform(-0.05, 0.05), Keras's default


def test_embedding_mask_zero_feeds_downstream_mask():
    ids = np.array([[0, 1, 2], [3, 4, 0]], dtype=np.int32)
    layer = run_layer_test(layers.Embedding, {"input_dim": 5, "output_dim": 3, "mask_zero": True}, input_data=ids,
                           input_dtype="int32", expected_output_shape=(2, 3, 3), expected_num_trainable_weights=1,
                           supports_masking=True)
    out = layer(ids)
    np.testing.assert_array_equal(np.asarray(out._keras_mask), ids != 0)
    seen = {}

    class Probe(layers.Layer):
        def call(self, inputs, mask=None):
            seen["mask"] = mask
            return inputs

    inp = layers.Input((3,), dtype="int32")
    model = models.Model(inp, Probe()(layers.Embedding(5, 3, mask_zero=True)(inp)))
    model(ids)
    np.testing.assert_array_equal(np.asarray(seen["mask"]), ids != 0)


def test_embedding_weights_argument_and_validation():
    table = np.arange(12, dtype=np.float32).reshape(4, 3)
    layer = layers.Embedding(4, 3, weights=[table])
    np.testing.assert_array_equal(np.asarray(layer(np.array([[3, 0]]))), table[[[3, 0]]])
    with pytest.raises(ValueError, match="input_dim"):
        layers.Embedding(0, 3)


def test_lambda_square():
    x = np.linspace(-1, 1, 6, dtype=np.float32).reshape(2, 3)
    run_layer_test(layers.Lambda, {"function": lambda t: t ** 2}, input_data=x, expected_output_shape=(2, 3),
                   expected_output=x ** 2)


def antirectifier(x):
    x -= K.mean(x, axis=1, keepdims=True)
    x = K.l2_normalize(x, axis=1)
    pos = K.relu(x)
    neg = K.relu(-x)
    return K.concatenate([pos, neg], axis=1)


def antirectifier_output_shape(input_shape):
    shape = list(input_shape)
    assert len(shape) == 2
    shape[-1] *= 2
    return tuple(shape)


def _antirectifier_reference(x):
    x = x - x.mean(axis=1, keepdims=True)
    x = x / np.sqrt(np.maximum((x ** 2).sum(axis=1, keepdims=True), 1e-12))
    return np.concatenate([np.maximum(x, 0), np.maximum(-x, 0)], axis=1)


def test_lambda_antirectifier_with_output_shape_function():
    x = np.random.RandomState(0).standard_normal((4, 5)).astype(np.float32)
    run_layer_test(layers.Lambda, {"function": antirectifier, "output_shape": antirectifier_output_shape},
                   input_data=x, expected_output_shape=(4, 10), expected_output=_antirectifier_reference(x),
                   rtol=1e-4, atol=1e-5, custom_objects={"antirectifier": antirectifier,
                                                        "antirectifier_output_shape": antirectifier_output_shape})
    inp = layers.Input((5,))
    named = models.Model(inp, layers.Lambda(antirectifier, output_shape=antirectifier_output_shape)(inp))
    from layer_testing import check_keras_file_round_trip
    check_keras_file_round_trip(named, x, custom_objects={"antirectifier": antirectifier,
                                                         "antirectifier_output_shape": antirectifier_output_shape},
                                rtol=1e-4)


def test_lambda_output_shape_tuple_arguments_and_mask():
    layer = layers.Lambda(lambda t, scale: t[:, :2] * scale, output_shape=(2,), arguments={"scale": 3.0})
    inp = layers.Input((5,))
    assert layer(inp).shape == (None, 2)
    x = np.ones((2, 5), np.float32)
    np.testing.assert_allclose(np.asarray(layer(x)), 3.0 * np.ones((2, 2)))
    masked = layers.Lambda(lambda t: t, mask=lambda inputs, mask: K.not_equal(inputs, 0.0))
    out = masked(np.array([[0.0, 1.0]], np.float32))
    np.testing.assert_array_equal(np.asarray(out._keras_mask), [[False, True]])
    with pytest.raises(ValueError, match="callable"):
        layers.Lambda(3)


def test_lambda_shape_inference_without_output_shape():
    inp = layers.Input((3, 4))
    out = layers.Lambda(lambda t: K.mean(t, axis=1))(inp)
    assert out.shape == (None, 4)
    out = layers.Lambda(lambda t: K.reshape(t, (-1, 4)))(inp)
    assert out.shape == (None, 4)


def _layer_norm_ref(x, axes, eps, gamma=None, beta=None):
    mean = x.mean(axis=axes, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=axes, keepdims=True)
    y = (x - mean) / np.sqrt(var + eps)
    if gamma is not None:
        y = y * gamma
    if beta is not None:
        y = y + beta
    return y


def test_layer_normalization():
    x = np.random.RandomState(3).standard_normal((4, 3, 5)).astype(np.float32) * 3 + 1
    layer = run_layer_test(layers.LayerNormalization, {}, input_data=x, expected_output_shape=(4, 3, 5),
                           expected_output=_layer_norm_ref(x.astype(np.float64), (2,), 1e-3), rtol=1e-4, atol=1e-4,
                           expected_num_trainable_weights=2, supports_masking=True)
    assert [w.name for w in layer.weights] == ["gamma", "beta"]
    gamma, beta = layer.get_weights()
    np.testing.assert_allclose(np.asarray(layer(x)), _layer_norm_ref(x, (2,), 1e-3, gamma, beta), rtol=1e-4,
                               atol=1e-4)


def test_layer_normalization_axes_and_options():
    x = np.random.RandomState(4).standard_normal((2, 3, 4)).astype(np.float32)
    layer = run_layer_test(layers.LayerNormalization, {"axis": [1, 2], "epsilon": 1e-5, "center": False},
                           input_data=x, expected_output_shape=(2, 3, 4), expected_num_trainable_weights=1,
                           expected_output=_layer_norm_ref(x.astype(np.float64), (1, 2), 1e-5), rtol=1e-4, atol=1e-4)
    assert layer.weights[0].shape == (3, 4)
    layer = layers.LayerNormalization(axis=1, scale=False)
    out = np.asarray(layer(x))
    (beta,) = layer.get_weights()
    np.testing.assert_allclose(out, _layer_norm_ref(x, (1,), 1e-3) + beta[None, :, None], rtol=1e-4, atol=1e-4)
    rms = layers.LayerNormalization(rms_scaling=True)
    out = np.asarray(rms(x))
    np.testing.assert_allclose(out, x / np.sqrt((x ** 2).mean(-1, keepdims=True) + 1e-3), rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="invalid axis 3"):
        layers.LayerNormalization(axis=3)(x)
    with pytest.raises(TypeError, match="axis"):
        layers.LayerNormalization(axis="last")


def test_input_layer_and_input():
    x = layers.Input(shape=(3, 4), batch_size=2, dtype="int32", name="ids")
    assert x.shape == (2, 3, 4) and x.dtype == np.int32 and x.name == "ids"
    layer = x._keras_history.operation
    assert isinstance(layer, layers.InputLayer) and layer.name == "ids"
    config = layer.get_config()
    assert config["batch_shape"] == (2, 3, 4) and config["dtype"] == "int32"
    clone = layers.InputLayer.from_config(config)
    assert clone.output.shape == (2, 3, 4)
    assert layers.Input(batch_shape=(None, 7)).shape == (None, 7)
    assert layers.InputLayer(input_shape=(5,)).output.shape == (None, 5)  # Keras 2 spelling
    with pytest.raises(ValueError, match="shape"):
        layers.Input()
    with pytest.raises(ValueError, match="both"):
        layers.Input(shape=(2,), batch_shape=(None, 2))

"""BatchNormalization: run_layer_test, training vs inference numerics against numpy, moving
statistics, trainable=False as inference (Keras 3), masks, feature axes, config and errors."""
import numpy as np
import pytest

from layer_testing import run_layer_test
from pykeras import backend as K
from pykeras import layers, models


def _x(shape, seed=0):
    rng = np.random.RandomState(seed)
    return (rng.standard_normal(shape) * 2 + 1).astype(np.float32)


def bn_ref(x, mean, var, gamma, beta, eps, axis):
    shape = [1] * x.ndim
    shape[axis] = -1
    out = (x.astype(np.float64) - mean.reshape(shape)) / np.sqrt(var.reshape(shape) + eps)
    if gamma is not None:
        out = out * gamma.reshape(shape)
    if beta is not None:
        out = out + beta.reshape(shape)
    return out


@pytest.mark.parametrize("kwargs,input_shape,trainable", [
    ({}, (4, 3), 2), ({}, (2, 5, 4, 3), 2), ({"axis": 1}, (3, 4, 5), 2), ({"center": False}, (4, 3), 1),
    ({"scale": False, "center": False}, (4, 3), 0),
    ({"momentum": 0.5, "epsilon": 1e-2, "gamma_regularizer": "l2", "beta_constraint": "non_neg"}, (6, 2), 2),
])
def test_batch_normalization(kwargs, input_shape, trainable):
    run_layer_test(layers.BatchNormalization, kwargs, input_data=_x(input_shape), expected_output_shape=input_shape,
                   expected_num_trainable_weights=trainable, expected_num_non_trainable_weights=2,
                   training_differs=True, supports_masking=True,
                   expected_num_losses=1 if "gamma_regularizer" in kwargs else 0)


@pytest.mark.parametrize("axis,shape", [(-1, (6, 4, 3)), (1, (5, 3, 4)), (3, (2, 3, 2, 4))])
def test_training_and_inference_numerics(axis, shape):
    x = _x(shape, seed=axis + 5)
    layer = layers.BatchNormalization(axis=axis, momentum=0.8, epsilon=1e-3)
    layer.build(shape)
    rng = np.random.RandomState(1)
    c = shape[axis]
    gamma, beta = rng.rand(c).astype(np.float32) + 0.5, rng.standard_normal(c).astype(np.float32)
    mm, mv = rng.standard_normal(c).astype(np.float32), rng.rand(c).astype(np.float32) + 0.5
    layer.set_weights([gamma, beta, mm, mv])
    assert [w.name for w in layer.weights] == ["gamma", "beta", "moving_mean", "moving_variance"]
    # Inference: the moving statistics.
    np.testing.assert_allclose(np.asarray(layer(x)), bn_ref(x, mm, mv, gamma, beta, 1e-3, axis % len(shape)),
                               rtol=1e-5, atol=1e-5)
    # Training: the batch statistics (biased variance), and the moving ones move towards them.
    reduce = tuple(a for a in range(len(shape)) if a != axis % len(shape))
    mean, var = x.astype(np.float64).mean(axis=reduce), x.astype(np.float64).var(axis=reduce)
    out = np.asarray(layer(x, training=True))
    np.testing.assert_allclose(out, bn_ref(x, mean, var, gamma, beta, 1e-3, axis % len(shape)), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(layer.get_weights()[2], 0.8 * mm + 0.2 * mean, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(layer.get_weights()[3], 0.8 * mv + 0.2 * var, rtol=1e-5, atol=1e-6)


def test_training_gradient_flows_through_the_batch_statistics():
    x = _x((5, 3), seed=2)
    layer = layers.BatchNormalization()
    layer.build(x.shape)
    gamma = np.array([1.5, 0.5, 2.0], np.float32)
    layer.set_weights([gamma, np.array([0.1, -0.2, 0.3], np.float32), np.zeros(3, np.float32),
                       np.ones(3, np.float32)])
    w = np.random.RandomState(3).standard_normal(x.shape).astype(np.float32)
    t = K.convert_to_tensor(x)
    with K.GradientTape() as tape:
        tape.watch(t)
        loss = K.sum(layer(t, training=True) * w)
    grads = tape.gradient(loss, [t, layer.gamma, layer.beta])
    # d/dx of w . BN(x) in float64: inv * (dy - mean(dy) - xhat * mean(dy * xhat)), dy = w * gamma.
    x64, w64 = x.astype(np.float64), w.astype(np.float64)
    inv = 1.0 / np.sqrt(x64.var(0) + 1e-3)
    xhat = (x64 - x64.mean(0)) * inv
    dy = w64 * gamma
    np.testing.assert_allclose(np.asarray(grads[0]), inv * (dy - dy.mean(0) - xhat * (dy * xhat).mean(0)),
                               rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(np.asarray(grads[1]), (w64 * xhat).sum(0), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(np.asarray(grads[2]), w64.sum(0), rtol=1e-5)


def test_frozen_layer_runs_in_inference_mode():
    x = _x((8, 3))
    layer = layers.BatchNormalization()
    layer(x)
    before = layer.get_weights()
    layer.trainable = False
    out = np.asarray(layer(x, training=True))
    np.testing.assert_allclose(out, np.asarray(layer(x, training=False)), rtol=1e-6)
    for a, b in zip(before, layer.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert layer.trainable_weights == [] and len(layer.non_trainable_weights) == 4


def test_masked_training_statistics():
    x = _x((3, 5, 2), seed=4)
    mask = np.array([[1, 1, 1, 0, 0], [1, 0, 0, 0, 0], [1, 1, 1, 1, 1]], bool)
    layer = layers.BatchNormalization(momentum=0.0, center=False, scale=False)
    t = K.convert_to_tensor(x)
    t._keras_mask = K.convert_to_tensor(mask)
    out = layer(t, training=True)
    kept = x[mask].astype(np.float64)
    mean, var = kept.mean(axis=0), kept.var(axis=0)
    np.testing.assert_allclose(layer.get_weights()[0], mean, rtol=1e-5)
    np.testing.assert_allclose(layer.get_weights()[1], var, rtol=1e-5)
    np.testing.assert_allclose(np.asarray(out), (x - mean) / np.sqrt(var + 1e-3), rtol=1e-4, atol=1e-5)
    np.testing.assert_array_equal(np.asarray(out._keras_mask), mask)
    with pytest.raises(ValueError, match="one dimension less"):
        layer(x, mask=np.ones((3, 5, 2), bool), training=True)


def test_fit_updates_moving_statistics_and_nested_training_flag():
    rng = np.random.RandomState(0)
    x = (rng.standard_normal((32, 4)) * 3 + 2).astype(np.float32)
    y = rng.standard_normal((32, 1)).astype(np.float32)
    inner = models.Sequential([layers.Input((4,)), layers.BatchNormalization(momentum=0.5, name="bn")])
    model = models.Sequential([layers.Input((4,)), inner, layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    model.fit(x, y, batch_size=32, epochs=5, verbose=0)
    moving_mean = inner.get_layer("bn").get_weights()[2]
    np.testing.assert_allclose(moving_mean, x.mean(axis=0) * (1 - 0.5 ** 5), rtol=1e-3)


def test_config_and_errors():
    config = layers.BatchNormalization(name="bn").get_config()
    for key, value in {"axis": -1, "momentum": 0.99, "epsilon": 0.001, "center": True, "scale": True,
                       "synchronized": False, "renorm": False, "renorm_clipping": None,
                       "renorm_momentum": 0.99}.items():
        assert config[key] == value, key
    assert config["moving_variance_initializer"]["class_name"] == "Ones"
    assert layers.BatchNormalization(axis=[3]).axis == 3  # a Keras 2 config's list form
    with pytest.raises(ValueError, match="synchronized"):
        layers.BatchNormalization(synchronized=True)
    with pytest.raises(ValueError, match="renorm"):
        layers.BatchNormalization(renorm=True)
    with pytest.raises(ValueError, match="axis"):
        layers.BatchNormalization(axis=[1, 2])
    layer = layers.BatchNormalization(name="bn_in")
    layer(np.zeros((2, 3), np.float32))
    with pytest.raises(ValueError, match=r'layer "bn_in".*axis -1.*value 3.*\(2, 4\)'):
        layer(np.zeros((2, 4), np.float32))
    with pytest.raises(ValueError, match=r'layer "bn_in".*ndim=2, found ndim=3'):
        layer(np.zeros((2, 5, 3), np.float32))
    with pytest.raises(ValueError, match=r"'bn_axis'.*axis 3 is out of bounds.*\(2, 3\)"):
        layers.BatchNormalization(axis=3, name="bn_axis")(np.zeros((2, 3), np.float32))
    with pytest.raises(ValueError, match="known size"):
        layers.BatchNormalization()(layers.Input((None,)))

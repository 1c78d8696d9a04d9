"""LeakyReLU, PReLU, ELU, ThresholdedReLU, ReLU, Softmax: run_layer_test, numpy references,
Keras 2 argument names, masks, argument errors."""
import numpy as np
import pytest

from layer_testing import run_layer_test
from pykeras import backend as K
from pykeras import layers


def _x(shape=(3, 4, 5), seed=0):
    return (np.random.RandomState(seed).standard_normal(shape) * 2).astype(np.float32)


def _softmax(x, axis):
    x = x.astype(np.float64)
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


CASES = [
    (layers.LeakyReLU, {}, lambda x: np.where(x >= 0, x, 0.3 * x)),
    (layers.LeakyReLU, {"negative_slope": 0.1}, lambda x: np.where(x >= 0, x, 0.1 * x)),
    (layers.ELU, {}, lambda x: np.where(x > 0, x, np.expm1(x.astype(np.float64)))),
    (layers.ELU, {"alpha": 0.5}, lambda x: np.where(x > 0, x, 0.5 * np.expm1(x.astype(np.float64)))),
    (layers.ThresholdedReLU, {}, lambda x: np.where(x > 1.0, x, 0.0)),
    (layers.ThresholdedReLU, {"theta": 0.5}, lambda x: np.where(x > 0.5, x, 0.0)),
    (layers.ReLU, {}, lambda x: np.maximum(x, 0)),
    (layers.ReLU, {"max_value": 6.0}, lambda x: np.clip(x, 0, 6)),
    (layers.ReLU, {"max_value": 1.5, "negative_slope": 0.1, "threshold": 0.5},
     lambda x: np.where(x >= 1.5, 1.5, np.where(x >= 0.5, x, 0.1 * (x - 0.5)))),
    (layers.ReLU, {"negative_slope": 0.2}, lambda x: np.where(x >= 0, x, 0.2 * x)),
    (layers.Softmax, {}, lambda x: _softmax(x, -1)),
    (layers.Softmax, {"axis": 1}, lambda x: _softmax(x, 1)),
    (layers.Softmax, {"axis": [1, 2]}, lambda x: _softmax(x, (1, 2))),
]


@pytest.mark.parametrize("cls,kwargs,reference", CASES)
def test_activation_layers(cls, kwargs, reference):
    x = _x()
    mask = np.random.RandomState(1).rand(3, 4) > 0.3
    run_layer_test(cls, kwargs, input_data=x, expected_output_shape=x.shape, expected_output=reference(x),
                   supports_masking=True, input_mask=None if cls is layers.Softmax else mask,
                   expected_mask_shape=None if cls is layers.Softmax else (3, 4), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("kwargs,alpha_shape", [({}, (4, 5)), ({"shared_axes": [1]}, (1, 5)),
                                                ({"shared_axes": 2, "alpha_initializer": "ones"}, (4, 1)),
                                                ({"alpha_regularizer": "l2", "alpha_constraint": "non_neg"}, (4, 5))])
def test_prelu(kwargs, alpha_shape):
    x = _x()
    layer = run_layer_test(layers.PReLU, kwargs, input_data=x, expected_output_shape=x.shape,
                           expected_num_trainable_weights=1, supports_masking=True,
                           expected_num_losses=1 if "alpha_regularizer" in kwargs else 0)
    (alpha,) = layer.get_weights()
    assert alpha.shape == alpha_shape and layer.weights[0].name == "alpha"
    alpha = np.random.RandomState(2).rand(*alpha_shape).astype(np.float32)
    layer.set_weights([alpha])
    np.testing.assert_allclose(np.asarray(layer(x)), np.where(x >= 0, x, alpha * x), rtol=1e-6)
    # The gradient reaches alpha through the negative part only.
    with K.GradientTape() as tape:
        out = K.sum(layer(x))
    grad = np.asarray(tape.gradient(out, layer.alpha))
    want = np.minimum(x, 0).sum(axis=0)
    for axis in kwargs.get("shared_axes", []) if isinstance(kwargs.get("shared_axes"), list) else \
            ([kwargs["shared_axes"]] if "shared_axes" in kwargs else []):
        want = want.sum(axis=axis - 1, keepdims=True)
    np.testing.assert_allclose(grad, want, rtol=1e-5, atol=1e-5)


def test_prelu_per_channel_on_images_and_bad_input():
    layer = layers.PReLU(shared_axes=[1, 2], name="pr")
    y = layer(layers.Input((None, None, 3)))
    assert y.shape == (None, None, None, 3) and layer.alpha.shape == (1, 1, 3)
    with pytest.raises(ValueError, match=r'layer "pr".*axis 3.*value 3'):
        layer(np.zeros((1, 2, 2, 4), np.float32))
    with pytest.raises(ValueError, match="known size"):
        layers.PReLU()(layers.Input((None, 3)))


def test_leaky_relu_keras2_alpha_and_defaults():
    with pytest.warns(UserWarning, match="negative_slope"):
        layer = layers.LeakyReLU(alpha=0.2)
    assert layer.negative_slope == 0.2
    assert layers.LeakyReLU.from_config({"name": "lr", "alpha": 0.25}).negative_slope == 0.25
    assert layers.LeakyReLU().negative_slope == 0.3
    assert layers.LeakyReLU().get_config()["negative_slope"] == 0.3
    assert layers.ELU().get_config()["alpha"] == 1.0
    assert layers.ThresholdedReLU().get_config()["theta"] == 1.0
    assert layers.Softmax().get_config()["axis"] == -1


def test_softmax_masks():
    x = _x((2, 3, 4))
    mask = np.random.RandomState(3).rand(2, 3, 4) > 0.4
    mask[..., 0] = True
    out = np.asarray(layers.Softmax()(x, mask=mask))
    e = np.where(mask, np.exp(x.astype(np.float64) - x.max(axis=-1, keepdims=True)), 0.0)
    np.testing.assert_allclose(out, e / e.sum(axis=-1, keepdims=True), rtol=1e-5, atol=1e-7)
    # A (batch, 1, keys) mask broadcasts over the queries; a float mask counts where > 0.5.
    kmask = np.array([[[1, 1, 0, 0]], [[1, 0, 1, 0]]], np.float32)
    out = np.asarray(layers.Softmax()(x, mask=kmask))
    assert np.all(out[np.broadcast_to(kmask, x.shape) == 0] == 0)
    np.testing.assert_allclose(out.sum(axis=-1), 1.0, rtol=1e-6)
    # The mask of the input rides through (and masked positions get no gradient).
    t = K.convert_to_tensor(x)
    t._keras_mask = K.convert_to_tensor(mask)
    with K.GradientTape() as tape:
        tape.watch(t)
        y = layers.Softmax()(t)
        loss = K.sum(K.square(y))
    np.testing.assert_array_equal(np.asarray(y._keras_mask), mask)
    assert np.all(np.asarray(tape.gradient(loss, t))[~mask] == 0)
    with pytest.raises(ValueError, match="broadcastable"):
        layers.Softmax()(x, mask=np.ones((2, 5), bool))


@pytest.mark.parametrize("make", [
    lambda: layers.LeakyReLU(-0.1), lambda: layers.LeakyReLU(None), lambda: layers.ReLU(max_value=-1),
    lambda: layers.ReLU(negative_slope=-1), lambda: layers.ReLU(threshold=-0.5), lambda: layers.ThresholdedReLU(-1),
    lambda: layers.Softmax(axis="last"),
])
def test_bad_arguments(make):
    with pytest.raises(ValueError):
        make()

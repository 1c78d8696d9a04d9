"""GaussianNoise, GaussianDropout, AlphaDropout, SpatialDropout1D/2D/3D: identity in inference,
noise statistics in training, whole-channel drops, seeds, configs and errors."""
import numpy as np
import pytest

from layer_testing import run_layer_test
from pykeras import backend as K
from pykeras import layers


def _x(shape, seed=0):
    return np.random.RandomState(seed).standard_normal(shape).astype(np.float32)


@pytest.mark.parametrize("cls,kwargs,shape", [
    (layers.GaussianNoise, {"stddev": 0.5}, (4, 6)),
    (layers.GaussianDropout, {"rate": 0.3}, (4, 6)),
    (layers.AlphaDropout, {"rate": 0.3}, (4, 6)),
    (layers.AlphaDropout, {"rate": 0.5, "noise_shape": (None, 1, 5)}, (4, 3, 5)),
    (layers.SpatialDropout1D, {"rate": 0.5, "seed": 1}, (4, 5, 6)),
    (layers.SpatialDropout2D, {"rate": 0.5, "seed": 1}, (4, 3, 3, 6)),
    (layers.SpatialDropout3D, {"rate": 0.5, "seed": 1}, (4, 2, 2, 2, 6)),
])
def test_noise_layers(cls, kwargs, shape):
    x = _x(shape)
    mask = np.ones(shape[:2], bool) if len(shape) == 3 else None
    run_layer_test(cls, kwargs, input_data=x, expected_output_shape=shape, expected_output=x, training_differs=True,
                   supports_masking=True, input_mask=mask, expected_mask_shape=shape[:2] if mask is not None else None)


def test_gaussian_noise_and_dropout_statistics():
    x = np.ones((200, 100), np.float32)
    noisy = np.asarray(layers.GaussianNoise(0.5, seed=3)(x, training=True)) - 1.0
    assert abs(noisy.mean()) < 0.02 and abs(noisy.std() - 0.5) < 0.02
    rate = 0.2
    scaled = np.asarray(layers.GaussianDropout(rate, seed=4)(x, training=True))
    assert abs(scaled.mean() - 1.0) < 0.02 and abs(scaled.std() - np.sqrt(rate / (1 - rate))) < 0.02
    # A zero rate / stddev is the identity even in training.
    np.testing.assert_array_equal(np.asarray(layers.GaussianNoise(0.0)(x, training=True)), x)
    np.testing.assert_array_equal(np.asarray(layers.GaussianDropout(0.0)(x, training=True)), x)


def test_alpha_dropout_keeps_selu_statistics():
    rng = np.random.RandomState(0)
    x = np.asarray(K.nn.selu(rng.standard_normal((400, 250)).astype(np.float32)))
    out = np.asarray(layers.AlphaDropout(0.2, seed=5)(x, training=True))
    assert abs(out.mean() - x.mean()) < 0.02 and abs(out.std() - x.std()) < 0.02
    assert np.all(np.isfinite(out))
    # Dropped units all take the same value: a * alpha' + b.
    alpha_p = -1.6732632423543772 * 1.0507009873554805
    a = ((1 - 0.2) * (1 + 0.2 * alpha_p ** 2)) ** -0.5
    b = -a * alpha_p * 0.2
    dropped_value = a * alpha_p + b
    frac = np.isclose(out, dropped_value, atol=1e-6).mean()
    assert abs(frac - 0.2) < 0.02


@pytest.mark.parametrize("cls,shape", [(layers.SpatialDropout1D, (6, 5, 8)), (layers.SpatialDropout2D, (6, 3, 4, 8)),
                                       (layers.SpatialDropout3D, (6, 2, 3, 2, 8))])
def test_spatial_dropout_drops_whole_channels(cls, shape):
    x = np.ones(shape, np.float32)
    out = np.asarray(cls(0.5, seed=2)(x, training=True))
    per_channel = out.reshape(shape[0], -1, shape[-1])
    # Every channel of every sample is all 0 or all 1 / (1 - rate).
    assert np.all((per_channel == 0).all(axis=1) | (per_channel == 2.0).all(axis=1))
    assert 0 < (per_channel[:, 0] == 0).mean() < 1


def test_seeds_and_configs():
    x = _x((3, 4, 5))
    a = np.asarray(layers.SpatialDropout1D(0.5, seed=7)(x, training=True))
    b = np.asarray(layers.SpatialDropout1D(0.5, seed=7)(x, training=True))
    np.testing.assert_array_equal(a, b)
    layer = layers.GaussianNoise(0.1, seed=1)
    assert not np.array_equal(np.asarray(layer(x, training=True)), np.asarray(layer(x, training=True)))
    assert layers.SpatialDropout2D(0.3, name="s").get_config() == {
        "name": "s", "dtype": layers.SpatialDropout2D(0.3).dtype_policy, "rate": 0.3,
        "seed": None, "data_format": "channels_last"}
    assert "data_format" not in layers.SpatialDropout1D(0.3).get_config()
    assert layers.AlphaDropout(0.1, noise_shape=(None, 1)).get_config()["noise_shape"] == [None, 1]
    assert layers.GaussianNoise(0.1).get_config()["stddev"] == 0.1


def test_errors():
    for make in (lambda: layers.GaussianNoise(1.5), lambda: layers.GaussianDropout(-0.1),
                 lambda: layers.AlphaDropout(2), lambda: layers.SpatialDropout2D(0.5, data_format="channels_first")):
        with pytest.raises(ValueError):
            make()
    with pytest.raises(ValueError, match=r'layer "sd".*expected ndim=4, found ndim=3'):
        layers.SpatialDropout2D(0.5, name="sd")(np.zeros((2, 3, 4), np.float32))

"""Cropping, ZeroPadding and UpSampling layers: run_layer_test on each, outputs against numpy
(slicing, np.pad, np.repeat, a float64 bilinear reference), the argument forms Keras accepts,
errors naming the layer and the shapes."""
import numpy as np
import pytest

from layer_testing import run_layer_test
from pykeras import layers


def _x(shape, seed=0):
    return np.random.RandomState(seed).standard_normal(shape).astype(np.float32)


def bilinear_ref(x, fh, fw):
    """Half-pixel-centre bilinear upsampling with edge clamping (TF2 / JAX resize), float64."""
    def weights(n_in, n_out):
        m = np.zeros((n_out, n_in))
        for i in range(n_out):
            src = (i + 0.5) * n_in / n_out - 0.5
            lo = int(np.floor(src))
            frac = src - lo
            for j, w in ((lo, 1 - frac), (lo + 1, frac)):
                m[i, min(max(j, 0), n_in - 1)] += w
        return m
    _, h, w, _ = x.shape
    rows, cols = weights(h, h * fh), weights(w, w * fw)
    return np.einsum("ih,jw,bhwc->bijc", rows, cols, x.astype(np.float64))


CROP_CASES = [
    (layers.Cropping1D, {}, (2, 5, 3), lambda x: x[:, 1:4]),
    (layers.Cropping1D, {"cropping": (0, 2)}, (2, 5, 3), lambda x: x[:, 0:3]),
    (layers.Cropping1D, {"cropping": 2}, (2, 6, 1), lambda x: x[:, 2:4]),
    (layers.Cropping2D, {}, (2, 4, 3, 2), lambda x: x),
    (layers.Cropping2D, {"cropping": 1}, (2, 4, 5, 2), lambda x: x[:, 1:3, 1:4]),
    (layers.Cropping2D, {"cropping": (1, 2)}, (2, 4, 5, 2), lambda x: x[:, 1:3, 2:3]),
    (layers.Cropping2D, {"cropping": ((0, 2), (1, 0))}, (2, 4, 5, 2), lambda x: x[:, 0:2, 1:5]),
    (layers.Cropping3D, {}, (1, 3, 4, 5, 2), lambda x: x[:, 1:2, 1:3, 1:4]),
    (layers.Cropping3D, {"cropping": (0, 1, (2, 0))}, (1, 3, 4, 5, 2), lambda x: x[:, :, 1:3, 2:]),
]


@pytest.mark.parametrize("cls,kwargs,input_shape,reference", CROP_CASES)
def test_cropping_layers(cls, kwargs, input_shape, reference):
    x = _x(input_shape)
    expected = reference(x)
    run_layer_test(cls, kwargs, input_data=x, expected_output_shape=expected.shape, expected_output=expected)


PAD_CASES = [
    (layers.ZeroPadding1D, {}, (2, 3, 2), ((1, 1),)),
    (layers.ZeroPadding1D, {"padding": (2, 0)}, (2, 3, 2), ((2, 0),)),
    (layers.ZeroPadding2D, {}, (2, 3, 2, 2), ((1, 1), (1, 1))),
    (layers.ZeroPadding2D, {"padding": (2, 1)}, (2, 3, 2, 2), ((2, 2), (1, 1))),
    (layers.ZeroPadding2D, {"padding": ((0, 1), (3, 2))}, (2, 3, 2, 1), ((0, 1), (3, 2))),
    (layers.ZeroPadding3D, {}, (1, 2, 3, 2, 2), ((1, 1), (1, 1), (1, 1))),
    (layers.ZeroPadding3D, {"padding": 2}, (1, 2, 1, 2, 1), ((2, 2), (2, 2), (2, 2))),
    (layers.ZeroPadding3D, {"padding": ((1, 0), 0, (0, 2))}, (1, 2, 1, 2, 1), ((1, 0), (0, 0), (0, 2))),
]


@pytest.mark.parametrize("cls,kwargs,input_shape,pads", PAD_CASES)
def test_zero_padding_layers(cls, kwargs, input_shape, pads):
    x = _x(input_shape, seed=1)
    expected = np.pad(x, ((0, 0),) + pads + ((0, 0),))
    run_layer_test(cls, kwargs, input_data=x, expected_output_shape=expected.shape, expected_output=expected)


UPSAMPLE_CASES = [
    (layers.UpSampling1D, {}, (2, 3, 2), (2,)),
    (layers.UpSampling1D, {"size": 3}, (2, 3, 2), (3,)),
    (layers.UpSampling2D, {}, (2, 2, 3, 2), (2, 2)),
    (layers.UpSampling2D, {"size": (1, 3)}, (2, 2, 3, 2), (1, 3)),
    (layers.UpSampling3D, {}, (1, 2, 1, 2, 2), (2, 2, 2)),
    (layers.UpSampling3D, {"size": (3, 1, 2)}, (1, 2, 1, 2, 2), (3, 1, 2)),
]


@pytest.mark.parametrize("cls,kwargs,input_shape,factors", UPSAMPLE_CASES)
def test_upsampling_nearest(cls, kwargs, input_shape, factors):
    x = _x(input_shape, seed=2)
    expected = x
    for axis, f in enumerate(factors, start=1):
        expected = np.repeat(expected, f, axis=axis)
    run_layer_test(cls, kwargs, input_data=x, expected_output_shape=expected.shape, expected_output=expected)


@pytest.mark.parametrize("size", [(2, 2), (3, 2), (1, 4)])
def test_upsampling2d_bilinear(size):
    x = _x((2, 3, 4, 2), seed=3)
    expected = bilinear_ref(x, *size)
    run_layer_test(layers.UpSampling2D, {"size": size, "interpolation": "bilinear"}, input_data=x,
                   expected_output_shape=expected.shape, expected_output=expected)


def test_reshaping_configs_follow_keras():
    assert layers.Cropping1D().get_config()["cropping"] == (1, 1)
    assert "data_format" not in layers.Cropping1D().get_config()
    assert layers.Cropping2D(2).get_config()["cropping"] == ((2, 2), (2, 2))
    assert layers.ZeroPadding2D((1, 2)).get_config()["padding"] == ((1, 1), (2, 2))
    assert layers.ZeroPadding1D().get_config()["padding"] == (1, 1)
    assert layers.UpSampling1D().get_config()["size"] == 2
    config = layers.UpSampling2D(interpolation="Bilinear").get_config()
    assert config["size"] == (2, 2) and config["interpolation"] == "bilinear"
    # A config read from JSON (lists) builds the same layer.
    layer = layers.Cropping2D.from_config({"cropping": [[1, 0], [0, 2]], "name": "c"})
    assert layer.cropping == ((1, 0), (0, 2))


def test_reshaping_errors():
    with pytest.raises(ValueError, match=r"'crop'.*smaller than.*\(2, 4, 3\)"):
        layers.Cropping1D((2, 2), name="crop")(np.zeros((2, 4, 3), np.float32))
    with pytest.raises(ValueError, match=r"'crop2'.*smaller than.*\(None, 4, 3, 1\)"):
        layers.Cropping2D(((0, 0), (2, 1)), name="crop2")(layers.Input((4, 3, 1)))
    layer = layers.Cropping2D(1, name="later")
    layer(np.zeros((1, 4, 4, 1), np.float32))
    with pytest.raises(ValueError, match=r"'later'.*\(1, 2, 4, 1\)"):
        layer(np.zeros((1, 2, 4, 1), np.float32))
    with pytest.raises(ValueError, match=r'layer "zp".*expected ndim=4, found ndim=3'):
        layers.ZeroPadding2D(name="zp")(np.zeros((1, 4, 4), np.float32))
    with pytest.raises(TypeError, match="integer"):
        layers.UpSampling1D(size=(2,))
    for make in (lambda: layers.UpSampling1D(0), lambda: layers.UpSampling2D(interpolation="bicubic"),
                 lambda: layers.Cropping2D(((1, 1), (1, 1), (1, 1))), lambda: layers.Cropping1D(-1),
                 lambda: layers.ZeroPadding2D(-1), lambda: layers.ZeroPadding3D((1, 1)),
                 lambda: layers.UpSampling2D(data_format="channels_first")):
        with pytest.raises(ValueError):
            make()

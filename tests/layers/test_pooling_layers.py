"""Pooling layers: run_layer_test on each, outputs against float64 numpy references (windows,
'same' padding that only counts real inputs, global reductions, masked averages), errors."""
import itertools

import numpy as np
import pytest

from layer_testing import run_layer_test
from pykeras import backend as K
from pykeras import layers


def pool_ref(x, pool, strides, padding, mode):
    """Windowed max/mean over the spatial axes of a channels_last array, in float64."""
    x = x.astype(np.float64)
    spatial = x.shape[1:-1]
    if padding == "valid":
        outs = [(n - p) // s + 1 for n, p, s in zip(spatial, pool, strides)]
        starts = [0] * len(spatial)
    else:
        outs = [-(-n // s) for n, s in zip(spatial, strides)]
        starts = [-(max((o - 1) * s + p - n, 0) // 2) for o, s, p, n in zip(outs, strides, pool, spatial)]
    y = np.zeros((x.shape[0],) + tuple(outs) + (x.shape[-1],))
    for pos in itertools.product(*[range(o) for o in outs]):
        key = tuple(slice(max(st + i * s, 0), min(st + i * s + p, n))
                    for st, i, s, p, n in zip(starts, pos, strides, pool, spatial))
        window = x[(slice(None),) + key + (slice(None),)]
        axes = tuple(range(1, len(spatial) + 1))
        y[(slice(None),) + pos] = window.max(axis=axes) if mode == "max" else window.mean(axis=axes)
    return y


def _x(shape, seed=0):
    return np.random.RandomState(seed).standard_normal(shape).astype(np.float32)


POOL_CASES = [
    (layers.MaxPooling1D, {}, (2, 7, 3), (2, 3, 3)),
    (layers.MaxPooling1D, {"pool_size": 3, "strides": 2, "padding": "same"}, (2, 8, 2), (2, 4, 2)),
    (layers.AveragePooling1D, {"pool_size": 3, "strides": 1}, (2, 6, 2), (2, 4, 2)),
    (layers.AveragePooling1D, {"pool_size": 2, "padding": "same"}, (2, 7, 3), (2, 4, 3)),
    (layers.MaxPooling2D, {}, (2, 6, 5, 3), (2, 3, 2, 3)),
    (layers.MaxPooling2D, {"pool_size": (3, 2), "strides": (2, 1), "padding": "same"}, (2, 7, 5, 2), (2, 4, 5, 2)),
    (layers.AveragePooling2D, {"pool_size": 3, "strides": 2}, (2, 7, 6, 2), (2, 3, 2, 2)),
    (layers.AveragePooling2D, {"pool_size": 3, "strides": 2, "padding": "same"}, (2, 6, 7, 2), (2, 3, 4, 2)),
    (layers.MaxPooling3D, {}, (1, 4, 5, 4, 2), (1, 2, 2, 2, 2)),
    (layers.MaxPooling3D, {"pool_size": 2, "strides": 1, "padding": "same"}, (1, 3, 3, 2, 2), (1, 3, 3, 2, 2)),
    (layers.AveragePooling3D, {"pool_size": (2, 1, 2)}, (1, 4, 3, 4, 2), (1, 2, 3, 2, 2)),
    (layers.AveragePooling3D, {"pool_size": 3, "strides": 2, "padding": "same"}, (1, 5, 4, 3, 2), (1, 3, 2, 2, 2)),
]


@pytest.mark.parametrize("cls,kwargs,input_shape,output_shape", POOL_CASES)
def test_pooling_layers(cls, kwargs, input_shape, output_shape):
    x = _x(input_shape)
    layer = run_layer_test(cls, kwargs, input_data=x, expected_output_shape=output_shape)
    expected = pool_ref(x, layer.pool_size, layer.strides, layer.padding, cls.pool_mode)
    np.testing.assert_allclose(np.asarray(layer(x)), expected, rtol=1e-5, atol=1e-6)


def test_pooling_defaults_and_config():
    assert layers.MaxPooling2D().pool_size == (2, 2) and layers.MaxPooling2D().strides == (2, 2)
    assert layers.MaxPooling1D().pool_size == (2,) and layers.AveragePooling3D().pool_size == (2, 2, 2)
    layer = layers.MaxPooling2D(3, strides=1, padding="SAME", name="p")
    config = layer.get_config()
    assert config["pool_size"] == (3, 3) and config["strides"] == (1, 1) and config["padding"] == "same"
    assert config["data_format"] == "channels_last"
    assert layers.MaxPool2D is layers.MaxPooling2D and layers.AvgPool1D is layers.AveragePooling1D
    assert layers.GlobalAvgPool2D is layers.GlobalAveragePooling2D


def test_max_pool_gradient_goes_to_the_maximum():
    x = np.array([[[1.0], [3.0], [2.0], [0.0]]], np.float32)
    t = K.convert_to_tensor(x)
    with K.GradientTape() as tape:
        tape.watch(t)
        y = K.sum(layers.MaxPooling1D(2)(t))
    np.testing.assert_array_equal(np.asarray(tape.gradient(y, t)).ravel(), [0, 1, 1, 0])


GLOBAL_CASES = [
    (layers.GlobalMaxPooling1D, 1, "max"), (layers.GlobalMaxPooling2D, 2, "max"), (layers.GlobalMaxPooling3D, 3, "max"),
    (layers.GlobalAveragePooling1D, 1, "mean"), (layers.GlobalAveragePooling2D, 2, "mean"),
    (layers.GlobalAveragePooling3D, 3, "mean"),
]


@pytest.mark.parametrize("cls,rank,mode", GLOBAL_CASES)
@pytest.mark.parametrize("keepdims", [False, True])
def test_global_pooling_layers(cls, rank, mode, keepdims):
    shape = (2,) + (3, 4, 2)[:rank] + (5,)
    x = _x(shape, seed=rank)
    axes = tuple(range(1, rank + 1))
    expected = getattr(x.astype(np.float64), mode)(axis=axes, keepdims=keepdims)
    run_layer_test(cls, {"keepdims": keepdims}, input_data=x, expected_output_shape=expected.shape,
                   expected_output=expected)


def test_global_average_pooling_1d_respects_masks():
    x = _x((3, 4, 2))
    mask = np.array([[1, 1, 0, 0], [1, 1, 1, 1], [0, 1, 0, 1]], bool)
    expected = np.stack([x[i][mask[i]].astype(np.float64).mean(axis=0) for i in range(3)])
    run_layer_test(layers.GlobalAveragePooling1D, {}, input_data=x, supports_masking=True, input_mask=mask,
                   expected_mask_shape=None)
    layer = layers.GlobalAveragePooling1D()
    np.testing.assert_allclose(np.asarray(layer(x, mask=mask)), expected, rtol=1e-5, atol=1e-6)
    # Through an Embedding with mask_zero: padded steps do not count, and the mask stops here.
    tokens = np.array([[3, 1, 0, 0], [2, 2, 2, 0]], np.int32)
    emb = layers.Embedding(5, 2, mask_zero=True)
    pooled = layers.GlobalAveragePooling1D(keepdims=True)(emb(tokens))
    vectors = np.asarray(emb(tokens)).astype(np.float64)
    want = np.stack([vectors[0, :2].mean(axis=0), vectors[1, :3].mean(axis=0)])[:, None, :]
    np.testing.assert_allclose(np.asarray(pooled), want, rtol=1e-5, atol=1e-6)
    assert getattr(pooled, "_keras_mask", None) is None
    # The gradient reaches only the unmasked steps.
    t = K.convert_to_tensor(x)
    with K.GradientTape() as tape:
        tape.watch(t)
        out = K.sum(layer(t, mask=mask))
    grad = np.asarray(tape.gradient(out, t))
    np.testing.assert_allclose(grad[..., 0], mask / mask.sum(axis=1, keepdims=True), rtol=1e-6)


def test_pooling_errors_name_the_layer_and_shapes():
    with pytest.raises(ValueError, match=r"'p3'.*zero or negative.*\(2, 2, 2, 1\)"):
        layers.MaxPooling2D(3, name="p3")(np.zeros((2, 2, 2, 1), np.float32))
    with pytest.raises(ValueError, match=r"'p3s'.*zero or negative.*\(None, 2, 5, 1\)"):
        layers.AveragePooling2D(3, name="p3s")(layers.Input((2, 5, 1)))
    layer = layers.MaxPooling2D(3, name="later")
    layer(np.zeros((1, 4, 4, 1), np.float32))
    with pytest.raises(ValueError, match=r"'later'.*\(1, 2, 4, 1\)"):
        layer(np.zeros((1, 2, 4, 1), np.float32))
    with pytest.raises(ValueError, match=r'layer "rank".*expected ndim=4, found ndim=3'):
        layers.MaxPooling2D(name="rank")(np.zeros((1, 4, 4), np.float32))
    with pytest.raises(ValueError, match=r'layer "grank".*expected ndim=3, found ndim=4'):
        layers.GlobalAveragePooling1D(name="grank")(np.zeros((1, 4, 4, 1), np.float32))
    for make in (lambda: layers.MaxPooling2D(0), lambda: layers.MaxPooling2D(2, padding="causal"),
                 lambda: layers.AveragePooling1D(data_format="channels_first"),
                 lambda: layers.GlobalMaxPooling2D(data_format="channels_first"),
                 lambda: layers.MaxPooling2D((2, 2, 2))):
        with pytest.raises(ValueError):
            make()

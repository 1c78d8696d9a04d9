"""Convolution layers: run_layer_test on each, outputs against float64 numpy references written
here from Keras's definitions (padding arithmetic, kernel layouts), argument and input errors."""
import itertools

import numpy as np
import pytest

from layer_testing import run_layer_test
from pykeras import backend as K
from pykeras import layers, models

# ------------------------------------------------------------------------------------------------
# float64 references (channels_last, Keras kernel layouts)


def _same_pads(n, dk, s):
    out = -(-n // s)
    total = max((out - 1) * s + dk - n, 0)
    return total // 2, total - total // 2


def _pad_input(x, kernel_size, strides, dilation, padding):
    pads = [(0, 0)]
    for n, k, s, d in zip(x.shape[1:-1], kernel_size, strides, dilation):
        dk = (k - 1) * d + 1
        if padding == "same":
            pads.append(_same_pads(n, dk, s))
        elif padding == "causal":
            pads.append((dk - 1, 0))
        else:
            pads.append((0, 0))
    return np.pad(x, pads + [(0, 0)])


def _windows(xp, kernel_size, strides, dilation):
    """Yields (kernel offset, strided input slice) for every kernel tap."""
    out = [(n - (k - 1) * d - 1) // s + 1 for n, k, s, d in zip(xp.shape[1:-1], kernel_size, strides, dilation)]
    for offset in itertools.product(*[range(k) for k in kernel_size]):
        key = (slice(None),) + tuple(slice(o * d, o * d + (m - 1) * s + 1, s)
                                     for o, d, s, m in zip(offset, dilation, strides, out)) + (slice(None),)
        yield offset, xp[key]


def conv_ref(x, w, b=None, strides=None, padding="valid", dilation=None, groups=1):
    rank = w.ndim - 2
    strides = strides or (1,) * rank
    dilation = dilation or (1,) * rank
    x, w = x.astype(np.float64), w.astype(np.float64)
    xp = _pad_input(x, w.shape[:rank], strides, dilation, padding)
    cin_g, cout = w.shape[-2], w.shape[-1]
    cout_g = cout // groups
    y = None
    for offset, sl in _windows(xp, w.shape[:rank], strides, dilation):
        tap = w[offset]
        part = np.concatenate([sl[..., g * cin_g:(g + 1) * cin_g] @ tap[:, g * cout_g:(g + 1) * cout_g]
                               for g in range(groups)], axis=-1)
        y = part if y is None else y + part
    return y if b is None else y + b


def depthwise_ref(x, w, b=None, strides=None, padding="valid", dilation=None):
    rank = w.ndim - 2
    strides = strides or (1,) * rank
    dilation = dilation or (1,) * rank
    x, w = x.astype(np.float64), w.astype(np.float64)
    xp = _pad_input(x, w.shape[:rank], strides, dilation, padding)
    y = None
    for offset, sl in _windows(xp, w.shape[:rank], strides, dilation):
        part = (sl[..., :, None] * w[offset]).reshape(sl.shape[:-1] + (-1,))  # channel c * mult + m
        y = part if y is None else y + part
    return y if b is None else y + b


def conv_transpose_ref(x, w, b=None, strides=None, padding="valid", output_padding=None, dilation=None):
    """Scatter every input pixel through the kernel (w: (*k, out, in)), then crop as Keras/JAX do."""
    rank = w.ndim - 2
    strides = strides or (1,) * rank
    dilation = dilation or (1,) * rank
    output_padding = output_padding or (None,) * rank
    x, w = x.astype(np.float64), w.astype(np.float64)
    n = x.shape[1:-1]
    dks = [(k - 1) * d + 1 for k, d in zip(w.shape[:rank], dilation)]
    full = np.zeros((x.shape[0],) + tuple((m - 1) * s + dk for m, s, dk in zip(n, strides, dks)) + (w.shape[-2],))
    for pos in itertools.product(*[range(m) for m in n]):
        for offset in itertools.product(*[range(k) for k in w.shape[:rank]]):
            target = tuple(p * s + o * d for p, s, o, d in zip(pos, strides, offset, dilation))
            full[(slice(None),) + target] += x[(slice(None),) + pos] @ w[offset].T
    # Keras's output size and the crop at the start (JAX's left padding of the dilated input).
    sizes, starts = [], []
    for m, s, dk, op in zip(n, strides, dks, output_padding):
        if padding == "valid":
            op = max(dk, s) - dk if op is None else op
            left = dk - 1
            sizes.append((m - 1) * s + dk + op)
        else:
            pad_len = s + dk - 2 if op is None else dk + dk % 2 - 2 + op
            left = min(pad_len // 2 + pad_len % 2, dk - 1)
            sizes.append(m * s if op is None else (m - 1) * s + dk % 2 + op)
        starts.append(dk - 1 - left)
    y = np.zeros((x.shape[0],) + tuple(sizes) + (w.shape[-2],))
    src = tuple(slice(st, min(st + sz, f)) for st, sz, f in zip(starts, sizes, full.shape[1:-1]))
    dst = tuple(slice(0, min(st + sz, f) - st) for st, sz, f in zip(starts, sizes, full.shape[1:-1]))
    y[(slice(None),) + dst] = full[(slice(None),) + src]
    return y if b is None else y + b


def _relu(v):
    return np.maximum(v, 0)


def _x(shape, seed=0):
    return np.random.RandomState(seed).standard_normal(shape).astype(np.float32)


# ------------------------------------------------------------------------------------------------
# Conv1D / Conv2D / Conv3D

CONV_CASES = [
    (layers.Conv1D, {"filters": 3, "kernel_size": 3}, (2, 9, 2), (2, 7, 3)),
    (layers.Conv1D, {"filters": 4, "kernel_size": 3, "padding": "causal", "dilation_rate": 2,
                     "activation": "relu"}, (2, 7, 3), (2, 7, 4)),
    (layers.Conv1D, {"filters": 4, "kernel_size": 2, "strides": 2, "padding": "same", "groups": 2}, (2, 7, 4),
     (2, 4, 4)),
    (layers.Conv2D, {"filters": 4, "kernel_size": 3}, (2, 7, 6, 3), (2, 5, 4, 4)),
    (layers.Conv2D, {"filters": 2, "kernel_size": (3, 2), "strides": (2, 1), "padding": "same",
                     "activation": "tanh"}, (2, 7, 5, 3), (2, 4, 5, 2)),
    (layers.Conv2D, {"filters": 3, "kernel_size": 2, "dilation_rate": 2, "use_bias": False}, (1, 6, 6, 2),
     (1, 4, 4, 3)),
    (layers.Conv2D, {"filters": 6, "kernel_size": 3, "groups": 3, "padding": "same"}, (2, 5, 5, 3), (2, 5, 5, 6)),
    (layers.Conv3D, {"filters": 2, "kernel_size": 2, "strides": (1, 2, 1), "padding": "same"}, (1, 4, 5, 3, 2),
     (1, 4, 3, 3, 2)),
]


@pytest.mark.parametrize("cls,kwargs,input_shape,output_shape", CONV_CASES)
def test_conv_layers(cls, kwargs, input_shape, output_shape):
    x = _x(input_shape)
    layer = run_layer_test(cls, kwargs, input_data=x, expected_output_shape=output_shape,
                           expected_num_trainable_weights=1 if kwargs.get("use_bias") is False else 2)
    weights = layer.get_weights()
    assert [w.name for w in layer.weights] == ["kernel", "bias"][:len(weights)]
    rank = cls.rank
    ks = kwargs["kernel_size"]
    ks = (ks,) * rank if isinstance(ks, int) else ks
    groups = kwargs.get("groups", 1)
    assert weights[0].shape == ks + (input_shape[-1] // groups, kwargs["filters"])
    expected = conv_ref(x, weights[0], weights[1] if len(weights) > 1 else None,
                        strides=layer.strides, padding=layer.padding, dilation=layer.dilation_rate, groups=groups)
    act = {"relu": _relu, "tanh": np.tanh}.get(kwargs.get("activation"), lambda v: v)
    np.testing.assert_allclose(np.asarray(layer(x)), act(expected), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("padding", ["valid", "same", "causal"])
@pytest.mark.parametrize("strides,dilation", [(1, 1), (2, 1), (3, 1), (1, 3)])
def test_conv1d_padding_sweep(padding, strides, dilation):
    x = _x((2, 11, 3), seed=strides * 10 + dilation)
    layer = layers.Conv1D(2, 4, strides=strides, padding=padding, dilation_rate=dilation)
    y = np.asarray(layer(x))
    kernel, bias = layer.get_weights()
    np.testing.assert_allclose(y, conv_ref(x, kernel, bias, (strides,), padding, (dilation,)), rtol=1e-4, atol=1e-5)
    assert y.shape == layer.compute_output_shape(x.shape)


def test_conv_with_non_builtin_activation_and_regularizers():
    x = _x((2, 5, 5, 2))
    layer = run_layer_test(layers.Conv2D, {"filters": 3, "kernel_size": 2, "kernel_regularizer": "l2",
                                           "bias_regularizer": "l1", "activity_regularizer": "l2"},
                           input_data=x, expected_output_shape=(2, 4, 4, 3), expected_num_trainable_weights=2,
                           expected_num_losses=3)
    kernel, bias = layer.get_weights()
    losses = [float(np.asarray(v)) for v in layer.losses]
    np.testing.assert_allclose(losses[1], 0.01 * np.sum(kernel.astype(np.float64) ** 2), rtol=1e-5)
    custom = layers.Conv2D(3, 2, activation=lambda t: t * 2.0)
    out = np.asarray(custom(x))
    k, b = custom.get_weights()
    np.testing.assert_allclose(out, 2.0 * conv_ref(x, k, b), rtol=1e-4, atol=1e-5)
    # Changing the activation after construction takes effect (it is not frozen at __init__).
    custom.activation = K.nn.relu
    np.testing.assert_allclose(np.asarray(custom(x)), _relu(conv_ref(x, k, b)), rtol=1e-4, atol=1e-5)


def test_conv_config_matches_keras_layout():
    config = layers.Conv2D(8, 3, name="c").get_config()
    for key, value in {"filters": 8, "kernel_size": (3, 3), "strides": (1, 1), "padding": "valid",
                       "data_format": "channels_last", "dilation_rate": (1, 1), "groups": 1, "activation": "linear",
                       "use_bias": True}.items():
        assert config[key] == value, key
    assert config["kernel_initializer"]["class_name"] == "GlorotUniform"
    # Keras 2 style positional arguments and names.
    assert layers.Convolution2D is layers.Conv2D
    layer = layers.Conv2D(4, (3, 3), (1, 1), "same", input_shape=(5, 5, 1))
    assert layer.padding == "same"
    assert layers.Conv2D(4, 3, padding="SAME").padding == "same"


# ------------------------------------------------------------------------------------------------
# DepthwiseConv1D / DepthwiseConv2D

@pytest.mark.parametrize("cls,kwargs,input_shape,output_shape", [
    (layers.DepthwiseConv1D, {"kernel_size": 3, "depth_multiplier": 2}, (2, 8, 3), (2, 6, 6)),
    (layers.DepthwiseConv1D, {"kernel_size": 2, "strides": 2, "padding": "same", "use_bias": False}, (2, 7, 2),
     (2, 4, 2)),
    (layers.DepthwiseConv2D, {"kernel_size": 3}, (2, 6, 5, 3), (2, 4, 3, 3)),
    (layers.DepthwiseConv2D, {"kernel_size": (3, 2), "strides": 2, "padding": "same", "depth_multiplier": 3,
                              "activation": "relu"}, (2, 7, 6, 2), (2, 4, 3, 6)),
    (layers.DepthwiseConv2D, {"kernel_size": 2, "dilation_rate": 2, "depth_multiplier": 2}, (1, 6, 6, 2),
     (1, 4, 4, 4)),
])
def test_depthwise_conv_layers(cls, kwargs, input_shape, output_shape):
    x = _x(input_shape, seed=3)
    layer = run_layer_test(cls, kwargs, input_data=x, expected_output_shape=output_shape,
                           expected_num_trainable_weights=1 if kwargs.get("use_bias") is False else 2)
    weights = layer.get_weights()
    mult = kwargs.get("depth_multiplier", 1)
    assert weights[0].shape == layer.kernel_size + (input_shape[-1], mult)
    assert layer.depthwise_kernel is layer.kernel
    expected = depthwise_ref(x, weights[0], weights[1] if len(weights) > 1 else None, layer.strides, layer.padding,
                             layer.dilation_rate)
    if kwargs.get("activation") == "relu":
        expected = _relu(expected)
    np.testing.assert_allclose(np.asarray(layer(x)), expected, rtol=1e-4, atol=1e-5)


# ------------------------------------------------------------------------------------------------
# SeparableConv1D / SeparableConv2D

@pytest.mark.parametrize("cls,kwargs,input_shape,output_shape", [
    (layers.SeparableConv1D, {"filters": 4, "kernel_size": 3}, (2, 8, 3), (2, 6, 4)),
    (layers.SeparableConv1D, {"filters": 2, "kernel_size": 3, "padding": "same", "depth_multiplier": 2,
                              "strides": 2}, (2, 7, 3), (2, 4, 2)),
    (layers.SeparableConv2D, {"filters": 5, "kernel_size": 3, "padding": "same", "activation": "relu"},
     (2, 6, 5, 3), (2, 6, 5, 5)),
    (layers.SeparableConv2D, {"filters": 3, "kernel_size": 2, "depth_multiplier": 2, "dilation_rate": 2,
                              "use_bias": False}, (1, 6, 6, 2), (1, 4, 4, 3)),
])
def test_separable_conv_layers(cls, kwargs, input_shape, output_shape):
    x = _x(input_shape, seed=4)
    layer = run_layer_test(cls, kwargs, input_data=x, expected_output_shape=output_shape,
                           expected_num_trainable_weights=2 if kwargs.get("use_bias") is False else 3)
    names = [w.name for w in layer.weights]
    assert names == ["depthwise_kernel", "pointwise_kernel", "bias"][:len(names)]
    weights = layer.get_weights()
    mult = kwargs.get("depth_multiplier", 1)
    c = input_shape[-1]
    assert weights[0].shape == layer.kernel_size + (c, mult)
    assert weights[1].shape == (1,) * cls.rank + (c * mult, kwargs["filters"])
    d = depthwise_ref(x, weights[0], None, layer.strides, layer.padding, layer.dilation_rate)
    expected = d @ weights[1].reshape(c * mult, -1).astype(np.float64)
    if len(weights) > 2:
        expected = expected + weights[2]
    if kwargs.get("activation") == "relu":
        expected = _relu(expected)
    np.testing.assert_allclose(np.asarray(layer(x)), expected, rtol=1e-4, atol=1e-5)


# ------------------------------------------------------------------------------------------------
# Conv1DTranspose / Conv2DTranspose / Conv3DTranspose

@pytest.mark.parametrize("cls,kwargs,input_shape,output_shape", [
    (layers.Conv1DTranspose, {"filters": 3, "kernel_size": 3}, (2, 5, 2), (2, 7, 3)),
    (layers.Conv1DTranspose, {"filters": 2, "kernel_size": 3, "strides": 2, "padding": "same"}, (2, 5, 3),
     (2, 10, 2)),
    (layers.Conv1DTranspose, {"filters": 2, "kernel_size": 2, "strides": 3}, (1, 4, 2), (1, 12, 2)),
    (layers.Conv2DTranspose, {"filters": 4, "kernel_size": 3, "strides": 2}, (2, 4, 3, 3), (2, 9, 7, 4)),
    (layers.Conv2DTranspose, {"filters": 2, "kernel_size": 3, "strides": 2, "padding": "same",
                              "output_padding": 1, "activation": "relu"}, (2, 3, 4, 2), (2, 6, 8, 2)),
    (layers.Conv2DTranspose, {"filters": 2, "kernel_size": (3, 2), "strides": (3, 2), "output_padding": (2, 1),
                              "use_bias": False}, (1, 3, 3, 2), (1, 11, 7, 2)),
    (layers.Conv2DTranspose, {"filters": 3, "kernel_size": 2, "dilation_rate": 2, "padding": "same"},
     (1, 4, 4, 2), (1, 4, 4, 3)),
    (layers.Conv3DTranspose, {"filters": 2, "kernel_size": 2, "strides": (2, 1, 2), "padding": "same"},
     (1, 2, 3, 2, 2), (1, 4, 3, 4, 2)),
])
def test_conv_transpose_layers(cls, kwargs, input_shape, output_shape):
    x = _x(input_shape, seed=5)
    layer = run_layer_test(cls, kwargs, input_data=x, expected_output_shape=output_shape,
                           expected_num_trainable_weights=1 if kwargs.get("use_bias") is False else 2)
    weights = layer.get_weights()
    assert weights[0].shape == layer.kernel_size + (kwargs["filters"], input_shape[-1])
    expected = conv_transpose_ref(x, weights[0], weights[1] if len(weights) > 1 else None, layer.strides,
                                  layer.padding, layer.output_padding, layer.dilation_rate)
    if kwargs.get("activation") == "relu":
        expected = _relu(expected)
    np.testing.assert_allclose(np.asarray(layer(x)), expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("padding", ["valid", "same"])
@pytest.mark.parametrize("kernel,strides,output_padding", [(1, 1, None), (3, 2, None), (2, 3, None), (4, 2, 1),
                                                           (3, 3, 0), (5, 2, 1)])
def test_conv1d_transpose_geometry_sweep(padding, kernel, strides, output_padding):
    x = _x((1, 5, 2), seed=kernel + strides)
    layer = layers.Conv1DTranspose(2, kernel, strides=strides, padding=padding, output_padding=output_padding)
    y = np.asarray(layer(x))
    k, b = layer.get_weights()
    np.testing.assert_allclose(y, conv_transpose_ref(x, k, b, (strides,), padding,
                                                     None if output_padding is None else (output_padding,)),
                               rtol=1e-4, atol=1e-5)
    assert y.shape == layer.compute_output_shape(x.shape)


def test_conv_transpose_is_the_adjoint_of_conv():
    # <conv(x), y> == <x, conv_transpose(y)> with the same kernel: Conv2D's (kh, kw, in, out) is
    # Conv2DTranspose's (kh, kw, filters, in) for the map back from out to in channels.
    x = _x((1, 7, 7, 3), seed=6)
    conv = layers.Conv2D(4, 3, strides=2, padding="valid", use_bias=False)
    cx = np.asarray(conv(x)).astype(np.float64)
    y = _x(cx.shape, seed=7)
    tconv = layers.Conv2DTranspose(3, 3, strides=2, padding="valid", use_bias=False)
    tconv.build(y.shape)
    tconv.set_weights(conv.get_weights())
    ty = np.asarray(tconv(y)).astype(np.float64)
    assert ty.shape == x.shape
    np.testing.assert_allclose(np.sum(cx * y), np.sum(x * ty), rtol=1e-4)


# ------------------------------------------------------------------------------------------------
# Errors

@pytest.mark.parametrize("make,message", [
    (lambda: layers.Conv2D(0, 3), "filters"),
    (lambda: layers.Conv2D(4, 0), "kernel_size"),
    (lambda: layers.Conv2D(4, (3, 3, 3)), "kernel_size"),
    (lambda: layers.Conv2D(4, 3, strides=0), "strides"),
    (lambda: layers.Conv2D(4, 3, strides=2, dilation_rate=2), "dilation_rate > 1"),
    (lambda: layers.Conv2D(5, 3, groups=2), "evenly divisible"),
    (lambda: layers.Conv2D(4, 3, padding="causal"), "padding"),
    (lambda: layers.Conv2D(4, 3, padding="full"), "padding"),
    (lambda: layers.Conv2D(4, 3, data_format="channels_first"), "channels_last"),
    (lambda: layers.Conv1D(4, 3, data_format="channels_first"), "channels_last"),
    (lambda: layers.DepthwiseConv2D(3, depth_multiplier=0), "depth_multiplier"),
    (lambda: layers.SeparableConv2D(0, 3), "filters"),
    (lambda: layers.Conv2DTranspose(4, 3, strides=2, output_padding=2), "output_padding"),
    (lambda: layers.Conv2DTranspose(4, 3, padding="causal"), "padding"),
])
def test_bad_arguments(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_bad_inputs_name_the_layer_and_shapes():
    layer = layers.Conv2D(4, 3, name="my_conv")
    with pytest.raises(ValueError, match=r'layer "my_conv".*expected ndim=4, found ndim=3.*\(8, 8, 3\)'):
        layer(np.zeros((8, 8, 3), np.float32))
    layer(np.zeros((2, 8, 8, 3), np.float32))
    with pytest.raises(ValueError, match=r'layer "my_conv".*axis -1.*value 3.*\(2, 8, 8, 5\)'):
        layer(np.zeros((2, 8, 8, 5), np.float32))
    # A kernel larger than a 'valid' input: at build (eager and symbolic) and on a later call.
    with pytest.raises(ValueError, match=r"'too_big'.*zero or negative.*\(2, 2, 2, 1\).*\(3, 3, 1, 4\)"):
        layers.Conv2D(4, 3, name="too_big")(np.zeros((2, 2, 2, 1), np.float32))
    with pytest.raises(ValueError, match=r"'too_big_sym'.*zero or negative.*\(None, 4, 2, 1\)"):
        layers.Conv2D(4, 3, name="too_big_sym")(layers.Input((4, 2, 1)))
    with pytest.raises(ValueError, match=r"'my_conv'.*\(2, 2, 8, 3\)"):
        layer(np.zeros((2, 2, 8, 3), np.float32))
    dw = layers.DepthwiseConv2D(3, name="dw")
    with pytest.raises(ValueError, match=r"'dw'.*zero or negative"):
        dw(np.zeros((1, 2, 5, 2), np.float32))
    with pytest.raises(ValueError, match=r"'grouped'.*divisible.*5 channels"):
        layers.Conv2D(4, 1, groups=2, name="grouped")(np.zeros((1, 2, 2, 5), np.float32))
    tconv = layers.Conv2DTranspose(2, 3, name="tc")
    tconv(np.zeros((1, 3, 3, 2), np.float32))
    with pytest.raises(ValueError, match=r'layer "tc".*\(1, 3, 3, 4\)'):
        tconv(np.zeros((1, 3, 3, 4), np.float32))


def test_conv_model_trains_and_round_trips():
    """A small CNN in a Sequential model: fit lowers the loss, and the .keras file reloads it."""
    rng = np.random.RandomState(0)
    x = rng.standard_normal((16, 6, 6, 2)).astype(np.float32)
    y = rng.standard_normal((16, 6, 6, 2)).astype(np.float32)
    model = models.Sequential([
        layers.Input((6, 6, 2)),
        layers.Conv2D(4, 3, padding="same", activation="relu"),
        layers.SeparableConv2D(4, 3, padding="same"),
        layers.DepthwiseConv2D(3, strides=2, padding="same", activation="relu"),
        layers.Conv2DTranspose(2, 3, strides=2, padding="same"),
    ])
    assert model.output_shape == (None, 6, 6, 2)
    model.compile(optimizer="adam", loss="mse")
    first = model.train_on_batch(x, y)
    for _ in range(15):
        last = model.train_on_batch(x, y)
    first = float(np.ravel(first)[0])
    last = float(np.ravel(last)[0])
    assert last < first

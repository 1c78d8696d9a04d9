"""optimize_for_inference: the fused model predicts what the original predicts (up to float32
rounding of the folded weights) for every application and for hand-built chains (padding + 'same'
+ stride, depthwise multipliers, separable convolutions, BatchNormalization without gamma or beta,
ReLU6), fuses exactly the chains whose intermediate tensors feed nothing else, and leaves the
original model untouched."""
import numpy as np
import pytest

import pykeras
from pykeras import applications, layers
from pykeras.applications.inference import FusedConv2D, InferenceModel, optimize_for_inference


def _randomize_statistics(model, rng):
    """Non-trivial BatchNormalization parameters and biases (fresh models have mean 0, var 1)."""
    for w in model.weights:
        kind = w.path.split("/")[-1]
        if kind in ("gamma", "moving_variance"):
            w.assign(rng.uniform(0.5, 1.5, w.shape).astype(np.float32))
        elif kind in ("beta", "moving_mean", "bias"):
            w.assign(rng.normal(0, 0.2, w.shape).astype(np.float32))


def _assert_same_predictions(original, fused, x):
    expected = original.predict(x, verbose=0)
    got = fused.predict(x, verbose=0)
    scale = np.max(np.abs(expected))
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=2e-6 * scale)


def _count(model, cls):
    return sum(type(layer) is cls for layer in model.layers)


@pytest.mark.parametrize("name,side,fused_count", [("ResNet50", 64, 53), ("MobileNet", 64, 27), ("Xception", 71, 40),
                                                    ("InceptionV3", 75, 94)])
def test_applications_predict_the_same_when_fused(name, side, fused_count):
    rng = np.random.default_rng(0)
    model = getattr(applications, name)(weights=None, input_shape=(side, side, 3), classifier_activation=None)
    _randomize_statistics(model, rng)
    fused = optimize_for_inference(model)
    assert _count(fused, FusedConv2D) == fused_count
    assert _count(fused, layers.BatchNormalization) == 0
    assert fused.name == model.name and fused.output_shape == model.output_shape
    x = rng.uniform(-1, 1, (2, side, side, 3)).astype(np.float32)
    _assert_same_predictions(model, fused, x)


def test_mobilenet_folds_padding_and_relu6():
    model = applications.MobileNet(weights=None, include_top=False, input_shape=(64, 64, 3), alpha=0.5,
                                   depth_multiplier=2, pooling="avg")
    _randomize_statistics(model, np.random.default_rng(1))
    fused = optimize_for_inference(model)
    # Everything but the input and the pooling is one fused layer per convolution.
    assert [type(layer).__name__ for layer in fused.layers[1:-1]] == ["FusedConv2D"] * 27
    dw2 = fused.get_layer("conv_dw_2_fused")
    assert dw2.pads == ((0, 1), (0, 1)) and dw2.activation == "relu6" and dw2.kind == "depthwise"
    assert dw2.kernel.shape == (3, 3, 32, 2)
    assert fused.get_layer("conv1_fused").pads == ((0, 1), (0, 1))  # 'same', stride 2, even size
    _assert_same_predictions(model, fused, np.random.default_rng(2).uniform(-1, 1, (3, 64, 64, 3)).astype(np.float32))


def test_resnet_keeps_the_residual_structure():
    model = applications.ResNet50(weights=None, include_top=False, input_shape=(64, 64, 3))
    fused = optimize_for_inference(model)
    names = {layer.name for layer in fused.layers}
    # conv1_pad folds into conv1; pool1_pad stays (it pads a max pooling); BN + ReLU fold; the
    # additions and the ReLUs after them stay.
    assert fused.get_layer("conv1_conv_fused").pads == ((3, 3), (3, 3))
    assert "pool1_pad" in names and "conv1_pad" not in names and "conv1_relu" not in names
    assert _count(fused, layers.Add) == 16 and _count(fused, layers.Activation) == 16
    assert fused.get_layer("conv2_block1_3_conv_fused").activation == "linear"
    assert fused.get_layer("conv2_block1_1_conv_fused").activation == "relu"


def _chain_model(conv, pad=None, bn=True, act=None, extra_output=False, side=11):
    inp = pykeras.Input((side, side, 4))
    x = inp if pad is None else layers.ZeroPadding2D(pad)(inp)
    y = conv(x)
    outputs = [y] if extra_output else []
    if bn is not None and bn is not False:
        y = (layers.BatchNormalization() if bn is True else bn)(y)
    if act is not None:
        y = act(y)
    outputs.append(y)
    return pykeras.Model(inp, outputs if len(outputs) > 1 else outputs[0])


CHAINS = {
    "pad+conv same stride 2": lambda: _chain_model(layers.Conv2D(6, 3, strides=2, padding="same"),
                                                   pad=((1, 2), (0, 3)), act=layers.ReLU()),
    "conv dilated valid": lambda: _chain_model(layers.Conv2D(5, 3, dilation_rate=2, use_bias=False),
                                               act=layers.Activation("relu")),
    "grouped conv": lambda: _chain_model(layers.Conv2D(6, 3, groups=2, padding="same")),
    "depthwise x3 + relu6": lambda: _chain_model(layers.DepthwiseConv2D(3, depth_multiplier=3, padding="same"),
                                                 act=layers.ReLU(6.0)),
    "separable stride 2": lambda: _chain_model(layers.SeparableConv2D(7, 3, strides=2, depth_multiplier=2),
                                               pad=(1, 1), act=layers.ReLU()),
    "bn without gamma and beta": lambda: _chain_model(layers.Conv2D(3, 1), bn=layers.BatchNormalization(
        scale=False, center=False, epsilon=0.01)),
    "pad + conv only": lambda: _chain_model(layers.Conv2D(3, 5), pad=((2, 0), (1, 1)), bn=False),
}


@pytest.mark.parametrize("case", sorted(CHAINS))
def test_chains_are_fused_exactly(case):
    model = CHAINS[case]()
    _randomize_statistics(model, np.random.default_rng(3))
    fused = optimize_for_inference(model)
    assert _count(fused, FusedConv2D) == 1
    assert len(fused.layers) == 2  # the input and the fused convolution
    x = np.random.default_rng(4).uniform(-2, 2, (3, 11, 11, 4)).astype(np.float32)
    _assert_same_predictions(model, fused, x)


def test_what_is_not_fused():
    # A convolution whose output is also a model output keeps its BatchNormalization and ReLU.
    model = _chain_model(layers.Conv2D(3, 3), act=layers.ReLU(), extra_output=True)
    fused = optimize_for_inference(model)
    assert _count(fused, FusedConv2D) == 0 and _count(fused, layers.BatchNormalization) == 1
    # A BatchNormalization whose output feeds two layers is folded; both read the fused output.
    inp = pykeras.Input((11, 11, 4))
    y = layers.BatchNormalization()(layers.Conv2D(3, 3)(inp))
    model = pykeras.Model(inp, [layers.ReLU()(y), layers.Activation("tanh")(y)])
    _randomize_statistics(model, np.random.default_rng(10))
    fused = optimize_for_inference(model)
    assert _count(fused, FusedConv2D) == 1 and len(fused.layers) == 4
    x = np.random.default_rng(11).uniform(-2, 2, (2, 11, 11, 4)).astype(np.float32)
    for a, b in zip(fused.predict(x, verbose=0), model.predict(x, verbose=0)):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    # A convolution with its own activation keeps the BatchNormalization after it (not affine).
    model = _chain_model(layers.Conv2D(3, 3, activation="relu"))
    assert _count(optimize_for_inference(model), layers.BatchNormalization) == 1
    # A capped ReLU other than 6, and leaky ReLUs, are applied after the fused convolution.
    for act in (layers.ReLU(3.0), layers.ReLU(negative_slope=0.1), layers.Activation("tanh")):
        model = _chain_model(layers.Conv2D(3, 3), act=act)
        _randomize_statistics(model, np.random.default_rng(5))
        fused = optimize_for_inference(model)
        assert _count(fused, FusedConv2D) == 1 and len(fused.layers) == 3
        _assert_same_predictions(model, fused, np.random.default_rng(6).uniform(-2, 2, (2, 11, 11, 4))
                                 .astype(np.float32))
    # A BatchNormalization over another axis than the channels is not folded.
    model = _chain_model(layers.Conv2D(3, 3), bn=layers.BatchNormalization(axis=1))
    assert _count(optimize_for_inference(model), layers.BatchNormalization) == 1


def test_sequential_models_and_errors():
    model = pykeras.Sequential([pykeras.Input((9, 9, 2)), layers.Conv2D(4, 3), layers.BatchNormalization(),
                                layers.ReLU(), layers.Flatten(), layers.Dense(2)], name="seq")
    _randomize_statistics(model, np.random.default_rng(7))
    fused = optimize_for_inference(model)
    assert fused.name == "seq" and _count(fused, FusedConv2D) == 1
    _assert_same_predictions(model, fused, np.random.default_rng(8).normal(size=(4, 9, 9, 2)).astype(np.float32))
    with pytest.raises(TypeError, match="functional Model or a built Sequential"):
        optimize_for_inference(layers.Dense(3))
    with pytest.raises(NotImplementedError, match="save the original model"):
        fused.get_layer(index=1).get_config()


def test_the_original_model_is_untouched_and_the_fused_one_is_a_snapshot():
    model = applications.MobileNet(weights=None, include_top=False, input_shape=(32, 32, 3), alpha=0.25)
    rng = np.random.default_rng(9)
    _randomize_statistics(model, rng)
    x = rng.uniform(-1, 1, (2, 32, 32, 3)).astype(np.float32)
    before = model.predict(x, verbose=0)
    n_layers = len(model.layers)
    fused = optimize_for_inference(model)
    assert len(model.layers) == n_layers
    np.testing.assert_array_equal(model.predict(x, verbose=0), before)
    # Changing the original's weights does not reach the folded copy until it is rebuilt.
    bn = model.get_layer("conv1_bn")
    bn.moving_mean.assign(np.asarray(bn.moving_mean) + 1.0)
    np.testing.assert_allclose(fused.predict(x, verbose=0), before, rtol=1e-4, atol=1e-5)
    _assert_same_predictions(model, optimize_for_inference(model), x)


def test_intermediate_values_are_released_after_their_last_use():
    inp = pykeras.Input((8, 8, 3))
    a = layers.Conv2D(4, 3, padding="same", name="a")(inp)
    b = layers.ReLU(name="b")(a)
    c = layers.Conv2D(4, 1, name="c")(b)
    d = layers.Add(name="d")([a, c])  # `a` is read again here, three steps after it was made
    e = layers.Flatten(name="e")(d)
    model = pykeras.Model(inp, [layers.Dense(2, name="f")(e), d])
    fused = optimize_for_inference(model)
    assert isinstance(fused, InferenceModel)
    plan = fused._execution_plan
    released = {}
    for step, ids in enumerate(fused._release):
        for tensor_id in ids:
            assert tensor_id not in released
            released[tensor_id] = step
    for step, node in enumerate(plan):
        for t in node.input_tensors:
            assert released.get(id(t), len(plan)) >= step
    outputs = {id(t) for t in fused._graph_outputs}
    assert not outputs & set(released)
    names = [n.operation.name for n in plan]
    assert released[id(plan[names.index("a")].output_tensors[0])] == names.index("d")
    x = np.random.default_rng(12).normal(size=(3, 8, 8, 3)).astype(np.float32)
    for got, expected in zip(fused.predict(x, verbose=0), model.predict(x, verbose=0)):
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)

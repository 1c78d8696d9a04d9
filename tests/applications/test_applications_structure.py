"""keras.applications structures: parameter and layer counts against Keras 3's,
Keras's layer names, the include_top / pooling / input variants, MobileNet's width and depth
multipliers (against a parameter-count formula), Keras's argument checks and error messages, and
one small-batch 224x224 forward pass for ResNet50 and MobileNet."""
import os
import warnings

import numpy as np
import pytest

import pykeras
from pykeras import applications
from pykeras import backend as K
from pykeras import layers

# keras.applications with weights=None, default input, include_top=True, as Keras 3 reports them:
# (params, trainable, non-trainable, len(model.layers), model name, input side).
KERAS_STRUCTURE = {
    "Xception": (22_910_480, 22_855_952, 54_528, 134, "xception", 299),
    "VGG16": (138_357_544, 138_357_544, 0, 23, "vgg16", 224),
    "VGG19": (143_667_240, 143_667_240, 0, 26, "vgg19", 224),
    "ResNet50": (25_636_712, 25_583_592, 53_120, 177, "resnet50", 224),
    "InceptionV3": (23_851_784, 23_817_352, 34_432, 313, "inception_v3", 299),
    "MobileNet": (4_253_864, 4_231_976, 21_888, 91, "mobilenet_1.00_224", 224),
}
# Width of the last feature map and the parameters of the classifier top, per model.
FEATURES = {"Xception": 2048, "ResNet50": 2048, "InceptionV3": 2048, "MobileNet": 1024, "VGG16": 512, "VGG19": 512}
MIN_SIZE = {"Xception": 71, "VGG16": 32, "VGG19": 32, "ResNet50": 32, "InceptionV3": 75, "MobileNet": 32}


def _count(weights):
    return int(sum(np.prod(w.shape) for w in weights))


@pytest.fixture(autouse=True)
def _fresh_names():
    K.clear_session()
    yield


@pytest.mark.parametrize("name", sorted(KERAS_STRUCTURE))
def test_default_structure_matches_keras(name):
    params, trainable, non_trainable, n_layers, model_name, side = KERAS_STRUCTURE[name]
    model = getattr(applications, name)(weights=None)
    assert model.count_params() == params
    assert _count(model.trainable_weights) == trainable
    assert _count(model.non_trainable_weights) == non_trainable
    assert len(model.layers) == n_layers
    assert model.name == model_name
    assert model.input_shape == (None, side, side, 3)
    assert model.output_shape == (None, 1000)
    assert model.layers[-1].name == "predictions"
    assert len({layer.name for layer in model.layers}) == n_layers


def test_resnet50_layer_names_follow_keras():
    names = [layer.name for layer in applications.ResNet50(weights=None).layers]
    assert names[:8] == ["input_layer", "conv1_pad", "conv1_conv", "conv1_bn", "conv1_relu", "pool1_pad",
                         "pool1_pool", "conv2_block1_1_conv"]
    # Keras orders layers by depth in the graph: the projection shortcut comes with the third conv.
    assert names[7:19] == ["conv2_block1_1_conv", "conv2_block1_1_bn", "conv2_block1_1_relu", "conv2_block1_2_conv",
                           "conv2_block1_2_bn", "conv2_block1_2_relu", "conv2_block1_0_conv", "conv2_block1_3_conv",
                           "conv2_block1_0_bn", "conv2_block1_3_bn", "conv2_block1_add", "conv2_block1_out"]
    assert names[-4:] == ["conv5_block3_add", "conv5_block3_out", "avg_pool", "predictions"]
    for stack, blocks in (("conv2", 3), ("conv3", 4), ("conv4", 6), ("conv5", 3)):
        assert f"{stack}_block{blocks}_out" in names and f"{stack}_block{blocks + 1}_out" not in names
        assert f"{stack}_block1_0_conv" in names and f"{stack}_block2_0_conv" not in names


def test_unnamed_layers_get_kerass_default_names():
    xception = [layer.name for layer in applications.Xception(weights=None).layers]
    assert xception[:4] == ["input_layer", "block1_conv1", "block1_conv1_bn", "block1_conv1_act"]
    # The four projection shortcuts and twelve additions are unnamed in Keras.
    assert [n for n in xception if n.startswith("conv2d")] == ["conv2d", "conv2d_1", "conv2d_2", "conv2d_3"]
    assert [n for n in xception if n.startswith("add")] == ["add"] + [f"add_{i}" for i in range(1, 12)]
    K.clear_session()
    inception = [layer.name for layer in applications.InceptionV3(weights=None).layers]
    assert inception[:5] == ["input_layer", "conv2d", "batch_normalization", "activation", "conv2d_1"]
    assert [n for n in inception if n.startswith("mixed")] == (
        [f"mixed{i}" for i in range(9)] + ["mixed9_0", "mixed9", "mixed9_1", "mixed10"])
    assert sum(isinstance(layer, layers.Conv2D) for layer in applications.InceptionV3(weights=None).layers) == 94


def test_mobilenet_layer_names_and_top():
    model = applications.MobileNet(weights=None)
    names = [layer.name for layer in model.layers]
    assert names[:5] == ["input_layer", "conv1", "conv1_bn", "conv1_relu", "conv_dw_1"]
    assert [n for n in names if n.startswith("conv_pad")] == [f"conv_pad_{i}" for i in (2, 4, 6, 12)]
    assert names[-6:] == ["conv_pw_13_relu", "global_average_pooling2d", "dropout", "conv_preds", "reshape_2",
                          "predictions"]
    assert model.get_layer("dropout").rate == pytest.approx(1e-3)
    assert model.get_layer("conv_pw_13_relu").max_value == 6.0


@pytest.mark.parametrize("name", ["ResNet50", "MobileNet", "InceptionV3", "VGG16"])
def test_include_top_false_and_pooling(name):
    full = KERAS_STRUCTURE[name][0]
    features = FEATURES[name]
    if name == "VGG16":
        top = 7 * 7 * 512 * 4096 + 4096 + 4096 * 4096 + 4096 + 4096 * 1000 + 1000
    else:
        top = features * 1000 + 1000
    fn = getattr(applications, name)
    side = 96
    for pooling, shape in ((None, 4), ("avg", 2), ("max", 2)):
        model = fn(include_top=False, weights=None, input_shape=(side, side, 3), pooling=pooling)
        assert model.count_params() == full - top
        assert len(model.output_shape) == shape and model.output_shape[-1] == features
        if pooling is not None:
            kind = layers.GlobalAveragePooling2D if pooling == "avg" else layers.GlobalMaxPooling2D
            assert isinstance(model.layers[-1], kind)
    # Without an input shape the notop model takes any image size.
    model = fn(include_top=False, weights=None)
    assert model.input_shape == (None, None, None, 3)


def test_resnet_pooling_layers_are_named_as_in_keras():
    avg = applications.ResNet50(include_top=False, weights=None, input_shape=(64, 64, 3), pooling="avg")
    mx = applications.ResNet50(include_top=False, weights=None, input_shape=(64, 64, 3), pooling="max")
    assert avg.layers[-1].name == "avg_pool" and mx.layers[-1].name == "max_pool"


def test_classes_and_classifier_activation():
    model = applications.ResNet50(weights=None, input_shape=(64, 64, 3), classes=7, classifier_activation=None)
    assert model.output_shape == (None, 7)
    x = np.random.default_rng(0).uniform(0, 255, (2, 64, 64, 3)).astype(np.float32)
    logits = model.predict(x, verbose=0)
    assert not np.allclose(logits.sum(axis=1), 1.0)
    model = applications.MobileNet(weights=None, input_shape=(64, 64, 3), classes=5)
    probs = model.predict(x, verbose=0)
    assert probs.shape == (2, 5)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)


def _mobilenet_params(alpha, depth_multiplier, classes=1000, include_top=True):
    """(trainable, non-trainable) parameter counts of MobileNet from its definition."""
    blocks = ((64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2)) + ((512, 1),) * 5 + ((1024, 2), (1024, 1))
    channels = int(32 * alpha)
    trainable = 3 * 3 * 3 * channels + 2 * channels
    frozen = 2 * channels
    for filters, _ in blocks:
        depth = channels * depth_multiplier
        out = int(filters * alpha)
        trainable += 3 * 3 * depth + 2 * depth + depth * out + 2 * out
        frozen += 2 * depth + 2 * out
        channels = out
    if include_top:
        trainable += channels * classes + classes
    return trainable, frozen


@pytest.mark.parametrize("alpha,depth_multiplier", [(1.0, 1), (0.5, 1), (0.75, 2), (0.25, 1)])
def test_mobilenet_alpha_and_depth_multiplier(alpha, depth_multiplier):
    model = applications.MobileNet(input_shape=(128, 128, 3), alpha=alpha, depth_multiplier=depth_multiplier,
                                   dropout=0.25, weights=None)
    trainable, frozen = _mobilenet_params(alpha, depth_multiplier)
    assert _count(model.trainable_weights) == trainable
    assert _count(model.non_trainable_weights) == frozen
    assert model.name == f"mobilenet_{alpha:0.2f}_128"
    assert model.get_layer("conv1").filters == int(32 * alpha)
    assert model.get_layer("conv_dw_5").depth_multiplier == depth_multiplier
    assert model.get_layer("dropout").rate == 0.25
    assert model.get_layer("conv_pw_13").filters == int(1024 * alpha)
    assert _mobilenet_params(1.0, 1) == KERAS_STRUCTURE["MobileNet"][1:3]


def test_mobilenet_strided_blocks_pad_bottom_right():
    model = applications.MobileNet(weights=None, input_shape=(64, 64, 3), include_top=False)
    pad = model.get_layer("conv_pad_2")
    assert pad.padding == ((0, 1), (0, 1))
    assert model.get_layer("conv_dw_2").padding == "valid" and model.get_layer("conv_dw_3").padding == "same"
    assert model.output_shape == (None, 2, 2, 1024)


def test_summary_reports_kerass_totals():
    lines = []
    applications.MobileNet(weights=None).summary(print_fn=lambda line, **kwargs: lines.append(line))
    text = "\n".join(lines)
    assert "4,253,864" in text and "4,231,976" in text and "21,888" in text


# ---- inputs ----------------------------------------------------------------------------------------


def test_input_tensor_is_used_as_the_model_input():
    inp = pykeras.Input((64, 64, 3), name="pixels")
    model = applications.ResNet50(include_top=False, weights=None, input_tensor=inp, pooling="avg")
    assert model.inputs[0] is inp
    assert model.layers[0].name == "pixels"
    assert model.output_shape == (None, 2048)


def test_input_tensor_computed_from_another_input_keeps_the_source_input():
    raw = pykeras.Input((70, 70, 3), name="raw")
    cropped = layers.Cropping2D(3, name="crop")(raw)
    model = applications.MobileNet(include_top=False, weights=None, input_tensor=cropped, pooling="max")
    assert model.inputs[0] is raw
    assert [layer.name for layer in model.layers[:3]] == ["raw", "crop", "conv1"]
    out = model.predict(np.zeros((1, 70, 70, 3), np.float32), verbose=0)
    assert out.shape == (1, 1024)


def test_input_tensor_must_be_symbolic():
    with pytest.raises(ValueError, match="KerasTensor"):
        applications.VGG16(include_top=False, weights=None, input_tensor=np.zeros((1, 32, 32, 3), np.float32))


# ---- argument checks, with Keras's messages -----------------------------------------------------------


@pytest.mark.parametrize("name", sorted(MIN_SIZE))
def test_minimum_input_size(name):
    fn = getattr(applications, name)
    size = MIN_SIZE[name]
    with pytest.raises(ValueError, match=f"Input size must be at least {size}x{size}"):
        fn(include_top=False, weights=None, input_shape=(size - 1, size + 5, 3))
    model = fn(include_top=False, weights=None, input_shape=(size, size, 3))
    assert model.input_shape == (None, size, size, 3)


def test_imagenet_weights_need_three_channels_and_the_default_shape_with_the_top():
    with pytest.raises(ValueError, match="The input must have 3 channels"):
        applications.ResNet50(include_top=False, weights="imagenet", input_shape=(64, 64, 1))
    with pytest.raises(ValueError, match=r"`input_shape` should be \(224, 224, 3\)"):
        applications.VGG16(include_top=True, weights="imagenet", input_shape=(200, 200, 3))
    with pytest.raises(ValueError, match=r"`input_shape` should be \(299, 299, 3\)"):
        applications.Xception(weights="imagenet", input_shape=(224, 224, 3))


def test_other_channel_counts_warn_without_imagenet_weights():
    with pytest.warns(UserWarning, match="usually expects 1 or 3 input channels"):
        model = applications.VGG16(include_top=False, weights=None, input_shape=(32, 32, 5))
    assert model.input_shape == (None, 32, 32, 5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        applications.VGG16(include_top=False, weights=None, input_shape=(32, 32, 1))


@pytest.mark.parametrize("name", sorted(MIN_SIZE))
def test_classes_other_than_1000_need_weights_none(name):
    with pytest.raises(ValueError, match=r"`classes` should be 1000.  Received classes=10"):
        getattr(applications, name)(weights="imagenet", classes=10)


def test_weights_must_be_none_imagenet_or_an_existing_file(tmp_path):
    missing = str(tmp_path / "nope.h5")
    for name in ("ResNet50", "MobileNet", "Xception"):
        with pytest.raises(ValueError, match="The `weights` argument should be either `None`"):
            getattr(applications, name)(weights=missing)
    with pytest.raises(ValueError, match="weights=imagenet21k"):
        applications.VGG19(weights="imagenet21k")


def test_include_top_needs_a_static_shape():
    with pytest.raises(ValueError, match="you should specify a static `input_shape`"):
        applications.ResNet50(weights=None, input_shape=(None, None, 3))
    with pytest.raises(ValueError, match="must be a tuple of three integers"):
        applications.ResNet50(include_top=False, weights=None, input_shape=(64, 64))


def test_pretrained_weights_allow_only_softmax_or_no_activation(tmp_path):
    path = tmp_path / "w.weights.h5"
    path.write_bytes(b"")
    with pytest.raises(ValueError, match="Only `None` and `softmax` activations are allowed"):
        applications.MobileNet(weights=str(path), input_shape=(32, 32, 3), classifier_activation="relu")
    with pytest.raises(ValueError, match="Only `None` and `softmax` activations are allowed"):
        applications.VGG16(weights=str(path), input_shape=(32, 32, 3), classifier_activation="sigmoid")


def test_mobilenet_imagenet_checks():
    with pytest.raises(ValueError, match="depth multiplier must be 1.  Received depth_multiplier=2"):
        applications.MobileNet(weights="imagenet", depth_multiplier=2)
    with pytest.raises(ValueError, match="alpha can be one of`0.25`, `0.50`, `0.75` or `1.0` only.  Received alpha=0.6"):
        applications.MobileNet(weights="imagenet", alpha=0.6)


# ---- one real-size forward pass each -------------------------------------------------------------------


@pytest.mark.parametrize("name", ["ResNet50", "MobileNet"])
def test_full_size_smoke_forward(name):
    model = getattr(applications, name)(weights=None)
    x = np.random.default_rng(1).uniform(0, 255, (2, 224, 224, 3)).astype(np.float32)
    module = applications.resnet if name == "ResNet50" else applications.mobilenet
    probs = model.predict(module.preprocess_input(x), verbose=0)
    assert probs.shape == (2, 1000)
    assert np.all(np.isfinite(probs)) and np.all(probs >= 0)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)


def test_modules_expose_kerass_names():
    for module, fn in ((applications.xception, "Xception"), (applications.vgg16, "VGG16"),
                       (applications.vgg19, "VGG19"), (applications.resnet, "ResNet50"),
                       (applications.resnet50, "ResNet50"), (applications.inception_v3, "InceptionV3"),
                       (applications.mobilenet, "MobileNet")):
        assert getattr(module, fn) is getattr(applications, fn)
        assert callable(module.preprocess_input) and callable(module.decode_predictions)
    assert pykeras.applications is applications
    assert os.path.basename(applications.resnet.__file__) == "resnet.py"

"""Weight files of the applications: weights=<path> (legacy .h5, .weights.h5, whole-model .h5),
weights="imagenet" from the Keras cache directory (found, checksum warning, absent and not
downloadable -> a clear error naming the URL and the path; downloaded from a local server), and the ImageNet helpers preprocess_input (the three modes,
both data formats, numpy in place / tensors / symbolic inputs) and decode_predictions over a
small generated class index."""
import json
import os
import urllib.error

import numpy as np
import pytest

import pykeras
from pykeras import applications
from pykeras import backend as K
from pykeras.applications import imagenet_utils
from pykeras.utils import file_utils

from file_server import local_http_server


def _no_network(url, *args, **kwargs):
    raise urllib.error.URLError("no network in this test")


@pytest.fixture
def keras_home(tmp_path, monkeypatch):
    """An empty Keras cache directory ($KERAS_HOME/models) for the test, with downloads failing
    as they do offline (test_file_utils.py covers downloads themselves)."""
    monkeypatch.setattr(file_utils.urllib.request, "urlopen", _no_network)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    models = tmp_path / "keras_home" / "models"
    models.mkdir(parents=True)
    return models


def _randomize(model, seed):
    rng = np.random.default_rng(seed)
    for w in model.weights:
        value = rng.uniform(0.5, 1.5, w.shape) if w.path.endswith("variance") else rng.normal(0, 0.2, w.shape)
        w.assign(value.astype(np.float32))


def _same_weights(a, b):
    return len(a.weights) == len(b.weights) and all(
        np.array_equal(np.asarray(x), np.asarray(y)) for x, y in zip(a.weights, b.weights))


@pytest.mark.parametrize("suffix", [".h5", ".weights.h5", ".whole.h5"])
def test_weights_argument_loads_a_file(tmp_path, suffix):
    source = applications.MobileNet(weights=None, input_shape=(32, 32, 3), alpha=0.25, classes=4)
    _randomize(source, 0)
    path = str(tmp_path / f"mobilenet{suffix}")
    if suffix == ".whole.h5":
        source.save(path)
    else:
        source.save_weights(path)
    loaded = applications.MobileNet(weights=path, input_shape=(32, 32, 3), alpha=0.25, classes=4)
    assert _same_weights(source, loaded)
    x = np.random.default_rng(1).uniform(-1, 1, (3, 32, 32, 3)).astype(np.float32)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), source.predict(x, verbose=0))


def test_weights_file_of_another_architecture_is_refused(tmp_path):
    other = applications.VGG16(include_top=False, weights=None, input_shape=(32, 32, 3))
    path = str(tmp_path / "vgg.h5")
    other.save_weights(path)
    with pytest.raises(ValueError, match="layer count mismatch"):
        applications.ResNet50(include_top=False, weights=path, input_shape=(32, 32, 3))


def test_imagenet_weights_come_from_the_keras_cache(keras_home):
    source = applications.ResNet50(include_top=False, weights=None, input_shape=(32, 32, 3))
    _randomize(source, 2)
    source.save_weights(str(keras_home / "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5"))
    with pytest.warns(UserWarning, match="does not match the md5 checksum"):
        loaded = applications.ResNet50(include_top=False, weights="imagenet", input_shape=(32, 32, 3))
    assert _same_weights(source, loaded)


def test_missing_imagenet_file_says_where_to_put_it(keras_home):
    expected = {
        "ResNet50": ("resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5",
                     "https://storage.googleapis.com/tensorflow/keras-applications/resnet/"),
        "VGG16": ("vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5",
                  "https://storage.googleapis.com/tensorflow/keras-applications/vgg16/"),
        "VGG19": ("vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5",
                  "https://storage.googleapis.com/tensorflow/keras-applications/vgg19/"),
        "Xception": ("xception_weights_tf_dim_ordering_tf_kernels_notop.h5",
                     "https://storage.googleapis.com/tensorflow/keras-applications/xception/"),
        "InceptionV3": ("inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5",
                        "https://storage.googleapis.com/tensorflow/keras-applications/inception_v3/"),
        "MobileNet": ("mobilenet_1_0_224_tf_no_top.h5",
                      "https://storage.googleapis.com/tensorflow/keras-applications/mobilenet/"),
    }
    for name, (file_name, url) in expected.items():
        K.clear_session()
        with pytest.raises(FileNotFoundError) as info:
            side = {"Xception": 99, "InceptionV3": 99, "MobileNet": 224}.get(name, 96)
            getattr(applications, name)(include_top=False, weights="imagenet", input_shape=(side, side, 3))
        message = str(info.value)
        assert "could not be downloaded" in message and "no network in this test" in message
        assert url + file_name in message
        assert str(keras_home / file_name) in message


def test_imagenet_file_names_with_the_top_and_for_mobilenet_variants(keras_home):
    with pytest.raises(FileNotFoundError, match="resnet50_weights_tf_dim_ordering_tf_kernels.h5"):
        applications.ResNet50(weights="imagenet")
    with pytest.raises(FileNotFoundError, match="mobilenet_2_5_128_tf.h5"):
        applications.MobileNet(weights="imagenet", alpha=0.25, input_shape=(128, 128, 3))
    with pytest.raises(FileNotFoundError, match="mobilenet_5_0_160_tf_no_top.h5"):
        applications.MobileNet(weights="imagenet", alpha=0.5, include_top=False, input_shape=(160, 160, 3))
    # Keras falls back to the 224 weights (with a warning) for other or non-square sizes.
    with pytest.warns(UserWarning, match="Weights for input shape \\(224, 224\\) will be loaded"):
        with pytest.raises(FileNotFoundError, match="mobilenet_7_5_224_tf_no_top.h5"):
            applications.MobileNet(weights="imagenet", alpha=0.75, include_top=False, input_shape=(96, 128, 3))


def test_keras_home_default_is_home_dot_keras(monkeypatch):
    monkeypatch.delenv("KERAS_HOME", raising=False)
    dirs = imagenet_utils.keras_cache_dirs()
    assert dirs[0] == os.path.join(os.path.expanduser("~"), ".keras", "models")
    assert dirs[-1] == os.path.join("/tmp", ".keras", "models")


# ---- preprocess_input ---------------------------------------------------------------------------------


def _images(shape=(2, 5, 4, 3), seed=0):
    return np.random.default_rng(seed).uniform(0, 255, shape).astype(np.float32)


def test_preprocess_modes_follow_their_formulas():
    x = _images()
    np.testing.assert_allclose(imagenet_utils.preprocess_input(x.copy(), mode="tf"), x / 127.5 - 1, rtol=1e-6)
    torch = imagenet_utils.preprocess_input(x.copy(), mode="torch")
    mean, std = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])
    np.testing.assert_allclose(torch, (x / 255.0 - mean) / std, rtol=1e-5, atol=1e-6)
    caffe = imagenet_utils.preprocess_input(x.copy(), mode="caffe")
    np.testing.assert_allclose(caffe, x[..., ::-1] - np.array([103.939, 116.779, 123.68]), rtol=1e-6, atol=1e-4)
    first = imagenet_utils.preprocess_input(np.moveaxis(x, -1, 1).copy(), data_format="channels_first",
                                            mode="caffe")
    np.testing.assert_allclose(np.moveaxis(first, 1, -1), caffe, rtol=1e-6)
    single = imagenet_utils.preprocess_input(np.moveaxis(x[0], -1, 0).copy(), data_format="channels_first",
                                             mode="torch")
    np.testing.assert_allclose(np.moveaxis(single, 0, -1), torch[0], rtol=1e-6)


def test_preprocess_families_use_kerass_modes():
    x = _images(seed=1)
    caffe = imagenet_utils.preprocess_input(x.copy(), mode="caffe")
    tf = imagenet_utils.preprocess_input(x.copy(), mode="tf")
    for module in (applications.resnet, applications.resnet50, applications.vgg16, applications.vgg19):
        np.testing.assert_array_equal(module.preprocess_input(x.copy()), caffe)
    for module in (applications.xception, applications.inception_v3, applications.mobilenet):
        np.testing.assert_array_equal(module.preprocess_input(x.copy()), tf)


def test_preprocess_works_in_place_on_float_arrays_and_converts_integers():
    x = _images()
    out = imagenet_utils.preprocess_input(x, mode="tf")
    assert out is x
    pixels = np.full((1, 2, 2, 3), 255, dtype=np.uint8)
    out = imagenet_utils.preprocess_input(pixels, mode="tf")
    assert out.dtype == np.float32 and np.all(out == 1.0)
    assert pixels[0, 0, 0, 0] == 255


def test_preprocess_tensors_and_symbolic_inputs():
    x = _images(seed=3)
    expected = imagenet_utils.preprocess_input(x.copy(), mode="caffe")
    out = imagenet_utils.preprocess_input(K.convert_to_tensor(x), mode="caffe")
    np.testing.assert_allclose(K.convert_to_numpy(out), expected, rtol=1e-6, atol=1e-5)
    for mode in ("tf", "torch", "caffe"):
        inp = pykeras.Input((5, 4, 3))
        model = pykeras.Model(inp, imagenet_utils.preprocess_input(inp, mode=mode))
        np.testing.assert_allclose(model.predict(x, verbose=0), imagenet_utils.preprocess_input(x.copy(), mode=mode),
                                   rtol=1e-5, atol=1e-5)


def test_preprocess_errors():
    with pytest.raises(ValueError, match="Expected mode to be one of `caffe`, `tf` or `torch`"):
        imagenet_utils.preprocess_input(_images(), mode="keras")
    with pytest.raises(ValueError, match="Expected data_format to be one of"):
        imagenet_utils.preprocess_input(_images(), data_format="channels_middle")


# ---- decode_predictions ------------------------------------------------------------------------------


@pytest.fixture
def class_index(keras_home, monkeypatch):
    monkeypatch.setattr(imagenet_utils, "CLASS_INDEX", None)
    index = {str(i): [f"n{i:08d}", f"class_{i}"] for i in range(1000)}
    (keras_home / "imagenet_class_index.json").write_text(json.dumps(index))
    return index


def test_decode_predictions_returns_the_best_classes(class_index):
    preds = np.full((2, 1000), 1e-4, dtype=np.float32)
    preds[0, [7, 300, 999]] = [0.5, 0.3, 0.1]
    preds[1, [0, 42]] = [0.2, 0.7]
    with pytest.warns(UserWarning, match="checksum"):
        decoded = applications.resnet50.decode_predictions(preds, top=3)
    assert [(a, b) for a, b, _ in decoded[0]] == [("n00000007", "class_7"), ("n00000300", "class_300"),
                                                  ("n00000999", "class_999")]
    assert decoded[0][0][2] == pytest.approx(0.5)
    assert [c for _, c, _ in decoded[1][:2]] == ["class_42", "class_0"]
    assert all(len(row) == 3 for row in decoded)
    # The index is read once and kept.
    assert imagenet_utils.CLASS_INDEX == class_index
    assert len(applications.mobilenet.decode_predictions(K.convert_to_tensor(preds))[0]) == 5


def test_decode_predictions_errors(keras_home, monkeypatch):
    monkeypatch.setattr(imagenet_utils, "CLASS_INDEX", None)
    with pytest.raises(ValueError, match=r"expects a batch of predictions .*Received array with shape: \(2, 10\)"):
        imagenet_utils.decode_predictions(np.zeros((2, 10)))
    with pytest.raises(FileNotFoundError) as info:
        imagenet_utils.decode_predictions(np.zeros((1, 1000)))
    assert "imagenet_class_index.json" in str(info.value)
    assert str(keras_home / "imagenet_class_index.json") in str(info.value)
    assert imagenet_utils.CLASS_INDEX_URL in str(info.value)


def test_missing_imagenet_file_is_downloaded_into_the_cache(keras_home, tmp_path, monkeypatch):
    source = applications.MobileNet(include_top=False, weights=None, input_shape=(128, 128, 3), alpha=0.25)
    _randomize(source, 3)
    served = tmp_path / "served"
    served.mkdir()
    file_name = "mobilenet_2_5_128_tf_no_top.h5"
    source.save_weights(str(served / file_name))
    monkeypatch.undo()  # the network again, and KERAS_HOME set anew below
    monkeypatch.setenv("KERAS_HOME", str(keras_home.parent))
    with local_http_server(served) as base_url:
        monkeypatch.setattr(applications.mobilenet, "BASE_WEIGHT_PATH", base_url)
        K.clear_session()
        loaded = applications.MobileNet(include_top=False, weights="imagenet", input_shape=(128, 128, 3), alpha=0.25)
    assert _same_weights(source, loaded)
    assert (keras_home / file_name).read_bytes() == (served / file_name).read_bytes()

"""The applications against keras.applications (Keras 3 on JAX): the same layers (names,
classes, output shapes, parameter counts, weight paths and shapes) for every model and variant,
weight files written by Keras (legacy .h5 with Keras's layer names, .weights.h5, a whole-model
.h5, and an "imagenet" file in the Keras cache) loading here with the predictions Keras makes
with the same weights, and preprocess_input equal to Keras's. Skipped when Keras is absent.

Building keras.applications compiles one JAX random-initializer program per weight shape
(about 30 s for the six models); the fixture replaces Keras's random draws with zeros while
models are built, since every test here either ignores the values or sets its own weights."""
import os

import numpy as np
import pytest

import pykeras
from pykeras import applications
from pykeras.applications import imagenet_utils

# Keras and scipy warn about their own deprecations while they run.
pytestmark = [pytest.mark.keras_reference, pytest.mark.filterwarnings("ignore::DeprecationWarning")]

# A small valid input per model (Keras's minimum sizes), to keep Keras's forward passes short.
SMALL = {"ResNet50": 32, "MobileNet": 32, "Xception": 71, "InceptionV3": 75, "VGG16": 32, "VGG19": 32}


@pytest.fixture(scope="module")
def keras():
    os.environ.setdefault("KERAS_BACKEND", "jax")
    try:
        import keras
        import keras.src.backend as keras_backend
    except Exception as e:  # ImportError, or a backend that fails to initialise
        pytest.skip(f"keras is not importable: {e}")
    if keras.backend.backend() != "jax":
        pytest.skip(f"keras runs on {keras.backend.backend()}, the reference tests expect jax")

    def zeros(shape, *args, dtype=None, **kwargs):
        return np.zeros(shape, dtype=dtype or "float32")

    names = ("uniform", "normal", "truncated_normal")
    saved = {name: getattr(keras_backend.random, name) for name in names}
    for name in names:
        setattr(keras_backend.random, name, zeros)
    yield keras
    for name, fn in saved.items():
        setattr(keras_backend.random, name, fn)


def _build_both(keras, name, **kwargs):
    keras.backend.clear_session()
    pykeras.backend.clear_session()
    return getattr(keras.applications, name)(**kwargs), getattr(applications, name)(**kwargs)


def _describe(model):
    return [(layer.name, type(layer).__name__, tuple(layer.output.shape), layer.count_params())
            for layer in model.layers]


STRUCTURE_CASES = [
    # VGG's default input only makes the classifier's first layer larger (the published count is
    # checked in test_applications_structure.py); 32x32 keeps the 100M-parameter layer out.
    ("Xception", {}), ("VGG16", {"input_shape": (32, 32, 3)}), ("VGG19", {"input_shape": (32, 32, 3)}),
    ("ResNet50", {}), ("InceptionV3", {}), ("MobileNet", {}),
    ("MobileNet", {"alpha": 0.5, "depth_multiplier": 2, "input_shape": (160, 160, 3), "classes": 10}),
    ("MobileNet", {"include_top": False, "pooling": "max", "input_shape": (96, 128, 3)}),
    ("ResNet50", {"include_top": False, "pooling": "avg"}),
    ("Xception", {"include_top": False, "pooling": "max", "input_shape": (100, 120, 3)}),
    ("InceptionV3", {"include_top": False, "input_shape": (139, 139, 3)}),
    ("VGG16", {"include_top": False, "pooling": "avg", "input_shape": (48, 64, 3)}),
]


@pytest.mark.parametrize("name,kwargs", STRUCTURE_CASES)
def test_structure_equals_kerass(keras, name, kwargs):
    theirs, ours = _build_both(keras, name, weights=None, **kwargs)
    assert ours.name == theirs.name
    assert _describe(ours) == _describe(theirs)
    assert [(w.path, tuple(w.shape), w.trainable) for w in ours.weights] == \
        [(w.path, tuple(w.shape), w.trainable) for w in theirs.weights]
    assert ours.count_params() == theirs.count_params()


def _random_weights(model, rng):
    """Random values that keep activations in a sane range through a deep network."""
    values = []
    for w in model.weights:
        kind, shape = w.path.split("/")[-1], tuple(w.shape)
        if kind in ("kernel", "pointwise_kernel"):
            value = rng.standard_normal(shape, dtype=np.float32) / np.float32(np.sqrt(np.prod(shape[:-1])))
        elif kind == "depthwise_kernel":
            value = rng.standard_normal(shape, dtype=np.float32) / np.float32(np.sqrt(np.prod(shape[:2])))
        elif kind in ("gamma", "moving_variance"):
            value = rng.uniform(0.5, 1.5, shape).astype(np.float32)
        else:
            value = rng.standard_normal(shape, dtype=np.float32) * np.float32(0.1)
        values.append(value)
    return values


def _write_keras_file(keras, model, path):
    """Writes `model`'s weights with Keras: Keras 3's .weights.h5, Keras 3's legacy whole-model
    .h5 (model.save), or (`legacy`) the Keras 2 weights layout that the published ImageNet files
    use, with Keras's layer names."""
    if path.endswith(".weights.h5"):
        model.save_weights(path)
    elif path.endswith(".model.h5"):
        model.save(path)
    else:
        import h5py
        from keras.src.legacy.saving import legacy_h5_format

        with h5py.File(path, "w") as f:
            legacy_h5_format.save_weights_to_hdf5_group(f, model)
    return path


# Per model: keyword arguments (small inputs keep Keras's forward pass short) and the Keras
# files to load; between them every model loads a Keras 2 layout file or a Keras 3 file, and
# ResNet50 a notop file found as weights="imagenet" in the Keras cache.
WEIGHT_CASES = {
    "ResNet50": ({"include_top": False, "pooling": "avg", "input_shape": (32, 32, 3)},
                 ("legacy.h5", "model.weights.h5", "imagenet")),
    "MobileNet": ({"input_shape": (32, 32, 3), "classifier_activation": None},
                  ("legacy.h5", "model.weights.h5", "whole.model.h5")),
    "Xception": ({"input_shape": (71, 71, 3), "classifier_activation": None}, ("legacy.h5",)),
    "InceptionV3": ({"input_shape": (75, 75, 3), "classifier_activation": None}, ("model.weights.h5",)),
    "VGG16": ({"input_shape": (32, 32, 3), "classes": 10, "classifier_activation": None}, ("legacy.h5",)),
    "VGG19": ({"include_top": False, "pooling": "max", "input_shape": (32, 32, 3)}, ("model.weights.h5",)),
}


@pytest.mark.parametrize("name", sorted(WEIGHT_CASES))
def test_keras_weight_files_give_kerass_predictions(keras, name, tmp_path, monkeypatch):
    kwargs, files = WEIGHT_CASES[name]
    rng = np.random.default_rng(sorted(WEIGHT_CASES).index(name))
    keras.backend.clear_session()
    theirs = getattr(keras.applications, name)(weights=None, **kwargs)
    theirs.set_weights(_random_weights(theirs, rng))
    side = kwargs["input_shape"][0]
    x = rng.uniform(-100, 100, (2, side, side, 3)).astype(np.float32)
    expected = theirs.predict(x, verbose=0)
    scale = np.max(np.abs(expected))
    for file_name in files:
        if file_name == "imagenet":
            monkeypatch.setenv("KERAS_HOME", str(tmp_path / "home"))
            os.makedirs(tmp_path / "home" / "models")
            _write_keras_file(keras, theirs, str(tmp_path / "home" / "models" /
                                                 "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5"))
            with pytest.warns(UserWarning, match="checksum"):
                ours = getattr(applications, name)(weights="imagenet", **kwargs)
        else:
            path = _write_keras_file(keras, theirs, str(tmp_path / file_name))
            ours = getattr(applications, name)(weights=path, **kwargs)
        for a, b in zip(ours.weights, theirs.weights):
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b), err_msg=f"{file_name}: {b.path}")
        np.testing.assert_allclose(ours.predict(x, verbose=0), expected, rtol=1e-4, atol=1e-5 * scale,
                                   err_msg=file_name)


@pytest.mark.parametrize("mode", ["caffe", "tf", "torch"])
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_preprocess_input_equals_kerass(keras, mode, data_format):
    from keras.src.applications import imagenet_utils as keras_utils

    x = np.random.default_rng(5).uniform(0, 255, (2, 3, 6, 5) if data_format == "channels_first"
                                         else (2, 6, 5, 3)).astype(np.float32)
    ours = imagenet_utils.preprocess_input(x.copy(), data_format=data_format, mode=mode)
    theirs = keras_utils.preprocess_input(x.copy(), data_format=data_format, mode=mode)
    np.testing.assert_array_equal(ours, theirs)
    pixels = np.random.default_rng(6).integers(0, 256, (6, 5, 3) if data_format == "channels_last"
                                               else (3, 6, 5)).astype(np.uint8)
    np.testing.assert_array_equal(imagenet_utils.preprocess_input(pixels, data_format=data_format, mode=mode),
                                  keras_utils.preprocess_input(pixels.copy(), data_format=data_format, mode=mode))

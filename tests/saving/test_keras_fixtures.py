"""Files written by real Keras (tests/saving/fixtures, made by make_fixtures.py) load in pykeras.

Each fixture model is loaded from its `.keras` file, its legacy `.h5` file, and its
`.weights.h5` file (into the architecture rebuilt from the `.keras` config); every weight must
equal the array stored by Keras and the predictions must match the ones Keras computed. Compiled
fixtures must also come back compiled with Keras's optimizer state, so that one more
`train_on_batch` reproduces Keras's next step. Fixtures whose layer classes pykeras does not
provide yet are not parametrized (the list grows as layer families land).
"""
import json
import os
import zipfile

import h5py
import numpy as np
import pytest
from saving_helpers import FIXTURES, assert_same_outputs, load_arrays, predict

import pykeras
from pykeras import layers, saving

FIXTURE_MODELS = ["mlp", "regression", "bn_dropout", "multi_io", "cnn", "merge"]
# Fixtures whose NAME_step_y (Keras's prediction after one more step) pykeras can reproduce: not
# "cnn", whose Dropout drew Keras's own random mask during that step.
COMPILED_WITH_STEP = ["mlp", "regression"]
# Keras's float32 kernels (XLA) and pykeras's differ in summation order only.
RTOL, ATOL = 2e-5, 2e-6


def _layer_classes(config):
    found = set()
    if isinstance(config, dict):
        if "class_name" in config and isinstance(config.get("config"), dict):
            found.add(config["class_name"])
        for v in config.values():
            found |= _layer_classes(v)
    elif isinstance(config, list):
        for v in config:
            found |= _layer_classes(v)
    return found


def _keras_config(name):
    with zipfile.ZipFile(os.path.join(FIXTURES, f"{name}.keras")) as zf:
        return json.loads(zf.read("config.json"))


def _loadable(name):
    """True when pykeras has every layer class the fixture uses."""
    needed = {c for c in _layer_classes(_keras_config(name)["config"]) if c not in ("DTypePolicy", "Functional",
                                                                                   "Sequential")}
    layer_like = {c for c in needed if c[0].isupper()}
    known = set(getattr(layers, "ALL_OBJECTS_DICT", {})) | {n for n in dir(layers)}
    known |= set(dir(pykeras.initializers)) | set(dir(pykeras.regularizers)) | set(dir(pykeras.constraints))
    return layer_like <= known


AVAILABLE = [name for name in FIXTURE_MODELS if _loadable(name)]


def _keras_weights(name):
    """The arrays Keras stored in NAME.keras, by object path ("layers/dense/vars/0" -> array)."""
    with zipfile.ZipFile(os.path.join(FIXTURES, f"{name}.keras")) as zf:
        data = zf.read("model.weights.h5")
    import io

    out = {}
    with h5py.File(io.BytesIO(data), "r") as f:
        def visit(path, obj):
            if isinstance(obj, h5py.Dataset) and not path.startswith("optimizer"):
                out[path] = np.array(obj)
        f.visititems(visit)
    return out


def test_fixture_list_is_not_empty():
    assert {"mlp", "regression", "multi_io"} <= set(AVAILABLE)


@pytest.mark.parametrize("name", AVAILABLE)
def test_keras_file_predicts_like_keras(name):
    model = saving.load_model(os.path.join(FIXTURES, f"{name}.keras"))
    assert_same_outputs(load_arrays(f"{name}_y"), predict(model, load_arrays(f"{name}_x")), exact=False, rtol=RTOL,
                        atol=ATOL)


@pytest.mark.parametrize("name", AVAILABLE)
def test_keras_file_weights_are_keras_arrays(name):
    """Every variable in the file lands, bitwise, in the variable at the same object path."""
    from pykeras.saving import saving_lib

    model = saving.load_model(os.path.join(FIXTURES, f"{name}.keras"), compile=False)
    stored = _keras_weights(name)
    assigned = 0
    for path, obj in saving_lib.saveable_paths(model):
        for i, variable in enumerate(saving_lib.own_variables(obj)):
            key = f"{path}/vars/{i}" if path else f"vars/{i}"
            np.testing.assert_array_equal(np.asarray(variable), stored[key], err_msg=key)
            assigned += 1
    assert assigned == len(stored)


@pytest.mark.parametrize("name", AVAILABLE)
def test_legacy_h5_predicts_like_keras(name):
    model = saving.load_model(os.path.join(FIXTURES, f"{name}.h5"))
    assert_same_outputs(load_arrays(f"{name}_y"), predict(model, load_arrays(f"{name}_x")), exact=False, rtol=RTOL,
                        atol=ATOL)


def test_h5_loss_alias():
    """Keras 3 itself cannot recompile its own .h5 with loss="mse"; pykeras can."""
    model = saving.load_model(os.path.join(FIXTURES, "regression.h5"))
    assert model.compiled
    assert model.loss == "mse"
    assert isinstance(model.optimizer, pykeras.optimizers.SGD)
    config = model.optimizer.get_config()
    assert config["momentum"] == pytest.approx(0.9) and config["nesterov"] is True


@pytest.mark.parametrize("name", AVAILABLE)
def test_weights_file_loads_into_rebuilt_architecture(name):
    config = _keras_config(name)
    config.pop("compile_config", None)
    model = saving.model_from_config(config)
    x = load_arrays(f"{name}_x")
    model.load_weights(os.path.join(FIXTURES, f"{name}.weights.h5"))
    assert_same_outputs(load_arrays(f"{name}_y"), predict(model, x), exact=False, rtol=RTOL, atol=ATOL)
    # The legacy .h5 file's weights load positionally into the same architecture.
    fresh = saving.model_from_config(config)
    fresh.load_weights(os.path.join(FIXTURES, f"{name}.h5"))
    for a, b in zip(model.get_weights(), fresh.get_weights()):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("fmt", [".keras", ".h5"])
@pytest.mark.parametrize("name", [n for n in COMPILED_WITH_STEP if n in AVAILABLE])
def test_training_continues_like_keras(name, fmt):
    model = saving.load_model(os.path.join(FIXTURES, f"{name}{fmt}"))
    assert model.compiled
    model.train_on_batch(load_arrays(f"{name}_train_x"), load_arrays(f"{name}_train_y"))
    assert_same_outputs(load_arrays(f"{name}_step_y"), predict(model, load_arrays(f"{name}_x")), exact=False,
                        rtol=1e-4, atol=1e-5)


def test_compiled_state_of_keras_file():
    model = saving.load_model(os.path.join(FIXTURES, "mlp.keras"))
    assert isinstance(model.optimizer, pykeras.optimizers.Adam)
    assert model.optimizer.get_config()["learning_rate"] == pytest.approx(0.01)
    assert int(np.asarray(model.optimizer.iterations)) == 8  # 2 epochs x 4 batches in make_fixtures.py
    assert model.loss == "sparse_categorical_crossentropy"
    with h5py.File(os.path.join(FIXTURES, "mlp.h5"), "r") as f:
        names = [n.decode() if isinstance(n, bytes) else n for n in f["optimizer_weights"].attrs["weight_names"]]
        stored = [np.array(f["optimizer_weights"][n]) for n in names]
    for variable, value in zip(model.optimizer.variables, stored):
        np.testing.assert_array_equal(np.asarray(variable).astype(value.dtype), value)


def test_keras2_h5_model():
    """A tf.keras 2.13-layout file: batch_input_shape on the first layer, Keras 2 initializers and
    optimizer arguments (jit_compile, is_legacy_optimizer), MeanMetricWrapper metrics."""
    model = saving.load_model(os.path.join(FIXTURES, "keras2_mlp.h5"))
    assert [layer.name for layer in model.layers] == ["dense", "dense_1"]
    assert isinstance(model.optimizer, pykeras.optimizers.Adam)
    assert model.optimizer.get_config()["learning_rate"] == pytest.approx(0.002)
    assert_same_outputs(load_arrays("keras2_mlp_y"), predict(model, load_arrays("keras2_mlp_x")), exact=False,
                        rtol=RTOL, atol=ATOL)


def test_keras2_json_model():
    with open(os.path.join(FIXTURES, "keras2_functional.json")) as f:
        model = pykeras.models.model_from_json(f.read())
    model.set_weights(load_arrays("keras2_functional_weights"))
    assert_same_outputs(load_arrays("keras2_functional_y"), predict(model, load_arrays("keras2_functional_x")),
                        exact=False, rtol=RTOL, atol=ATOL)

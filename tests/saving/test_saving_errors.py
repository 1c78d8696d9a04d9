"""Bad files and failed saves: every problem is a clear error naming the file (and the layer), the
model being loaded into is left untouched, and a save that fails half-way leaves the previous
file exactly as it was, with no temporary file behind."""
import json
import os
import zipfile

import h5py
import numpy as np
import pytest
from saving_helpers import assert_same_weights, predict, randomize_weights

import pykeras
from pykeras import layers, saving
from pykeras.saving import file_utils, saving_lib


def _model(units=3, seed=0):
    model = pykeras.Sequential([pykeras.Input((4,)), layers.Dense(5, activation="relu", name="hidden"),
                                layers.Dense(units, name="head")], name="m")
    randomize_weights(model, seed)
    return model


def _files(tmp_path):
    return sorted(os.listdir(tmp_path))


def _bytes(path):
    with open(path, "rb") as f:
        return f.read()


# ---- corrupt and truncated files ----------------------------------------------------------------

@pytest.mark.parametrize("fmt", [".keras", ".h5", ".weights.h5"])
@pytest.mark.parametrize("keep", [0.0, 0.5, 0.9])
def test_truncated_file(fmt, keep, tmp_path):
    model = _model()
    path = str(tmp_path / f"m{fmt}")
    if fmt == ".weights.h5":
        model.save_weights(path)
    else:
        model.save(path)
    data = _bytes(path)
    with open(path, "wb") as f:
        f.write(data[: int(len(data) * keep)])
    target = _model(seed=1)
    before = target.get_weights()
    with pytest.raises((ValueError, OSError)) as info:
        if fmt == ".weights.h5":
            target.load_weights(path)
        else:
            saving.load_model(path)
    assert path in str(info.value)
    for a, b in zip(before, target.get_weights()):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("fmt", [".keras", ".h5", ".weights.h5"])
def test_garbage_file(fmt, tmp_path):
    path = str(tmp_path / f"g{fmt}")
    with open(path, "wb") as f:
        f.write(np.random.default_rng(0).bytes(3000))
    with pytest.raises(saving.SavedFileError, match="g" + fmt.replace(".", r"\.")):
        if fmt == ".weights.h5":
            _model().load_weights(path)
        else:
            saving.load_model(path)


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.keras"):
        saving.load_model(str(tmp_path / "nope.keras"))
    with pytest.raises(FileNotFoundError, match="nope.weights.h5"):
        _model().load_weights(str(tmp_path / "nope.weights.h5"))


def _rewrite_archive(src, dst, drop=(), replace=None):
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for name in zin.namelist():
            if name in drop:
                continue
            data = zin.read(name)
            if replace and name in replace:
                data = replace[name](data)
            zout.writestr(name, data)


def test_archive_missing_member(tmp_path):
    src = str(tmp_path / "m.keras")
    _model().save(src)
    for member in ("config.json", "model.weights.h5"):
        dst = str(tmp_path / f"no_{member}.keras")
        _rewrite_archive(src, dst, drop=(member,))
        with pytest.raises(saving.SavedFileError, match=member.replace(".", r"\.")):
            saving.load_model(dst)


def test_archive_bad_config_json(tmp_path):
    src = str(tmp_path / "m.keras")
    _model().save(src)
    dst = str(tmp_path / "bad.keras")
    _rewrite_archive(src, dst, replace={"config.json": lambda d: d[:-10]})
    with pytest.raises(saving.SavedFileError, match="not valid JSON"):
        saving.load_model(dst)


def test_unknown_layer_class(tmp_path):
    src = str(tmp_path / "m.keras")
    _model().save(src)
    dst = str(tmp_path / "unknown.keras")

    def rename(data):
        return data.replace(b'"class_name": "Dense"', b'"class_name": "FancyDense"', 1)

    _rewrite_archive(src, dst, replace={"config.json": rename})
    with pytest.raises(saving.UnknownObjectError) as info:
        saving.load_model(dst)
    assert "FancyDense" in str(info.value) and "unknown.keras" in str(info.value)
    assert "custom_objects" in str(info.value)


def test_unknown_class_in_legacy_h5(tmp_path):
    path = str(tmp_path / "m.h5")
    _model().save(path)
    with h5py.File(path, "r+") as f:
        config = f.attrs["model_config"]
        config = config.decode() if isinstance(config, bytes) else config
        f.attrs["model_config"] = config.replace('"Dense"', '"Mystery"').encode()
    with pytest.raises(saving.UnknownObjectError, match="Mystery"):
        saving.load_model(path)


# ---- weights that do not fit ------------------------------------------------------------------------

def test_shape_mismatch_keras3_weights(tmp_path):
    path = str(tmp_path / "w.weights.h5")
    _model(units=3).save_weights(path)
    target = _model(units=2, seed=5)
    before = target.get_weights()
    with pytest.raises(saving.SavedFileError) as info:
        target.load_weights(path)
    message = str(info.value)
    assert "w.weights.h5" in message and "'head'" in message and "(5, 2)" in message and "(5, 3)" in message
    for a, b in zip(before, target.get_weights()):  # nothing assigned, not even the fitting layer
        np.testing.assert_array_equal(a, b)
    with pytest.warns(UserWarning, match="skip_mismatch"):
        target.load_weights(path, skip_mismatch=True)
    source = _model(units=3)
    for a, b in zip(source.get_layer("hidden").get_weights(), target.get_layer("hidden").get_weights()):
        np.testing.assert_array_equal(a, b)  # the fitting layer loaded
    for a, b in zip(before[2:], target.get_weights()[2:]):
        np.testing.assert_array_equal(a, b)  # the mismatched one was skipped


def test_shape_mismatch_legacy_h5(tmp_path):
    path = str(tmp_path / "w.h5")
    _model(units=3).save_weights(path)
    target = _model(units=2, seed=5)
    before = target.get_weights()
    with pytest.raises(saving.SavedFileError, match=r"head.*\(5, 2\).*\(5, 3\)"):
        target.load_weights(path)
    for a, b in zip(before, target.get_weights()):
        np.testing.assert_array_equal(a, b)
    with pytest.warns(UserWarning):
        target.load_weights(path, skip_mismatch=True)
    np.testing.assert_array_equal(target.get_layer("hidden").get_weights()[0],
                                  _model(units=3).get_layer("hidden").get_weights()[0])


def test_missing_weights_group(tmp_path):
    path = str(tmp_path / "w.weights.h5")
    _model().save_weights(path)
    with h5py.File(path, "r+") as f:
        del f["layers/dense_1"]
    target = _model(seed=7)
    before = target.get_weights()
    with pytest.raises(saving.SavedFileError, match=r"'head' at 'layers/dense_1'.*no weights"):
        target.load_weights(path)
    for a, b in zip(before, target.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_missing_dataset_in_keras_archive(tmp_path):
    path = str(tmp_path / "m.keras")
    _model().save(path)
    import io

    def drop_bias(data):
        buffer = io.BytesIO(data)
        with h5py.File(buffer, "r+") as f:
            del f["layers/dense/vars/1"]
        return buffer.getvalue()

    bad = str(tmp_path / "bad.keras")
    _rewrite_archive(path, bad, replace={"model.weights.h5": drop_bias})
    with pytest.raises(saving.SavedFileError, match=r"(?s)bad\.keras.*'hidden'.*expects 2 variables.*holds 1"):
        saving.load_model(bad)


def test_layer_count_mismatch_legacy(tmp_path):
    path = str(tmp_path / "w.h5")
    _model().save_weights(path)
    bigger = pykeras.Sequential([pykeras.Input((4,)), layers.Dense(5), layers.Dense(3), layers.Dense(2)])
    with pytest.raises(saving.SavedFileError, match="layer count mismatch"):
        bigger.load_weights(path)


def test_whole_model_h5_needs_model_config(tmp_path):
    path = str(tmp_path / "w.h5")
    _model().save_weights(path)
    with pytest.raises(saving.SavedFileError, match="No model config"):
        saving.load_model(path)


def test_unbuilt_model_cannot_load_weights(tmp_path):
    path = str(tmp_path / "w.weights.h5")
    _model().save_weights(path)
    unbuilt = pykeras.Sequential([layers.Dense(5), layers.Dense(3)])
    with pytest.raises(ValueError, match="not yet been built"):
        unbuilt.load_weights(path)


def test_links_are_refused(tmp_path):
    path = str(tmp_path / "w.weights.h5")
    _model().save_weights(path)
    with h5py.File(path, "r+") as f:
        del f["layers/dense_1/vars"]
        f["layers/dense_1/vars"] = h5py.SoftLink("/layers/dense/vars")
    with pytest.raises(saving.SavedFileError, match="link"):
        _model().load_weights(path)


def test_overwrite_false(tmp_path):
    path = str(tmp_path / "m.keras")
    _model().save(path)
    original = _bytes(path)
    with pytest.raises(FileExistsError, match="m.keras"):
        _model(seed=3).save(path, overwrite=False)
    assert _bytes(path) == original


# ---- failed saves leave the previous file intact -------------------------------------------------

class Boom(RuntimeError):
    pass


@pytest.mark.parametrize("fmt,where", [(".keras", "config"), (".keras", "weights"), (".h5", "config"),
                                       (".h5", "weights"), (".weights.h5", "weights"), ("_legacy.h5", "weights")])
def test_failed_save_keeps_previous_file(fmt, where, tmp_path, monkeypatch):
    weights_only = fmt in (".weights.h5", "_legacy.h5")
    path = str(tmp_path / f"m{fmt}")
    old = _model(seed=0)
    save = old.save_weights if weights_only else old.save
    save(path)
    original = _bytes(path)

    new = _model(seed=1)
    if where == "config":
        def broken_get_config(self):
            raise Boom("serialization failed")
        monkeypatch.setattr(type(new), "get_config", broken_get_config)
    else:
        # Fail after some datasets were written: the second layer's variables.
        real = np.array

        def flaky_to_numpy(variable):
            if tuple(variable.shape) == (5, 3):
                raise Boom("weights failed")
            return real(variable, copy=True)
        monkeypatch.setattr(saving_lib, "_to_numpy", flaky_to_numpy)
        from pykeras.saving import legacy_h5
        original_write = legacy_h5._write_subset

        def flaky_write(group, owner, weights):
            if any(tuple(w.shape) == (5, 3) for w in weights):
                group.create_dataset("partial", data=np.zeros(3))
                raise Boom("weights failed")
            return original_write(group, owner, weights)
        monkeypatch.setattr(legacy_h5, "_write_subset", flaky_write)
    with pytest.raises(Boom):
        (new.save_weights if weights_only else new.save)(path)
    assert _bytes(path) == original
    assert _files(tmp_path) == [f"m{fmt}"]
    monkeypatch.undo()
    if weights_only:
        fresh = _model(seed=9)
        fresh.load_weights(path)
        assert_same_weights(old, fresh)
    else:
        assert_same_weights(old, saving.load_model(path))


def test_atomic_write_cleans_up(tmp_path):
    target = str(tmp_path / "sub" / "f.bin")
    with file_utils.atomic_write(target) as tmp:
        assert os.path.dirname(tmp) == os.path.dirname(target)
        with open(tmp, "wb") as f:
            f.write(b"one")
    assert _bytes(target) == b"one"
    with pytest.raises(KeyboardInterrupt):
        with file_utils.atomic_write(target) as tmp:
            with open(tmp, "wb") as f:
                f.write(b"two-partial")
            raise KeyboardInterrupt
    assert _bytes(target) == b"one"
    assert os.listdir(tmp_path / "sub") == ["f.bin"]


def test_checkpoint_callback_never_tears_files(tmp_path, monkeypatch):
    """ModelCheckpoint saves through the same atomic path: a failing save keeps the last good file."""
    from pykeras import callbacks
    model = _model()
    model.compile(optimizer="sgd", loss="mse")
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(16, 4)).astype("float32"), rng.normal(size=(16, 3)).astype("float32")
    for name in ("ckpt.keras", "ckpt.weights.h5", "ckpt.h5"):
        path = str(tmp_path / name)
        checkpoint = callbacks.ModelCheckpoint(path, save_weights_only=name.endswith(".weights.h5"))
        model.fit(x, y, epochs=2, batch_size=8, verbose=0, callbacks=[checkpoint])
        good = _bytes(path)
        if name.endswith(".weights.h5"):
            fresh = _model(seed=4)
            fresh.load_weights(path)
            assert_same_weights(model, fresh)
        else:
            np.testing.assert_array_equal(predict(saving.load_model(path), x), predict(model, x))

        def broken(*args, **kwargs):
            raise Boom("disk full")
        monkeypatch.setattr(saving_lib, "weights_bytes", broken)
        monkeypatch.setattr(saving_lib, "write_weights", broken)
        from pykeras.saving import legacy_h5
        monkeypatch.setattr(legacy_h5, "save_weights_to_group", broken)
        with pytest.raises(Boom):
            model.fit(x, y, epochs=1, batch_size=8, verbose=0, callbacks=[checkpoint])
        monkeypatch.undo()
        assert _bytes(path) == good
    assert not [f for f in _files(tmp_path) if f.endswith(".tmp")]


def test_config_json_is_plain_json(tmp_path):
    path = str(tmp_path / "m.keras")
    _model().save(path)
    with zipfile.ZipFile(path) as zf:
        config = json.loads(zf.read("config.json"))
    assert config["module"] == "keras" and config["class_name"] == "Sequential"
    dense = config["config"]["layers"][1]
    assert dense["module"] == "keras.layers" and dense["class_name"] == "Dense"
    assert dense["config"]["dtype"]["class_name"] == "DTypePolicy"
    assert dense["config"]["kernel_initializer"]["module"] == "keras.initializers"


def test_unknown_loss_in_training_config(tmp_path):
    model = _model()
    model.compile(optimizer="adam", loss="mse")
    path = str(tmp_path / "m.keras")
    model.save(path)
    bad = str(tmp_path / "loss.keras")

    def rename(data):
        config = json.loads(data)
        config["compile_config"]["loss"] = {"module": "my_losses", "class_name": "FocalLoss", "config": {},
                                            "registered_name": "my_losses>FocalLoss"}
        return json.dumps(config).encode()

    _rewrite_archive(path, bad, replace={"config.json": rename})
    with pytest.raises(saving.UnknownObjectError, match=r"loss\.keras.*FocalLoss"):
        saving.load_model(bad)
    assert predict(saving.load_model(bad, compile=False), np.ones((1, 4), np.float32)).shape == (1, 3)


def test_save_through_symlink_keeps_the_link(tmp_path):
    real = tmp_path / "real.keras"
    link = tmp_path / "link.keras"
    _model().save(str(real))
    os.symlink(str(real), str(link))
    _model(seed=2).save(str(link))
    assert os.path.islink(str(link))
    assert_same_weights(saving.load_model(str(real)), _model(seed=2))


def test_links_are_refused_in_legacy_files(tmp_path):
    path = str(tmp_path / "w.h5")
    _model().save_weights(path)
    with h5py.File(path, "r+") as f:
        group = f["head"]
        name = [n.decode() if isinstance(n, bytes) else n for n in group.attrs["weight_names"]][0]
        del group[name]
        group[name] = h5py.ExternalLink("elsewhere.h5", "/data")
    with pytest.raises(saving.SavedFileError, match="link"):
        _model().load_weights(path)

"""Keras's saving entry points: save_model / load_model / save_weights / load_weights / JSON.

The file name picks the format, as in Keras: `.keras` is Keras 3's zip, `.weights.h5` Keras 3's
weights file, any other `.h5` / `.hdf5` the legacy Keras 2 layout (whole model for `save_model`,
weights only for `save_weights`). `load_model` and `load_weights` also look at the content, so a
`.keras` archive or a Keras 3 weights file under another name still loads.
"""
import json
import os
import sys
import zipfile

from pykeras.saving import file_utils, legacy_h5, model_config, saving_lib
from pykeras.saving.file_utils import SavedFileError

_H5_SUFFIXES = (".h5", ".hdf5")


def _check_overwrite(path, overwrite):
    if overwrite or not os.path.exists(path):
        return True
    if sys.stdin is not None and sys.stdin.isatty():
        answer = input(f"[WARNING] {path} already exists - overwrite? [y/n] ").strip().lower()
        while answer not in ("y", "n"):
            answer = input('Enter "y" (overwrite) or "n" (cancel): ').strip().lower()
        if answer == "y":
            print("[TIP] Next time specify overwrite=True!")
            return True
        return False
    raise FileExistsError(f"{path} already exists and overwrite=False")


def save_model(model, filepath, overwrite=True, zipped=None, **kwargs):
    """Saves `model` (architecture, weights, compile state, optimizer state).

    `.keras`: Keras 3's zip archive. `.h5` / `.hdf5`: the legacy HDF5 file (`include_optimizer`
    may be set to False to leave the optimizer state out). The write is atomic: the previous
    file, if any, stays intact until the new one is complete.
    """
    include_optimizer = kwargs.pop("include_optimizer", True)
    kwargs.pop("save_format", None)
    if kwargs:
        raise ValueError(f"The following argument(s) are not supported: {list(kwargs)}")
    if zipped is False:
        raise ValueError("zipped=False (saving to a directory) is not supported by pykeras; use a .keras file")
    path = file_utils.fspath(filepath)
    if path.endswith(".keras"):
        if _check_overwrite(path, overwrite):
            saving_lib.save_model(model, path)
        return
    if path.endswith(_H5_SUFFIXES):
        if _check_overwrite(path, overwrite):
            legacy_h5.save_model(model, path, include_optimizer=include_optimizer)
        return
    raise ValueError("Invalid filepath extension for saving. Please add either a `.keras` extension for the native "
                     f"Keras format (recommended) or a `.h5` extension. Received: filepath={path}.")


def _looks_like_hdf5(path):
    try:
        with open(path, "rb") as f:
            return f.read(8) == b"\x89HDF\r\n\x1a\n"
    except OSError:
        return False


def load_model(filepath, custom_objects=None, compile=True, safe_mode=True):
    """Loads a model saved with `model.save()` by pykeras or by Keras (`.keras` or `.h5`).

    Args:
        filepath: path of the file.
        custom_objects: dict of name -> class/function for custom objects the file names.
        compile: restore the compiled state (optimizer, loss, metrics) and optimizer state.
        safe_mode: refuse to rebuild Python lambdas stored in the file.

    Raises:
        FileNotFoundError for a missing file; ValueError (SavedFileError) for a corrupt or
        truncated file, an unknown class, or weights that do not fit the architecture.
    """
    path = file_utils.fspath(filepath)
    if not os.path.exists(path):
        raise FileNotFoundError(f"File not found: filepath={path}. Please ensure the file is an accessible `.keras` "
                                "zip file or `.h5` file.")
    if os.path.isdir(path):
        raise IsADirectoryError(f"{path} is a directory; pykeras loads `.keras` and `.h5` files")
    if zipfile.is_zipfile(path):
        return saving_lib.load_model(path, custom_objects=custom_objects, compile=compile, safe_mode=safe_mode)
    if path.endswith(_H5_SUFFIXES) or _looks_like_hdf5(path):
        return legacy_h5.load_model(path, custom_objects=custom_objects, compile=compile, safe_mode=safe_mode)
    if path.endswith(".keras"):
        raise SavedFileError(f"{path} is not a valid .keras file: it is not a zip archive (corrupt or truncated?)")
    raise ValueError(f"File format not supported: filepath={path}. pykeras loads `.keras` files and legacy `.h5` "
                     "files.")


def save_weights(model, filepath, overwrite=True, **kwargs):
    """Saves the weights (and optimizer state) to `.weights.h5`, or to a legacy `.h5` file."""
    if kwargs.pop("max_shard_size", None) is not None:
        raise ValueError("Sharded weights (max_shard_size) are not supported by pykeras")
    kwargs.pop("save_format", None)
    if kwargs:
        raise ValueError(f"The following argument(s) are not supported: {list(kwargs)}")
    path = file_utils.fspath(filepath)
    if path.endswith(".weights.h5"):
        if _check_overwrite(path, overwrite):
            saving_lib.save_weights_only(model, path)
        return
    if path.endswith(_H5_SUFFIXES):
        if _check_overwrite(path, overwrite):
            legacy_h5.save_weights(model, path)
        return
    raise ValueError(f"The filename must end in `.weights.h5` (or `.h5` for the legacy format). Received: "
                     f"filepath={path}")


def load_weights(model, filepath, skip_mismatch=False, by_name=False, **kwargs):
    """Loads weights from `.weights.h5`, a `.keras` archive or a legacy `.h5` file.

    `by_name=True` (legacy .h5 only) matches layers by name instead of position;
    `skip_mismatch=True` skips layers whose weight count or shapes differ, with a warning.
    Nothing is assigned unless the whole file fits (or the misfits are skipped).
    """
    kwargs.pop("objects_to_skip", None)
    if kwargs:
        raise ValueError(f"Invalid keyword arguments: {kwargs}")
    path = file_utils.fspath(filepath)
    if not os.path.exists(path):
        raise FileNotFoundError(f"No such file: {path}")
    if path.endswith(".keras") or (not path.endswith(_H5_SUFFIXES) and zipfile.is_zipfile(path)):
        if by_name:
            raise ValueError(f"`by_name` only supports loading legacy '.h5' or '.hdf5' files. Received: {path}")
        saving_lib.load_weights_only(model, path, skip_mismatch=skip_mismatch)
        return
    if path.endswith(".weights.h5"):
        if by_name:
            raise ValueError(f"`by_name` only supports loading legacy '.h5' or '.hdf5' files. Received: {path}")
        saving_lib.load_weights_only(model, path, skip_mismatch=skip_mismatch)
        return
    if path.endswith(_H5_SUFFIXES) or _looks_like_hdf5(path):
        legacy_h5.load_weights(model, path, skip_mismatch=skip_mismatch, by_name=by_name)
        return
    raise ValueError(f"File format not supported: filepath={path}. pykeras loads `.keras`, `.weights.h5` and legacy "
                     "`.h5` files.")


def model_to_json(model, **kwargs):
    """The model's config.json content (Keras 3 layout) as a JSON string."""
    return json.dumps(model_config.serialize_model(model), **kwargs)


def model_from_json(json_string, custom_objects=None):
    """A new model from `to_json()` output (Keras 3) or a Keras 2 `model.to_json()` string.

    The model has fresh weights; it is compiled when the JSON carries a compile_config, as Keras 3.
    """
    try:
        config = json.loads(json_string)
    except (TypeError, json.JSONDecodeError) as e:
        raise ValueError(f"model_from_json: the argument is not valid JSON: {e}") from None
    return model_from_config(config, custom_objects=custom_objects)


def model_from_config(config, custom_objects=None):
    """A new model from a config dict ({"class_name", "config", ...}, Keras 2 or 3)."""
    if isinstance(config, list):
        raise TypeError("`model_from_config` expects a dictionary, not a list. Did you mean to use "
                        "`Sequential.from_config(config)`?")
    config = legacy_h5._untuple(config)
    return model_config.model_from_serialized(config, custom_objects=custom_objects, compile=True,
                                              source="model config")

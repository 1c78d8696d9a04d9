"""The legacy HDF5 formats of Keras 2 (and of Keras 3's `model.save("x.h5")`).

A whole-model .h5 file has root attributes `keras_version`, `backend`, `model_config` (JSON of
the model in the legacy {"class_name", "config"} form) and, when the model was compiled,
`training_config` (JSON: loss, metrics, loss_weights, weighted_metrics and
"optimizer_config": {"class_name", "config"}). The group `model_weights` has attributes
`layer_names` (every layer of `model.layers`, in order), `backend`, `keras_version`, and one
group per layer with the attribute `weight_names`; each weight is the dataset
`<layer>/<weight name>` (weight names contain "/", so datasets sit in nested groups). A layer's
weights are listed trainable first, then non-trainable ("legacy order"); a nested model's group
holds all of its weights. `top_level_model_weights` holds variables owned by the model itself.
The optional group `optimizer_weights` has `weight_names` and the optimizer's variables in
order. A weights-only file (`save_weights("w.h5")`) is the `model_weights` layout at the root.

Attributes larger than HDF5's 64 KB object-header limit are split into `name0`, `name1`, ... as
Keras does. Loading matches layers by position (only layers that have weights count) or, with
`by_name=True`, by name; all arrays are read and checked before any is assigned.
"""
import json
import warnings

import numpy as np

from pykeras.saving import file_utils, model_config, saving_lib
from pykeras.saving import serialization_lib as sl
from pykeras.saving.file_utils import SavedFileError

HDF5_OBJECT_HEADER_LIMIT = 64512
BACKEND_NAME = "pykeras"


# ---- attributes -----------------------------------------------------------------------------


def save_attributes(group, name, data):
    """Stores a list of strings as attribute `name`, split into numbered chunks when too large."""
    encoded = [d.encode("utf8") if isinstance(d, str) else d for d in data]
    too_big = [x for x in encoded if len(x) > HDF5_OBJECT_HEADER_LIMIT]
    if too_big:
        raise ValueError(f"Cannot save attribute {name}: entries longer than {HDF5_OBJECT_HEADER_LIMIT} bytes: "
                         f"{too_big[:3]}")
    array = np.asarray(encoded)
    chunks = 1
    parts = np.array_split(array, chunks)
    while any(p.nbytes > HDF5_OBJECT_HEADER_LIMIT for p in parts):
        chunks += 1
        parts = np.array_split(array, chunks)
    if chunks == 1:
        group.attrs[name] = array
    else:
        for i, part in enumerate(parts):
            group.attrs[f"{name}{i}"] = part


def load_attributes(group, name):
    """The list of strings stored by `save_attributes` (chunked or not); [] when absent."""
    def decode(values):
        return [v.decode("utf8") if isinstance(v, bytes) else str(v) for v in np.atleast_1d(values)]

    if name in group.attrs:
        values = group.attrs[name]
        return decode(values) if np.size(values) else []
    out, i = [], 0
    while f"{name}{i}" in group.attrs:
        out.extend(decode(group.attrs[f"{name}{i}"]))
        i += 1
    return out


def _attr_text(value):
    if value is None:
        return None
    if isinstance(value, bytes):
        return value.decode("utf8")
    if isinstance(value, np.ndarray) and value.shape == ():
        return _attr_text(value.item())
    return str(value)


def _decode_legacy_json(text, what, source):
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise SavedFileError(f"{source}: the {what} attribute is not valid JSON: {e}") from None
    return _untuple(data)


def _untuple(value):
    """tf.keras's {"class_name": "__tuple__", "items": [...]} encoding back to plain lists."""
    if isinstance(value, dict):
        if value.get("class_name") == "__tuple__" and "items" in value:
            return [_untuple(v) for v in value["items"]]
        return {k: _untuple(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_untuple(v) for v in value]
    return value


# ---- weights ----------------------------------------------------------------------------------


def legacy_weights(layer):
    """A layer's weights in the legacy order: trainable ones, then non-trainable ones."""
    return list(layer.trainable_weights) + list(layer.non_trainable_weights)


def _weight_names(layer, weights):
    names, used = [], set()
    for i, w in enumerate(weights):
        name = getattr(w, "path", None) or f"{layer.name}/{getattr(w, 'name', None) or f'variable_{i}'}"
        name = str(name).replace(":", "_")
        base, k = name, 1
        while name in used:
            name = f"{base}_{k}"
            k += 1
        used.add(name)
        names.append(name)
    return names


def _write_subset(group, owner, weights):
    names = _weight_names(owner, weights)
    save_attributes(group, "weight_names", names)
    for name, w in zip(names, weights):
        value = np.array(w, copy=True)
        group.create_dataset(name, data=value)


def _top_level_weights(model):
    own = saving_lib.own_variables(model)
    weight_ids = {id(w) for w in model.weights}
    return [v for v in own if id(v) in weight_ids]


def save_weights_to_group(group, model):
    """Writes the `model_weights` layout of `model` into an h5py group."""
    save_attributes(group, "layer_names", [layer.name for layer in model.layers])
    group.attrs["backend"] = BACKEND_NAME.encode("utf8")
    group.attrs["keras_version"] = saving_lib.KERAS_VERSION.encode("utf8")
    for layer in sorted(model.layers, key=lambda layer: layer.name):
        _write_subset(group.create_group(layer.name), layer, legacy_weights(layer))
    _write_subset(group.create_group("top_level_model_weights"), model, _top_level_weights(model))


def _read_subset(group, source):
    import h5py

    values = []
    for name in load_attributes(group, "weight_names"):
        if name not in group:
            raise SavedFileError(f"{source}: weight '{name}' of layer group '{group.name}' is listed but missing")
        if isinstance(group.get(name, getlink=True), (h5py.SoftLink, h5py.ExternalLink)):
            raise SavedFileError(f"{source}: weight '{group.name}/{name}' is a link; files with links are refused")
        dataset = group[name]
        if not isinstance(dataset, h5py.Dataset) or dataset.external or dataset.is_virtual:
            raise SavedFileError(f"{source}: '{group.name}/{name}' is not a plain dataset")
        try:
            values.append(np.array(dataset[()]))
        except (OSError, ValueError) as e:
            raise SavedFileError(f"{source}: could not read '{group.name}/{name}' (file corrupt or truncated?): "
                                 f"{e}") from None
    return values


def _layer_group(group, name, source):
    import h5py

    if name not in group:
        raise SavedFileError(f"{source}: layer '{name}' is listed in layer_names but has no group in the file")
    link = group.get(name, getlink=True)
    if isinstance(link, (h5py.SoftLink, h5py.ExternalLink)):
        raise SavedFileError(f"{source}: layer group '{name}' is a link; files with links are refused")
    node = group[name]
    if not isinstance(node, h5py.Group):
        raise SavedFileError(f"{source}: '{name}' should be a layer group")
    return node


def _check_shapes(variables, values, label, problems):
    bad = [(v, a) for v, a in zip(variables, values) if tuple(np.shape(v)) != tuple(a.shape)]
    for v, a in bad:
        problems.append(f"{label}: weight '{getattr(v, 'path', None) or getattr(v, 'name', '?')}' expects shape "
                        f"{tuple(np.shape(v))}, the file has {tuple(a.shape)}")
    return not bad


def _assign(plan):
    for variables, values in plan:
        for variable, value in zip(variables, values):
            variable.assign(saving_lib._cast_for(variable, value))


def _finish(problems, source, skip_mismatch):
    if not problems:
        return
    message = f"Could not load weights from {source}:\n  " + "\n  ".join(problems)
    if not skip_mismatch:
        raise SavedFileError(message)
    warnings.warn(message + "\nThese layers were skipped (skip_mismatch=True).", stacklevel=4)


def load_weights_from_group(group, model, source, skip_mismatch=False):
    """Topological loading: the i-th layer with weights gets the i-th saved layer with weights."""
    layers = [layer for layer in model.layers if legacy_weights(layer)]
    saved = []
    for name in load_attributes(group, "layer_names"):
        layer_group = _layer_group(group, name, source)
        if load_attributes(layer_group, "weight_names"):
            saved.append((name, layer_group))
    if len(saved) != len(layers):
        raise SavedFileError(
            f"{source}: layer count mismatch: the model has {len(layers)} layers with weights "
            f"({[layer.name for layer in layers]}), the file has {len(saved)} ({[n for n, _ in saved]})")
    plan, problems = [], []
    for k, (layer, (name, layer_group)) in enumerate(zip(layers, saved)):
        variables = legacy_weights(layer)
        values = _read_subset(layer_group, source)
        label = f"layer #{k} ('{layer.name}' in the model, '{name}' in the file)"
        if len(values) != len(variables):
            raise SavedFileError(f"{source}: weight count mismatch for {label}: the layer expects "
                                 f"{len(variables)} weights, the file has {len(values)}")
        if _check_shapes(variables, values, label, problems):
            plan.append((variables, values))
    if "top_level_model_weights" in group:
        variables = _top_level_weights(model)
        values = _read_subset(_layer_group(group, "top_level_model_weights", source), source)
        if len(values) != len(variables):
            raise SavedFileError(f"{source}: the model expects {len(variables)} top-level weights, the file has "
                                 f"{len(values)}")
        if _check_shapes(variables, values, "top-level model weights", problems):
            plan.append((variables, values))
    _finish(problems, source, skip_mismatch)
    _assign(plan)


def load_weights_from_group_by_name(group, model, source, skip_mismatch=False):
    """Name-based loading: each saved layer goes to the model's layers of the same name."""
    index = {}
    for layer in model.layers:
        index.setdefault(layer.name, []).append(layer)
    plan, problems = [], []
    for k, name in enumerate(load_attributes(group, "layer_names")):
        targets = index.get(name, [])
        if not targets:
            continue
        values = _read_subset(_layer_group(group, name, source), source)
        for layer in targets:
            variables = legacy_weights(layer)
            label = f"layer #{k} (named '{layer.name}')"
            if len(values) != len(variables):
                problems.append(f"{label}: the layer expects {len(variables)} weights, the file has {len(values)}")
                continue
            if _check_shapes(variables, values, label, problems):
                plan.append((variables, values))
    if "top_level_model_weights" in group:
        variables = _top_level_weights(model)
        values = _read_subset(_layer_group(group, "top_level_model_weights", source), source)
        if len(values) != len(variables):
            problems.append(f"the model expects {len(variables)} top-level weights, the file has {len(values)}")
        elif _check_shapes(variables, values, "top-level model weights", problems):
            plan.append((variables, values))
    _finish(problems, source, skip_mismatch)
    _assign(plan)


def save_weights(model, filepath):
    """`save_weights` to a legacy .h5 file (the Keras 2 layout at the file's root)."""
    h5py = file_utils.require_h5py()
    if not getattr(model, "built", True):
        raise ValueError("You are saving a model that has not yet been built. Try building the model first by "
                         "calling it on some data or by using `build()`.")
    with file_utils.atomic_write(filepath) as tmp:
        with h5py.File(tmp, "w") as f:
            save_weights_to_group(f, model)


def load_weights(model, filepath, skip_mismatch=False, by_name=False):
    """`load_weights` from a legacy .h5 file: weights-only or whole-model, positional or by name."""
    path = file_utils.fspath(filepath)
    with file_utils.open_h5_for_reading(path) as f:
        if "layer_names" not in f.attrs and "layer_names0" not in f.attrs and "model_weights" not in f:
            if "vars" in f or "layers" in f or "_layer_checkpoint_dependencies" in f:
                # A Keras 3 weights file under a plain .h5 name.
                if by_name:
                    raise ValueError(f"{path} is a Keras 3 weights file: by_name=True only applies to legacy "
                                     "Keras 2 .h5 files")
                saving_lib.load_weights_from_h5(f, model, path, skip_mismatch=skip_mismatch)
                return
            raise SavedFileError(f"{path} holds no Keras weights (no 'layer_names' attribute, no 'model_weights' "
                                 "group)")
        group = f if ("layer_names" in f.attrs or "layer_names0" in f.attrs) else f["model_weights"]
        if by_name:
            load_weights_from_group_by_name(group, model, path, skip_mismatch=skip_mismatch)
        else:
            load_weights_from_group(group, model, path, skip_mismatch=skip_mismatch)


# ---- whole models ------------------------------------------------------------------------------


def _training_config(entry):
    compile_config = entry.get("compile_config")
    if not compile_config:
        return None
    config = {k: v for k, v in compile_config.items() if k != "optimizer"}
    optimizer = compile_config.get("optimizer")
    if isinstance(optimizer, dict):
        config["optimizer_config"] = {"class_name": optimizer.get("class_name"), "config": optimizer.get("config")}
    elif isinstance(optimizer, str):
        config["optimizer_config"] = {"class_name": optimizer, "config": {}}
    return config


def save_model(model, filepath, include_optimizer=True):
    """Writes `model` as a legacy whole-model .h5 file (atomically)."""
    h5py = file_utils.require_h5py()
    entry = model_config.serialize_model(model)
    attrs = {
        "keras_version": saving_lib.KERAS_VERSION,
        "backend": BACKEND_NAME,
        "model_config": json.dumps(model_config.to_legacy(entry)).encode("utf8"),
    }
    training_config = _training_config(entry) if include_optimizer else None
    if training_config is not None:
        attrs["training_config"] = json.dumps(training_config).encode("utf8")
    optimizer = getattr(model, "optimizer", None) if include_optimizer else None
    optimizer_variables = saving_lib.optimizer_variables(optimizer) if saving_lib.is_optimizer(optimizer) else []
    with file_utils.atomic_write(filepath) as tmp:
        with h5py.File(tmp, "w") as f:
            for key, value in attrs.items():
                f.attrs[key] = value
            save_weights_to_group(f.create_group("model_weights"), model)
            if optimizer_variables and training_config is not None:
                group = f.create_group("optimizer_weights")
                names = []
                for i, v in enumerate(optimizer_variables):
                    name = getattr(v, "path", None) or getattr(v, "name", None) or f"{optimizer.name}/variable_{i}"
                    names.append(str(name).replace(":", "_"))
                names = _dedupe(names)
                save_attributes(group, "weight_names", names)
                for name, v in zip(names, optimizer_variables):
                    group.create_dataset(name, data=np.array(v, copy=True))


def _dedupe(names):
    out, used = [], set()
    for name in names:
        base, k = name, 1
        while name in used:
            name = f"{base}_{k}"
            k += 1
        used.add(name)
        out.append(name)
    return out


def _load_optimizer_weights(f, model, source):
    """Restores the optimizer's variables when the file's match them; else warns (fresh optimizer)."""
    optimizer = getattr(model, "optimizer", None)
    if optimizer is None or "optimizer_weights" not in f:
        return
    group = f["optimizer_weights"]
    names = load_attributes(group, "weight_names")
    values = _read_subset(group, source) if names else []
    if not values:
        return
    if not getattr(optimizer, "built", True) and hasattr(optimizer, "build"):
        optimizer.build(model.trainable_weights)
    variables = saving_lib.optimizer_variables(optimizer)
    candidates = [values]
    # tf.keras 2.11+ optimizers had no learning-rate variable: [iteration, slots...].
    if len(values) == len(variables) - 1 and len(variables) > 1 and variables[1] is getattr(
            optimizer, "_learning_rate", None):
        candidates.append([values[0], np.array(variables[1])] + values[1:])
    for candidate in candidates:
        if len(candidate) == len(variables) and all(tuple(np.shape(v)) == tuple(np.shape(a))
                                                     for v, a in zip(variables, candidate)):
            _assign([(variables, candidate)])
            return
    warnings.warn(f"{source}: the saved optimizer state ({len(values)} variables) does not match the optimizer "
                  f"'{getattr(optimizer, 'name', '?')}' ({len(variables)} variables), so the model starts with a "
                  "freshly initialized optimizer.", stacklevel=3)


def load_model(filepath, custom_objects=None, compile=True, safe_mode=True):
    """Rebuilds a model from a legacy .h5 file (Keras 2 or Keras 3's legacy writer)."""
    path = file_utils.fspath(filepath)
    with file_utils.open_h5_for_reading(path) as f:
        text = _attr_text(f.attrs.get("model_config"))
        if text is None:
            raise SavedFileError(f"No model config found in the file at {path}: it is not a whole-model .h5 file "
                                 "(a weights-only file loads with model.load_weights)")
        if "model_weights" not in f:
            raise SavedFileError(f"{path}: the file has a model config but no 'model_weights' group")
        config = _decode_legacy_json(text, "model_config", path)
        model = model_config.model_from_serialized(config, custom_objects=custom_objects, compile=False,
                                                   safe_mode=safe_mode, source=path)
        load_weights_from_group(f["model_weights"], model, path)
        if not compile:
            return model
        training_text = _attr_text(f.attrs.get("training_config"))
        if training_text is None:
            model_config.warn_uncompiled(path)
            return model
        training_config = _decode_legacy_json(training_text, "training_config", path)
        with sl.safe_mode_scope(sl.effective_safe_mode(safe_mode)), \
                sl.object_registration.CustomObjectScope(custom_objects or {}):
            model_config.compile_from_config(model, training_config, custom_objects, path)
        _load_optimizer_weights(f, model, path)
    return model

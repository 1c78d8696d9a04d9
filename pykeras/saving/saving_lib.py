"""Keras 3's native formats: the `.keras` zip and the `.weights.h5` weights file.

A `.keras` file is a zip archive (members stored uncompressed, as Keras writes them) holding
`metadata.json` ({"keras_version", "date_saved"}), `config.json` (the model serialized by
serialization_lib, including "compile_config" when compiled) and `model.weights.h5`. A
`.weights.h5` file is that same HDF5 file on its own.

Inside the HDF5 file every saveable object (layer, model, optimizer) owns the group
`<path>/vars`, with an attribute `name` (the object's name) and one dataset per variable named
"0", "1", ... in the object's own order: for a layer its variables created trainable, then those
created non-trainable (Dense: kernel, bias; BatchNormalization: gamma, beta, moving_mean,
moving_variance); for an optimizer its `variables` (iteration, learning rate, then the slots of
each trainable variable in turn). The root model's group is `vars`. Paths come from the same walk
Keras does over the object graph (`saveable_paths`): a Sequential or functional model lists
`layers` first, then every attribute (sorted by name, private ones last) that holds a saveable or
a list/tuple/dict of them, skipping the attributes every plain Layer has. Inside a container an
object is named by its snake-cased class name made unique (`dense`, `dense_1`, ...), never by
its layer name, so `layers/dense_1/vars/0` is the kernel of a Sequential model's second Dense
whatever it is called; a subclassed model's `self.encoder` is `encoder/vars`. An object reached
twice keeps the path of its first visit.

Loading reads every array into fresh memory and checks counts and shapes against the model
before the first assignment, so a bad file raises without touching the model.
"""
import datetime
import functools
import io
import json
import os
import warnings
import zipfile

import numpy as np

from pykeras.saving import file_utils
from pykeras.saving.file_utils import SavedFileError

CONFIG_FILENAME = "config.json"
METADATA_FILENAME = "metadata.json"
WEIGHTS_FILENAME = "model.weights.h5"
# The Keras release whose formats pykeras writes (recorded in metadata.json and .h5 attributes).
KERAS_VERSION = "3.15.1"


# ---- which objects own state, and what it is ---------------------------------------------------


@functools.lru_cache(maxsize=None)
def _layer_class():
    from pykeras.layers import Layer

    return Layer


@functools.lru_cache(maxsize=None)
def _optimizer_class():
    try:
        from pykeras.optimizers import Optimizer
    except ImportError:  # pragma: no cover - the training side is always present once merged
        return None
    return Optimizer


def is_layer(obj):
    return isinstance(obj, _layer_class())


def is_optimizer(obj):
    cls = _optimizer_class()
    return cls is not None and isinstance(obj, cls)


def is_saveable(obj):
    return is_layer(obj) or is_optimizer(obj)


# Keras 3 creates an optimizer's slots in groups (`add_optimizer_variables(var_list, names)`):
# inside a group the slots of each model variable in turn, the groups one after the other.
# Optimizers not listed have a single group: every slot of a variable, variable by variable.
_KERAS_SLOT_GROUPS = {
    "RMSprop": (("velocity",), ("momentum",), ("average_gradient",)),
    "Adam": (("momentum", "velocity"), ("velocity_hat",)),
}


def optimizer_variables(optimizer):
    """`optimizer.variables` in Keras 3's order, so that files match Keras's slot for slot.

    Only the block of per-variable slots is reordered (iteration, learning rate, EMA and
    gradient accumulators, Nadam's u_product keep their places); any optimizer whose internals do
    not have the expected per-variable slot lists is saved in its own `variables` order.
    """
    variables = list(optimizer.variables)
    slots = getattr(optimizer, "_slots", None)
    names = tuple(getattr(optimizer, "_slot_names", ()) or ())
    groups = next((_KERAS_SLOT_GROUPS[c.__name__] for c in type(optimizer).__mro__ if c.__name__ in _KERAS_SLOT_GROUPS),
                  None)
    if not slots or not names or groups is None:
        return variables
    ordered = []
    for group in groups:
        present = [names.index(n) for n in group if n in names]
        for per_variable in slots:
            ordered.extend(per_variable[i] for i in present)
    slot_ids = {id(v) for per_variable in slots for v in per_variable}
    if len(ordered) != len(slot_ids) or {id(v) for v in ordered} != slot_ids or \
            sum(id(v) in slot_ids for v in variables) != len(slot_ids):
        return variables
    remaining = iter(ordered)
    return [next(remaining) if id(v) in slot_ids else v for v in variables]


def own_variables(obj):
    """The variables `obj` itself saves, in Keras's order (see the module docstring)."""
    if is_optimizer(obj):
        return optimizer_variables(obj)
    d = obj.__dict__
    if "_trainable_variables" in d and "_non_trainable_variables" in d:
        out, seen = [], set()
        for v in list(d["_trainable_variables"]) + list(d["_non_trainable_variables"]):
            if id(v) not in seen:
                seen.add(id(v))
                out.append(v)
        return out
    # A layer class without Keras's per-layer lists: its weights minus its sublayers'.
    sub = set()
    for layer in getattr(obj, "_sublayers", lambda: [])():
        sub.update(id(v) for v in layer.weights)
    return [v for v in obj.weights if id(v) not in sub]


def _object_kind(obj):
    """Keras's object type for the walk: "Sequential", "Functional", "Layer" or "Optimizer"."""
    if is_optimizer(obj):
        return "Optimizer"
    from pykeras.saving import model_config

    if model_config.is_sequential(obj):
        return "Sequential"
    if model_config.is_functional(obj):
        return "Functional"
    return "Layer"


_skipsets = {}


def _skipset(kind):
    """Attribute names the walk ignores: everything a plain Layer (or Optimizer) instance has."""
    if kind not in _skipsets:
        if kind == "Optimizer":
            names = set()
        else:
            # A named reference layer: creating it must not consume a default layer name.
            names = set(dir(_layer_class()(name="saving_reference_layer")))
            if kind == "Functional":
                names.update(["operations", "_operations"])
            elif kind == "Sequential":
                names.update(["_functional"])
        _skipsets[kind] = frozenset(names)
    return _skipsets[kind]


def _name_key(name):
    return "~" + name if name.startswith("_") else name


def _children(obj):
    """(attribute name, value) pairs the walk descends into, in Keras's order."""
    kind = _object_kind(obj)
    if kind == "Optimizer":
        return  # an optimizer holds no saveable children
    if kind in ("Sequential", "Functional"):
        yield "layers", obj.layers
    skip = _skipset(kind)
    for attr in sorted(dir(obj), key=_name_key):
        if attr.startswith("__") or attr in skip:
            continue
        try:
            value = getattr(obj, attr)
        except Exception:  # properties that cannot be computed (e.g. `input` of an uncalled layer)
            continue
        if is_saveable(value) or isinstance(value, (list, tuple, dict)):
            yield attr, value


def _join(path, name):
    return f"{path}/{name}" if path else name


def _unique(name, used):
    if name in used:
        used[name] += 1
        return f"{name}_{used[name]}"
    used[name] = 0
    return name


def saveable_paths(root):
    """[(path, object)] for every saveable reachable from `root`, root first (path "")."""
    from pykeras.layers.naming import to_snake_case

    out, visited = [], set()

    def walk(obj, path):
        if id(obj) in visited:
            return
        out.append((path, obj))
        visited.add(id(obj))
        for attr, child in _children(obj):
            if is_saveable(child):
                walk(child, _join(path, attr))
            else:
                walk_container(child, _join(path, attr), set())

    def walk_container(container, path, seen_containers):
        if id(container) in seen_containers:
            return
        seen_containers.add(id(container))
        items = list(container.values()) if isinstance(container, dict) else list(container)
        used = {}
        for item in items:
            if is_saveable(item):
                walk(item, _join(path, _unique(to_snake_case(type(item).__name__), used)))
            elif isinstance(item, (list, tuple, dict)):
                walk_container(item, _join(path, _unique("container", used)), seen_containers)

    walk(root, "")
    return out


def _object_name(obj):
    name = getattr(obj, "name", None)
    return name if isinstance(name, str) else type(obj).__name__


# ---- the HDF5 weights store ------------------------------------------------------------------


def _to_numpy(variable):
    return np.asarray(variable)  # h5py copies while writing


def write_weights(h5file, root):
    """Writes the state of every saveable reachable from `root` into an open h5py.File."""
    for path, obj in saveable_paths(root):
        variables = own_variables(obj)
        if not variables and any(part.startswith("_") for part in path.split("/")):
            # Reached only through a private attribute (e.g. a Sequential's InputLayer): Keras
            # writes nothing there, and an empty group carries no state.
            continue
        group = h5file.create_group(_join(path, "vars"))
        group.attrs["name"] = _object_name(obj)
        for i, variable in enumerate(variables):
            group.create_dataset(str(i), data=_to_numpy(variable))


class _WeightsReader:
    """Reads `<path>/vars` groups of a Keras 3 weights file, refusing links to elsewhere."""

    def __init__(self, h5file, source):
        self.h5file = h5file
        self.source = source
        # Files written by tf.keras 2.13 name the layer list `_layer_checkpoint_dependencies`.
        self.legacy_layers = "_layer_checkpoint_dependencies" in h5file and "layers" not in h5file

    def _group(self, path):
        import h5py

        full = _join(path, "vars")
        if self.legacy_layers:
            full = full.replace("layers", "_layer_checkpoint_dependencies")
        node = self.h5file
        for part in full.split("/"):
            if part not in node:
                return None
            link = node.get(part, getlink=True)
            if isinstance(link, (h5py.SoftLink, h5py.ExternalLink)):
                raise SavedFileError(f"{self.source}: '{full}' is a link; weights files with links are refused")
            node = node[part]
            if not isinstance(node, h5py.Group):
                raise SavedFileError(f"{self.source}: '{full}' should be a group, found {type(node).__name__}")
        return node

    def read(self, path):
        """The arrays stored for `path` (list, in index order), or None when the group is absent."""
        import h5py

        group = self._group(path)
        if group is None:
            return None
        keys = list(group.keys())
        if sorted(keys, key=lambda k: (len(k), k)) != [str(i) for i in range(len(keys))]:
            raise SavedFileError(f"{self.source}: '{_join(path, 'vars')}' should hold datasets named "
                                 f"0..{len(keys) - 1}, found {sorted(keys)}")
        arrays = []
        for i in range(len(keys)):
            dataset = group[str(i)]
            if not isinstance(dataset, h5py.Dataset) or dataset.external or dataset.is_virtual:
                raise SavedFileError(f"{self.source}: '{_join(path, 'vars')}/{i}' is not a plain dataset")
            try:
                arrays.append(np.array(dataset[()]))
            except (OSError, ValueError) as e:
                raise SavedFileError(f"{self.source}: could not read '{_join(path, 'vars')}/{i}' "
                                     f"(file corrupt or truncated?): {e}") from None
        return arrays


def _describe(path, obj):
    kind = "optimizer" if is_optimizer(obj) else ("model" if path == "" else "layer")
    where = f"at '{path}'" if path else "(the root)"
    return f"{kind} '{_object_name(obj)}' {where}"


def _cast_for(variable, array):
    dtype = np.asarray(variable).dtype
    if array.dtype != dtype:
        if dtype.kind == "f" or np.can_cast(array.dtype, dtype, casting="same_kind") or array.ndim == 0:
            return array.astype(dtype)
    return array


def load_weights_from_h5(h5file, root, source, skip_mismatch=False, load_optimizer=True):
    """Loads a Keras 3 weights file (open h5py.File) into `root`, all-or-nothing.

    Every problem is collected first: a layer whose group is missing while it has variables, a
    variable count or shape that differs. Unless `skip_mismatch`, any problem raises one
    SavedFileError listing them all and nothing is assigned; with `skip_mismatch` the
    mismatched objects are skipped with a warning. An optimizer whose variable count differs is
    skipped with a warning (it starts fresh), as Keras does.
    """
    reader = _WeightsReader(h5file, source)
    plan, problems, optimizer_notes = [], [], []
    for path, obj in saveable_paths(root):
        optimizer = is_optimizer(obj)
        if optimizer and not load_optimizer:
            continue
        variables = own_variables(obj)
        arrays = reader.read(path)
        if optimizer:
            if arrays is None:
                continue
            if arrays and hasattr(obj, "build") and not getattr(obj, "built", True):
                # Slots exist only once the optimizer is built on the model's trainable weights
                # (what its first step would do); Keras builds it the same way when loading.
                obj.build(root.trainable_weights)
                variables = own_variables(obj)
            if len(arrays) != len(variables):
                optimizer_notes.append(
                    f"Skipping variable loading for optimizer '{_object_name(obj)}', because it has "
                    f"{len(variables)} variables whereas the saved optimizer has {len(arrays)} variables.")
                continue
        elif arrays is None:
            if variables:
                problems.append(f"{_describe(path, obj)}: no weights in the file (expected {len(variables)} "
                                f"variables under '{_join(path, 'vars')}')")
            continue
        elif len(arrays) != len(variables):
            if not variables and not getattr(obj, "built", True):
                problems.append(f"{_describe(path, obj)} was never built, so it has no variables, but the file "
                                f"holds {len(arrays)} for it; build the model before loading weights")
            else:
                problems.append(f"{_describe(path, obj)} expects {len(variables)} variables "
                                f"({[getattr(v, 'name', '?') for v in variables]}), the file holds {len(arrays)}")
            continue
        bad = [(v, a) for v, a in zip(variables, arrays) if tuple(np.shape(v)) != tuple(a.shape)]
        if bad:
            details = ", ".join(f"'{getattr(v, 'name', '?')}' expects shape {tuple(np.shape(v))}, file has "
                                f"{tuple(a.shape)}" for v, a in bad)
            problems.append(f"{_describe(path, obj)}: shape mismatch: {details}")
            continue
        plan.append((obj, variables, [_cast_for(v, a) for v, a in zip(variables, arrays)]))
    if problems:
        message = f"Could not load weights from {source}:\n  " + "\n  ".join(problems)
        if not skip_mismatch:
            raise SavedFileError(message)
        warnings.warn(message + "\nThese objects were skipped (skip_mismatch=True).", stacklevel=3)
    for note in optimizer_notes:
        warnings.warn(note, stacklevel=3)
    for obj, variables, arrays in plan:
        for variable, array in zip(variables, arrays):
            variable.assign(array)


# ---- .weights.h5 -------------------------------------------------------------------------------


def save_weights_only(model, filepath):
    """Writes `model`'s weights (and its optimizer's) to a Keras 3 `.weights.h5` file."""
    h5py = file_utils.require_h5py()
    if not getattr(model, "built", True):
        raise ValueError("You are saving a model that has not yet been built. Try building the model first by "
                         "calling it on some data or by using `build()`.")
    with file_utils.atomic_write(filepath) as tmp:
        with h5py.File(tmp, "w") as f:
            write_weights(f, model)


def load_weights_only(model, filepath, skip_mismatch=False):
    """Loads a `.weights.h5` file (or the weights inside a `.keras` archive) into a built model."""
    path = file_utils.fspath(filepath)
    if not getattr(model, "built", True):
        raise ValueError("You are loading weights into a model that has not yet been built. Try building the model "
                         "first by calling it on some data or by using `build()`.")
    if path.endswith(".keras"):
        with _open_archive(path) as zf:
            data = _read_member(zf, WEIGHTS_FILENAME, path)
        with _open_h5_bytes(data, f"{path}/{WEIGHTS_FILENAME}") as f:
            load_weights_from_h5(f, model, f"{path}/{WEIGHTS_FILENAME}", skip_mismatch=skip_mismatch)
        return
    with file_utils.open_h5_for_reading(path) as f:
        load_weights_from_h5(f, model, path, skip_mismatch=skip_mismatch)


# ---- .keras ------------------------------------------------------------------------------------


def _metadata_json():
    import pykeras

    return json.dumps({"keras_version": KERAS_VERSION, "pykeras_version": pykeras.__version__,
                       "date_saved": datetime.datetime.now().strftime("%Y-%m-%d@%H:%M:%S")})


def weights_bytes(model):
    """The model's Keras 3 weights file as bytes (built in memory)."""
    h5py = file_utils.require_h5py()
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as f:
        write_weights(f, model)
    return buffer.getvalue()


def save_model(model, filepath):
    """Writes `model` as a `.keras` zip archive; the destination is replaced only once complete."""
    from pykeras.saving import model_config

    if not getattr(model, "built", True):
        warnings.warn("You are saving a model that has not yet been built. It might not contain any weights yet. "
                      "Consider building the model first by calling it on some data.", stacklevel=3)
    # Serialize everything before opening any file: a failure here leaves no trace on disk.
    config_json = json.dumps(model_config.serialize_model(model))
    weights = weights_bytes(model)
    with file_utils.atomic_write(filepath) as tmp:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED) as zf:
            zf.writestr(METADATA_FILENAME, _metadata_json())
            zf.writestr(CONFIG_FILENAME, config_json)
            zf.writestr(WEIGHTS_FILENAME, weights)


class _open_archive:
    """`with _open_archive(path) as zf:` with clear errors for missing or corrupt archives."""

    def __init__(self, path):
        self.path = path
        self.zf = None

    def __enter__(self):
        if not os.path.exists(self.path):
            raise FileNotFoundError(f"No such file: {self.path}")
        if os.path.isdir(self.path):
            raise IsADirectoryError(f"{self.path} is a directory, not a .keras file")
        try:
            self.zf = zipfile.ZipFile(self.path, "r")
        except (zipfile.BadZipFile, OSError) as e:
            raise SavedFileError(f"{self.path} is not a valid .keras file (not a readable zip archive; corrupt or "
                                 f"truncated?): {e}") from None
        return self.zf

    def __exit__(self, *exc):
        self.zf.close()
        return False


# A member may not claim to expand beyond this many times its stored size (stored members are
# 1:1; anything far beyond what DEFLATE can reach is a decompression bomb).
_MAX_EXPANSION = 1100
_BOMB_FLOOR = 1 << 28


def _read_member(zf, name, path):
    try:
        info = zf.getinfo(name)
    except KeyError:
        raise SavedFileError(f"{path} is not a complete .keras file: it has no '{name}' "
                             f"(members: {zf.namelist()})") from None
    if info.file_size > _BOMB_FLOOR and info.file_size > _MAX_EXPANSION * max(info.compress_size, 1):
        raise SavedFileError(f"{path}: member '{name}' declares {info.file_size} bytes from {info.compress_size} "
                             "stored; refusing a likely decompression bomb")
    try:
        return zf.read(name)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as e:
        raise SavedFileError(f"{path}: could not read '{name}' (archive corrupt or truncated?): {e}") from None


class _open_h5_bytes:
    def __init__(self, data, source):
        self.data = data
        self.source = source
        self.f = None

    def __enter__(self):
        h5py = file_utils.require_h5py()
        try:
            self.f = h5py.File(io.BytesIO(self.data), "r")
        except OSError as e:
            raise SavedFileError(f"{self.source} is not a readable HDF5 file (corrupt or truncated?): {e}") from None
        return self.f

    def __exit__(self, *exc):
        self.f.close()
        return False


def read_archive(filepath):
    """(config dict, weights bytes) of a `.keras` file, with clear errors for bad archives."""
    path = file_utils.fspath(filepath)
    with _open_archive(path) as zf:
        config_bytes = _read_member(zf, CONFIG_FILENAME, path)
        weights = _read_member(zf, WEIGHTS_FILENAME, path)
    try:
        config = json.loads(config_bytes.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise SavedFileError(f"{path}: {CONFIG_FILENAME} is not valid JSON: {e}") from None
    if not isinstance(config, dict):
        raise SavedFileError(f"{path}: {CONFIG_FILENAME} should hold a model config dict, found "
                             f"{type(config).__name__}")
    return config, weights


def load_model(filepath, custom_objects=None, compile=True, safe_mode=True):
    """Rebuilds the model of a `.keras` file: architecture, weights, compile state, optimizer state."""
    from pykeras.saving import model_config

    path = file_utils.fspath(filepath)
    config, weights = read_archive(path)
    # Open the weights first: a corrupt weights member fails before any model is built.
    with _open_h5_bytes(weights, f"{path}/{WEIGHTS_FILENAME}") as f:
        model = model_config.model_from_serialized(config, custom_objects=custom_objects, compile=compile,
                                                   safe_mode=safe_mode, source=path)
        load_weights_from_h5(f, model, f"{path}/{WEIGHTS_FILENAME}", load_optimizer=compile)
    return model

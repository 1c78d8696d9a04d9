"""Model and layer configs as Keras writes them, and models rebuilt from any of them.

Layers and models describe themselves with `get_config()` (their own code, Keras 3 layout); this
module wraps that into the object dict Keras 3 stores in config.json, normalises it so that Keras
3 resolves every class (`normalize_for_keras`: public modules, DTypePolicy dicts, plain lists),
converts it to the legacy form of .h5 files (`to_legacy`), and goes the other way: a config
written by Keras 3, by Keras 2 or by pykeras is cleaned for pykeras's classes (`sanitize`) and
rebuilt, then compiled from its "compile_config" / .h5 "training_config".
"""
import importlib
import inspect
import logging
import threading

from pykeras.saving import serialization_lib as sl
from pykeras.saving.file_utils import SavedFileError

logger = logging.getLogger("pykeras.saving")
_serializing = threading.local()

# Keras 2 (tf.keras) wrote metrics as wrappers around a function; compile() takes the name.
_KERAS2_METRIC_WRAPPERS = ("MeanMetricWrapper",)


def _models_attr(name, module="pykeras.models"):
    try:
        return getattr(importlib.import_module(module), name, None)
    except ImportError:
        return None


def is_sequential(obj):
    cls = _models_attr("Sequential")
    return cls is not None and isinstance(obj, cls)


def is_functional(obj):
    cls = _models_attr("Functional", "pykeras.models.functional")
    return cls is not None and isinstance(obj, cls) and not is_sequential(obj)


def _input_layer_class():
    return _models_attr("InputLayer", "pykeras.layers")


# ---- writing ---------------------------------------------------------------------------------


def _class_entry(cls, config):
    """The Keras 3 {"module", "class_name", "config", "registered_name"} head for a layer class."""
    functional = _models_attr("Functional", "pykeras.models.functional")
    if functional is not None and cls is functional:
        return {"module": sl.FUNCTIONAL_MODULE, "class_name": sl.FUNCTIONAL_CLASS_NAME, "config": config,
                "registered_name": None}
    return sl.class_reference(cls, config)


def _nested_functional_names(inner):
    """Names of the layers of a functional config that are themselves functional models."""
    return {e.get("name") or (e.get("config") or {}).get("name") for e in inner.get("layers", [])
            if sl.is_serialized_object(e) and _is_functional_config(e.get("config"))}


def shift_functional_refs(inner, delta):
    """Moves node indices that point at nested functional models by `delta`, in place.

    Keras numbers the calls of a nested functional model from 1 in "input_layers",
    "output_layers" and Keras 2's list-style inbound nodes (its node 0 is the model's own
    construction), but from 0 in Keras 3's {"args", "kwargs"} nodes; pykeras numbers calls from
    0 everywhere. Writing shifts by +1, reading by -1.
    """
    nested = _nested_functional_names(inner)
    if not nested:
        return inner

    def shift_ref(ref):
        if isinstance(ref, list) and len(ref) >= 3 and isinstance(ref[0], str) and isinstance(ref[1], int):
            if ref[0] in nested:
                return [ref[0], max(ref[1] + delta, 0)] + list(ref[2:])
            return ref
        if isinstance(ref, list):
            return [shift_ref(r) for r in ref]
        if isinstance(ref, dict):
            return {k: shift_ref(v) for k, v in ref.items()}
        return ref

    for key in ("input_layers", "output_layers"):
        if key in inner:
            inner[key] = shift_ref(inner[key])
    for entry in inner.get("layers", []):
        nodes = entry.get("inbound_nodes") if isinstance(entry, dict) else None
        if isinstance(nodes, list):
            entry["inbound_nodes"] = [shift_ref(n) if isinstance(n, list) else n for n in nodes]
    return inner


def _shift_all(value, delta):
    """Applies shift_functional_refs to every functional config inside a serialized entry."""
    if isinstance(value, dict):
        for v in value.values():
            _shift_all(v, delta)
        if _is_functional_config(value):
            shift_functional_refs(value, delta)
    elif isinstance(value, list):
        for v in value:
            _shift_all(v, delta)


def serialize_layer(layer):
    """A layer or model as Keras 3 writes it (with "build_config" when built)."""
    config = layer.get_config()
    if not isinstance(config, dict):
        raise TypeError(f"{type(layer).__name__}.get_config() must return a dict, got {type(config).__name__}")
    outermost = not getattr(_serializing, "depth", 0)
    _serializing.depth = getattr(_serializing, "depth", 0) + 1
    try:
        config = normalize_for_keras(config, owner=layer)
    finally:
        _serializing.depth -= 1
    if outermost:  # once per tree: nested models are shifted by this walk too
        _shift_all(config, +1)
    entry = _class_entry(type(layer), config)
    build_config = None
    get_build_config = getattr(layer, "get_build_config", None)
    if callable(get_build_config) and getattr(layer, "built", False):
        build_config = get_build_config()
    if build_config:
        entry["build_config"] = normalize_for_keras(build_config)
    return entry


def normalize_for_keras(value, owner=None):
    """Config data made loadable by Keras 3.

    Objects become their serialized dicts; tuples become lists; serialized dicts naming pykeras
    built-ins get Keras's public module (and Keras 3's module for functional models); layer
    configs get their dtype as a DTypePolicy dict (InputLayer keeps a dtype string, as Keras).
    """
    if isinstance(value, dict):
        if sl.is_serialized_object(value) and "items" not in value:
            return _normalize_entry(value)
        out = {str(k): normalize_for_keras(v) for k, v in value.items()}
        if owner is not None and "dtype" in out and not _is_input_layer_owner(owner):
            out["dtype"] = _dtype_policy(out["dtype"])
        return out
    if isinstance(value, (list, tuple)):
        return [normalize_for_keras(v) for v in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return normalize_for_keras(sl.serialize_keras_object(value))


def _is_input_layer_owner(owner):
    cls = _input_layer_class()
    if owner is None:
        return False
    if isinstance(owner, type):
        return cls is not None and issubclass(owner, cls)
    return cls is not None and isinstance(owner, cls)


def _dtype_policy(value):
    if value is None or isinstance(value, dict):
        return value
    return sl.dtype_policy_config(value)


def _normalize_entry(entry):
    """A serialized-object dict with Keras's module/class naming and a normalised inner config."""
    out = dict(entry)
    class_name = entry["class_name"]
    if class_name.startswith("__") or class_name == "function":
        return out
    if class_name in sl.DTYPE_POLICY_CLASSES:
        return sl.dtype_policy_config(sl.dtype_from_config(entry))
    try:
        cls = sl.resolve(class_name, entry.get("module"), entry.get("registered_name"), None, None, entry)
    except sl.UnknownObjectError:
        cls = None
    if cls is not None and inspect.isclass(cls):
        head = _class_entry(cls, None)
        out["module"], out["class_name"], out["registered_name"] = head["module"], head["class_name"], \
            head["registered_name"]
        inner = entry.get("config")
        if isinstance(inner, dict):
            is_layer = _is_layer_class(cls)
            normalized = {str(k): normalize_for_keras(v) for k, v in inner.items()}
            if is_layer and not _is_input_layer_owner(cls):
                if "dtype" in normalized:
                    normalized["dtype"] = _dtype_policy(normalized["dtype"])
                # Keras 3 layers reject `batch_input_shape`; the model's InputLayer (or the
                # build_config) carries the shape.
                normalized.pop("batch_input_shape", None)
            out["config"] = normalized
    else:
        module = entry.get("module")
        if module is None or module == "keras" or str(module).startswith("keras."):
            # A class neither library knows (an unregistered custom class): Keras names those
            # by class name only, to be found in the loader's custom_objects.
            out["module"] = None
            out["registered_name"] = entry.get("registered_name") or class_name
        out["config"] = normalize_for_keras(entry.get("config"))
    for key in ("build_config", "compile_config"):
        if key in out:
            out[key] = normalize_for_keras(out[key])
    return out


def _is_layer_class(cls):
    layer = _models_attr("Layer", "pykeras.layers")
    return layer is not None and inspect.isclass(cls) and issubclass(cls, layer)


def serialize_compile_config(config):
    """compile()'s arguments as Keras 3's "compile_config" (optimizer, losses, metrics serialized)."""
    out = {}
    for key in ("optimizer", "loss", "loss_weights", "metrics", "weighted_metrics", "run_eagerly",
                "steps_per_execution", "jit_compile"):
        value = config.get(key)
        if key == "jit_compile" and not isinstance(value, bool):
            value = False if value in (None, "auto") else bool(value)
        if key in ("run_eagerly",) and value is None:
            value = False
        if key == "steps_per_execution" and value is None:
            value = 1
        out[key] = normalize_for_keras(value)
    return out


def _compile_config_of(model):
    get = getattr(model, "get_compile_config", None)
    if not callable(get) or not getattr(model, "compiled", False):
        return None
    config = get()
    return serialize_compile_config(config) if config else None


def serialize_model(model):
    """The dict stored as config.json: the model entry plus "compile_config" when compiled."""
    with sl.object_sharing_scope():
        entry = serialize_layer(model)
    compile_config = _compile_config_of(model)
    if compile_config is not None:
        entry["compile_config"] = compile_config
    return entry


def to_legacy(entry, top_level=True):
    """A Keras 3 model entry in the legacy .h5 / Keras 2 form.

    The model and the layers of (nested) Sequential/functional configs are written as
    {"class_name", "config"} (functional layers keep "name" and "inbound_nodes"); registered custom
    classes use their "package>Name" as class_name; objects inside layer configs keep their Keras 3
    dicts, exactly as Keras 3's legacy writer does.
    """
    registered = entry.get("registered_name")
    class_name = registered if registered and ">" in registered else entry["class_name"]
    out = {"class_name": class_name, "config": entry.get("config")}
    for key in ("name", "inbound_nodes"):
        if key in entry:
            out[key] = entry[key]
    if top_level and "build_config" in entry:
        # Not written by Keras's legacy writer (its readers ignore it), but it lets a subclassed
        # model be rebuilt, and so receive its weights, when loaded back here.
        out["build_config"] = entry["build_config"]
    inner = out["config"]
    if isinstance(inner, dict) and isinstance(inner.get("layers"), list):
        inner = dict(inner)
        inner["layers"] = [to_legacy(layer, top_level=False) if sl.is_serialized_object(layer) else layer
                           for layer in inner["layers"]]
        out["config"] = inner
    return out


# ---- reading ---------------------------------------------------------------------------------


def sanitize(cls, inner, custom_objects=None):
    """A layer's inner config cleaned for pykeras (see serialization_lib.prepare_config).

    The layer entries of model configs ("layers" lists) are cleaned recursively and stay dicts.
    """
    if isinstance(inner, list):  # Keras 2.0 Sequential: the layer list alone
        inner = {"layers": inner}
    if not isinstance(inner, dict):
        return inner
    if isinstance(inner.get("layers"), list):
        out = dict(inner)
        if "dtype" in out:
            out["dtype"] = sl.dtype_from_config(out["dtype"])
        out["layers"] = [_sanitize_entry(e, custom_objects) for e in inner["layers"]]
        if _is_functional_config(out):
            out["layers"] = [dict(e) if isinstance(e, dict) else e for e in out["layers"]]
            shift_functional_refs(out, -1)
        return sl.drop_inert_arguments(cls, out) if not _takes_config_dict(cls) else out
    return sl.prepare_config(cls, inner, custom_objects)


def _takes_config_dict(cls):
    # Model classes receive their whole config in from_config; never filter their keys.
    return _is_model_class(cls)


def _is_model_class(cls):
    model = _models_attr("Model")
    return model is not None and inspect.isclass(cls) and issubclass(cls, model)


def _sanitize_entry(entry, custom_objects):
    if not sl.is_serialized_object(entry):
        return entry
    cls = sl.resolve(entry["class_name"], entry.get("module"), entry.get("registered_name"), "layer", custom_objects,
                     entry)
    out = dict(entry)
    if inspect.isclass(cls):
        out["config"] = sanitize(cls, entry.get("config") or {}, custom_objects)
    return out


def _is_functional_config(inner):
    return isinstance(inner, dict) and all(k in inner for k in ("layers", "input_layers", "output_layers"))


def layer_from_config(cls, entry, custom_objects=None):
    """Builds a layer/model of class `cls` from its full serialized entry, then builds it."""
    inner = sanitize(cls, entry.get("config") if entry.get("config") is not None else {}, custom_objects)
    functional = _models_attr("Functional", "pykeras.models.functional")
    if functional is not None and cls is _models_attr("Model") and _is_functional_config(inner):
        cls = functional  # Keras 2 wrote functional models as class "Model"
    layer = sl._from_config(cls, inner, entry.get("class_name", cls.__name__), custom_objects)
    if isinstance(inner, dict) and isinstance(inner.get("layers"), list):
        _restore_frozen_layers(layer, inner)
    build_config = entry.get("build_config")
    if build_config and not getattr(layer, "built", False):
        try:
            if hasattr(layer, "build_from_config"):
                layer.build_from_config(build_config)
            elif "input_shape" in build_config:
                layer.build(build_config["input_shape"])
        except (TypeError, ValueError) as e:
            raise ValueError(f"Could not build layer '{getattr(layer, 'name', '?')}' ({cls.__name__}) from its "
                             f"saved build_config {build_config}: {e}") from e
    return layer


def _restore_frozen_layers(model, inner):
    """Re-freezes the sublayers the config marks `trainable: false`.

    Setting a model's `trainable` propagates to all its layers, so a model rebuilt with
    trainable=True would otherwise thaw layers that were frozen when it was saved.
    """
    if inner.get("trainable") is False:
        return  # the whole model is frozen already
    by_name = {getattr(layer, "name", None): layer for layer in getattr(model, "layers", [])}
    for entry in inner["layers"]:
        if not sl.is_serialized_object(entry) or not isinstance(entry.get("config"), dict):
            continue
        layer = by_name.get(entry.get("name") or entry["config"].get("name"))
        if layer is None:
            continue
        if entry["config"].get("trainable") is False:
            layer.trainable = False
        elif isinstance(entry["config"].get("layers"), list):
            _restore_frozen_layers(layer, entry["config"])


def _deserialize_loss_like(value, kind, custom_objects):
    """Losses/metrics: strings stay strings (compile resolves them); dicts become objects."""
    if value is None or isinstance(value, str):
        if isinstance(value, str):
            custom = sl.object_registration.get_registered_object(value, custom_objects)
            if custom is not None:
                return custom
        return value
    if isinstance(value, list):
        return [_deserialize_loss_like(v, kind, custom_objects) for v in value]
    if isinstance(value, dict) and not sl.is_serialized_object(value):
        return {k: _deserialize_loss_like(v, kind, custom_objects) for k, v in value.items()}
    if isinstance(value, dict):
        if value.get("class_name") in _KERAS2_METRIC_WRAPPERS:
            inner = value.get("config") or {}
            return inner.get("name") or inner.get("fn")
        return sl.deserialize_keras_object(value, custom_objects, kind=kind)
    return value


def compile_from_config(model, config, custom_objects=None, source=None):
    """Compiles `model` like the saved one (Keras 3 "compile_config" or .h5 "training_config")."""
    where = f"{source}: " if source else ""
    try:
        _compile_from_config(model, config, custom_objects)
    except sl.UnknownObjectError as e:
        raise sl.UnknownObjectError(f"{where}in the training configuration: {e}") from None
    except (TypeError, ValueError, LookupError) as e:
        raise ValueError(f"{where}could not compile the loaded model from its saved training configuration "
                         f"({_short(config)}): {e}") from e


def _compile_from_config(model, config, custom_objects):
    config = dict(config)
    optimizer = config.pop("optimizer", None)
    if optimizer is None and "optimizer_config" in config:
        optimizer = config.pop("optimizer_config")
    if isinstance(optimizer, dict):
        optimizer = sl.deserialize_keras_object(optimizer, custom_objects, kind="optimizer")
    kwargs = {"optimizer": optimizer if optimizer is not None else "rmsprop"}
    loss = config.get("loss")
    kwargs["loss"] = _deserialize_loss_like(loss, "loss", custom_objects)
    metrics = config.get("metrics")
    # tf.keras wrote one metric list per output ([[...]]) for single-output models too.
    if isinstance(metrics, list) and len(metrics) == 1 and isinstance(metrics[0], list):
        metrics = metrics[0]
    kwargs["metrics"] = _deserialize_loss_like(metrics, "metric", custom_objects)
    weighted = config.get("weighted_metrics")
    if isinstance(weighted, list) and len(weighted) == 1 and isinstance(weighted[0], list):
        weighted = weighted[0]
    kwargs["weighted_metrics"] = _deserialize_loss_like(weighted, "metric", custom_objects)
    kwargs["loss_weights"] = config.get("loss_weights")
    for key in ("run_eagerly", "steps_per_execution", "jit_compile"):
        if key in config:
            kwargs[key] = config[key]
    try:
        params = inspect.signature(model.compile).parameters
        if not any(p.kind == p.VAR_KEYWORD for p in params.values()):
            kwargs = {k: v for k, v in kwargs.items() if k in params}
    except (TypeError, ValueError):
        pass
    model.compile(**kwargs)


def _short(value, limit=200):
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


def model_from_serialized(config, custom_objects=None, compile=True, safe_mode=True, source=None):
    """The model a config.json / model_config dict describes, compiled when it says so."""
    where = f"{source}: " if source else ""
    safe_mode = sl.effective_safe_mode(safe_mode)
    if not isinstance(config, dict) or "class_name" not in config:
        raise SavedFileError(f"{where}the model config is not a Keras object config (no 'class_name'): "
                             f"{_short(config)}")
    with sl.object_sharing_scope(), sl.safe_mode_scope(safe_mode), \
            sl.object_registration.CustomObjectScope(custom_objects or {}):
        try:
            model = sl.deserialize_keras_object(config, custom_objects, safe_mode=safe_mode, kind="layer")
        except sl.UnknownObjectError as e:
            raise sl.UnknownObjectError(f"{where}{e}") from None
        except (TypeError, ValueError, LookupError) as e:
            if isinstance(e, SavedFileError) or (source and str(e).startswith(where)):
                raise
            raise ValueError(f"{where}could not rebuild the model from its config: {e}") from e
        if not _is_layer_class(type(model)):
            raise SavedFileError(f"{where}the config describes a {type(model).__name__}, not a model")
        compile_config = config.get("compile_config")
        if compile and compile_config:
            compile_from_config(model, compile_config, custom_objects, source)
    return model


def warn_uncompiled(source):
    # Logged rather than warned, as Keras does: loading an uncompiled model is routine.
    logger.warning("%s: no training configuration found in the file, so the model was *not* compiled. "
                   "Compile it manually.", source)

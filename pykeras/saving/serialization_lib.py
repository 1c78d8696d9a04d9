"""Objects <-> the config dicts Keras writes, in Keras 3's form and Keras 2's.

Keras 3 names an object as `{"module": "keras.layers", "class_name": "Dense", "config": {...},
"registered_name": None}` (plus "build_config"/"compile_config" for layers and models); Keras 2 and
the legacy .h5 format write only `{"class_name": "Dense", "config": {...}}`. Both resolve here to
pykeras classes through the *public* Keras module a class lives in: "keras.layers" is looked up in
`pykeras.layers`, "keras.initializers" in `pykeras.initializers`, and so on (table `_NAMESPACES`);
a config without a module (Keras 2) is looked up in every namespace, the one the context suggests
first. User classes come from `custom_objects`, a `custom_object_scope` or
`@register_keras_serializable` ("package>Name"). Writing maps each pykeras class back to the same
public module, so Keras 3 finds its own class of that name.

Keras configs carry arguments pykeras may not take: Keras 3.15 writes `quantization_config=None`
on Dense, `input_axes=None` on initializers, `synchronized=False` on BatchNormalization; tf.keras
wrote `jit_compile` and `is_legacy_optimizer` on optimizers. Such an argument is dropped before
construction when the pykeras class does not accept it *and* its value is inert (the table
`_INERT_ARGUMENTS`); any other unknown argument reaches the class, whose error is reported with the
layer's name. A new layer therefore needs nothing beyond a correct `get_config()`.
"""
import base64
import contextlib
import functools
import importlib
import inspect
import marshal
import threading
import types
import warnings

import numpy as np

from pykeras.saving import object_registration

# Keras module -> pykeras module holding the same public names.
_NAMESPACES = (
    ("keras.layers", "pykeras.layers"),
    ("keras.initializers", "pykeras.initializers"),
    ("keras.regularizers", "pykeras.regularizers"),
    ("keras.constraints", "pykeras.constraints"),
    ("keras.activations", "pykeras.activations"),
    ("keras.optimizers.schedules", "pykeras.optimizers.schedules"),
    ("keras.optimizers", "pykeras.optimizers"),
    ("keras.losses", "pykeras.losses"),
    ("keras.metrics", "pykeras.metrics"),
    ("keras.models", "pykeras.models"),
    ("keras", "pykeras"),
)
# Keras 3 writes functional models under this module and class name.
FUNCTIONAL_MODULE = "keras.src.models.functional"
FUNCTIONAL_CLASS_NAME = "Functional"

# Which namespaces a module-less (Keras 2) name is searched in first, by context.
_KIND_TO_MODULES = {
    "layer": ("keras.layers", "keras.models", "keras"),
    "initializer": ("keras.initializers",),
    "regularizer": ("keras.regularizers",),
    "constraint": ("keras.constraints",),
    "activation": ("keras.activations", "keras.layers"),
    "optimizer": ("keras.optimizers",),
    "schedule": ("keras.optimizers.schedules",),
    "loss": ("keras.losses",),
    "metric": ("keras.metrics",),
    "function": ("keras.activations", "keras.losses", "keras.metrics"),
}

# Arguments Keras writes that are safe to drop when pykeras's class does not take them: the
# predicate says the value is the one that changes nothing.
_ANY = lambda v: True  # noqa: E731
_INERT_ARGUMENTS = {
    "quantization_config": lambda v: v is None,
    "lora_rank": lambda v: v is None,
    "lora_alpha": lambda v: v is None,
    "lora_enabled": lambda v: not v,
    "sparse": lambda v: not v,
    "ragged": lambda v: not v,
    "optional": lambda v: not v,
    "synchronized": lambda v: not v,
    "renorm": lambda v: not v,
    "renorm_clipping": lambda v: v is None,
    "renorm_momentum": _ANY,
    "virtual_batch_size": lambda v: v is None,
    "adjustment": lambda v: v is None,
    "fused": _ANY,
    "autocast": _ANY,
    "activity_regularizer": lambda v: v is None,
    "input_axes": lambda v: v is None,
    "output_axes": lambda v: v is None,
    # optimizers (Keras 3 base arguments and tf.keras leftovers)
    "use_ema": lambda v: not v,
    "ema_momentum": _ANY,
    "ema_overwrite_frequency": lambda v: v is None,
    "loss_scale_factor": lambda v: v is None,
    "gradient_accumulation_steps": lambda v: v is None,
    "weight_decay": lambda v: v is None,
    "global_clipnorm": lambda v: v is None,
    "clipnorm": lambda v: v is None,
    "clipvalue": lambda v: v is None,
    "jit_compile": _ANY,
    "is_legacy_optimizer": _ANY,
    "decay": lambda v: not v,
}

DTYPE_POLICY_CLASSES = ("DTypePolicy", "FloatDTypePolicy", "Policy", "QuantizedDTypePolicy",
                         "QuantizedFloat8DTypePolicy", "DTypePolicyMap")


class UnknownObjectError(ValueError):
    """A saved config names a class or function that pykeras cannot find."""


# ---- lookup tables --------------------------------------------------------------------------
# Namespaces are read live (layer modules register classes as they are imported), so only the
# module objects and positive reverse lookups are cached.

_tables_lock = threading.Lock()
_modules = {}  # keras module -> imported pykeras module
_reverse = {}  # id(object) -> (keras module, name)


def _load_modules():
    if len(_modules) == len(_NAMESPACES):
        return
    with _tables_lock:
        for keras_module, pykeras_module in _NAMESPACES:
            if keras_module in _modules:
                continue
            try:
                _modules[keras_module] = importlib.import_module(pykeras_module)
            except ImportError:
                continue


_namespace_cache = {}  # keras module -> (size key, objects)


def _namespace(keras_module):
    """Name -> class/function of the pykeras module behind `keras_module` (live view).

    Rebuilt whenever the module gains attributes or registered classes (layer families register
    themselves on import), otherwise served from a cache.
    """
    module = _modules.get(keras_module)
    if module is None:
        return {}
    registered = getattr(module, "ALL_OBJECTS_DICT", None) or {}
    key = (len(vars(module)), len(registered))
    cached = _namespace_cache.get(keras_module)
    if cached is not None and cached[0] == key:
        return cached[1]
    objects = {}
    for name, obj in vars(module).items():
        if name.startswith("_"):
            continue
        if (inspect.isclass(obj) or inspect.isfunction(obj)) and getattr(obj, "__module__", "").startswith("pykeras"):
            objects[name] = obj
    objects.update(registered)
    _namespace_cache[keras_module] = (key, objects)
    return objects


def public_name(obj):
    """(keras module, name) under which Keras exports the pykeras class/function `obj`, or None."""
    found = _reverse.get(id(obj))
    if found is not None and found[2] is obj:
        return found[:2]
    _load_modules()
    name = getattr(obj, "__name__", None)
    if name is None:
        return None
    for keras_module, _ in _NAMESPACES:
        if keras_module == "keras" and name not in ("Sequential", "Model"):
            continue
        if _namespace(keras_module).get(name) is obj:
            if keras_module == "keras.models" and name in ("Sequential", "Model"):
                keras_module = "keras"
            _reverse[id(obj)] = (keras_module, name, obj)
            return keras_module, name
    return None


def _lookup_in(keras_module, name):
    table = _namespace(keras_module)
    obj = table.get(name)
    if obj is None and keras_module == "keras.optimizers":
        # Keras lower-cases optimizer names when deserializing ("adam" -> Adam).
        lowered = {k.lower(): v for k, v in table.items() if inspect.isclass(v)}
        obj = lowered.get(name.lower())
    return obj


def resolve(class_name, module=None, registered_name=None, kind=None, custom_objects=None, full_config=None):
    """The pykeras class or function a saved (module, class_name, registered_name) refers to.

    Raises UnknownObjectError when nothing matches.
    """
    _load_modules()
    for key in (registered_name, class_name):
        if key:
            obj = object_registration.get_registered_object(key, custom_objects)
            if obj is not None:
                return obj
    if module == FUNCTIONAL_MODULE or class_name == FUNCTIONAL_CLASS_NAME:
        obj = _functional_class()
        if obj is not None:
            return obj
    keras_module = module is None or module == "keras" or module.startswith("keras.")
    if keras_module:
        candidates = []
        if module in _modules:
            candidates.append(module)
        candidates.extend(_KIND_TO_MODULES.get(kind, ()))
        candidates.extend(m for m, _ in _NAMESPACES)
        seen = set()
        for candidate in candidates:
            if candidate in seen:
                continue
            seen.add(candidate)
            obj = _lookup_in(candidate, class_name)
            if obj is not None:
                return obj
    what = kind or "object"
    hint = (f"pykeras has no built-in {what} named '{class_name}'" if keras_module
            else f"'{class_name}' is a custom {what} from module {module!r}")
    raise UnknownObjectError(
        f"Unknown {what} '{class_name}': {hint}. If it is a custom class or function, pass it as "
        f"custom_objects={{'{registered_name or class_name}': ...}} or decorate it with "
        f"@pykeras.saving.register_keras_serializable()."
        + (f" Config: {_short(full_config)}" if full_config is not None else ""))


def _short(config, limit=300):
    text = repr(config)
    return text if len(text) <= limit else text[:limit] + "...}"


def _functional_class():
    """The class pykeras builds functional models with (`pykeras.models.Model`)."""
    try:
        models = importlib.import_module("pykeras.models")
    except ImportError:
        return None
    return getattr(models, "Functional", None) or getattr(models, "Model", None)


# ---- safe mode and shared objects -----------------------------------------------------------

_state = threading.local()


def in_safe_mode():
    """Whether lambdas are refused right now (True unless a scope or the global switch says no)."""
    value = getattr(_state, "safe_mode", None)
    return True if value is None else value


def effective_safe_mode(requested=True):
    """The safe mode a load runs in: an enclosing scope or `enable_unsafe_deserialization()` wins
    over the loader's argument, as in Keras."""
    ambient = getattr(_state, "safe_mode", None)
    return ambient if ambient is not None else (True if requested is None else requested)


@contextlib.contextmanager
def safe_mode_scope(safe_mode=True):
    previous = getattr(_state, "safe_mode", None)
    _state.safe_mode = safe_mode
    try:
        yield
    finally:
        _state.safe_mode = previous


@contextlib.contextmanager
def object_sharing_scope():
    """Inside: objects saved with the same `shared_object_id` come back as one object."""
    previous = getattr(_state, "shared", None)
    _state.shared = {}
    try:
        yield
    finally:
        _state.shared = previous


def enable_unsafe_deserialization():
    """Allows Python lambdas in configs to be rebuilt (they can run arbitrary code)."""
    _state.safe_mode = False


# ---- serialization --------------------------------------------------------------------------

_PLAIN = (str, int, float, bool)


def _is_layer(obj):
    layers = _pykeras_attr("pykeras.layers", "Layer")
    return layers is not None and isinstance(obj, layers)


def _pykeras_attr(module, name):
    try:
        return getattr(importlib.import_module(module), name, None)
    except ImportError:
        return None


def func_dump(fn):
    """(base64 bytecode, defaults, closure values) of a Python function, as Keras stores lambdas."""
    code = base64.b64encode(marshal.dumps(fn.__code__)).decode("ascii")
    closure = tuple(c.cell_contents for c in fn.__closure__) if fn.__closure__ else None
    return code, fn.__defaults__, closure


def func_load(value, globs=None):
    """Rebuilds a function from `func_dump`'s tuple (only outside safe mode)."""
    code, defaults, closure = value
    if isinstance(defaults, list):
        defaults = tuple(defaults)
    raw = base64.b64decode(code.encode("ascii"))
    code_obj = marshal.loads(raw)
    cells = None
    if closure is not None:
        cells = tuple(types.CellType(v) for v in closure)
    return types.FunctionType(code_obj, globs if globs is not None else globals(), code_obj.co_name, defaults, cells)


def serialize_function(fn):
    """A function as Keras 3 writes it: a name string for built-in activations, else a dict."""
    if isinstance(fn, types.FunctionType) and fn.__name__ == "<lambda>":
        warnings.warn("Saving a lambda: loading it back needs safe_mode=False. Prefer a named, "
                      "registered function.", stacklevel=3)
        return {"class_name": "__lambda__", "config": {"value": list(func_dump(fn))}}
    public = public_name(fn)
    if public is not None:
        module, name = public
        return {"module": module, "class_name": "function", "config": name, "registered_name": name}
    registered = object_registration.get_registered_name(fn)
    return {"module": getattr(fn, "__module__", None), "class_name": "function", "config": registered,
            "registered_name": registered}


def serialize_keras_object(obj):
    """`obj` as JSON-ready Keras 3 config data (dicts, lists, strings, numbers, None)."""
    if obj is None or isinstance(obj, _PLAIN):
        return obj
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.dtype):
        return obj.name
    if isinstance(obj, type) and issubclass(obj, np.generic):
        return np.dtype(obj).name
    if isinstance(obj, (list, tuple)):
        return [serialize_keras_object(x) for x in obj]
    if isinstance(obj, dict):
        return {str(k): serialize_keras_object(v) for k, v in obj.items()}
    if isinstance(obj, np.ndarray):
        return {"class_name": "__numpy__", "config": {"value": obj.tolist(), "dtype": obj.dtype.name}}
    if isinstance(obj, bytes):
        return {"class_name": "__bytes__", "config": {"value": obj.decode("utf-8")}}
    if obj is Ellipsis:
        return {"class_name": "__ellipsis__", "config": {}}
    if isinstance(obj, slice):
        return {"class_name": "__slice__", "config": {"start": serialize_keras_object(obj.start),
                                                      "stop": serialize_keras_object(obj.stop),
                                                      "step": serialize_keras_object(obj.step)}}
    tensor_cls = _pykeras_attr("pykeras.backend", "Tensor")
    if tensor_cls is not None and isinstance(obj, tensor_cls) and not hasattr(obj, "get_config"):
        value = np.asarray(obj)
        return {"class_name": "__tensor__", "config": {"value": value.tolist(), "dtype": value.dtype.name}}
    if isinstance(obj, (types.FunctionType, types.BuiltinFunctionType)):
        return serialize_function(obj)
    if _is_layer(obj):
        from pykeras.saving import model_config
        return model_config.serialize_layer(obj)
    if hasattr(obj, "get_config"):
        config = obj.get_config()
        if not isinstance(config, dict):
            raise TypeError(f"{type(obj).__name__}.get_config() must return a dict, got {type(config).__name__}")
        return class_reference(type(obj), serialize_keras_object(config))
    if inspect.isclass(obj):
        return class_reference(obj, None)
    raise TypeError(f"Cannot serialize {obj!r} of type {type(obj).__name__}: it has no get_config() method")


def class_reference(cls, config):
    """{"module", "class_name", "config", "registered_name"} for a class, as Keras 3 writes it."""
    public = public_name(cls)
    if public is not None and cls not in object_registration.get_custom_objects().values():
        module, name = public
        return {"module": module, "class_name": name, "config": config, "registered_name": None}
    module = cls.__module__
    return {"module": None if module == "__main__" else module, "class_name": cls.__name__, "config": config,
            "registered_name": object_registration.get_registered_name(cls)}


def dtype_policy_config(dtype):
    """Keras 3's DTypePolicy dict for a dtype name/object (None stays None)."""
    if dtype is None:
        return None
    if isinstance(dtype, dict):
        return dtype
    name = getattr(dtype, "name", None) if not isinstance(dtype, str) else dtype
    if name is None:
        name = np.dtype(dtype).name
    return {"module": "keras", "class_name": "DTypePolicy", "config": {"name": str(name)}, "registered_name": None}


# ---- deserialization ------------------------------------------------------------------------


def is_serialized_object(value):
    """True for a dict that names a class: {"class_name": ..., "config": ...}."""
    return isinstance(value, dict) and "class_name" in value and ("config" in value or "items" in value)


def dtype_from_config(value):
    """The dtype name out of a DTypePolicy dict (Keras 3), a Policy dict (Keras 2) or a string."""
    if isinstance(value, dict) and value.get("class_name") in DTYPE_POLICY_CLASSES:
        inner = value.get("config") or {}
        return inner.get("name", "float32")
    return value


def _special(config, safe_mode):
    """Keras's encodings of non-class values; returns (True, value) or (False, None)."""
    class_name = config["class_name"]
    inner = config.get("config")
    if class_name == "__tuple__":  # tf.keras json_utils
        return True, tuple(deserialize_keras_object(v) for v in config.get("items", ()))
    if class_name == "TensorShape" and "items" in config:
        return True, config["items"]
    if class_name == "__numpy__":
        return True, np.array(inner["value"], dtype=inner["dtype"])
    if class_name == "__tensor__":
        return True, np.array(inner["value"], dtype=inner["dtype"])
    if class_name == "__bytes__":
        return True, inner["value"].encode("utf-8")
    if class_name == "__ellipsis__":
        return True, Ellipsis
    if class_name == "__slice__":
        return True, slice(*(deserialize_keras_object(inner[k]) for k in ("start", "stop", "step")))
    if class_name == "__lambda__":
        if safe_mode:
            raise ValueError("The saved config contains a Python lambda; rebuilding it can run arbitrary code, "
                             "so it is refused in safe mode. If you trust the file, load it with "
                             "safe_mode=False (or call pykeras.config.enable_unsafe_deserialization()).")
        if "value" in inner:  # serialize_keras_object's form
            return True, func_load(inner["value"])
        return True, func_load((inner["code"], inner.get("defaults"), inner.get("closure")))  # Lambda's form
    return False, None


@functools.lru_cache(maxsize=None)
def _accepted_arguments(cls):
    """Names accepted explicitly by `cls.__init__` along the MRO (stops where **kwargs are not passed on)."""
    names = set()
    for klass in inspect.getmro(cls):
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        try:
            params = inspect.signature(init).parameters.values()
        except (TypeError, ValueError):
            continue
        passes_kwargs = False
        for p in params:
            if p.kind == p.VAR_KEYWORD:
                passes_kwargs = True
            elif p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY):
                names.add(p.name)
        if not passes_kwargs:
            break
    return frozenset(names)


def drop_inert_arguments(cls, config):
    """`config` without the inert Keras-only arguments `cls` does not accept (see module doc)."""
    if not isinstance(config, dict) or not inspect.isclass(cls):
        return config
    accepted = _accepted_arguments(cls)
    return {k: v for k, v in config.items()
            if k in accepted or k not in _INERT_ARGUMENTS or not _INERT_ARGUMENTS[k](v)}


def _kind_of_key(key):
    for suffix, kind in (("initializer", "initializer"), ("regularizer", "regularizer"),
                         ("constraint", "constraint"), ("activation", "activation")):
        if key.endswith(suffix):
            return kind
    if key in ("layer", "backward_layer", "cell", "layers", "cells"):
        return "layer"
    return None


def prepare_config(cls, config, custom_objects=None):
    """A layer/object config made ready for `cls.from_config`.

    Normalises the dtype policy to its name, converts Keras 2 spellings (one-element `axis`
    lists), rebuilds nested non-layer objects (initializers, regularizers, constraints, custom
    activations) so the class receives objects, cleans nested layer configs in place, and drops
    inert Keras-only arguments.
    """
    config = dict(config)
    if "dtype" in config:
        config["dtype"] = dtype_from_config(config["dtype"])
    axis = config.get("axis")
    if isinstance(axis, list) and len(axis) == 1 and isinstance(axis[0], int):
        config["axis"] = axis[0]
    for key, value in list(config.items()):
        kind = _kind_of_key(key)
        if is_serialized_object(value):
            config[key] = _prepare_nested(value, kind, custom_objects)
        elif isinstance(value, list) and value and all(is_serialized_object(v) for v in value) and kind == "layer":
            config[key] = [_prepare_nested(v, "layer", custom_objects) for v in value]
        elif isinstance(value, str) and kind == "activation":
            custom = object_registration.get_registered_object(value, custom_objects)
            if custom is not None:
                config[key] = custom
    return drop_inert_arguments(cls, config)


def _prepare_nested(value, kind, custom_objects):
    if value.get("class_name") == "__lambda__":
        # Refused here in safe mode; otherwise left for the layer (Lambda) to rebuild with its
        # own globals, as Keras does.
        if in_safe_mode():
            _special(value, True)  # raises the safe-mode error
        return value
    handled, special = _special(value, in_safe_mode())
    if handled:
        return special
    if value.get("class_name") in DTYPE_POLICY_CLASSES:
        return dtype_from_config(value)
    if value.get("class_name") == "function":
        return deserialize_keras_object(value, custom_objects, kind=kind)
    cls = resolve(value["class_name"], value.get("module"), value.get("registered_name"), kind, custom_objects,
                  value)
    layer_cls = _pykeras_attr("pykeras.layers", "Layer")
    if inspect.isclass(cls) and layer_cls is not None and issubclass(cls, layer_cls):
        # A nested layer stays a config (its owner's from_config rebuilds it), cleaned for pykeras.
        from pykeras.saving import model_config

        out = dict(value)
        out["config"] = model_config.sanitize(cls, value.get("config") or {}, custom_objects)
        return out
    return deserialize_keras_object(value, custom_objects, kind=kind)


def deserialize_keras_object(config, custom_objects=None, safe_mode=None, kind=None):
    """Rebuilds the object a Keras 2 or Keras 3 config describes.

    Strings and numbers come back unchanged (a string naming a custom object in `custom_objects`
    comes back as that object); lists and plain dicts are rebuilt element by element; a dict with
    "class_name"/"config" becomes an instance of the resolved class via `from_config`. `kind`
    ("layer", "initializer", "optimizer", ...) says where to look first for module-less Keras 2
    names.
    """
    if safe_mode is None:
        safe_mode = in_safe_mode()
    if config is None or isinstance(config, (int, float, bool)):
        return config
    if isinstance(config, str):
        custom = object_registration.get_registered_object(config, custom_objects) if custom_objects else None
        return custom if custom is not None else config
    if isinstance(config, (list, tuple)):
        return [deserialize_keras_object(x, custom_objects, safe_mode, kind) for x in config]
    if not isinstance(config, dict):
        raise TypeError(f"Could not interpret serialized value {config!r}")
    if not is_serialized_object(config):
        return {k: deserialize_keras_object(v, custom_objects, safe_mode, kind) for k, v in config.items()}

    handled, value = _special(config, safe_mode)
    if handled:
        return value
    class_name = config["class_name"]
    inner = config.get("config")
    module = config.get("module")
    registered_name = config.get("registered_name")

    if class_name == "function":
        name = inner if isinstance(inner, str) else registered_name
        if module == "builtins" or module is None:
            module = None
        return resolve(name, module, registered_name, kind or "function", custom_objects, config)

    shared = getattr(_state, "shared", None)
    shared_id = config.get("shared_object_id")
    if shared is not None and shared_id is not None and shared_id in shared:
        return shared[shared_id]

    if class_name in DTYPE_POLICY_CLASSES and _lookup_dtype_policy() is None:
        return dtype_from_config(config)

    cls = resolve(class_name, module, registered_name, kind, custom_objects, config)
    if not inspect.isclass(cls):
        return cls  # a function named by its class_name (Keras 2 style)
    inner = inner if inner is not None else {}
    with object_registration.CustomObjectScope(custom_objects or {}), safe_mode_scope(safe_mode):
        if _is_layer_class(cls):
            from pykeras.saving import model_config
            obj = model_config.layer_from_config(cls, config, custom_objects)
        else:
            obj = _from_config(cls, prepare_config(cls, inner, custom_objects), class_name, custom_objects)
    if shared is not None and shared_id is not None:
        shared[shared_id] = obj
    return obj


def _lookup_dtype_policy():
    return _lookup_in("keras", "DTypePolicy")


def _is_layer_class(cls):
    layer_cls = _pykeras_attr("pykeras.layers", "Layer")
    return layer_cls is not None and inspect.isclass(cls) and issubclass(cls, layer_cls)


def _from_config(cls, inner, class_name, custom_objects=None):
    """`cls.from_config(inner)` (passing custom_objects when it takes them), errors made clear."""
    try:
        from_config = getattr(cls, "from_config", None)
        if from_config is None:
            return cls(**inner)
        try:
            takes_custom = "custom_objects" in inspect.signature(from_config).parameters
        except (TypeError, ValueError):
            takes_custom = False
        if takes_custom:
            return from_config(inner, custom_objects=custom_objects)
        return from_config(inner)
    except UnknownObjectError:
        raise
    except (TypeError, ValueError, KeyError) as e:
        name = inner.get("name") if isinstance(inner, dict) else None
        label = f"'{name}' ({class_name})" if name else f"{class_name}"
        raise ValueError(f"Could not rebuild {label} from its saved config: {e}") from e

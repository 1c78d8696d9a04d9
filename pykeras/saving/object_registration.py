"""Name <-> class registry for Keras objects (layers, initializers, activations, ...).

Serialized configs name classes as Keras does: a built-in by its class name ("Dense"), a user
class registered with `register_keras_serializable(package="my_pkg")` by "my_pkg>MyLayer". A
lookup tries, in order: the objects of an active `custom_object_scope`, the registered custom
objects, then the module's own built-ins supplied by the caller.
"""
import inspect
import threading

_GLOBAL_CUSTOM_OBJECTS = {}
_GLOBAL_CUSTOM_NAMES = {}
_scope_state = threading.local()


def _scope_objects():
    return getattr(_scope_state, "stack", [])


class CustomObjectScope:
    """Context manager making `custom_objects` resolvable by name while it is active.

    Example: `with custom_object_scope({"MyLayer": MyLayer}): model = from_config(cfg)`.
    """

    def __init__(self, custom_objects=None, *more):
        self.custom_objects = dict(custom_objects or {})
        for extra in more:
            self.custom_objects.update(extra or {})

    def __enter__(self):
        if not hasattr(_scope_state, "stack"):
            _scope_state.stack = []
        _scope_state.stack.append(self.custom_objects)
        return self

    def __exit__(self, *exc):
        _scope_state.stack.pop()


custom_object_scope = CustomObjectScope


def get_custom_objects():
    """The global dict of registered custom objects (name -> object); may be edited."""
    return _GLOBAL_CUSTOM_OBJECTS


def register_keras_serializable(package="Custom", name=None):
    """Decorator registering a class or function under "package>name" for deserialization."""

    def decorator(arg):
        class_name = name if name is not None else arg.__name__
        registered_name = package + ">" + class_name
        if inspect.isclass(arg) and not hasattr(arg, "get_config"):
            raise ValueError(f"Cannot register {arg}: a registered class must define get_config()")
        if registered_name in _GLOBAL_CUSTOM_OBJECTS:
            raise ValueError(f"{registered_name} has already been registered to {_GLOBAL_CUSTOM_OBJECTS[registered_name]}")
        _GLOBAL_CUSTOM_OBJECTS[registered_name] = arg
        _GLOBAL_CUSTOM_NAMES[arg] = registered_name
        return arg

    return decorator


def get_registered_name(obj):
    """The name `obj` is serialized under: "package>name" if registered, else its __name__."""
    if obj in _GLOBAL_CUSTOM_NAMES:
        return _GLOBAL_CUSTOM_NAMES[obj]
    return obj.__name__


def get_registered_object(name, custom_objects=None, module_objects=None):
    """Resolves `name`: scoped objects, then `custom_objects`, registered ones, `module_objects`."""
    for scope in reversed(_scope_objects()):
        if name in scope:
            return scope[name]
    if custom_objects and name in custom_objects:
        return custom_objects[name]
    if name in _GLOBAL_CUSTOM_OBJECTS:
        return _GLOBAL_CUSTOM_OBJECTS[name]
    if module_objects and name in module_objects:
        return module_objects[name]
    # A registered object may be asked for by its bare class name.
    for key, value in _GLOBAL_CUSTOM_OBJECTS.items():
        if key.split(">")[-1] == name:
            return value
    return None


def serialize_keras_object(obj, module):
    """Keras 3's serialized form of a config-bearing object:
    {"module", "class_name", "config", "registered_name"}. Strings and None pass through."""
    if obj is None or isinstance(obj, (str, int, float, bool)):
        return obj
    cls = obj.__class__
    registered = _GLOBAL_CUSTOM_NAMES.get(cls)
    return {
        "module": module if registered is None else cls.__module__,
        "class_name": cls.__name__,
        "config": obj.get_config(),
        "registered_name": registered,
    }


def deserialize_keras_object(config, module_objects, custom_objects=None, kind="object"):
    """Builds an object from a class name or a Keras 2/3 `{"class_name", "config"}` dict.

    Raises ValueError naming `kind` and the unknown name when the class cannot be resolved.
    """
    if isinstance(config, str):
        obj = get_registered_object(config, custom_objects, module_objects)
        if obj is None:
            raise ValueError(f"Unknown {kind}: '{config}'. Please ensure you are using a "
                             f"`keras.utils.custom_object_scope` and that this object is included in the scope.")
        return obj() if inspect.isclass(obj) else obj
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(f"Could not interpret serialized {kind}: {config!r}")
    name = config.get("registered_name") or config["class_name"]
    cls = get_registered_object(name, custom_objects, module_objects)
    if cls is None and name != config["class_name"]:
        cls = get_registered_object(config["class_name"], custom_objects, module_objects)
    if cls is None:
        raise ValueError(f"Unknown {kind}: '{config['class_name']}'. Please ensure you are using a "
                         f"`keras.utils.custom_object_scope` and that this object is included in the scope.")
    inner = config.get("config") or {}
    if not inspect.isclass(cls):
        return cls
    if hasattr(cls, "from_config"):
        if custom_objects and "custom_objects" in inspect.signature(cls.from_config).parameters:
            return cls.from_config(inner, custom_objects=custom_objects)
        return cls.from_config(inner)
    return cls(**inner)

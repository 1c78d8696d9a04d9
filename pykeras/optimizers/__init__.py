"""Optimizers (Keras 3 names, arguments and defaults) and `get`/`serialize`/`deserialize`."""
from pykeras.optimizers import schedules
from pykeras.optimizers.adadelta import Adadelta
from pykeras.optimizers.adagrad import Adagrad
from pykeras.optimizers.adam import Adam
from pykeras.optimizers.adamax import Adamax
from pykeras.optimizers.adamw import AdamW
from pykeras.optimizers.nadam import Nadam
from pykeras.optimizers.optimizer import Optimizer
from pykeras.optimizers.rmsprop import RMSprop
from pykeras.optimizers.sgd import SGD

ALL_OBJECTS = (Optimizer, SGD, RMSprop, Adam, AdamW, Adagrad, Adadelta, Adamax, Nadam)
ALL_OBJECTS_DICT = {cls.__name__.lower(): cls for cls in ALL_OBJECTS}

__all__ = ["Optimizer", "SGD", "RMSprop", "Adam", "AdamW", "Adagrad", "Adadelta", "Adamax", "Nadam", "schedules",
           "get", "serialize", "deserialize"]


def serialize(optimizer):
    """{'class_name': ..., 'config': ...} for an optimizer."""
    return {"module": "keras.optimizers", "class_name": type(optimizer).__name__,
            "config": optimizer.get_config(), "registered_name": None}


def deserialize(config, custom_objects=None):
    """Rebuilds an optimizer from `serialize`'s dict (class names are case-insensitive)."""
    name = config["class_name"]
    cls = (custom_objects or {}).get(name) or ALL_OBJECTS_DICT.get(str(name).lower())
    if cls is None:
        raise ValueError(f"Could not interpret optimizer identifier: {name!r}. Known optimizers: "
                         f"{sorted(ALL_OBJECTS_DICT)}")
    return cls.from_config(dict(config.get("config", {})), custom_objects=custom_objects)


def get(identifier):
    """An optimizer from a name ('adam', 'RMSprop'), a config dict, or an Optimizer (returned as is)."""
    if identifier is None:
        return None
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, str):
        cls = ALL_OBJECTS_DICT.get(identifier.lower())
        if cls is None or cls is Optimizer:
            raise ValueError(
                f"Could not interpret optimizer identifier: {identifier!r}. Known optimizers: "
                f"{', '.join(sorted(k for k in ALL_OBJECTS_DICT if k != 'optimizer'))}"
            )
        return cls()
    raise ValueError(f"Could not interpret optimizer identifier: {identifier!r}")

"""Models: `Sequential`, functional and subclassed `Model`, `model_from_json`, `clone_model`."""
from pykeras.models.functional import Functional
from pykeras.models.model import Model, model_from_json
from pykeras.models.sequential import Sequential


def clone_model(model, input_tensors=None, clone_function=None):
    """A new model with the same architecture and fresh weights (Sequential or functional)."""
    from pykeras.layers import deserialize, serialize
    if clone_function is not None or input_tensors is not None:
        raise NotImplementedError("clone_model: clone_function and input_tensors are not supported")
    return deserialize(serialize(model))


def load_model(filepath, custom_objects=None, compile=True, safe_mode=True):
    from pykeras import saving
    return saving.load_model(filepath, custom_objects=custom_objects, compile=compile, safe_mode=safe_mode)


def save_model(model, filepath, overwrite=True, **kwargs):
    from pykeras import saving
    return saving.save_model(model, filepath, overwrite=overwrite, **kwargs)

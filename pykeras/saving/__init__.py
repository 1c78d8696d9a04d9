"""Saving and loading in Keras's own formats (`keras.saving`).

`.keras` (Keras 3's zip), `.weights.h5` (Keras 3 weights), legacy `.h5` (Keras 2 / Keras 3's
legacy writer) and JSON configs, in both directions: files Keras writes load here, files written
here load in Keras. Every save goes through a temporary file renamed into place, so an
interrupted or failed save never damages an existing file.
"""
from pykeras.saving.file_utils import SavedFileError
from pykeras.saving.object_registration import (
    CustomObjectScope,
    custom_object_scope,
    get_custom_objects,
    get_registered_name,
    get_registered_object,
    register_keras_serializable,
)
from pykeras.saving.saving_api import (
    load_model,
    load_weights,
    model_from_config,
    model_from_json,
    model_to_json,
    save_model,
    save_weights,
)
from pykeras.saving.serialization_lib import (
    UnknownObjectError,
    deserialize_keras_object,
    enable_unsafe_deserialization,
    serialize_keras_object,
)

__all__ = [
    "CustomObjectScope",
    "SavedFileError",
    "UnknownObjectError",
    "custom_object_scope",
    "deserialize_keras_object",
    "enable_unsafe_deserialization",
    "get_custom_objects",
    "get_registered_name",
    "get_registered_object",
    "load_model",
    "load_weights",
    "model_from_config",
    "model_from_json",
    "model_to_json",
    "register_keras_serializable",
    "save_model",
    "save_weights",
    "serialize_keras_object",
]

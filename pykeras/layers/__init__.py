"""Keras layers: `from pykeras import layers` / `from pykeras.layers import Dense, ...`.

Writing a layer (see core.py for complete examples):
  - subclass `Layer`; in `__init__(self, <Keras's arguments>, **kwargs)` call
    `super().__init__(**kwargs)` first, validate arguments (ValueError quoting the bad value; the
    base adds the layer's class and name to the message), resolve identifiers with
    `activations.get`, `initializers.get`, `regularizers.get`, `constraints.get`, and declare
    `self.input_spec = InputSpec(ndim=..., axes={-1: channels})` and `self.supports_masking`;
  - `build(input_shape)` creates weights in Keras's order with `self.add_weight(name=..., shape=...,
    initializer=..., regularizer=..., constraint=..., trainable=...)`;
  - `call(inputs[, training][, mask])` uses backend ops only (fused ones from `K.nn` where they
    exist); `training` arrives as True/False/None (None: inference unless the layer decides);
  - `compute_output_shape(input_shape)` (batch axis included, may be None) and `get_config()`
    returning `{**super().get_config(), <arguments>}` with nested objects serialized by
    `initializers.serialize(...)` etc.;
  - make the class resolvable by name in configs: `register_layer_classes(MyLayer)` here.
"""
from pykeras.layers.core import (Activation, ActivityRegularization, Dense, Dropout, Embedding, Flatten, Lambda,
                                 Masking, Permute, RepeatVector, Reshape, TensorOp)
from pykeras.layers.advanced_activations import ELU, LeakyReLU, PReLU, ReLU, Softmax, ThresholdedReLU
from pykeras.layers.convolutional import (Conv1D, Conv1DTranspose, Conv2D, Conv2DTranspose, Conv3D, Conv3DTranspose,
                                          Convolution1D, Convolution1DTranspose, Convolution2D,
                                          Convolution2DTranspose, Convolution3D, Convolution3DTranspose,
                                          DepthwiseConv1D, DepthwiseConv2D, SeparableConv1D, SeparableConv2D,
                                          SeparableConvolution1D, SeparableConvolution2D)
from pykeras.layers.input_layer import Input, InputLayer
from pykeras.layers.input_spec import InputSpec
from pykeras.layers.keras_tensor import KerasTensor, Node
from pykeras.layers.layer import Layer
from pykeras.layers.layer_normalization import LayerNormalization
from pykeras.layers.merging import (Add, Average, Concatenate, Dot, Maximum, Minimum, Multiply, Subtract, add, average,
                                    concatenate, dot, maximum, minimum, multiply, subtract)
from pykeras.layers.normalization import BatchNormalization
from pykeras.layers.pooling import (AveragePooling1D, AveragePooling2D, AveragePooling3D, AvgPool1D, AvgPool2D,
                                    AvgPool3D, GlobalAveragePooling1D, GlobalAveragePooling2D, GlobalAveragePooling3D,
                                    GlobalAvgPool1D, GlobalAvgPool2D, GlobalAvgPool3D, GlobalMaxPool1D,
                                    GlobalMaxPool2D, GlobalMaxPool3D, GlobalMaxPooling1D, GlobalMaxPooling2D,
                                    GlobalMaxPooling3D, MaxPool1D, MaxPool2D, MaxPool3D, MaxPooling1D, MaxPooling2D,
                                    MaxPooling3D)
from pykeras.layers.regularization import (AlphaDropout, GaussianDropout, GaussianNoise, SpatialDropout1D,
                                           SpatialDropout2D, SpatialDropout3D)
from pykeras.layers.reshaping import (Cropping1D, Cropping2D, Cropping3D, UpSampling1D, UpSampling2D, UpSampling3D,
                                      ZeroPadding1D, ZeroPadding2D, ZeroPadding3D)
from pykeras.saving.object_registration import deserialize_keras_object, serialize_keras_object

from pykeras import backend as _K
from pykeras.layers import naming as _naming

# clear_session() resets the default-name counters (dense, dense_1, ...), as in Keras.
_K.register_clear_session_callback(_naming.reset_names)
_K.register_keras_tensor_type(KerasTensor)

ALL_OBJECTS = [Layer, InputLayer, Dense, Dropout, Activation, Flatten, Reshape, Permute, RepeatVector, Lambda,
               ActivityRegularization, Masking, Embedding, LayerNormalization, TensorOp]
ALL_OBJECTS_DICT = {cls.__name__: cls for cls in ALL_OBJECTS}


def register_layer_classes(*classes):
    """Makes layer classes resolvable by class name in configs (for the other layer modules)."""
    for cls in classes:
        if cls not in ALL_OBJECTS:
            ALL_OBJECTS.append(cls)
        ALL_OBJECTS_DICT[cls.__name__] = cls


register_layer_classes(Conv1D, Conv2D, Conv3D, DepthwiseConv1D, DepthwiseConv2D, SeparableConv1D, SeparableConv2D,
                       Conv1DTranspose, Conv2DTranspose, Conv3DTranspose)
register_layer_classes(MaxPooling1D, MaxPooling2D, MaxPooling3D, AveragePooling1D, AveragePooling2D, AveragePooling3D,
                       GlobalMaxPooling1D, GlobalMaxPooling2D, GlobalMaxPooling3D, GlobalAveragePooling1D,
                       GlobalAveragePooling2D, GlobalAveragePooling3D)
register_layer_classes(BatchNormalization)
register_layer_classes(LeakyReLU, PReLU, ELU, ThresholdedReLU, ReLU, Softmax)
register_layer_classes(Add, Subtract, Multiply, Average, Maximum, Minimum, Concatenate, Dot)
register_layer_classes(GaussianNoise, GaussianDropout, AlphaDropout, SpatialDropout1D, SpatialDropout2D,
                       SpatialDropout3D)
register_layer_classes(Cropping1D, Cropping2D, Cropping3D, UpSampling1D, UpSampling2D, UpSampling3D, ZeroPadding1D,
                       ZeroPadding2D, ZeroPadding3D)


def _model_classes():
    from pykeras.models.functional import Functional
    from pykeras.models.model import Model
    from pykeras.models.sequential import Sequential
    return {"Functional": Functional, "Model": Model, "Sequential": Sequential}


def serialize(layer):
    """Keras 3's dict for a layer: {"module", "class_name", "config", "registered_name", "build_config"}."""
    module = "keras.layers" if type(layer).__name__ in ALL_OBJECTS_DICT else "keras"
    if type(layer).__name__ in ("Sequential", "Functional"):
        module = "keras"
    out = serialize_keras_object(layer, module)
    if hasattr(layer, "get_build_config") and type(layer).__name__ not in ("Functional", "InputLayer"):
        build_config = layer.get_build_config()
        if build_config is not None:
            out["build_config"] = build_config
    return out


def deserialize(config, custom_objects=None):
    """A layer (or model) from `serialize`'s dict (Keras 3 or Keras 2 layout), built if the dict
    carries a build_config."""
    objects = {**ALL_OBJECTS_DICT, **_model_classes()}
    layer = deserialize_keras_object(config, objects, custom_objects, kind="layer")
    build_config = config.get("build_config") if isinstance(config, dict) else None
    if build_config and hasattr(layer, "build_from_config"):
        layer.build_from_config(build_config)
    return layer


def get(identifier):
    if isinstance(identifier, Layer):
        return identifier
    return deserialize(identifier)

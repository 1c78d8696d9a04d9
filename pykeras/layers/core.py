"""Core layers: Dense, Dropout, Activation, Flatten, Reshape, Permute, RepeatVector, Lambda,
ActivityRegularization, Masking, Embedding (and TensorOp, the layer behind KerasTensor operators).

Arguments, defaults, weight names and order, shapes and error messages follow Keras 3. Dense runs
the backend's fused op (matmul + bias + activation in one kernel) when its activation is a
built-in one; others are applied after.
"""
import base64
import inspect
import marshal
import types

import numpy as np

from pykeras import activations, constraints, initializers, regularizers
from pykeras import backend as K
from pykeras.layers import tree
from pykeras.layers.input_spec import InputSpec
from pykeras.layers.layer import Layer, set_keras_mask


def _check_positive_int(layer, name, value):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(f"Received an invalid value for `{name}` in {layer}, expected a positive integer. "
                         f"Received: {name}={value!r}")
    return int(value)


class Dense(Layer):
    """Densely connected layer: activation(inputs @ kernel + bias).

    Args:
        units: positive int, output size.
        activation: name or callable (default None: linear).
        use_bias: whether to add a bias vector.
        kernel_initializer / bias_initializer: default "glorot_uniform" / "zeros".
        kernel_regularizer / bias_regularizer / activity_regularizer: optional penalties.
        kernel_constraint / bias_constraint: optional projections applied after each update.

    Input (..., input_dim) -> output (..., units). Weights: kernel (input_dim, units), bias (units,).
    """

    def __init__(self, units, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, lora_rank=None, **kwargs):
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        self.units = _check_positive_int("Dense", "units", units)
        self.activation = activations.get(activation)
        self._fused_activation = activations.fusable_name(self.activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        if lora_rank:
            raise ValueError(f"Dense: LoRA (lora_rank={lora_rank}) is not supported.")
        self.input_spec = InputSpec(min_ndim=2)
        self.supports_masking = True

    def build(self, input_shape):
        input_dim = input_shape[-1]
        if input_dim is None:
            raise ValueError(f"The last dimension of the inputs to a Dense layer should be defined. Found None. "
                             f"Full input shape received: {tuple(input_shape)}")
        self.kernel = self.add_weight(name="kernel", shape=(input_dim, self.units), initializer=self.kernel_initializer,
                                      regularizer=self.kernel_regularizer, constraint=self.kernel_constraint)
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight(name="bias", shape=(self.units,), initializer=self.bias_initializer,
                                        regularizer=self.bias_regularizer, constraint=self.bias_constraint)
        self.input_spec = InputSpec(min_ndim=2, axes={-1: input_dim})

    def call(self, inputs):
        if self._fused_activation is not None:
            return K.nn.dense(inputs, self.kernel, self.bias, activation=self._fused_activation)
        return self.activation(K.nn.dense(inputs, self.kernel, self.bias))

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)

    def get_config(self):
        config = super().get_config()
        config.update({
            "units": self.units,
            "activation": activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
            "bias_regularizer": regularizers.serialize(self.bias_regularizer),
            "kernel_constraint": constraints.serialize(self.kernel_constraint),
            "bias_constraint": constraints.serialize(self.bias_constraint),
        })
        return config


class Dropout(Layer):
    """Sets a fraction `rate` of inputs to 0 during training, scaling the rest by 1 / (1 - rate).

    Args:
        rate: float in [0, 1].
        noise_shape: shape of the binary mask (None entries take the input's size), e.g.
            (batch, 1, features) to drop the same features at every timestep.
        seed: int for reproducible masks.

    Active only when called with training=True (as `fit` does); the identity otherwise.
    """

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        if isinstance(rate, bool) or not isinstance(rate, (int, float, np.floating)) or not 0 <= rate <= 1:
            raise ValueError(f"Invalid value received for argument `rate`. Expected a float value between 0 and 1. "
                             f"Received: rate={rate!r}")
        self.rate = float(rate)
        self.noise_shape = tuple(noise_shape) if noise_shape is not None else None
        self.seed = seed
        self.seed_generator = K.random.SeedGenerator(seed) if rate > 0 else None
        self.supports_masking = True

    def _noise_shape(self, inputs):
        if self.noise_shape is None:
            return None
        return tuple(d if d is not None else inputs.shape[i] for i, d in enumerate(self.noise_shape))

    def call(self, inputs, training=False):
        if training and self.rate > 0:
            return K.nn.dropout(inputs, self.rate, noise_shape=self._noise_shape(inputs), seed=self.seed_generator)
        return inputs

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update({"rate": self.rate, "seed": self.seed,
                       "noise_shape": list(self.noise_shape) if self.noise_shape is not None else None})
        return config


class Activation(Layer):
    """Applies an activation function (name or callable) to its input."""

    def __init__(self, activation, **kwargs):
        super().__init__(**kwargs)
        self.activation = activations.get(activation)
        self.supports_masking = True

    def call(self, inputs):
        return self.activation(inputs)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config["activation"] = activations.serialize(self.activation)
        return config


class Flatten(Layer):
    """Flattens every axis but the batch axis: (batch, d1, d2, ...) -> (batch, d1 * d2 * ...).

    Args:
        data_format: "channels_last" (default) or "channels_first" (channels moved last first, so
            the flattened order matches a channels_last model's).
    """

    def __init__(self, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = K.standardize_data_format(data_format) if hasattr(K, "standardize_data_format") \
            else (data_format or "channels_last")
        self.input_spec = InputSpec(min_ndim=1)

    def call(self, inputs):
        x = inputs
        if self.data_format == "channels_first" and len(x.shape) > 2:
            x = K.transpose(x, (0,) + tuple(range(2, len(x.shape))) + (1,))
        if len(x.shape) == 1:
            return K.expand_dims(x, 1)
        return K.reshape(x, (x.shape[0], -1))

    def compute_output_shape(self, input_shape):
        rest = input_shape[1:]
        if len(input_shape) == 1:
            return (input_shape[0], 1)
        size = None if any(d is None for d in rest) else int(np.prod(rest))
        return (input_shape[0], size)

    def get_config(self):
        config = super().get_config()
        config["data_format"] = self.data_format
        return config


def _reshape_output_shape(layer_name, input_shape, target_shape):
    """Keras's reshape rule: at most one -1, sizes must agree (unknown input sizes allowed)."""
    input_size = None if any(d is None for d in input_shape) else int(np.prod(input_shape))
    unknown = [i for i, d in enumerate(target_shape) if d == -1]
    known = int(np.prod([d for d in target_shape if d != -1])) if target_shape else 1
    output = list(target_shape)
    if unknown:
        if input_size is None:
            output[unknown[0]] = None
        elif known == 0 or input_size % known != 0:
            raise ValueError(f"Layer '{layer_name}': the total size of the new array must be unchanged, "
                             f"input_shape = {tuple(input_shape)}, output_shape = {tuple(target_shape)}")
        else:
            output[unknown[0]] = input_size // known
    elif input_size is not None and input_size != known:
        raise ValueError(f"Layer '{layer_name}': the total size of the new array must be unchanged, "
                         f"input_shape = {tuple(input_shape)}, output_shape = {tuple(target_shape)}")
    return tuple(output)


class Reshape(Layer):
    """Reshapes the non-batch axes to `target_shape` (one entry may be -1).

    Raises ValueError naming the layer and both shapes when the sizes differ.
    """

    def __init__(self, target_shape, **kwargs):
        super().__init__(**kwargs)
        target_shape = tuple(int(d) for d in target_shape)
        if sum(1 for d in target_shape if d == -1) > 1:
            raise ValueError(f"There must be at most one unknown dimension (-1) in target_shape. "
                             f"Received: target_shape={target_shape}")
        if any(d < -1 or d == 0 for d in target_shape):
            raise ValueError(f"Invalid value in target_shape: dimensions must be positive or -1. "
                             f"Received: target_shape={target_shape}")
        self.target_shape = target_shape

    def compute_output_shape(self, input_shape):
        return (input_shape[0],) + _reshape_output_shape(self.name, input_shape[1:], self.target_shape)

    def call(self, inputs):
        target = _reshape_output_shape(self.name, tuple(inputs.shape[1:]), self.target_shape)
        return K.reshape(inputs, (inputs.shape[0],) + target)

    def get_config(self):
        config = super().get_config()
        config["target_shape"] = list(self.target_shape)
        return config


class Permute(Layer):
    """Permutes the non-batch axes: dims is a 1-indexed permutation, e.g. (2, 1) swaps axes 1, 2."""

    def __init__(self, dims, **kwargs):
        super().__init__(**kwargs)
        dims = tuple(int(d) for d in dims)
        if sorted(dims) != list(range(1, len(dims) + 1)):
            raise ValueError("Invalid permutation argument `dims` for Permute Layer. The set of indices in `dims` "
                             f"must be consecutive and start from 1. Received dims={dims}")
        self.dims = dims
        self.input_spec = InputSpec(ndim=len(dims) + 1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0],) + tuple(input_shape[d] for d in self.dims)

    def call(self, inputs):
        return K.transpose(inputs, (0,) + self.dims)

    def get_config(self):
        config = super().get_config()
        config["dims"] = list(self.dims)
        return config


class RepeatVector(Layer):
    """Repeats a (batch, features) input n times: output (batch, n, features)."""

    def __init__(self, n, **kwargs):
        super().__init__(**kwargs)
        self.n = _check_positive_int("RepeatVector", "n", n)
        self.input_spec = InputSpec(ndim=2)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.n, input_shape[1])

    def call(self, inputs):
        return K.repeat_vector(inputs, self.n)

    def get_config(self):
        config = super().get_config()
        config["n"] = self.n
        return config


# ----------------------------------------------------------------------------------------------
# Lambda

def _serialize_function(fn):
    """Keras 3's form for a Python function: its registered name, or marshalled bytecode."""
    stored = getattr(fn, "_pykeras_serialized", None)
    if stored is not None:  # revived from a config: give back exactly what was read
        return stored
    if isinstance(fn, types.LambdaType) and fn.__name__ == "<lambda>" or getattr(fn, "__closure__", None):
        code = base64.b64encode(marshal.dumps(fn.__code__)).decode("ascii")
        defaults = fn.__defaults__
        closure = tuple(c.cell_contents for c in fn.__closure__) if fn.__closure__ else None
        return {"class_name": "__lambda__", "config": {"code": code, "defaults": defaults, "closure": closure}}
    return {"module": getattr(fn, "__module__", None), "class_name": "function",
            "config": fn.__name__, "registered_name": fn.__name__}


def _deserialize_function(config, custom_objects=None):
    if callable(config):
        return config
    if isinstance(config, dict) and config.get("class_name") == "__lambda__":
        inner = config["config"]
        code = marshal.loads(base64.b64decode(inner["code"]))
        closure = inner.get("closure")
        if closure is not None:
            closure = tuple(types.CellType(c) for c in closure)
        defaults = tuple(inner["defaults"]) if inner.get("defaults") is not None else None
        fn = types.FunctionType(code, globals(), code.co_name, defaults, closure)
        fn._pykeras_serialized = config
        return fn
    if isinstance(config, dict) and config.get("class_name") == "function":
        name = config["config"]
        module = config.get("module")
        if custom_objects and name in custom_objects:
            return custom_objects[name]
        from pykeras.saving.object_registration import get_registered_object
        fn = get_registered_object(name, custom_objects)
        if fn is None and module:
            import importlib
            try:
                fn = getattr(importlib.import_module(module), name)
            except (ImportError, AttributeError):
                fn = None
        if fn is None:
            raise ValueError(f"Lambda: could not find the function '{name}' (module {module}); "
                             "pass it in custom_objects.")
        return fn
    if isinstance(config, str):
        from pykeras.saving.object_registration import get_registered_object
        fn = get_registered_object(config, custom_objects, activations.ALL_OBJECTS_DICT)
        if fn is None:
            raise ValueError(f"Lambda: unknown function '{config}'")
        return fn
    raise ValueError(f"Lambda: could not deserialize function {config!r}")


class Lambda(Layer):
    """Wraps an arbitrary function of tensors as a layer: `Lambda(lambda x: x ** 2)`.

    Args:
        function: called as function(inputs, **arguments) (also given `mask`/`training` if it
            declares them). Use backend ops (`from pykeras import backend as K`).
        output_shape: the output shape without the batch axis (tuple), or a function of the input
            shape (with the batch axis) returning the output shape, as in Keras 2. If omitted the
            shape is inferred by running the function on a small dummy batch.
        mask: a mask tensor, or a function(inputs, mask) computing the output mask.
        arguments: dict of extra keyword arguments for `function`.
    """

    def __init__(self, function, output_shape=None, mask=None, arguments=None, **kwargs):
        super().__init__(**kwargs)
        if not callable(function):
            raise ValueError(f"Argument `function` of Lambda must be callable. Received: function={function!r}")
        self.function = function
        self.arguments = dict(arguments or {})
        self._output_shape = output_shape
        self.mask = mask
        self.supports_masking = mask is not None
        try:
            params = inspect.signature(function).parameters
        except (TypeError, ValueError):
            params = {}
        self._fn_expects_training = "training" in params
        self._fn_expects_mask = "mask" in params

    def call(self, inputs, mask=None, training=None):
        kwargs = dict(self.arguments)
        if self._fn_expects_mask:
            kwargs["mask"] = mask
        if self._fn_expects_training:
            kwargs["training"] = training
        return self.function(inputs, **kwargs)

    def compute_mask(self, inputs, mask=None):
        if callable(self.mask):
            return self.mask(inputs, mask)
        return self.mask

    def compute_output_spec(self, *args, **kwargs):
        if self._output_shape is None:
            return self._infer_output_spec(args, kwargs)
        from pykeras.layers.layer import _shape_of, _shapes_to_keras_tensors
        input_shapes = tree.map_structure(_shape_of, args[0])
        return _shapes_to_keras_tensors(self.compute_output_shape(input_shapes), self.compute_dtype)

    def compute_output_shape(self, input_shape):
        if self._output_shape is None:
            return super().compute_output_shape(input_shape)
        if callable(self._output_shape):
            shape = self._output_shape(input_shape)
            return tuple(shape) if isinstance(shape, list) and all(d is None or isinstance(d, int) for d in shape) \
                else shape
        from pykeras.layers.layer import _is_shape, _map_shapes
        first = input_shape if _is_shape(input_shape) else tree.flatten(
            _map_shapes(lambda s: [s], input_shape))[0]
        batch = first[0] if first else None
        return _map_shapes(lambda s: (batch,) + tuple(s), self._output_shape)

    def get_config(self):
        config = super().get_config()
        config["function"] = _serialize_function(self.function)
        if self._output_shape is not None:
            config["output_shape"] = _serialize_function(self._output_shape) if callable(self._output_shape) \
                else self._output_shape
        if self.mask is not None:
            config["mask"] = _serialize_function(self.mask) if callable(self.mask) else self.mask
        config["arguments"] = self.arguments
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        config["function"] = _deserialize_function(config["function"], custom_objects)
        if isinstance(config.get("output_shape"), dict):
            config["output_shape"] = _deserialize_function(config["output_shape"], custom_objects)
        elif isinstance(config.get("output_shape"), list):
            config["output_shape"] = tuple(config["output_shape"])
        if isinstance(config.get("mask"), dict):
            config["mask"] = _deserialize_function(config["mask"], custom_objects)
        return cls(**config)


class TensorOp(Layer):
    """The layer recorded for a Python operator on KerasTensors (x + y, x[:, 0], ...)."""

    def __init__(self, fn, op_name=None, **kwargs):
        if op_name is not None and not kwargs.get("name"):
            from pykeras.layers import naming
            kwargs["name"] = naming.unique_name(op_name)
        super().__init__(autocast=False, **kwargs)
        self.fn = fn

    def call(self, inputs):
        return self.fn(*inputs)

    def get_config(self):
        config = super().get_config()
        config["fn"] = _serialize_function(self.fn)
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        config["fn"] = _deserialize_function(config["fn"], custom_objects)
        return cls(**config)


class ActivityRegularization(Layer):
    """Identity that adds l1 * sum|x| + l2 * sum(x**2) (per sample) of its input to `losses`."""

    def __init__(self, l1=0.0, l2=0.0, **kwargs):
        kwargs.pop("activity_regularizer", None)
        super().__init__(activity_regularizer=regularizers.L1L2(l1=l1, l2=l2), **kwargs)
        self.l1, self.l2 = float(l1), float(l2)
        self.supports_masking = True

    def call(self, inputs):
        return inputs

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.pop("activity_regularizer", None)
        config.update({"l1": self.l1, "l2": self.l2})
        return config


class Masking(Layer):
    """Masks timesteps whose features all equal `mask_value` (zeroes them and attaches a mask).

    Input (batch, timesteps, features); the mask (batch, timesteps) is True where any feature
    differs from mask_value, and downstream mask-aware layers (RNNs, ...) skip the others.
    """

    def __init__(self, mask_value=0.0, **kwargs):
        super().__init__(**kwargs)
        self.mask_value = mask_value
        self.supports_masking = True

    def compute_mask(self, inputs, mask=None):
        return K.any(K.not_equal(inputs, self.mask_value), axis=-1)

    def call(self, inputs):
        keep = K.any(K.not_equal(inputs, self.mask_value), axis=-1, keepdims=True)
        outputs = inputs * K.cast(keep, inputs.dtype)
        set_keras_mask(outputs, K.squeeze(keep, axis=-1))
        return outputs

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config["mask_value"] = self.mask_value
        return config


class Embedding(Layer):
    """Maps integer indices to dense vectors: (batch, ...) ints -> (batch, ..., output_dim).

    Args:
        input_dim: vocabulary size (indices in [0, input_dim)).
        output_dim: embedding size.
        embeddings_initializer: default "uniform" (RandomUniform(-0.05, 0.05)), as Keras.
        embeddings_regularizer / activity_regularizer / embeddings_constraint: optional.
        mask_zero: index 0 is padding: the layer emits a mask (input != 0) for downstream layers.
        weights: optional initial [embeddings] matrix.
        input_length: Keras 2 argument: as the first layer of a Sequential model it sets the input
            shape (None, input_length), as Keras 2 did (Keras 3 ignores it).
    """

    def __init__(self, input_dim, output_dim, embeddings_initializer="uniform", embeddings_regularizer=None,
                 embeddings_constraint=None, mask_zero=False, weights=None, lora_rank=None, **kwargs):
        input_length = kwargs.pop("input_length", None)
        activity_regularizer = kwargs.pop("activity_regularizer", None)
        super().__init__(activity_regularizer=activity_regularizer, weights=weights, **kwargs)
        self.input_dim = _check_positive_int("Embedding", "input_dim", input_dim)
        self.output_dim = _check_positive_int("Embedding", "output_dim", output_dim)
        self.embeddings_initializer = initializers.get(embeddings_initializer)
        self.embeddings_regularizer = regularizers.get(embeddings_regularizer)
        self.embeddings_constraint = constraints.get(embeddings_constraint)
        self.mask_zero = bool(mask_zero)
        self.supports_masking = self.mask_zero
        self.input_length = input_length
        self._input_dtype = "int32"
        if input_length is not None and self._batch_input_shape is None:
            # Keras 2: a first Embedding with input_length gives the model its input shape.
            lengths = tuple(input_length) if isinstance(input_length, (list, tuple)) else (input_length,)
            self._batch_input_shape = (None,) + lengths
        self.autocast = False

    def build(self, input_shape=None):
        self.embeddings = self.add_weight(name="embeddings", shape=(self.input_dim, self.output_dim),
                                          initializer=self.embeddings_initializer,
                                          regularizer=self.embeddings_regularizer,
                                          constraint=self.embeddings_constraint)

    def call(self, inputs):
        if not np.issubdtype(inputs.dtype, np.integer):
            inputs = K.cast(inputs, "int32")
        return K.take(self.embeddings, inputs, axis=0)

    def compute_mask(self, inputs, mask=None):
        if not self.mask_zero:
            return None
        return K.not_equal(inputs, 0)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape) + (self.output_dim,)

    def compute_output_spec(self, *args, **kwargs):
        from pykeras.layers.keras_tensor import KerasTensor
        return KerasTensor(self.compute_output_shape(args[0].shape), dtype=self.compute_dtype)

    def get_config(self):
        config = super().get_config()
        config.update({
            "input_dim": self.input_dim,
            "output_dim": self.output_dim,
            "embeddings_initializer": initializers.serialize(self.embeddings_initializer),
            "embeddings_regularizer": regularizers.serialize(self.embeddings_regularizer),
            "activity_regularizer": regularizers.serialize(self.activity_regularizer),
            "embeddings_constraint": constraints.serialize(self.embeddings_constraint),
            "mask_zero": self.mask_zero,
        })
        return config

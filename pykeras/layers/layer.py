"""The Layer base class: weights, building, calling (eager and symbolic), masks, losses, config.

How a call runs (`Layer.__call__`):
  1. If any argument holds a KerasTensor the call is symbolic: the layer builds from the symbolic
     shapes, checks `input_spec`, infers its outputs (`compute_output_spec`) and records a Node.
  2. Otherwise numpy inputs become Tensors (floating ones cast to the layer's compute dtype), the
     layer builds on first use from the input shape (`build(input_shape)`), the inputs are checked
     against `input_spec`, `training` is resolved (explicit argument, else the enclosing call's,
     else `call`'s own default) and the mask is taken from the inputs' `_keras_mask` when `call`
     accepts `mask`. `call` runs inside a call context so nested layers inherit `training`.
  3. Outputs get their mask from `compute_mask` (layers with `supports_masking`), the activity
     regularizer adds its penalty to `losses`.

Output shapes come from `compute_output_shape` when a layer defines it; otherwise the layer's
`call` is run on two small dummy batches (every unknown axis set to 2, then to 3; axes that
differ are unknown) with the layer's variables and losses restored afterwards. That is how
Lambda layers without `output_shape` and custom layers join functional models.

Weights are Variables created by `add_weight` in creation order; sublayers are found among the
layer's attributes (directly or inside lists/tuples/dicts), in assignment order. `weights` lists
the layer's own variables then its sublayers', as Keras 3; `trainable = False` freezes the layer,
its variables and all its sublayers.
"""
import functools
import inspect
import threading

import numpy as np

from pykeras import constraints, initializers, regularizers
from pykeras import backend as K
from pykeras.layers import naming, tree
from pykeras.layers.input_spec import assert_input_compatibility
from pykeras.layers.keras_tensor import KerasTensor, Node, any_symbolic

# ----------------------------------------------------------------------------------------------
# Call context: the `training` flag of the enclosing call, inherited by nested layer calls.

_context = threading.local()


def _context_stack():
    stack = getattr(_context, "stack", None)
    if stack is None:
        stack = _context.stack = []
    return stack


# ----------------------------------------------------------------------------------------------
# Structure caching. Sublayer lists, flattened layer lists and weight lists are cached per layer
# and keyed by a global epoch that any structural change bumps: assigning a Layer, Variable or
# container attribute, creating a weight, or mutating a list/dict attribute of a layer (such
# attributes are stored as _TrackedList/_TrackedDict, as Keras wraps them too). Training
# steps change no structure, so the per-call bookkeeping reads cached lists.

_epoch = [0]
_loss_adds = [0]  # counts losses added by any layer (add_loss, activity regularization)


def _mutator(name, base):
    method = getattr(base, name)

    def wrapped(self, *args, **kwargs):
        _epoch[0] += 1
        return method(self, *args, **kwargs)
    wrapped.__name__ = name
    return wrapped


class _TrackedList(list):
    """A list attribute of a layer: mutations invalidate the layer structure caches."""
    for _name in ("append", "extend", "insert", "pop", "remove", "clear", "sort", "reverse", "__setitem__",
                  "__delitem__", "__iadd__"):
        locals()[_name] = _mutator(_name, list)
    del _name


class _TrackedDict(dict):
    """A dict attribute of a layer: mutations invalidate the layer structure caches."""
    for _name in ("update", "pop", "popitem", "clear", "setdefault", "__setitem__", "__delitem__"):
        locals()[_name] = _mutator(_name, dict)
    del _name


# ----------------------------------------------------------------------------------------------
# Masks ride on tensors as the attribute `_keras_mask`, as in Keras.

def get_keras_mask(x):
    return getattr(x, "_keras_mask", None)


def set_keras_mask(x, mask):
    try:
        x._keras_mask = mask
    except AttributeError:  # a leaf that cannot carry attributes (numbers, None)
        pass


# ----------------------------------------------------------------------------------------------

def _dtype_name(dtype):
    """A dtype name from None (floatx), a string, a numpy dtype or a Keras DTypePolicy config."""
    if dtype is None:
        return K.floatx()
    if isinstance(dtype, dict):  # Keras 3 serialized DTypePolicy
        dtype = (dtype.get("config") or {}).get("name", K.floatx())
    if hasattr(dtype, "name") and not isinstance(dtype, (str, np.dtype)):  # a policy-like object
        dtype = dtype.name
    if isinstance(dtype, str) and dtype.startswith("mixed_"):
        raise ValueError(f"Mixed precision policies are not supported; use a float dtype. Received: dtype={dtype!r}")
    try:
        return np.dtype(dtype).name
    except TypeError:
        raise ValueError(f"Invalid dtype: {dtype!r}") from None


def _call_signature_flags(cls):
    """(accepts training, accepts mask, accepts **kwargs) for cls.call, cached on the class."""
    cached = cls.__dict__.get("_call_flags_cache")
    if cached is not None:
        return cached
    params = inspect.signature(cls.call).parameters
    var_kw = any(p.kind == inspect.Parameter.VAR_KEYWORD for p in params.values())
    flags = ("training" in params, "mask" in params, var_kw)
    type.__setattr__(cls, "_call_flags_cache", flags)
    return flags


def _to_tensor_leaf(x, dtype):
    """Converts numpy inputs to Tensors; floating inputs take the layer's compute dtype."""
    if isinstance(x, (np.ndarray, np.generic)):
        if dtype is not None and np.issubdtype(x.dtype, np.floating) and x.dtype != dtype:
            x = x.astype(dtype)
        return K.convert_to_tensor(x)
    if isinstance(x, K.Tensor) and dtype is not None and x.dtype != dtype and np.issubdtype(x.dtype, np.floating):
        mask = get_keras_mask(x)
        x = K.cast(x, dtype)
        if mask is not None:
            set_keras_mask(x, mask)
    return x


_TENSOR_TYPES = (K.Tensor,)
_EAGER_LEAVES = (K.Tensor, np.ndarray, np.generic, int, float)


def _shape_of(x):
    shape = getattr(x, "shape", None)
    return tuple(shape) if shape is not None else None


class Layer:
    """Base class of all layers.

    Args:
        trainable: whether the layer's weights are updated by training.
        name: unique name (default: snake-cased class name made unique, e.g. "dense_1").
        dtype: dtype of the weights and computations (default `K.floatx()`, "float32").
        activity_regularizer: penalty on the layer's outputs, added to `losses`.
        input_shape / input_dim / batch_input_shape / batch_size: for the first layer of a
            Sequential model, the shape of its input (without the batch axis, except
            batch_input_shape).

    Subclasses implement `build(input_shape)` (create weights with `add_weight`), `call(inputs,
    training=None, mask=None)` (only the keyword arguments it uses) with backend ops,
    `compute_output_shape(input_shape)` where cheap, and `get_config()`.
    """

    def __new__(cls, *args, **kwargs):
        obj = object.__new__(cls)
        # Recorded for the default get_config of subclasses that do not write one (Keras 3 does
        # the same), and so that Functional models can rebuild a layer's config.
        object.__setattr__(obj, "_init_args", (args, dict(kwargs)))
        return obj

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        # Wrap every `build` defined by a subclass so that, however it is called (by __call__, by
        # user code, with or without super().build()), it marks the layer built and remembers the
        # shape it was built for.
        build = cls.__dict__.get("build")
        if build is not None and not getattr(build, "_pykeras_wrapped", False):
            @functools.wraps(build)
            def build_wrapper(self, *args, **kw):
                result = build(self, *args, **kw)
                object.__setattr__(self, "built", True)
                if args and "_build_input_shape" not in self.__dict__:
                    object.__setattr__(self, "_build_input_shape", args[0])
                elif "input_shape" in kw and "_build_input_shape" not in self.__dict__:
                    object.__setattr__(self, "_build_input_shape", kw["input_shape"])
                return result
            build_wrapper._pykeras_wrapped = True
            cls.build = build_wrapper
        # Argument errors raised while constructing a layer (bad values, unknown activation or
        # initializer names) name the layer class and, once known, the layer name.
        init = cls.__dict__.get("__init__")
        if init is not None and not getattr(init, "_pykeras_wrapped", False):
            @functools.wraps(init)
            def init_wrapper(self, *args, **kw):
                try:
                    init(self, *args, **kw)
                except ValueError as e:
                    if getattr(e, "_pykeras_layer_context", False):
                        raise
                    name = self.__dict__.get("name")
                    where = f"{type(self).__name__} '{name}'" if name else type(self).__name__
                    error = ValueError(f"{where}: {e}")
                    error._pykeras_layer_context = True
                    raise error from None
            init_wrapper._pykeras_wrapped = True
            cls.__init__ = init_wrapper

    def __init__(self, *, activity_regularizer=None, trainable=True, dtype=None, autocast=True, name=None, **kwargs):
        d = self.__dict__
        d["_layers_tracking"] = True
        d["_trainable_variables"] = []
        d["_non_trainable_variables"] = []
        d["_weight_regularizers"] = []
        d["_losses"] = []
        d["_inbound_nodes"] = []
        d["_outbound_nodes"] = []
        d["_trainable"] = bool(trainable)
        d["built"] = False
        if name is not None and not isinstance(name, str):
            raise ValueError(f"Argument `name` must be a string. Received: name={name!r}")
        self.name = name if name else naming.unique_name(naming.to_snake_case(self.__class__.__name__))
        self._dtype = _dtype_name(dtype)
        self.autocast = autocast
        self.activity_regularizer = regularizers.get(activity_regularizer)
        self.input_spec = None
        if "supports_masking" not in d:
            self.supports_masking = type(self).compute_mask is not Layer.compute_mask
        # Keras's first-layer shape arguments.
        input_dim = kwargs.pop("input_dim", None)
        input_shape = kwargs.pop("input_shape", None)
        batch_input_shape = kwargs.pop("batch_input_shape", None)
        if batch_input_shape is None:
            batch_input_shape = kwargs.pop("batch_shape", None)
        batch_size = kwargs.pop("batch_size", None)
        if input_dim is not None and input_shape is None:
            input_shape = (input_dim,)
        if input_shape is not None and batch_input_shape is None:
            if isinstance(input_shape, int):
                input_shape = (input_shape,)
            batch_input_shape = (batch_size,) + tuple(input_shape)
        self._batch_input_shape = tuple(batch_input_shape) if batch_input_shape is not None else None
        self._initial_weights = kwargs.pop("weights", None)
        if kwargs:
            raise ValueError(f"Unrecognized keyword arguments passed to {self.__class__.__name__}: {kwargs}")

    # ------------------------------------------------------------------------------------------
    # Attribute tracking

    def __setattr__(self, name, value):
        d = self.__dict__
        if isinstance(value, (Layer, K.Tensor, list, dict, tuple)) and name not in self._NOT_TRACKED:
            if type(value) is list:
                value = _TrackedList(value)
            elif type(value) is dict:
                value = _TrackedDict(value)
            _epoch[0] += 1
            if isinstance(value, K.Variable) and "_trainable_variables" in d:
                if not any(v is value for v in d["_trainable_variables"]) and \
                        not any(v is value for v in d["_non_trainable_variables"]):
                    (d["_trainable_variables"] if value.trainable else d["_non_trainable_variables"]).append(value)
        object.__setattr__(self, name, value)

    def _check_super_called(self):
        if "_inbound_nodes" not in self.__dict__:
            raise RuntimeError(f"In layer '{self.__class__.__name__}', you forgot to call `super().__init__()` "
                               "as the first statement in the `__init__()` method.")

    _NOT_TRACKED = frozenset({"_inbound_nodes", "_outbound_nodes", "_init_args", "_trainable_variables",
                              "_non_trainable_variables", "_weight_regularizers", "_losses", "input_spec",
                              "_sublayers_cache", "_weights_cache", "_build_input_shape", "_batch_input_shape",
                              "_initial_weights"})

    def _sublayers(self):
        """Direct sublayers, in attribute-assignment order (found inside lists/tuples/dicts too)."""
        d = self.__dict__
        cache = d.get("_sublayers_cache")
        if cache is not None and cache[0] == _epoch[0]:
            return cache[1]
        found, seen = [], {id(self)}

        def visit(value, depth):
            if isinstance(value, Layer):
                if id(value) not in seen:
                    seen.add(id(value))
                    found.append(value)
            elif depth < 4 and isinstance(value, (list, tuple)):
                for item in value:
                    visit(item, depth + 1)
            elif depth < 4 and isinstance(value, dict):
                for item in value.values():
                    visit(item, depth + 1)

        for key, value in d.items():
            if key not in self._NOT_TRACKED and isinstance(value, (Layer, list, tuple, dict)):
                visit(value, 0)
        d["_sublayers_cache"] = (_epoch[0], found)
        return found

    def _flatten_layers(self, include_self=True, recursive=True):
        d = self.__dict__
        key = "_flat_cache_%d%d" % (include_self, recursive)
        cache = d.get(key)
        if cache is not None and cache[0] == _epoch[0]:
            return list(cache[1])
        out = [self] if include_self else []
        seen = {id(self)}
        stack = list(reversed(self._sublayers()))
        while stack:
            layer = stack.pop()
            if id(layer) in seen:
                continue
            seen.add(id(layer))
            out.append(layer)
            if recursive:
                stack.extend(reversed(layer._sublayers()))
        d[key] = (_epoch[0], out)
        return list(out)

    # ------------------------------------------------------------------------------------------
    # dtype

    @property
    def dtype(self):
        """The dtype of the layer's weights (a string, e.g. "float32")."""
        return self._dtype

    # Floating inputs are cast to the layer's dtype when `autocast` is on; `_cast_to` caches that
    # target (None when no cast applies) and is refreshed when either setting changes.
    @property
    def _dtype(self):
        return self.__dict__["_dtype_name"]

    @_dtype.setter
    def _dtype(self, value):
        self.__dict__["_dtype_name"] = value
        self._refresh_cast()

    @property
    def autocast(self):
        return self.__dict__.get("_autocast", True)

    @autocast.setter
    def autocast(self, value):
        self.__dict__["_autocast"] = bool(value)
        self._refresh_cast()

    def _refresh_cast(self):
        d = self.__dict__
        name = d.get("_dtype_name")
        is_float = name in ("float16", "float32", "float64")
        d["_cast_to"] = np.dtype(name) if (is_float and d.get("_autocast", True)) else None

    @property
    def compute_dtype(self):
        return self._dtype

    @property
    def variable_dtype(self):
        return self._dtype

    @property
    def dtype_policy(self):
        return {"module": "keras", "class_name": "DTypePolicy", "config": {"name": self._dtype}, "registered_name": None}

    # ------------------------------------------------------------------------------------------
    # Weights

    def add_weight(self, *args, **kwargs):
        """Creates a weight Variable of this layer and returns it.

        Keras 3 signature: add_weight(shape=None, initializer=None, dtype=None, trainable=True,
        autocast=True, regularizer=None, constraint=None, aggregation="none", name=None); the
        Keras 2 order add_weight(name, shape, dtype, initializer, regularizer, trainable,
        constraint) is accepted too. Default initializer: glorot_uniform for floats, zeros
        otherwise. The constraint is attached to the Variable (the optimizer applies it after each
        update); the regularizer's penalty appears in `losses` while the weight is trainable.
        """
        if args and isinstance(args[0], str):
            order = ("name", "shape", "dtype", "initializer", "regularizer", "trainable", "constraint")
        else:
            order = ("shape", "initializer", "dtype", "trainable", "autocast", "regularizer", "constraint",
                     "aggregation", "overwrite_with_gradient", "name")
        if len(args) > len(order):
            raise TypeError(f"add_weight() takes at most {len(order)} positional arguments ({len(args)} given)")
        for key, value in zip(order, args):
            if key in kwargs:
                raise TypeError(f"add_weight() got multiple values for argument '{key}'")
            kwargs[key] = value
        return self._add_weight(**kwargs)

    def _add_weight(self, shape=None, initializer=None, dtype=None, trainable=True, autocast=True, regularizer=None,
                    constraint=None, aggregation="none", overwrite_with_gradient=False, name=None,
                    synchronization=None, use_resource=None, experimental_autocast=None, **unknown):
        self._check_super_called()
        if unknown:
            raise TypeError(f"add_weight() got unexpected keyword arguments: {sorted(unknown)}")
        shape = () if shape is None else tuple(int(d) for d in shape)
        for d in shape:
            if d < 0:
                raise ValueError(f"Layer '{self.name}': weight '{name}' has a negative dimension in shape {shape}")
        dtype = _dtype_name(dtype or self._dtype)
        if initializer is None:
            initializer = "glorot_uniform" if np.issubdtype(np.dtype(dtype), np.floating) else "zeros"
        initializer = initializers.get(initializer)
        value = initializer(shape, dtype=dtype)
        value = np.asarray(value, dtype=dtype)
        if value.shape != shape:
            value = np.broadcast_to(value, shape).copy()
        name = name or "variable"
        variable = K.Variable(value, dtype=dtype, trainable=trainable, name=name,
                              constraint=constraints.get(constraint))
        try:
            variable.path = f"{self.name}/{name}"
        except AttributeError:
            pass
        (self._trainable_variables if trainable else self._non_trainable_variables).append(variable)
        _epoch[0] += 1
        regularizer = regularizers.get(regularizer)
        if regularizer is not None:
            self._weight_regularizers.append((variable, regularizer))
            try:
                variable.regularizer = regularizer
            except AttributeError:
                pass
        return variable

    add_variable = add_weight

    @property
    def weights(self):
        """All weight Variables: this layer's (creation order), then its sublayers'."""
        d = self.__dict__
        cache = d.get("_weights_cache")
        if cache is not None and cache[0] == _epoch[0]:
            return list(cache[1])
        out, seen = [], set()
        for v in self._trainable_variables + self._non_trainable_variables:
            if id(v) not in seen:
                seen.add(id(v))
                out.append(v)
        for layer in self._sublayers():
            for v in layer.weights:
                if id(v) not in seen:
                    seen.add(id(v))
                    out.append(v)
        d["_weights_cache"] = (_epoch[0], out)
        return list(out)

    variables = weights

    @property
    def trainable_weights(self):
        if not self.trainable:
            return []
        return [v for v in self.weights if v.trainable]

    trainable_variables = trainable_weights

    @property
    def non_trainable_weights(self):
        if not self.trainable:
            return self.weights
        return [v for v in self.weights if not v.trainable]

    non_trainable_variables = non_trainable_weights

    def get_weights(self):
        """The weights as numpy arrays (copies), in `weights` order."""
        return [np.asarray(v).copy() for v in self.weights]

    def set_weights(self, weights):
        """Sets the weights from numpy arrays in `weights` order (count and shapes checked)."""
        own = self.weights
        weights = list(weights)
        if len(weights) != len(own):
            raise ValueError(f"You called `set_weights(weights)` on layer '{self.name}' with a weight list of length "
                             f"{len(weights)}, but the layer was expecting {len(own)} weights.")
        for variable, value in zip(own, weights):
            value = np.asarray(value)
            if tuple(variable.shape) != tuple(value.shape):
                raise ValueError(f"Layer {self.name} weight shape {tuple(variable.shape)} is not compatible with "
                                 f"provided weight shape {tuple(value.shape)}.")
        for variable, value in zip(own, weights):
            variable.assign(np.asarray(value, dtype=variable.dtype))

    def count_params(self):
        """Number of scalars in the layer's weights; ValueError if the layer is not built."""
        if not self.built:
            raise ValueError(f"You tried to call `count_params` on layer '{self.name}', but the layer isn't built. "
                             "You can build it manually via: `layer.build(input_shape)`.")
        return int(sum(int(np.prod(v.shape)) for v in self.weights))

    @property
    def trainable(self):
        return self._trainable

    @trainable.setter
    def trainable(self, value):
        """Freezes (False) or unfreezes the layer, its variables and all its sublayers."""
        value = bool(value)
        self.__dict__["_trainable"] = value
        for v in self._trainable_variables:
            v.trainable = value
        for layer in self._sublayers():
            layer.trainable = value

    # ------------------------------------------------------------------------------------------
    # Losses

    def add_loss(self, loss):
        """Adds a scalar loss Tensor (e.g. from `call`) to this layer's `losses` for this call."""
        _loss_adds[0] += 1
        self._losses.append(loss)

    @property
    def losses(self):
        """Losses of the last call (activity regularization, add_loss) of this layer and its
        sublayers, then the weight-regularization penalties of the trainable weights (computed
        now from the current values, so they are differentiable inside a GradientTape)."""
        layers = self._flatten_layers()
        out = []
        for layer in layers:
            out.extend(layer._losses)
        for layer in layers:
            for variable, regularizer in layer._weight_regularizers:
                if variable.trainable and layer.trainable:
                    out.append(regularizer(variable))
        return out

    # ------------------------------------------------------------------------------------------
    # Building

    def build(self, input_shape=None):
        """Creates the layer's weights for inputs of `input_shape`. Base: nothing to create."""
        self.built = True
        if "_build_input_shape" not in self.__dict__:
            self._build_input_shape = input_shape

    def _maybe_build(self, input_shapes):
        if self.built:
            return
        if input_shapes is not None and not isinstance(input_shapes, list):
            input_shapes = tuple(input_shapes)
        self.build(input_shapes)
        self.built = True
        self.__dict__.setdefault("_build_input_shape", input_shapes)
        if self._initial_weights is not None:
            weights, self._initial_weights = self._initial_weights, None
            self.set_weights(weights)

    def get_build_config(self):
        shape = self.__dict__.get("_build_input_shape")
        if not self.built or shape is None:
            return None
        return {"input_shape": _shape_to_config(shape)}

    def build_from_config(self, config):
        if config and not self.built:
            self._maybe_build(_shape_from_config(config["input_shape"]))

    # ------------------------------------------------------------------------------------------
    # Calling

    def call(self, inputs, *args, **kwargs):
        """The layer's computation (override). Base: identity."""
        return inputs

    def __call__(self, *args, **kwargs):
        if "_inbound_nodes" not in self.__dict__:
            self._check_super_called()
        if not args:
            if "inputs" in kwargs:
                args = (kwargs.pop("inputs"),)
            else:
                raise ValueError(f"Layer '{self.name}' was called without inputs.")
        first = args[0]
        if isinstance(first, KerasTensor) or (
                not isinstance(first, _EAGER_LEAVES) and any_symbolic(first)) or (
                len(args) > 1 and any_symbolic(args[1:])) or (kwargs and any_symbolic(kwargs)):
            return self._symbolic_call(args, kwargs)
        return self._eager_call(args, kwargs)

    def _eager_call(self, args, kwargs):
        cls = type(self)
        flags = cls.__dict__.get("_call_flags_cache") or _call_signature_flags(cls)
        accepts_training, accepts_mask, var_kw = flags
        stack = _context_stack()
        if not stack:
            # Outermost call: the losses of the previous call are dropped (nothing to do when no
            # loss was added anywhere since this layer's tree was last cleared).
            d = self.__dict__
            seen = (_loss_adds[0], _epoch[0])
            if d.get("_losses_cleared_at") != seen:
                for layer in self._flatten_layers():
                    if layer._losses:
                        layer._losses.clear()
                d["_losses_cleared_at"] = seen

        # Inputs: numpy -> Tensor; floating inputs take the layer's dtype.
        inputs = args[0]
        cast_to = self.__dict__.get("_cast_to")
        if isinstance(inputs, _TENSOR_TYPES):
            if cast_to is not None and inputs.dtype != cast_to and inputs.dtype.kind == "f":
                inputs = _to_tensor_leaf(inputs, cast_to)
            single = True
        else:
            inputs = tree.map_structure(lambda x: _to_tensor_leaf(x, cast_to), inputs)
            single = isinstance(inputs, _TENSOR_TYPES)
        if len(args) > 1:
            args = (inputs,) + tuple(tree.map_structure(lambda x: _to_tensor_leaf(x, None), a) for a in args[1:])
        else:
            args = (inputs,)

        # training: explicit argument, else the enclosing call's, else call()'s default.
        training = kwargs.pop("training", None) if "training" in kwargs else None
        if training is None and stack:
            training = stack[-1]
        if training is not None and (accepts_training or var_kw):
            kwargs["training"] = training

        # mask: explicit argument, else the inputs' masks.
        previous_mask = kwargs.get("mask")
        if "mask" in kwargs and not (accepts_mask or var_kw):
            del kwargs["mask"]
        if previous_mask is None:
            if single:
                previous_mask = getattr(inputs, "_keras_mask", None)
            else:
                masks = [get_keras_mask(x) for x in tree.flatten(inputs)]
                if any(m is not None for m in masks):
                    previous_mask = tree.map_structure(get_keras_mask, inputs)
            if previous_mask is not None and accepts_mask:
                kwargs["mask"] = previous_mask

        if not self.built:
            # As Keras, the spec declared in __init__ is checked before build sees the shape.
            if self.input_spec is not None:
                assert_input_compatibility(self.input_spec, inputs, self.name)
            self._maybe_build(_shape_of(inputs) if single else tree.map_structure(_shape_of, inputs))
        if self.input_spec is not None:
            assert_input_compatibility(self.input_spec, inputs, self.name)

        stack.append(training)
        try:
            outputs = self.call(*args, **kwargs)
        finally:
            stack.pop()

        if self.activity_regularizer is not None:
            for out in tree.flatten(outputs):
                if out is not None:
                    penalty = self.activity_regularizer(out)
                    if len(out.shape) > 0 and out.shape[0]:
                        penalty = penalty / float(out.shape[0])  # per-sample strength, as Keras 3
                    _loss_adds[0] += 1
                    self._losses.append(penalty)
        if self.supports_masking:
            if previous_mask is not None or cls.compute_mask is not Layer.compute_mask:
                self._set_output_masks(inputs, outputs, previous_mask)
        return outputs

    def _set_output_masks(self, inputs, outputs, previous_mask):
        output_masks = self.compute_mask(inputs, previous_mask)
        if output_masks is None:
            return
        flat_outputs = tree.flatten(outputs)
        flat_masks = tree.flatten(output_masks)
        if len(flat_masks) != len(flat_outputs):
            flat_masks = flat_masks[:1] * len(flat_outputs)
        for out, mask in zip(flat_outputs, flat_masks):
            if out is not None and mask is not None:
                set_keras_mask(out, mask)

    def compute_mask(self, inputs, mask=None):
        """The mask of the outputs given the inputs' mask (default: the same mask)."""
        return mask

    # ------------------------------------------------------------------------------------------
    # Symbolic calls and shape inference

    def _symbolic_call(self, args, kwargs):
        inputs = args[0]
        if not self.built:
            assert_input_compatibility(self.input_spec, inputs, self.name)
            self._maybe_build(tree.map_structure(_shape_of, inputs))
        assert_input_compatibility(self.input_spec, inputs, self.name)
        outputs = self.compute_output_spec(*args, **kwargs)
        Node(self, call_args=args, call_kwargs=kwargs, outputs=outputs)
        return outputs

    def compute_output_spec(self, *args, **kwargs):
        """KerasTensors describing the outputs for KerasTensor inputs (no Node is recorded)."""
        if type(self).compute_output_shape is not Layer.compute_output_shape:
            input_shapes = tree.map_structure(_shape_of, args[0])
            output_shapes = self.compute_output_shape(input_shapes)
            return _shapes_to_keras_tensors(output_shapes, self.compute_dtype)
        return self._infer_output_spec(args, kwargs)

    def compute_output_shape(self, input_shape):
        """Output shape(s) for `input_shape` (override when cheap; base: runs `call` on dummy data)."""
        def to_kt(shape):
            return KerasTensor(shape, dtype=self.compute_dtype)
        symbolic = _map_shapes(to_kt, input_shape)
        spec = self._infer_output_spec((symbolic,), {})
        return tree.map_structure(lambda t: t.shape if isinstance(t, KerasTensor) else t, spec)

    def _infer_output_spec(self, args, kwargs):
        """Runs `call` on two dummy batches and marks the axes that changed as unknown (None)."""
        saved_values = [np.asarray(v).copy() for v in self.weights]
        saved_losses = {id(layer): list(layer._losses) for layer in self._flatten_layers()}
        try:
            runs = [self._dummy_run(args, kwargs, fill) for fill in (2, 3)]
        finally:
            for v, value in zip(self.weights, saved_values):
                if tuple(v.shape) == value.shape:
                    v.assign(value)
            for layer in self._flatten_layers():
                layer._losses[:] = saved_losses.get(id(layer), [])

        def merge(a, b):
            if a is None:
                return None
            a_shape, b_shape = tuple(a.shape), tuple(b.shape)
            if len(a_shape) != len(b_shape):
                raise ValueError(f"Layer '{self.name}': could not infer the output shape (its rank depends on the "
                                 "batch size); define compute_output_shape() or pass output_shape=.")
            shape = tuple(d1 if d1 == d2 else None for d1, d2 in zip(a_shape, b_shape))
            return KerasTensor(shape, dtype=a.dtype)
        flat = [merge(a, b) for a, b in zip(tree.flatten(runs[0]), tree.flatten(runs[1]))]
        return tree.pack_sequence_as(runs[0], flat)

    def _dummy_run(self, args, kwargs, fill):
        rng = np.random.RandomState(fill)

        def concrete(x):
            if not isinstance(x, KerasTensor):
                return x
            shape = tuple(fill if d is None else d for d in x.shape)
            if np.issubdtype(x.dtype, np.floating):
                value = rng.uniform(0.1, 1.0, size=shape).astype(x.dtype)
            elif x.dtype == np.bool_:
                value = np.ones(shape, dtype=bool)
            else:
                value = np.zeros(shape, dtype=x.dtype)
            return K.convert_to_tensor(value)

        c_args = tree.map_structure(concrete, args)
        c_kwargs = tree.map_structure(concrete, kwargs)
        accepts_training, accepts_mask, var_kw = _call_signature_flags(type(self))
        if "training" in c_kwargs and not (accepts_training or var_kw):
            c_kwargs.pop("training")
        if "mask" in c_kwargs and not (accepts_mask or var_kw):
            c_kwargs.pop("mask")
        stack = _context_stack()
        stack.append(c_kwargs.get("training"))
        try:
            return self.call(*c_args, **c_kwargs)
        finally:
            stack.pop()

    # ------------------------------------------------------------------------------------------
    # Graph accessors (Keras's layer.input / output / input_shape / output_shape)

    def _node_attribute(self, attr, what):
        if not self._inbound_nodes:
            raise AttributeError(f"The layer {self.name} has never been called and thus has no defined {what}.")
        node = self._inbound_nodes[0]
        if attr == "input":
            values = node.input_tensors
        else:
            values = node.output_tensors
        return values[0] if len(values) == 1 else values

    @property
    def input(self):
        """The symbolic input of the layer's first call in a functional graph."""
        return self._node_attribute("input", "input")

    @property
    def output(self):
        """The symbolic output of the layer's first call in a functional graph."""
        return self._node_attribute("output", "output")

    def _shapes_across_nodes(self, attr, what):
        if not self._inbound_nodes:
            shape = self.__dict__.get("_build_input_shape") if attr == "input" else None
            if attr == "output" and self.built and self.__dict__.get("_build_input_shape") is not None:
                try:
                    shape = self.compute_output_shape(self._build_input_shape)
                except Exception:
                    shape = None
            if shape is None:
                raise AttributeError(f"The layer {self.name} has never been called and thus has no defined {what}.")
            return shape
        shapes = []
        for node in self._inbound_nodes:
            tensors = node.input_tensors if attr == "input" else node.output_tensors
            s = [t.shape for t in tensors]
            s = s[0] if len(s) == 1 else s
            if s not in shapes:
                shapes.append(s)
        if len(shapes) > 1:
            raise AttributeError(f'The layer "{self.name}" has multiple inbound nodes with different {what}s. '
                                 f"Hence the notion of \"{what}\" is ill-defined for the layer.")
        return shapes[0]

    def _node_at(self, node_index, what):
        if not self._inbound_nodes:
            raise RuntimeError(f"The layer {self.name} has never been called and thus has no defined {what}.")
        if node_index >= len(self._inbound_nodes):
            raise ValueError(f"Asked to get {what} at node {node_index}, but the layer has only "
                             f"{len(self._inbound_nodes)} inbound nodes.")
        return self._inbound_nodes[node_index]

    def get_input_at(self, node_index):
        """The input KerasTensor(s) of the layer's call number `node_index` (Keras 2 API)."""
        tensors = self._node_at(node_index, "input").input_tensors
        return tensors[0] if len(tensors) == 1 else tensors

    def get_output_at(self, node_index):
        tensors = self._node_at(node_index, "output").output_tensors
        return tensors[0] if len(tensors) == 1 else tensors

    def get_input_shape_at(self, node_index):
        shapes = [t.shape for t in self._node_at(node_index, "input shape").input_tensors]
        return shapes[0] if len(shapes) == 1 else shapes

    def get_output_shape_at(self, node_index):
        shapes = [t.shape for t in self._node_at(node_index, "output shape").output_tensors]
        return shapes[0] if len(shapes) == 1 else shapes

    @property
    def input_shape(self):
        return self._shapes_across_nodes("input", "input shape")

    @property
    def output_shape(self):
        return self._shapes_across_nodes("output", "output shape")

    # ------------------------------------------------------------------------------------------
    # Config

    def get_config(self):
        """The layer's constructor arguments as a serializable dict (Keras 3 layout)."""
        config = {"name": self.name, "trainable": self.trainable, "dtype": self.dtype_policy}
        if self.activity_regularizer is not None:
            config["activity_regularizer"] = regularizers.serialize(self.activity_regularizer)
        if self._batch_input_shape is not None:
            config["batch_input_shape"] = self._batch_input_shape
        # A subclass without its own get_config: reuse the arguments its __init__ received.
        if _uses_default_get_config(type(self)):
            args, kwargs = self.__dict__.get("_init_args", ((), {}))
            if args:
                params = [p for p in inspect.signature(type(self).__init__).parameters.values()][1:]
                positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
                if len(args) > len(positional):
                    raise NotImplementedError(
                        f"Layer {self.__class__.__name__} was created with variadic positional arguments; "
                        "override get_config() and from_config() to make it serializable.")
                kwargs = {**dict(zip([p.name for p in positional], args)), **kwargs}
            extra = {k: v for k, v in kwargs.items() if k not in ("name", "trainable", "dtype")}
            if not all(_is_serializable(v) for v in extra.values()):
                raise NotImplementedError(
                    f"Layer {self.__class__.__name__} has arguments {sorted(extra)} in `__init__()` and therefore "
                    "must override `get_config()`.")
            params = inspect.signature(type(self).__init__).parameters
            if "name" not in params and not any(p.kind == p.VAR_KEYWORD for p in params.values()):
                config = {}
            config.update(extra)
        return config

    @classmethod
    def from_config(cls, config):
        """A new layer from get_config()'s dict."""
        config = dict(config)
        return cls(**config)

    def __repr__(self):
        return f"<{self.__class__.__name__} name={self.name}, built={self.built}>"


def _uses_default_get_config(cls):
    """True for user subclasses that rely on the base get_config (Layer's or Model's)."""
    if cls is Layer or cls.__module__.startswith("pykeras.models"):
        return False
    for klass in cls.__mro__:
        if "get_config" in klass.__dict__:
            return klass is Layer
    return False


def _is_serializable(value):
    if value is None or isinstance(value, (str, int, float, bool)):
        return True
    if isinstance(value, (list, tuple)):
        return all(_is_serializable(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _is_serializable(v) for k, v in value.items())
    return False


def _is_shape(x):
    return isinstance(x, (tuple, list)) and all(d is None or isinstance(d, (int, np.integer)) for d in x)


def _map_shapes(fn, shapes):
    """Applies fn to each shape in a nested structure of shapes (tuples of ints/None)."""
    if shapes is None:
        return None
    if _is_shape(shapes):
        return fn(tuple(shapes))
    if isinstance(shapes, dict):
        return {k: _map_shapes(fn, v) for k, v in shapes.items()}
    return type(shapes)(_map_shapes(fn, s) for s in shapes)


def _shapes_to_keras_tensors(shapes, dtype):
    return _map_shapes(lambda s: KerasTensor(s, dtype=dtype), shapes)


def _shape_to_config(shape):
    return _map_shapes(lambda s: list(s), shape) if shape is not None else None


def _shape_from_config(shape):
    return _map_shapes(lambda s: tuple(s), shape) if shape is not None else None

"""Sequential: a plain stack of layers, each with one input and one output.

The input shape comes from an `Input`/`InputLayer` first, from `input_shape=` (or `input_dim=`,
`batch_input_shape=`) on the first layer, from `model.build(input_shape)`, or from the first data
the model sees. Once it is known the model keeps a functional graph of its layers (so `summary`,
`inputs`/`outputs` and `layer.output` work); each `add` extends that graph, which also checks
at once that the new layer accepts its input. `layers` excludes the InputLayer, as in Keras.
"""
from pykeras.layers import tree
from pykeras.layers.input_layer import InputLayer
from pykeras.layers.keras_tensor import KerasTensor
from pykeras.layers.layer import Layer
from pykeras.models.functional import Functional
from pykeras.models.model import Model


def _input_dtype(layer):
    """The dtype of the input a first layer expects (index layers such as Embedding: int32)."""
    return getattr(layer, "_input_dtype", None) or layer.dtype


class Sequential(Model):
    """`Sequential([layers...], name=None)`; `add(layer)`, `pop()`."""

    def __init__(self, layers=None, trainable=True, name=None, **kwargs):
        self._init_model_base(name=name, trainable=trainable, **kwargs)
        self.__dict__["_stack"] = []          # layers, InputLayer first when there is one
        self.__dict__["_graph"] = None        # Functional over the stack once the input shape is known
        for layer in layers or []:
            self.add(layer, rebuild=False)
        self._maybe_rebuild()

    def _sublayers(self):
        return list(self.__dict__.get("_stack", []))

    @property
    def layers(self):
        stack = self._stack
        return list(stack[1:]) if stack and isinstance(stack[0], InputLayer) else list(stack)

    def add(self, layer, rebuild=True):
        """Appends a layer (or an `Input(...)` tensor as the first element)."""
        if isinstance(layer, KerasTensor) and layer._keras_history is not None \
                and isinstance(layer._keras_history.operation, InputLayer):
            layer = layer._keras_history.operation
        if not isinstance(layer, Layer):
            raise ValueError(f"Only instances of `keras.Layer` can be added to a Sequential model. Received: {layer!r} "
                             f"(of type {type(layer)})")
        if isinstance(layer, InputLayer) and self._stack:
            if isinstance(self._stack[0], InputLayer):
                raise ValueError(f"Sequential model '{self.name}' has already been configured to use input shape "
                                 f"{self._stack[0].batch_shape}. You cannot add a different Input layer to it.")
            raise ValueError("An InputLayer can only be the first layer of a Sequential model.")
        if not self._stack and not isinstance(layer, InputLayer):
            batch_shape = getattr(layer, "_batch_input_shape", None)
            if batch_shape is None and isinstance(layer, Model):
                try:  # a built model as first layer brings its input shape, as in Keras
                    shape = layer.input_shape
                    if isinstance(shape, tuple):
                        batch_shape = (None,) + tuple(shape[1:])
                except (AttributeError, ValueError):
                    batch_shape = None
            if batch_shape is not None:
                self._stack.append(InputLayer(batch_shape=batch_shape, dtype=_input_dtype(layer)))
        if any(l is layer for l in self._stack):
            raise ValueError(f"Layer '{layer.name}' is already in Sequential model '{self.name}'.")
        names = [l.name for l in self._stack]
        if layer.name in names:
            raise ValueError(f'All layers added to a Sequential model should have unique names. Name "{layer.name}" '
                             "is already the name of a layer in this model. Update the `name` argument to pass a "
                             "unique name.")
        self._stack.append(layer)
        if not rebuild:
            return
        graph = self._graph
        if graph is not None and not isinstance(layer, InputLayer):
            try:
                output = layer(graph.outputs[0])
            except Exception:
                self._stack.pop()
                raise
            self._set_graph(graph.inputs[0], output)
        else:
            self._maybe_rebuild()

    def pop(self, rebuild=True):
        """Removes and returns the last layer."""
        if not self.layers:
            raise TypeError("There are no layers in the model.")
        layer = self._stack.pop()
        self.__dict__["_graph"] = None
        self.built = False
        if rebuild:
            self._maybe_rebuild()
        return layer

    def _set_graph(self, inputs, outputs):
        graph = Functional.__new__(Functional)
        graph._init_model_base(name=self.name + "_graph")
        graph._init_graph(inputs, outputs)
        self.__dict__["_graph"] = graph
        self.built = True
        self._build_input_shape = inputs.shape

    def _maybe_rebuild(self):
        if self._stack and isinstance(self._stack[0], InputLayer) and len(self._stack) >= 1:
            self._build_graph(self._stack[0])

    def _build_graph(self, input_layer):
        x = inputs = input_layer.output
        for layer in self._stack[1:]:
            x = layer(x)
            if isinstance(x, (list, tuple, dict)):
                raise ValueError(f"All layers in a Sequential model should have a single output tensor; layer "
                                 f"'{layer.name}' returned {len(tree.flatten(x))}. For multi-output layers, use "
                                 "the functional API.")
        if len(self._stack) > 1:
            self._set_graph(inputs, x)
        else:
            self.__dict__["_graph"] = None

    def build(self, input_shape=None):
        """Builds the model for inputs of `input_shape` (batch axis included, may be None)."""
        if self._graph is not None:
            self.built = True
            return
        if input_shape is None:
            if self._stack and isinstance(self._stack[0], InputLayer):
                input_shape = self._stack[0].batch_shape
            else:
                raise ValueError(f"Sequential model '{self.name}' cannot be built because it has no input shape; "
                                 "pass `input_shape` or call the model on data.")
        if isinstance(input_shape, list) and input_shape and isinstance(input_shape[0], (tuple, list)):
            input_shape = input_shape[0]
        input_shape = tuple(input_shape)
        if not self._stack or not isinstance(self._stack[0], InputLayer):
            # As Keras 3: the batch size of the shape given (or of the first data) is kept; the
            # model still accepts any batch size.
            self._stack.insert(0, InputLayer(batch_shape=input_shape,
                                             dtype=_input_dtype(self._stack[0]) if self._stack else None))
        self._build_graph(self._stack[0])
        self.built = True

    def _maybe_build(self, input_shapes):
        if self.built and self._graph is not None:
            return
        if isinstance(input_shapes, list):
            input_shapes = input_shapes[0]
        self.build(input_shapes)

    def call(self, inputs, training=None, mask=None):
        if self._graph is not None:
            return self._graph.call(inputs, training=training, mask=mask)
        outputs = inputs
        for layer in self.layers:
            outputs = layer(outputs)
        return outputs

    def compute_output_spec(self, inputs, training=None, mask=None, **kwargs):
        if self._graph is None:
            self.build(inputs.shape)
        return self._graph.compute_output_spec(inputs)

    def compute_output_shape(self, input_shape):
        if self._graph is None:
            self.build(input_shape)
        return self._graph.compute_output_shape(input_shape)

    # Graph accessors, delegated to the internal functional graph.
    def _require_graph(self, what):
        if self._graph is None:
            raise AttributeError(f"Sequential model '{self.name}' has no defined {what} yet: it has not been built "
                                 "(give it an input shape, call build(), or call it on data).")
        return self._graph

    @property
    def inputs(self):
        return self._require_graph("inputs").inputs

    @property
    def outputs(self):
        return self._require_graph("outputs").outputs

    @property
    def input(self):
        return self._require_graph("input").inputs[0]

    @property
    def output(self):
        return self._require_graph("output").outputs[0]

    @property
    def input_shape(self):
        return self._require_graph("input shape").inputs[0].shape

    @property
    def output_shape(self):
        return self._require_graph("output shape").outputs[0].shape

    @property
    def input_names(self):
        return self._require_graph("inputs").input_names

    @property
    def output_names(self):
        if self._graph is not None:
            return self._graph.output_names
        return [self.layers[-1].name] if self.layers else []

    @property
    def _nodes_by_depth(self):
        return self._require_graph("graph")._nodes_by_depth

    def get_config(self):
        from pykeras.layers import serialize
        layers = [serialize(layer) for layer in self._stack]
        config = {"name": self.name, "trainable": self.trainable, "dtype": self.dtype_policy, "layers": layers}
        if self._graph is not None:
            config["build_input_shape"] = list(self._graph.inputs[0].shape)
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        from pykeras.layers import deserialize
        if isinstance(config, list):  # Keras 2.0 stored only the layer list
            config = {"layers": config}
        model = cls(name=config.get("name"))
        for layer_config in config["layers"]:
            model.add(deserialize(layer_config, custom_objects=custom_objects))
        shape = config.get("build_input_shape")
        if not model.built and shape:
            model.build(tuple(shape))
        if "trainable" in config:
            model.trainable = config["trainable"]
        return model

"""Model: a Layer with training (inherited from Trainer), summary, weights I/O and layer access.

`Model(inputs, outputs)` builds a functional model (the Functional subclass); subclassing Model
and writing `call` gives a subclassed model whose layers are the Layer attributes assigned in
`__init__` (weights collected recursively, in assignment order). A subclass may also call
`super().__init__(inputs=..., outputs=...)`: it then becomes a functional model of its class.
"""
from pykeras.layers.keras_tensor import KerasTensor
from pykeras.layers.layer import Layer
from pykeras.models.trainer import Trainer


def _functional_args(args, kwargs):
    return (len(args) >= 2) or ("inputs" in kwargs and "outputs" in kwargs) or (len(args) == 1 and "outputs" in kwargs)


_functional_variants = {}


def _functional_variant(cls):
    """A subclass of both `cls` and Functional, for subclasses that pass inputs/outputs up."""
    from pykeras.models.functional import Functional
    if issubclass(cls, Functional):
        return cls
    if cls not in _functional_variants:
        _functional_variants[cls] = type(cls.__name__, (cls, Functional), {"__module__": cls.__module__})
    return _functional_variants[cls]


class Model(Trainer, Layer):
    """A trainable group of layers: functional (`Model(inputs, outputs)`) or subclassed.

    Training methods (compile, fit, evaluate, predict, train_on_batch, ...) come from
    `pykeras.models.trainer.Trainer`.
    """

    def __new__(cls, *args, **kwargs):
        if cls is Model and _functional_args(args, kwargs):
            from pykeras.models.functional import Functional
            return Functional.__new__(Functional, *args, **kwargs)
        return super().__new__(cls, *args, **kwargs)

    def __init__(self, *args, **kwargs):
        if _functional_args(args, kwargs):
            from pykeras.models.functional import Functional
            if not isinstance(self, Functional):
                self.__class__ = _functional_variant(type(self))
            names = ("inputs", "outputs", "name")
            for key, value in zip(names, args):
                kwargs[key] = value
            Functional.__init__(self, **kwargs)
            return
        if args:
            raise TypeError(f"Model.__init__ takes keyword arguments only (name, trainable, dtype); got {args!r}")
        self._init_model_base(**kwargs)

    def _init_model_base(self, name=None, trainable=True, dtype=None, **kwargs):
        Layer.__init__(self, name=name, trainable=trainable, dtype=dtype, **kwargs)
        Trainer.__init__(self)
        self.stop_training = False

    # ------------------------------------------------------------------------------------------

    @property
    def layers(self):
        """The model's direct sublayers, in assignment order."""
        return self._flatten_layers(include_self=False, recursive=False)

    def get_layer(self, name=None, index=None):
        """A layer by name or by index in `layers` (exactly one of the two)."""
        if index is not None and name is not None:
            raise ValueError(f"Provide only a layer name or a layer index. Received: index={index}, name={name}.")
        if index is not None:
            layers = self.layers
            if len(layers) <= index:
                raise ValueError(f"Was asked to retrieve layer at index {index} but model only has "
                                 f"{len(layers)} layers.")
            return layers[index]
        if name is not None:
            for layer in self.layers:
                if layer.name == name:
                    return layer
            raise ValueError(f"No such layer: {name}. Existing layers are: {[layer.name for layer in self.layers]}.")
        raise ValueError("Provide either a layer name or layer index at `get_layer`.")

    def build(self, input_shape=None):
        """Builds a subclassed model by running `call` on dummy data of `input_shape`."""
        if self.built:
            return
        if input_shape is None:
            raise ValueError(f"Model '{self.name}': build() needs an input_shape")
        from pykeras.layers.layer import _map_shapes
        symbolic = _map_shapes(lambda s: KerasTensor(s), input_shape)
        self._infer_output_spec((symbolic,), {})
        self.built = True
        self._build_input_shape = input_shape

    @property
    def output_names(self):
        names = self.__dict__.get("_output_names")
        return list(names) if names is not None else ["output_1"]

    @output_names.setter
    def output_names(self, value):
        self.__dict__["_output_names"] = list(value)

    @property
    def metrics_names(self):
        return [m.name for m in getattr(self, "metrics", [])]

    def summary(self, line_length=None, positions=None, print_fn=None, expand_nested=False, show_trainable=False,
                layer_range=None):
        """Prints Keras 3's summary table (see pykeras.models.summary)."""
        from pykeras.models.summary import print_summary
        print_summary(self, line_length=line_length, positions=positions, print_fn=print_fn,
                      expand_nested=expand_nested, show_trainable=show_trainable, layer_range=layer_range)

    def to_json(self, **kwargs):
        """The model's architecture as a JSON string (Keras 3 layout, loadable by Keras)."""
        from pykeras.saving import model_to_json
        return model_to_json(self, **kwargs)

    @classmethod
    def from_config(cls, config, custom_objects=None):
        """A functional config ("layers", "input_layers", "output_layers") rebuilds the graph;
        otherwise the config holds the constructor arguments of a subclassed model."""
        from pykeras.models.functional import Functional, functional_from_config_parts
        if "input_layers" in config and "output_layers" in config:
            if cls is Model or issubclass(cls, Functional):
                return Functional.from_config(config, custom_objects=custom_objects)
            inputs, outputs, _ = functional_from_config_parts(config, custom_objects)
            return cls(inputs=inputs, outputs=outputs, name=config.get("name"))
        return cls(**config)

    # Saving is implemented in pykeras.saving; these are Keras's entry points.
    def save(self, filepath, overwrite=True, **kwargs):
        from pykeras import saving
        return saving.save_model(self, filepath, overwrite=overwrite, **kwargs)

    def save_weights(self, filepath, overwrite=True, **kwargs):
        from pykeras import saving
        return saving.save_weights(self, filepath, overwrite=overwrite, **kwargs)

    def load_weights(self, filepath, **kwargs):
        from pykeras import saving
        return saving.load_weights(self, filepath, **kwargs)


def model_from_json(json_string, custom_objects=None):
    """A freshly initialized model from `Model.to_json()` output (Keras 3 or Keras 2 JSON).

    As in Keras 3, the model is compiled when the JSON carries a compile_config.
    """
    from pykeras.saving import model_from_json as _model_from_json
    return _model_from_json(json_string, custom_objects=custom_objects)

"""InputLayer and Input(): the entry points of a functional graph.

`Input(shape=(12,))` creates an InputLayer whose single Node has no inputs and whose output is a
KerasTensor of shape (None, 12); models built from it feed their real inputs in place of that
tensor.
"""
import numpy as np

from pykeras import backend as K
from pykeras.layers import naming
from pykeras.layers.keras_tensor import KerasTensor, Node
from pykeras.layers.layer import Layer


class InputLayer(Layer):
    """The layer behind `Input`: holds the batch shape and dtype of a model input.

    Args:
        shape: shape without the batch axis (None entries for unknown sizes).
        batch_size: fixed batch size (default None: any).
        dtype: input dtype (default floatx; integer inputs for Embedding indices).
        sparse: accepted for compatibility; inputs are dense.
        batch_shape: full shape including the batch axis (instead of shape/batch_size).
        input_tensor: an existing KerasTensor to use as this layer's output.
        name: layer (and tensor) name (default "input_layer", "input_layer_1", ...).
    """

    def __init__(self, shape=None, batch_size=None, dtype=None, sparse=None, batch_shape=None, input_tensor=None,
                 optional=False, name=None, ragged=None, **kwargs):
        # Keras 2 spellings.
        if "input_shape" in kwargs:
            shape = kwargs.pop("input_shape")
        if "batch_input_shape" in kwargs:
            batch_shape = kwargs.pop("batch_input_shape")
        kwargs.pop("trainable", None)
        super().__init__(name=name or naming.unique_name("input_layer"), dtype=dtype, **kwargs)
        if shape is not None and batch_shape is not None:
            raise ValueError("You cannot pass both `shape` and `batch_shape` at the same time.")
        if batch_size is not None and batch_shape is not None:
            raise ValueError("You cannot pass both `batch_size` and `batch_shape` at the same time.")
        if input_tensor is not None:
            if not isinstance(input_tensor, KerasTensor):
                raise ValueError(f"Argument `input_tensor` must be a KerasTensor. Received: {input_tensor!r}")
            batch_shape = input_tensor.shape
            dtype = input_tensor.dtype
        if shape is None and batch_shape is None:
            raise ValueError("You must pass a `shape` argument.")
        if shape is not None:
            if isinstance(shape, int):
                shape = (shape,)
            shape = tuple(shape)
            for d in shape:
                if d is not None and (not isinstance(d, (int, np.integer)) or d < 0):
                    raise ValueError(f"Input shape entries must be non-negative ints or None. Received: shape={shape}")
            batch_shape = (batch_size,) + shape
        self._batch_shape = tuple(None if d is None else int(d) for d in batch_shape)
        self._dtype = np.dtype(dtype or K.floatx()).name
        self.sparse = bool(sparse)
        self.optional = optional
        self.built = True
        self._build_input_shape = self._batch_shape
        if input_tensor is None:
            input_tensor = KerasTensor(self._batch_shape, dtype=self._dtype, name=self.name)
        self._input_tensor = input_tensor
        Node(self, call_args=(), call_kwargs={}, outputs=input_tensor)

    @property
    def batch_shape(self):
        return self._batch_shape

    def call(self, inputs):
        return inputs

    def compute_output_shape(self, input_shape=None):
        return self._batch_shape

    def get_config(self):
        return {"batch_shape": self._batch_shape, "dtype": self._dtype, "sparse": self.sparse,
                "ragged": False, "name": self.name, "optional": self.optional}


def Input(shape=None, batch_size=None, dtype=None, sparse=None, batch_shape=None, name=None, tensor=None,
          optional=False, ragged=None, **kwargs):
    """A symbolic input of a functional model: `x = Input(shape=(784,))` -> KerasTensor (None, 784).

    Args as InputLayer; `tensor` is an existing KerasTensor to wrap.
    """
    layer = InputLayer(shape=shape, batch_size=batch_size, dtype=dtype, sparse=sparse, batch_shape=batch_shape,
                       name=name, input_tensor=tensor, optional=optional, **kwargs)
    return layer.output

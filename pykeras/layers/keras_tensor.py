"""KerasTensor: a symbolic tensor of the functional API, and the Node that produced it.

A KerasTensor has a shape (the batch axis and any unknown axis are None), a dtype and a history
`(layer, node_index, tensor_index)`: the layer whose call produced it, which of that layer's
calls (its inbound Node), and which of that call's outputs. Calling a layer on KerasTensors
records a Node and returns fresh KerasTensors; the functional Model walks these Nodes.

Python operators on KerasTensors (x + y, x * 2, -x, x[:, 0], x @ w) record a small `TensorOp`
layer, so `Model(inp, inp * 2)` works as in Keras. Backend functions cannot consume KerasTensors:
wrap them in a `Lambda` layer.
"""
import collections

import numpy as np

from pykeras.layers import tree

KerasHistory = collections.namedtuple("KerasHistory", ["operation", "node_index", "tensor_index"])

_tensor_names = collections.Counter()


def _auto_tensor_name():
    count = _tensor_names["keras_tensor"]
    _tensor_names["keras_tensor"] += 1
    return "keras_tensor" if count == 0 else f"keras_tensor_{count}"


class KerasTensor:
    """Symbolic placeholder: shape, dtype, and where it came from (`_keras_history`)."""

    def __init__(self, shape, dtype="float32", sparse=False, name=None):
        self.shape = tuple(None if d is None else int(d) for d in shape)
        self.dtype = np.dtype(dtype)
        self.sparse = bool(sparse)
        self.name = name or _auto_tensor_name()
        self._keras_history = None

    @property
    def ndim(self):
        return len(self.shape)

    def __repr__(self):
        return f"<KerasTensor shape={self.shape}, dtype={self.dtype.name}, sparse={self.sparse}, name={self.name}>"

    def __array__(self, *args, **kwargs):
        raise TypeError(
            f"A KerasTensor ({self.name}, shape {self.shape}) is symbolic: it has no value. It is the input or "
            "output of a functional model being built. To apply a backend function to it, wrap that code in a "
            "layer, e.g. `layers.Lambda(lambda x: K.mean(x, axis=1))(x)`.")

    def __bool__(self):
        raise TypeError("A symbolic KerasTensor cannot be used as a Python bool.")

    def __len__(self):
        raise TypeError("A symbolic KerasTensor has no len(); use .shape.")

    def __iter__(self):
        raise TypeError("A symbolic KerasTensor is not iterable.")

    # Operators record a TensorOp layer (see the module docstring).
    def _op(self, name, fn, *others):
        from pykeras.layers.core import TensorOp
        return TensorOp(fn, op_name=name)([self, *others])

    def __add__(self, o): return self._op("add", lambda a, b: a + b, o)
    def __radd__(self, o): return self._op("add", lambda a, b: b + a, o)
    def __sub__(self, o): return self._op("subtract", lambda a, b: a - b, o)
    def __rsub__(self, o): return self._op("subtract", lambda a, b: b - a, o)
    def __mul__(self, o): return self._op("multiply", lambda a, b: a * b, o)
    def __rmul__(self, o): return self._op("multiply", lambda a, b: b * a, o)
    def __truediv__(self, o): return self._op("divide", lambda a, b: a / b, o)
    def __rtruediv__(self, o): return self._op("divide", lambda a, b: b / a, o)
    def __floordiv__(self, o): return self._op("floor_divide", lambda a, b: a // b, o)
    def __mod__(self, o): return self._op("mod", lambda a, b: a % b, o)
    def __pow__(self, o): return self._op("power", lambda a, b: a ** b, o)
    def __rpow__(self, o): return self._op("power", lambda a, b: b ** a, o)
    def __matmul__(self, o): return self._op("matmul", lambda a, b: a @ b, o)
    def __rmatmul__(self, o): return self._op("matmul", lambda a, b: b @ a, o)
    def __neg__(self): return self._op("negative", lambda a: -a)
    def __abs__(self): return self._op("absolute", lambda a: abs(a))
    def __lt__(self, o): return self._op("less", lambda a, b: a < b, o)
    def __le__(self, o): return self._op("less_equal", lambda a, b: a <= b, o)
    def __gt__(self, o): return self._op("greater", lambda a, b: a > b, o)
    def __ge__(self, o): return self._op("greater_equal", lambda a, b: a >= b, o)

    def __getitem__(self, key):
        return self._op("get_item", lambda a: a[key])

    __hash__ = object.__hash__


def symbolic_call(fn, args, kwargs=None, name=None):
    """Records `fn(*args, **kwargs)` on arguments holding KerasTensors as a TensorOp layer call and
    returns its symbolic output(s): the hook for backend functions given KerasTensors, so that
    `ops.mean(Input((3, 4)), axis=1)` builds a graph node as in Keras 3."""
    from pykeras.layers.core import TensorOp
    kwargs = dict(kwargs or {})
    op_name = name or getattr(fn, "__name__", "tensor_op").strip("_<>") or "tensor_op"
    return TensorOp(lambda a, k: fn(*a, **k), name=None, op_name=op_name)([list(args), kwargs])


def is_keras_tensor(x):
    return isinstance(x, KerasTensor)


def any_symbolic(structure):
    return any(isinstance(x, KerasTensor) for x in tree.flatten(structure))


class Node:
    """One call of a layer in the graph: its arguments (with KerasTensors) and outputs.

    `input_tensors` are the KerasTensors found in the call's arguments, in order; `parent_nodes`
    the Nodes that produced them. Recording a Node appends it to the layer's `_inbound_nodes` and to
    the producing layers' `_outbound_nodes`, and stamps the outputs' `_keras_history`.
    """

    def __init__(self, operation, call_args=(), call_kwargs=None, outputs=None):
        self.operation = operation
        self.call_args = tuple(call_args)
        self.call_kwargs = dict(call_kwargs or {})
        self.outputs = outputs
        self.output_tensors = [t for t in tree.flatten(outputs) if isinstance(t, KerasTensor)]
        self.input_tensors = [t for t in tree.flatten((self.call_args, self.call_kwargs)) if isinstance(t, KerasTensor)]
        self.is_input = not self.input_tensors
        # The common case (one KerasTensor argument, no keyword arguments) skips the tree walk.
        self._single_input = (len(self.call_args) == 1 and isinstance(self.call_args[0], KerasTensor)
                              and not self.call_kwargs)
        self._single_output = isinstance(outputs, KerasTensor)
        node_index = len(operation._inbound_nodes)
        for i, t in enumerate(self.output_tensors):
            t._keras_history = KerasHistory(operation, node_index, i)
        operation._inbound_nodes.append(self)
        for t in self.input_tensors:
            if t._keras_history is not None:
                t._keras_history.operation._outbound_nodes.append(self)

    @property
    def parent_nodes(self):
        parents = []
        for t in self.input_tensors:
            history = t._keras_history
            if history is not None:
                parents.append(history.operation._inbound_nodes[history.node_index])
        return parents

    def fill_in(self, values_by_id):
        """The call's (args, kwargs) with each KerasTensor replaced by values_by_id[id(tensor)]."""
        if self._single_input:
            return (values_by_id[id(self.call_args[0])],), {}

        def replace(x):
            return values_by_id[id(x)] if isinstance(x, KerasTensor) else x
        return tree.map_structure(replace, self.call_args), tree.map_structure(replace, self.call_kwargs)

    def store_outputs(self, values_by_id, outputs):
        """Records the call's real outputs in values_by_id, keyed by id() of its KerasTensors."""
        if self._single_output:
            values_by_id[id(self.output_tensors[0])] = outputs
        else:
            for t, y in zip(self.output_tensors, tree.flatten(outputs)):
                values_by_id[id(t)] = y

    def __repr__(self):
        return f"<Node {self.operation.name}: {len(self.input_tensors)} in, {len(self.output_tensors)} out>"

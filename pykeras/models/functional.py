"""Functional models: `Model(inputs, outputs)` over a graph of layer calls.

Construction walks the Nodes backwards from the outputs (Keras's map_graph): every Node gets a
depth (outputs 0, their producers 1, ...), the layers are listed by decreasing depth (InputLayers
first, then in discovery order), and the Nodes sorted by decreasing depth form the execution plan.
A call feeds the real inputs in place of the input KerasTensors and runs the plan once, each Node
calling its layer with the values of the KerasTensors it was recorded with (masks ride along on the
tensors, `training` is inherited from the model call). Symbolic calls (a model used as a layer)
walk the same plan with each layer's `compute_output_spec`.

Configs use Keras 3's layout ("layers" with "inbound_nodes" of {"args", "kwargs"} where tensors
are {"class_name": "__keras_tensor__", ...}); `from_config` also reads Keras 2's nested-list
inbound nodes.
"""
import collections

import numpy as np

from pykeras import backend as K
from pykeras.layers import tree
from pykeras.layers.keras_tensor import KerasTensor, any_symbolic
from pykeras.layers.layer import get_keras_mask, set_keras_mask
from pykeras.models.model import Model


def _build_map(inputs, outputs):
    """Nodes reachable from `outputs` (stopping at `inputs`), in decreasing-depth order."""
    finished, in_progress = set(), set()
    ordered_nodes, layer_indices = [], {}
    input_ids = {id(t) for t in inputs}

    def visit(tensor):
        history = tensor._keras_history
        if history is None:
            raise ValueError(f"Output tensors of a functional Model must be the outputs of Keras layers. "
                             f"Received: {tensor}")
        layer, node_index, _ = history
        node = layer._inbound_nodes[node_index]
        if id(node) in finished:
            return
        if id(node) in in_progress:
            raise ValueError(f"Tensor {tensor} from layer '{layer.name}' is part of a cycle.")
        if layer not in layer_indices:
            layer_indices[layer] = len(layer_indices)
        if node.is_input and id(tensor) not in input_ids:
            raise ValueError(f"Graph disconnected: cannot obtain value for tensor {tensor} from input layer "
                             f"'{layer.name}': it is not one of the model's inputs {[t.name for t in inputs]}.")
        in_progress.add(id(node))
        if not node.is_input and id(tensor) not in input_ids:
            for t in node.input_tensors:
                visit(t)
        finished.add(id(node))
        in_progress.discard(id(node))
        ordered_nodes.append(node)

    for out in outputs:
        visit(out)
    return ordered_nodes, layer_indices


def map_graph(inputs, outputs):
    """(nodes_by_depth, layers in Keras order) of the graph from `inputs` to `outputs`."""
    ordered_nodes, layer_indices = _build_map(inputs, outputs)
    node_depths, layer_depths = {}, {}
    for node in reversed(ordered_nodes):
        depth = node_depths.setdefault(node, 0)
        depth = max(depth, layer_depths.get(node.operation, 0))
        layer_depths[node.operation] = depth
        node_depths[node] = depth
        for parent in node.parent_nodes:
            node_depths[parent] = max(depth + 1, node_depths.get(parent, 0))
    for t in inputs:
        layer = t._keras_history.operation
        if layer not in layer_depths:
            layer_depths[layer] = 0
            layer_indices[layer] = -1
            node_depths[layer._inbound_nodes[0]] = 0

    nodes_by_depth = collections.defaultdict(list)
    for node, depth in node_depths.items():
        nodes_by_depth[depth].append(node)
    layers_by_depth = collections.defaultdict(list)
    for layer, depth in layer_depths.items():
        layers_by_depth[depth].append(layer)
    layers = []
    for depth in sorted(layers_by_depth, reverse=True):
        layers.extend(sorted(layers_by_depth[depth], key=lambda l: layer_indices[l]))

    # Every node's inputs must be computable from the model inputs.
    computable = {id(t) for t in inputs}
    done = []
    for depth in sorted(nodes_by_depth, reverse=True):
        for node in nodes_by_depth[depth]:
            if not node.is_input or id(node.output_tensors[0]) not in computable:
                for t in node.input_tensors:
                    if id(t) not in computable:
                        raise ValueError(f"Graph disconnected: cannot find parent for tensor {t} at layer "
                                         f"'{node.operation.name}'. The following previous layers were accessed "
                                         f"without issue: {done}")
            for t in node.output_tensors:
                computable.add(id(t))
            done.append(node.operation.name)

    names = [layer.name for layer in layers]
    for name in names:
        if names.count(name) != 1:
            raise ValueError(f'The name "{name}" is used {names.count(name)} times in the model. '
                             "All layer names should be unique.")
    return dict(nodes_by_depth), layers


def release_plan(plan, graph_outputs):
    """Per step of the execution plan, the ids of the values no later step reads (graph outputs
    excepted). A call drops them at once, so an eager pass holds only the live activations: the
    memory of the ones it dropped is reused, still in cache and mapped, by the next layers instead
    of every call faulting in fresh pages for all of them (ResNet50 at batch 8 keeps ~350 MB
    otherwise). Values the tape needs for the backward pass stay alive through the tape."""
    last_use = {}
    for step, node in enumerate(plan):
        for t in node.input_tensors:
            last_use[id(t)] = step
    keep = {id(t) for t in graph_outputs}
    release = [[] for _ in plan]
    for tensor_id, step in last_use.items():
        if tensor_id not in keep:
            release[step].append(tensor_id)
    return release


class Functional(Model):
    """A Model defined by its input and output KerasTensors (lists and dicts allowed)."""

    def __init__(self, inputs, outputs, name=None, trainable=True, **kwargs):
        self._init_model_base(name=name, trainable=trainable, **kwargs)
        self._init_graph(inputs, outputs)

    def _init_graph(self, inputs, outputs):
        if isinstance(inputs, dict):
            for key, t in inputs.items():
                if not isinstance(t, KerasTensor):
                    raise ValueError(f"All `inputs` values must be KerasTensors. Received: inputs={inputs}")
        flat_inputs = tree.flatten(inputs)
        flat_outputs = tree.flatten(outputs)
        for t in flat_inputs:
            if not isinstance(t, KerasTensor):
                raise ValueError(f"All `inputs` of a functional Model must be KerasTensors (from `Input`). "
                                 f"Received: {t!r}")
        for t in flat_outputs:
            if not isinstance(t, KerasTensor):
                raise ValueError(f"All `outputs` of a functional Model must be KerasTensors. Received: {t!r}")
        if isinstance(inputs, (list, tuple)) and len(inputs) == 1 and not isinstance(inputs[0], (list, tuple, dict)):
            inputs = inputs[0] if isinstance(inputs, tuple) else inputs
        d = self.__dict__
        d["_inputs_struct"] = inputs
        d["_outputs_struct"] = outputs
        d["_graph_inputs"] = flat_inputs
        d["_graph_outputs"] = flat_outputs
        nodes_by_depth, layers = map_graph(flat_inputs, flat_outputs)
        d["_nodes_by_depth"] = nodes_by_depth
        d["_operations"] = layers
        plan = []
        for depth in sorted(nodes_by_depth, reverse=True):
            plan.extend(node for node in nodes_by_depth[depth] if not node.is_input)
        d["_execution_plan"] = plan
        d["_release"] = release_plan(plan, flat_outputs)
        self.built = True
        self._build_input_shape = tree.map_structure(lambda t: t.shape, inputs)

    # ------------------------------------------------------------------------------------------

    def _sublayers(self):
        return list(self.__dict__.get("_operations", []))

    @property
    def layers(self):
        """All layers of the graph, InputLayers included, in Keras order."""
        return list(self._operations)

    @property
    def inputs(self):
        return list(self._graph_inputs)

    @property
    def outputs(self):
        return list(self._graph_outputs)

    @property
    def input(self):
        return self._inputs_struct

    @property
    def output(self):
        outputs = self._outputs_struct
        if isinstance(outputs, (list, tuple)) and len(outputs) == 1:
            return outputs[0]
        return outputs

    @property
    def input_shape(self):
        shapes = [t.shape for t in self._graph_inputs]
        return shapes[0] if len(shapes) == 1 else shapes

    @property
    def output_shape(self):
        shapes = [t.shape for t in self._graph_outputs]
        return shapes[0] if len(shapes) == 1 else shapes

    @property
    def input_names(self):
        return [t._keras_history.operation.name for t in self._graph_inputs]

    @property
    def output_names(self):
        if isinstance(self._outputs_struct, dict):
            return sorted(self._outputs_struct)
        return [t._keras_history.operation.name for t in self._graph_outputs]

    # ------------------------------------------------------------------------------------------
    # Running the graph

    def _standardize_inputs(self, inputs):
        """Flat list of Tensors in `self.inputs` order, converted, cast and rank-adjusted."""
        refs = self._graph_inputs
        if isinstance(inputs, dict):
            if isinstance(self._inputs_struct, dict):
                missing = [k for k in self._inputs_struct if k not in inputs]
                if missing:
                    raise ValueError(f"Model '{self.name}': missing inputs {missing}; expected keys "
                                     f"{sorted(self._inputs_struct)}, received {sorted(inputs)}")
                flat = tree.flatten({k: inputs[k] for k in self._inputs_struct})
            else:
                names = self.input_names
                if all(n in inputs for n in names):
                    flat = [inputs[n] for n in names]
                elif len(inputs) == len(refs):
                    flat = list(inputs.values())
                else:
                    raise ValueError(f"Model '{self.name}': input dict keys {sorted(inputs)} do not match the "
                                     f"model's input names {names}")
        elif isinstance(inputs, (list, tuple)):
            if len(refs) == 1:
                flat = [inputs[0]] if len(inputs) == 1 else [inputs]
            else:
                flat = list(inputs) if len(inputs) == len(refs) else tree.flatten(inputs)
        else:
            flat = [inputs]
        if len(flat) != len(refs):
            raise ValueError(f'Layer "{self.name}" expects {len(refs)} input(s), but it received {len(flat)} '
                             "input tensors.")
        if len(flat) == 1:
            x, ref = flat[0], refs[0]
            if isinstance(x, K.Tensor) and x.dtype == ref.dtype and len(x.shape) == len(ref.shape):
                shape, ref_shape = x.shape, ref.shape
                if all(r is None or r == d for r, d in zip(ref_shape[1:], shape[1:])):
                    return [x]
        out = []
        for index, (x, ref) in enumerate(zip(flat, refs)):
            mask = get_keras_mask(x)
            if not isinstance(x, (K.Tensor, KerasTensor)):
                x = K.convert_to_tensor(np.asarray(x), dtype=ref.dtype)
            elif isinstance(x, K.Tensor) and x.dtype != ref.dtype:
                x = K.cast(x, ref.dtype)
            if len(x.shape) == len(ref.shape) - 1 and ref.shape[-1] == 1:
                x = K.expand_dims(x, -1) if isinstance(x, K.Tensor) else x
            elif len(x.shape) == len(ref.shape) + 1 and x.shape[-1] == 1 and isinstance(x, K.Tensor):
                x = K.squeeze(x, -1)
            shape = tuple(x.shape)
            # The batch axis is not checked (Keras's input specs leave it out).
            if len(shape) != len(ref.shape) or any(r is not None and s is not None and r != s
                                                   for r, s in zip(ref.shape[1:], shape[1:])):
                raise ValueError(f'Input {index} of layer "{self.name}" is incompatible with the layer: '
                                 f"expected shape={ref.shape}, found shape={shape}")
            if mask is not None:
                set_keras_mask(x, mask)
            out.append(x)
        return out

    def call(self, inputs, training=None, mask=None):
        if any_symbolic(inputs):
            return self.compute_output_spec(inputs, training=training, mask=mask)
        flat = self._standardize_inputs(inputs)
        if mask is not None:
            for x, m in zip(flat, tree.flatten(mask)):
                if m is not None:
                    set_keras_mask(x, m)
        values = {id(ref): x for ref, x in zip(self._graph_inputs, flat)}
        release = self._release
        for step, node in enumerate(self._execution_plan):
            if node._single_input:
                # The common node: one real tensor in, straight to the eager path.
                outputs = node.operation._eager_call((values[id(node.call_args[0])],), {})
            else:
                args, kwargs = node.fill_in(values)
                outputs = node.operation(*args, **kwargs)
            node.store_outputs(values, outputs)
            for tensor_id in release[step]:
                values.pop(tensor_id, None)
        if isinstance(self._outputs_struct, KerasTensor):
            return values[id(self._outputs_struct)]
        return tree.pack_sequence_as(self._outputs_struct, [values[id(t)] for t in self._graph_outputs])

    def compute_output_spec(self, inputs, training=None, mask=None, **kwargs):
        flat = tree.flatten(inputs) if not isinstance(inputs, dict) or isinstance(self._inputs_struct, dict) \
            else [inputs[n] for n in self.input_names]
        values = {id(ref): x for ref, x in zip(self._graph_inputs, flat)}
        for node in self._execution_plan:
            args, kw = node.fill_in(values)
            outputs = node.operation.compute_output_spec(*args, **kw)
            for t, y in zip(node.output_tensors, tree.flatten(outputs)):
                values[id(t)] = y
        return tree.pack_sequence_as(self._outputs_struct, [values[id(t)] for t in self._graph_outputs])

    def compute_output_shape(self, input_shape):
        from pykeras.layers.layer import _map_shapes
        symbolic = _map_shapes(lambda s: KerasTensor(s), input_shape)
        spec = self.compute_output_spec(symbolic)
        return tree.map_structure(lambda t: t.shape, spec)

    def build(self, input_shape=None):
        self.built = True

    # ------------------------------------------------------------------------------------------
    # Config

    def get_config(self):
        from pykeras.layers import serialize as serialize_layer
        own_nodes = set()
        for nodes in self._nodes_by_depth.values():
            own_nodes.update(id(n) for n in nodes)

        def node_index_in_model(layer, node_index):
            return sum(1 for n in layer._inbound_nodes[:node_index] if id(n) in own_nodes)

        def serialize_tensor(x):
            if isinstance(x, KerasTensor):
                layer, node_index, tensor_index = x._keras_history
                return {"class_name": "__keras_tensor__",
                        "config": {"shape": list(x.shape), "dtype": x.dtype.name,
                                   "keras_history": [layer.name, node_index_in_model(layer, node_index),
                                                     tensor_index]}}
            if isinstance(x, np.ndarray):
                return x.tolist()
            return x

        layer_configs = []
        for layer in self._operations:
            entry = serialize_layer(layer)
            entry["name"] = layer.name
            inbound = []
            for node in layer._inbound_nodes:
                if id(node) in own_nodes and not node.is_input:
                    inbound.append({"args": tree.map_structure(serialize_tensor, list(node.call_args)),
                                    "kwargs": tree.map_structure(serialize_tensor, node.call_kwargs)})
            entry["inbound_nodes"] = inbound
            layer_configs.append(entry)

        def tensor_ref(t):
            layer, node_index, tensor_index = t._keras_history
            return [layer.name, node_index_in_model(layer, node_index), tensor_index]

        def refs(struct):
            if isinstance(struct, KerasTensor):
                return [tensor_ref(struct)]
            if isinstance(struct, dict):
                return {k: tensor_ref(v) for k, v in struct.items()}
            return [tensor_ref(t) for t in struct]

        return {"name": self.name, "trainable": self.trainable, "layers": layer_configs,
                "input_layers": refs(self._inputs_struct), "output_layers": refs(self._outputs_struct)}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        inputs, outputs, layers_by_name = functional_from_config_parts(config, custom_objects)
        model = Functional(inputs=inputs, outputs=outputs, name=config.get("name"))
        if "trainable" in config:
            model.trainable = config["trainable"]
        return model


def functional_from_config_parts(config, custom_objects=None):
    """(inputs, outputs, layers_by_name) rebuilt from a functional config (Keras 3 or 2 layout)."""
    from pykeras.layers import deserialize as deserialize_layer
    created = {}
    pending = collections.deque()
    for layer_data in config["layers"]:
        name = layer_data.get("name") or layer_data["config"]["name"]
        layer = deserialize_layer(layer_data, custom_objects=custom_objects)
        created[name] = layer
        for node_data in layer_data.get("inbound_nodes", []):
            pending.append((layer, node_data))

    def lookup(ref):
        name, node_index, tensor_index = ref[0], ref[1], ref[2]
        layer = created[name]
        if node_index >= len(layer._inbound_nodes):
            raise LookupError
        return layer._inbound_nodes[node_index].output_tensors[tensor_index]

    def deserialize_args(data):
        def convert(x):
            if isinstance(x, dict) and x.get("class_name") == "__keras_tensor__":
                return lookup(x["config"]["keras_history"])
            if isinstance(x, dict):
                return {k: convert(v) for k, v in x.items()}
            if isinstance(x, list):
                return [convert(v) for v in x]
            return x
        return convert(data)

    def process(layer, node_data):
        if isinstance(node_data, dict):  # Keras 3
            args = deserialize_args(node_data.get("args", []))
            kwargs = deserialize_args(node_data.get("kwargs", {}))
            layer(*args, **kwargs)
        else:  # Keras 2: [[name, node_index, tensor_index, kwargs], ...]
            tensors = [lookup(entry) for entry in node_data]
            kwargs = node_data[0][3] if node_data and len(node_data[0]) > 3 and node_data[0][3] else {}
            layer(tensors[0] if len(tensors) == 1 else tensors, **kwargs)

    stalled = 0
    while pending:
        layer, node_data = pending.popleft()
        try:
            process(layer, node_data)
            stalled = 0
        except LookupError:
            pending.append((layer, node_data))
            stalled += 1
            if stalled > len(pending):
                raise ValueError("Could not rebuild the functional model from its config: unresolved inputs "
                                 f"for layer '{layer.name}'.") from None

    def resolve(refs):
        if isinstance(refs, dict):
            return {k: lookup(v) for k, v in refs.items()}
        if refs and isinstance(refs[0], str):
            return lookup(refs)
        return [lookup(r) for r in refs]

    inputs = resolve(config["input_layers"])
    outputs = resolve(config["output_layers"])
    # A single tensor and a one-element list are stored alike; Keras unpacks both.
    if isinstance(inputs, list) and len(inputs) == 1:
        inputs = inputs[0]
    if isinstance(outputs, list) and len(outputs) == 1:
        outputs = outputs[0]
    return inputs, outputs, created

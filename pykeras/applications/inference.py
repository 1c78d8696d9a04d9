"""Inference-time fusion for convolutional networks: `optimize_for_inference(model)`.

A pykeras extension (Keras has no equivalent; TensorFlow's optimize_for_inference tool does the
same folding). In inference, BatchNormalization is an affine map per channel,
y = (x - mean) / sqrt(variance + epsilon) * gamma + beta = x * s + (beta - mean * s), so after a
convolution it folds into the convolution's kernel (each output channel's filter times s) and
bias; a following ReLU / ReLU6 then runs in the convolution's epilogue, and a ZeroPadding2D in
front becomes the convolution's own (possibly asymmetric) padding. Each chain

    [ZeroPadding2D] -> Conv2D | DepthwiseConv2D | SeparableConv2D -> [BatchNormalization]
        -> [Activation("relu") | ReLU() | ReLU(6.0)]

whose intermediate tensors feed nothing else becomes one `FusedConv2D` layer: one kernel call
instead of up to four passes over the activations (for MobileNet, a third of its inference
time). The folded weights are computed in float64 and rounded once to float32, so outputs
differ from the unfused model's by float32 rounding only.

The returned model (an `InferenceModel`, a functional Model) also releases each intermediate
result as soon as its last consumer has run. Holding all of them to the end of the call, as a
training graph must, leaves ~100 MB of activations to free at once for a batch of 8 at 224x224;
the allocator then hands that memory back to the system, and the next call page-faults it in
again (MobileNet: a third of the forward pass spent in the kernel zeroing fresh pages).

The returned model is a new functional Model for prediction: it shares the inputs and every
unfused layer (and their weights) with the original, and holds a snapshot of the folded
weights: run `optimize_for_inference` again after the original's weights change. FusedConv2D
calls the backend's kernel bridge directly (explicit asymmetric padding is not expressible with
Keras's 'same'/'valid'), records no gradient and is not serializable; train and save the
original model.
"""
import numpy as np

from pykeras import backend as K
from pykeras import layers
from pykeras.backend import kernels
from pykeras.layers import tree
from pykeras.models.functional import Functional


class FusedConv2D(layers.Layer):
    """A convolution with folded BatchNormalization, fused activation and explicit padding.

    Args:
        kind: "conv", "depthwise" or "separable".
        kernel: the (folded) kernel; for "separable" the depthwise kernel.
        pointwise_kernel: the (folded) pointwise kernel of a separable convolution.
        bias: the (folded) bias, or None.
        strides, dilation_rate, groups: as the original convolution.
        pads: ((top, bottom), (left, right)) zero padding.
        activation: "linear", "relu" or "relu6".
    """

    def __init__(self, kind, kernel, bias, strides, dilation_rate, pads, activation="linear", groups=1,
                 pointwise_kernel=None, **kwargs):
        super().__init__(trainable=False, **kwargs)
        self.kind = kind
        self.kernel = np.ascontiguousarray(kernel, dtype=np.float32)
        self.pointwise_kernel = None if pointwise_kernel is None else np.ascontiguousarray(pointwise_kernel,
                                                                                          dtype=np.float32)
        self.bias = None if bias is None else np.ascontiguousarray(bias, dtype=np.float32)
        self.strides = tuple(strides)
        self.dilation_rate = tuple(dilation_rate)
        self.pads = tuple(tuple(p) for p in pads)
        self.activation = activation
        self.groups = groups
        self.built = True

    def _out_channels(self, channels):
        if self.kind == "conv":
            return self.kernel.shape[-1]
        if self.kind == "depthwise":
            return channels * self.kernel.shape[-1]
        return self.pointwise_kernel.shape[-1]

    def call(self, inputs):
        x = K.convert_to_numpy(inputs)
        if x.dtype != np.float32:
            x = x.astype(np.float32)
        args = (self.strides, self.dilation_rate, self.pads)
        if self.kind == "conv":
            y = kernels.conv_forward(x, self.kernel, self.bias, *args, self.groups, self.activation)
        elif self.kind == "depthwise":
            y = kernels.depthwise_forward(x, self.kernel, self.bias, *args, self.activation)
        else:
            y = kernels.separable_forward(x, self.kernel, self.pointwise_kernel, self.bias, *args, self.activation)
        return K.convert_to_tensor(y)

    def compute_output_shape(self, input_shape):
        spatial = []
        for n, k, s, d, (lo, hi) in zip(input_shape[1:3], self.kernel.shape[:2], self.strides, self.dilation_rate,
                                        self.pads):
            spatial.append(None if n is None else (n + lo + hi - (k - 1) * d - 1) // s + 1)
        return (input_shape[0], *spatial, self._out_channels(input_shape[-1]))

    def get_config(self):
        raise NotImplementedError("FusedConv2D is an inference-only layer of optimize_for_inference; save the "
                                  "original model instead")


class InferenceModel(Functional):
    """The functional model optimize_for_inference returns (its layers are inference-only)."""


# ---- recognising the chains -----------------------------------------------------------------------


_CONVS = (layers.SeparableConv2D, layers.DepthwiseConv2D, layers.Conv2D)


def _fused_activation(layer):
    """'relu' / 'relu6' when `layer` is an activation the convolution epilogue can apply, else None."""
    from pykeras import activations

    if type(layer) is layers.Activation:
        return "relu" if activations.fusable_name(layer.activation) == "relu" else None
    if type(layer) is layers.ReLU and layer.negative_slope == 0 and layer.threshold == 0:
        if layer.max_value is None:
            return "relu"
        if float(layer.max_value) == 6.0:
            return "relu6"
    return None


def _conv_parts(layer):
    """(kind, activation) of a convolution that can head a chain, else None."""
    from pykeras import activations

    if not isinstance(layer, _CONVS) or getattr(layer, "data_format", "channels_last") != "channels_last":
        return None
    if len(getattr(layer, "kernel_size", ())) != 2:
        return None
    activation = activations.fusable_name(layer.activation)
    if activation not in ("linear", "relu", "relu6"):
        return None
    kind = ("separable" if isinstance(layer, layers.SeparableConv2D)
            else "depthwise" if isinstance(layer, layers.DepthwiseConv2D) else "conv")
    return kind, activation


def _is_channels_bn(layer, rank=4):
    return type(layer) is layers.BatchNormalization and layer.axis % rank == rank - 1


def _single_call(node):
    return node._single_input and node._single_output and not node.is_input


def _consumers(plan):
    counts = {}
    for node in plan:
        for t in node.input_tensors:
            counts[id(t)] = counts.get(id(t), 0) + 1
    return counts


def _follow(node, consumers, outputs, by_input):
    """The node consuming `node`'s output alone (None if the output is shared or a model output)."""
    out = node.output_tensors[0]
    if id(out) in outputs or consumers.get(id(out), 0) != 1:
        return None
    nxt = by_input.get(id(out))
    return nxt if nxt is not None and _single_call(nxt) else None


def _find_chains(model):
    """{id(first node): [nodes of the chain]} for every fusable chain of the model's graph."""
    plan = model._execution_plan
    consumers = _consumers(plan)
    outputs = {id(t) for t in model._graph_outputs}
    by_input = {}
    for node in plan:
        for t in node.input_tensors:
            by_input[id(t)] = node
    chains, used = {}, set()
    for node in plan:
        if id(node) in used or not _single_call(node):
            continue
        chain = []
        head = node
        if type(node.operation) is layers.ZeroPadding2D:
            nxt = _follow(node, consumers, outputs, by_input)
            if nxt is None or _conv_parts(nxt.operation) is None:
                continue
            chain.append(node)
            head = nxt
        parts = _conv_parts(head.operation)
        if parts is None:
            continue
        chain.append(head)
        tail = head
        if parts[1] == "linear":
            nxt = _follow(tail, consumers, outputs, by_input)
            if nxt is not None and _is_channels_bn(nxt.operation):
                chain.append(nxt)
                tail = nxt
            nxt = _follow(tail, consumers, outputs, by_input)
            if nxt is not None and _fused_activation(nxt.operation) is not None:
                chain.append(nxt)
        if len(chain) > 1:
            chains[id(chain[0])] = chain
            used.update(id(n) for n in chain)
    return chains


# ---- folding --------------------------------------------------------------------------------------


def _padding_of(conv, input_shape, extra):
    """The total pads of `extra` zero padding followed by the conv, whose input (already padded
    by `extra`) has `input_shape`."""
    from pykeras.backend.nn import conv_pads

    window = conv.kernel_size
    padded = list(input_shape[1:3])
    if conv.padding == "same" and None in padded:
        raise ValueError(f"optimize_for_inference: '{conv.name}' uses padding 'same' on an input of unknown size")
    own = conv_pads(padded, window, conv.strides, conv.dilation_rate, conv.padding, conv.name) \
        if conv.padding == "same" else ((0, 0), (0, 0))
    return tuple((a + c, b + d) for (a, b), (c, d) in zip(extra, own))


def _fuse_chain(chain):
    pads = ((0, 0), (0, 0))
    if type(chain[0].operation) is layers.ZeroPadding2D:
        pads = tuple(tuple(p) for p in chain[0].operation.padding)
        chain = chain[1:]
    conv_node = chain[0]
    conv = conv_node.operation
    kind, activation = _conv_parts(conv)
    input_shape = conv_node.input_tensors[0].shape
    pads = _padding_of(conv, input_shape, pads) if pads != ((0, 0), (0, 0)) or conv.padding == "same" else pads

    if kind == "separable":
        kernel = np.asarray(conv.depthwise_kernel, dtype=np.float64)
        pointwise = np.asarray(conv.pointwise_kernel, dtype=np.float64)
        out_channels = pointwise.shape[-1]
    else:
        kernel = np.asarray(conv.kernel, dtype=np.float64)
        pointwise = None
        out_channels = kernel.shape[-1] if kind == "conv" else kernel.shape[-2] * kernel.shape[-1]
    bias = np.asarray(conv.bias, dtype=np.float64) if conv.bias is not None else None

    for node in chain[1:]:
        layer = node.operation
        if isinstance(layer, layers.BatchNormalization):
            variance = np.asarray(layer.moving_variance, dtype=np.float64)
            scale = 1.0 / np.sqrt(variance + layer.epsilon)
            if layer.gamma is not None:
                scale = scale * np.asarray(layer.gamma, dtype=np.float64)
            shift = -np.asarray(layer.moving_mean, dtype=np.float64) * scale
            if layer.beta is not None:
                shift = shift + np.asarray(layer.beta, dtype=np.float64)
            if kind == "separable":
                pointwise = pointwise * scale
            elif kind == "depthwise":
                kernel = kernel * scale.reshape(kernel.shape[-2], kernel.shape[-1])
            else:
                kernel = kernel * scale
            bias = shift if bias is None else bias * scale + shift
        else:
            activation = _fused_activation(layer)
    assert bias is None or bias.shape == (out_channels,)
    name = f"{conv.name}_fused"
    if kind == "separable":
        return FusedConv2D(kind, kernel, bias, conv.strides, conv.dilation_rate, pads, activation,
                           pointwise_kernel=pointwise, name=name)
    return FusedConv2D(kind, kernel, bias, conv.strides, conv.dilation_rate, pads, activation,
                       groups=getattr(conv, "groups", 1), name=name)


def optimize_for_inference(model):
    """A functional model computing `model`'s inference outputs with convolution chains fused.

    Args:
        model: a functional Model (e.g. from pykeras.applications) or a built Sequential model,
            channels_last.

    Returns:
        A new InferenceModel (a functional Model with the same inputs and outputs and fewer
        layers) for `predict`; see the module docstring for what is fused and the snapshot
        semantics.

    Raises:
        TypeError: if `model` is neither a functional model nor a built Sequential model.
    """
    from pykeras.models import Sequential

    name = getattr(model, "name", None)
    if isinstance(model, Sequential) and model.__dict__.get("_graph") is not None:
        model = model._graph
    if not isinstance(model, Functional):
        raise TypeError("optimize_for_inference expects a functional Model or a built Sequential model, got "
                        f"{type(model).__name__}")
    chains = _find_chains(model)
    skip = {id(n) for chain in chains.values() for n in chain[1:]}
    values = {id(t): t for t in model._graph_inputs}
    for node in model._execution_plan:
        if id(node) in skip:
            continue
        chain = chains.get(id(node))
        if chain is not None:
            fused = _fuse_chain(chain)
            values[id(chain[-1].output_tensors[0])] = fused(values[id(node.input_tensors[0])])
            continue
        args, kwargs = node.fill_in(values)
        outputs = node.operation(*args, **kwargs)
        node.store_outputs(values, outputs)
    outputs = tree.map_structure(lambda t: values[id(t)], model._outputs_struct)
    return InferenceModel(model._inputs_struct, outputs, name=name)

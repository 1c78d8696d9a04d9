"""Merging layers: Add, Subtract, Multiply, Average, Maximum, Minimum, Concatenate, Dot, and their
functional forms add, subtract, multiply, average, maximum, minimum, concatenate, dot.

A merge layer is called on a list of tensors. The element-wise ones broadcast as Keras does:
shapes (without the batch axis) are aligned on the right, a size-1 axis stretches, and an input
of lower rank gets size-1 axes inserted after the batch axis; any other mismatch, or different
batch sizes, raise a ValueError naming the layer and the shapes. Masks (one per input, e.g.
(batch, steps) for (batch, steps, features) inputs) follow Keras 3: the output mask is the
logical OR of the input masks (none when an input has none); Maximum and Minimum ignore a masked
input's values where another input is unmasked, Multiply treats masked values as 1 and zeroes
positions every input masks. Concatenate joins along `axis`; Dot contracts one axis of each of
two inputs per sample (Keras's batch_dot), optionally after L2-normalizing them (cosine
similarity).
"""
import numpy as np

from pykeras import backend as K
from pykeras.layers.layer import Layer, get_keras_mask


def _is_shape_list(input_shape):
    return isinstance(input_shape, (list, tuple)) and len(input_shape) > 0 and \
        all(isinstance(s, (list, tuple)) for s in input_shape)


def _mask_like(mask, x):
    """A boolean mask broadcast to x's shape ((batch, steps) masks get a trailing axis first)."""
    m = np.asarray(K.convert_to_numpy(mask)).astype(bool)
    if m.ndim < len(x.shape):
        m = m.reshape(m.shape + (1,) * (len(x.shape) - m.ndim))
    return np.broadcast_to(m, tuple(x.shape))


class _Merge(Layer):
    """Base of the element-wise merge layers: shape rules, rank alignment, masks."""

    min_inputs = 1

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def _where(self):
        return f"Layer '{self.name}' ({type(self).__name__})"

    def _check_input_list(self, input_shape):
        if not _is_shape_list(input_shape):
            raise ValueError(f"{self._where()}: a merge layer should be called on a list of inputs. "
                             f"Received: input_shape={input_shape} (not a list of shapes)")
        if len(input_shape) < self.min_inputs:
            raise ValueError(f"{self._where()}: a merge layer should be called on a list of at least "
                             f"{self.min_inputs} inputs. Received {len(input_shape)} inputs. "
                             f"Full input_shape received: {list(input_shape)}")

    def _elementwise_shape(self, shape1, shape2, all_shapes):
        """Broadcast shape of two non-batch shapes (Keras's rule), or a ValueError."""
        if shape1 is None or shape2 is None:
            return None
        if len(shape1) < len(shape2):
            shape1, shape2 = shape2, shape1
        if not shape2:
            return tuple(shape1)
        out = list(shape1[:len(shape1) - len(shape2)])
        for i, j in zip(shape1[len(shape1) - len(shape2):], shape2):
            if i is None or j is None:
                out.append(None)
            elif i == 1:
                out.append(j)
            elif j == 1 or i == j:
                out.append(i)
            else:
                raise ValueError(f"{self._where()}: inputs have incompatible shapes. Received shapes "
                                 f"{', '.join(str(tuple(s)) for s in all_shapes)}")
        return tuple(out)

    def _batch_size(self, input_shape):
        sizes = {s[0] for s in input_shape if s} - {None}
        if len(sizes) > 1:
            raise ValueError(f"{self._where()}: cannot merge tensors with different batch sizes. Received tensors "
                             f"with shapes {[tuple(s) for s in input_shape]}")
        return sizes.pop() if sizes else None

    def build(self, input_shape):
        self.compute_output_shape(input_shape)

    def compute_output_shape(self, input_shape):
        self._check_input_list(input_shape)
        batch = self._batch_size(input_shape)
        shapes = [tuple(s) for s in input_shape]
        out = shapes[0][1:]
        for shape in shapes[1:]:
            out = self._elementwise_shape(out, shape[1:], shapes)
        return (batch,) + tuple(out)

    def call(self, inputs):
        if not isinstance(inputs, (list, tuple)):
            raise ValueError(f"{self._where()}: a merge layer should be called on a list of inputs. "
                             f"Received: inputs of shape {getattr(inputs, 'shape', None)} (not a list of tensors)")
        inputs = list(inputs)
        if len(inputs) < self.min_inputs:
            raise ValueError(f"{self._where()}: expected at least {self.min_inputs} inputs, received {len(inputs)}")
        ranks = [len(x.shape) for x in inputs]
        shapes = [tuple(x.shape) for x in inputs]
        if len(set(ranks)) > 1:  # lower-rank inputs get size-1 axes after the batch axis
            top = max(ranks)
            inputs = [K.reshape(x, (x.shape[0],) + (1,) * (top - r) + tuple(x.shape[1:])) if r < top else x
                      for x, r in zip(inputs, ranks)]
        try:
            return self._merge_function(inputs)
        except ValueError:
            self._batch_size(shapes)
            out = shapes[0][1:]
            for shape in shapes[1:]:
                out = self._elementwise_shape(out, shape[1:], shapes)
            raise

    def _merge_function(self, inputs):
        raise NotImplementedError

    def compute_mask(self, inputs, mask=None):
        if mask is None:
            return None
        if not isinstance(mask, (list, tuple)):
            raise ValueError(f"{self._where()}: `mask` should be a list. Received: mask={mask}")
        if not isinstance(inputs, (list, tuple)) or len(mask) != len(inputs):
            raise ValueError(f"{self._where()}: the lists `inputs` and `mask` should have the same length.")
        if any(m is None for m in mask):
            return None
        out = mask[0]
        for m in mask[1:]:
            out = K.logical_or(out, m)
        return out


class Add(_Merge):
    """Element-wise sum of a list of inputs (broadcasting as Keras). `add([a, b])` is the
    functional form."""

    def _merge_function(self, inputs):
        out = inputs[0]
        for x in inputs[1:]:
            out = K.add(out, x)
        return out


class Subtract(_Merge):
    """inputs[0] - inputs[1]; exactly two inputs."""

    min_inputs = 2

    def compute_output_shape(self, input_shape):
        if _is_shape_list(input_shape) and len(input_shape) != 2:
            raise ValueError(f"{self._where()}: a `Subtract` layer should be called on exactly 2 inputs. "
                             f"Received: input_shape={list(input_shape)}")
        return super().compute_output_shape(input_shape)

    def _merge_function(self, inputs):
        if len(inputs) != 2:
            raise ValueError(f"{self._where()}: a `Subtract` layer should be called on exactly 2 inputs. "
                             f"Received {len(inputs)} inputs")
        return K.subtract(inputs[0], inputs[1])


class Average(_Merge):
    """Element-wise mean of a list of inputs."""

    def _merge_function(self, inputs):
        out = inputs[0]
        for x in inputs[1:]:
            out = K.add(out, x)
        return K.multiply(out, 1.0 / len(inputs))


def _masked_elementwise(op, inputs):
    """Keras 3's masked reduction: a masked entry takes the other operand's value."""
    output, output_mask = None, None
    for x in inputs:
        mask = get_keras_mask(x)
        mask = None if mask is None else _mask_like(mask, x)
        if output is None:
            output, output_mask = x, mask
            continue
        if mask is not None:
            x = K.where(mask, x, output)
        if output_mask is not None:
            output = K.where(output_mask, output, x)
        output_mask = np.logical_or(output_mask, mask) if mask is not None and output_mask is not None else None
        output = op(output, x)
    return output


class Maximum(_Merge):
    """Element-wise maximum of a list of inputs."""

    def _merge_function(self, inputs):
        return _masked_elementwise(K.maximum, inputs)


class Minimum(_Merge):
    """Element-wise minimum of a list of inputs."""

    def _merge_function(self, inputs):
        return _masked_elementwise(K.minimum, inputs)


class Multiply(_Merge):
    """Element-wise product of a list of inputs (masked entries count as 1; positions every input
    masks are 0)."""

    def _merge_function(self, inputs):
        masks = [get_keras_mask(x) for x in inputs]
        every_masked = all(m is not None for m in masks)
        output, output_mask = None, None
        for x, mask in zip(inputs, masks):
            if mask is not None:
                mask = _mask_like(mask, x)
                x = K.where(mask, x, 1.0)
                if every_masked:
                    output_mask = mask if output_mask is None else np.logical_or(output_mask, mask)
            output = x if output is None else K.multiply(output, x)
        if every_masked:
            output = K.where(output_mask, output, 0.0)
        return output


class Concatenate(_Merge):
    """Concatenates a list of inputs along `axis` (default -1); the other axes must match.

    Masks: an input without a mask counts as unmasked; the output mask is true where any entry
    along the last axis of the concatenated masks is.
    """

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
            raise ValueError(f"Argument `axis` must be an int. Received: axis={axis!r}")
        self.axis = int(axis)

    def _concat_error(self, input_shape):
        return ValueError(f"{self._where()}: a `Concatenate` layer requires inputs with matching shapes except for "
                          f"the concatenation axis. Received: input_shape={[tuple(s) for s in input_shape]}")

    def compute_output_shape(self, input_shape):
        if not _is_shape_list(input_shape):
            raise ValueError(f"{self._where()}: a `Concatenate` layer should be called on a list of inputs. "
                             f"Received: input_shape={input_shape}")
        shapes = [tuple(s) for s in input_shape]
        rank = len(shapes[0])
        if any(len(s) != rank for s in shapes):
            raise self._concat_error(shapes)
        if not -rank <= self.axis < rank:
            raise ValueError(f"{self._where()}: axis {self.axis} is out of bounds for inputs of rank {rank} "
                             f"(shapes {shapes})")
        axis = self.axis % rank
        out = list(shapes[0])
        for shape in shapes[1:]:
            for i, (a, b) in enumerate(zip(out, shape)):
                if i == axis:
                    out[i] = None if a is None or b is None else a + b
                elif a is None:
                    out[i] = b
                elif b is not None and a != b:
                    raise self._concat_error(shapes)
        return tuple(out)

    def call(self, inputs):
        if not isinstance(inputs, (list, tuple)):
            raise ValueError(f"{self._where()}: a `Concatenate` layer should be called on a list of inputs.")
        try:
            return K.concatenate(list(inputs), axis=self.axis)
        except ValueError:
            self.compute_output_shape([tuple(x.shape) for x in inputs])
            raise

    def compute_mask(self, inputs, mask=None):
        if mask is None:
            return None
        if not isinstance(mask, (list, tuple)) or len(mask) != len(inputs):
            raise ValueError(f"{self._where()}: `mask` should be a list with one entry per input.")
        if all(m is None for m in mask):
            return None
        masks = []
        for x, m in zip(inputs, mask):
            if m is None:
                masks.append(np.ones(tuple(x.shape), bool))
            else:
                m = np.asarray(K.convert_to_numpy(m)).astype(bool)
                masks.append(np.broadcast_to(m[..., None], tuple(x.shape)) if m.ndim < len(x.shape) else m)
        return K.convert_to_tensor(np.concatenate(masks, axis=self.axis).any(axis=-1))

    def get_config(self):
        config = super().get_config()
        config["axis"] = self.axis
        return config


class Dot(_Merge):
    """Per-sample dot product of two inputs along `axes`.

    Args:
        axes: int (the same axis of both inputs) or a pair (axis of input 0, axis of input 1);
            never the batch axis.
        normalize: L2-normalize both inputs along their axis first (the output is then the
            cosine similarity).

    (batch, n) and (batch, n) -> (batch, 1); (batch, m, n) . (batch, n, k) with axes=(2, 1) ->
    (batch, m, k). The output carries no mask.
    """

    def __init__(self, axes, normalize=False, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(axes, (int, np.integer)) or isinstance(axes, bool):
            if not isinstance(axes, (list, tuple)):
                raise TypeError(f"Invalid type for argument `axes`: it should be a list or an int. Received: "
                                f"axes={axes!r}")
            if len(axes) != 2:
                raise ValueError(f"Invalid format for argument `axes`: it should contain two elements. Received: "
                                 f"axes={axes!r}")
            if not all(isinstance(a, (int, np.integer)) and not isinstance(a, bool) for a in axes):
                raise ValueError(f"Invalid format for argument `axes`: list elements should be integers. Received: "
                                 f"axes={axes!r}")
            axes = [int(a) for a in axes]
        else:
            axes = int(axes)
        self.axes = axes
        self.normalize = bool(normalize)

    def _resolved_axes(self, shape1, shape2):
        axes = [self.axes, self.axes] if isinstance(self.axes, int) else list(self.axes)
        out = []
        for a, shape in zip(axes, (shape1, shape2)):
            if not -len(shape) <= a < len(shape):
                raise ValueError(f"{self._where()}: axis {a} is out of bounds for an input of shape {tuple(shape)}")
            out.append(a % len(shape))
        if 0 in out:
            raise ValueError(f"{self._where()}: cannot perform a dot product over the batch axis (axes={self.axes}, "
                             f"shapes {tuple(shape1)} and {tuple(shape2)})")
        return out

    def compute_output_shape(self, input_shape):
        if not _is_shape_list(input_shape) or len(input_shape) != 2:
            raise ValueError(f"{self._where()}: a `Dot` layer should be called on a list of 2 inputs. "
                             f"Received: input_shape={input_shape}")
        shape1, shape2 = (list(s) for s in input_shape)
        if len(shape1) < 2 or len(shape2) < 2:
            raise ValueError(f"{self._where()}: a `Dot` layer needs inputs of rank >= 2. Received shapes "
                             f"{tuple(shape1)} and {tuple(shape2)}")
        a1, a2 = self._resolved_axes(shape1, shape2)
        d1, d2 = shape1[a1], shape2[a2]
        if d1 is not None and d2 is not None and d1 != d2:
            raise ValueError(f"{self._where()}: incompatible input shapes: axis values {d1} (at axis {a1}) != {d2} "
                             f"(at axis {a2}). Full input shapes: {tuple(shape1)}, {tuple(shape2)}")
        batch = self._batch_size(input_shape)
        shape1.pop(a1)
        shape2.pop(a2)
        out = [batch] + shape1[1:] + shape2[1:]
        return tuple(out + [1] if len(out) == 1 else out)

    def call(self, inputs):
        if not isinstance(inputs, (list, tuple)) or len(inputs) != 2:
            raise ValueError(f"{self._where()}: a `Dot` layer should be called on exactly 2 inputs.")
        x, y = inputs
        out_shape = self.compute_output_shape([tuple(x.shape), tuple(y.shape)])
        a1, a2 = self._resolved_axes(x.shape, y.shape)
        if self.normalize:
            x = K.normalize(x, axis=a1)
            y = K.normalize(y, axis=a2)
        # x -> (batch, rest_x, d) and y -> (batch, d, rest_y), one batched matmul, then unflatten.
        if a1 != len(x.shape) - 1:
            x = K.moveaxis(x, a1, -1)
        if a2 != 1:
            y = K.moveaxis(y, a2, 1)
        batch, depth = x.shape[0], x.shape[-1]
        x = K.reshape(x, (batch, -1, depth))
        y = K.reshape(y, (batch, depth, -1))
        return K.reshape(K.matmul(x, y), out_shape)

    def compute_mask(self, inputs, mask=None):
        return None

    def get_config(self):
        config = super().get_config()
        config.update({"axes": self.axes, "normalize": self.normalize})
        return config


# ------------------------------------------------------------------------------------------------
# Functional forms: layers.add([a, b]) == layers.Add()([a, b]).

def add(inputs, **kwargs):
    """Element-wise sum of `inputs` (a list of tensors)."""
    return Add(**kwargs)(inputs)


def subtract(inputs, **kwargs):
    """inputs[0] - inputs[1]."""
    return Subtract(**kwargs)(inputs)


def multiply(inputs, **kwargs):
    """Element-wise product of `inputs`."""
    return Multiply(**kwargs)(inputs)


def average(inputs, **kwargs):
    """Element-wise mean of `inputs`."""
    return Average(**kwargs)(inputs)


def maximum(inputs, **kwargs):
    """Element-wise maximum of `inputs`."""
    return Maximum(**kwargs)(inputs)


def minimum(inputs, **kwargs):
    """Element-wise minimum of `inputs`."""
    return Minimum(**kwargs)(inputs)


def concatenate(inputs, axis=-1, **kwargs):
    """Concatenation of `inputs` along `axis`."""
    return Concatenate(axis=axis, **kwargs)(inputs)


def dot(inputs, axes=-1, **kwargs):
    """Per-sample dot product of two inputs along `axes`."""
    return Dot(axes=axes, **kwargs)(inputs)

"""InputSpec: what a layer accepts (rank, last-axis sizes), checked on every call.

A layer sets `self.input_spec` (one InputSpec, or a list for several inputs) in `__init__` or
`build`; `Layer.__call__` checks real and symbolic inputs against it before `call` runs and raises
a ValueError naming the layer, the input index, the expectation and the received shape.
"""
import numpy as np

from pykeras.layers import tree


class InputSpec:
    """Rank and shape constraints of one layer input.

    Args:
        dtype: expected dtype (unchecked; documents intent as in Keras).
        shape: full expected shape (None entries match anything).
        ndim / max_ndim / min_ndim: expected rank, or bounds on it.
        axes: dict {axis: size} of sizes that must match (e.g. {-1: 16} after Dense builds).
        allow_last_axis_squeeze: accept a rank one lower/higher when the trailing axis is 1.
        name: the input name this spec applies to.
    """

    def __init__(self, dtype=None, shape=None, ndim=None, max_ndim=None, min_ndim=None, axes=None,
                 allow_last_axis_squeeze=False, name=None, optional=False):
        self.dtype = np.dtype(dtype).name if dtype is not None else None
        self.shape = tuple(shape) if shape is not None else None
        self.ndim = len(self.shape) if self.shape is not None else ndim
        self.max_ndim, self.min_ndim = max_ndim, min_ndim
        self.axes = {int(k): v for k, v in (axes or {}).items()}
        self.allow_last_axis_squeeze = allow_last_axis_squeeze
        self.name, self.optional = name, optional
        if self.axes and (self.ndim is not None or self.max_ndim is not None):
            max_dim = (self.ndim if self.ndim is not None else self.max_ndim) - 1
            if max(self.axes) > max_dim:
                raise ValueError(f"Axis {max(self.axes)} is greater than the maximum allowed value: {max_dim}")

    def __repr__(self):
        parts = [f"{k}={v}" for k, v in (("dtype", self.dtype), ("shape", self.shape), ("ndim", self.ndim),
                                          ("max_ndim", self.max_ndim), ("min_ndim", self.min_ndim),
                                          ("axes", self.axes or None)) if v is not None]
        return f"InputSpec({', '.join(parts)})"

    def get_config(self):
        return {"dtype": self.dtype, "shape": self.shape, "ndim": self.ndim, "max_ndim": self.max_ndim,
                "min_ndim": self.min_ndim, "axes": self.axes}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def assert_input_compatibility(input_spec, inputs, layer_name):
    """Raises ValueError when `inputs` (tensors or KerasTensors) violate `input_spec`."""
    if not input_spec:
        return
    if isinstance(input_spec, InputSpec) and not isinstance(inputs, (list, tuple, dict)):
        # One spec, one tensor: the per-call fast path (rank and last-axis checks only).
        shape = getattr(inputs, "shape", None)
        if shape is not None and not input_spec.shape and not input_spec.allow_last_axis_squeeze:
            ndim = len(shape)
            ok = (input_spec.ndim is None or ndim == input_spec.ndim) and \
                (input_spec.min_ndim is None or ndim >= input_spec.min_ndim) and \
                (input_spec.max_ndim is None or ndim <= input_spec.max_ndim)
            if ok:
                for axis, value in input_spec.axes.items():
                    if value is not None and (axis >= ndim or axis < -ndim or
                                              (shape[axis] is not None and shape[axis] != value)):
                        ok = False
                        break
            if ok:
                return
        specs, flat = [input_spec], [inputs]
    else:
        specs = tree.flatten(input_spec)
        flat = tree.flatten(inputs)
    if len(specs) > 1 and len(flat) != len(specs):
        raise ValueError(f'Layer "{layer_name}" expects {len(specs)} input(s), but it received {len(flat)} input tensors.')
    for index, (x, spec) in enumerate(zip(flat, specs)):
        if spec is None:
            continue
        if x is None:
            if spec.optional:
                continue
            raise ValueError(f'Input {index} of layer "{layer_name}" is None, but the layer requires an input.')
        shape = getattr(x, "shape", None)
        if shape is None:
            continue
        shape = tuple(shape)
        ndim = len(shape)
        prefix = f'Input {index} of layer "{layer_name}" is incompatible with the layer: '
        if spec.ndim is not None and not spec.allow_last_axis_squeeze and ndim != spec.ndim:
            raise ValueError(f"{prefix}expected ndim={spec.ndim}, found ndim={ndim}. Full shape received: {shape}")
        if spec.ndim is not None and spec.allow_last_axis_squeeze:
            squeezed = shape[:-1] if shape and shape[-1] == 1 else shape
            wanted = spec.shape[:-1] if spec.shape and spec.shape[-1] == 1 else None
            if len(squeezed) != (len(wanted) if wanted is not None else spec.ndim) and ndim != spec.ndim:
                raise ValueError(f"{prefix}expected ndim={spec.ndim}, found ndim={ndim}. Full shape received: {shape}")
        if spec.max_ndim is not None and ndim > spec.max_ndim:
            raise ValueError(f"{prefix}expected max_ndim={spec.max_ndim}, found ndim={ndim}. Full shape received: {shape}")
        if spec.min_ndim is not None and ndim < spec.min_ndim:
            raise ValueError(f"{prefix}expected min_ndim={spec.min_ndim}, found ndim={ndim}. Full shape received: {shape}")
        for axis, value in spec.axes.items():
            if value is None:
                continue
            if axis >= ndim or axis < -ndim:
                raise ValueError(f"{prefix}expected axis {axis} of input shape to have value {value}, "
                                 f"but received input with shape {shape}")
            if shape[axis] is not None and shape[axis] != value:
                raise ValueError(f"{prefix}expected axis {axis} of input shape to have value {value}, "
                                 f"but received input with shape {shape}")
        if spec.shape is not None and not spec.allow_last_axis_squeeze:
            for expected, got in zip(spec.shape, shape):
                if expected is not None and got is not None and expected != got:
                    raise ValueError(f"{prefix}expected shape={spec.shape}, found shape={shape}")

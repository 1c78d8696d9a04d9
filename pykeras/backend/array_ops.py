"""Shape and data-movement ops, indexing, padding, resizing, and value creation.

Memory movement stays in numpy (views where numpy gives them: reshape, transpose, basic
slicing, expand_dims return views of their input without copying). Every op here is
differentiable where its input is a float tensor, with its rule in gradients.py; ops that are
compositions (split, unstack, cropping, nearest-neighbour resizing, non-constant padding) are
written with recorded primitives.
"""
import builtins
import numbers

import numpy as np

from pykeras.backend import common
from pykeras.backend import gradient_rules as G
from pykeras.backend.math_ops import normalize_axes, normalize_axis, value, wrap
from pykeras.backend.tape import _active, record
from pykeras.backend.tensor import Tensor, standardize_dtype


def _shape_tuple(shape, name):
    if isinstance(shape, Tensor):
        shape = shape._v.tolist()
    if isinstance(shape, (int, np.integer)):
        return (int(shape),)
    try:
        return tuple(int(s) if s is not None else -1 for s in shape)
    except TypeError:
        raise TypeError(f"{name}: shape must be a tuple of ints, got {shape!r}") from None


# ------------------------------------------------------------------------------------------------
# Reshaping

def reshape(x, shape):
    xv = value(x)
    new = _shape_tuple(shape, "reshape")
    try:
        out = wrap(xv.reshape(new))
    except ValueError:
        raise ValueError(f"reshape: cannot reshape a tensor of shape {xv.shape} ({xv.size} elements) "
                         f"into shape {new}") from None
    if _active and xv.dtype.kind == "f":
        record(out, G.reshape, (x,), (xv.shape,))
    return out


def transpose(x, axes=None):
    xv = value(x)
    if axes is None:
        perm = tuple(range(xv.ndim - 1, -1, -1))
    else:
        perm = tuple(int(a) % xv.ndim if xv.ndim else int(a) for a in axes)
        if sorted(perm) != list(range(xv.ndim)):
            raise ValueError(f"transpose: {tuple(axes)} is not a permutation of the axes of a tensor of shape "
                             f"{xv.shape}")
    out = wrap(np.transpose(xv, perm))
    if _active and xv.dtype.kind == "f":
        record(out, G.transpose, (x,), (perm,))
    return out


def permute_dimensions(x, pattern):
    return transpose(x, pattern)


def swapaxes(x, axis1, axis2):
    nd = value(x).ndim
    perm = list(range(nd))
    a, b = normalize_axis(axis1, nd, "swapaxes"), normalize_axis(axis2, nd, "swapaxes")
    perm[a], perm[b] = perm[b], perm[a]
    return transpose(x, perm)


def moveaxis(x, source, destination):
    nd = value(x).ndim
    src = [source] if isinstance(source, int) else list(source)
    dst = [destination] if isinstance(destination, int) else list(destination)
    src = [normalize_axis(a, nd, "moveaxis") for a in src]
    dst = [normalize_axis(a, nd, "moveaxis") for a in dst]
    order = [n for n in range(nd) if n not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return transpose(x, order)


def expand_dims(x, axis=-1):
    xv = value(x)
    axes = [axis] if isinstance(axis, (int, np.integer)) else list(axis)
    nd = xv.ndim + len(axes)
    for a in axes:
        if not -nd <= a < nd:
            raise ValueError(f"expand_dims: axis {a} is out of range for a tensor of shape {xv.shape}")
    return reshape(x, np.expand_dims(np.empty(xv.shape, np.bool_), tuple(axes)).shape)


def squeeze(x, axis=None):
    xv = value(x)
    if axis is None:
        new = tuple(d for d in xv.shape if d != 1)
    else:
        axes = normalize_axes(axis, xv.ndim, "squeeze", xv.shape)
        for a in axes:
            if xv.shape[a] != 1:
                raise ValueError(f"squeeze: axis {a} of a tensor of shape {xv.shape} has size {xv.shape[a]}, not 1")
        new = tuple(d for i, d in enumerate(xv.shape) if i not in axes)
    return reshape(x, new)


def flatten(x):
    """Keras K.flatten: a 1-D tensor."""
    return reshape(x, (-1,))


ravel = flatten


def batch_flatten(x):
    """(batch, everything else)."""
    xv = value(x)
    if xv.ndim < 1:
        raise ValueError(f"batch_flatten: needs a tensor of rank >= 1, got shape {xv.shape}")
    return reshape(x, (xv.shape[0], -1) if xv.shape[0] else (0, int(np.prod(xv.shape[1:]))))


def broadcast_to(x, shape):
    xv = value(x)
    shape = _shape_tuple(shape, "broadcast_to")
    try:
        out = wrap(np.broadcast_to(xv, shape))
    except ValueError:
        raise ValueError(f"broadcast_to: a tensor of shape {xv.shape} does not broadcast to {shape}") from None
    if _active and xv.dtype.kind == "f":
        record(out, G.broadcast_to, (x,), (xv.shape,))
    return out


# ------------------------------------------------------------------------------------------------
# Joining and splitting

def _common_values(tensors, name):
    vals = [value(t) for t in tensors]
    if not vals:
        raise ValueError(f"{name}: needs at least one tensor")
    dt = vals[0].dtype
    if builtins.any(v.dtype != dt for v in vals):
        kinds = [v.dtype for v in vals]
        floats = [d for d in kinds if d.kind == "f"]
        target = np.result_type(*floats) if floats else np.result_type(*kinds)
        vals = [v.astype(target, copy=False) for v in vals]
    return vals


def concatenate(tensors, axis=-1):
    tensors = list(tensors)
    vals = _common_values(tensors, "concatenate")
    nd = vals[0].ndim
    if nd == 0:
        raise ValueError("concatenate: cannot concatenate 0-d tensors")
    a = normalize_axis(axis, nd, "concatenate", vals[0].shape)
    try:
        out = wrap(np.concatenate(vals, axis=a))
    except ValueError:
        raise ValueError(f"concatenate: shapes {[v.shape for v in vals]} do not match outside axis {axis}") from None
    if _active and out._v.dtype.kind == "f":
        record(out, G.concatenate, tensors, ([v.shape[a] for v in vals], a))
    return out


def stack(tensors, axis=0):
    tensors = list(tensors)
    vals = _common_values(tensors, "stack")
    a = normalize_axis(axis, vals[0].ndim + 1, "stack", vals[0].shape)
    try:
        out = wrap(np.stack(vals, axis=a))
    except ValueError:
        raise ValueError(f"stack: all tensors must have the same shape, got {[v.shape for v in vals]}") from None
    if _active and out._v.dtype.kind == "f":
        record(out, G.stack, tensors, (len(vals), a))
    return out


def unstack(x, num=None, axis=0):
    xv = value(x)
    a = normalize_axis(axis, xv.ndim, "unstack", xv.shape)
    n = xv.shape[a]
    if num is not None and num != n:
        raise ValueError(f"unstack: num={num} but axis {axis} of shape {xv.shape} has {n} elements")
    lead = (slice(None),) * a
    return [getitem(x, lead + (i,)) for i in range(n)]


def split(x, indices_or_sections, axis=0):
    xv = value(x)
    a = normalize_axis(axis, xv.ndim, "split", xv.shape)
    n = xv.shape[a]
    if isinstance(indices_or_sections, (int, np.integer)):
        k = int(indices_or_sections)
        if k <= 0 or n % k:
            raise ValueError(f"split: axis {axis} of shape {xv.shape} cannot be split into {k} equal sections")
        bounds = [i * (n // k) for i in range(k + 1)]
    else:
        bounds = [0] + [int(i) for i in indices_or_sections] + [n]
    lead = (slice(None),) * a
    return [getitem(x, lead + (slice(lo, hi),)) for lo, hi in zip(bounds[:-1], bounds[1:])]


# ------------------------------------------------------------------------------------------------
# Indexing

def _index_value(k):
    if isinstance(k, Tensor):
        return k._v
    if isinstance(k, list):
        return np.asarray([_index_value(e) for e in k])
    return k


def _is_basic(key):
    for k in key:
        if k is None or k is Ellipsis or isinstance(k, slice):
            continue
        if isinstance(k, (int, np.integer)) and not isinstance(k, (bool, np.bool_)):
            continue
        return False
    return True


def getitem(x, key):
    """numpy basic and advanced indexing (differentiable)."""
    xv = value(x)
    if isinstance(key, tuple):
        key = tuple(_index_value(k) for k in key)
    else:
        key = (_index_value(key),)
    try:
        r = xv[key]
    except IndexError as e:
        raise ValueError(f"getitem: bad index {key!r} for a tensor of shape {xv.shape}: {e}") from None
    out = wrap(r)
    if _active and xv.dtype.kind == "f":
        record(out, G.getitem, (x,), (xv.shape, xv.dtype, key, _is_basic(key)))
    return out


def scatter(indices, values, shape):
    """Zeros of `shape` with `values` added at `indices` (N, k) (duplicates sum), as keras.ops.scatter."""
    vv = value(values)
    idx = np.asarray(value(indices))
    shape = _shape_tuple(shape, "scatter")
    if idx.ndim < 1 or idx.shape[-1] > len(shape):
        raise ValueError(f"scatter: indices of shape {idx.shape} do not index a tensor of shape {shape}")
    key = tuple(np.moveaxis(idx, -1, 0))
    dt = vv.dtype if vv.dtype.kind == "f" else vv.dtype
    out_v = np.zeros(shape, dt)
    try:
        np.add.at(out_v, key, vv)
    except (ValueError, IndexError) as e:
        raise ValueError(f"scatter: values of shape {vv.shape} do not fit indices {idx.shape} into shape {shape}: "
                         f"{e}") from None
    out = wrap(out_v)
    if _active and vv.dtype.kind == "f":
        record(out, G.scatter, (values,), (key, vv.shape))
    return out


def slice_(x, start_indices, shape):
    """Keras ops.slice: the block of `shape` starting at `start_indices`."""
    key = tuple(slice(int(s), int(s) + int(n)) for s, n in zip(start_indices, shape))
    return getitem(x, key)


def take(x, indices, axis=None):
    xv = value(x)
    idx = np.asarray(value(indices))
    if idx.dtype.kind not in "iu":
        if idx.dtype.kind == "f" and np.all(np.floor(idx) == idx):
            idx = idx.astype(np.int64)
        else:
            raise TypeError(f"take: indices must be integers, got dtype {idx.dtype}")
    if axis is None:
        return take(reshape(x, (-1,)), indices, 0)
    a = normalize_axis(axis, xv.ndim, "take", xv.shape)
    n = xv.shape[a]
    if idx.size and (idx.min() < -n or idx.max() >= n):
        raise ValueError(f"take: indices out of range [{-n}, {n}) for axis {a} of a tensor of shape {xv.shape}")
    idx = np.where(idx < 0, idx + n, idx) if idx.size and idx.min() < 0 else idx
    out = wrap(np.take(xv, idx, axis=a))
    if _active and xv.dtype.kind == "f":
        record(out, G.take, (x,), (xv.shape, idx, a))
    return out


def gather(reference, indices):
    """Keras K.gather: rows of `reference` (axis 0) at `indices`."""
    return take(reference, indices, axis=0)


def take_along_axis(x, indices, axis=None):
    xv = value(x)
    idx = np.asarray(value(indices))
    if axis is None:
        return take_along_axis(reshape(x, (-1,)), np.reshape(idx, (-1,)), 0)
    a = normalize_axis(axis, xv.ndim, "take_along_axis", xv.shape)
    if idx.ndim != xv.ndim:
        raise ValueError(f"take_along_axis: indices of shape {idx.shape} must have the rank of x {xv.shape}")
    n = xv.shape[a]
    idx = np.where(idx < 0, idx + n, idx)
    try:
        out = wrap(np.take_along_axis(xv, idx, axis=a))
    except (ValueError, IndexError) as e:
        raise ValueError(f"take_along_axis: indices of shape {idx.shape} do not fit x of shape {xv.shape} "
                         f"along axis {a}: {e}") from None
    if _active and xv.dtype.kind == "f":
        record(out, G.take_along_axis, (x,), (xv.shape, idx, a))
    return out


# ------------------------------------------------------------------------------------------------
# Padding and cropping

def pad(x, pad_width, mode="constant", constant_values=0):
    """numpy pad. constant mode has its own rule; reflect/symmetric/edge are index gathers."""
    xv = value(x)
    pw = np.asarray(value(pad_width) if isinstance(pad_width, Tensor) else pad_width, dtype=np.int64)
    try:
        pw = np.broadcast_to(pw, (xv.ndim, 2))
    except ValueError:
        raise ValueError(f"pad: pad_width {pad_width!r} does not fit a tensor of shape {xv.shape}") from None
    if (pw < 0).any():
        raise ValueError(f"pad: negative pad_width {pad_width!r}")
    widths = tuple((int(lo), int(hi)) for lo, hi in pw)
    mode = str(mode).lower()
    if mode == "constant":
        cv = constant_values.item() if isinstance(constant_values, np.ndarray) else constant_values
        out = wrap(np.pad(xv, widths, mode="constant", constant_values=cv))
        if _active and xv.dtype.kind == "f":
            record(out, G.pad, (x,), (widths,))
        return out
    if mode not in ("reflect", "symmetric", "edge", "wrap"):
        raise ValueError(f"pad: unknown mode {mode!r}, expected 'constant', 'reflect', 'symmetric', 'edge' or 'wrap'")
    r = x
    for axis, (lo, hi) in enumerate(widths):
        if lo or hi:
            idx = np.pad(np.arange(xv.shape[axis]), (lo, hi), mode=mode)
            r = take(r, idx, axis=axis)
    return r if r is not x else wrap(xv)


def _pairs(padding, n, name):
    if isinstance(padding, (int, np.integer)):
        return ((int(padding), int(padding)),) * n
    padding = tuple(padding)
    if len(padding) != n:
        raise ValueError(f"{name}: expected {n} (before, after) pairs, got {padding!r}")
    out = []
    for p in padding:
        if isinstance(p, (int, np.integer)):
            out.append((int(p), int(p)))
        else:
            p = tuple(p)
            if len(p) != 2:
                raise ValueError(f"{name}: each padding must be an int or a (before, after) pair, got {padding!r}")
            out.append((int(p[0]), int(p[1])))
    return tuple(out)


def _spatial_pad(x, pairs, data_format, name):
    df = common.standardize_data_format(data_format)
    nd = value(x).ndim
    if nd != len(pairs) + 2:
        raise ValueError(f"{name}: expected a tensor of rank {len(pairs) + 2}, got shape {value(x).shape}")
    if df == "channels_last":
        widths = ((0, 0),) + pairs + ((0, 0),)
    else:
        widths = ((0, 0), (0, 0)) + pairs
    return pad(x, widths)


def temporal_padding(x, padding=(1, 1)):
    """Pads the middle axis of a (batch, steps, features) tensor with zeros."""
    pairs = _pairs((padding,) if not isinstance(padding, (int, np.integer)) else padding, 1, "temporal_padding")
    return _spatial_pad(x, pairs, "channels_last", "temporal_padding")


def spatial_2d_padding(x, padding=((1, 1), (1, 1)), data_format=None):
    return _spatial_pad(x, _pairs(padding, 2, "spatial_2d_padding"), data_format, "spatial_2d_padding")


def spatial_3d_padding(x, padding=((1, 1), (1, 1), (1, 1)), data_format=None):
    return _spatial_pad(x, _pairs(padding, 3, "spatial_3d_padding"), data_format, "spatial_3d_padding")


def _spatial_crop(x, pairs, data_format, name):
    xv = value(x)
    df = common.standardize_data_format(data_format)
    if xv.ndim != len(pairs) + 2:
        raise ValueError(f"{name}: expected a tensor of rank {len(pairs) + 2}, got shape {xv.shape}")
    first = 1 if df == "channels_last" else 2
    key = [slice(None)] * xv.ndim
    for i, (lo, hi) in enumerate(pairs):
        n = xv.shape[first + i]
        if lo < 0 or hi < 0 or lo + hi > n:
            raise ValueError(f"{name}: cropping {pairs} does not fit a tensor of shape {xv.shape}")
        key[first + i] = slice(lo, n - hi)
    return getitem(x, tuple(key))


def temporal_cropping(x, cropping=(1, 1)):
    pairs = _pairs((cropping,) if not isinstance(cropping, (int, np.integer)) else cropping, 1, "temporal_cropping")
    return _spatial_crop(x, pairs, "channels_last", "temporal_cropping")


def spatial_2d_cropping(x, cropping=((0, 0), (0, 0)), data_format=None):
    return _spatial_crop(x, _pairs(cropping, 2, "spatial_2d_cropping"), data_format, "spatial_2d_cropping")


def spatial_3d_cropping(x, cropping=((1, 1), (1, 1), (1, 1)), data_format=None):
    return _spatial_crop(x, _pairs(cropping, 3, "spatial_3d_cropping"), data_format, "spatial_3d_cropping")


# ------------------------------------------------------------------------------------------------
# Repetition

def tile(x, n):
    xv = value(x)
    reps = (int(n),) if isinstance(n, (int, np.integer)) else tuple(int(r) for r in (value(n).tolist()
                                                                                     if isinstance(n, Tensor) else n))
    if builtins.any(r < 0 for r in reps):
        raise ValueError(f"tile: negative repetitions {reps}")
    nd = builtins.max(len(reps), xv.ndim)
    reps = (1,) * (nd - len(reps)) + reps
    if xv.ndim < nd:
        x = reshape(x, (1,) * (nd - xv.ndim) + xv.shape)
        xv = value(x)
    out = wrap(np.tile(xv, reps))
    if _active and xv.dtype.kind == "f":
        record(out, G.tile, (x,), (xv.shape, reps))
    return out


def repeat(x, repeats, axis=None):
    """numpy repeat (Keras 3 ops.repeat)."""
    xv = value(x)
    if axis is None:
        return repeat(reshape(x, (-1,)), repeats, 0)
    a = normalize_axis(axis, xv.ndim, "repeat", xv.shape)
    if isinstance(repeats, Tensor):
        repeats = repeats._v
    if np.ndim(repeats) == 0:
        r = int(repeats)
        if r < 0:
            raise ValueError(f"repeat: negative repeats {r}")
        out = wrap(np.repeat(xv, r, axis=a))
        if _active and xv.dtype.kind == "f":
            record(out, G.repeat, (x,), (xv.shape, r, a))
        return out
    reps = np.asarray(repeats)
    if reps.shape != (xv.shape[a],):
        raise ValueError(f"repeat: repeats of shape {reps.shape} do not match axis {a} of shape {xv.shape}")
    return take(x, np.repeat(np.arange(xv.shape[a]), reps), axis=a)


def repeat_elements(x, rep, axis):
    """Keras K.repeat_elements: each element repeated `rep` times along `axis`."""
    return repeat(x, rep, axis)


def repeat_vector(x, n):
    """Keras K.repeat: (batch, dim) -> (batch, n, dim)."""
    xv = value(x)
    if xv.ndim != 2:
        raise ValueError(f"repeat: expected a 2-D (batch, dim) tensor, got shape {xv.shape}")
    return tile(expand_dims(x, 1), (1, int(n), 1))


def flip(x, axis=None):
    xv = value(x)
    axes = normalize_axes(axis, xv.ndim, "flip", xv.shape)
    out = wrap(np.flip(xv, axes))
    if _active and xv.dtype.kind == "f":
        record(out, G.flip, (x,), (axes,))
    return out


def reverse(x, axes):
    """Keras K.reverse."""
    return flip(x, axes)


def roll(x, shift, axis=None):
    xv = value(x)
    if axis is None:
        return reshape(roll(reshape(x, (-1,)), shift, 0), xv.shape)
    if isinstance(axis, (int, np.integer)):
        ax = normalize_axis(axis, xv.ndim, "roll", xv.shape)
        sh = int(shift)
    else:
        ax = tuple(normalize_axis(a, xv.ndim, "roll", xv.shape) for a in axis)
        sh = tuple(int(s) for s in shift)
    out = wrap(np.roll(xv, sh, axis=ax))
    if _active and xv.dtype.kind == "f":
        record(out, G.roll, (x,), (sh, ax))
    return out


# ------------------------------------------------------------------------------------------------
# Resizing (upsampling)

def _linear_matrix(n_in, n_out, dtype):
    """(n_out, n_in) linear interpolation with half-pixel centres, edges clamped (TF2 / JAX)."""
    scale = n_in / n_out
    src = (np.arange(n_out) + 0.5) * scale - 0.5
    lo = np.floor(src)
    w = src - lo
    lo = lo.astype(np.int64)
    hi = np.clip(lo + 1, 0, n_in - 1)
    lo = np.clip(lo, 0, n_in - 1)
    m = np.zeros((n_out, n_in), np.float64)
    rows = np.arange(n_out)
    np.add.at(m, (rows, lo), 1.0 - w)
    np.add.at(m, (rows, hi), w)
    return m.astype(dtype)


def resize(x, size, interpolation="bilinear", data_format=None):
    """Resizes the spatial axes of (batch, *spatial, channels) to `size` ('nearest' or 'bilinear')."""
    xv = value(x)
    df = common.standardize_data_format(data_format)
    if df == "channels_first":
        perm = (0,) + tuple(range(2, xv.ndim)) + (1,)
        y = resize(transpose(x, perm), size, interpolation, "channels_last")
        return transpose(y, (0, xv.ndim - 1) + tuple(range(1, xv.ndim - 1)))
    rank = xv.ndim - 2
    size = tuple(int(s) for s in size)
    if rank < 1 or len(size) != rank:
        raise ValueError(f"resize: size {size} does not match the spatial axes of a tensor of shape {xv.shape}")
    interpolation = str(interpolation).lower()
    if interpolation == "nearest":
        r = x
        for d in range(rank):
            n_in, n_out = xv.shape[1 + d], size[d]
            if n_out % n_in == 0:
                r = repeat(r, n_out // n_in, axis=1 + d)
            else:
                idx = np.minimum(np.floor((np.arange(n_out) + 0.5) * n_in / n_out).astype(np.int64), n_in - 1)
                r = take(r, idx, axis=1 + d)
        return r
    if interpolation not in ("bilinear", "linear", "trilinear"):
        raise ValueError(f"resize: unknown interpolation {interpolation!r}, expected 'nearest' or 'bilinear'")
    dt = xv.dtype if xv.dtype.kind == "f" else common.floatx_dtype()
    mats = tuple(_linear_matrix(xv.shape[1 + d], size[d], dt) for d in range(rank))
    y = xv.astype(dt, copy=False)
    for d, m in enumerate(mats):
        y = np.moveaxis(np.tensordot(m, np.moveaxis(y, 1 + d, 0), axes=1), 0, 1 + d)
    out = wrap(np.ascontiguousarray(y))
    if _active and xv.dtype.kind == "f":
        record(out, G.resize_linear, (x,), (mats,))
    return out


def resize_images(x, height_factor, width_factor, data_format=None, interpolation="nearest"):
    """Keras K.resize_images: upsamples rows and columns by integer factors."""
    xv = value(x)
    df = common.standardize_data_format(data_format)
    h, w = (1, 2) if df == "channels_last" else (2, 3)
    if xv.ndim != 4:
        raise ValueError(f"resize_images: expected a 4-D tensor, got shape {xv.shape}")
    return resize(x, (xv.shape[h] * int(height_factor), xv.shape[w] * int(width_factor)), interpolation, df)


def resize_volumes(x, depth_factor, height_factor, width_factor, data_format=None):
    xv = value(x)
    df = common.standardize_data_format(data_format)
    first = 1 if df == "channels_last" else 2
    if xv.ndim != 5:
        raise ValueError(f"resize_volumes: expected a 5-D tensor, got shape {xv.shape}")
    r = x
    for i, f in enumerate((depth_factor, height_factor, width_factor)):
        r = repeat(r, int(f), axis=first + i)
    return r


# ------------------------------------------------------------------------------------------------
# Creation

def _dtype_or_floatx(dtype):
    return standardize_dtype(dtype)


def zeros(shape, dtype=None):
    return wrap(np.zeros(_shape_tuple(shape, "zeros"), _dtype_or_floatx(dtype)))


def ones(shape, dtype=None):
    return wrap(np.ones(_shape_tuple(shape, "ones"), _dtype_or_floatx(dtype)))


def full(shape, fill_value, dtype=None):
    fv = value(fill_value)
    dt = _dtype_or_floatx(dtype) if dtype is not None or np.asarray(fv).dtype.kind == "f" else np.asarray(fv).dtype
    return wrap(np.full(_shape_tuple(shape, "full"), fv, dt))


def zeros_like(x, dtype=None):
    xv = value(x)
    return wrap(np.zeros(xv.shape, xv.dtype if dtype is None else standardize_dtype(dtype)))


def ones_like(x, dtype=None):
    xv = value(x)
    return wrap(np.ones(xv.shape, xv.dtype if dtype is None else standardize_dtype(dtype)))


def full_like(x, fill_value, dtype=None):
    xv = value(x)
    return wrap(np.full(xv.shape, value(fill_value), xv.dtype if dtype is None else standardize_dtype(dtype)))


def eye(N, M=None, k=0, dtype=None):
    if isinstance(N, (tuple, list)):
        N, M = N
    return wrap(np.eye(int(N), None if M is None else int(M), int(k), _dtype_or_floatx(dtype)))


identity_matrix = eye


def arange(start, stop=None, step=1, dtype=None):
    if dtype is None:
        ints = builtins.all(isinstance(v, numbers.Integral) for v in (start, stop, step) if v is not None)
        dtype = "int32" if ints else common.floatx()
    return wrap(np.arange(start, stop, step, dtype=standardize_dtype(dtype)) if stop is not None
                else np.arange(start, step=step, dtype=standardize_dtype(dtype)))


def linspace(start, stop, num=50, endpoint=True, dtype=None):
    return wrap(np.linspace(start, stop, int(num), endpoint=endpoint, dtype=_dtype_or_floatx(dtype)))


def one_hot(indices, num_classes, axis=-1, dtype=None):
    """One-hot float tensor; out-of-range indices give all-zero rows (as Keras)."""
    idx = np.asarray(value(indices))
    if idx.dtype.kind not in "iu":
        if idx.dtype.kind == "f" and np.all(np.floor(idx) == idx):
            idx = idx.astype(np.int64)
        else:
            raise TypeError(f"one_hot: indices must be integers, got dtype {idx.dtype}")
    n = int(num_classes)
    r = (idx[..., None] == np.arange(n)).astype(_dtype_or_floatx(dtype))
    if axis != -1 and axis != idx.ndim:
        r = np.moveaxis(r, -1, normalize_axis(axis, idx.ndim + 1, "one_hot"))
    return wrap(r)


def _install_indexing():
    Tensor.__getitem__ = getitem


_install_indexing()

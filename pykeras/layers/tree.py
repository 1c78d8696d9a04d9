"""Nested structures of tensors (lists, tuples, dicts), as layers and models see their inputs.

Leaves are everything that is not a list, tuple or dict (tensors, arrays, numbers, None). Dicts
flatten in sorted-key order, as Keras 3 (optree) does, so a model's dict inputs and outputs have
one fixed order.
"""


def flatten(structure):
    """The leaves of `structure` in order (a lone leaf gives [leaf])."""
    out = []
    _flatten_into(structure, out)
    return out


def _flatten_into(x, out):
    if isinstance(x, dict):
        for key in sorted(x):
            _flatten_into(x[key], out)
    elif isinstance(x, (list, tuple)):
        for item in x:
            _flatten_into(item, out)
    else:
        out.append(x)


def map_structure(fn, structure):
    """The same structure with every leaf replaced by fn(leaf)."""
    if isinstance(structure, dict):
        return {key: map_structure(fn, structure[key]) for key in structure}
    if isinstance(structure, tuple) and hasattr(structure, "_fields"):  # namedtuple
        return type(structure)(*[map_structure(fn, item) for item in structure])
    if isinstance(structure, (list, tuple)):
        return type(structure)(map_structure(fn, item) for item in structure)
    return fn(structure)


def pack_sequence_as(structure, flat):
    """Rebuilds `structure` with the leaves taken in order from `flat`."""
    flat = list(flat)
    it = iter(flat)
    result = _pack(structure, it)
    return result


def _pack(x, it):
    if isinstance(x, dict):
        packed = {key: _pack(x[key], it) for key in sorted(x)}
        return {key: packed[key] for key in x}
    if isinstance(x, tuple) and hasattr(x, "_fields"):
        return type(x)(*[_pack(item, it) for item in x])
    if isinstance(x, (list, tuple)):
        return type(x)(_pack(item, it) for item in x)
    return next(it)

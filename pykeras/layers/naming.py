"""Unique default names for layers and models: dense, dense_1, dense_2, ...

Names are counted per base name for the whole process, as Keras does, and reset by
`pykeras.backend.clear_session()` (through `reset_names`).
"""
import re

_counts = {}


def to_snake_case(name):
    """Keras's class-name to layer-name rule: "LayerNormalization" -> "layer_normalization"."""
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def unique_name(base):
    """`base` the first time, then base_1, base_2, ..."""
    count = _counts.get(base, 0)
    _counts[base] = count + 1
    return base if count == 0 else f"{base}_{count}"


def reset_names():
    _counts.clear()

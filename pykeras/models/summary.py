"""model.summary(): Keras 3's table, character for character (as Keras prints it without colors).

Keras 3 renders the summary with the `rich` library; this module reproduces that output without
the dependency. Layout rules (from Keras's print_summary and rich's Table):
  - line_length = min(88 for a sequential-like model, 108 with the "Connected to" column;
    terminal columns - 4); column i gets int(positions[i] * line_length) - previous columns.
  - rich adds 1 space of padding on each side of a cell and n + 1 border characters; the table
    must fit in line_length, so the excess is taken from the columns evenly (rich's ratio_reduce:
    column by column, round(excess_left / columns_left), Python rounding).
  - cells word-wrap at spaces (words longer than the cell are cut), are top-aligned, left- or
    right-justified; rows are separated by lines (show_lines=True); the header uses heavy lines.
  - below the table: Total / Trainable / Non-trainable params with their size in bytes
    (1024-based units, two decimals), plus Optimizer params once the optimizer is built.
"""
import re
import shutil
import sys

import numpy as np

from pykeras.layers import tree

_WORD = re.compile(r"\s*\S+\s*")


def count_params(weights):
    return int(sum(int(np.prod(w.shape)) for w in weights))


def weight_memory_size(weights):
    """Bytes taken by the distinct `weights`."""
    unique = {id(w): w for w in weights}.values()
    return float(sum(int(np.prod(w.shape)) * np.dtype(w.dtype).itemsize for w in unique))


def readable_memory_size(size):
    for unit in ["B", "KB", "MB", "GB", "TB", "PB"]:
        if size / 1024 < 1:
            return "{:.2f} {}".format(size, unit)
        size /= 1024
    return "{:.2f} {}".format(size, "PB")


def _format_shape(shape):
    return "(" + ", ".join(str(d) for d in shape) + ")"


def format_layer_shape(layer):
    nodes = layer._inbound_nodes
    build_shape = layer.__dict__.get("_build_input_shape")
    if not nodes and build_shape is None:
        return "?"
    if nodes:
        outputs = nodes[-1].outputs
        shapes = tree.map_structure(lambda t: _format_shape(t.shape), outputs)
    else:
        try:
            shape = layer.compute_output_shape(build_shape)
        except Exception:
            return "?"
        from pykeras.layers.layer import _map_shapes
        shapes = _map_shapes(_format_shape, shape)
    flat = tree.flatten(shapes)
    if len(flat) == 1:
        return flat[0]
    return str(shapes).replace("'", "")


def _wrap(text, width):
    """Lines of `text` wrapped to `width` as rich does for a table cell: break at spaces; a word
    longer than the cell starts its own line and is cut with an ellipsis."""
    lines = []
    for paragraph in text.split("\n"):
        breaks, offset = [], 0
        for match in _WORD.finditer(paragraph):
            start, word = match.start(), match.group()
            length = len(word.rstrip())
            if width - offset >= length:
                offset += len(word)
            elif length > width:
                if start:
                    breaks.append(start)
                offset = len(word)
            elif offset and start:
                breaks.append(start)
                offset = len(word)
        cuts = [0] + breaks + [len(paragraph)]
        for a, b in zip(cuts, cuts[1:]):
            line = paragraph[a:b].rstrip()
            if len(line) > width:
                line = line[:width - 1] + "\u2026"
            lines.append(line)
    return lines or [""]


def _justify(text, width, align):
    if align == "right":
        return " " * (width - len(text)) + text
    if align == "center":
        left = (width - len(text)) // 2
        return " " * left + text + " " * (width - len(text) - left)
    return text + " " * (width - len(text))


def _ratio_reduce(total, widths):
    """rich's ratio_reduce with equal ratios: take `total` columns away, evenly, left to right."""
    remaining, ratio_left, out = total, len(widths), []
    for w in widths:
        taken = min(w, round(remaining / ratio_left))
        out.append(w - taken)
        remaining -= taken
        ratio_left -= 1
    return out


def render_table(header, alignment, column_widths, rows, line_length):
    """The table as lines of text (rich's HEAVY_HEAD box, show_lines=True)."""
    widths = [w + 2 for w in column_widths]
    max_width = line_length - (len(widths) + 1)
    if sum(widths) > max_width:
        widths = _ratio_reduce(sum(widths) - max_width, widths)
    inner = [w - 2 for w in widths]

    def render_row(cells, bar):
        wrapped = [_wrap(str(cell), width) for cell, width in zip(cells, inner)]
        height = max(len(w) for w in wrapped)
        out = []
        for i in range(height):
            parts = []
            for lines, width, align in zip(wrapped, inner, alignment):
                text = lines[i] if i < len(lines) else ""
                parts.append(" " + _justify(text, width, align) + " ")
            out.append(bar + bar.join(parts) + bar)
        return out

    def rule(left, fill, mid, right):
        return left + mid.join(fill * w for w in widths) + right

    lines = [rule("┏", "━", "┳", "┓")]
    lines += render_row(header, "┃")
    lines.append(rule("┡", "━", "╇", "┩"))
    for i, row in enumerate(rows):
        if i:
            lines.append(rule("├", "─", "┼", "┤"))
        lines += render_row(row, "│")
    lines.append(rule("└", "─", "┴", "┘"))
    return lines


def _is_sequential_like(model):
    from pykeras.models.functional import Functional
    from pykeras.models.sequential import Sequential
    if isinstance(model, Sequential) or not isinstance(model, Functional):
        return True
    nodes = []
    for depth_nodes in model._nodes_by_depth.values():
        if len(depth_nodes) > 1 or (len(depth_nodes) == 1 and len(depth_nodes[0].input_tensors) > 1):
            return False
        nodes += depth_nodes
    node_ids = {id(n) for n in nodes}
    for layer in model.layers:
        if sum(1 for n in layer._inbound_nodes if id(n) in node_ids) > 1:
            return False
    return True


def print_summary(model, line_length=None, positions=None, print_fn=None, expand_nested=False,
                  show_trainable=False, layer_range=None):
    """Prints (or passes to `print_fn` as one string) the Keras 3 summary of `model`."""
    from pykeras.models.functional import Functional
    from pykeras.models.sequential import Sequential

    if isinstance(model, Functional) and not isinstance(model, Sequential):
        layers = model._operations
    else:
        layers = model.layers
    sequential_like = _is_sequential_like(model)
    if sequential_like:
        default_line_length = 88
        positions = positions or [0.45, 0.80, 1.0]
        header = ["Layer (type)", "Output Shape", "Param #"]
        alignment = ["left", "left", "right"]
        relevant_nodes = set()
    else:
        default_line_length = 108
        positions = positions or [0.3, 0.56, 0.74, 1.0]
        header = ["Layer (type)", "Output Shape", "Param #", "Connected to"]
        alignment = ["left", "left", "right", "left"]
        relevant_nodes = {id(n) for nodes in model._nodes_by_depth.values() for n in nodes}
    if show_trainable:
        default_line_length += 12
        positions = [p * 0.90 for p in positions] + [1.0]
        header.append("Trainable")
        alignment.append("center")

    default_line_length = min(default_line_length, shutil.get_terminal_size().columns - 4)
    line_length = line_length or default_line_length
    column_widths, current = [], 0
    for pos in positions:
        width = int(pos * line_length) - current
        if width < 4:
            raise ValueError("Insufficient console width to print summary.")
        column_widths.append(width)
        current += width

    def connections(layer):
        parts = []
        for node in layer._inbound_nodes:
            if relevant_nodes and id(node) not in relevant_nodes:
                continue
            for t in node.input_tensors:
                op, node_index, tensor_index = t._keras_history
                parts.append(f"{op.name}[{node_index}][{tensor_index}]")
        return ", ".join(parts) if parts else "-"

    def fields(layer, prefix=""):
        name = f"{prefix}{layer.name} ({layer.__class__.__name__})"
        if not layer.built:
            params = "0 (unbuilt)"
        else:
            params = f"{layer.count_params():,}"
        row = [name, format_layer_shape(layer), params]
        if not sequential_like:
            row.append(connections(layer))
        if show_trainable:
            row.append(("Y" if layer.trainable else "N") if layer.weights else "-")
        return row

    def rows_for(layer, level=0):
        prefix = "   " * level + "└ " if level else ""
        rows = [fields(layer, prefix)]
        sub = getattr(layer, "layers", None)
        if expand_nested and sub:
            for inner in sub:
                rows.extend(rows_for(inner, level + 1))
        return rows

    start, end = _layer_range(layers, layer_range)
    rows = []
    for layer in layers[start:end]:
        rows.extend(rows_for(layer))

    trainable = model.trainable_weights
    non_trainable = model.non_trainable_weights
    trainable_count, trainable_size = count_params(trainable), weight_memory_size(trainable)
    non_trainable_count, non_trainable_size = count_params(non_trainable), weight_memory_size(non_trainable)
    optimizer = getattr(model, "optimizer", None) if getattr(model, "compiled", False) else None
    optimizer_vars = list(getattr(optimizer, "variables", []) or []) if optimizer is not None and \
        getattr(optimizer, "built", False) else None
    optimizer_count = count_params(optimizer_vars) if optimizer_vars is not None else 0
    optimizer_size = weight_memory_size(optimizer_vars) if optimizer_vars is not None else 0.0

    lines = [f'Model: "{model.name}"']
    # Like rich's console, crop table lines to the terminal width.
    console_width = shutil.get_terminal_size().columns
    lines += [line[:console_width] for line in render_table(header, alignment, column_widths, rows, line_length)]
    total_count = trainable_count + non_trainable_count + optimizer_count
    total_size = trainable_size + non_trainable_size + optimizer_size
    lines.append(f" Total params: {total_count:,} ({readable_memory_size(total_size)})")
    lines.append(f" Trainable params: {trainable_count:,} ({readable_memory_size(trainable_size)})")
    lines.append(f" Non-trainable params: {non_trainable_count:,} ({readable_memory_size(non_trainable_size)})")
    if optimizer_vars is not None:
        lines.append(f" Optimizer params: {optimizer_count:,} ({readable_memory_size(optimizer_size)})")
    text = "\n".join(lines) + "\n"
    if print_fn is None:
        sys.stdout.write(text)
    else:
        print_fn(text)


def _layer_range(layers, layer_range):
    if layer_range is None:
        return 0, len(layers)
    if len(layer_range) != 2:
        raise ValueError(f"layer_range must be a list or tuple of length 2. Received: layer_range={layer_range}")
    start = [i for i, l in enumerate(layers) if re.match(layer_range[0], l.name)]
    end = [i for i, l in enumerate(layers) if re.match(layer_range[1], l.name)]
    if not start or not end:
        raise ValueError(f"Passed layer_names do not match the layer names in the model. Received: {layer_range}")
    return min(start), max(end) + 1

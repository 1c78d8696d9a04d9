"""Reverse-mode automatic differentiation: GradientTape and the recording of ops.

Recording. `_active` lists the tapes currently recording. An op calls `record(...)` only when
that list is non-empty, so ops outside any tape pay one truthiness test. A tape records an op
when one of its inputs is tracked by the tape: a tensor produced by an op this tape recorded, a
tensor or variable passed to `watch`, or a trainable float Variable (watched automatically unless
`watch_accessed_variables=False`). The record is a Node stored on the output tensor (`t._node`)
and appended to the tape's list; it holds the backward rule (a function of gradients.py), the
keys of the tracked inputs ("parents": the input's Node, or the input itself for a watched
leaf; None for an untracked input, whose gradient is then never computed) and what the rule
needs from the forward pass ("saved"). Every op has exactly one output.

Gradient. `tape.gradient` walks the tape's nodes backwards (creation order is a topological
order), popping each node's accumulated output gradient, calling its rule and adding the input
gradients into a dict keyed by the parent objects (identity-hashed). The first gradient that reaches a key is stored
as is (it may alias another array: rules never write into their inputs); a second one allocates
their sum, which is then owned by the walk and receives later contributions in place. Popping
releases each intermediate gradient as soon as it is used; a non-persistent tape also drops its
nodes and their saved arrays when the walk is done. Sources not reached get None.
"""
import builtins
import itertools

import numpy as np

from pykeras.backend.tensor import Tensor, to_array, wrap

_active = []
_serials = itertools.count(1)
_new = object.__new__


class Node:
    """One recorded op: backward rule, parent keys (one per differentiable input), saved values."""

    __slots__ = ("bwd", "parents", "saved", "tapes", "__weakref__")

    def __repr__(self):
        return f"<Node {getattr(self.bwd, '__name__', self.bwd)}>"


def _key(x):
    n = x._node
    return x if n is None else n


def _leaf(x, tape):
    """Key of a non-produced input x on `tape` (x itself when watched), or None."""
    if not isinstance(x, Tensor):
        return None
    if x._is_var:
        if x.trainable and tape._auto and x._v.dtype.kind == "f":
            tape._watched[id(x)] = x
            return x
        return x if id(x) in tape._watched else None
    if id(x) in tape._watched:
        n = x._node
        return x if n is None else n
    return None


def _tracked_single(x, tape, serial):
    """Parent key of input x on `tape`, or None when the tape does not track x."""
    n = getattr(x, "_node", None)
    if n is not None and serial in n.tapes:
        return n
    return _leaf(x, tape)


def record(out, bwd, inputs, saved=None):
    """Records `out = op(*inputs)` with backward rule `bwd` on every tape tracking an input.

    `inputs` lists the differentiable inputs (Tensors, or anything else for constants);
    `bwd(node, g)` returns one gradient (or None) per input. Returns the node or None.
    """
    tapes = _active
    if len(tapes) != 1:
        return _record_multi(out, bwd, inputs, saved, tapes)
    tape = tapes[0]
    serial = tape._serial
    parents = []
    hit = False
    for x in inputs:
        # Inlined _tracked_single: inputs produced on this tape are the common case.
        n = getattr(x, "_node", None)
        if n is not None and serial in n.tapes:
            parents.append(n)
            hit = True
            continue
        p = _leaf(x, tape)
        if p is not None:
            hit = True
        parents.append(p)
    if not hit:
        return None
    node = _new(Node)
    node.bwd = bwd
    node.parents = parents
    node.saved = saved
    node.tapes = (serial,)
    tape._nodes.append(node)
    out._node = node
    return node


def _record_multi(out, bwd, inputs, saved, tapes):
    parents = [None] * len(inputs)
    serials = []
    recorders = []
    for tape in tapes:
        hit = False
        for i, x in enumerate(inputs):
            if _tracked_single(x, tape, tape._serial) is not None:
                parents[i] = _key(x)
                hit = True
        if hit and tape not in recorders:
            serials.append(tape._serial)
            recorders.append(tape)
    if not recorders:
        return None
    node = _new(Node)
    node.bwd = bwd
    node.parents = parents
    node.saved = saved
    node.tapes = tuple(serials)
    for tape in recorders:
        tape._nodes.append(node)
    out._node = node
    return node


def recording():
    """True when some tape is recording."""
    return bool(_active)


def stop_gradient(x):
    """x as a constant: the same values, never differentiated through."""
    v = x._v if isinstance(x, Tensor) else to_array(x)
    return wrap(v)


class _StopRecording:
    def __init__(self, tape):
        self._tape = tape
        self._was_active = False

    def __enter__(self):
        self._was_active = self._tape in _active
        if self._was_active:
            _remove(self._tape)
        return self

    def __exit__(self, *exc):
        if self._was_active:
            _active.append(self._tape)
        return False


def _remove(tape):
    for i in range(len(_active) - 1, -1, -1):
        if _active[i] is tape:
            del _active[i]
            return


class GradientTape:
    """Records ops on watched values to compute gradients in reverse mode (TensorFlow/Keras API).

    Args:
        persistent: allow several `gradient` calls (the tape then keeps its records until it
            is garbage collected or `reset`).
        watch_accessed_variables: watch trainable Variables used by recorded ops automatically.
    """

    def __init__(self, persistent=False, watch_accessed_variables=True):
        self._persistent = bool(persistent)
        self._auto = bool(watch_accessed_variables)
        self._serial = next(_serials)
        self._nodes = []
        self._watched = {}
        self._used = False

    def __enter__(self):
        if self._used and not self._persistent:
            raise RuntimeError("GradientTape: a non-persistent tape cannot record again after gradient()")
        _active.append(self)
        return self

    def __exit__(self, *exc):
        _remove(self)
        return False

    def watch(self, tensor):
        """Tracks `tensor` (a Tensor, a Variable, or a list/tuple/dict of them)."""
        if isinstance(tensor, (list, tuple)):
            for t in tensor:
                self.watch(t)
            return
        if isinstance(tensor, dict):
            for t in tensor.values():
                self.watch(t)
            return
        if not isinstance(tensor, Tensor):
            raise TypeError(f"GradientTape.watch: expected a Tensor or Variable, got {type(tensor).__name__} "
                            "(convert numpy arrays with convert_to_tensor first and watch the result)")
        if tensor._v.dtype.kind != "f":
            return  # integer values have no gradient (TensorFlow ignores them too)
        self._watched[id(tensor)] = tensor

    def stop_recording(self):
        """Context manager pausing this tape's recording."""
        return _StopRecording(self)

    def reset(self):
        """Forgets everything recorded and watched."""
        self._nodes = []
        self._watched = {}
        self._used = False

    def watched_variables(self):
        return tuple(t for t in self._watched.values() if t._is_var)

    def _source_key(self, s):
        if not isinstance(s, Tensor):
            raise TypeError(f"GradientTape.gradient: sources must be Tensors or Variables, got {type(s).__name__}")
        return _key(s)

    def _target_key(self, t):
        n = t._node
        if n is not None and self._serial in n.tapes:
            return n
        if id(t) in self._watched:
            return t if n is None else n
        return None

    def gradient(self, target, sources, output_gradients=None, unconnected_gradients="none"):
        """d(sum of targets * output_gradients)/d(sources), shaped like `sources`.

        target: a Tensor or a list of Tensors; sources: a Tensor/Variable, or a list, tuple or dict
        of them; output_gradients: the upstream gradients (default ones). Unconnected sources
        give None (or zeros with unconnected_gradients='zero').
        """
        if self._used and not self._persistent:
            raise RuntimeError("GradientTape.gradient can only be called once on a non-persistent tape; "
                               "use GradientTape(persistent=True) to compute several gradients")
        if unconnected_gradients not in ("none", "zero"):
            raise ValueError(f"GradientTape.gradient: unconnected_gradients must be 'none' or 'zero', "
                             f"got {unconnected_gradients!r}")
        self._used = True
        if not self._persistent:
            _remove(self)

        # Flatten the sources.
        if isinstance(sources, dict):
            names, flat = list(sources.keys()), list(sources.values())
        elif isinstance(sources, (list, tuple)):
            names, flat = None, list(sources)
        else:
            names, flat = None, [sources]
        keys = [self._source_key(s) for s in flat]
        # Sources produced by recorded ops keep their gradient when the walk reaches them
        # (usually there are none: sources are variables).
        node_sources = {id(k) for k in keys if k.__class__ is Node}

        targets = list(target) if isinstance(target, (list, tuple)) else [target]
        if output_gradients is None:
            ograds = [None] * len(targets)
        else:
            ograds = list(output_gradients) if isinstance(output_gradients, (list, tuple)) else [output_gradients]
            if len(ograds) != len(targets):
                raise ValueError(f"GradientTape.gradient: {len(targets)} targets but {len(ograds)} output_gradients")

        # Gradients are keyed by the parent objects themselves (Nodes and leaf Tensors hash by
        # identity and stay alive through the nodes' parent lists during the walk).
        grads = {}
        owned = set()
        for t, og in zip(targets, ograds):
            if not isinstance(t, Tensor):
                continue
            k = self._target_key(t)
            if k is None and builtins.any(_key(t) is key for key in keys):
                k = _key(t)
            if k is None:
                continue
            tv = t._v
            if og is None:
                g = np.ones(tv.shape, tv.dtype if tv.dtype.kind == "f" else np.float32)
            else:
                g = to_array(og)
                if g.shape != tv.shape:
                    try:
                        g = np.broadcast_to(g, tv.shape)
                    except ValueError:
                        raise ValueError(f"GradientTape.gradient: output_gradients of shape {g.shape} do not match "
                                         f"the target shape {tv.shape}") from None
                if g.dtype != tv.dtype and tv.dtype.kind == "f":
                    g = g.astype(tv.dtype)
            _accumulate(grads, owned, k, g)

        nodes = self._nodes
        persistent = self._persistent
        if grads:
            pop = grads.pop
            get = grads.get
            for node in reversed(nodes):
                g = pop(node, None)
                if g is None:
                    continue
                if node_sources and id(node) in node_sources:
                    grads[node] = g
                input_grads = node.bwd(node, g)
                for p, gi in zip(node.parents, input_grads):
                    if p is None or gi is None:
                        continue
                    if gi.__class__ is IndexedGrad:
                        gi.accumulate_into(grads, owned, p)
                        continue
                    prev = get(p)
                    if prev is None:
                        grads[p] = gi
                    elif id(p) in owned:
                        np.add(prev, gi, out=prev)
                    else:
                        grads[p] = prev + gi
                        owned.add(id(p))
                if not persistent:
                    node.saved = None
        if not persistent:
            for node in nodes:
                node.saved = None
            self._nodes = []

        out = []
        for s, k in zip(flat, keys):
            g = grads.get(k)
            if g is None:
                out.append(wrap(np.zeros(s._v.shape, s._v.dtype)) if unconnected_gradients == "zero" else None)
                continue
            sv = s._v
            if g.dtype != sv.dtype and sv.dtype.kind == "f":
                g = g.astype(sv.dtype)
            if g.shape != sv.shape:
                g = np.broadcast_to(g, sv.shape)
            out.append(wrap(np.ascontiguousarray(g)))
        if names is not None:
            return dict(zip(names, out))
        if isinstance(sources, (list, tuple)):
            return out if isinstance(sources, list) else tuple(out)
        return out[0]

    def jacobian(self, target, sources):
        raise NotImplementedError("GradientTape.jacobian is not supported; compute gradients row by row")


class IndexedGrad:
    """A gradient that is zero except at `key` (an index of a tensor of `shape`), where it is `value`.

    Rules of indexing ops return it instead of a mostly-zero array, so that the gradients of many
    slices of one tensor (unstack, per-time-step indexing) add into one buffer in place rather
    than each allocating and adding a full-size array. `basic` means the key selects every
    element at most once (plain `+=` is then exact); otherwise np.add.at sums repeated indices.
    """

    __slots__ = ("shape", "dtype", "key", "value", "basic")

    def __init__(self, shape, dtype, key, value, basic):
        self.shape, self.dtype, self.key, self.value, self.basic = shape, dtype, key, value, basic

    def _add(self, buf):
        if self.basic:
            buf[self.key] += self.value
        else:
            np.add.at(buf, self.key, self.value)

    def dense(self):
        buf = np.zeros(self.shape, self.dtype)
        self._add(buf)
        return buf

    def accumulate_into(self, grads, owned, k):
        prev = grads.get(k)
        if prev is None:
            grads[k] = self.dense()
        else:
            if id(k) not in owned:
                prev = prev.copy()
                grads[k] = prev
            self._add(prev)
        owned.add(id(k))


def _accumulate(grads, owned, k, g):
    prev = grads.get(k)
    if prev is None:
        grads[k] = g
    elif id(k) in owned:
        np.add(prev, g, out=prev)
    else:
        grads[k] = prev + g
        owned.add(id(k))

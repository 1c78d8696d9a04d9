"""GradientTape semantics: what is recorded, watched, accumulated, released and returned."""
import gc
import weakref

import numpy as np
import pytest

from pykeras import backend as K
from pykeras.backend import tape as tape_module


def f32(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def test_unconnected_sources_give_none():
    a, b = K.variable(f32(3)), K.variable(f32(3, seed=1))
    with K.GradientTape() as tape:
        y = K.sum(a * 2.0)
    ga, gb = tape.gradient(y, [a, b])
    np.testing.assert_allclose(np.asarray(ga), 2.0)
    assert gb is None


def test_unconnected_zero_option():
    a, b = K.variable(f32(3)), K.variable(f32(2))
    with K.GradientTape() as tape:
        y = K.sum(a)
    _, gb = tape.gradient(y, [a, b], unconnected_gradients="zero")
    np.testing.assert_array_equal(np.asarray(gb), np.zeros(2))


def test_sources_structure_is_kept():
    a, b = K.variable(f32(2)), K.variable(f32(2))
    with K.GradientTape(persistent=True) as tape:
        y = K.sum(a * b)
    assert isinstance(tape.gradient(y, a), K.Tensor)
    assert isinstance(tape.gradient(y, [a, b]), list)
    assert isinstance(tape.gradient(y, (a, b)), tuple)
    d = tape.gradient(y, {"a": a, "b": b})
    np.testing.assert_allclose(np.asarray(d["a"]), np.asarray(b))


def test_trainable_variables_are_watched_automatically_constants_are_not():
    v = K.variable(f32(3))
    frozen = K.Variable(f32(3), trainable=False)
    c = K.constant(f32(3))
    with K.GradientTape() as tape:
        y = K.sum(v * c + frozen)
    gv, gf, gc_ = tape.gradient(y, [v, frozen, c])
    np.testing.assert_allclose(np.asarray(gv), np.asarray(c))
    assert gf is None and gc_ is None
    assert tape.watched_variables() == (v,)


def test_watch_accessed_variables_false():
    v = K.variable(f32(3))
    with K.GradientTape(watch_accessed_variables=False) as tape:
        y = K.sum(K.square(v))
    assert tape.gradient(y, v) is None
    with K.GradientTape(watch_accessed_variables=False) as tape:
        tape.watch(v)
        y = K.sum(K.square(v))
    np.testing.assert_allclose(np.asarray(tape.gradient(y, v)), 2 * np.asarray(v), rtol=1e-6)


def test_watch_a_constant_and_an_intermediate():
    x = K.constant(f32(2, 3))
    with K.GradientTape(persistent=True) as tape:
        tape.watch(x)
        h = K.exp(x)
        y = K.sum(h * h)
    np.testing.assert_allclose(np.asarray(tape.gradient(y, h)), 2 * np.exp(np.asarray(x)), rtol=1e-5)
    np.testing.assert_allclose(np.asarray(tape.gradient(y, x)), 2 * np.exp(2 * np.asarray(x)), rtol=1e-5)


def test_watching_numpy_arrays_is_a_type_error():
    with K.GradientTape() as tape:
        with pytest.raises(TypeError, match="convert_to_tensor"):
            tape.watch(np.ones(3))


def test_no_recording_outside_a_tape_or_for_constants():
    v = K.variable(f32(3))
    y = v * 2.0
    assert y._node is None
    with K.GradientTape() as tape:
        z = K.constant(f32(3)) * 3.0
    assert z._node is None and tape._nodes == []


def test_integer_ops_are_not_differentiable():
    v = K.variable(f32(3, 4))
    with K.GradientTape() as tape:
        idx = K.argmax(v, axis=1)
        mask = K.greater(v, 0.0)
        as_int = K.cast(v, "int32")
        y = K.sum(K.cast(mask, "float32") * v) + K.sum(K.cast(as_int, "float32"))
    assert idx._node is None and mask._node is None and as_int._node is None
    assert idx.dtype == np.int32 and mask.dtype == np.bool_
    np.testing.assert_allclose(np.asarray(tape.gradient(y, v)), (np.asarray(v) > 0).astype(np.float32))
    # Watching an integer tensor is ignored (as TensorFlow does).
    t = K.convert_to_tensor(np.arange(3))
    assert t.dtype.kind == "i"
    with K.GradientTape() as tape:
        tape.watch(t)
        y = K.sum(K.cast(t, "float32") * 2.0)
    assert tape.gradient(y, t) is None


def test_stop_gradient():
    v = K.variable(f32(3))
    with K.GradientTape() as tape:
        y = K.sum(v * K.stop_gradient(v))
    np.testing.assert_allclose(np.asarray(tape.gradient(y, v)), np.asarray(v), rtol=1e-6)


def test_gradients_of_a_tensor_used_several_times_accumulate():
    v = K.variable(np.array([1.0, 2.0, 3.0], np.float32))
    with K.GradientTape() as tape:
        a = v * v          # 2v
        b = K.exp(v) + v   # exp(v) + 1
        y = K.sum(a + b + v)
    np.testing.assert_allclose(np.asarray(tape.gradient(y, v)), 2 * np.asarray(v) + np.exp(np.asarray(v)) + 2,
                               rtol=1e-6)


def test_in_place_accumulation_does_not_corrupt_shared_gradients():
    # a feeds two consumers that pass the same gradient array through (add); the accumulation
    # into a must not write into the array the consumers share.
    v = K.variable(f32(4))
    w = K.variable(f32(4, seed=2))
    with K.GradientTape() as tape:
        a = v + 0.0
        s = a + w
        y = K.sum(s + a + a)
    gv, gw = tape.gradient(y, [v, w])
    np.testing.assert_allclose(np.asarray(gv), 3.0)
    np.testing.assert_allclose(np.asarray(gw), 1.0)


def test_persistent_tape_allows_several_gradients():
    v = K.variable(f32(3))
    with K.GradientTape(persistent=True) as tape:
        y = K.sum(v * v)
        z = K.sum(v * 3.0)
    g1 = tape.gradient(y, v)
    g2 = tape.gradient(z, v)
    g3 = tape.gradient(y, v)
    np.testing.assert_allclose(np.asarray(g1), np.asarray(g3))
    np.testing.assert_allclose(np.asarray(g2), 3.0)


def test_non_persistent_tape_is_single_use_and_releases_memory():
    v = K.variable(f32(64, 64))
    with K.GradientTape() as tape:
        h = K.exp(v)
        y = K.sum(h * h)
    saved = weakref.ref(h._node.saved[1])  # exp's output, kept for its gradient
    tape.gradient(y, v)
    assert tape._nodes == [] and h._node.saved is None
    gc.collect()
    assert saved() is not None  # still referenced by h itself
    with pytest.raises(RuntimeError, match="non-persistent"):
        tape.gradient(y, v)


def test_intermediates_are_freed_after_gradient():
    v = K.variable(f32(8, 8))
    with K.GradientTape() as tape:
        y = K.sum(K.exp(K.tanh(v) * 2.0))
    probe = weakref.ref(tape._nodes[0])
    tape.gradient(y, v)
    del y
    gc.collect()
    assert probe() is None


def test_output_gradients_and_list_targets():
    v = K.variable(f32(2, 3))
    with K.GradientTape(persistent=True) as tape:
        y = v * 2.0
        z = K.sum(v)
    og = np.arange(6, dtype=np.float32).reshape(2, 3)
    np.testing.assert_allclose(np.asarray(tape.gradient(y, v, output_gradients=og)), 2 * og)
    np.testing.assert_allclose(np.asarray(tape.gradient([y, z], v)), 3.0)
    with pytest.raises(ValueError, match="output_gradients"):
        tape.gradient(y, v, output_gradients=np.ones((3, 3), np.float32))


def test_gradient_of_source_wrt_itself():
    v = K.variable(f32(3))
    with K.GradientTape() as tape:
        pass
    np.testing.assert_allclose(np.asarray(tape.gradient(v, v)), 1.0)


def test_gradient_inside_the_tape_context_and_stop_recording():
    v = K.variable(f32(3))
    with K.GradientTape(persistent=True) as tape:
        y = K.sum(v * v)
        with tape.stop_recording():
            z = v * 5.0
        assert z._node is None
        g = tape.gradient(y, v)
        w = v * 2.0
    np.testing.assert_allclose(np.asarray(g), 2 * np.asarray(v), rtol=1e-6)
    assert w._node is not None
    assert not tape_module._active


def test_nested_tapes_record_independently():
    x = K.variable(f32(3))
    c = K.constant(f32(3, seed=5))
    with K.GradientTape() as outer:
        a = x * 2.0
        with K.GradientTape() as inner:
            inner.watch(c)
            b = K.sum(c * a)
        gc_ = inner.gradient(b, c)
        y = K.sum(a * a)
    np.testing.assert_allclose(np.asarray(gc_), 2 * np.asarray(x), rtol=1e-6)
    np.testing.assert_allclose(np.asarray(outer.gradient(y, x)), 8 * np.asarray(x), rtol=1e-6)


def test_gradient_of_variable_value_and_ops_on_it():
    v = K.variable(f32(3))
    with K.GradientTape() as tape:
        y = K.sum(K.square(v.value))
    np.testing.assert_allclose(np.asarray(tape.gradient(y, v)), 2 * np.asarray(v), rtol=1e-6)


def test_gradient_dtype_and_contiguity():
    v = K.variable(f32(3, 4))
    with K.GradientTape() as tape:
        y = K.sum(K.transpose(v) * 2.0)
    g = np.asarray(tape.gradient(y, v))
    assert g.dtype == np.float32 and g.flags.c_contiguous and g.shape == (3, 4)


def test_softmax_crossentropy_fused_gradient_is_p_minus_y():
    z = K.variable(f32(4, 5))
    y = np.eye(5, dtype=np.float32)[[0, 1, 2, 3]]
    with K.GradientTape() as tape:
        loss = K.sum(K.categorical_crossentropy(y, K.softmax(z)))
    g = np.asarray(tape.gradient(loss, z))
    zv = np.asarray(z).astype(np.float64)
    p = np.exp(zv - zv.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    np.testing.assert_allclose(g, p - y, atol=1e-6)
    # One fused node for the loss, none of the softmax's own (unused) backward runs.
    names = [n.bwd.__name__ for n in tape._nodes] if tape._persistent else None
    assert names is None


def test_slice_gradients_accumulate_with_dense_ones():
    # Indexing rules hand back sparse (indexed) gradients; they must add up with dense ones in
    # any order, and never write into a gradient array another rule handed out.
    x = K.variable(np.arange(12, dtype=np.float32).reshape(3, 4))
    with K.GradientTape() as tape:
        parts = K.unstack(x, axis=0)
        y = K.sum(parts[0] * 2.0) + K.sum(x * 3.0) + K.sum(parts[2]) + K.sum(x[0, 1:]) + K.sum(x[np.array([1, 1])])
    g = np.asarray(tape.gradient(y, x))
    want = np.full((3, 4), 3.0)
    want[0] += 2.0
    want[2] += 1.0
    want[0, 1:] += 1.0
    want[1] += 2.0
    np.testing.assert_array_equal(g, want)

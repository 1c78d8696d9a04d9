"""Tensor and Variable behaviour, dtype rules, the Keras 2 helpers of K, settings, and bad input."""
import numpy as np
import pytest

import pykeras
from pykeras import backend as K
from pykeras import ops


def test_tensor_wraps_numpy_without_copy():
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    t = K.convert_to_tensor(a)
    assert np.asarray(t) is a
    assert t.numpy() is not a and np.array_equal(t.numpy(), a)
    assert t.shape == (2, 3) and t.ndim == 2 and t.size == 6 and t.dtype == np.float32
    assert isinstance(K.exp(t), K.Tensor)
    assert np.shares_memory(np.asarray(K.reshape(t, (3, 2))), a)  # reshape is a view, no copy


def test_default_dtypes():
    assert K.floatx() == "float32"
    assert K.convert_to_tensor(1.5).dtype == np.float32
    assert K.convert_to_tensor([1.0, 2.0]).dtype == np.float32
    assert K.convert_to_tensor(np.ones(2, np.float64)).dtype == np.float32
    assert K.convert_to_tensor(np.ones(2, np.float64), dtype="float64").dtype == np.float64
    assert K.convert_to_tensor([1, 2]).dtype == np.int32
    assert K.convert_to_tensor(np.array([1, 2], np.int64)).dtype == np.int64
    assert K.constant([1, 2]).dtype == np.float32
    assert K.variable(np.ones(2, np.float64)).dtype == np.float32


def test_type_promotion_is_keras_like():
    f = K.constant(np.ones(3, np.float32))
    i = K.convert_to_tensor(np.array([1, 2, 3]))
    assert (f + i).dtype == np.float32
    assert (i * 2.5).dtype == np.float32
    assert (i + 2).dtype == i.dtype
    assert (f * np.float64(2.0)).dtype == np.float32
    assert (np.ones(3, np.float32) + f).dtype == np.float32
    assert K.mean(i).dtype == np.float32
    assert K.sqrt(i).dtype == np.float32


def test_operators_and_python_protocol():
    t = K.constant(np.array([[1.0, -2.0], [3.0, 4.0]]))
    np.testing.assert_array_equal(np.asarray(-t), [[-1, 2], [-3, -4]])
    np.testing.assert_array_equal(np.asarray(abs(t)), [[1, 2], [3, 4]])
    np.testing.assert_array_equal(np.asarray(t // 3), [[0, -1], [1, 1]])
    np.testing.assert_array_equal(np.asarray(t % 3), [[1, 1], [0, 1]])
    np.testing.assert_array_equal(np.asarray(2 ** t), 2.0 ** np.asarray(t))
    np.testing.assert_array_equal(np.asarray(t @ t), np.asarray(t) @ np.asarray(t))
    np.testing.assert_array_equal(np.asarray(t.T), np.asarray(t).T)
    assert np.asarray(t > 0).dtype == bool and np.asarray(t == 1.0).tolist() == [[True, False], [False, False]]
    assert np.asarray(np.ones(2) + t[0]).dtype == np.float32  # numpy defers to the Tensor
    assert isinstance(np.ones(2) + t[0], K.Tensor)
    assert len(t) == 2 and [r.shape for r in t] == [(2,), (2,)]
    assert float(t[1, 1]) == 4.0 and int(t[0, 0]) == 1 and bool(t[0, 0])
    with pytest.raises(ValueError, match="exactly one element"):
        bool(t)
    assert (t == None) is False  # noqa: E711
    assert "shape=(2, 2)" in repr(t)
    assert t.reshape(4).shape == (4,) and t.reshape((1, 4)).shape == (1, 4)
    assert t.astype("int32").dtype == np.int32
    assert {t: 1}[t] == 1  # hashable by identity


def test_variable_updates_in_place():
    v = K.variable(np.zeros((2, 2)), name="w")
    buf = np.asarray(v)
    v.assign(np.ones((2, 2)))
    v.assign_add(np.full((2, 2), 2.0))
    v.assign_sub(1.0)
    assert np.asarray(v) is buf
    np.testing.assert_array_equal(buf, 2.0)
    assert v.name == "w" and v.path == "w" and v.trainable
    n = v.numpy()
    v.assign(np.zeros((2, 2)))
    assert n[0, 0] == 2.0  # numpy() is a copy
    with pytest.raises(ValueError, match=r"'w'.*\(3,\).*\(2, 2\)"):
        v.assign(np.zeros(3))


def test_variable_from_initializer_and_constraint():
    v = K.Variable(lambda shape, dtype: np.full(shape, 3.0, dtype), shape=(2,), constraint=abs, name="c")
    np.testing.assert_array_equal(np.asarray(v), [3.0, 3.0])
    assert v.constraint is abs
    k3 = K.Variable(initializer=np.ones(3), trainable=False, dtype="float64")
    assert k3.dtype == np.float64 and not k3.trainable
    with pytest.raises(ValueError, match="shape"):
        K.Variable(lambda shape, dtype: np.zeros(shape))


def test_keras2_value_helpers():
    z = K.zeros((2, 3), name="z")
    assert isinstance(z, K.Variable) and np.asarray(z).sum() == 0
    assert np.asarray(K.ones((2,))).tolist() == [1.0, 1.0]
    np.testing.assert_array_equal(np.asarray(K.eye(3)), np.eye(3))
    np.testing.assert_array_equal(np.asarray(K.eye((2, 3))), np.eye(2, 3))
    assert K.zeros_like(z).shape == (2, 3) and K.ones_like(z, dtype="int32").dtype == np.int32
    assert K.constant(2.0, shape=(2, 2)).shape == (2, 2)
    assert K.int_shape(z) == (2, 3) and K.shape(z) == (2, 3) and K.ndim(z) == 2 and K.dtype(z) == "float32"
    assert K.count_params(z) == 6
    K.set_value(z, np.ones((2, 3)))
    assert K.get_value(z).sum() == 6 and K.eval(z * 2.0).sum() == 12
    K.batch_set_value([(z, np.zeros((2, 3)))])
    assert K.batch_get_value([z])[0].sum() == 0
    K.update_add(z, np.ones((2, 3)))
    K.moving_average_update(z, np.full((2, 3), 3.0), 0.5)
    np.testing.assert_allclose(np.asarray(z), 2.0)
    assert K.is_tensor(z) and not K.is_tensor(np.ones(2))
    assert K.epsilon() == 1e-7 and K.image_data_format() == "channels_last"
    np.testing.assert_array_equal(np.asarray(K.arange(3)), [0, 1, 2])
    assert K.arange(3).dtype == np.int32
    np.testing.assert_array_equal(np.asarray(K.one_hot(np.array([1, 0, 5]), 3)), [[0, 1, 0], [1, 0, 0], [0, 0, 0]])
    assert np.asarray(K.in_top_k(np.array([[0.1, 0.5, 0.4], [0.3, 0.3, 0.4]]), np.array([2, 0]), 1)).tolist() == \
        [False, False]
    assert np.asarray(K.in_top_k(np.array([[0.1, 0.5, 0.4]]), np.array([2]), 2)).tolist() == [True]


def test_settings_round_trip():
    K.set_epsilon(1e-5)
    try:
        assert K.epsilon() == 1e-5
    finally:
        K.set_epsilon(1e-7)
    K.set_floatx("float64")
    try:
        assert K.convert_to_tensor(1.0).dtype == np.float64
        v = K.variable([1.0, 2.0])
        with K.GradientTape() as tape:
            y = K.sum(K.exp(v))
        g = tape.gradient(y, v)
        assert g.dtype == np.float64
    finally:
        K.set_floatx("float32")
    with pytest.raises(ValueError, match="float"):
        K.set_floatx("int8")
    with pytest.raises(ValueError, match="channels"):
        K.set_image_data_format("nhwc")


def test_clear_session_calls_registered_hooks_and_keras_tensor_hook():
    calls = []
    K.register_clear_session_callback(lambda: calls.append(1))
    K.set_learning_phase(1)
    K.clear_session(free_memory=False)
    assert calls == [1] and K.learning_phase() == 0

    class FakeKerasTensor:
        shape = (None, 3)

    K.register_keras_tensor_type(FakeKerasTensor)
    assert K.is_keras_tensor(FakeKerasTensor()) and not K.is_keras_tensor(K.zeros((1,)))
    assert K.int_shape(FakeKerasTensor()) == (None, 3)
    with pytest.raises(TypeError, match="symbolic"):
        K.exp(FakeKerasTensor())


def test_learning_phase_helpers():
    assert K.in_train_phase(1, 2, training=True) == 1
    assert K.in_train_phase(lambda: 1, lambda: 2, training=False) == 2
    assert K.in_test_phase(1, 2, training=False) == 1


def test_switch_and_rnn_helpers():
    assert float(K.switch(np.array(True), lambda: K.constant(1.0), lambda: K.constant(2.0))) == 1.0

    def step(x, states):
        h = states[0] + x
        return h, [h]

    x = np.arange(12, dtype=np.float32).reshape(2, 3, 2)
    last, seq, states = K.rnn(step, K.constant(x), [K.zeros_like(K.constant(x[:, 0]))])
    np.testing.assert_allclose(np.asarray(seq), np.cumsum(x, axis=1))
    np.testing.assert_allclose(np.asarray(last), x.sum(axis=1))
    mask = np.array([[True, True, False], [True, False, False]])
    last, seq, _ = K.rnn(step, K.constant(x), [K.zeros((2, 2))], mask=mask)
    np.testing.assert_allclose(np.asarray(last), [x[0, :2].sum(0), x[1, 0]])
    np.testing.assert_allclose(np.asarray(K.map_fn(lambda r: r * 2.0, K.constant(x))), x * 2)
    assert float(K.foldl(lambda a, e: a + e, K.constant(np.array([1.0, 2.0, 3.0])))) == 6.0


def test_package_exports():
    assert pykeras.backend is K
    assert pykeras.random.uniform is K.random.uniform
    assert ops.matmul is K.matmul and ops.stop_gradient is K.stop_gradient
    assert ops.convert_to_numpy(K.constant([1.0])).tolist() == [1.0]
    assert ops.identity(2).shape == (2, 2)
    assert int(ops.argmax(np.array([[1, 5], [7, 2]]))) == 2


# ------------------------------------------------------------------------------------------------
# Bad input: ValueError / TypeError naming the op and the shapes.

@pytest.mark.parametrize("call, match", [
    (lambda: K.add(np.ones((2, 3)), np.ones((4,))), r"add.*\(2, 3\).*\(4,\)"),
    (lambda: K.multiply(np.ones((2, 3)), np.ones((3, 2))), r"multiply.*\(2, 3\).*\(3, 2\)"),
    (lambda: K.matmul(np.ones((2, 3)), np.ones((4, 5))), r"matmul.*\(2, 3\).*\(4, 5\)"),
    (lambda: K.dot(np.ones((2, 3, 4)), np.ones((5, 3, 2))), r"dot.*\(2, 3, 4\).*\(5, 3, 2\)"),
    (lambda: K.batch_dot(np.ones((2, 3)), np.ones((3, 3))), r"batch_dot.*\(2, 3\).*\(3, 3\)"),
    (lambda: K.sum(np.ones((2, 3)), axis=2), r"sum.*axis 2.*\(2, 3\)"),
    (lambda: K.mean(np.ones((2, 3)), axis=(0, -3)), r"mean.*axis -3.*\(2, 3\)"),
    (lambda: K.softmax(np.ones((2, 3)), axis=5), r"softmax.*axis 5.*\(2, 3\)"),
    (lambda: K.concatenate([np.ones((2, 3)), np.ones((3, 3))], axis=1), r"concatenate.*\(2, 3\).*\(3, 3\)"),
    (lambda: K.reshape(np.ones((2, 3)), (4, 2)), r"reshape.*\(2, 3\).*\(4, 2\)"),
    (lambda: K.squeeze(np.ones((2, 3)), 1), r"squeeze.*axis 1.*\(2, 3\)"),
    (lambda: K.dense(np.ones((2, 3)), np.ones((4, 5))), r"dense.*\(2, 3\).*\(4, 5\)"),
    (lambda: K.dense(np.ones((2, 3)), np.ones((3, 5)), np.ones(4)), r"dense.*bias.*\(4,\)"),
    (lambda: K.conv2d(np.ones((1, 5, 5, 3)), np.ones((3, 3, 2, 4))), r"conv.*channels 3.*\(3, 3, 2, 4\)"),
    (lambda: K.conv2d(np.ones((1, 5, 5, 3)), np.ones((3, 3, 3, 4)), padding="full"), r"conv.*padding.*'full'"),
    (lambda: K.conv2d(np.ones((1, 2, 2, 3)), np.ones((3, 3, 3, 4))), r"conv.*input size 2.*window 3"),
    (lambda: K.max_pool(np.ones((1, 4, 4, 1)), 2, padding="causal"), r"max_pool.*padding"),
    (lambda: K.categorical_crossentropy(np.ones((2, 3)), np.ones((2, 4))), r"categorical_crossentropy.*\(2, 3\).*\(2, 4\)"),
    (lambda: K.sparse_categorical_crossentropy(np.array([0, 5]), np.ones((2, 4))), r"sparse_categorical.*\[0, 4\)"),
    (lambda: K.sparse_categorical_crossentropy(np.array([0, 1, 2]), np.ones((2, 4))), r"sparse_categorical.*\(3,\).*\(2, 4\)"),
    (lambda: K.binary_crossentropy(np.ones((2, 3)), np.ones((3,))), r"binary_crossentropy.*\(2, 3\).*\(3,\)"),
    (lambda: K.spatial_2d_padding(np.ones((2, 3, 3)), ((1, 1), (1, 1))), r"spatial_2d_padding.*rank 4.*\(2, 3, 3\)"),
    (lambda: K.take(np.ones((2, 3)), np.array([3]), axis=0), r"take.*out of range.*\(2, 3\)"),
    (lambda: K.fused_batch_norm_train(np.ones((4, 3)), np.ones(2), None, None, None), r"fused_batch_norm.*\(2,\).*3"),
    (lambda: K.dropout(np.ones(3), 1.0), r"dropout.*rate"),
    (lambda: K.transpose(np.ones((2, 3)), (0, 0)), r"transpose.*permutation.*\(2, 3\)"),
    (lambda: K.stack([np.ones(2), np.ones(3)]), r"stack.*\(2,\).*\(3,\)"),
])
def test_bad_input_is_a_value_error_naming_op_and_shapes(call, match):
    with pytest.raises(ValueError, match=match):
        call()


@pytest.mark.parametrize("call, match", [
    (lambda: K.convert_to_tensor(object()), "object"),
    (lambda: K.cast(np.ones(2), "not_a_dtype"), "dtype"),
    (lambda: K.sum(np.ones(2), axis=1.5), "axis"),
    (lambda: K.dense(np.ones((1, 2)), np.ones((2, 2)), activation=3), "activation"),
    (lambda: K.one_hot(np.array([0.5]), 3), "integers"),
])
def test_bad_types_are_type_errors(call, match):
    with pytest.raises(TypeError, match=match):
        call()


def test_ops_on_symbolic_keras_tensors_build_graph_nodes():
    from pykeras import layers

    inp = layers.Input((3, 4))
    out = K.concatenate([ops.mean(inp, axis=1), ops.norm(inp, axis=1), K.max(inp, axis=1)], axis=-1)
    model = pykeras.models.Model(inp, out)
    assert [layer.name for layer in model.layers][1:] == ["mean", "norm", "max", "concatenate"]
    x = np.random.default_rng(0).random((2, 3, 4)).astype(np.float32)
    y = np.asarray(model(x))
    np.testing.assert_allclose(y, np.concatenate([x.mean(1), np.linalg.norm(x, axis=1), x.max(1)], -1), rtol=1e-5)


def test_kernel_sources_report():
    from pykeras.backend import kernels

    src = kernels.sources()
    assert src["matmul / dense (GEMM + bias + activation epilogue)"] == "core"
    assert all(isinstance(v, str) and v for v in src.values())

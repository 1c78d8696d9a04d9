"""The numpy implementations behind kernels.py agree with the float32 path (native where built).

Float64 inputs always take the numpy code (the native kernels are float32 only), so running an op
on the same data in float64 and float32 compares the two implementations, forward and gradient,
whichever of them this build runs natively.
"""
import numpy as np
import pytest

from pykeras import backend as K
from pykeras.backend import numpy_kernels

RNG = np.random.default_rng(99)


def r(*shape):
    return RNG.standard_normal(shape)


CASES = [
    ("dense-relu", lambda x, w, b: K.dense(x, w, b, "relu"), [r(5, 4), r(4, 3), r(3)]),
    ("dense-tanh-3d", lambda x, w, b: K.dense(x, w, b, "tanh"), [r(2, 5, 4), r(4, 3), r(3)]),
    ("conv2d-same-s2-relu", lambda x, w, b: K.conv(x, w, b, 2, "same", activation="elu"),
     [r(2, 7, 6, 3), r(3, 3, 3, 4), r(4)]),
    ("conv1d-causal-dil", lambda x, w: K.conv(x, w, None, 1, "causal", 2), [r(2, 9, 2), r(3, 2, 3)]),
    ("conv2d-groups", lambda x, w: K.conv(x, w, None, 1, "valid", 1, 2), [r(1, 5, 5, 4), r(3, 3, 2, 4)]),
    ("conv3d", lambda x, w: K.conv(x, w, None, (1, 2, 1), "same"), [r(1, 4, 5, 3, 2), r(2, 3, 2, 2, 3)]),
    ("depthwise", lambda x, w, b: K.depthwise_conv(x, w, b, 2, "same", activation="sigmoid"),
     [r(2, 7, 7, 3), r(3, 3, 3, 2), r(6)]),
    ("separable", lambda x, d, p, b: K.separable_conv(x, d, p, b, 1, "same", activation="relu6"),
     [r(1, 6, 6, 2), r(3, 3, 2, 2), r(1, 1, 4, 3), r(3)]),
    ("conv_transpose-same", lambda x, w, b: K.conv_transpose(x, w, b, 2, "same", activation="softplus"),
     [r(1, 4, 3, 3), r(3, 3, 2, 3), r(2)]),
    ("conv_transpose-valid-op", lambda x, w: K.conv_transpose(x, w, None, 3, "valid", 1, 1), [r(2, 3, 4, 2),
                                                                                           r(2, 3, 3, 2)]),
    ("max_pool-same", lambda x: K.max_pool(x, 3, 2, "same"), [r(2, 7, 6, 3)]),
    ("avg_pool-same", lambda x: K.average_pool(x, 3, 2, "same"), [r(2, 7, 6, 3)]),
    ("avg_pool3d", lambda x: K.average_pool(x, 2, None, "valid"), [r(1, 4, 4, 4, 2)]),
    ("bn-train-axis1", lambda x, g, b: K.fused_batch_norm_train(x, g, b, None, None, 1, 0.9, 1e-3),
     [r(4, 3, 5), r(3), r(3)]),
    ("bn-inference-axis1", lambda x, m, v, b, g: K.batch_normalization(x, m, v, b, g, axis=1, epsilon=1e-3),
     [r(4, 3, 5), r(3), np.abs(r(3)) + 0.5, r(3), r(3)]),
    ("softmax-xent", lambda t, z: K.categorical_crossentropy(t, z, from_logits=True), [np.abs(r(4, 6)), r(4, 6)]),
    ("dropout", lambda x: K.dropout(x, 0.4, seed=5), [r(6, 7)]),
]


# Large enough (> kernels.NATIVE_ELTWISE_MIN elements) for the native elementwise kernels.
BIG = (150, 120)
POS = np.abs(r(*BIG)) + 0.5
UNIT = np.clip(r(*BIG) * 0.3, -0.9, 0.9)
for name, fn, arg in [
    ("exp", K.exp, r(*BIG)), ("log", K.log, POS), ("sqrt", K.sqrt, POS), ("rsqrt", K.rsqrt, POS),
    ("square", K.square, r(*BIG)), ("abs", K.abs, r(*BIG)), ("sin", K.sin, r(*BIG)), ("tan", K.tan, UNIT),
    ("arcsin", K.arcsin, UNIT), ("arctanh", K.arctanh, UNIT), ("erf", K.erf, r(*BIG)), ("log1p", K.log1p, POS),
    ("expm1", K.expm1, r(*BIG)), ("reciprocal", K.reciprocal, POS), ("floor", K.floor, r(*BIG) * 3),
    ("clip", lambda x: K.clip(x, -0.5, 0.7), r(*BIG)), ("gelu-exact", lambda x: K.gelu(x, False), r(*BIG)),
    ("hard_silu", K.hard_silu, r(*BIG) * 4), ("mish", K.mish, r(*BIG)), ("leaky_relu", K.leaky_relu, r(*BIG)),
]:
    CASES.append((f"large-{name}", fn, [arg]))

ROW = r(1, BIG[1])
for name, fn, args in [
    ("add-bcast", K.add, [r(*BIG), ROW]), ("subtract-bcast", K.subtract, [r(BIG[0], 1), r(*BIG)]),
    ("multiply-bcast", K.multiply, [r(*BIG), ROW]), ("divide-bcast", K.divide, [r(*BIG), np.abs(ROW) + 0.5]),
    ("maximum", K.maximum, [r(*BIG), r(*BIG)]), ("minimum-bcast", K.minimum, [r(*BIG), ROW]),
    ("scalar-mul", lambda x: x * 3.0 - 1.0, [r(*BIG)]),
    ("sum-axis0", lambda x: K.sum(x, axis=0), [r(*BIG)]), ("mean-all", K.mean, [r(*BIG)]),
    ("max-axis1", lambda x: K.max(x, axis=1), [r(*BIG)]), ("min-keep", lambda x: K.min(x, 0, True), [r(*BIG)]),
    ("var-axis1", lambda x: K.var(x, axis=1), [r(*BIG)]), ("std-axis0", lambda x: K.std(x, axis=0), [r(*BIG)]),
    ("logsumexp", lambda x: K.logsumexp(x, axis=1), [r(*BIG)]),
    ("prod-axis1", lambda x: K.prod(x, axis=1), [np.exp(r(*BIG) * 0.01)]),
    ("sum-two-axes", lambda x: K.sum(x, axis=(0, 2)), [r(30, 40, 20)]),
    ("bias_add", K.bias_add, [r(*BIG), r(BIG[1])]),
    ("scce-large", lambda z: K.sparse_categorical_crossentropy(np.arange(BIG[0]) % BIG[1], z, from_logits=True),
     [r(*BIG)]),
]:
    CASES.append((f"large-{name}", fn, args))


def test_large_comparisons_match_numpy():
    a, b = r(*BIG).astype(np.float32), r(1, BIG[1]).astype(np.float32)
    for op, ref in [(K.greater, np.greater), (K.less_equal, np.less_equal), (K.equal, np.equal),
                    (K.not_equal, np.not_equal)]:
        got = np.asarray(op(a, b))
        assert got.dtype == bool
        np.testing.assert_array_equal(got, ref(a, b))
    np.testing.assert_array_equal(np.asarray(K.greater(a, 0.0)), a > 0)


def test_large_argmax_matches_numpy():
    x = r(*BIG).astype(np.float32)
    np.testing.assert_array_equal(np.asarray(K.argmax(x, axis=1)), x.argmax(axis=1))
    np.testing.assert_array_equal(np.asarray(K.argmin(x, axis=0)), x.argmin(axis=0))
    assert int(K.argmax(x, axis=None)) == x.argmax()


@pytest.mark.parametrize("fn, args", [pytest.param(c[1], c[2], id=c[0]) for c in CASES])
def test_float64_numpy_path_matches_float32_path(fn, args):
    results = {}
    for dtype in ("float32", "float64"):
        tensors = [K.convert_to_tensor(a, dtype=dtype) for a in args]
        with K.GradientTape() as tape:
            for t in tensors:
                tape.watch(t)
            out = fn(*tensors)
        w = np.random.default_rng(0).standard_normal(out.shape)
        grads = tape.gradient(out, tensors, output_gradients=w.astype(dtype))
        results[dtype] = (np.asarray(out, np.float64), [np.asarray(g, np.float64) for g in grads])
    (o32, g32), (o64, g64) = results["float32"], results["float64"]
    np.testing.assert_allclose(o32, o64, rtol=1e-4, atol=1e-4)
    for a, b in zip(g32, g64):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4 * max(1.0, np.abs(b).max()))


def test_erf_approximation():
    from math import erf

    x = np.linspace(-5, 5, 2001)
    np.testing.assert_allclose(numpy_kernels.erf(x), [erf(v) for v in x], atol=2e-7)


def test_bn_fallback_updates_moving_statistics():
    x = r(8, 3).astype(np.float32)
    mm, mv = K.Variable(np.zeros(3), trainable=False), K.Variable(np.ones(3), trainable=False)
    K.fused_batch_norm_train(x, None, None, mm, mv, -1, 0.9, 1e-3)
    np.testing.assert_allclose(np.asarray(mm), 0.1 * x.mean(0), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(np.asarray(mv), 0.9 + 0.1 * x.var(0), rtol=1e-5)
    x64 = x.astype(np.float64)
    mm64, mv64 = K.Variable(np.zeros(3), dtype="float64"), K.Variable(np.ones(3), dtype="float64")
    K.fused_batch_norm_train(K.convert_to_tensor(x64, "float64"), None, None, mm64, mv64, -1, 0.9, 1e-3)
    np.testing.assert_allclose(np.asarray(mm64), np.asarray(mm), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(np.asarray(mv64), np.asarray(mv), rtol=1e-5)

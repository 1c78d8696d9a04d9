"""hard_sigmoid fused into dense and convolution ops is Keras 3's: relu6(x + 3) / 6 (slope 1/6),
forward and gradient, in float32 (native fused kernels) and float64 (numpy), and is one tape
node with the layer op."""
import numpy as np
import pytest

from pykeras import backend as K
from pykeras.backend import kernels


def rnd(shape, seed, dtype, scale=1.0):
    return (np.random.default_rng(seed).standard_normal(shape) * scale).astype(dtype)


def keras3(z):
    return np.clip(z + 3.0, 0.0, 6.0) / 6.0


def keras3_grad(z):
    return np.where((z > -3.0) & (z < 3.0), 1.0 / 6.0, 0.0)


def test_hard_sigmoid_is_fused():
    assert kernels.GEMM_ACT["hard_sigmoid"] == 7


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dense_hard_sigmoid_keras3(dtype):
    x, k, b = rnd((6, 5), 1, dtype, 2.0), rnd((5, 7), 2, dtype), rnd(7, 3, dtype)
    xv, kv, bv = K.variable(x), K.variable(k), K.variable(b)
    with K.GradientTape() as tape:
        y = K.dense(xv, kv, bv, activation="hard_sigmoid")
        loss = K.sum(y * np.arange(7, dtype=dtype))
    z = x.astype(np.float64) @ k + b
    assert len(tape._nodes) == 3  # dense (one fused node), multiply, sum
    np.testing.assert_allclose(np.asarray(y), keras3(z), rtol=1e-5, atol=1e-6)
    gx, gk, gb = tape.gradient(loss, [xv, kv, bv])
    dz = np.arange(7) * keras3_grad(z)
    np.testing.assert_allclose(np.asarray(gx), dz @ k.T, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(np.asarray(gk), x.T @ dz, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(np.asarray(gb), dz.sum(0), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_conv_hard_sigmoid_keras3(dtype):
    x, k, b = rnd((1, 5, 6, 3), 4, dtype, 2.0), rnd((3, 3, 3, 4), 5, dtype, 0.6), rnd(4, 6, dtype)
    xv, kv, bv = K.variable(x), K.variable(k), K.variable(b)
    with K.GradientTape() as tape:
        y = K.conv(xv, kv, bv, 1, "same", activation="hard_sigmoid")
        loss = K.sum(y)
    z = np.asarray(K.conv(x.astype(np.float64), k.astype(np.float64), b.astype(np.float64), 1, "same"))
    np.testing.assert_allclose(np.asarray(y), keras3(z), rtol=1e-5, atol=1e-6)
    gb = np.asarray(tape.gradient(loss, bv))
    np.testing.assert_allclose(gb, keras3_grad(z).sum((0, 1, 2)), rtol=1e-5, atol=1e-5)

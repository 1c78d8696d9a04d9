"""The backend against real Keras 3 (JAX backend) on the ops whose conventions are easiest to get
wrong: padding and output sizes, resize sampling, crossentropy numerics, activation definitions.
Skipped when Keras (with JAX) is not installed."""
import os

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "jax")
keras = pytest.importorskip("keras")
if keras.backend.backend() != "jax":  # pragma: no cover - another backend already imported
    pytest.skip("these references need Keras on JAX", allow_module_level=True)

from pykeras import backend as K  # noqa: E402
from pykeras import ops  # noqa: E402

pytestmark = pytest.mark.keras_reference
kops = keras.ops
RNG = np.random.default_rng(7)


def f32(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


def close(ours, theirs, rtol=1e-5, atol=1e-5):
    np.testing.assert_allclose(np.asarray(ours), np.asarray(theirs), rtol=rtol, atol=atol)


@pytest.mark.parametrize("shape, kernel, strides, padding, output_padding, dil", [
    ((1, 5, 5, 2), (3, 3, 3, 2), 2, "valid", None, 1),
    ((1, 5, 5, 2), (3, 3, 3, 2), 2, "same", None, 1),
    ((2, 4, 4, 3), (4, 4, 2, 3), 2, "same", None, 1),
    ((1, 4, 4, 2), (3, 3, 2, 2), 2, "valid", 1, 1),
    ((1, 4, 4, 2), (3, 3, 2, 2), 3, "same", 2, 1),
    ((1, 6, 2), (3, 2, 2), 1, "same", None, 2),
    ((1, 3, 3, 3, 1), (2, 2, 2, 2, 1), 2, "same", None, 1),
])
def test_conv_transpose(shape, kernel, strides, padding, output_padding, dil):
    x, w = f32(*shape), f32(*kernel)
    close(ops.conv_transpose(x, w, strides, padding, output_padding, dilation_rate=dil),
          kops.conv_transpose(x, w, strides, padding, output_padding, dilation_rate=dil))


@pytest.mark.parametrize("shape, kernel, strides, padding, dil", [
    ((2, 7, 6, 3), (3, 3, 3, 4), 2, "same", 1),
    ((1, 8, 8, 2), (3, 3, 2, 2), 1, "same", 2),
    ((2, 9, 3), (4, 3, 2), 3, "valid", 1),
    ((1, 4, 5, 4, 2), (2, 3, 2, 2, 3), (1, 2, 1), "same", 1),
])
def test_conv(shape, kernel, strides, padding, dil):
    x, w = f32(*shape), f32(*kernel)
    close(ops.conv(x, w, strides, padding, dilation_rate=dil), kops.conv(x, w, strides, padding, dilation_rate=dil))


def test_conv_causal_and_groups():
    x, w = f32(2, 8, 3), f32(3, 3, 4)
    close(K.conv(x, w, padding="causal", dilation_rate=2), kops.conv(np.pad(x, ((0, 0), (4, 0), (0, 0))), w,
                                                                      dilation_rate=2))
    x, w = f32(1, 5, 5, 4), f32(3, 3, 2, 6)
    close(K.conv(x, w, groups=2, padding="same"), kops.conv(x, w, padding="same"))  # Keras infers groups


def test_depthwise_and_separable():
    x, dw, pw = f32(2, 7, 7, 3), f32(3, 3, 3, 2), f32(1, 1, 6, 4)
    close(ops.depthwise_conv(x, dw, 2, "same"), kops.depthwise_conv(x, dw, 2, "same"))
    close(ops.separable_conv(x, dw, pw, 1, "same"), kops.separable_conv(x, dw, pw, 1, "same"))


@pytest.mark.parametrize("op", ["max_pool", "average_pool"])
@pytest.mark.parametrize("shape, pool, strides, padding", [
    ((2, 7, 7, 3), 3, 2, "same"), ((2, 6, 5, 2), 2, 2, "valid"), ((1, 9, 2), 4, 3, "same"),
    ((1, 5, 4, 5, 2), 2, 2, "same"),
])
def test_pooling(op, shape, pool, strides, padding):
    x = f32(*shape)
    close(getattr(ops, op)(x, pool, strides, padding), getattr(kops, op)(x, pool, strides, padding))


@pytest.mark.parametrize("size", [(8, 6), (5, 7), (2, 2)])
def test_bilinear_resize(size):
    x = f32(2, 4, 3, 2)
    close(ops.image.resize(x, size, interpolation="bilinear"),
          kops.image.resize(x, size, interpolation="bilinear", antialias=False))


def test_nearest_upsampling_matches_upsampling2d():
    x = f32(2, 3, 4, 2)
    layer = keras.layers.UpSampling2D((2, 3), interpolation="nearest")
    close(K.resize_images(x, 2, 3, "channels_last"), layer(x))
    layer = keras.layers.UpSampling2D((2, 2), interpolation="bilinear")
    close(K.resize_images(x, 2, 2, "channels_last", "bilinear"), layer(x))


@pytest.mark.parametrize("name", ["relu", "relu6", "leaky_relu", "elu", "selu", "sigmoid", "tanh", "hard_sigmoid",
                                  "hard_silu", "silu", "gelu", "softplus", "softsign", "exponential", "log_sigmoid",
                                  "mish", "linear", "softmax", "log_softmax", "celu", "glu", "hard_tanh", "hard_shrink",
                                  "soft_shrink", "tanh_shrink", "squareplus", "sparse_plus"])
# sparsemax is not compared: Keras 3.15 on JAX returns outputs that do not sum to 1 (for
# [[0.1, 0.2, 0.15]] it returns the input unchanged); test_backend_gradients checks ours against
# the definition (projection onto the simplex).
def test_activations_by_name(name):
    x = f32(4, 6) * 3
    close(K.activation(x, name), keras.activations.get(name)(x), rtol=2e-5, atol=2e-6)


def test_ops_activation_defaults():
    x = f32(3, 5) * 3
    close(ops.gelu(x), kops.gelu(x), rtol=2e-5, atol=2e-6)
    close(ops.leaky_relu(x), kops.leaky_relu(x))
    close(ops.relu(x), kops.relu(x))
    close(K.relu(x, negative_slope=0.1, max_value=2.0, threshold=0.5),
          keras.activations.relu(x, negative_slope=0.1, max_value=2.0, threshold=0.5))


def test_crossentropy_numerics():
    t = np.eye(5, dtype=np.float32)[[0, 3, 1, 4]]
    p = np.abs(f32(4, 5))
    p[0, 0] = 0.0  # exercises the clipping
    z = f32(4, 5) * 3
    close(ops.categorical_crossentropy(t, p), kops.categorical_crossentropy(t, p))
    close(ops.categorical_crossentropy(t, z, from_logits=True), kops.categorical_crossentropy(t, z, from_logits=True))
    labels = np.array([0, 3, 1, 4])
    close(ops.sparse_categorical_crossentropy(labels, p), kops.sparse_categorical_crossentropy(labels, p))
    close(ops.sparse_categorical_crossentropy(labels, z, from_logits=True),
          kops.sparse_categorical_crossentropy(labels, z, from_logits=True))
    tb = RNG.random((4, 3)).astype(np.float32)
    pb = RNG.random((4, 3)).astype(np.float32)
    pb[0, 0] = 1.0
    close(ops.binary_crossentropy(tb, pb), kops.binary_crossentropy(tb, pb))
    close(ops.binary_crossentropy(tb, z[:, :3], from_logits=True),
          kops.binary_crossentropy(tb, z[:, :3], from_logits=True))
    # Softmax outputs are computed from their logits, as Keras does.
    zz = np.array([[30.0, -30.0, 0.0]], np.float32)
    ours = K.categorical_crossentropy(np.array([[0.0, 1.0, 0.0]], np.float32), K.softmax(zz))
    close(ours, [60.0], rtol=1e-6)


def test_normalisation_ops():
    x = f32(4, 3)
    m, v, b, g = f32(3), np.abs(f32(3)) + 0.1, f32(3), f32(3)
    close(ops.batch_normalization(x, m, v, axis=-1, offset=b, scale=g),
          kops.batch_normalization(x, m, v, axis=-1, offset=b, scale=g))
    close(ops.normalize(x, axis=-1), kops.normalize(x, axis=-1))
    close(ops.normalize(x, axis=0, order=1), kops.normalize(x, axis=0, order=1))
    for ours, theirs in zip(ops.moments(x, axes=[0]), kops.moments(x, axes=[0])):
        close(ours, theirs)


def test_dot_product_attention():
    q, k, v = f32(2, 3, 4, 8), f32(2, 5, 4, 8), f32(2, 5, 4, 8)
    mask = RNG.random((2, 4, 3, 5)) > 0.3
    close(ops.dot_product_attention(q, k, v, mask=mask), kops.dot_product_attention(q, k, v, mask=mask))
    close(ops.dot_product_attention(q, k[:, :3], v[:, :3], is_causal=True),
          kops.dot_product_attention(q, k[:, :3], v[:, :3], is_causal=True))


def test_misc_numpy_ops():
    x = f32(3, 4)
    close(ops.logsumexp(x, axis=1), kops.logsumexp(x, axis=1))
    close(ops.one_hot(np.array([1, 3, -1]), 3), kops.one_hot(np.array([1, 3, -1]), 3))
    close(ops.einsum("ij,kj->ik", x, x), kops.einsum("ij,kj->ik", x, x))
    close(ops.top_k(x, 2)[0], kops.top_k(x, 2)[0])
    close(ops.var(x, axis=0), kops.var(x, axis=0))
    assert np.asarray(ops.argmax(x)).item() == np.asarray(kops.argmax(x)).item()

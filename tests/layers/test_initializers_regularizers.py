"""initializers, regularizers, constraints, activations: names, arguments, numerics vs numpy, configs."""
import math

import numpy as np
import pytest

from pykeras import activations, constraints, initializers, regularizers


def arr(x):
    return np.asarray(x, dtype=np.float64)


@pytest.mark.parametrize("name", ["zeros", "ones", "random_normal", "random_uniform", "truncated_normal",
                                  "glorot_uniform", "glorot_normal", "he_normal", "he_uniform", "lecun_normal",
                                  "lecun_uniform", "orthogonal", "identity", "uniform", "normal",
                                  "GlorotUniform", "VarianceScaling", "Constant"])
def test_initializer_names_resolve_and_round_trip(name):
    init = initializers.get(name)
    assert isinstance(init, initializers.Initializer)
    values = arr(init((4, 4)))
    assert values.shape == (4, 4) and np.all(np.isfinite(values))
    clone = initializers.deserialize(initializers.serialize(init))
    assert type(clone) is type(init) and clone.get_config() == init.get_config()


def test_unknown_initializer():
    with pytest.raises(ValueError, match="Unknown initializer: 'foo'"):
        initializers.get("foo")


def test_fans_follow_keras():
    assert initializers.compute_fans((5, 7)) == (5, 7)
    assert initializers.compute_fans((3, 3, 16, 32)) == (144, 288)
    assert initializers.compute_fans((3, 8, 4)) == (24, 12)
    assert initializers.compute_fans((6,)) == (6, 6)


def test_variance_scaling_distributions():
    shape = (300, 200)
    fan_in, fan_out = shape
    glorot = arr(initializers.GlorotUniform(seed=1)(shape))
    limit = math.sqrt(6 / (fan_in + fan_out))
    assert glorot.max() <= limit and glorot.min() >= -limit
    assert abs(glorot.std() - limit / math.sqrt(3)) < 0.05 * limit
    he = arr(initializers.HeNormal(seed=2)(shape))
    assert abs(he.std() - math.sqrt(2 / fan_in)) < 0.05 * math.sqrt(2 / fan_in)
    assert np.abs(he).max() <= 2 * math.sqrt(2 / fan_in) / 0.87962566103423978 + 1e-6  # truncated at 2 sigma
    untrunc = arr(initializers.VarianceScaling(scale=3.0, mode="fan_out", distribution="untruncated_normal",
                                               seed=3)(shape))
    assert abs(untrunc.std() - math.sqrt(3.0 / fan_out)) < 0.05 * math.sqrt(3.0 / fan_out)
    lecun = arr(initializers.LecunUniform(seed=4)(shape))
    assert lecun.max() <= math.sqrt(3 / fan_in)
    normal = arr(initializers.RandomNormal(mean=1.0, stddev=0.5, seed=5)(shape))
    assert abs(normal.mean() - 1.0) < 0.01 and abs(normal.std() - 0.5) < 0.01
    uniform = arr(initializers.RandomUniform(-2, 3, seed=6)(shape))
    assert uniform.min() >= -2 and uniform.max() < 3 and abs(uniform.mean() - 0.5) < 0.05
    with pytest.raises(ValueError, match="mode=fan_bad"):
        initializers.VarianceScaling(mode="fan_bad")
    with pytest.raises(ValueError, match="scale=-1"):
        initializers.VarianceScaling(scale=-1)


def test_seeds():
    a = arr(initializers.GlorotUniform(seed=7)((5, 5)))
    b = arr(initializers.GlorotUniform(seed=7)((5, 5)))
    np.testing.assert_array_equal(a, b)
    unseeded = initializers.RandomNormal()
    np.testing.assert_array_equal(arr(unseeded((3, 3))), arr(unseeded((3, 3))))  # Keras 3: repeats itself
    assert not np.array_equal(arr(initializers.RandomNormal()((3, 3))), arr(initializers.RandomNormal()((3, 3))))
    assert initializers.GlorotUniform(seed=7).get_config() == {"seed": 7}


def test_orthogonal_identity_constant():
    q = arr(initializers.Orthogonal(gain=2.0, seed=1)((6, 4)))
    np.testing.assert_allclose(q.T @ q, 4.0 * np.eye(4), atol=1e-5)
    q = arr(initializers.Orthogonal(seed=1)((3, 5)))
    np.testing.assert_allclose(q @ q.T, np.eye(3), atol=1e-5)
    assert arr(initializers.Orthogonal(seed=1)((2, 3, 4))).shape == (2, 3, 4)
    np.testing.assert_array_equal(arr(initializers.Identity(gain=3.0)((2, 3))), 3 * np.eye(2, 3))
    with pytest.raises(ValueError, match="2D"):
        initializers.Identity()((2, 2, 2))
    np.testing.assert_array_equal(arr(initializers.Constant(1.5)((2, 2))), np.full((2, 2), 1.5))
    assert np.asarray(initializers.Zeros()((2,), dtype="int32")).dtype == np.int32


def test_regularizers():
    w = np.array([[1.0, -2.0], [3.0, -4.0]], np.float32)
    assert regularizers.L1().l1 == 0.01 and regularizers.L2().l2 == 0.01
    assert regularizers.L1L2().get_config() == {"l1": 0.0, "l2": 0.0}
    np.testing.assert_allclose(float(np.asarray(regularizers.get("l1")(w))), 0.01 * 10, rtol=1e-6)
    np.testing.assert_allclose(float(np.asarray(regularizers.get("l2")(w))), 0.01 * 30, rtol=1e-6)
    np.testing.assert_allclose(float(np.asarray(regularizers.l1_l2(l1=0.1, l2=0.2)(w))), 0.1 * 10 + 0.2 * 30,
                               rtol=1e-6)
    reg = regularizers.deserialize(regularizers.serialize(regularizers.L1L2(l1=0.3, l2=0.4)))
    assert reg.get_config() == {"l1": 0.3, "l2": 0.4}
    rows = np.array([[1.0, 0.0], [1.0, 1.0]], np.float32)
    orth = float(np.asarray(regularizers.OrthogonalRegularizer(factor=1.0)(rows)))
    np.testing.assert_allclose(orth, 1.0 * 0.5 * 2 * (1 / math.sqrt(2)) / 1.0, rtol=1e-5)
    with pytest.raises(ValueError, match="l1=-1"):
        regularizers.L1(-1)
    with pytest.raises(ValueError, match="Unknown regularizer: 'l3'"):
        regularizers.get("l3")


def _norms(w, axis):
    return np.sqrt((w ** 2).sum(axis=axis, keepdims=True))


def test_constraints():
    rng = np.random.RandomState(0)
    w = (rng.standard_normal((4, 3)) * 3).astype(np.float32)
    eps = 1e-7
    out = arr(constraints.get("max_norm")(w))
    n = _norms(w, 0)
    np.testing.assert_allclose(out, w * (np.clip(n, 0, 2) / (eps + n)), rtol=1e-5)
    np.testing.assert_allclose(arr(constraints.NonNeg()(w)), np.maximum(w, 0))
    np.testing.assert_allclose(arr(constraints.UnitNorm(axis=1)(w)), w / (eps + _norms(w, 1)), rtol=1e-5)
    mm = arr(constraints.MinMaxNorm(0.5, 1.5, rate=0.5)(w))
    desired = 0.5 * np.clip(n, 0.5, 1.5) + 0.5 * n
    np.testing.assert_allclose(mm, w * desired / (eps + n), rtol=1e-5)
    c = constraints.deserialize(constraints.serialize(constraints.MaxNorm(3, axis=[0, 1])))
    assert c.get_config() == {"max_value": 3, "axis": [0, 1]}
    with pytest.raises(ValueError, match="Unknown constraint: 'nope'"):
        constraints.get("nope")


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


def _softplus(x):
    return np.log1p(np.exp(x))


ACTIVATION_REFS = {
    "relu": lambda x: np.maximum(x, 0),
    "relu6": lambda x: np.clip(x, 0, 6),
    "leaky_relu": lambda x: np.where(x > 0, x, 0.2 * x),
    "elu": lambda x: np.where(x > 0, x, np.exp(x) - 1),
    "selu": lambda x: 1.0507009873554805 * np.where(x > 0, x, 1.6732632423543772 * (np.exp(x) - 1)),
    "sigmoid": _sigmoid,
    "tanh": np.tanh,
    "softplus": _softplus,
    "softsign": lambda x: x / (1 + np.abs(x)),
    "silu": lambda x: x * _sigmoid(x),
    "swish": lambda x: x * _sigmoid(x),
    "exponential": np.exp,
    "linear": lambda x: x,
    "hard_sigmoid": lambda x: np.clip(x + 3, 0, 6) / 6,
    "hard_silu": lambda x: x * np.clip(x + 3, 0, 6) / 6,
    "mish": lambda x: x * np.tanh(_softplus(x)),
    "celu": lambda x: np.maximum(x, 0) + np.minimum(0, np.exp(x) - 1),
    "tanh_shrink": lambda x: x - np.tanh(x),
    "hard_tanh": lambda x: np.clip(x, -1, 1),
    "hard_shrink": lambda x: np.where(np.abs(x) > 0.5, x, 0),
    "soft_shrink": lambda x: np.where(x > 0.5, x - 0.5, np.where(x < -0.5, x + 0.5, 0)),
    "log_sigmoid": lambda x: -_softplus(-x),
    "sparse_plus": lambda x: np.where(x <= -1, 0, np.where(x >= 1, x, (x + 1) ** 2 / 4)),
    "sparse_sigmoid": lambda x: np.clip((x + 1) / 2, 0, 1),
    "squareplus": lambda x: (x + np.sqrt(x ** 2 + 4)) / 2,
    "softmax": lambda x: np.exp(x) / np.exp(x).sum(-1, keepdims=True),
    "log_softmax": lambda x: x - np.log(np.exp(x).sum(-1, keepdims=True)),
    "gelu": lambda x: 0.5 * x * (1 + np.vectorize(math.erf)(x / math.sqrt(2))),
}


@pytest.mark.parametrize("name", sorted(ACTIVATION_REFS))
def test_activations_against_numpy(name):
    x = np.linspace(-3.1, 3.3, 24).reshape(4, 6).astype(np.float32)
    fn = activations.get(name)
    np.testing.assert_allclose(arr(fn(x)), ACTIVATION_REFS[name](x.astype(np.float64)), rtol=2e-4, atol=2e-5)
    assert activations.serialize(fn) in (name, {"swish": "silu"}.get(name, name))


def test_activation_extras():
    x = np.array([[1.0, 2.0, -1.0, 0.5]], np.float32)
    a, b = x[:, :2], x[:, 2:]
    np.testing.assert_allclose(arr(activations.glu(x)), a * _sigmoid(b), rtol=1e-5)
    np.testing.assert_allclose(arr(activations.relu(x, max_value=1.5)), np.clip(x, 0, 1.5))
    np.testing.assert_allclose(arr(activations.threshold(x, 0.7, -9.0)), np.where(x > 0.7, x, -9.0))
    sm = arr(activations.sparsemax(np.array([[0.1, 1.5, 0.2]], np.float32)))
    np.testing.assert_allclose(sm.sum(), 1.0, rtol=1e-6)
    assert activations.get(None) is activations.linear
    with pytest.raises(ValueError, match="Unknown activation function: 'swoosh'"):
        activations.get("swoosh")
    assert activations.fusable_name(activations.get("relu")) == "relu"
    assert activations.fusable_name(lambda t: t) is None

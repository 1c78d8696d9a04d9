"""pykeras.backend.random (keras.random): seeds, streams, distributions, dropout."""
import numpy as np
import pytest

import pykeras
from pykeras import backend as K
from pykeras.backend import random as R


def test_int_seed_is_stateless_and_generators_advance():
    a = np.asarray(R.uniform((100,), seed=7))
    b = np.asarray(R.uniform((100,), seed=7))
    np.testing.assert_array_equal(a, b)
    g = R.SeedGenerator(7)
    c = np.asarray(R.uniform((100,), seed=g))
    d = np.asarray(R.uniform((100,), seed=g))
    assert not np.array_equal(c, d)
    g2 = R.SeedGenerator(7)
    np.testing.assert_array_equal(np.asarray(R.uniform((100,), seed=g2)), c)


def test_global_seed_makes_unseeded_draws_reproducible():
    R.set_global_seed(3)
    a = np.asarray(R.normal((50,)))
    gen = R.SeedGenerator()
    b = np.asarray(R.normal((50,), seed=gen))
    R.set_global_seed(3)
    np.testing.assert_array_equal(np.asarray(R.normal((50,))), a)
    np.testing.assert_array_equal(np.asarray(R.normal((50,), seed=R.SeedGenerator())), b)
    assert not np.array_equal(a, b)


def test_distributions():
    u = np.asarray(R.uniform((20000,), minval=-2.0, maxval=4.0, seed=1))
    assert u.dtype == np.float32 and u.min() >= -2.0 and u.max() < 4.0
    assert abs(u.mean() - 1.0) < 0.05 and abs(u.std() - 6 / np.sqrt(12)) < 0.05
    n = np.asarray(R.normal((20000,), mean=1.0, stddev=2.0, seed=2))
    assert abs(n.mean() - 1.0) < 0.05 and abs(n.std() - 2.0) < 0.05
    t = np.asarray(R.truncated_normal((20000,), stddev=0.5, seed=3))
    assert np.abs(t).max() <= 1.0 + 1e-6 and 0.4 < t.std() < 0.5
    i = np.asarray(R.randint((5000,), 3, 7, seed=4))
    assert i.dtype == np.int32 and set(np.unique(i)) == {3, 4, 5, 6}
    assert R.uniform((2, 3), dtype="float64", seed=1).dtype == np.float64
    s = np.asarray(R.shuffle(np.arange(10), seed=5))
    assert sorted(s.tolist()) == list(range(10)) and s.tolist() != list(range(10))
    c = np.asarray(R.categorical(np.log(np.array([[0.1, 0.9]])), 4000, seed=6))
    assert c.shape == (1, 4000) and 0.87 < c.mean() < 0.93


def test_dropout_statistics_and_mask_reuse(threads):
    x = np.ones((200, 100), np.float32)
    y = np.asarray(K.dropout(x, 0.3, seed=11))
    kept = y != 0
    assert abs(kept.mean() - 0.7) < 0.01
    np.testing.assert_allclose(y[kept], 1 / 0.7, rtol=1e-6)
    v = K.variable(x)
    with K.GradientTape() as tape:
        out = K.dropout(v, 0.3, seed=11)
    g = np.asarray(tape.gradient(out, v))
    np.testing.assert_array_equal(g, y)  # the gradient uses the forward's mask


def test_dropout_is_the_same_on_1_and_2_threads():
    x = np.random.default_rng(0).standard_normal(100_003).astype(np.float32)
    before = pykeras.config.get_num_threads()
    try:
        pykeras.config.set_num_threads(1)
        a = np.asarray(K.dropout(x, 0.5, seed=9))
        pykeras.config.set_num_threads(2)
        b = np.asarray(K.dropout(x, 0.5, seed=9))
    finally:
        pykeras.config.set_num_threads(before)
    np.testing.assert_array_equal(a, b)


def test_dropout_seed_generator_gives_fresh_masks_and_rate_zero_is_identity():
    gen = R.SeedGenerator(1)
    x = np.ones((10, 10), np.float32)
    assert not np.array_equal(np.asarray(K.dropout(x, 0.5, seed=gen)), np.asarray(K.dropout(x, 0.5, seed=gen)))
    np.testing.assert_array_equal(np.asarray(K.dropout(x, 0.0)), x)
    m = np.asarray(K.dropout(x, 0.5, noise_shape=(10, 1), seed=3))
    assert all(len(set(row.tolist())) == 1 for row in m)  # one decision per row


def test_bad_seeds_and_shapes():
    with pytest.raises(TypeError, match="seed"):
        R.uniform((2,), seed="x")
    with pytest.raises(ValueError, match="negative"):
        R.normal((2, -1))
    with pytest.raises(ValueError, match="maxval"):
        R.randint((2,), 5, 5)

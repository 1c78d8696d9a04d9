"""Seeded random kernels: distributions, reproducibility across threads and kernel paths."""
import numpy as np
import pytest

from pykeras import _core, config

N = 200_003  # prime, spans several thread chunks


def test_uniform_range_and_moments(isa):
    u = _core.random.uniform((N,), seed=7, minval=-2.0, maxval=3.0)
    assert u.dtype == np.float32 and u.shape == (N,)
    assert u.min() >= -2.0 and u.max() < 3.0
    assert abs(u.mean() - 0.5) < 0.03
    assert abs(u.var() - 25 / 12) < 0.05


def test_normal_moments(isa):
    z = _core.random.normal((N,), seed=3, mean=1.0, stddev=2.0)
    assert abs(z.mean() - 1.0) < 0.03
    assert abs(z.std() - 2.0) < 0.03


def test_truncated_normal_is_within_two_stddev(isa):
    z = _core.random.truncated_normal((N,), seed=5, mean=0.5, stddev=0.1)
    assert np.all(np.abs(z - 0.5) <= 0.2 + 1e-6)
    # Standard normal truncated at +-2 has standard deviation 0.8796.
    assert abs(z.std() / 0.1 - 0.8796) < 0.01


@pytest.mark.parametrize("fn", ["uniform", "normal", "truncated_normal"])
def test_same_seed_same_numbers_for_any_threads_and_path(fn):
    results = []
    for isa in ["generic", config.best_isa()]:
        for t in [1, 2]:
            config.set_isa(isa)
            config.set_num_threads(t)
            results.append(getattr(_core.random, fn)((3, 50001), seed=11, stream=4))
    for r in results[1:]:
        np.testing.assert_array_equal(r, results[0])


def test_seed_and_stream_change_the_numbers():
    a = _core.random.uniform((1000,), seed=1, stream=0)
    assert not np.array_equal(a, _core.random.uniform((1000,), seed=2, stream=0))
    assert not np.array_equal(a, _core.random.uniform((1000,), seed=1, stream=1))


@pytest.mark.parametrize("rate", [0.0, 0.2, 0.5, 0.9])
def test_dropout_keeps_the_right_fraction_and_scales(isa, threads, rate):
    x = np.random.default_rng(0).standard_normal(N).astype(np.float32) + 5
    y = _core.random.dropout(x, rate, seed=9, stream=2)
    kept = y != 0
    assert abs(kept.mean() - (1 - rate)) < 0.01
    np.testing.assert_allclose(y[kept], x[kept] / (1 - rate), rtol=1e-6)


def test_dropout_backward_uses_the_forward_mask(isa):
    x = np.ones(N, np.float32)
    y = _core.random.dropout(x, 0.3, seed=4, stream=8)
    dy = np.random.default_rng(1).standard_normal(N).astype(np.float32)
    dx = _core.random.dropout_backward(dy, 0.3, seed=4, stream=8)
    np.testing.assert_array_equal(dx != 0, y != 0)
    np.testing.assert_allclose(dx[y != 0], dy[y != 0] / 0.7, rtol=1e-6)


@pytest.mark.parametrize("rate", [-0.1, 1.0, 2.0])
def test_dropout_rejects_bad_rates(rate):
    with pytest.raises(ValueError, match="rate"):
        _core.random.dropout(np.ones(3, np.float32), rate, seed=0)


def test_negative_shape_is_a_value_error():
    with pytest.raises(ValueError, match="negative"):
        _core.random.uniform((3, -1), seed=0)

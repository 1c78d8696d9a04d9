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
    for isa in ["generic", "avx2", "avx512"][: ["generic", "avx2", "avx512"].index(config.best_isa()) + 1]:
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


@pytest.mark.parametrize("n", [1, 7, 8, 9, 15, 16, 17, 63, 64, 65, N])
def test_dropout_mask_and_masked_backward(isa, threads, n):
    rng = np.random.default_rng(n)
    x = rng.standard_normal(n).astype(np.float32)
    x[x == 0] = 1.0
    mask = np.empty(n, np.bool_)
    y = _core.random.dropout(x, 0.3, seed=4, stream=8, mask=mask)
    # The mask is exactly the kept elements, and storing it does not change y.
    np.testing.assert_array_equal(mask, y != 0)
    np.testing.assert_array_equal(y, _core.random.dropout(x, 0.3, seed=4, stream=8))
    dy = rng.standard_normal(n).astype(np.float32)
    dx = _core.random.dropout_masked_backward(dy, mask, 0.3)
    # Bitwise the same as drawing the mask again, and as the formula in float32.
    np.testing.assert_array_equal(dx, _core.random.dropout_backward(dy, 0.3, seed=4, stream=8))
    np.testing.assert_array_equal(dx, np.where(mask, dy * np.float32(1 / 0.7), np.float32(0)))


def test_dropout_mask_is_the_same_on_every_path_and_thread_count():
    x = np.ones((3, 50001), np.float32)
    masks = []
    for isa in ["generic", "avx2", "avx512"][: ["generic", "avx2", "avx512"].index(config.best_isa()) + 1]:
        for t in [1, 2]:
            config.set_isa(isa)
            config.set_num_threads(t)
            m = np.empty(x.shape, np.bool_)
            _core.random.dropout(x, 0.4, seed=2, stream=3, mask=m)
            masks.append(m)
    for m in masks[1:]:
        np.testing.assert_array_equal(m, masks[0])


def test_dropout_mask_errors():
    x = np.ones((4, 5), np.float32)
    with pytest.raises(TypeError, match="'mask' must be a numpy bool array"):
        _core.random.dropout(x, 0.5, seed=0, mask=np.empty((4, 5), np.uint8))
    with pytest.raises(ValueError, match=r"'mask' has shape \(5, 4\), expected \(4, 5\)"):
        _core.random.dropout(x, 0.5, seed=0, mask=np.empty((5, 4), np.bool_))
    with pytest.raises(TypeError, match="C-contiguous"):
        _core.random.dropout(x, 0.5, seed=0, mask=np.empty((5, 4), np.bool_).T)
    frozen = np.empty((4, 5), np.bool_)
    frozen.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        _core.random.dropout(x, 0.5, seed=0, mask=frozen)
    with pytest.raises(ValueError, match="expected"):
        _core.random.dropout_masked_backward(x, np.ones(20, np.bool_), 0.5)
    with pytest.raises(ValueError, match="rate"):
        _core.random.dropout_masked_backward(x, np.ones((4, 5), np.bool_), 1.0)


@pytest.mark.parametrize("rate", [-0.1, 1.0, 2.0])
def test_dropout_rejects_bad_rates(rate):
    with pytest.raises(ValueError, match="rate"):
        _core.random.dropout(np.ones(3, np.float32), rate, seed=0)


def test_negative_shape_is_a_value_error():
    with pytest.raises(ValueError, match="negative"):
        _core.random.uniform((3, -1), seed=0)


# ---- the generator itself, against a plain Python Philox4x32-10 --------------------------------

def philox4x32_10(counter, key):
    """Reference Philox4x32-10 on Python ints (Salmon et al., SC'11)."""
    m0, m1, w0, w1 = 0xD2511F53, 0xCD9E8D57, 0x9E3779B9, 0xBB67AE85
    c = list(counter)
    k0, k1 = key
    mask = 0xFFFFFFFF
    for _ in range(10):
        p0, p1 = m0 * c[0], m1 * c[2]
        c = [((p1 >> 32) ^ c[1] ^ k0) & mask, p1 & mask, ((p0 >> 32) ^ c[3] ^ k1) & mask, p0 & mask]
        k0, k1 = (k0 + w0) & mask, (k1 + w1) & mask
    return c


def test_reference_philox_matches_published_answers():
    # Known-answer vectors of the Random123 distribution for philox4x32-10.
    assert philox4x32_10([0, 0, 0, 0], [0, 0]) == [0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8]
    assert philox4x32_10([0xFFFFFFFF] * 4, [0xFFFFFFFF] * 2) == [0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD]
    assert philox4x32_10([0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344], [0xA4093822, 0x299F31D0]) == [
        0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1]


def test_dropout_mask_follows_the_documented_layout(isa):
    # Element 64 g + 16 w + l takes word w of block 16 g + l, with key = seed and counter =
    # (block low, block high, stream low, stream high); it is kept when (word >> 8) / 2^24 >= rate.
    seed, stream, rate = (7 << 32) | 3, (5 << 32) | 9, 0.5
    n = 64 * 3 + 5
    y = _core.random.dropout(np.ones(n, np.float32), rate, seed=seed, stream=stream)
    key = [seed & 0xFFFFFFFF, seed >> 32]
    for i in range(n):
        block = (i // 64) * 16 + i % 16
        word = philox4x32_10([block & 0xFFFFFFFF, block >> 32, stream & 0xFFFFFFFF, stream >> 32], key)[(i % 64) // 16]
        assert (y[i] != 0) == ((word >> 8) / 2**24 >= rate), i

"""Seeded dropout (pykeras._core.random.dropout / dropout_backward): the mask is a pure function of
(seed, stream, element index) with the vectorised Philox layout (element 64g + 16w + l takes word w
of Philox block 16g + l), identical on every kernel path and thread count."""
import numpy as np
import pytest

from pykeras import _core, config

R = _core.random


def philox4x32(seed, blocks, stream):
    """Reference Philox4x32-10 for an array of 64-bit block indices (numpy uint64 arithmetic)."""
    m0, m1, w0, w1 = np.uint64(0xD2511F53), np.uint64(0xCD9E8D57), 0x9E3779B9, 0xBB67AE85
    mask = np.uint64(0xFFFFFFFF)
    blocks = blocks.astype(np.uint64)
    c0, c1 = blocks & mask, blocks >> np.uint64(32)
    c2 = np.full_like(blocks, stream & 0xFFFFFFFF)
    c3 = np.full_like(blocks, stream >> 32)
    k0, k1 = seed & 0xFFFFFFFF, seed >> 32
    for _ in range(10):
        p0, p1 = m0 * c0, m1 * c2
        c0, c1, c2, c3 = ((p1 >> np.uint64(32)) ^ c1 ^ np.uint64(k0), p1 & mask,
                          (p0 >> np.uint64(32)) ^ c3 ^ np.uint64(k1), p0 & mask)
        k0, k1 = (k0 + w0) & 0xFFFFFFFF, (k1 + w1) & 0xFFFFFFFF
    return np.stack([c0, c1, c2, c3])  # [word, block]


def reference_keep(n, rate, seed, stream):
    i = np.arange(n, dtype=np.int64)
    group, w, lane = i // 64, (i % 64) // 16, i % 16
    words = philox4x32(seed, np.unique(group * 16 + lane), stream)
    # np.unique sorts block ids 0..max: the block id is its index
    word = words[w, group * 16 + lane]
    return (word >> np.uint64(8)).astype(np.float64) / 2**24 >= np.float32(rate)


@pytest.mark.parametrize("n", [1, 15, 16, 63, 64, 65, 1000, 16384 * 2 + 7])
@pytest.mark.parametrize("rate", [0.1, 0.5, 0.9])
def test_mask_matches_the_philox_reference(isa, threads, n, rate):
    x = np.random.default_rng(0).standard_normal(n).astype(np.float32) + 3
    y = R.dropout(x, rate, seed=123456789012, stream=77)
    keep = reference_keep(n, rate, 123456789012, 77)
    np.testing.assert_array_equal(y != 0, keep)
    np.testing.assert_allclose(y[keep], x[keep] / np.float32(1 - rate), rtol=1e-6)


def test_same_bits_on_every_path_and_thread_count():
    from isa_paths import supported_isas

    x = np.random.default_rng(1).standard_normal(200003).astype(np.float32)
    dy = np.random.default_rng(2).standard_normal(200003).astype(np.float32)
    results = []
    for isa in supported_isas():
        for t in (1, 2):
            config.set_isa(isa)
            config.set_num_threads(t)
            results.append((R.dropout(x, 0.3, seed=5, stream=9), R.dropout_backward(dy, 0.3, seed=5, stream=9)))
    for y, dx in results[1:]:
        np.testing.assert_array_equal(y, results[0][0])
        np.testing.assert_array_equal(dx, results[0][1])
    np.testing.assert_array_equal(results[0][0] != 0, results[0][1] != 0)


def test_large_stream_numbers_use_the_high_counter_words():
    # The stream number fills counter words 2 and 3; a value above 2^32 exercises the high one.
    x = np.ones(4096, np.float32)
    a = R.dropout(x, 0.5, seed=1, stream=(1 << 40) + 3)
    assert np.array_equal(a != 0, reference_keep(4096, 0.5, 1, (1 << 40) + 3))

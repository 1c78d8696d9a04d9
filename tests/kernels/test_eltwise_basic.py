"""The elementwise kernels bound by the foundation: add, relu, relu_backward."""
import numpy as np
import pytest

from pykeras import _core

# Around the vector widths (1, 8, 16), primes, and sizes that span several thread chunks.
SIZES = [0, 1, 2, 7, 8, 9, 15, 16, 17, 31, 33, 97, 1009, 32768 + 5, 200003]


def rand(n, seed=0):
    return np.random.default_rng(seed).standard_normal(n).astype(np.float32)


@pytest.mark.parametrize("n", SIZES)
def test_add_matches_numpy(isa, threads, n):
    a, b = rand(n, 1), rand(n, 2)
    np.testing.assert_array_equal(_core.eltwise.add(a, b), a + b)


@pytest.mark.parametrize("n", SIZES)
def test_relu_matches_numpy(isa, threads, n):
    x = rand(n)
    np.testing.assert_array_equal(_core.eltwise.relu(x), np.maximum(x, 0))


@pytest.mark.parametrize("n", SIZES)
def test_relu_backward_matches_numpy(isa, threads, n):
    x, dy = rand(n, 3), rand(n, 4)
    np.testing.assert_array_equal(_core.eltwise.relu_backward(x, dy), np.where(x > 0, dy, 0))


def test_relu_keeps_nan_and_infinities(isa):
    x = np.array([np.nan, -np.inf, np.inf, -0.0, 0.0, -1e-30, 1e-30], np.float32)
    y = _core.eltwise.relu(x)
    assert np.isnan(y[0])
    np.testing.assert_array_equal(y[1:], np.array([0, np.inf, 0, 0, 0, 1e-30], np.float32))


def test_works_on_multidimensional_arrays(isa):
    x = rand(3 * 5 * 7).reshape(3, 5, 7)
    y = _core.eltwise.relu(x)
    assert y.shape == (3, 5, 7)
    np.testing.assert_array_equal(y, np.maximum(x, 0))


def test_in_place_and_out(isa):
    x = rand(100)
    expected = np.maximum(x, 0)
    out = np.empty_like(x)
    assert _core.eltwise.relu(x, out=out) is out
    np.testing.assert_array_equal(out, expected)
    _core.eltwise.relu(x, out=x)
    np.testing.assert_array_equal(x, expected)


def test_does_not_write_past_the_end(isa):
    # Masked tails must not touch the guard elements next to the output.
    buf = np.full(40, 7.0, np.float32)
    x = rand(17)
    _core.eltwise.relu(x, out=buf[5:22])
    assert np.all(buf[:5] == 7) and np.all(buf[22:] == 7)


def test_wrong_dtype_is_a_type_error():
    with pytest.raises(TypeError, match="float32"):
        _core.eltwise.relu(np.ones(4, np.float64))
    with pytest.raises(TypeError, match="float32"):
        _core.eltwise.add(np.ones(4, np.float32), np.ones(4, np.int32))


def test_non_contiguous_is_a_type_error():
    x = np.ones((4, 4), np.float32)[:, ::2]
    with pytest.raises(TypeError, match="C-contiguous"):
        _core.eltwise.relu(x)


def test_shape_mismatch_is_a_value_error():
    with pytest.raises(ValueError, match=r"shape \(5,\), expected \(4,\)"):
        _core.eltwise.add(np.ones(4, np.float32), np.ones(5, np.float32))
    with pytest.raises(ValueError, match="out"):
        _core.eltwise.relu(np.ones(4, np.float32), out=np.ones(3, np.float32))


def test_read_only_output_is_rejected():
    out = np.zeros(4, np.float32)
    out.setflags(write=False)
    with pytest.raises(ValueError, match="read-only"):
        _core.eltwise.relu(np.ones(4, np.float32), out=out)

"""Accuracy of the SIMD math library (csrc/simd/math.h) through the unary kernels.

The error is measured in float32 ULPs of a float64 reference over a dense sample of every finite
float (every 4099th bit pattern, ~1M values) plus every float (or a dense sample) of the intervals where these
functions are delicate (overflow and underflow thresholds, around 0 and 1, the switch points of
piecewise formulas). Kernels run with FTZ/DAZ: a denormal input reads as zero (so the reference
is taken at +-0), and a true result below FLT_MIN may come back as 0.
"""
import numpy as np
import pytest
import scipy.special as sp

from pykeras import _core, config

TINY = np.float32(np.finfo(np.float32).tiny)
F32_MAX = np.finfo(np.float32).max

# Documented bounds (csrc/simd/math.h): max error in ULPs over all float32 inputs.
BOUNDS = {
    "exp": 1.0, "expm1": 2.0, "log": 1.0, "log1p": 2.0, "tanh": 2.0, "sigmoid": 3.0,
    "softplus": 3.0, "exp2": 1.0, "log2": 2.0, "log10": 2.5, "log_sigmoid": 3.0,
}


def gelu_ref(x):
    return x * sp.ndtr(x)


REFERENCES = {
    "exp": np.exp, "expm1": np.expm1, "log": np.log, "log1p": np.log1p, "tanh": np.tanh,
    "sigmoid": sp.expit, "softplus": lambda x: np.logaddexp(0.0, x), "exp2": np.exp2,
    "log2": np.log2, "log10": np.log10, "log_sigmoid": lambda x: -np.logaddexp(0.0, -x),
}


def all_floats_between(lo, hi, max_count=1 << 17):
    """Every float32 in [lo, hi] (or, past max_count of them, every k-th)."""
    lo, hi = np.float32(lo), np.float32(hi)

    def ordered(v):  # monotone integer key of a float
        b = np.array([v], np.float32).view(np.int32)[0].astype(np.int64)
        return b if b >= 0 else -(b & 0x7FFFFFFF)

    first, last = ordered(lo), ordered(hi)
    step = max(1, (last - first + 1) // max_count)
    keys = np.arange(first, last + 1, step, dtype=np.int64)
    bits = np.where(keys >= 0, keys, (-keys) | 0x80000000).astype(np.uint32)
    return bits.view(np.float32)


def dense_sample(step=4099):
    bits = np.arange(0, 1 << 32, step, dtype=np.uint64).astype(np.uint32)
    x = bits.view(np.float32)
    return x[~np.isnan(x)]


# Intervals swept float by float, per function.
EDGES = {
    "exp": [(88.0, 89.0), (-88.0, -86.5), (-104.0, -103.0), (-1e-3, 1e-3), (0.34, 0.35)],
    "expm1": [(88.0, 89.0), (-1e-2, 1e-2), (-0.36, -0.33), (0.33, 0.36), (16.5, 17.5), (-18.0, -17.0)],
    "log": [(0.7, 0.71), (1.4, 1.42), (0.999, 1.001), (1.1754944e-38, 1.2e-38), (3.0e38, 3.4028235e38)],
    "log1p": [(-1e-3, 1e-3), (-0.3, -0.29), (0.41, 0.42), (-1.0, -0.9999), (1.67e7, 1.68e7)],
    "tanh": [(0.99, 1.01), (-1.01, -0.99), (-1e-3, 1e-3), (8.9, 9.2), (1e-30, 1e-29)],
    "sigmoid": [(-88.0, -86.5), (-6.0, -5.0), (16.0, 17.5), (-1e-3, 1e-3)],
    "softplus": [(-88.0, -86.5), (-3.0, -1.0), (15.0, 17.0), (-1e-3, 1e-3)],
    "exp2": [(127.0, 129.0), (-127.0, -125.5), (-1e-3, 1e-3)],
    "log2": [(0.999, 1.001), (0.7, 0.71)],
    "log10": [(0.999, 1.001), (0.7, 0.71)],
    "log_sigmoid": [(-17.5, -15.0), (86.5, 88.0), (-1e-3, 1e-3)],
}


def ulp_error(y, ref):
    """|y - ref| in ULPs of ref's float32 binade; matching infinities/NaNs and FTZ-flushed tiny
    results count as exact."""
    y = y.astype(np.float64)
    a = np.abs(ref)
    with np.errstate(divide="ignore", invalid="ignore"):
        e = np.maximum(np.floor(np.log2(np.where(a > 0, a, 1.0))), -126)
        err = np.abs(y - ref) / np.exp2(e - 23)
    exact = (np.isnan(ref) & np.isnan(y)) | (~np.isfinite(ref) & (y == ref))
    flushed = (a < TINY) & (np.abs(y) <= TINY)
    overflow = (a > F32_MAX) & np.isinf(y) & (np.sign(y) == np.sign(ref))
    return np.where(exact | flushed | overflow, 0.0, err)


def reference(fn, x):
    xd = x.astype(np.float64)
    xd = np.where(np.abs(xd) < TINY, xd * 0.0, xd)  # DAZ: denormal inputs read as signed zero
    with np.errstate(all="ignore"):
        return REFERENCES[fn](xd)


@pytest.fixture(scope="module")
def sample():
    return dense_sample()


@pytest.mark.parametrize("fn", sorted(BOUNDS))
def test_max_ulp_error_over_all_floats(isa, fn, sample):
    x = np.concatenate([sample] + [all_floats_between(lo, hi) for lo, hi in EDGES[fn]])
    y = _core.eltwise.unary(fn, x)
    ref = reference(fn, x)
    err = ulp_error(y, ref)
    assert not np.any(np.isnan(y) & ~np.isnan(ref)), f"{fn}: NaN where the result is defined"
    worst = int(np.argmax(err))
    assert err[worst] <= BOUNDS[fn], f"{fn}: {err[worst]:.2f} ulp at x={x[worst]!r} (got {y[worst]!r}, want {ref[worst]!r})"


def test_exp_special_values(isa):
    x = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 88.72283, 88.72284, 89.0, 1e10, -1e10,
                  -87.33654, -87.5, -103.0, -104.0, -200.0], np.float32)
    y = _core.eltwise.unary("exp", x)
    assert y[0] == 1 and y[1] == 1 and y[2] == np.inf and y[3] == 0 and np.isnan(y[4])
    assert np.isfinite(y[5]) and y[5] > 3.4e38, "largest argument with a finite exp"
    assert y[6] == np.inf and y[7] == np.inf and y[8] == np.inf and y[9] == 0
    assert y[10] >= TINY, "exp(-87.33654) is just above FLT_MIN"
    # Below FLT_MIN the result is denormal: flushed to zero (FTZ).
    assert np.all(y[11:] == 0)


def test_log_special_values(isa):
    x = np.array([1.0, 0.0, -0.0, -1.0, np.inf, -np.inf, np.nan, TINY, 1e-40, -1e-40, F32_MAX], np.float32)
    y = _core.eltwise.unary("log", x)
    assert y[0] == 0 and y[1] == -np.inf and y[2] == -np.inf
    assert np.isnan(y[3]) and y[4] == np.inf and np.isnan(y[5]) and np.isnan(y[6])
    np.testing.assert_allclose(y[7], np.log(np.float64(TINY)), rtol=1e-7)
    # Denormal inputs read as +-0 under DAZ.
    assert y[8] == -np.inf and y[9] == -np.inf
    np.testing.assert_allclose(y[10], np.log(np.float64(F32_MAX)), rtol=1e-7)


def test_log1p_expm1_special_values(isa):
    x = np.array([0.0, -0.0, -1.0, -2.0, np.inf, -np.inf, np.nan, 1e-30, -1e-30], np.float32)
    y = _core.eltwise.unary("log1p", x)
    assert y[0] == 0 and y[2] == -np.inf and np.isnan(y[3]) and y[4] == np.inf and np.isnan(y[5])
    assert np.isnan(y[6]) and y[7] == np.float32(1e-30) and y[8] == np.float32(-1e-30)
    z = _core.eltwise.unary("expm1", x)
    assert z[0] == 0 and z[4] == np.inf and z[5] == -1 and np.isnan(z[6]) and z[7] == np.float32(1e-30)
    np.testing.assert_allclose(z[2:4], np.expm1(x[2:4].astype(np.float64)), rtol=2e-7)
    big = _core.eltwise.unary("expm1", np.array([88.5, 88.72283, 88.72284, 200.0], np.float32))
    assert np.all(np.isfinite(big[:2])) and np.all(big[2:] == np.inf)


@pytest.mark.parametrize("fn", ["tanh", "sigmoid", "softplus", "log_sigmoid"])
def test_saturating_functions_at_infinity_and_nan(isa, fn):
    x = np.array([np.inf, -np.inf, np.nan, 1e30, -1e30, 0.0], np.float32)
    y = _core.eltwise.unary(fn, x)
    with np.errstate(all="ignore"):
        ref = REFERENCES[fn](x.astype(np.float64))
    np.testing.assert_array_equal(y[[0, 1, 3, 4, 5]], ref[[0, 1, 3, 4, 5]].astype(np.float32))
    assert np.isnan(y[2])


def test_gelu_exact_relative_accuracy_including_the_lower_tail(isa):
    # The exact GELU's normal CDF keeps its relative accuracy far into the tail (down to FLT_MIN),
    # where the usual 0.5 (1 + erf) form cancels.
    x = np.concatenate([all_floats_between(-13.0, -12.9), np.linspace(-12, 12, 200001, dtype=np.float32)])
    y = _core.eltwise.unary("gelu", x).astype(np.float64)
    ref = gelu_ref(x.astype(np.float64))
    ok = np.abs(ref) >= 1e-36  # below, FTZ may flush an intermediate
    rel = np.abs(y[ok] - ref[ok]) / np.abs(ref[ok])
    bound = 9 if config.isa() == "generic" else 8  # ulps (of the 2^-23 relative unit)
    assert rel.max() < bound * 2.0**-23, rel.max() / 2.0**-23

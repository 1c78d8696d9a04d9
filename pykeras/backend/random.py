"""Seeded random numbers (Keras 3 `keras.random`), drawn by the native Philox kernels.

A draw is a pure function of (seed, stream): the same numbers on every thread count and kernel
path. `seed` arguments follow Keras 3: an int gives the same numbers on every call (stateless);
a SeedGenerator hands out a fresh stream per draw; None draws from the global generator, which
`set_global_seed` resets (pykeras.utils.set_random_seed calls it) and which otherwise starts
from OS entropy.
"""
import numpy as np

from pykeras import _core
from pykeras.backend import common
from pykeras.backend.math_ops import value, wrap
from pykeras.backend.tensor import Tensor, standardize_dtype

_MASK64 = (1 << 64) - 1


def _mix(a, b):
    """splitmix64 of a combined with b: well-spread 64-bit seeds for derived generators."""
    z = (a * 0x9E3779B97F4A7C15 + b + 0x632BE59BD9B4E5C9) & _MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
    return z ^ (z >> 31)


class SeedGenerator:
    """A (seed, counter) state: each `next()` returns (seed, stream) with a new stream.

    Args:
        seed: an int; None derives a seed from the global generator.
    """

    def __init__(self, seed=None, name=None, **kwargs):
        if seed is None:
            s, stream = global_seed_generator().next()
            seed = _mix(s, stream)
        elif isinstance(seed, SeedGenerator):
            seed = seed._seed
        elif isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
            raise TypeError(f"SeedGenerator: seed must be an int or None, got {seed!r}")
        self._seed = int(seed) & _MASK64
        self._counter = 0
        self.name = name or "seed_generator"

    def next(self, ordered=True):
        stream = self._counter
        self._counter += 1
        return self._seed, stream

    @property
    def state(self):
        return np.array([self._seed, self._counter], np.uint64)

    def get_config(self):
        return {"seed": self._seed}

    def __repr__(self):
        return f"<SeedGenerator seed={self._seed} counter={self._counter}>"


_GLOBAL = [None]


def global_seed_generator():
    if _GLOBAL[0] is None:
        _GLOBAL[0] = SeedGenerator(int(np.random.SeedSequence().entropy) & _MASK64)
    return _GLOBAL[0]


def set_global_seed(seed):
    """Restarts the global generator (used when `seed=None`) from `seed`."""
    _GLOBAL[0] = SeedGenerator(int(seed))


def draw_seed(seed):
    """(seed, stream) for a `seed` argument: None, an int, or a SeedGenerator."""
    if seed is None:
        return global_seed_generator().next()
    if isinstance(seed, SeedGenerator):
        return seed.next()
    if isinstance(seed, Tensor):
        seed = int(seed)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed must be None, an int or a SeedGenerator, got {seed!r}")
    return int(seed) & _MASK64, 0


def _shape(shape, name):
    if isinstance(shape, Tensor):
        shape = shape._v.tolist()
    if isinstance(shape, (int, np.integer)):
        shape = (int(shape),)
    shape = tuple(int(s) for s in shape)
    if any(s < 0 for s in shape):
        raise ValueError(f"{name}: negative dimension in shape {shape}")
    return shape


def _finish(y, dtype):
    dt = standardize_dtype(dtype)
    return wrap(y if dt == y.dtype else y.astype(dt))


def uniform(shape, minval=0.0, maxval=1.0, dtype=None, seed=None):
    s, stream = draw_seed(seed)
    y = _core.random.uniform(_shape(shape, "uniform"), s, stream, float(minval), float(maxval))
    return _finish(y, dtype)


def normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
    s, stream = draw_seed(seed)
    y = _core.random.normal(_shape(shape, "normal"), s, stream, float(mean), float(stddev))
    return _finish(y, dtype)


def truncated_normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
    """Normal samples redrawn until within two standard deviations of the mean."""
    s, stream = draw_seed(seed)
    y = _core.random.truncated_normal(_shape(shape, "truncated_normal"), s, stream, float(mean), float(stddev))
    return _finish(y, dtype)


def randint(shape, minval, maxval, dtype="int32", seed=None):
    """Integers uniform in [minval, maxval)."""
    minval, maxval = int(minval), int(maxval)
    if maxval <= minval:
        raise ValueError(f"randint: maxval ({maxval}) must be greater than minval ({minval})")
    s, stream = draw_seed(seed)
    u = _core.random.uniform(_shape(shape, "randint"), s, stream, 0.0, 1.0).astype(np.float64)
    r = np.minimum(np.floor(u * (maxval - minval)).astype(np.int64) + minval, maxval - 1)
    return wrap(r.astype(standardize_dtype(dtype)))


def shuffle(x, axis=0, seed=None):
    """x with its entries along `axis` in a random order."""
    from pykeras.backend import array_ops as _shape_ops

    xv = value(x)
    n = xv.shape[axis]
    s, stream = draw_seed(seed)
    perm = np.argsort(_core.random.uniform((n,), s, stream, 0.0, 1.0), kind="stable")
    return _shape_ops.take(x, perm, axis=axis)


def categorical(logits, num_samples, dtype="int32", seed=None):
    """Samples class indices from unnormalised log-probabilities (batch, classes) -> (batch, num_samples)."""
    lv = np.asarray(value(logits), np.float64)
    if lv.ndim != 2:
        raise ValueError(f"categorical: logits must be 2-D (batch, classes), got shape {lv.shape}")
    s, stream = draw_seed(seed)
    u = _core.random.uniform((lv.shape[0], int(num_samples), lv.shape[1]), s, stream, 0.0, 1.0).astype(np.float64)
    gumbel = -np.log(-np.log(np.clip(u, 1e-12, 1.0 - 1e-12)))
    return wrap(np.argmax(lv[:, None, :] + gumbel, axis=-1).astype(standardize_dtype(dtype)))


def binomial(shape, counts, probabilities, dtype=None, seed=None):
    s, stream = draw_seed(seed)
    counts = int(counts)
    u = _core.random.uniform(_shape(shape, "binomial") + (counts,), s, stream, 0.0, 1.0)
    return wrap((u < float(probabilities)).sum(axis=-1).astype(standardize_dtype(dtype)))


def bernoulli(shape, p=0.5, dtype=None, seed=None):
    s, stream = draw_seed(seed)
    u = _core.random.uniform(_shape(shape, "bernoulli"), s, stream, 0.0, 1.0)
    return wrap((u < float(p)).astype(standardize_dtype(dtype)))


def dropout(inputs, rate, noise_shape=None, seed=None):
    from pykeras.backend import nn

    return nn.dropout(inputs, rate, noise_shape=noise_shape, seed=seed)


def floatx():
    return common.floatx()

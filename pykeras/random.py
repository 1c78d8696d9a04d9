"""pykeras.random: Keras 3's `keras.random` (seeded draws on the native Philox generator)."""
from pykeras.backend.random import (SeedGenerator, bernoulli, binomial, categorical, dropout, normal, randint,
                                    set_global_seed, shuffle, truncated_normal, uniform)

__all__ = ["SeedGenerator", "bernoulli", "binomial", "categorical", "dropout", "normal", "randint", "set_global_seed",
           "shuffle", "truncated_normal", "uniform"]

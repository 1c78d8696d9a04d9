"""Global seeding: one call makes a run reproducible."""
import random

import numpy as np


def set_random_seed(seed):
    """Seeds Python's `random`, numpy's global generator and pykeras's global random generator.

    After this call, weight initialization, dropout masks and fit's shuffling draw the same
    numbers on every run, so a seeded script gives identical weights and history.
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise ValueError(f"set_random_seed expects an integer seed, got {seed!r} of type {type(seed).__name__}")
    seed = int(seed)
    random.seed(seed)
    np.random.seed(seed % (2**32))
    try:
        from pykeras.backend import random as backend_random
    except ImportError:  # the backend is not importable: nothing else to seed
        return
    backend_random.set_global_seed(seed)

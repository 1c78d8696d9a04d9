"""The kernel paths a test run covers (shared by conftest.py and tests that loop over paths).

Tests import this module by name (tests/ is on sys.path); a module named conftest would be
ambiguous, since several test directories have one.
"""
import os

from pykeras import config

_ORDER = ["generic", "avx2", "avx512"]


def supported_isas():
    """Every path this CPU supports, or only the one PYKERAS_ISA forces."""
    forced = os.environ.get("PYKERAS_ISA")
    if forced:
        return [forced.strip().lower()]
    best = config.best_isa()
    return _ORDER[: _ORDER.index(best) + 1]

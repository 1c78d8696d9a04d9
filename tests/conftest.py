"""Shared test fixtures.

`isa` runs a test once per kernel path this CPU supports (or only on the path that PYKERAS_ISA
forces, so that CI can run the whole suite on a lower path); `threads` runs it on 1 and 2
threads. Both restore the previous setting afterwards.
"""
import os

# Keras 3, the reference some tests compare against, runs on JAX here (its default backend,
# TensorFlow, is not a test dependency). Set before any test imports keras.
os.environ.setdefault("KERAS_BACKEND", "jax")

import pytest  # noqa: E402

import pykeras  # noqa: E402
from isa_paths import supported_isas  # noqa: E402
from pykeras import config  # noqa: E402


@pytest.fixture(params=supported_isas())
def isa(request):
    before = config.isa()
    config.set_isa(request.param)
    yield request.param
    config.set_isa(before)


@pytest.fixture(params=[1, 2])
def threads(request):
    before = config.get_num_threads()
    config.set_num_threads(request.param)
    yield request.param
    config.set_num_threads(before)


@pytest.fixture(autouse=True)
def _restore_runtime():
    isa_before, threads_before = config.isa(), config.get_num_threads()
    yield
    config.set_isa(isa_before)
    config.set_num_threads(threads_before)


def pytest_report_header():
    return f"pykeras {pykeras.__version__}: kernel path {config.isa()}, {config.get_num_threads()} threads"

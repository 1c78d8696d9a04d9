"""Fixtures of the saving tests."""
import os

import pytest


@pytest.fixture
def keras_module():
    """Real Keras 3 on JAX, or a skip when it cannot be imported here."""
    os.environ.setdefault("KERAS_BACKEND", "jax")
    try:
        import keras
    except Exception as e:  # ImportError, or a backend that fails to initialise
        pytest.skip(f"keras is not importable: {e}")
    if keras.backend.backend() != "jax":
        pytest.skip(f"keras runs on {keras.backend.backend()}, the reference tests expect jax")
    return keras

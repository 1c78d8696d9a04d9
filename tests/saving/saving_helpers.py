"""Helpers shared by the saving tests (imported as `saving_helpers`): seeded weights, outputs,
comparisons and the Keras-made fixtures."""
import os

import numpy as np

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")


def randomize_weights(model, seed=0, scale=0.5):
    """Gives every weight a distinct seeded value (variance-like weights stay positive)."""
    rng = np.random.default_rng(seed)
    for w in model.weights:
        shape = tuple(w.shape)
        value = rng.normal(size=shape).astype(np.asarray(w).dtype) * scale
        if "variance" in str(getattr(w, "name", "")):
            value = np.abs(value) + 0.5
        w.assign(value)


def predict(model, x):
    """The model's inference output(s) as numpy arrays (a list for several outputs)."""
    out = model(x, training=False)
    if isinstance(out, dict):
        return {k: np.asarray(v) for k, v in out.items()}
    if isinstance(out, (list, tuple)):
        return [np.asarray(o) for o in out]
    return np.asarray(out)


def assert_same_outputs(a, b, exact=True, rtol=1e-5, atol=1e-6):
    if isinstance(a, dict):
        assert sorted(a) == sorted(b)
        for k in a:
            assert_same_outputs(a[k], b[k], exact, rtol, atol)
        return
    if isinstance(a, list):
        assert isinstance(b, list) and len(a) == len(b)
        for x, y in zip(a, b):
            assert_same_outputs(x, y, exact, rtol, atol)
        return
    if exact:
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    else:
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=rtol, atol=atol)


def assert_same_weights(m1, m2):
    w1, w2 = m1.get_weights(), m2.get_weights()
    assert len(w1) == len(w2)
    for a, b in zip(w1, w2):
        np.testing.assert_array_equal(a, b)


def load_arrays(prefix):
    """FIXTURES/prefix.npy, or the list prefix0.npy, prefix1.npy, ..."""
    single = os.path.join(FIXTURES, f"{prefix}.npy")
    if os.path.exists(single):
        return np.load(single)
    out, i = [], 0
    while os.path.exists(os.path.join(FIXTURES, f"{prefix}{i}.npy")):
        out.append(np.load(os.path.join(FIXTURES, f"{prefix}{i}.npy")))
        i += 1
    if not out:
        raise FileNotFoundError(f"no fixture arrays named {prefix}")
    return out

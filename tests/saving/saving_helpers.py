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


def scale_by_two(x):
    """A named function for Lambda layers (passed as a custom object when loading)."""
    return x * 2.0


# name -> (factory(layers module), input shapes without batch axis, input dtype). Entries for layer families
# that are not (yet) part of pykeras are ignored; `test_every_layer_class_has_a_case` (in
# test_saving_roundtrip.py) makes sure each layer class pykeras exports has one. The factories
# take the layers module, so the same case builds in pykeras and in Keras.

LAYER_CASES = {
    "Dense": (lambda L: L.Dense(5, activation="relu", kernel_regularizer="l2", bias_initializer="ones"),
              [(4,)], "float32"),
    "Dropout": (lambda L: L.Dropout(0.4, seed=3), [(6,)], "float32"),
    "Activation": (lambda L: L.Activation("tanh"), [(6,)], "float32"),
    "Flatten": (lambda L: L.Flatten(), [(3, 4)], "float32"),
    "Reshape": (lambda L: L.Reshape((2, 6)), [(3, 4)], "float32"),
    "Permute": (lambda L: L.Permute((2, 1)), [(3, 4)], "float32"),
    "RepeatVector": (lambda L: L.RepeatVector(3), [(4,)], "float32"),
    "ActivityRegularization": (lambda L: L.ActivityRegularization(l1=0.01, l2=0.02), [(4,)], "float32"),
    "Masking": (lambda L: L.Masking(mask_value=0.0), [(3, 4)], "float32"),
    "Embedding": (lambda L: L.Embedding(10, 4), [(5,)], "int32"),
    "LayerNormalization": (lambda L: L.LayerNormalization(epsilon=1e-4), [(6,)], "float32"),
    "Lambda": (lambda L: L.Lambda(scale_by_two), [(4,)], "float32"),
    "BatchNormalization": (lambda L: L.BatchNormalization(momentum=0.8), [(5,)], "float32"),
    "Conv1D": (lambda L: L.Conv1D(3, 3, padding="same", activation="relu"), [(8, 2)], "float32"),
    "Conv2D": (lambda L: L.Conv2D(4, 3, strides=2, padding="same"), [(7, 7, 3)], "float32"),
    "Conv3D": (lambda L: L.Conv3D(2, 2), [(4, 4, 4, 2)], "float32"),
    "Conv2DTranspose": (lambda L: L.Conv2DTranspose(3, 3, strides=2), [(4, 4, 2)], "float32"),
    "DepthwiseConv2D": (lambda L: L.DepthwiseConv2D(3, depth_multiplier=2), [(6, 6, 3)], "float32"),
    "SeparableConv2D": (lambda L: L.SeparableConv2D(4, 3), [(6, 6, 3)], "float32"),
    "MaxPooling1D": (lambda L: L.MaxPooling1D(2), [(8, 3)], "float32"),
    "MaxPooling2D": (lambda L: L.MaxPooling2D(2), [(6, 6, 3)], "float32"),
    "MaxPooling3D": (lambda L: L.MaxPooling3D(2), [(4, 4, 4, 2)], "float32"),
    "AveragePooling1D": (lambda L: L.AveragePooling1D(2), [(8, 3)], "float32"),
    "AveragePooling2D": (lambda L: L.AveragePooling2D(2), [(6, 6, 3)], "float32"),
    "AveragePooling3D": (lambda L: L.AveragePooling3D(2), [(4, 4, 4, 2)], "float32"),
    "GlobalAveragePooling1D": (lambda L: L.GlobalAveragePooling1D(), [(8, 3)], "float32"),
    "GlobalAveragePooling2D": (lambda L: L.GlobalAveragePooling2D(), [(5, 5, 3)], "float32"),
    "GlobalMaxPooling1D": (lambda L: L.GlobalMaxPooling1D(), [(8, 3)], "float32"),
    "GlobalMaxPooling2D": (lambda L: L.GlobalMaxPooling2D(), [(5, 5, 3)], "float32"),
    "ZeroPadding2D": (lambda L: L.ZeroPadding2D(1), [(4, 4, 2)], "float32"),
    "Cropping2D": (lambda L: L.Cropping2D(1), [(5, 5, 2)], "float32"),
    "UpSampling2D": (lambda L: L.UpSampling2D(2), [(3, 3, 2)], "float32"),
    "Concatenate": (lambda L: L.Concatenate(axis=-1), [(3,), (4,)], "float32"),
    "Add": (lambda L: L.Add(), [(4,), (4,)], "float32"),
    "Subtract": (lambda L: L.Subtract(), [(4,), (4,)], "float32"),
    "Multiply": (lambda L: L.Multiply(), [(4,), (4,)], "float32"),
    "Average": (lambda L: L.Average(), [(4,), (4,)], "float32"),
    "Maximum": (lambda L: L.Maximum(), [(4,), (4,)], "float32"),
    "Minimum": (lambda L: L.Minimum(), [(4,), (4,)], "float32"),
    "Dot": (lambda L: L.Dot(axes=1), [(4,), (4,)], "float32"),
    "ReLU": (lambda L: L.ReLU(max_value=1.5), [(6,)], "float32"),
    "LeakyReLU": (lambda L: L.LeakyReLU(negative_slope=0.1), [(6,)], "float32"),
    "PReLU": (lambda L: L.PReLU(), [(6,)], "float32"),
    "ELU": (lambda L: L.ELU(alpha=0.5), [(6,)], "float32"),
    "Softmax": (lambda L: L.Softmax(), [(6,)], "float32"),
    "ThresholdedReLU": (lambda L: L.ThresholdedReLU(theta=0.5), [(6,)], "float32"),
    "GaussianNoise": (lambda L: L.GaussianNoise(0.1), [(6,)], "float32"),
    "GaussianDropout": (lambda L: L.GaussianDropout(0.1), [(6,)], "float32"),
    "SpatialDropout2D": (lambda L: L.SpatialDropout2D(0.2), [(4, 4, 2)], "float32"),
    "GroupNormalization": (lambda L: L.GroupNormalization(groups=2), [(4, 4)], "float32"),
    "UnitNormalization": (lambda L: L.UnitNormalization(), [(5,)], "float32"),
    "Conv1DTranspose": (lambda L: L.Conv1DTranspose(3, 3, strides=2), [(5, 2)], "float32"),
    "Conv3DTranspose": (lambda L: L.Conv3DTranspose(2, 2), [(3, 3, 3, 2)], "float32"),
    "SeparableConv1D": (lambda L: L.SeparableConv1D(3, 3), [(8, 2)], "float32"),
    "DepthwiseConv1D": (lambda L: L.DepthwiseConv1D(3), [(8, 2)], "float32"),
    "GlobalAveragePooling3D": (lambda L: L.GlobalAveragePooling3D(), [(3, 3, 3, 2)], "float32"),
    "GlobalMaxPooling3D": (lambda L: L.GlobalMaxPooling3D(), [(3, 3, 3, 2)], "float32"),
    "ZeroPadding1D": (lambda L: L.ZeroPadding1D(2), [(5, 2)], "float32"),
    "ZeroPadding3D": (lambda L: L.ZeroPadding3D(1), [(3, 3, 3, 2)], "float32"),
    "Cropping1D": (lambda L: L.Cropping1D((1, 2)), [(6, 2)], "float32"),
    "Cropping3D": (lambda L: L.Cropping3D(1), [(4, 4, 4, 2)], "float32"),
    "UpSampling1D": (lambda L: L.UpSampling1D(2), [(4, 2)], "float32"),
    "UpSampling3D": (lambda L: L.UpSampling3D(2), [(2, 2, 2, 2)], "float32"),
    "SpatialDropout1D": (lambda L: L.SpatialDropout1D(0.2), [(5, 3)], "float32"),
    "SpatialDropout3D": (lambda L: L.SpatialDropout3D(0.2), [(3, 3, 3, 2)], "float32"),
    "AlphaDropout": (lambda L: L.AlphaDropout(0.1), [(6,)], "float32"),
    "Identity": (lambda L: L.Identity(), [(4,)], "float32"),
    "Rescaling": (lambda L: L.Rescaling(0.5, offset=1.0), [(4,)], "float32"),
}
# Classes that are machinery rather than user layers.
NOT_USER_LAYERS = {"Layer", "InputLayer", "TensorOp", "Functional", "Sequential", "Model"}


def layer_case_inputs(name, seed=0):
    """A fixed batch of 3 for the case's input shapes (a list for several inputs)."""
    _, shapes, dtype = LAYER_CASES[name]
    rng = np.random.default_rng(seed)
    if dtype.startswith("int"):
        xs = [rng.integers(0, 10, size=(3,) + s).astype(dtype) for s in shapes]
    else:
        xs = [rng.normal(size=(3,) + s).astype(dtype) for s in shapes]
    return xs[0] if len(xs) == 1 else xs

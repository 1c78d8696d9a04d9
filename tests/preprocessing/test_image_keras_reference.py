"""pykeras.preprocessing.image against Keras 3's own (keras.preprocessing.image, on scipy and
Pillow): the same affine transforms for random parameters, fill modes and orders, and the same
batches from seeded flows and directory flows for the same generator arguments. Skipped when
Keras (or scipy, which Keras's transforms use) is absent."""
import os

import numpy as np
import pytest

from pykeras.preprocessing import image

# Keras and scipy warn about their own deprecations while they run.
pytestmark = [pytest.mark.keras_reference, pytest.mark.filterwarnings("ignore::DeprecationWarning")]


@pytest.fixture(scope="module")
def keras_image():
    os.environ.setdefault("KERAS_BACKEND", "jax")
    pytest.importorskip("scipy.ndimage")
    try:
        from keras.src.legacy.preprocessing import image as keras_image
    except Exception as e:  # ImportError, or a backend that fails to initialise
        pytest.skip(f"keras is not importable: {e}")
    return keras_image


def test_affine_transforms_equal_kerass(keras_image):
    rng = np.random.default_rng(0)
    for trial in range(120):
        h, w = rng.integers(1, 12, 2)
        channels_last = trial % 2 == 0
        x = rng.standard_normal((h, w, 3) if channels_last else (3, h, w)).astype(np.float32)
        axes = dict(row_axis=0, col_axis=1, channel_axis=2) if channels_last else \
            dict(row_axis=1, col_axis=2, channel_axis=0)
        kwargs = dict(theta=rng.choice([0, 90, rng.uniform(-180, 180)]), tx=rng.choice([0, 2, rng.uniform(-5, 5)]),
                      ty=rng.choice([0, -3, rng.uniform(-5, 5)]), shear=rng.choice([0, rng.uniform(-40, 40)]),
                      zx=rng.choice([1, 2, rng.uniform(0.3, 2.5)]), zy=rng.choice([1, rng.uniform(0.3, 2.5)]),
                      fill_mode=["nearest", "constant", "reflect", "wrap"][trial % 4], cval=0.5,
                      order=int(trial % 3 != 0))
        ours = image.apply_affine_transform(x, **kwargs, **axes)
        theirs = keras_image.apply_affine_transform(x, **kwargs, **axes)
        np.testing.assert_array_equal(ours, theirs, err_msg=f"trial {trial}: {kwargs}")


GENERATOR_CASES = [
    dict(rotation_range=30, width_shift_range=0.2, height_shift_range=3, shear_range=10, zoom_range=0.3,
         channel_shift_range=20, horizontal_flip=True, vertical_flip=True, brightness_range=(0.5, 1.5),
         fill_mode="reflect", rescale=1 / 255.0),
    dict(width_shift_range=[-2, 0, 2], height_shift_range=0.1, fill_mode="wrap", samplewise_center=True,
         samplewise_std_normalization=True),
    dict(featurewise_center=True, featurewise_std_normalization=True, rotation_range=90, fill_mode="constant",
         cval=3.0),
    dict(zca_whitening=True, zoom_range=[0.5, 1.0]),
    dict(validation_split=0.3, horizontal_flip=True, interpolation_order=0, rotation_range=45),
]


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("case", range(len(GENERATOR_CASES)))
def test_seeded_flows_equal_kerass(keras_image, case):
    kwargs = GENERATOR_CASES[case]
    rng = np.random.default_rng(case)
    x = (rng.random((10, 9, 11, 3)) * 255).astype(np.float32)
    y = np.arange(10) % 3
    ours, theirs = image.ImageDataGenerator(**kwargs), keras_image.ImageDataGenerator(**kwargs)
    if kwargs.get("featurewise_center") or kwargs.get("zca_whitening"):
        ours.fit(x, augment=True, seed=3)
        theirs.fit(x, augment=True, seed=3)
        for name in ("mean", "std", "zca_whitening_matrix"):
            a, b = getattr(ours, name), getattr(theirs, name)
            assert (a is None) == (b is None), name
            if a is not None:
                np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6, err_msg=name)
    flow_kwargs = dict(batch_size=4, seed=7, subset="training" if kwargs.get("validation_split") else None)
    flows = ours.flow(x, y, **flow_kwargs), theirs.flow(x, y, **flow_kwargs)
    # Both draw from numpy's global generator: run them one after the other from equal states.
    for epoch in range(2):
        for i in range(len(flows[1])):
            (xa, ya), (xb, yb) = flows[0][i], flows[1][i]
            np.testing.assert_array_equal(ya, yb)
            np.testing.assert_allclose(xa, xb, rtol=1e-5, atol=1e-5)
        state = np.random.get_state()
        flows[0].on_epoch_end()
        np.random.set_state(state)
        flows[1].on_epoch_end()
    for _ in range(3):
        state = np.random.get_state()
        xa, ya = next(flows[0])
        np.random.set_state(state)
        xb, yb = next(flows[1])
        np.testing.assert_array_equal(ya, yb)
        np.testing.assert_allclose(xa, xb, rtol=1e-5, atol=1e-5)


def test_directory_flow_equals_kerass(keras_image, tmp_path):
    from PIL import Image

    rng = np.random.default_rng(9)
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        for i in range(4):
            Image.fromarray(rng.integers(0, 256, (9 + i, 7, 3)).astype(np.uint8)).save(tmp_path / name / f"{i}.png")
    kwargs = dict(rotation_range=20, zoom_range=0.2, horizontal_flip=True, validation_split=0.25)
    flow_kwargs = dict(target_size=(6, 5), batch_size=3, seed=1, subset="training", class_mode="binary",
                       interpolation="bilinear")
    ours = image.ImageDataGenerator(**kwargs).flow_from_directory(str(tmp_path), **flow_kwargs)
    theirs = keras_image.ImageDataGenerator(**kwargs).flow_from_directory(str(tmp_path), **flow_kwargs)
    assert ours.filenames == theirs.filenames and ours.class_indices == theirs.class_indices
    for i in range(len(theirs)):
        (xa, ya), (xb, yb) = ours[i], theirs[i]
        np.testing.assert_array_equal(ya, yb)
        np.testing.assert_allclose(xa, xb, rtol=1e-5, atol=1e-4)

"""The augmentation arithmetic of pykeras.preprocessing.image against numpy formulas: shifts by
whole pixels, 90-degree rotations, flips, zooms on linear ramps (exact under linear
interpolation), the four fill modes at the borders, shear, channel and brightness shifts, the
standardization options and `fit` (mean, std, ZCA), every ImageDataGenerator argument, seeded
reproducibility, and the argument errors. scipy.ndimage (which Keras calls) is the reference for
random affine transforms when it is installed."""
import warnings

import numpy as np
import pytest

from pykeras.preprocessing import image
from pykeras.preprocessing.image import ImageDataGenerator, apply_affine_transform

CHANNELS_LAST = dict(row_axis=0, col_axis=1, channel_axis=2)


def _pattern(h=6, w=7, c=2, seed=0):
    return np.random.default_rng(seed).uniform(0, 10, (h, w, c)).astype(np.float32)


# ---- index maps of the fill modes (scipy's definitions), for whole-pixel shifts -----------------


def _fill_index(i, n, mode):
    """Where input index i (possibly outside [0, n)) reads from, per fill mode; None: cval."""
    if 0 <= i < n:
        return i
    if mode == "constant":
        return None
    if mode == "nearest":
        return min(max(i, 0), n - 1)
    if mode == "reflect":  # d c b a | a b c d | d c b a
        i = i % (2 * n)
        return i if i < n else 2 * n - 1 - i
    if mode == "wrap":  # period n - 1: the first and last samples coincide; scipy reads the
        # last one when coming from below and the first one when coming from above
        period = n - 1
        return i + period * (-i // period + 1) if i < 0 else i - period * (i // period)
    raise AssertionError(mode)


def _shifted(x, k_rows, k_cols, mode, cval):
    """out[r, c] = x[r + k_rows, c + k_cols] with the fill mode outside."""
    h, w = x.shape[:2]
    out = np.empty_like(x)
    for r in range(h):
        for c in range(w):
            i, j = _fill_index(r + k_rows, h, mode), _fill_index(c + k_cols, w, mode)
            out[r, c] = cval if i is None or j is None else x[i, j]
    return out


@pytest.mark.parametrize("mode", ["constant", "nearest", "reflect", "wrap"])
@pytest.mark.parametrize("k_rows,k_cols", [(2, 0), (0, -3), (-1, 2), (5, 9), (-8, -1)])
def test_whole_pixel_shifts_and_fill_modes(mode, k_rows, k_cols):
    x = _pattern()
    # tx shifts along the width (columns), ty along the height (rows), as in Keras 3.
    out = apply_affine_transform(x, tx=k_cols, ty=k_rows, fill_mode=mode, cval=-4.0, **CHANNELS_LAST)
    np.testing.assert_array_equal(out, _shifted(x, k_rows, k_cols, mode, -4.0))
    assert out.dtype == x.dtype and out.shape == x.shape


@pytest.mark.parametrize("k", [1, 2, 3, -1])
def test_rotations_by_multiples_of_90_degrees(k):
    x = _pattern(5, 5, 3)
    out = apply_affine_transform(x, theta=90 * k, fill_mode="nearest", **CHANNELS_LAST)
    np.testing.assert_allclose(out, np.rot90(x, k, axes=(0, 1)), atol=1e-5)


def test_rotation_of_a_rectangle_turns_about_kerass_centre():
    # Keras 3 offsets rows by (width - 1) / 2 and columns by (height - 1) / 2 (the centre is
    # transposed for non-square images); pykeras computes the same.
    h, w = 4, 6
    x = _pattern(h, w, 1)
    # 'nearest': sin(pi) is 1e-16, so edge coordinates may land a hair outside the image.
    out = apply_affine_transform(x, theta=180, fill_mode="nearest", **CHANNELS_LAST)
    centre_r, centre_c = (w - 1) / 2, (h - 1) / 2
    r, c = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
    src_r = np.clip(np.round(2 * centre_r - r).astype(int), 0, h - 1)
    src_c = np.clip(np.round(2 * centre_c - c).astype(int), 0, w - 1)
    np.testing.assert_allclose(out[..., 0], x[src_r, src_c, 0], atol=1e-5)


def test_zoom_on_a_linear_ramp_is_exact():
    h, w = 9, 8
    rows = np.broadcast_to(np.arange(h, dtype=np.float32)[:, None, None], (h, w, 1))
    cols = np.broadcast_to(np.arange(w, dtype=np.float32)[None, :, None], (h, w, 1))
    ramp = np.concatenate([rows, cols], axis=-1)
    centre = np.array([(w - 1) / 2, (h - 1) / 2])  # Keras's transposed centre, see above
    # zx = zy = 0.5 magnifies twice: input coordinate = 0.5 * (output - centre) + centre
    # (zx along the columns, zy along the rows).
    zoomed = apply_affine_transform(ramp, zx=0.5, zy=0.5, **CHANNELS_LAST)
    r, c = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
    np.testing.assert_allclose(zoomed[..., 0], 0.5 * (r - centre[0]) + centre[0], atol=1e-5)
    np.testing.assert_allclose(zoomed[..., 1], 0.5 * (c - centre[1]) + centre[1], atol=1e-5)
    # zy = 2 shrinks the rows by two; what falls outside is cval.
    shrunk = apply_affine_transform(ramp, zy=2.0, fill_mode="constant", cval=-1.0, **CHANNELS_LAST)
    source = 2.0 * (r - centre[0]) + centre[0]
    inside = (source >= 0) & (source <= h - 1)
    np.testing.assert_allclose(shrunk[..., 0][inside], source[inside], atol=1e-5)
    assert np.all(shrunk[~inside] == -1.0)


def test_bilinear_interpolation_between_pixels():
    x = np.array([[0.0, 10.0], [20.0, 30.0]], dtype=np.float32)[..., None]
    x = np.pad(x, ((0, 1), (0, 1), (0, 0)), mode="edge")  # 3x3: the half-pixel shift stays inside
    out = apply_affine_transform(x, tx=0.5, ty=0.25, fill_mode="nearest", **CHANNELS_LAST)
    # out[0, 0] samples row 0.25, column 0.5: the bilinear mix of the 2x2 corner.
    fr, fc = 0.25, 0.5
    expected = (1 - fr) * (1 - fc) * 0 + (1 - fr) * fc * 10 + fr * (1 - fc) * 20 + fr * fc * 30
    assert out[0, 0, 0] == pytest.approx(expected, abs=1e-5)


def test_order_zero_is_nearest_neighbour():
    x = _pattern(5, 5, 1)
    # Rows read r - 0.6 -> rounded to r - 1; columns c + 0.4 -> c.
    out = apply_affine_transform(x, tx=0.4, ty=-0.6, order=0, fill_mode="nearest", **CHANNELS_LAST)
    np.testing.assert_array_equal(out, _shifted(x, -1, 0, "nearest", 0.0))


def test_shear_follows_kerass_matrix():
    x = _pattern(7, 7, 1)
    shear = 20.0
    out = apply_affine_transform(x, shear=shear, fill_mode="nearest", **CHANNELS_LAST)
    # With rows and columns swapped as Keras does for channels_last, the shear maps output (r, c)
    # to input row cos(s) * (r - m) + m and column (c - m) - sin(s) * (r - m) + m.
    s, m = np.deg2rad(shear), 3.0
    r, c = np.meshgrid(np.arange(7), np.arange(7), indexing="ij")
    src_r = np.cos(s) * (r - m) + m
    src_c = (c - m) - np.sin(s) * (r - m) + m
    src_r, src_c = np.clip(src_r, 0, 6), np.clip(src_c, 0, 6)
    r0, c0 = np.floor(src_r).astype(int), np.floor(src_c).astype(int)
    r1, c1 = np.minimum(r0 + 1, 6), np.minimum(c0 + 1, 6)
    fr, fc = src_r - r0, src_c - c0
    v = x[..., 0].astype(np.float64)
    expected = ((1 - fr) * (1 - fc) * v[r0, c0] + (1 - fr) * fc * v[r0, c1] + fr * (1 - fc) * v[r1, c0]
                + fr * fc * v[r1, c1])
    np.testing.assert_allclose(out[..., 0], expected, rtol=1e-5, atol=1e-5)


def test_channels_first_images_transform_like_channels_last():
    x = _pattern(6, 5, 3)
    kwargs = dict(theta=33, tx=1.5, ty=-2, shear=12, zx=0.8, zy=1.3, fill_mode="reflect")
    last = apply_affine_transform(x, **kwargs, **CHANNELS_LAST)
    first = apply_affine_transform(np.moveaxis(x, -1, 0), **kwargs, row_axis=1, col_axis=2, channel_axis=0)
    np.testing.assert_array_equal(np.moveaxis(first, 0, -1), last)


def test_identity_returns_the_input():
    x = _pattern()
    assert apply_affine_transform(x, **CHANNELS_LAST) is x


def test_matches_scipy_ndimage_on_random_transforms():
    ndimage = pytest.importorskip("scipy.ndimage")
    rng = np.random.default_rng(3)
    for trial in range(60):
        h, w = rng.integers(2, 10, 2)
        x = rng.standard_normal((h, w, 2)).astype(np.float32)
        theta, tx, ty, shear = rng.uniform(-180, 180), rng.uniform(-4, 4), rng.uniform(-4, 4), rng.uniform(-30, 30)
        zx, zy = rng.uniform(0.4, 2.2, 2)
        mode = ["constant", "nearest", "reflect", "wrap"][trial % 4]
        order = int(trial % 3 == 0) ^ 1
        out = apply_affine_transform(x, theta, tx, ty, shear, zx, zy, fill_mode=mode, cval=0.7, order=order,
                                     **CHANNELS_LAST)
        # Keras's matrix, written out: rotation @ shift @ shear @ zoom about the centre, rows and
        # columns swapped for (row, col) planes.
        t, s = np.deg2rad(theta), np.deg2rad(shear)
        m = (np.array([[np.cos(t), -np.sin(t), 0], [np.sin(t), np.cos(t), 0], [0, 0, 1]])
             @ np.array([[1, 0, tx], [0, 1, ty], [0, 0, 1]])
             @ np.array([[1, -np.sin(s), 0], [0, np.cos(s), 0], [0, 0, 1]])
             @ np.diag([zx, zy, 1.0]))
        o = np.array([[1, 0, h / 2 - 0.5], [0, 1, w / 2 - 0.5], [0, 0, 1]])
        m = o @ m @ np.linalg.inv(o)
        m = m[[1, 0, 2]][:, [1, 0, 2]]
        expected = np.stack([ndimage.affine_transform(x[..., k], m[:2, :2], m[:2, 2], order=order, mode=mode,
                                                      cval=0.7) for k in range(2)], axis=-1)
        np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5, err_msg=f"trial {trial} {mode}")


def test_affine_argument_errors():
    x = _pattern()
    with pytest.raises(ValueError, match="must be distinct"):
        apply_affine_transform(x, theta=10, row_axis=0, col_axis=0, channel_axis=2)
    with pytest.raises(ValueError, match="multi-channel 2D images"):
        apply_affine_transform(x[..., 0], theta=10, row_axis=0, col_axis=1, channel_axis=2)
    with pytest.raises(ValueError, match="Channels are allowed"):
        apply_affine_transform(x, theta=10, row_axis=0, col_axis=2, channel_axis=1)
    with pytest.raises(ValueError, match="fill_mode"):
        apply_affine_transform(x, theta=10, fill_mode="mirror", **CHANNELS_LAST)


# ---- the other per-image operations -----------------------------------------------------------------


def test_flips_channel_shift_and_brightness():
    x = _pattern(4, 5, 3)
    np.testing.assert_array_equal(image.flip_axis(x, 1), x[:, ::-1])
    np.testing.assert_array_equal(image.flip_axis(x, 0), x[::-1])
    shifted = image.apply_channel_shift(x, 3.0, channel_axis=2)
    np.testing.assert_allclose(shifted, np.clip(x + 3.0, x.min(), x.max()))
    pixels = np.random.default_rng(0).integers(0, 256, (4, 5, 3)).astype(np.float32)
    for factor in (0.5, 1.37):
        out = image.apply_brightness_shift(pixels, factor, scale=False)
        np.testing.assert_array_equal(out, np.clip(np.trunc(pixels * factor), 0, 255))
    # Values outside [0, 255] are rescaled into it and back.
    wide = pixels * 4 - 300
    out = image.apply_brightness_shift(wide, 1.0, scale=False)
    np.testing.assert_allclose(out, wide, atol=(wide.max() - wide.min()) / 255 + 1e-3)


def test_random_helpers_draw_from_numpys_generator():
    x = np.moveaxis(_pattern(5, 5, 3), -1, 0)  # their default axes are channels first
    np.random.seed(4)
    theta = np.random.uniform(-30, 30)
    np.random.seed(4)
    np.testing.assert_array_equal(image.random_rotation(x, 30), apply_affine_transform(x, theta=theta))
    np.random.seed(5)
    tx, ty = np.random.uniform(-0.2, 0.2) * 5, np.random.uniform(-0.1, 0.1) * 5
    np.random.seed(5)
    np.testing.assert_array_equal(image.random_shift(x, 0.1, 0.2), apply_affine_transform(x, tx=tx, ty=ty))
    np.random.seed(6)
    zx, zy = np.random.uniform(0.5, 1.5, 2)
    np.random.seed(6)
    np.testing.assert_array_equal(image.random_zoom(x, (0.5, 1.5)), apply_affine_transform(x, zx=zx, zy=zy))
    np.random.seed(7)
    shear = np.random.uniform(-15, 15)
    np.random.seed(7)
    np.testing.assert_array_equal(image.random_shear(x, 15), apply_affine_transform(x, shear=shear))
    np.random.seed(8)
    shift = np.random.uniform(-9, 9)
    np.random.seed(8)
    np.testing.assert_allclose(image.random_channel_shift(x, 9), np.clip(x + shift, x.min(), x.max()))
    with pytest.raises(ValueError, match="zoom_range"):
        image.random_zoom(x, (0.5,))
    with pytest.raises(ValueError, match="brightness_range"):
        image.random_brightness(x, (0.5, 1, 2))


# ---- ImageDataGenerator: the transform parameters ---------------------------------------------------


def _params(seed=0, **kwargs):
    return ImageDataGenerator(**kwargs).get_random_transform((10, 20, 3), seed=seed)


def test_default_generator_is_the_identity():
    generator = ImageDataGenerator()
    p = generator.get_random_transform((8, 8, 3), seed=1)
    assert p == {"theta": 0, "tx": 0, "ty": 0, "shear": 0, "zx": 1, "zy": 1, "flip_horizontal": 0,
                 "flip_vertical": 0, "channel_shift_intensity": None, "brightness": None}
    x = _pattern(8, 8, 3)
    np.testing.assert_array_equal(generator.standardize(generator.apply_transform(x.copy(), p)), x)


def test_parameter_ranges():
    for seed in range(20):
        p = _params(seed, rotation_range=25, shear_range=8, zoom_range=0.2, channel_shift_range=5,
                    brightness_range=(0.3, 0.9), width_shift_range=0.25, height_shift_range=0.5)
        assert -25 <= p["theta"] <= 25 and -8 <= p["shear"] <= 8
        assert 0.8 <= p["zx"] <= 1.2 and 0.8 <= p["zy"] <= 1.2
        assert -5 <= p["channel_shift_intensity"] <= 5 and 0.3 <= p["brightness"] <= 0.9
        # Fractions of the image size: rows (height 10) and columns (width 20).
        assert -5 <= p["tx"] <= 5 and -5 <= p["ty"] <= 5
        p = _params(seed, width_shift_range=3, height_shift_range=[-4, 0, 4], zoom_range=[0.5, 0.6])
        assert p["ty"] in (-2, -1, 0, 1, 2) and p["tx"] in (-4, 0, 4)
        assert 0.5 <= p["zx"] <= 0.6
        p = _params(seed, width_shift_range=2.5)
        assert -2.5 <= p["ty"] <= 2.5 and p["ty"] != int(p["ty"])
    flips = [_params(seed, horizontal_flip=True, vertical_flip=True) for seed in range(40)]
    assert {p["flip_horizontal"] for p in flips} == {0, 1} and {p["flip_vertical"] for p in flips} == {0, 1}


def test_seeded_transforms_are_reproducible():
    generator = ImageDataGenerator(rotation_range=40, width_shift_range=0.2, zoom_range=0.3, horizontal_flip=True,
                                   fill_mode="wrap")
    x = _pattern(8, 9, 3)
    a, b = generator.random_transform(x, seed=11), generator.random_transform(x, seed=11)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, generator.random_transform(x, seed=12))


def test_apply_transform_composes_keras_order():
    generator = ImageDataGenerator(fill_mode="constant", cval=0.0)
    x = _pattern(6, 6, 3) * 20
    p = {"theta": 90, "tx": 1, "channel_shift_intensity": 7.0, "flip_horizontal": True, "flip_vertical": True,
         "brightness": None}
    out = generator.apply_transform(x, p)
    expected = apply_affine_transform(x, theta=90, tx=1, fill_mode="constant", **CHANNELS_LAST)
    expected = np.clip(expected + 7.0, expected.min(), expected.max())[::-1, ::-1]
    np.testing.assert_allclose(out, expected, atol=1e-4)


# ---- ImageDataGenerator: standardization and fit -------------------------------------------------------


def test_rescale_preprocessing_function_and_samplewise():
    calls = []

    def prep(x):
        calls.append(x.copy())
        return x + 1.0

    generator = ImageDataGenerator(rescale=0.5, preprocessing_function=prep, samplewise_center=True,
                                   samplewise_std_normalization=True)
    x = _pattern(4, 4, 3)
    out = generator.standardize(x.copy())
    y = (x + 1.0) * 0.5
    y = y - y.mean()
    np.testing.assert_allclose(out, y / (y.std() + 1e-6), rtol=1e-5)
    np.testing.assert_array_equal(calls[0], x)


def test_featurewise_statistics_from_fit():
    rng = np.random.default_rng(1)
    data = rng.normal([1.0, 5.0, -3.0], [1.0, 2.0, 0.5], (20, 4, 5, 3)).astype(np.float32)
    generator = ImageDataGenerator(featurewise_center=True, featurewise_std_normalization=True, rescale=2.0)
    generator.fit(data)
    scaled = data * 2.0
    np.testing.assert_allclose(generator.mean.reshape(3), scaled.mean(axis=(0, 1, 2)), rtol=1e-5)
    np.testing.assert_allclose(generator.std.reshape(3), scaled.std(axis=(0, 1, 2)), rtol=1e-4)
    assert generator.mean.shape == (1, 1, 3)
    out = np.stack([generator.standardize(x.copy()) for x in data])
    np.testing.assert_allclose(out.mean(axis=(0, 1, 2)), 0.0, atol=1e-4)
    np.testing.assert_allclose(out.std(axis=(0, 1, 2)), 1.0, rtol=1e-4)


def test_featurewise_std_implies_centering_and_warnings():
    with pytest.warns(UserWarning, match="overrides setting of `featurewise_center`"):
        generator = ImageDataGenerator(featurewise_std_normalization=True)
    assert generator.featurewise_center
    with pytest.warns(UserWarning, match="overrides setting of `samplewise_center`"):
        assert ImageDataGenerator(samplewise_std_normalization=True).samplewise_center
    with pytest.warns(UserWarning, match="hasn't been fit"):
        generator.standardize(_pattern())


def test_zca_whitening_matrix():
    rng = np.random.default_rng(2)
    data = rng.normal(0, 1, (30, 3, 3, 1)).astype(np.float32) @ np.ones((1, 1), np.float32)
    with pytest.warns(UserWarning, match="zca_whitening"):
        generator = ImageDataGenerator(zca_whitening=True, zca_epsilon=1e-3)
    assert generator.featurewise_center
    generator.fit(data)
    flat = (data - data.mean(axis=(0, 1, 2))).reshape(30, -1).astype(np.float64)
    u, s, _ = np.linalg.svd(flat.T, full_matrices=False)
    expected = (u * (np.sqrt(30) / (s + 1e-3))) @ u.T
    np.testing.assert_allclose(generator.zca_whitening_matrix, expected, rtol=1e-3, atol=1e-4)
    white = np.stack([generator.standardize(x.copy()) for x in data]).reshape(30, -1)
    # Whitened data (9 features, 30 samples) has close to identity covariance.
    np.testing.assert_allclose(white.T @ white / 30, np.eye(9), atol=0.02)


def test_fit_with_augmentation_rounds():
    data = _pattern(4, 4, 3)[None].repeat(5, axis=0)
    generator = ImageDataGenerator(featurewise_center=True, horizontal_flip=True)
    generator.fit(data, augment=True, rounds=3, seed=1)
    flipped = data[:, :, ::-1]
    # Flips do not change per-channel means.
    np.testing.assert_allclose(generator.mean.reshape(3), flipped.mean(axis=(0, 1, 2)), rtol=1e-5)
    with pytest.raises(ValueError, match="should have rank 4"):
        generator.fit(data[0])


def test_dtype_and_channels_first():
    generator = ImageDataGenerator(dtype="float64", data_format="channels_first", rotation_range=10)
    x = np.moveaxis(_pattern(5, 6, 3), -1, 0)
    batch = next(iter(generator.flow(x[None].repeat(2, axis=0), batch_size=2, seed=0)))
    assert batch.dtype == np.float64 and batch.shape == (2, 3, 5, 6)
    assert generator.channel_axis == 1 and generator.row_axis == 2


def test_generator_argument_errors():
    with pytest.raises(ValueError, match="`validation_split` must be strictly between 0 and 1"):
        ImageDataGenerator(validation_split=1.5)
    with pytest.raises(ValueError, match="`zoom_range` should be a float or a tuple or list of two floats"):
        ImageDataGenerator(zoom_range=(0.1, 0.2, 0.3))
    with pytest.raises(ValueError, match="brightness_range"):
        ImageDataGenerator(brightness_range=0.5)
    with pytest.raises(ValueError, match="data_format"):
        ImageDataGenerator(data_format="channels_middle")
    with pytest.raises(ValueError, match="fill_mode"):
        ImageDataGenerator(fill_mode="mirror")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ImageDataGenerator(zoom_range=[0.5, 2], rotation_range=10, fill_mode="reflect")

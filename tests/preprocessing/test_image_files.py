"""load_img / save_img / array_to_img / img_to_array (Pillow): round trips through PNG files,
color modes, resizing (with and without keeping the aspect ratio), scaling, data formats, the
keras.utils aliases, and the errors (including a clear ImportError when Pillow is missing)."""
import io
import pathlib
import sys

import numpy as np
import pytest

import pykeras
from pykeras.preprocessing import image

PIL = pytest.importorskip("PIL.Image")


def _rgb(h=5, w=7, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3)).astype(np.float32)


def test_png_round_trip_rgb_grayscale_rgba(tmp_path):
    x = _rgb()
    path = tmp_path / "a.png"
    image.save_img(path, x, scale=False)
    loaded = image.load_img(str(path))
    assert loaded.mode == "RGB" and loaded.size == (7, 5)
    np.testing.assert_array_equal(image.img_to_array(loaded), x)
    gray = image.img_to_array(image.load_img(path, color_mode="grayscale"))
    assert gray.shape == (5, 7, 1)
    # Pillow's ITU-R 601-2 luma transform, in integers.
    expected = (x[..., 0] * 299 + x[..., 1] * 587 + x[..., 2] * 114 + 500) // 1000
    np.testing.assert_allclose(gray[..., 0], expected, atol=1)
    rgba = image.img_to_array(image.load_img(pathlib.Path(path), color_mode="rgba"))
    assert rgba.shape == (5, 7, 4) and np.all(rgba[..., 3] == 255)
    np.testing.assert_array_equal(rgba[..., :3], x)


def test_load_from_bytes_io_and_resize(tmp_path):
    x = np.zeros((4, 8, 3), np.float32)
    x[:, 4:] = 255  # left half black, right half white
    buffer = io.BytesIO()
    image.array_to_img(x, scale=False).save(buffer, format="PNG")
    buffer.seek(0)
    stretched = image.img_to_array(image.load_img(buffer, target_size=(4, 4)))
    np.testing.assert_array_equal(stretched[:, :2], 0)
    np.testing.assert_array_equal(stretched[:, 2:], 255)
    # keep_aspect_ratio crops the centred 4x4 square (columns 2..5) before resizing to 2x2.
    buffer.seek(0)
    cropped = image.img_to_array(image.load_img(buffer, target_size=(2, 2), keep_aspect_ratio=True))
    np.testing.assert_array_equal(cropped[:, 0], 0)
    np.testing.assert_array_equal(cropped[:, 1], 255)
    buffer.seek(0)
    smooth = image.img_to_array(image.load_img(buffer, target_size=(4, 2), interpolation="bilinear"))
    assert smooth.shape == (4, 2, 3)
    assert 0 <= smooth.min() and smooth.max() <= 255


def test_array_to_img_scaling_and_modes():
    x = np.linspace(-1, 3, 12, dtype=np.float32).reshape(2, 2, 3)
    img = image.array_to_img(x)
    out = image.img_to_array(img)
    np.testing.assert_array_equal(out, ((x - x.min()) / (x.max() - x.min()) * 255).astype(np.uint8))
    assert image.array_to_img(np.zeros((3, 3, 1))).mode == "L"
    assert image.array_to_img(np.full((3, 3, 1), 1000.0), scale=False).mode == "I"
    assert image.array_to_img(np.zeros((3, 3, 4))).mode == "RGBA"
    first = image.array_to_img(np.moveaxis(_rgb(), -1, 0), data_format="channels_first", scale=False)
    np.testing.assert_array_equal(image.img_to_array(first), _rgb())
    with pytest.raises(ValueError, match="Unsupported channel number: 2"):
        image.array_to_img(np.zeros((3, 3, 2)))
    with pytest.raises(ValueError, match="Expected image array to have rank 3"):
        image.array_to_img(np.zeros((3, 3)))


def test_img_to_array_formats_and_dtype():
    img = image.array_to_img(_rgb(), scale=False)
    assert image.img_to_array(img, data_format="channels_first").shape == (3, 5, 7)
    assert image.img_to_array(img, dtype="float64").dtype == np.float64
    gray = image.array_to_img(_rgb()[..., :1], scale=False)
    assert image.img_to_array(gray).shape == (5, 7, 1)
    assert image.img_to_array(gray, data_format="channels_first").shape == (1, 5, 7)
    with pytest.raises(ValueError, match="Unsupported image shape"):
        image.img_to_array(np.zeros((2, 2, 2, 2)))


def test_save_img_formats(tmp_path):
    x = _rgb()
    image.save_img(tmp_path / "b.jpg", x)
    assert PIL.open(tmp_path / "b.jpg").format == "JPEG"
    with pytest.warns(UserWarning, match="JPEG format does not support RGBA"):
        image.save_img(tmp_path / "c.jpeg", np.concatenate([x, x[..., :1]], axis=-1))
    image.save_img(tmp_path / "d.bin", x, file_format="png")
    assert PIL.open(tmp_path / "d.bin").format == "PNG"


def test_load_img_errors(tmp_path):
    path = tmp_path / "e.png"
    image.save_img(path, _rgb())
    with pytest.raises(ValueError, match='color_mode must be "grayscale", "rgb", or "rgba"'):
        image.load_img(path, color_mode="cmyk")
    with pytest.raises(ValueError, match="Invalid interpolation method cubic"):
        image.load_img(path, target_size=(3, 3), interpolation="cubic")
    with pytest.raises(TypeError, match="path should be path-like or io.BytesIO"):
        image.load_img(42)


def test_utils_aliases():
    for name in ("load_img", "img_to_array", "array_to_img", "save_img"):
        assert getattr(pykeras.utils, name) is getattr(image, name)
    assert pykeras.preprocessing.image is image


def test_missing_pillow_is_a_clear_import_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "PIL", None)
    with pytest.raises(ImportError, match="`load_img` requires Pillow"):
        image.load_img("anything.png")
    with pytest.raises(ImportError, match="pip install Pillow"):
        image.array_to_img(np.zeros((2, 2, 3)))
    # img_to_array needs numpy only.
    assert image.img_to_array(np.zeros((2, 2, 3))).shape == (2, 2, 3)

"""Image utilities and Keras's (legacy) `ImageDataGenerator`, on numpy and Pillow.

Files: `load_img` / `save_img` / `array_to_img` / `img_to_array` convert between image files,
PIL images and float arrays (height, width, channels) as keras.utils does; they need Pillow and
say so with an ImportError when it is missing.

Augmentation: `ImageDataGenerator` draws each image's random transform from numpy's global
generator in Keras's order (rotation, height shift, width shift, shear, zoom, flips, channel
shift, brightness) and the iterators seed that generator with `seed + batches seen` as Keras
does, so a seeded flow yields the batches Keras would. The geometric part is one affine map per
image: Keras's matrix (rotation, then shift, shear, zoom, composed about the image centre) takes
every output pixel to an input coordinate, which is sampled by `_resample`: linear interpolation
(order 1, the default; order 0 is nearest-neighbour) with the fill modes of scipy.ndimage, which
Keras calls: 'nearest' repeats the edge pixels, 'reflect' mirrors the coordinate about the outer
pixel edges (d c b a | a b c d | d c b a), 'wrap' maps it modulo (size - 1), as scipy's 'wrap'
does (the first and last rows coincide), and 'constant' gives `cval` outside [0, size - 1]. The
sampling is vectorised over all pixels and channels of an image, in float64, combining the four
neighbours in scipy's order so results equal scipy's. Spline orders above 1 use scipy.ndimage.
"""
import io
import math
import os
import pathlib
import threading
import warnings

import numpy as np

from pykeras import backend as K
from pykeras.utils.py_dataset import PyDataset

WHITE_LIST_FORMATS = ("png", "jpg", "jpeg", "bmp", "ppm", "tif", "tiff")
FILL_MODES = ("constant", "nearest", "reflect", "wrap")
INTERPOLATION_METHODS = ("nearest", "bilinear", "bicubic", "hamming", "box", "lanczos")
# Added to standard deviations before dividing, as Keras (avoids dividing by zero).
STD_EPSILON = 1e-6


# ---- Pillow -------------------------------------------------------------------------------------


def _pil_image(function):
    """PIL.Image, or an ImportError naming Pillow and the function that needs it."""
    try:
        from PIL import Image
    except ImportError:
        raise ImportError(f"`{function}` requires Pillow (the PIL package), which is not installed. Install it "
                          "with `pip install Pillow` (it is part of pykeras's `test` extra).") from None
    return Image


def _pil_resampling(Image, interpolation):
    if interpolation not in INTERPOLATION_METHODS:
        raise ValueError(f"Invalid interpolation method {interpolation} specified. Supported methods are "
                         f"{', '.join(INTERPOLATION_METHODS)}")
    resampling = getattr(Image, "Resampling", Image)
    return getattr(resampling, interpolation.upper())


# ---- arrays <-> images <-> files ---------------------------------------------------------------


def array_to_img(x, data_format=None, scale=True, dtype=None):
    """A PIL image from a 3D array (height, width, channels) with 1, 3 or 4 channels.

    Args:
        x: the array.
        data_format: "channels_last" / "channels_first" (None: the global setting).
        scale: rescale the values to [0, 255] (min to 0, max to 255) before converting.
        dtype: dtype the array is first converted to (default floatx).

    Returns:
        A PIL Image: mode "L" (or "I" for values above 255) for one channel, "RGB" or "RGBA".
    """
    data_format = K.standardize_data_format(data_format)
    Image = _pil_image("array_to_img")
    x = np.asarray(x, dtype=dtype or K.floatx())
    if x.ndim != 3:
        raise ValueError(f"Expected image array to have rank 3 (single image). Got array with shape: {x.shape}")
    if data_format == "channels_first":
        x = x.transpose(1, 2, 0)
    if scale:
        x = x - np.min(x)
        x_max = np.max(x)
        if x_max != 0:
            x /= x_max
        x *= 255
    channels = x.shape[2]
    if channels == 4:
        return Image.fromarray(x.astype("uint8"), "RGBA")
    if channels == 3:
        return Image.fromarray(x.astype("uint8"), "RGB")
    if channels == 1:
        if np.max(x) > 255:
            return Image.fromarray(x[:, :, 0].astype("int32"), "I")
        return Image.fromarray(x[:, :, 0].astype("uint8"), "L")
    raise ValueError(f"Unsupported channel number: {channels}")


def img_to_array(img, data_format=None, dtype=None):
    """A 3D float array from a PIL image (or anything numpy converts): (height, width, channels),
    or (channels, height, width) for channels_first; grayscale images get one channel."""
    data_format = K.standardize_data_format(data_format)
    x = np.asarray(img, dtype=dtype or K.floatx())
    if x.ndim == 3:
        if data_format == "channels_first":
            x = x.transpose(2, 0, 1)
    elif x.ndim == 2:
        x = x.reshape((1,) + x.shape if data_format == "channels_first" else x.shape + (1,))
    else:
        raise ValueError(f"Unsupported image shape: {x.shape}")
    return x


def save_img(path, x, data_format=None, file_format=None, scale=True, **kwargs):
    """Saves a 3D array as an image file (format from `file_format`, else the file extension).

    `scale` as in array_to_img; extra keyword arguments go to PIL's `Image.save`. RGBA arrays
    saved as JPEG are converted to RGB with a warning.
    """
    data_format = K.standardize_data_format(data_format)
    if file_format is None and isinstance(path, (str, pathlib.Path)):
        file_format = pathlib.Path(path).suffix[1:].lower()
    if file_format and file_format.lower() == "jpg":
        file_format = "jpeg"
    img = array_to_img(x, data_format=data_format, scale=scale)
    if img.mode == "RGBA" and file_format == "jpeg":
        warnings.warn("The JPEG format does not support RGBA images, converting to RGB.", stacklevel=2)
        img = img.convert("RGB")
    img.save(path, format=file_format or None, **kwargs)


def load_img(path, color_mode="rgb", target_size=None, interpolation="nearest", keep_aspect_ratio=False):
    """Loads an image file into a PIL image.

    Args:
        path: file path (str, bytes, pathlib.Path) or an io.BytesIO.
        color_mode: "grayscale" (1 channel; 16/32-bit grayscale kept as is), "rgb" or "rgba".
        target_size: None (original size) or (height, width).
        interpolation: resampling when resizing: "nearest", "bilinear", "bicubic", "hamming",
            "box" or "lanczos".
        keep_aspect_ratio: resize a centred crop with the target's aspect ratio instead of
            stretching the whole image.

    Returns:
        A PIL Image.
    """
    Image = _pil_image("load_img")
    if isinstance(path, io.BytesIO):
        img = Image.open(path)
    elif isinstance(path, (pathlib.Path, bytes, str)):
        if isinstance(path, pathlib.Path):
            path = str(path.resolve())
        with open(path, "rb") as f:
            img = Image.open(io.BytesIO(f.read()))
    else:
        raise TypeError(f"path should be path-like or io.BytesIO, not {type(path)}")
    if color_mode == "grayscale":
        if img.mode not in ("L", "I;16", "I"):
            img = img.convert("L")
    elif color_mode == "rgba":
        if img.mode != "RGBA":
            img = img.convert("RGBA")
    elif color_mode == "rgb":
        if img.mode != "RGB":
            img = img.convert("RGB")
    else:
        raise ValueError('color_mode must be "grayscale", "rgb", or "rgba"')
    if target_size is not None:
        size = (target_size[1], target_size[0])  # PIL sizes are (width, height)
        if img.size != size:
            resample = _pil_resampling(Image, interpolation)
            if keep_aspect_ratio:
                width, height = img.size
                crop_height = min(height, (width * size[1]) // size[0])
                crop_width = min(width, (height * size[0]) // size[1])
                top = (height - crop_height) // 2
                left = (width - crop_width) // 2
                img = img.resize(size, resample, box=[left, top, left + crop_width, top + crop_height])
            else:
                img = img.resize(size, resample)
    return img


# ---- the affine transform ------------------------------------------------------------------------


def transform_matrix_offset_center(matrix, x, y):
    """`matrix` conjugated by a translation to the centre of an x-by-y image, so that it rotates,
    shears and zooms about the centre rather than the corner."""
    o_x = float(x) / 2 - 0.5
    o_y = float(y) / 2 - 0.5
    offset = np.array([[1, 0, o_x], [0, 1, o_y], [0, 0, 1]])
    reset = np.array([[1, 0, -o_x], [0, 1, -o_y], [0, 0, 1]])
    return offset @ matrix @ reset


def _map_coordinate(c, n, mode):
    """Input coordinates `c` (float64) along an axis of size n folded into the image, per fill
    mode. 'nearest' and 'constant' leave them: the caller clamps the neighbour indices (so the
    weights of two copies of an edge pixel still sum as scipy sums them) or masks what falls
    outside [0, n - 1]."""
    if n <= 1:
        return np.zeros_like(c) if mode != "constant" else c
    last = n - 1
    if mode == "reflect":
        # Period 2n; [-n, 0) mirrors to [0, n) about -0.5, [n, 2n) about n - 0.5.
        period = 2 * n
        c = c.copy()
        low = c < 0
        far = low & (c < -period)
        c[far] += period * np.trunc(-c[far] / period)
        cl = c[low]
        c[low] = np.where(cl < -n, cl + period, -cl - 1)
        high = c > last
        ch = c[high]
        ch = ch - period * np.trunc(ch / period)
        c[high] = np.where(ch >= n, period - ch - 1, ch)
        return c
    if mode == "wrap":
        # Period n - 1: the first and last rows coincide (scipy's 'wrap').
        c = c.copy()
        low = c < 0
        c[low] += last * (np.trunc(-c[low] / last) + 1)
        high = c > last
        c[high] -= last * np.trunc(c[high] / last)
        return c
    return c


def _axis_samples(c, n, mode, order):
    """(indices, weights, outside) of the interpolation along one axis for coordinates `c`."""
    c = _map_coordinate(c, n, mode)
    outside = (c < 0) | (c > n - 1) if mode == "constant" else None
    if order == 0:
        index = np.floor(c + 0.5).astype(np.intp)
        return [np.clip(index, 0, n - 1)], None, outside
    start = np.floor(c)
    t = c - start
    start = start.astype(np.intp)
    # Neighbours outside the image read the edge pixel: 'nearest' everywhere, 'reflect' for the
    # half pixel beyond each edge; other modes give them weight 0 there.
    return [np.clip(start, 0, n - 1), np.clip(start + 1, 0, n - 1)], [1.0 - t, t], outside


def _resample(planes, matrix, offset, order, fill_mode, cval):
    """Samples each 2D plane of `planes` (channels, A, B) at matrix @ (a, b) + offset."""
    _, size_a, size_b = planes.shape
    a, b = np.meshgrid(np.arange(size_a, dtype=np.float64), np.arange(size_b, dtype=np.float64), indexing="ij")
    coord_a = offset[0] + matrix[0, 0] * a + matrix[0, 1] * b
    coord_b = offset[1] + matrix[1, 0] * a + matrix[1, 1] * b
    index_a, weight_a, outside_a = _axis_samples(coord_a, size_a, fill_mode, order)
    index_b, weight_b, outside_b = _axis_samples(coord_b, size_b, fill_mode, order)
    source = planes.astype(np.float64, copy=False)
    if order == 0:
        out = source[:, index_a[0], index_b[0]]
    else:
        out = None
        for ia, wa in zip(index_a, weight_a):
            for ib, wb in zip(index_b, weight_b):
                term = source[:, ia, ib] * wa * wb
                out = term if out is None else out + term
    if fill_mode == "constant":
        out[:, outside_a | outside_b] = cval
    return out.astype(planes.dtype, copy=False)


def _resample_scipy(planes, matrix, offset, order, fill_mode, cval):
    try:
        from scipy import ndimage
    except ImportError:
        raise ImportError(f"Spline interpolation of order {order} needs scipy (`pip install scipy`); orders 0 and 1 "
                          "run without it.") from None
    return np.stack([ndimage.affine_transform(p, matrix, offset, order=order, mode=fill_mode, cval=cval)
                     for p in planes])


def apply_affine_transform(x, theta=0, tx=0, ty=0, shear=0, zx=1, zy=1, row_axis=1, col_axis=2, channel_axis=0,
                           fill_mode="nearest", cval=0.0, order=1):
    """Applies Keras's affine transform to one 3D image.

    The output pixel p = (row, col) is read from the input at R @ (S @ Z @ (p - m) + t) + m
    (rotation R, shear S, zoom Z, shift t). Keras 3 builds these in (x, y) = (col, row) order, so
    with rows before columns (both data formats) `tx` and `zx` act along the columns (width),
    `ty` and `zy` along the rows (height), and a positive `theta` turns the content
    counter-clockwise; its centre m is ((width - 1) / 2, (height - 1) / 2) in (row, col), the
    true centre for square images and a transposed one otherwise. pykeras computes exactly this,
    so results equal Keras's.

    Args:
        x: 3D array.
        theta: rotation angle in degrees.
        tx, ty: shifts in pixels (see above: tx along the width, ty along the height); without
            rotation the content moves by -t.
        shear: shear angle in degrees.
        zx, zy: zoom factors as input-coordinate scales (0.5 magnifies twice, 2 shrinks by two).
        row_axis, col_axis, channel_axis: the axes of x (channels first or last only).
        fill_mode: "constant", "nearest", "reflect" or "wrap" (see the module docstring).
        cval: the fill value of "constant".
        order: interpolation order (0 nearest, 1 linear; higher orders use scipy).

    Returns:
        The transformed image (same shape and dtype; x itself when there is nothing to do).
    """
    if np.unique([row_axis, col_axis, channel_axis]).size != 3:
        raise ValueError("'row_axis', 'col_axis', and 'channel_axis' must be distinct")
    actual = {row_axis, col_axis, channel_axis}
    if actual != {0, 1, 2}:
        raise ValueError(f"Invalid axis' indices: {actual - {0, 1, 2}}")
    if x.ndim != 3:
        raise ValueError("Input arrays must be multi-channel 2D images.")
    if channel_axis not in (0, 2):
        raise ValueError("Channels are allowed and the first and last dimensions.")
    if fill_mode not in FILL_MODES:
        raise ValueError(f"`fill_mode` should be one of {', '.join(FILL_MODES)}. Received: fill_mode={fill_mode}")

    matrix = None

    def compose(m):
        return m if matrix is None else matrix @ m

    if theta != 0:
        angle = np.deg2rad(theta)
        matrix = compose(np.array([[np.cos(angle), -np.sin(angle), 0], [np.sin(angle), np.cos(angle), 0],
                                   [0, 0, 1]]))
    if tx != 0 or ty != 0:
        matrix = compose(np.array([[1, 0, tx], [0, 1, ty], [0, 0, 1]]))
    if shear != 0:
        angle = np.deg2rad(shear)
        matrix = compose(np.array([[1, -np.sin(angle), 0], [0, np.cos(angle), 0], [0, 0, 1]]))
    if zx != 1 or zy != 1:
        matrix = compose(np.array([[zx, 0, 0], [0, zy, 0], [0, 0, 1]]))
    if matrix is None:
        return x

    h, w = x.shape[row_axis], x.shape[col_axis]
    matrix = transform_matrix_offset_center(matrix, h, w)
    planes = np.moveaxis(np.asarray(x), channel_axis, 0)
    if col_axis > row_axis:
        # Keras's matrix works on (x, y) = (col, row); the planes are (row, col).
        matrix[:, [0, 1]] = matrix[:, [1, 0]]
        matrix[[0, 1]] = matrix[[1, 0]]
    resample = _resample if order in (0, 1) else _resample_scipy
    out = resample(planes, matrix[:2, :2], matrix[:2, 2], order, fill_mode, cval)
    return np.moveaxis(out, 0, channel_axis)


def flip_axis(x, axis):
    """x reversed along `axis` (a copy)."""
    return np.flip(np.asarray(x), axis=axis).copy()


def apply_channel_shift(x, intensity, channel_axis=0):
    """Adds `intensity` to every channel, clipped to the image's original [min, max]."""
    x = np.asarray(x)
    return np.clip(x + intensity, np.min(x), np.max(x))


def random_channel_shift(x, intensity_range, channel_axis=0):
    intensity = np.random.uniform(-intensity_range, intensity_range)
    return apply_channel_shift(x, intensity, channel_axis=channel_axis)


def apply_brightness_shift(x, brightness, scale=True):
    """Multiplies the brightness by `brightness` through Pillow's ImageEnhance (as Keras).

    The image goes through an 8-bit PIL image: values outside [0, 255] are first rescaled to
    that range and, unless `scale`, mapped back afterwards.
    """
    _pil_image("apply_brightness_shift")
    from PIL import ImageEnhance

    x_min, x_max = np.min(x), np.max(x)
    local_scale = (x_min < 0) or (x_max > 255)
    img = array_to_img(x, scale=local_scale or scale)
    img = ImageEnhance.Brightness(img).enhance(brightness)
    out = img_to_array(img)
    if not scale and local_scale:
        out = out / 255 * (x_max - x_min) + x_min
    return out


def random_brightness(x, brightness_range, scale=True):
    if len(brightness_range) != 2:
        raise ValueError(f"`brightness_range should be tuple or list of two floats. Received: {brightness_range}")
    u = np.random.uniform(brightness_range[0], brightness_range[1])
    return apply_brightness_shift(x, u, scale)


def random_rotation(x, rg, row_axis=1, col_axis=2, channel_axis=0, fill_mode="nearest", cval=0.0,
                    interpolation_order=1):
    """Rotates by an angle drawn uniformly from [-rg, rg] degrees."""
    theta = np.random.uniform(-rg, rg)
    return apply_affine_transform(x, theta=theta, row_axis=row_axis, col_axis=col_axis, channel_axis=channel_axis,
                                  fill_mode=fill_mode, cval=cval, order=interpolation_order)


def random_shift(x, wrg, hrg, row_axis=1, col_axis=2, channel_axis=0, fill_mode="nearest", cval=0.0,
                 interpolation_order=1):
    """Shifts by fractions of the height and width drawn from [-hrg, hrg] and [-wrg, wrg]."""
    h, w = x.shape[row_axis], x.shape[col_axis]
    tx = np.random.uniform(-hrg, hrg) * h
    ty = np.random.uniform(-wrg, wrg) * w
    return apply_affine_transform(x, tx=tx, ty=ty, row_axis=row_axis, col_axis=col_axis, channel_axis=channel_axis,
                                  fill_mode=fill_mode, cval=cval, order=interpolation_order)


def random_shear(x, intensity, row_axis=1, col_axis=2, channel_axis=0, fill_mode="nearest", cval=0.0,
                 interpolation_order=1):
    """Shears by an angle drawn from [-intensity, intensity] degrees."""
    shear = np.random.uniform(-intensity, intensity)
    return apply_affine_transform(x, shear=shear, row_axis=row_axis, col_axis=col_axis, channel_axis=channel_axis,
                                  fill_mode=fill_mode, cval=cval, order=interpolation_order)


def random_zoom(x, zoom_range, row_axis=1, col_axis=2, channel_axis=0, fill_mode="nearest", cval=0.0,
                interpolation_order=1):
    """Zooms by factors (rows, columns) drawn from [zoom_range[0], zoom_range[1]]."""
    if len(zoom_range) != 2:
        raise ValueError(f"`zoom_range` should be a tuple or list of two floats. Received: {zoom_range}")
    if zoom_range[0] == 1 and zoom_range[1] == 1:
        zx, zy = 1, 1
    else:
        zx, zy = np.random.uniform(zoom_range[0], zoom_range[1], 2)
    return apply_affine_transform(x, zx=zx, zy=zy, row_axis=row_axis, col_axis=col_axis, channel_axis=channel_axis,
                                  fill_mode=fill_mode, cval=cval, order=interpolation_order)


# ---- iterators --------------------------------------------------------------------------------------


class Iterator(PyDataset):
    """Batches of `n` samples by index (a PyDataset for `fit`) or endlessly with `next()`.

    The sample order is a fresh permutation from numpy's global generator at every epoch when
    `shuffle`; with a `seed`, that generator is seeded with `seed + batches produced so far`
    before each batch, so a seeded iterator is reproducible (and equal to Keras's).
    """

    white_list_formats = WHITE_LIST_FORMATS

    def __init__(self, n, batch_size, shuffle, seed):
        super().__init__()
        self.n = n
        self.batch_size = batch_size
        self.seed = seed
        self.shuffle = shuffle
        self.batch_index = 0
        self.total_batches_seen = 0
        self.lock = threading.Lock()
        self.index_array = None
        self.index_generator = self._flow_index()

    def _set_index_array(self):
        self.index_array = np.random.permutation(self.n) if self.shuffle else np.arange(self.n)

    def __getitem__(self, idx):
        if idx >= len(self):
            raise ValueError(f"Asked to retrieve element {idx}, but the Sequence has length {len(self)}")
        if self.seed is not None:
            np.random.seed(self.seed + self.total_batches_seen)
        self.total_batches_seen += 1
        if self.index_array is None:
            self._set_index_array()
        index_array = self.index_array[self.batch_size * idx:self.batch_size * (idx + 1)]
        return self._get_batches_of_transformed_samples(index_array)

    def __len__(self):
        return (self.n + self.batch_size - 1) // self.batch_size

    def on_epoch_end(self):
        self._set_index_array()

    def reset(self):
        self.batch_index = 0

    def _flow_index(self):
        self.reset()
        while True:
            if self.seed is not None:
                np.random.seed(self.seed + self.total_batches_seen)
            if self.batch_index == 0:
                self._set_index_array()
            current = 0 if self.n == 0 else (self.batch_index * self.batch_size) % self.n
            if self.n > current + self.batch_size:
                self.batch_index += 1
            else:
                self.batch_index = 0
            self.total_batches_seen += 1
            yield self.index_array[current:current + self.batch_size]

    def __iter__(self):
        return self

    def __next__(self):
        with self.lock:
            index_array = next(self.index_generator)
        return self._get_batches_of_transformed_samples(index_array)

    next = __next__

    def _get_batches_of_transformed_samples(self, index_array):
        raise NotImplementedError


def _save_batch(batch_x, index_array, data_format, save_to_dir, save_prefix, save_format, hash_range):
    for i, j in enumerate(index_array):
        img = array_to_img(batch_x[i], data_format, scale=True)
        fname = f"{save_prefix}_{j}_{np.random.randint(hash_range)}.{save_format}"
        img.save(os.path.join(save_to_dir, fname))


class NumpyArrayIterator(Iterator):
    """Batches of augmented images from a rank-4 array `x` (and labels `y`, sample weights).

    `x` may also be a tuple/list `(images, extra)` where extra arrays (one or a list) are batched
    alongside without augmentation; the batch inputs are then `[images, *extra]`. `subset`
    ("training" / "validation") keeps the part after / before `validation_split` of the data.
    """

    def __init__(self, x, y, image_data_generator, batch_size=32, shuffle=False, sample_weight=None, seed=None,
                 data_format=None, save_to_dir=None, save_prefix="", save_format="png", subset=None,
                 ignore_class_split=False, dtype=None):
        data_format = K.standardize_data_format(data_format)
        self.dtype = dtype or K.floatx()
        if isinstance(x, (tuple, list)):
            x_misc = [np.asarray(x[1])] if not isinstance(x[1], list) else [np.asarray(xx) for xx in x[1]]
            x = x[0]
            for xx in x_misc:
                if len(x) != len(xx):
                    raise ValueError("All of the arrays in `x` should have the same length. Found a pair with: "
                                     f"len(x[0]) = {len(x)}, len(x[?]) = {len(xx)}")
        else:
            x_misc = []
        if y is not None and len(x) != len(y):
            raise ValueError("`x` (images tensor) and `y` (labels) should have the same length. Found: "
                             f"x.shape = {np.asarray(x).shape}, y.shape = {np.asarray(y).shape}")
        if sample_weight is not None and len(x) != len(sample_weight):
            raise ValueError("`x` (images tensor) and `sample_weight` should have the same length. Found: "
                             f"x.shape = {np.asarray(x).shape}, "
                             f"sample_weight.shape = {np.asarray(sample_weight).shape}")
        if subset is not None:
            if subset not in {"training", "validation"}:
                raise ValueError(f'Invalid subset name: {subset}; expected "training" or "validation".')
            split_idx = int(len(x) * image_data_generator._validation_split)
            if (y is not None and not ignore_class_split
                    and not np.array_equal(np.unique(y[:split_idx]), np.unique(y[split_idx:]))):
                raise ValueError("Training and validation subsets have different number of classes after the split. "
                                 "If your numpy arrays are sorted by the label, you might want to shuffle them.")
            part = slice(None, split_idx) if subset == "validation" else slice(split_idx, None)
            x = x[part]
            x_misc = [np.asarray(xx[part]) for xx in x_misc]
            if y is not None:
                y = y[part]
            if sample_weight is not None:
                sample_weight = sample_weight[part]
        self.x = np.asarray(x, dtype=self.dtype)
        self.x_misc = x_misc
        if self.x.ndim != 4:
            raise ValueError("Input data in `NumpyArrayIterator` should have rank 4. You passed an array with shape "
                             f"{self.x.shape}")
        channels_axis = 3 if data_format == "channels_last" else 1
        if self.x.shape[channels_axis] not in {1, 3, 4}:
            warnings.warn(f'NumpyArrayIterator is set to use the data format convention "{data_format}" (channels '
                          f"on axis {channels_axis}), i.e. expected either 1, 3, or 4 channels on axis "
                          f"{channels_axis}. However, it was passed an array with shape {self.x.shape} "
                          f"({self.x.shape[channels_axis]} channels).", stacklevel=2)
        self.y = np.asarray(y) if y is not None else None
        self.sample_weight = np.asarray(sample_weight) if sample_weight is not None else None
        self.image_data_generator = image_data_generator
        self.data_format = data_format
        self.save_to_dir = save_to_dir
        self.save_prefix = save_prefix
        self.save_format = save_format
        super().__init__(self.x.shape[0], batch_size, shuffle, seed)

    def _get_batches_of_transformed_samples(self, index_array):
        generator = self.image_data_generator
        batch_x = np.zeros((len(index_array),) + self.x.shape[1:], dtype=self.dtype)
        for i, j in enumerate(index_array):
            x = self.x[j]
            params = generator.get_random_transform(x.shape)
            x = generator.apply_transform(x.astype(self.dtype), params)
            batch_x[i] = generator.standardize(x)
        if self.save_to_dir:
            _save_batch(batch_x, index_array, self.data_format, self.save_to_dir, self.save_prefix,
                        self.save_format, int(1e4))
        batch_x_miscs = [xx[index_array] for xx in self.x_misc]
        inputs = batch_x if not batch_x_miscs else [batch_x] + batch_x_miscs
        if self.y is None:
            return inputs
        if self.sample_weight is not None:
            return inputs, self.y[index_array], self.sample_weight[index_array]
        return inputs, self.y[index_array]


def _iter_valid_files(directory, white_list_formats, follow_links):
    """(root, file name) of the image files under `directory`, walked in sorted order."""
    for root, _, files in sorted(os.walk(directory, followlinks=follow_links), key=lambda entry: entry[0]):
        for fname in sorted(files):
            if fname.lower().endswith(".tiff"):
                warnings.warn('Using ".tiff" files with multiple bands will cause distortion. Please verify your '
                              "output.", stacklevel=4)
            if fname.lower().endswith(white_list_formats):
                yield root, fname


def _list_valid_filenames_in_directory(directory, white_list_formats, split, class_indices, follow_links):
    """(class indices, paths relative to the parent of `directory`) of one class directory;
    `split` = (start, stop) fractions keeps that part of the sorted file list."""
    dirname = os.path.basename(directory)
    files = list(_iter_valid_files(directory, white_list_formats, follow_links))
    if split:
        start, stop = int(split[0] * len(files)), int(split[1] * len(files))
        files = files[start:stop]
    classes, filenames = [], []
    for root, fname in files:
        classes.append(class_indices[dirname])
        filenames.append(os.path.join(dirname, os.path.relpath(os.path.join(root, fname), directory)))
    return classes, filenames


class DirectoryIterator(Iterator):
    """Batches of augmented images read from `directory/<class>/...` image files.

    Classes are the sub-directories (sorted) unless `classes` lists them; labels follow
    `class_mode`: "categorical" (one-hot), "binary" / "sparse" (the class index), "input" (the
    images themselves, for autoencoders) or None (images only).
    """

    allowed_class_modes = {"categorical", "binary", "sparse", "input", None}

    def __init__(self, directory, image_data_generator, target_size=(256, 256), color_mode="rgb", classes=None,
                 class_mode="categorical", batch_size=32, shuffle=True, seed=None, data_format=None,
                 save_to_dir=None, save_prefix="", save_format="png", follow_links=False, subset=None,
                 interpolation="nearest", keep_aspect_ratio=False, dtype=None):
        data_format = K.standardize_data_format(data_format)
        self.dtype = dtype or K.floatx()
        self.image_data_generator = image_data_generator
        self.target_size = tuple(target_size)
        self.keep_aspect_ratio = keep_aspect_ratio
        if color_mode not in {"rgb", "rgba", "grayscale"}:
            raise ValueError(f'Invalid color mode: {color_mode}; expected "rgb", "rgba", or "grayscale".')
        self.color_mode = color_mode
        self.data_format = data_format
        channels = {"rgba": 4, "rgb": 3, "grayscale": 1}[color_mode]
        self.image_shape = (self.target_size + (channels,) if data_format == "channels_last"
                            else (channels,) + self.target_size)
        self.save_to_dir = save_to_dir
        self.save_prefix = save_prefix
        self.save_format = save_format
        self.interpolation = interpolation
        if subset is not None:
            validation_split = image_data_generator._validation_split
            if subset == "validation":
                split = (0, validation_split)
            elif subset == "training":
                split = (validation_split, 1)
            else:
                raise ValueError(f'Invalid subset name: {subset};expected "training" or "validation"')
        else:
            split = None
        self.split = split
        self.subset = subset
        if class_mode not in self.allowed_class_modes:
            raise ValueError(f"Invalid class_mode: {class_mode}; expected one of: {self.allowed_class_modes}")
        self.class_mode = class_mode
        self.directory = directory
        if not os.path.isdir(directory):
            raise FileNotFoundError(f"flow_from_directory: {directory} is not a directory")
        if not classes:
            classes = [d for d in sorted(os.listdir(directory)) if os.path.isdir(os.path.join(directory, d))]
        self.num_classes = len(classes)
        self.class_indices = dict(zip(classes, range(len(classes))))
        labels, self.filenames = [], []
        for subdir in classes:
            found_classes, found_files = _list_valid_filenames_in_directory(
                os.path.join(directory, subdir), self.white_list_formats, self.split, self.class_indices,
                follow_links)
            labels.extend(found_classes)
            self.filenames.extend(found_files)
        self.samples = len(self.filenames)
        self.classes = np.asarray(labels, dtype="int32").reshape(self.samples)
        print(f"Found {self.samples} images belonging to {self.num_classes} classes.")
        self._filepaths = [os.path.join(self.directory, fname) for fname in self.filenames]
        super().__init__(self.samples, batch_size, shuffle, seed)

    @property
    def filepaths(self):
        return self._filepaths

    @property
    def labels(self):
        return self.classes

    @property
    def sample_weight(self):
        return None

    def _get_batches_of_transformed_samples(self, index_array):
        batch_x = np.zeros((len(index_array),) + self.image_shape, dtype=self.dtype)
        generator = self.image_data_generator
        for i, j in enumerate(index_array):
            img = load_img(self._filepaths[j], color_mode=self.color_mode, target_size=self.target_size,
                           interpolation=self.interpolation, keep_aspect_ratio=self.keep_aspect_ratio)
            x = img_to_array(img, data_format=self.data_format)
            img.close()
            if generator:
                params = generator.get_random_transform(x.shape)
                x = generator.apply_transform(x, params)
                x = generator.standardize(x)
            batch_x[i] = x
        if self.save_to_dir:
            _save_batch(batch_x, index_array, self.data_format, self.save_to_dir, self.save_prefix,
                        self.save_format, int(1e7))
        if self.class_mode == "input":
            return batch_x, batch_x.copy()
        if self.class_mode in {"binary", "sparse"}:
            return batch_x, self.classes[index_array].astype(self.dtype)
        if self.class_mode == "categorical":
            batch_y = np.zeros((len(batch_x), len(self.class_indices)), dtype=self.dtype)
            batch_y[np.arange(len(batch_x)), self.classes[index_array]] = 1.0
            return batch_x, batch_y
        return batch_x


# ---- ImageDataGenerator ------------------------------------------------------------------------------


class ImageDataGenerator:
    """Generates batches of images with real-time augmentation (Keras's ImageDataGenerator).

    Args:
        featurewise_center: subtract the dataset mean per channel (computed by `fit`).
        samplewise_center: subtract each image's mean.
        featurewise_std_normalization: divide by the dataset std per channel (from `fit`).
        samplewise_std_normalization: divide each image by its std.
        zca_whitening: apply the ZCA whitening matrix computed by `fit`.
        zca_epsilon: epsilon of the ZCA whitening (default 1e-6).
        rotation_range: degrees; random rotations in [-rotation_range, rotation_range].
        width_shift_range, height_shift_range: float < 1: fraction of the width/height; float >= 1
            or int: pixels; uniform in [-range, range] (floats) or drawn from {-k, ..., k} (int:
            integers in [0, range) with a random sign) or from a given list of values. As in
            Keras 3 (keras-team/keras#17398), the height shift is applied along the width and the
            width shift along the height (`tx`/`ty` of apply_affine_transform); pykeras keeps
            this so that seeded augmentations equal Keras's.
        brightness_range: (low, high) brightness factors (needs Pillow).
        shear_range: shear angle in degrees (counter-clockwise).
        zoom_range: float z ([1 - z, 1 + z]) or [low, high].
        channel_shift_range: random shifts of the channel values in [-range, range].
        fill_mode: "constant", "nearest" (default), "reflect" or "wrap" (see the module docstring).
        cval: fill value of "constant".
        horizontal_flip, vertical_flip: random flips.
        rescale: factor multiplied into the data before any other processing (None or 0: none).
        preprocessing_function: function applied to each image (3D array) before everything else
            in `standardize` (after the augmentation).
        data_format: "channels_last" (default: the global setting) or "channels_first".
        validation_split: fraction of the data reserved for validation (strictly in (0, 1)).
        interpolation_order: spline order of the affine resampling (1: linear).
        dtype: dtype of the generated arrays (default floatx).
    """

    def __init__(self, featurewise_center=False, samplewise_center=False, featurewise_std_normalization=False,
                 samplewise_std_normalization=False, zca_whitening=False, zca_epsilon=1e-6, rotation_range=0,
                 width_shift_range=0.0, height_shift_range=0.0, brightness_range=None, shear_range=0.0,
                 zoom_range=0.0, channel_shift_range=0.0, fill_mode="nearest", cval=0.0, horizontal_flip=False,
                 vertical_flip=False, rescale=None, preprocessing_function=None, data_format=None,
                 validation_split=0.0, interpolation_order=1, dtype=None):
        if data_format is None:
            data_format = K.image_data_format()
        self.featurewise_center = featurewise_center
        self.samplewise_center = samplewise_center
        self.featurewise_std_normalization = featurewise_std_normalization
        self.samplewise_std_normalization = samplewise_std_normalization
        self.zca_whitening = zca_whitening
        self.zca_epsilon = zca_epsilon
        self.rotation_range = rotation_range
        self.width_shift_range = width_shift_range
        self.height_shift_range = height_shift_range
        self.shear_range = shear_range
        self.zoom_range = zoom_range
        self.channel_shift_range = channel_shift_range
        if fill_mode not in FILL_MODES:
            raise ValueError(f"`fill_mode` should be one of {', '.join(FILL_MODES)}. Received: fill_mode={fill_mode}")
        self.fill_mode = fill_mode
        self.cval = cval
        self.horizontal_flip = horizontal_flip
        self.vertical_flip = vertical_flip
        self.rescale = rescale
        self.preprocessing_function = preprocessing_function
        self.dtype = dtype or K.floatx()
        self.interpolation_order = interpolation_order
        if data_format not in {"channels_last", "channels_first"}:
            raise ValueError('`data_format` should be `"channels_last"` (channel after row and column) or '
                             f'`"channels_first"` (channel before row and column). Received: {data_format}')
        self.data_format = data_format
        if data_format == "channels_first":
            self.channel_axis, self.row_axis, self.col_axis = 1, 2, 3
        else:
            self.channel_axis, self.row_axis, self.col_axis = 3, 1, 2
        if validation_split and not 0 < validation_split < 1:
            raise ValueError(f"`validation_split` must be strictly between 0 and 1.  Received: {validation_split}")
        self._validation_split = validation_split
        self.mean = None
        self.std = None
        self.zca_whitening_matrix = None

        if isinstance(zoom_range, (float, int)):
            self.zoom_range = [1 - zoom_range, 1 + zoom_range]
        elif len(zoom_range) == 2 and all(isinstance(v, (float, int)) for v in zoom_range):
            self.zoom_range = [zoom_range[0], zoom_range[1]]
        else:
            raise ValueError(f"`zoom_range` should be a float or a tuple or list of two floats. Received: {zoom_range}")
        if zca_whitening:
            if not featurewise_center:
                self.featurewise_center = True
                warnings.warn("This ImageDataGenerator specifies `zca_whitening`, which overrides setting of "
                              "`featurewise_center`.", stacklevel=2)
            if featurewise_std_normalization:
                self.featurewise_std_normalization = False
                warnings.warn("This ImageDataGenerator specifies `zca_whitening` which overrides setting of"
                              "`featurewise_std_normalization`.", stacklevel=2)
        if featurewise_std_normalization and not featurewise_center:
            self.featurewise_center = True
            warnings.warn("This ImageDataGenerator specifies `featurewise_std_normalization`, which overrides "
                          "setting of `featurewise_center`.", stacklevel=2)
        if samplewise_std_normalization and not samplewise_center:
            self.samplewise_center = True
            warnings.warn("This ImageDataGenerator specifies `samplewise_std_normalization`, which overrides "
                          "setting of `samplewise_center`.", stacklevel=2)
        if brightness_range is not None:
            if not isinstance(brightness_range, (tuple, list)) or len(brightness_range) != 2:
                raise ValueError(f"`brightness_range should be tuple or list of two floats. Received: "
                                 f"{brightness_range}")
        self.brightness_range = brightness_range

    # ---- iterators

    def flow(self, x, y=None, batch_size=32, shuffle=True, sample_weight=None, seed=None, save_to_dir=None,
             save_prefix="", save_format="png", ignore_class_split=False, subset=None):
        """A NumpyArrayIterator over arrays: batches `(x, y)` (or `x` alone, or with sample weights),
        augmented and standardized; usable directly as `model.fit(generator.flow(x, y))`."""
        return NumpyArrayIterator(x, y, self, batch_size=batch_size, shuffle=shuffle, sample_weight=sample_weight,
                                  seed=seed, data_format=self.data_format, save_to_dir=save_to_dir,
                                  save_prefix=save_prefix, save_format=save_format,
                                  ignore_class_split=ignore_class_split, subset=subset, dtype=self.dtype)

    def flow_from_directory(self, directory, target_size=(256, 256), color_mode="rgb", classes=None,
                            class_mode="categorical", batch_size=32, shuffle=True, seed=None, save_to_dir=None,
                            save_prefix="", save_format="png", follow_links=False, subset=None,
                            interpolation="nearest", keep_aspect_ratio=False):
        """A DirectoryIterator over `directory/<class>/<image files>` (png, jpg, bmp, ppm, tif)."""
        return DirectoryIterator(directory, self, target_size=target_size, color_mode=color_mode,
                                 keep_aspect_ratio=keep_aspect_ratio, classes=classes, class_mode=class_mode,
                                 data_format=self.data_format, batch_size=batch_size, shuffle=shuffle, seed=seed,
                                 save_to_dir=save_to_dir, save_prefix=save_prefix, save_format=save_format,
                                 follow_links=follow_links, subset=subset, interpolation=interpolation,
                                 dtype=self.dtype)

    def flow_from_dataframe(self, dataframe, *args, **kwargs):
        raise NotImplementedError("flow_from_dataframe (pandas DataFrames) is not supported by pykeras; use "
                                  "flow_from_directory or flow on arrays loaded with load_img/img_to_array.")

    # ---- per-image processing

    def standardize(self, x):
        """Applies the normalization configuration (in place where possible) to a batch or image:
        preprocessing_function, rescale, sample-wise then feature-wise centering/normalization, ZCA."""
        if self.preprocessing_function:
            x = self.preprocessing_function(x)
        if self.rescale:
            x *= self.rescale
        if self.samplewise_center:
            x -= np.mean(x, keepdims=True)
        if self.samplewise_std_normalization:
            x /= np.std(x, keepdims=True) + STD_EPSILON
        if self.featurewise_center:
            if self.mean is not None:
                x -= self.mean
            else:
                warnings.warn("This ImageDataGenerator specifies `featurewise_center`, but it hasn't been fit on any "
                              "training data. Fit it first by calling `.fit(numpy_data)`.", stacklevel=2)
        if self.featurewise_std_normalization:
            if self.std is not None:
                x /= self.std + STD_EPSILON
            else:
                warnings.warn("This ImageDataGenerator specifies `featurewise_std_normalization`, but it hasn't been "
                              "fit on any training data. Fit it first by calling `.fit(numpy_data)`.", stacklevel=2)
        if self.zca_whitening:
            if self.zca_whitening_matrix is not None:
                flat_x = x.reshape(-1, math.prod(x.shape[-3:]))
                x = np.reshape(flat_x @ self.zca_whitening_matrix, x.shape)
            else:
                warnings.warn("This ImageDataGenerator specifies `zca_whitening`, but it hasn't been fit on any "
                              "training data. Fit it first by calling `.fit(numpy_data)`.", stacklevel=2)
        return x

    @staticmethod
    def _random_shift(shift_range, size):
        """One shift in pixels: an int or list range picks a value (with a random sign for an int),
        a float range draws uniformly; ranges below 1 are fractions of `size`."""
        try:
            shift = np.random.choice(shift_range)
            shift *= np.random.choice([-1, 1])
        except ValueError:  # a float range
            shift = np.random.uniform(-shift_range, shift_range)
        if np.max(shift_range) < 1:
            shift *= size
        return shift

    def get_random_transform(self, img_shape, seed=None):
        """A dict of random transform parameters for one image of shape `img_shape`:
        theta, tx, ty, shear, zx, zy, flip_horizontal, flip_vertical, channel_shift_intensity,
        brightness (drawn from numpy's global generator, seeded first with `seed` if given)."""
        img_row_axis, img_col_axis = self.row_axis - 1, self.col_axis - 1
        if seed is not None:
            np.random.seed(seed)
        theta = np.random.uniform(-self.rotation_range, self.rotation_range) if self.rotation_range else 0
        tx = self._random_shift(self.height_shift_range, img_shape[img_row_axis]) if self.height_shift_range else 0
        ty = self._random_shift(self.width_shift_range, img_shape[img_col_axis]) if self.width_shift_range else 0
        shear = np.random.uniform(-self.shear_range, self.shear_range) if self.shear_range else 0
        if self.zoom_range[0] == 1 and self.zoom_range[1] == 1:
            zx, zy = 1, 1
        else:
            zx, zy = np.random.uniform(self.zoom_range[0], self.zoom_range[1], 2)
        flip_horizontal = (np.random.random() < 0.5) * self.horizontal_flip
        flip_vertical = (np.random.random() < 0.5) * self.vertical_flip
        channel_shift_intensity = None
        if self.channel_shift_range != 0:
            channel_shift_intensity = np.random.uniform(-self.channel_shift_range, self.channel_shift_range)
        brightness = None
        if self.brightness_range is not None:
            brightness = np.random.uniform(self.brightness_range[0], self.brightness_range[1])
        return {"theta": theta, "tx": tx, "ty": ty, "shear": shear, "zx": zx, "zy": zy,
                "flip_horizontal": flip_horizontal, "flip_vertical": flip_vertical,
                "channel_shift_intensity": channel_shift_intensity, "brightness": brightness}

    def apply_transform(self, x, transform_parameters):
        """Applies the transform described by a `get_random_transform` dict to one 3D image:
        affine map, channel shift, flips, brightness (in that order, as Keras)."""
        img_row_axis, img_col_axis, img_channel_axis = self.row_axis - 1, self.col_axis - 1, self.channel_axis - 1
        p = transform_parameters
        x = apply_affine_transform(x, p.get("theta", 0), p.get("tx", 0), p.get("ty", 0), p.get("shear", 0),
                                   p.get("zx", 1), p.get("zy", 1), row_axis=img_row_axis, col_axis=img_col_axis,
                                   channel_axis=img_channel_axis, fill_mode=self.fill_mode, cval=self.cval,
                                   order=self.interpolation_order)
        if p.get("channel_shift_intensity") is not None:
            x = apply_channel_shift(x, p["channel_shift_intensity"], img_channel_axis)
        if p.get("flip_horizontal", False):
            x = flip_axis(x, img_col_axis)
        if p.get("flip_vertical", False):
            x = flip_axis(x, img_row_axis)
        if p.get("brightness") is not None:
            x = apply_brightness_shift(x, p["brightness"], False)
        return x

    def random_transform(self, x, seed=None):
        """One randomly augmented copy of a 3D image."""
        return self.apply_transform(x, self.get_random_transform(x.shape, seed))

    def fit(self, x, augment=False, rounds=1, seed=None):
        """Computes the dataset statistics the feature-wise options need (mean, std, ZCA matrix).

        Args:
            x: rank-4 sample data.
            augment: also fit on `rounds` randomly augmented copies of the data.
            rounds: number of augmentation passes when `augment`.
            seed: seed of numpy's global generator for the augmentation.
        """
        x = np.asarray(x, dtype=self.dtype)
        if x.ndim != 4:
            raise ValueError(f"Input to `.fit()` should have rank 4. Got array with shape: {x.shape}")
        if x.shape[self.channel_axis] not in {1, 3, 4}:
            warnings.warn("Expected input to be images (as Numpy array) following the data format convention "
                          f'"{self.data_format}" (channels on axis {self.channel_axis}), i.e. expected either 1, 3 '
                          f"or 4 channels on axis {self.channel_axis}. However, it was passed an array with shape "
                          f"{x.shape} ({x.shape[self.channel_axis]} channels).", stacklevel=2)
        if seed is not None:
            np.random.seed(seed)
        x = np.copy(x)
        if self.rescale:
            x *= self.rescale
        if augment:
            ax = np.zeros((rounds * x.shape[0],) + x.shape[1:], dtype=self.dtype)
            for r in range(rounds):
                for i in range(x.shape[0]):
                    ax[i + r * x.shape[0]] = self.random_transform(x[i])
            x = ax
        broadcast_shape = [1, 1, 1]
        broadcast_shape[self.channel_axis - 1] = x.shape[self.channel_axis]
        if self.featurewise_center:
            self.mean = np.reshape(np.mean(x, axis=(0, self.row_axis, self.col_axis)), broadcast_shape)
            x -= self.mean
        if self.featurewise_std_normalization:
            self.std = np.reshape(np.std(x, axis=(0, self.row_axis, self.col_axis)), broadcast_shape)
            x /= self.std + STD_EPSILON
        if self.zca_whitening:
            n = len(x)
            flat_x = np.reshape(x, (n, -1))
            u, s, _ = np.linalg.svd(flat_x.T, full_matrices=False)
            s_inv = np.sqrt(n) / (s + self.zca_epsilon)
            self.zca_whitening_matrix = (u * s_inv).dot(u.T)

"""keras.ops.image: resizing of (batch, height, width, channels) images."""
from pykeras.backend import array_ops as _A


def resize(images, size, interpolation="bilinear", antialias=False, crop_to_aspect_ratio=False, pad_to_aspect_ratio=False,
           fill_mode="constant", fill_value=0.0, data_format=None):
    """Resizes images to `size` (height, width) with 'nearest' or 'bilinear' interpolation."""
    if antialias or crop_to_aspect_ratio or pad_to_aspect_ratio:
        raise NotImplementedError("resize: antialias, crop_to_aspect_ratio and pad_to_aspect_ratio are not supported")
    return _A.resize(images, size, interpolation, data_format)


from pykeras.backend.common import symbolic_aware as _symbolic_aware  # noqa: E402

resize = _symbolic_aware(resize)

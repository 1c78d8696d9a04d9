"""Label encoding and normalization on numpy arrays (Keras's `keras.utils` helpers)."""
import numpy as np


def to_categorical(x, num_classes=None, dtype="float32"):
    """Converts a class vector (integers) to a one-hot matrix.

    Args:
        x: array-like of class indices from 0 to `num_classes - 1`. A trailing axis of size 1
            is dropped, as in Keras (labels of shape (n, 1) give (n, num_classes)).
        num_classes: total number of classes; defaults to `max(x) + 1`.
        dtype: dtype of the result (float32, the default float type of pykeras).

    Returns:
        A numpy array of shape `x.shape + (num_classes,)`.
    """
    x = np.asarray(x)
    if x.size and not np.all(np.equal(np.mod(x, 1), 0)):
        raise ValueError(f"to_categorical expects integer class indices, got values such as {x.flat[0]!r}")
    x = x.astype("int64")
    shape = x.shape
    if len(shape) > 1 and shape[-1] == 1:
        shape = shape[:-1]
    flat = x.reshape(-1)
    if num_classes is None:
        num_classes = int(flat.max()) + 1 if flat.size else 0
    num_classes = int(num_classes)
    if flat.size and (flat.min() < 0 or flat.max() >= num_classes):
        raise ValueError(
            f"to_categorical: class indices must lie in [0, {num_classes - 1}] for num_classes={num_classes}, "
            f"got values from {flat.min()} to {flat.max()}"
        )
    out = np.zeros((flat.size, num_classes), dtype=dtype)
    out[np.arange(flat.size), flat] = 1
    return out.reshape(shape + (num_classes,))


def normalize(x, axis=-1, order=2):
    """Divides `x` by its `order`-norm along `axis` (zero vectors are left unchanged)."""
    x = np.asarray(x)
    norm = np.atleast_1d(np.linalg.norm(x, order, axis))
    norm[norm == 0] = 1
    return x / np.expand_dims(norm, axis)

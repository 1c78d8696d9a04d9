"""Keras utilities: label encoding, data sequences, seeding, the progress bar and get_file."""
from pykeras.utils.file_utils import get_file
from pykeras.utils.numerical_utils import normalize, to_categorical
from pykeras.utils.progbar import Progbar
from pykeras.utils.py_dataset import PyDataset, Sequence
from pykeras.utils.rng_utils import set_random_seed

__all__ = ["get_file", "to_categorical", "normalize", "Progbar", "PyDataset", "Sequence", "set_random_seed"]

# Keras 3 exposes the image file helpers under keras.utils too (they need Pillow when called).
from pykeras.preprocessing.image import array_to_img, img_to_array, load_img, save_img  # noqa: E402

__all__ += ["array_to_img", "img_to_array", "load_img", "save_img"]

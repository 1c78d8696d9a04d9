"""Keras utilities: label encoding, data sequences, seeding and the progress bar."""
from pykeras.utils.numerical_utils import normalize, to_categorical
from pykeras.utils.progbar import Progbar
from pykeras.utils.py_dataset import PyDataset, Sequence
from pykeras.utils.rng_utils import set_random_seed

__all__ = ["to_categorical", "normalize", "Progbar", "PyDataset", "Sequence", "set_random_seed"]

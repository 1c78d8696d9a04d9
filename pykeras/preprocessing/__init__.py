"""Keras's preprocessing utilities: `pykeras.preprocessing.image` (ImageDataGenerator, load_img,
img_to_array, array_to_img, save_img and the augmentation functions)."""
from pykeras.preprocessing import image

__all__ = ["image"]

"""VGG19, layer for layer as keras.applications builds it: VGG16's design (see vgg16.py) with
four convolutions in blocks 3, 4 and 5 (block3_conv4, block4_conv4, block5_conv4)."""
from pykeras.applications import imagenet_utils
from pykeras.applications.vgg16 import _doc, build_vgg


def VGG19(include_top=True, weights="imagenet", input_tensor=None, input_shape=None, pooling=None, classes=1000,
          classifier_activation="softmax", name="vgg19"):
    return build_vgg((2, 2, 4, 4, 4), "vgg19", include_top, weights, input_tensor, input_shape, pooling, classes,
                     classifier_activation, name)


VGG19.__doc__ = _doc("VGG19")


def preprocess_input(x, data_format=None):
    """VGG preprocessing: RGB -> BGR, then each channel minus its ImageNet mean (no scaling)."""
    return imagenet_utils.preprocess_input(x, data_format=data_format, mode="caffe")


# The ImageNet class names of the top predictions (pykeras.applications.imagenet_utils).
decode_predictions = imagenet_utils.decode_predictions

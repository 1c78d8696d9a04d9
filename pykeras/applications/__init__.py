"""Keras Applications: ImageNet architectures with Keras's exact layers, names and weights layout.

    from pykeras.applications import ResNet50
    from pykeras.applications.resnet50 import preprocess_input, decode_predictions
    base = ResNet50(include_top=False, weights=None, input_shape=(96, 96, 3), pooling="avg")

Each family module (xception, vgg16, vgg19, resnet / resnet50, inception_v3, mobilenet) has the
model function(s) with Keras's arguments and defaults, `preprocess_input` and
`decode_predictions`. Built with `weights=None`, a model has the same layers (names, order,
shapes, parameter counts) as keras.applications, so weight files written by Keras load here and
the other way round. `weights="imagenet"` loads Keras's published file from the Keras cache
(~/.keras/models/), downloading it there first when it is missing (see imagenet_utils). `optimize_for_inference(model)` (a pykeras extension, see inference.py)
folds BatchNormalization, activations and zero padding into the convolutions for prediction.
"""
from pykeras.applications import imagenet_utils, inception_v3, mobilenet, resnet, resnet50, vgg16, vgg19, xception
from pykeras.applications.inference import optimize_for_inference
from pykeras.applications.inception_v3 import InceptionV3
from pykeras.applications.mobilenet import MobileNet
from pykeras.applications.resnet import ResNet50, ResNet101, ResNet152
from pykeras.applications.vgg16 import VGG16
from pykeras.applications.vgg19 import VGG19
from pykeras.applications.xception import Xception

__all__ = ["InceptionV3", "MobileNet", "ResNet50", "ResNet101", "ResNet152", "VGG16", "VGG19", "Xception",
           "optimize_for_inference", "imagenet_utils", "inception_v3", "mobilenet", "resnet", "resnet50", "vgg16",
           "vgg19", "xception"]

"""VGG16 (Simonyan & Zisserman, "Very Deep Convolutional Networks for Large-Scale Image
Recognition", ICLR 2015), layer for layer as keras.applications builds it.

Five blocks of 3x3 'same' convolutions with ReLU (64, 128, 256, 512, 512 filters; 2, 2, 3, 3, 3
convolutions per block for VGG16, 2, 2, 4, 4, 4 for VGG19), each closed by a 2x2/2 max pooling;
the top is Flatten -> fc1 (4096, ReLU) -> fc2 (4096, ReLU) -> predictions. Layer names are Keras's
(block1_conv1, ..., block5_pool, flatten, fc1, fc2, predictions). `build_vgg` is shared with vgg19.
"""
from pykeras import backend as K
from pykeras import layers
from pykeras.applications import imagenet_utils

BASE_WEIGHTS_PATH = "https://storage.googleapis.com/tensorflow/keras-applications/"
# Keras's md5 checksums of the ImageNet files: (with top, without top).
WEIGHTS_HASHES = {
    "vgg16": ("64373286793e3c8b2b4e3219cbf3544b", "6d6bbae143d832006294945121d1f1fc"),
    "vgg19": ("cbe5617147190e668d6c5d5026f83318", "253f8cb515780f3b799900260a226db6"),
}
FILTERS = (64, 128, 256, 512, 512)


def build_vgg(convs_per_block, weights_name, include_top, weights, input_tensor, input_shape, pooling, classes,
              classifier_activation, name):
    """A VGG network with `convs_per_block[i]` convolutions in block i + 1."""
    imagenet_utils.check_weights_argument(weights, include_top, classes)
    input_shape = imagenet_utils.obtain_input_shape(input_shape, default_size=224, min_size=32,
                                                    data_format=K.image_data_format(), require_flatten=include_top,
                                                    weights=weights)
    if include_top:
        imagenet_utils.validate_activation(classifier_activation, weights)
    suffix = "" if include_top else "_notop"
    file_name = f"{weights_name}_weights_tf_dim_ordering_tf_kernels{suffix}.h5"
    path = imagenet_utils.weights_path(weights, file_name, f"{BASE_WEIGHTS_PATH}{weights_name}/{file_name}",
                                       WEIGHTS_HASHES[weights_name][0 if include_top else 1], model_label=weights_name)
    img_input = imagenet_utils.image_input(input_tensor, input_shape)
    x = img_input
    for block, (filters, convs) in enumerate(zip(FILTERS, convs_per_block), start=1):
        for i in range(1, convs + 1):
            x = layers.Conv2D(filters, (3, 3), activation="relu", padding="same", name=f"block{block}_conv{i}")(x)
        x = layers.MaxPooling2D((2, 2), strides=(2, 2), name=f"block{block}_pool")(x)

    if include_top:
        x = layers.Flatten(name="flatten")(x)
        x = layers.Dense(4096, activation="relu", name="fc1")(x)
        x = layers.Dense(4096, activation="relu", name="fc2")(x)
        x = layers.Dense(classes, activation=classifier_activation, name="predictions")(x)
    else:
        x = imagenet_utils.pooled(x, include_top, pooling)
    return imagenet_utils.finish_model(input_tensor, img_input, x, name, path)


def _doc(name):
    return imagenet_utils.model_doc(f"Instantiates the {name} model (Keras's keras.applications.{name}).", 224, 32,
                                    "preprocess_input", "caffe", top="the 3 fully-connected layers at the top")


def VGG16(include_top=True, weights="imagenet", input_tensor=None, input_shape=None, pooling=None, classes=1000,
          classifier_activation="softmax", name="vgg16"):
    return build_vgg((2, 2, 3, 3, 3), "vgg16", include_top, weights, input_tensor, input_shape, pooling, classes,
                     classifier_activation, name)


VGG16.__doc__ = _doc("VGG16")


def preprocess_input(x, data_format=None):
    """VGG preprocessing: RGB -> BGR, then each channel minus its ImageNet mean (no scaling)."""
    return imagenet_utils.preprocess_input(x, data_format=data_format, mode="caffe")


# The ImageNet class names of the top predictions (pykeras.applications.imagenet_utils).
decode_predictions = imagenet_utils.decode_predictions

"""Xception (Chollet, "Xception: Deep Learning with Depthwise Separable Convolutions", CVPR 2017),
layer for layer as keras.applications builds it.

Entry flow: two plain 3x3 convolutions (32/2, 64), then three blocks (128, 256, 728 filters) of
two separable 3x3 convolutions and a 3x3/2 max pooling, each added to a strided 1x1 projection of
the block input. Middle flow: eight residual blocks of three ReLU -> separable conv (728) -> BN.
Exit flow: one more projected block (728 -> 1024), then separable convolutions of 1536 and 2048
filters, global average pooling and the classifier. No convolution has a bias; BatchNormalization
keeps Keras's defaults. The projection shortcuts and the additions are unnamed in Keras, so they
get the default names (conv2d, batch_normalization, add, conv2d_1, ...) in Keras's creation order.
"""
from pykeras import backend as K
from pykeras import layers
from pykeras.applications import imagenet_utils

WEIGHTS_PATH = ("https://storage.googleapis.com/tensorflow/keras-applications/xception/"
                "xception_weights_tf_dim_ordering_tf_kernels.h5")
WEIGHTS_PATH_NO_TOP = ("https://storage.googleapis.com/tensorflow/keras-applications/xception/"
                       "xception_weights_tf_dim_ordering_tf_kernels_notop.h5")
# Keras's md5 checksums of the ImageNet files.
WEIGHTS_HASH = "0a58e3b7378bc2990ea3b43d5981f1f6"
WEIGHTS_HASH_NO_TOP = "b0042744bf5b25fce3cb969f33bebb97"


def _channel_axis():
    return 1 if K.image_data_format() == "channels_first" else -1


def _sepconv_bn(x, filters, name):
    x = layers.SeparableConv2D(filters, (3, 3), padding="same", use_bias=False, name=name)(x)
    return layers.BatchNormalization(axis=_channel_axis(), name=f"{name}_bn")(x)


def _projection(x, filters):
    """The strided 1x1 shortcut of a downsampling block (unnamed in Keras)."""
    residual = layers.Conv2D(filters, (1, 1), strides=(2, 2), padding="same", use_bias=False)(x)
    return layers.BatchNormalization(axis=_channel_axis())(residual)


def _downsampling_block(x, filters_in, filters_out, block, relu_first=True):
    """[ReLU] -> sepconv1 -> ReLU -> sepconv2 -> max pool 3x3/2, plus the projected input."""
    residual = _projection(x, filters_out)
    if relu_first:
        x = layers.Activation("relu", name=f"block{block}_sepconv1_act")(x)
    x = _sepconv_bn(x, filters_in, f"block{block}_sepconv1")
    x = layers.Activation("relu", name=f"block{block}_sepconv2_act")(x)
    x = _sepconv_bn(x, filters_out, f"block{block}_sepconv2")
    x = layers.MaxPooling2D((3, 3), strides=(2, 2), padding="same", name=f"block{block}_pool")(x)
    return layers.add([x, residual])


def Xception(include_top=True, weights="imagenet", input_tensor=None, input_shape=None, pooling=None, classes=1000,
             classifier_activation="softmax", name="xception"):
    imagenet_utils.check_weights_argument(weights, include_top, classes)
    input_shape = imagenet_utils.obtain_input_shape(input_shape, default_size=299, min_size=71,
                                                    data_format=K.image_data_format(), require_flatten=include_top,
                                                    weights=weights)
    if include_top:
        imagenet_utils.validate_activation(classifier_activation, weights)
        file_name, url, file_hash = "xception_weights_tf_dim_ordering_tf_kernels.h5", WEIGHTS_PATH, WEIGHTS_HASH
    else:
        file_name, url, file_hash = ("xception_weights_tf_dim_ordering_tf_kernels_notop.h5", WEIGHTS_PATH_NO_TOP,
                                     WEIGHTS_HASH_NO_TOP)
    path = imagenet_utils.weights_path(weights, file_name, url, file_hash, model_label="Xception")
    img_input = imagenet_utils.image_input(input_tensor, input_shape)
    axis = _channel_axis()

    # Entry flow.
    x = layers.Conv2D(32, (3, 3), strides=(2, 2), use_bias=False, name="block1_conv1")(img_input)
    x = layers.BatchNormalization(axis=axis, name="block1_conv1_bn")(x)
    x = layers.Activation("relu", name="block1_conv1_act")(x)
    x = layers.Conv2D(64, (3, 3), use_bias=False, name="block1_conv2")(x)
    x = layers.BatchNormalization(axis=axis, name="block1_conv2_bn")(x)
    x = layers.Activation("relu", name="block1_conv2_act")(x)
    x = _downsampling_block(x, 128, 128, 2, relu_first=False)
    x = _downsampling_block(x, 256, 256, 3)
    x = _downsampling_block(x, 728, 728, 4)

    # Middle flow: blocks 5 to 12.
    for block in range(5, 13):
        residual = x
        for i in (1, 2, 3):
            x = layers.Activation("relu", name=f"block{block}_sepconv{i}_act")(x)
            x = _sepconv_bn(x, 728, f"block{block}_sepconv{i}")
        x = layers.add([x, residual])

    # Exit flow.
    x = _downsampling_block(x, 728, 1024, 13)
    x = _sepconv_bn(x, 1536, "block14_sepconv1")
    x = layers.Activation("relu", name="block14_sepconv1_act")(x)
    x = _sepconv_bn(x, 2048, "block14_sepconv2")
    x = layers.Activation("relu", name="block14_sepconv2_act")(x)

    x = imagenet_utils.classifier_or_pooling(x, include_top, pooling, classes, classifier_activation)
    return imagenet_utils.finish_model(input_tensor, img_input, x, name, path)


Xception.__doc__ = imagenet_utils.model_doc(
    "Instantiates the Xception architecture (Keras's keras.applications.Xception).", 299, 71,
    "xception.preprocess_input", "tf")


def preprocess_input(x, data_format=None):
    """Xception preprocessing: pixels scaled from [0, 255] to [-1, 1]."""
    return imagenet_utils.preprocess_input(x, data_format=data_format, mode="tf")


# The ImageNet class names of the top predictions (pykeras.applications.imagenet_utils).
decode_predictions = imagenet_utils.decode_predictions

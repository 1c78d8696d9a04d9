"""MobileNet v1 (Howard et al., "MobileNets: Efficient Convolutional Neural Networks for Mobile
Vision Applications", 2017), layer for layer as keras.applications builds it.

A 3x3/2 convolution (32 * alpha filters) then 13 depthwise-separable blocks: DepthwiseConv2D 3x3
-> BN -> ReLU6 -> Conv2D 1x1 -> BN -> ReLU6. A strided block pads its input by one row and column
at the bottom/right (ZeroPadding2D conv_pad_<id>) and runs the depthwise conv 'valid', which
reproduces TensorFlow's asymmetric 'same' padding. `alpha` scales every layer's filters
(int(filters * alpha)), `depth_multiplier` the depthwise convolutions. The top is a global average
pooling kept 4D, Dropout, a 1x1 convolution to the classes (conv_preds), Reshape and the
activation. No convolution has a bias except conv_preds. Layer names are Keras's (conv1,
conv_dw_1, conv_pw_1_bn, ..., predictions); the model is named mobilenet_<alpha>_<rows>.
"""
import warnings

from pykeras import backend as K
from pykeras import layers
from pykeras.applications import imagenet_utils

BASE_WEIGHT_PATH = "https://storage.googleapis.com/tensorflow/keras-applications/mobilenet/"
# The input sizes and width multipliers Keras publishes ImageNet weights for.
PRETRAINED_SIZES = (128, 160, 192, 224)
PRETRAINED_ALPHAS = (0.25, 0.50, 0.75, 1.0)
# (pointwise filters, stride) of the 13 depthwise-separable blocks.
BLOCKS = ((64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2), (512, 1), (512, 1), (512, 1), (512, 1),
          (512, 1), (1024, 2), (1024, 1))
RELU6 = 6.0


def _channel_axis():
    return 1 if K.image_data_format() == "channels_first" else -1


def _conv_block(inputs, filters, alpha, kernel=(3, 3), strides=(1, 1)):
    """The first convolution: Conv2D -> BN -> ReLU6 (conv1, conv1_bn, conv1_relu)."""
    filters = int(filters * alpha)
    x = layers.Conv2D(filters, kernel, padding="same", use_bias=False, strides=strides, name="conv1")(inputs)
    x = layers.BatchNormalization(axis=_channel_axis(), name="conv1_bn")(x)
    return layers.ReLU(RELU6, name="conv1_relu")(x)


def _depthwise_conv_block(inputs, pointwise_conv_filters, alpha, depth_multiplier=1, strides=(1, 1), block_id=1):
    """Depthwise 3x3 -> BN -> ReLU6 -> pointwise 1x1 -> BN -> ReLU6 (padded first when strided)."""
    axis = _channel_axis()
    pointwise_conv_filters = int(pointwise_conv_filters * alpha)
    if strides == (1, 1):
        x = inputs
    else:
        x = layers.ZeroPadding2D(((0, 1), (0, 1)), name=f"conv_pad_{block_id}")(inputs)
    x = layers.DepthwiseConv2D((3, 3), padding="same" if strides == (1, 1) else "valid",
                               depth_multiplier=depth_multiplier, strides=strides, use_bias=False,
                               name=f"conv_dw_{block_id}")(x)
    x = layers.BatchNormalization(axis=axis, name=f"conv_dw_{block_id}_bn")(x)
    x = layers.ReLU(RELU6, name=f"conv_dw_{block_id}_relu")(x)
    x = layers.Conv2D(pointwise_conv_filters, (1, 1), padding="same", use_bias=False, strides=(1, 1),
                      name=f"conv_pw_{block_id}")(x)
    x = layers.BatchNormalization(axis=axis, name=f"conv_pw_{block_id}_bn")(x)
    return layers.ReLU(RELU6, name=f"conv_pw_{block_id}_relu")(x)


def MobileNet(input_shape=None, alpha=1.0, depth_multiplier=1, dropout=1e-3, include_top=True, weights="imagenet",
              input_tensor=None, pooling=None, classes=1000, classifier_activation="softmax", name=None):
    """Instantiates the MobileNet architecture (Keras's keras.applications.MobileNet).

    Args:
        input_shape: optional (height, width, channels); with include_top=True it must be given
            unless the default (224, 224, 3) is meant; at least 32x32, 3 channels with ImageNet
            weights (published for square inputs of 128, 160, 192 or 224).
        alpha: width multiplier: every layer has int(filters * alpha) filters (ImageNet weights
            exist for 0.25, 0.5, 0.75 and 1.0).
        depth_multiplier: depth multiplier of the depthwise convolutions (1 with ImageNet weights).
        dropout: dropout rate before the classifier.
        include_top: whether to include the classifier at the top.
        weights: None (random initialization), "imagenet" (Keras's pretrained file from the Keras
            cache ~/.keras/models/, downloaded there when missing) or the path of a weights
            file (.h5 or .weights.h5) to load.
        input_tensor: optional KerasTensor (output of `Input()`) to use as the image input.
        pooling: with include_top=False: None (4D feature maps), "avg" or "max" (global pooling).
        classes: number of classes (only with weights=None or a file when include_top=True).
        classifier_activation: activation of the classifier (None gives the logits; pretrained
            weights allow only None or "softmax").
        name: the model's name (default mobilenet_<alpha>_<rows>, e.g. mobilenet_1.00_224).

    Returns:
        A functional Model. Inputs are preprocessed with `mobilenet.preprocess_input` ("tf").
    """
    imagenet_utils.check_weights_argument(weights, include_top, classes)
    channels_last = K.image_data_format() == "channels_last"
    default_size = 224
    if input_shape is not None:
        rows, cols = (input_shape[0], input_shape[1]) if channels_last else (input_shape[1], input_shape[2])
        if rows == cols and rows in PRETRAINED_SIZES:
            default_size = rows
    input_shape = imagenet_utils.obtain_input_shape(input_shape, default_size=default_size, min_size=32,
                                                    data_format=K.image_data_format(), require_flatten=include_top,
                                                    weights=weights)
    rows, cols = (input_shape[0], input_shape[1]) if channels_last else (input_shape[1], input_shape[2])

    if weights == "imagenet":
        if depth_multiplier != 1:
            raise ValueError("If imagenet weights are being loaded, depth multiplier must be 1.  "
                             f"Received depth_multiplier={depth_multiplier}")
        if alpha not in PRETRAINED_ALPHAS:
            raise ValueError("If imagenet weights are being loaded, alpha can be one of`0.25`, `0.50`, `0.75` or "
                             f"`1.0` only.  Received alpha={alpha}")
        if rows != cols or rows not in PRETRAINED_SIZES:
            rows = 224
            warnings.warn("`input_shape` is undefined or non-square, or `rows` is not in [128, 160, 192, 224]. "
                          "Weights for input shape (224, 224) will be loaded as the default.", stacklevel=2)

    if include_top:
        imagenet_utils.validate_activation(classifier_activation, weights)
    path = weights
    if weights == "imagenet":
        alpha_text = {1.0: "1_0", 0.75: "7_5", 0.5: "5_0"}.get(alpha, "2_5")
        file_name = f"mobilenet_{alpha_text}_{rows}_{'tf' if include_top else 'tf_no_top'}.h5"
        path = imagenet_utils.weights_path(weights, file_name, BASE_WEIGHT_PATH + file_name,
                                           model_label=f"MobileNet (alpha {alpha}, {rows}x{rows})")
    img_input = imagenet_utils.image_input(input_tensor, input_shape)
    x = _conv_block(img_input, 32, alpha, strides=(2, 2))
    for block_id, (filters, stride) in enumerate(BLOCKS, start=1):
        x = _depthwise_conv_block(x, filters, alpha, depth_multiplier, strides=(stride, stride), block_id=block_id)

    if include_top:
        x = layers.GlobalAveragePooling2D(keepdims=True)(x)
        x = layers.Dropout(dropout, name="dropout")(x)
        x = layers.Conv2D(classes, (1, 1), padding="same", name="conv_preds")(x)
        x = layers.Reshape((classes,), name="reshape_2")(x)
        x = layers.Activation(activation=classifier_activation, name="predictions")(x)
    else:
        x = imagenet_utils.pooled(x, include_top, pooling)
    if name is None:
        name = f"mobilenet_{alpha:0.2f}_{rows}"
    return imagenet_utils.finish_model(input_tensor, img_input, x, name, path)


def preprocess_input(x, data_format=None):
    """MobileNet preprocessing: pixels scaled from [0, 255] to [-1, 1]."""
    return imagenet_utils.preprocess_input(x, data_format=data_format, mode="tf")


# The ImageNet class names of the top predictions (pykeras.applications.imagenet_utils).
decode_predictions = imagenet_utils.decode_predictions

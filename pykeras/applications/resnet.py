"""ResNet50, ResNet101 and ResNet152 (He et al., "Deep Residual Learning for Image Recognition",
CVPR 2015), layer for layer as keras.applications builds them.

The stem is a 7x7/2 convolution (padded by 3 with ZeroPadding2D), BatchNormalization, ReLU and a
3x3/2 max pooling (padded by 1); then four stacks of bottleneck blocks (1x1 -> 3x3 -> 1x1 with 4x
expansion; the first block of each stack has a projection shortcut, and its first 1x1 conv carries
the stack's stride); then global average pooling and the classifier. Every layer has Keras's name
(conv1_conv, conv2_block1_0_conv, ..., predictions), so Keras's weight files load by position or by
name. BatchNormalization uses epsilon 1.001e-5 as in Keras; convolutions have biases (ResNet v1).
"""
from pykeras import backend as K
from pykeras import layers
from pykeras.applications import imagenet_utils

BASE_WEIGHTS_PATH = "https://storage.googleapis.com/tensorflow/keras-applications/resnet/"
# Keras's md5 checksums of the ImageNet files: (with top, without top).
WEIGHTS_HASHES = {
    "resnet50": ("2cb95161c43110f7111970584f804107", "4d473c1dd8becc155b73f8504c6f6626"),
    "resnet101": ("f1aeb4b969a6efcfb50fad2f0c20cfc5", "88cf7a10940856eca736dc7b7e228a21"),
    "resnet152": ("100835be76be38e30d865e96f2aaae62", "ee4c566cf9a93f14d82f913c2dc6dd0c"),
}

BN_EPSILON = 1.001e-5


def _bn_axis():
    return 3 if K.image_data_format() == "channels_last" else 1


def residual_block_v1(x, filters, kernel_size=3, stride=1, conv_shortcut=True, name=None):
    """A bottleneck block: 1x1 (stride) -> kernel_size -> 1x1 (4 * filters), plus the shortcut."""
    bn_axis = _bn_axis()
    if conv_shortcut:
        shortcut = layers.Conv2D(4 * filters, 1, strides=stride, name=f"{name}_0_conv")(x)
        shortcut = layers.BatchNormalization(axis=bn_axis, epsilon=BN_EPSILON, name=f"{name}_0_bn")(shortcut)
    else:
        shortcut = x
    x = layers.Conv2D(filters, 1, strides=stride, name=f"{name}_1_conv")(x)
    x = layers.BatchNormalization(axis=bn_axis, epsilon=BN_EPSILON, name=f"{name}_1_bn")(x)
    x = layers.Activation("relu", name=f"{name}_1_relu")(x)
    x = layers.Conv2D(filters, kernel_size, padding="same", name=f"{name}_2_conv")(x)
    x = layers.BatchNormalization(axis=bn_axis, epsilon=BN_EPSILON, name=f"{name}_2_bn")(x)
    x = layers.Activation("relu", name=f"{name}_2_relu")(x)
    x = layers.Conv2D(4 * filters, 1, name=f"{name}_3_conv")(x)
    x = layers.BatchNormalization(axis=bn_axis, epsilon=BN_EPSILON, name=f"{name}_3_bn")(x)
    x = layers.Add(name=f"{name}_add")([shortcut, x])
    return layers.Activation("relu", name=f"{name}_out")(x)


def stack_residual_blocks_v1(x, filters, blocks, stride1=2, name=None):
    """`blocks` bottleneck blocks; the first has the projection shortcut and stride `stride1`."""
    x = residual_block_v1(x, filters, stride=stride1, name=f"{name}_block1")
    for i in range(2, blocks + 1):
        x = residual_block_v1(x, filters, conv_shortcut=False, name=f"{name}_block{i}")
    return x


def ResNet(stack_fn, preact, use_bias, include_top=True, weights="imagenet", input_tensor=None, input_shape=None,
           pooling=None, classes=1000, classifier_activation="softmax", name="resnet", weights_name=None):
    """The ResNet skeleton around `stack_fn` (the residual stacks). Only v1 (preact=False) here."""
    if preact:
        raise ValueError("pykeras.applications.resnet builds ResNet v1 only (preact=False)")
    imagenet_utils.check_weights_argument(weights, include_top, classes)
    input_shape = imagenet_utils.obtain_input_shape(input_shape, default_size=224, min_size=32,
                                                    data_format=K.image_data_format(), require_flatten=include_top,
                                                    weights=weights)
    if include_top:
        imagenet_utils.validate_activation(classifier_activation, weights)
    path = weights
    if weights == "imagenet":
        path = None
        if weights_name in WEIGHTS_HASHES:
            suffix = "" if include_top else "_notop"
            file_name = f"{weights_name}_weights_tf_dim_ordering_tf_kernels{suffix}.h5"
            path = imagenet_utils.weights_path(weights, file_name, BASE_WEIGHTS_PATH + file_name,
                                               WEIGHTS_HASHES[weights_name][0 if include_top else 1],
                                               model_label=weights_name)
    img_input = imagenet_utils.image_input(input_tensor, input_shape)
    bn_axis = _bn_axis()

    x = layers.ZeroPadding2D(padding=((3, 3), (3, 3)), name="conv1_pad")(img_input)
    x = layers.Conv2D(64, 7, strides=2, use_bias=use_bias, name="conv1_conv")(x)
    x = layers.BatchNormalization(axis=bn_axis, epsilon=BN_EPSILON, name="conv1_bn")(x)
    x = layers.Activation("relu", name="conv1_relu")(x)
    x = layers.ZeroPadding2D(padding=((1, 1), (1, 1)), name="pool1_pad")(x)
    x = layers.MaxPooling2D(3, strides=2, name="pool1_pool")(x)
    x = stack_fn(x)

    x = imagenet_utils.classifier_or_pooling(x, include_top, pooling, classes, classifier_activation, pool_names=("avg_pool", "max_pool"))
    return imagenet_utils.finish_model(input_tensor, img_input, x, name, path)


def _resnet_v1(blocks, weights_name, include_top, weights, input_tensor, input_shape, pooling, classes,
               classifier_activation, name):
    def stack_fn(x):
        x = stack_residual_blocks_v1(x, 64, blocks[0], stride1=1, name="conv2")
        x = stack_residual_blocks_v1(x, 128, blocks[1], name="conv3")
        x = stack_residual_blocks_v1(x, 256, blocks[2], name="conv4")
        return stack_residual_blocks_v1(x, 512, blocks[3], name="conv5")

    return ResNet(stack_fn, preact=False, use_bias=True, weights_name=weights_name, name=name,
                  include_top=include_top, weights=weights, input_tensor=input_tensor, input_shape=input_shape,
                  pooling=pooling, classes=classes, classifier_activation=classifier_activation)




def ResNet50(include_top=True, weights="imagenet", input_tensor=None, input_shape=None, pooling=None, classes=1000,
             classifier_activation="softmax", name="resnet50"):
    return _resnet_v1((3, 4, 6, 3), "resnet50", include_top, weights, input_tensor, input_shape, pooling, classes,
                      classifier_activation, name)


def ResNet101(include_top=True, weights="imagenet", input_tensor=None, input_shape=None, pooling=None, classes=1000,
              classifier_activation="softmax", name="resnet101"):
    return _resnet_v1((3, 4, 23, 3), "resnet101", include_top, weights, input_tensor, input_shape, pooling, classes,
                      classifier_activation, name)


def ResNet152(include_top=True, weights="imagenet", input_tensor=None, input_shape=None, pooling=None, classes=1000,
              classifier_activation="softmax", name="resnet152"):
    return _resnet_v1((3, 8, 36, 3), "resnet152", include_top, weights, input_tensor, input_shape, pooling, classes,
                      classifier_activation, name)


for _model in (ResNet50, ResNet101, ResNet152):
    _model.__doc__ = imagenet_utils.model_doc(
        f"Instantiates the {_model.__name__} architecture (Keras's keras.applications.{_model.__name__}).", 224, 32,
        "resnet.preprocess_input", "caffe")


def preprocess_input(x, data_format=None):
    """ResNet preprocessing: RGB -> BGR, then each channel minus its ImageNet mean (no scaling)."""
    return imagenet_utils.preprocess_input(x, data_format=data_format, mode="caffe")


# The ImageNet class names of the top predictions (pykeras.applications.imagenet_utils).
decode_predictions = imagenet_utils.decode_predictions

"""What the ImageNet models share: input preprocessing, decoding of predictions, the input-shape
rules, and finding the pretrained weight files.

Pretrained files: `weights="imagenet"` first looks for the file Keras itself would have cached,
under Keras's file name, in `$KERAS_HOME/models/` (default `~/.keras/models/`, then
`/tmp/.keras/models/`, Keras's fallback when the home directory is not writable); a machine where
Keras already fetched the weights therefore works as is. When no copy is cached, the file is
downloaded from Keras's URL into that cache (pykeras.utils.get_file: checked against Keras's
checksum, renamed into place only when complete); when that fails, a FileNotFoundError names the
URL and the path to save the file under by hand. The class index of `decode_predictions`
(`imagenet_class_index.json`) is found the same way. A cached file that does not match Keras's
checksum is loaded anyway, with a warning. The file is looked up before the model is built, so a
missing file fails at once.
"""
import hashlib
import json
import os
import warnings

import numpy as np

from pykeras import activations
from pykeras import backend as K
from pykeras.utils import file_utils

CLASS_INDEX = None
CLASS_INDEX_FILE = "imagenet_class_index.json"
CLASS_INDEX_URL = "https://storage.googleapis.com/download.tensorflow.org/data/imagenet_class_index.json"
CLASS_INDEX_HASH = "c2c37ea517e94d9795004a39431a14cb"

# Keras's per-channel ImageNet statistics (RGB order) for the 'caffe' and 'torch' modes.
CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)
TORCH_MEAN = (0.485, 0.456, 0.406)
TORCH_STD = (0.229, 0.224, 0.225)

_WEIGHTS_ARG_ERROR = ("The `weights` argument should be either `None` (random initialization), 'imagenet' "
                      "(pre-training on ImageNet), or the path to the weights file to be loaded.  Received: "
                      "weights={weights}")


# ---- preprocessing ---------------------------------------------------------------------------


def preprocess_input(x, data_format=None, mode="caffe"):
    """Preprocesses a batch of images (or one image) with values in [0, 255].

    Args:
        x: float numpy array (modified in place when it is a float array, as in Keras; pass a
            copy to keep the original), a pykeras Tensor or a symbolic KerasTensor; 3D or 4D with
            3 color channels.
        data_format: "channels_last" / "channels_first" (None: the global image data format).
        mode: "caffe" (RGB -> BGR, then subtract the ImageNet mean of each channel, no scaling),
            "tf" (scale to [-1, 1]) or "torch" (scale to [0, 1], then normalize each channel by the
            ImageNet mean and standard deviation).

    Returns:
        The preprocessed array (float32 for integer input) or tensor.

    Raises:
        ValueError: for an unknown `mode` or `data_format`.
    """
    if mode not in {"caffe", "tf", "torch"}:
        raise ValueError(f"Expected mode to be one of `caffe`, `tf` or `torch`. Received: mode={mode}")
    if data_format is None:
        data_format = K.image_data_format()
    elif data_format not in {"channels_first", "channels_last"}:
        raise ValueError("Expected data_format to be one of `channels_first` or `channels_last`. "
                         f"Received: data_format={data_format}")
    if isinstance(x, np.ndarray):
        return _preprocess_numpy(x, data_format, mode)
    return _preprocess_tensor(x, data_format, mode)


def _channel_shape(ndim, data_format):
    """Broadcast shape of a per-channel constant for a 3D or 4D image array."""
    if data_format == "channels_last":
        return (1,) * (ndim - 1) + (3,)
    return (3, 1, 1) if ndim == 3 else (1, 3) + (1,) * (ndim - 2)


def _preprocess_numpy(x, data_format, mode):
    if not issubclass(x.dtype.type, np.floating):
        x = x.astype(K.floatx(), copy=False)
    if mode == "tf":
        x /= 127.5
        x -= 1.0
        return x
    if mode == "torch":
        x /= 255.0
        mean, std = TORCH_MEAN, TORCH_STD
    else:
        channel_axis = -1 if data_format == "channels_last" else (0 if x.ndim == 3 else 1)
        x = np.flip(x, axis=channel_axis)  # RGB -> BGR (a view, as Keras's slicing)
        mean, std = CAFFE_MEAN_BGR, None
    shape = _channel_shape(x.ndim, data_format)
    x -= np.asarray(mean, dtype=x.dtype).reshape(shape)
    if std is not None:
        x /= np.asarray(std, dtype=x.dtype).reshape(shape)
    return x


def _preprocess_tensor(x, data_format, mode):
    from pykeras import ops

    if mode == "tf":
        return x / 127.5 - 1.0
    ndim = len(x.shape)
    if mode == "torch":
        x = x / 255.0
        mean, std = TORCH_MEAN, TORCH_STD
    else:
        channel_axis = -1 if data_format == "channels_last" else (0 if ndim == 3 else 1)
        x = ops.flip(x, axis=channel_axis)
        mean, std = CAFFE_MEAN_BGR, None
    dtype = np.dtype(getattr(x, "dtype", None) or K.floatx())
    shape = _channel_shape(ndim, data_format)
    x = x - np.asarray(mean, dtype=dtype).reshape(shape)
    if std is not None:
        x = x / np.asarray(std, dtype=dtype).reshape(shape)
    return x


# ---- decoding ---------------------------------------------------------------------------------


def decode_predictions(preds, top=5):
    """Decodes a batch of ImageNet predictions.

    Args:
        preds: array (or tensor) of shape (samples, 1000).
        top: how many of the best guesses to return per sample.

    Returns:
        One list per sample of `(class_name, class_description, score)` tuples, best first.

    Raises:
        ValueError: if `preds` is not of shape (samples, 1000).
        FileNotFoundError: if the class index file is not available locally (see the module
            docstring: pykeras looks for Keras's cached `imagenet_class_index.json`).
    """
    global CLASS_INDEX
    shape = tuple(np.shape(preds)) if not hasattr(preds, "shape") else tuple(preds.shape)
    if len(shape) != 2 or shape[1] != 1000:
        raise ValueError("`decode_predictions` expects a batch of predictions (i.e. a 2D array of shape "
                         f"(samples, 1000)). Received array with shape: {shape}")
    if CLASS_INDEX is None:
        path = get_file(CLASS_INDEX_FILE, CLASS_INDEX_URL, file_hash=CLASS_INDEX_HASH, what="The ImageNet class index")
        with open(path) as f:
            CLASS_INDEX = json.load(f)
    preds = np.asarray(K.convert_to_numpy(preds))
    results = []
    for pred in preds:
        # A stable descending order: equal scores keep the lower class index first.
        best = np.argsort(-pred, kind="stable")[:top]
        results.append([tuple(CLASS_INDEX[str(i)]) + (pred[i],) for i in best])
    return results


# ---- the models' shared rules -------------------------------------------------------------------


def obtain_input_shape(input_shape, default_size, min_size, data_format, require_flatten, weights=None):
    """The model's input shape (without the batch axis), checked as Keras checks it.

    Args:
        input_shape: None (the default shape) or the user's shape, validated.
        default_size: the default input height and width.
        min_size: the smallest height/width the model accepts.
        data_format: "channels_last" or "channels_first".
        require_flatten: True when the classifier top is included (the shape must be static).
        weights: None, "imagenet" or a file path; "imagenet" requires 3 channels, and with
            `require_flatten` the default shape.

    Raises:
        ValueError: for a shape the model cannot take.
    """
    channels_last = data_format != "channels_first"
    if weights != "imagenet" and input_shape and len(input_shape) == 3:
        channels = input_shape[-1] if channels_last else input_shape[0]
        if channels not in {1, 3}:
            warnings.warn("This model usually expects 1 or 3 input channels. However, it was passed an input_shape "
                          f"with {channels} input channels.", stacklevel=3)
        default_shape = ((default_size, default_size, input_shape[-1]) if channels_last
                         else (input_shape[0], default_size, default_size))
    else:
        default_shape = (default_size, default_size, 3) if channels_last else (3, default_size, default_size)
    if weights == "imagenet" and require_flatten:
        if input_shape is not None and tuple(input_shape) != default_shape:
            raise ValueError("When setting `include_top=True` and loading `imagenet` weights, `input_shape` should "
                             f"be {default_shape}.  Received: input_shape={input_shape}")
        return default_shape
    if input_shape:
        if len(input_shape) != 3:
            raise ValueError("`input_shape` must be a tuple of three integers.")
        channels = input_shape[-1] if channels_last else input_shape[0]
        if channels != 3 and weights == "imagenet":
            raise ValueError(f"The input must have 3 channels; Received `input_shape={input_shape}`")
        rows, cols = (input_shape[0], input_shape[1]) if channels_last else (input_shape[1], input_shape[2])
        if (rows is not None and rows < min_size) or (cols is not None and cols < min_size):
            raise ValueError(f"Input size must be at least {min_size}x{min_size}; Received: "
                             f"input_shape={input_shape}")
    elif require_flatten:
        input_shape = default_shape
    else:
        input_shape = (None, None, 3) if channels_last else (3, None, None)
    if require_flatten and None in input_shape:
        raise ValueError("If `include_top` is True, you should specify a static `input_shape`. "
                         f"Received: input_shape={input_shape}")
    return tuple(input_shape)


def correct_pad(inputs, kernel_size):
    """((top, bottom), (left, right)) zero padding that makes a strided 'valid' convolution of
    `kernel_size` cover the input as TensorFlow's 'same' padding would."""
    axis = 2 if K.image_data_format() == "channels_first" else 1
    size = inputs.shape[axis:axis + 2]
    if isinstance(kernel_size, int):
        kernel_size = (kernel_size, kernel_size)
    adjust = (1, 1) if size[0] is None else (1 - size[0] % 2, 1 - size[1] % 2)
    correct = (kernel_size[0] // 2, kernel_size[1] // 2)
    return ((correct[0] - adjust[0], correct[0]), (correct[1] - adjust[1], correct[1]))


def validate_activation(classifier_activation, weights):
    """Pretrained weights allow only softmax or no activation (None/linear) on the classifier."""
    if weights is None:
        return
    fn = activations.get(classifier_activation)
    if fn not in (activations.get("softmax"), activations.get(None)):
        raise ValueError("Only `None` and `softmax` activations are allowed for the `classifier_activation` argument "
                         "when using pretrained weights, with `include_top=True`; Received: "
                         f"classifier_activation={classifier_activation}")


def check_weights_argument(weights, include_top, classes):
    """Keras's checks of `weights` (None, 'imagenet' or an existing file) and of `classes`."""
    if not (weights in {"imagenet", None} or (isinstance(weights, (str, os.PathLike)) and os.path.exists(weights))):
        raise ValueError(_WEIGHTS_ARG_ERROR.format(weights=weights))
    if weights == "imagenet" and include_top and classes != 1000:
        raise ValueError("If using `weights='imagenet'` with `include_top=True`, `classes` should be 1000.  "
                         f"Received classes={classes}")


def image_input(input_tensor, input_shape):
    """The model's image input: a new Input of `input_shape`, or the given tensor."""
    from pykeras import layers

    if input_tensor is None:
        return layers.Input(shape=input_shape)
    if not K.is_keras_tensor(input_tensor):
        return layers.Input(tensor=input_tensor, shape=input_shape)
    return input_tensor


def source_inputs(tensor):
    """The Input tensors a KerasTensor was computed from (Keras's get_source_inputs)."""
    found, seen = [], set()
    stack = [tensor]
    while stack:
        t = stack.pop()
        history = getattr(t, "_keras_history", None)
        if history is None:
            continue
        layer, node_index, _ = history
        node = layer._inbound_nodes[node_index]
        if node.is_input:
            if id(t) not in seen:
                seen.add(id(t))
                found.append(t)
            continue
        stack.extend(reversed(list(node.input_tensors)))
    return found[0] if len(found) == 1 else found


def model_inputs(input_tensor, img_input):
    return source_inputs(input_tensor) if input_tensor is not None else img_input


def model_doc(title, default_size, min_size, preprocess, mode,
              top="the global pooling and the fully-connected classifier"):
    """The docstring of a model function with the arguments every ImageNet model shares."""
    return f"""{title}

    Args:
        include_top: whether to include {top}.
        weights: None (random initialization), "imagenet" (Keras's pretrained file from the Keras
            cache ~/.keras/models/, downloaded there when missing) or the path of a weights
            file (.h5 or .weights.h5) to load.
        input_tensor: optional KerasTensor (output of `Input()`) to use as the image input.
        input_shape: optional (height, width, channels), only with include_top=False (otherwise
            ({default_size}, {default_size}, 3)); at least {min_size}x{min_size}, 3 channels with
            ImageNet weights.
        pooling: with include_top=False: None (4D feature maps), "avg" or "max" (global pooling).
        classes: number of classes (only with weights=None or a file when include_top=True).
        classifier_activation: activation of the classifier (None gives the logits; pretrained
            weights allow only None or "softmax").
        name: the model's name.

    Returns:
        A functional Model. Inputs are preprocessed with `{preprocess}` ("{mode}" mode).
    """


def classifier_or_pooling(x, include_top, pooling, classes, classifier_activation, pool_names=(None, None)):
    """The top of Xception, ResNet and InceptionV3: global average pooling ("avg_pool") and the
    "predictions" Dense layer, or with include_top=False the optional global pooling."""
    from pykeras import layers

    if include_top:
        x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
        return layers.Dense(classes, activation=classifier_activation, name="predictions")(x)
    return pooled(x, include_top, pooling, names=pool_names)


def finish_model(input_tensor, img_input, outputs, name, weights_file):
    """The functional Model from the network's inputs to `outputs`, with `weights_file` loaded
    when there is one."""
    from pykeras.models import Model

    model = Model(model_inputs(input_tensor, img_input), outputs, name=name)
    if weights_file is not None:
        model.load_weights(weights_file)
    return model


def pooled(x, include_top, pooling, names=(None, None)):
    """include_top=False: the optional global pooling of the features ('avg' or 'max')."""
    from pykeras import layers

    if include_top:
        return x
    if pooling == "avg":
        return layers.GlobalAveragePooling2D(name=names[0])(x)
    if pooling == "max":
        return layers.GlobalMaxPooling2D(name=names[1])(x)
    return x


# ---- pretrained files ----------------------------------------------------------------------------


def keras_cache_dirs(subdir="models"):
    """Where Keras caches downloaded files: $KERAS_HOME (default ~/.keras), then /tmp/.keras."""
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    dirs = [os.path.join(os.path.expanduser(home), subdir)]
    fallback = os.path.join("/tmp", ".keras", subdir)
    if fallback not in dirs:
        dirs.append(fallback)
    return dirs


def _file_digest(path, algorithm):
    digest = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def get_file(file_name, url, file_hash=None, what="This file"):
    """The local path of a file Keras publishes at `url` and caches as `file_name`.

    A cached copy (in any of Keras's cache directories) is used as is, with a warning when it does
    not match Keras's checksum (md5, or sha256 for a 64-character hash). Otherwise the file is
    downloaded into the cache like keras.utils.get_file does; when that fails, FileNotFoundError
    says where to save the file by hand.
    """
    for directory in keras_cache_dirs():
        path = os.path.join(directory, file_name)
        if os.path.isfile(path):
            if file_hash:
                algorithm = "sha256" if len(file_hash) == 64 else "md5"
                if _file_digest(path, algorithm) != file_hash:
                    warnings.warn(f"{path} does not match the {algorithm} checksum of the file Keras publishes at "
                                  f"{url} ({file_hash}); loading it anyway.", stacklevel=3)
            return path
    target = os.path.join(keras_cache_dirs()[0], file_name)
    try:
        return file_utils.get_file(file_name, url, file_hash=file_hash, cache_subdir="models")
    except OSError as e:
        raise FileNotFoundError(
            f"{what} is not cached and could not be downloaded ({e}). Download {url} and save it as {target} "
            "(Keras caches the same file there, so a machine where Keras fetched it already works as is)"
            + (", or pass the path of a weights file as `weights=`." if file_name != CLASS_INDEX_FILE else ".")
        ) from None


def weights_path(weights, file_name=None, url=None, file_hash=None, model_label="this model"):
    """The weights file to load: None for weights=None, the file for a path, Keras's cached
    `file_name` for "imagenet" (FileNotFoundError when absent). Called before the model is
    built, so that a missing file fails fast."""
    if weights is None:
        return None
    if weights == "imagenet":
        return get_file(file_name, url, file_hash=file_hash, what=f"The ImageNet weights of {model_label}")
    return weights

"""Losses: per-sample loss functions and `Loss` classes with Keras 3's names, formulas and reduction.

A loss function `fn(y_true, y_pred)` returns per-sample values (reduced over the last axis where
Keras reduces it) as a backend Tensor, differentiable with respect to `y_pred`. Targets are never
differentiated, so everything done to `y_true` alone (casting, label smoothing, {0,1} -> {-1,1} for
hinge losses, shape checks) is plain numpy before the first backend op. The crossentropies call
the backend's fused ops, so a softmax output followed by crossentropy is one fused kernel with
gradient (p - y).

`Loss(reduction="sum_over_batch_size", name=None)` objects are called as
`loss(y_true, y_pred, sample_weight=None)` and return a scalar Tensor: the per-sample values,
times the sample weights, summed and divided by the number of values ("sum_over_batch_size" /
"mean"), by the sum of the weights ("mean_with_sample_weight"), not divided ("sum"), or returned
unreduced (None / "none").
"""
import warnings

import numpy as np

EPSILON = 1e-7
_REDUCTIONS = ("sum_over_batch_size", "sum", None, "none", "mean", "mean_with_sample_weight")


_backend = None


def _K():
    """pykeras.backend, imported on first use (pykeras/__init__ imports this module early)."""
    global _backend
    if _backend is None:
        from pykeras import backend

        _backend = backend
    return _backend


def _is_tensor(x):
    K = _K()
    return isinstance(x, K.Tensor)


def _pred(y_pred):
    """y_pred as a float backend Tensor (Tensors pass through untouched, keeping their gradients)."""
    K = _K()
    if isinstance(y_pred, K.Tensor):
        return y_pred
    arr = np.asarray(y_pred)
    if arr.dtype != np.float32:
        arr = arr.astype(np.float32)
    return K.convert_to_tensor(arr)


def _true(y_true, dtype=np.float32):
    """y_true as a numpy array of `dtype` (targets are not differentiated)."""
    arr = np.asarray(y_true)
    if dtype is not None and arr.dtype != dtype:
        arr = arr.astype(dtype)
    return arr


def _shape(x):
    return tuple(np.shape(x)) if not _is_tensor(x) else tuple(x.shape)


def squeeze_or_expand_to_same_rank(y_true, y_pred):
    """Keras's rule: if ranks differ by one and the longer one ends in 1, squeeze it (or expand a rank-1 one)."""
    K = _K()
    t, p = _shape(y_true), _shape(y_pred)
    if len(t) == len(p):
        return y_true, y_pred
    if len(t) == len(p) + 1 and t[-1] == 1:
        if len(p) == 1:
            y_pred = K.reshape(y_pred, p + (1,)) if _is_tensor(y_pred) else np.reshape(y_pred, p + (1,))
        else:
            y_true = np.reshape(y_true, t[:-1]) if not _is_tensor(y_true) else K.reshape(y_true, t[:-1])
    elif len(p) == len(t) + 1 and p[-1] == 1:
        if len(t) == 1:
            y_true = np.reshape(y_true, t + (1,)) if not _is_tensor(y_true) else K.reshape(y_true, t + (1,))
        else:
            y_pred = K.reshape(y_pred, p[:-1]) if _is_tensor(y_pred) else np.reshape(y_pred, p[:-1])
    return y_true, y_pred


def _check_same_shape(fn_name, y_true, y_pred):
    t, p = _shape(y_true), _shape(y_pred)
    if t != p:
        try:
            np.broadcast_shapes(t, p)
        except ValueError:
            raise ValueError(
                f"{fn_name}: `y_true` and `y_pred` must have the same shape. Received: y_true.shape={t}, "
                f"y_pred.shape={p}"
            ) from None


def _regression_pair(fn_name, y_true, y_pred):
    y_pred = _pred(y_pred)
    y_true = _true(y_true)
    y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
    _check_same_shape(fn_name, y_true, y_pred)
    return y_true, y_pred


# -- regression losses ---------------------------------------------------------------------------
def mean_squared_error(y_true, y_pred):
    """mean(square(y_true - y_pred), axis=-1)."""
    K = _K()
    y_true, y_pred = _regression_pair("mean_squared_error", y_true, y_pred)
    return K.mean(K.square(y_pred - y_true), axis=-1)


def mean_absolute_error(y_true, y_pred):
    """mean(abs(y_true - y_pred), axis=-1)."""
    K = _K()
    y_true, y_pred = _regression_pair("mean_absolute_error", y_true, y_pred)
    return K.mean(K.abs(y_pred - y_true), axis=-1)


def mean_absolute_percentage_error(y_true, y_pred):
    """100 * mean(abs((y_true - y_pred) / max(abs(y_true), eps)), axis=-1)."""
    K = _K()
    y_true, y_pred = _regression_pair("mean_absolute_percentage_error", y_true, y_pred)
    scale = (100.0 / np.maximum(np.abs(y_true), EPSILON)).astype(np.float32)
    return K.mean(K.abs((y_pred - y_true) * scale), axis=-1)


def mean_squared_logarithmic_error(y_true, y_pred):
    """mean(square(log(max(y_pred, eps) + 1) - log(max(y_true, eps) + 1)), axis=-1)."""
    K = _K()
    y_true, y_pred = _regression_pair("mean_squared_logarithmic_error", y_true, y_pred)
    second = np.log(np.maximum(y_true, EPSILON) + 1.0).astype(np.float32)
    first = K.log(K.maximum(y_pred, EPSILON) + 1.0)
    return K.mean(K.square(first - second), axis=-1)


def _l2_normalize(x, axis):
    K = _K()
    if _is_tensor(x):
        return x / K.sqrt(K.maximum(K.sum(K.square(x), axis=axis, keepdims=True), 1e-12))
    return (x / np.sqrt(np.maximum(np.sum(np.square(x), axis=axis, keepdims=True), 1e-12))).astype(np.float32)


def cosine_similarity(y_true, y_pred, axis=-1):
    """The Keras 3 loss: -sum(l2_normalize(y_true) * l2_normalize(y_pred), axis) (-1 = same direction)."""
    K = _K()
    y_true, y_pred = _regression_pair("cosine_similarity", y_true, y_pred)
    return -K.sum(_l2_normalize(y_pred, axis) * _l2_normalize(y_true, axis), axis=axis)


# Keras 2's name for the same quantity.
cosine_proximity = cosine_similarity


def huber(y_true, y_pred, delta=1.0):
    """mean(0.5 * e^2 where |e| <= delta, else delta * |e| - 0.5 * delta^2), e = y_pred - y_true."""
    K = _K()
    y_true, y_pred = _regression_pair("huber", y_true, y_pred)
    delta = float(delta)
    abs_err = K.abs(y_pred - y_true)
    # min(|e|, delta) gives both branches at once: 0.5 * q^2 + delta * (|e| - q)
    q = K.minimum(abs_err, delta)
    return K.mean(0.5 * K.square(q) + delta * (abs_err - q), axis=-1)


def log_cosh(y_true, y_pred):
    """mean(log(cosh(y_pred - y_true)), axis=-1), computed as x + softplus(-2x) - log(2)."""
    K = _K()
    y_true, y_pred = _regression_pair("log_cosh", y_true, y_pred)
    x = y_pred - y_true
    return K.mean(x + K.softplus(x * -2.0) - float(np.log(2.0)), axis=-1)


logcosh = log_cosh


def _hinge_labels(y_true):
    """{0, 1} labels become {-1, 1}; other labels are used as given (Keras rule)."""
    if np.all((y_true == 0) | (y_true == 1)):
        return (2.0 * y_true - 1.0).astype(np.float32)
    return y_true


def hinge(y_true, y_pred):
    """mean(max(1 - y_true * y_pred, 0), axis=-1) with {0,1} labels mapped to {-1,1}."""
    K = _K()
    y_true, y_pred = _regression_pair("hinge", y_true, y_pred)
    return K.mean(K.relu(1.0 - y_pred * _hinge_labels(y_true)), axis=-1)


def squared_hinge(y_true, y_pred):
    """mean(square(max(1 - y_true * y_pred, 0)), axis=-1) with {0,1} labels mapped to {-1,1}."""
    K = _K()
    y_true, y_pred = _regression_pair("squared_hinge", y_true, y_pred)
    return K.mean(K.square(K.relu(1.0 - y_pred * _hinge_labels(y_true))), axis=-1)


def categorical_hinge(y_true, y_pred):
    """max(max((1 - y_true) * y_pred) - sum(y_true * y_pred) + 1, 0)."""
    K = _K()
    y_true, y_pred = _regression_pair("categorical_hinge", y_true, y_pred)
    pos = K.sum(y_pred * y_true, axis=-1)
    neg = K.max(y_pred * (1.0 - y_true), axis=-1)
    return K.relu(neg - pos + 1.0)


def kl_divergence(y_true, y_pred):
    """sum(y_true * log(y_true / y_pred), axis=-1), both clipped to [eps, 1]."""
    K = _K()
    y_true, y_pred = _regression_pair("kl_divergence", y_true, y_pred)
    t = np.clip(y_true, EPSILON, 1.0).astype(np.float32)
    log_t = np.log(t)
    return K.sum((K.log(K.clip(y_pred, EPSILON, 1.0)) - log_t) * -t, axis=-1)


kld = KLD = kullback_leibler_divergence = kl_divergence


def poisson(y_true, y_pred):
    """mean(y_pred - y_true * log(y_pred + eps), axis=-1)."""
    K = _K()
    y_pred = _pred(y_pred)
    y_true = _true(y_true)
    _check_same_shape("poisson", y_true, y_pred)
    return K.mean(y_pred - K.log(y_pred + EPSILON) * y_true, axis=-1)


# -- crossentropies ------------------------------------------------------------------------------
def binary_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    """mean over `axis` of -(y log p + (1 - y) log(1 - p)); label smoothing pulls targets toward 0.5."""
    K = _K()
    y_pred = _pred(y_pred)
    y_true = _true(y_true)
    y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
    if _shape(y_true) != _shape(y_pred):
        raise ValueError(
            "binary_crossentropy: arguments `target` and `output` must have the same shape. "
            f"Received: target.shape={_shape(y_true)}, output.shape={_shape(y_pred)}"
        )
    if label_smoothing:
        y_true = (y_true * (1.0 - label_smoothing) + 0.5 * label_smoothing).astype(np.float32)
    return K.mean(K.binary_crossentropy(y_true, y_pred, from_logits=from_logits), axis=axis)


def categorical_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    """-sum(y_true * log(softmax-normalised y_pred), axis); label smoothing mixes in 1/num_classes."""
    K = _K()
    if isinstance(axis, bool):
        raise ValueError(f"`axis` must be of type `int`. Received: axis={axis} of type {type(axis)}")
    y_pred = _pred(y_pred)
    y_true = _true(y_true)
    if _shape(y_true) != _shape(y_pred):
        hint = ""
        t_shape, p_shape = _shape(y_true), _shape(y_pred)
        if len(t_shape) == len(p_shape) - 1 or (len(t_shape) == len(p_shape) and t_shape[-1:] == (1,)):
            hint = (" Integer class labels need 'sparse_categorical_crossentropy' (or one-hot labels from "
                    "pykeras.utils.to_categorical).")
        raise ValueError(
            "categorical_crossentropy: arguments `target` and `output` must have the same shape. "
            f"Received: target.shape={_shape(y_true)}, output.shape={_shape(y_pred)}.{hint}"
        )
    if _shape(y_pred)[-1:] == (1,):
        warnings.warn(
            "In loss categorical_crossentropy, expected y_pred.shape to be (batch_size, num_classes) with "
            f"num_classes > 1. Received: y_pred.shape={_shape(y_pred)}. Consider using 'binary_crossentropy' if "
            "you only have 2 classes.",
            SyntaxWarning,
            stacklevel=2,
        )
    if label_smoothing:
        n = _shape(y_true)[axis]
        y_true = (y_true * (1.0 - label_smoothing) + label_smoothing / n).astype(np.float32)
    return K.categorical_crossentropy(y_true, y_pred, from_logits=from_logits, axis=axis)


def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False, ignore_class=None, axis=-1):
    """-log(p[label]) with integer labels of shape y_pred.shape[:-1] (or with a trailing 1)."""
    K = _K()
    y_pred = _pred(y_pred)
    labels = np.asarray(y_true)
    p_shape = _shape(y_pred)
    if labels.ndim == len(p_shape) and labels.shape[-1] == 1:
        labels = labels.reshape(labels.shape[:-1])
    if labels.shape != p_shape[:-1]:
        raise ValueError(
            "sparse_categorical_crossentropy: arguments `target` and `output` must have the same shape up until "
            f"the last dimension: target.shape={np.shape(y_true)}, output.shape={p_shape}. Sparse crossentropy "
            "takes integer class labels; use 'categorical_crossentropy' for one-hot labels."
        )
    if not np.issubdtype(labels.dtype, np.integer):
        if labels.size and not np.all(np.mod(labels, 1) == 0):
            raise ValueError("sparse_categorical_crossentropy: labels must be integer class indices")
    labels = labels.astype(np.int64, copy=False)
    valid = None
    if ignore_class is not None:
        valid = labels != ignore_class
        labels = np.where(valid, labels, 0)
    n = p_shape[-1]
    if labels.size and (labels.min() < 0 or labels.max() >= n):
        raise ValueError(
            f"sparse_categorical_crossentropy: labels must lie in [0, {n - 1}] for {n} classes, got values from "
            f"{labels.min()} to {labels.max()}"
        )
    out = K.sparse_categorical_crossentropy(labels, y_pred, from_logits=from_logits, axis=axis)
    if valid is not None:
        out = out * valid.astype(np.float32)
    return out


# Keras's short and classic names.
mse = MSE = mean_squared_error
mae = MAE = mean_absolute_error
mape = MAPE = mean_absolute_percentage_error
msle = MSLE = mean_squared_logarithmic_error


# -- Loss classes --------------------------------------------------------------------------------
def standardize_reduction(reduction):
    if reduction not in _REDUCTIONS:
        raise ValueError(
            f"Invalid value for argument `reduction`. Expected one of {set(_REDUCTIONS)}. Received: "
            f"reduction={reduction}"
        )
    return reduction


def reduce_weighted_values(values, sample_weight=None, reduction="sum_over_batch_size"):
    """Weights per-sample `values` and reduces them to a scalar Tensor (see module docstring)."""
    K = _K()
    if sample_weight is None and (reduction == "sum_over_batch_size" or reduction == "mean"):
        return K.mean(values) if values.ndim else values
    if reduction is None or reduction == "none" or len(values.shape) == 0:
        return values if sample_weight is None else values * _weights_like(values, sample_weight)
    if sample_weight is not None:
        w = _weights_like(values, sample_weight)
        values = values * w
    total = K.sum(values)
    if reduction == "sum":
        return total
    if reduction == "mean_with_sample_weight" and sample_weight is not None:
        denom = float(np.sum(np.broadcast_to(w, values.shape)))
    else:
        denom = float(np.prod(values.shape))
    return total * (1.0 / denom) if denom else total * 0.0


def _weights_like(values, sample_weight):
    """sample_weight as float32 numpy, brought to the rank of `values` (Keras squeeze/expand rule)."""
    w = np.asarray(sample_weight, dtype=np.float32)
    v_shape = tuple(values.shape)
    if w.ndim == len(v_shape) + 1 and w.shape[-1] == 1:
        w = w.reshape(w.shape[:-1])
    while w.ndim < len(v_shape):
        w = w[..., None]
    return w


class Loss:
    """Base class of losses: subclasses implement `call(y_true, y_pred)` -> per-sample values."""

    def __init__(self, name=None, reduction="sum_over_batch_size", dtype=None):
        self.name = name or _snake(type(self).__name__)
        self.reduction = standardize_reduction(reduction)
        self.dtype = dtype or "float32"

    def __call__(self, y_true, y_pred, sample_weight=None):
        values = self.call(y_true, y_pred)
        return reduce_weighted_values(values, sample_weight, self.reduction)

    def call(self, y_true, y_pred):
        raise NotImplementedError(f"{type(self).__name__} must implement call(y_true, y_pred)")

    def get_config(self):
        return {"name": self.name, "reduction": self.reduction}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}>"


def _snake(name):
    out = []
    for i, c in enumerate(name):
        if c.isupper() and i and not name[i - 1].isupper():
            out.append("_")
        out.append(c.lower())
    return "".join(out)


class LossFunctionWrapper(Loss):
    """A Loss computing `fn(y_true, y_pred, **kwargs)` per sample."""

    def __init__(self, fn, reduction="sum_over_batch_size", name=None, dtype=None, **kwargs):
        super().__init__(name=name or getattr(fn, "__name__", None), reduction=reduction, dtype=dtype)
        self.fn = fn
        self._fn_kwargs = kwargs

    def call(self, y_true, y_pred):
        return self.fn(y_true, y_pred, **self._fn_kwargs)

    def get_config(self):
        config = super().get_config()
        config.update(self._fn_kwargs)
        return config


def _loss_class(cls_name, fn, default_name, doc, params=()):
    """A LossFunctionWrapper subclass with Keras's signature `(<params>, reduction, name, dtype)`."""

    def __init__(self, *args, reduction="sum_over_batch_size", name=default_name, dtype=None, **kwargs):
        values = dict(params)
        for (key, _), arg in zip(params, args):
            values[key] = arg
        for key in kwargs:
            if key not in values:
                raise TypeError(f"{cls_name}() got an unexpected keyword argument {key!r}")
        values.update(kwargs)
        LossFunctionWrapper.__init__(self, fn, reduction=reduction, name=name, dtype=dtype, **values)
        for key, value in values.items():
            setattr(self, key, value)

    return type(cls_name, (LossFunctionWrapper,), {"__init__": __init__, "__doc__": doc})


MeanSquaredError = _loss_class("MeanSquaredError", mean_squared_error, "mean_squared_error",
                               "Mean of squares of errors between labels and predictions.")
MeanAbsoluteError = _loss_class("MeanAbsoluteError", mean_absolute_error, "mean_absolute_error",
                                "Mean of absolute errors between labels and predictions.")
MeanAbsolutePercentageError = _loss_class("MeanAbsolutePercentageError", mean_absolute_percentage_error,
                                          "mean_absolute_percentage_error", "Mean absolute percentage error.")
MeanSquaredLogarithmicError = _loss_class("MeanSquaredLogarithmicError", mean_squared_logarithmic_error,
                                          "mean_squared_logarithmic_error", "Mean squared logarithmic error.")
CosineSimilarity = _loss_class("CosineSimilarity", cosine_similarity, "cosine_similarity",
                               "Negated cosine similarity between labels and predictions.", (("axis", -1),))
Huber = _loss_class("Huber", huber, "huber_loss", "Huber loss: quadratic below `delta`, linear above.",
                    (("delta", 1.0),))
LogCosh = _loss_class("LogCosh", log_cosh, "log_cosh", "Logarithm of the hyperbolic cosine of the error.")
Hinge = _loss_class("Hinge", hinge, "hinge", "Hinge loss (labels in {-1, 1} or {0, 1}).")
SquaredHinge = _loss_class("SquaredHinge", squared_hinge, "squared_hinge", "Squared hinge loss.")
CategoricalHinge = _loss_class("CategoricalHinge", categorical_hinge, "categorical_hinge",
                               "Categorical hinge loss.")
KLDivergence = _loss_class("KLDivergence", kl_divergence, "kl_divergence", "Kullback-Leibler divergence.")
Poisson = _loss_class("Poisson", poisson, "poisson", "Poisson loss.")
BinaryCrossentropy = _loss_class(
    "BinaryCrossentropy", binary_crossentropy, "binary_crossentropy",
    "Crossentropy between binary labels and predicted probabilities (or logits with from_logits=True).",
    (("from_logits", False), ("label_smoothing", 0.0), ("axis", -1)))
CategoricalCrossentropy = _loss_class(
    "CategoricalCrossentropy", categorical_crossentropy, "categorical_crossentropy",
    "Crossentropy between one-hot labels and predicted class probabilities (or logits).",
    (("from_logits", False), ("label_smoothing", 0.0), ("axis", -1)))
SparseCategoricalCrossentropy = _loss_class(
    "SparseCategoricalCrossentropy", sparse_categorical_crossentropy, "sparse_categorical_crossentropy",
    "Crossentropy between integer labels and predicted class probabilities (or logits).",
    (("from_logits", False), ("ignore_class", None), ("axis", -1)))

_FUNCTIONS = {
    f.__name__: f
    for f in (mean_squared_error, mean_absolute_error, mean_absolute_percentage_error,
              mean_squared_logarithmic_error, cosine_similarity, huber, log_cosh, hinge, squared_hinge,
              categorical_hinge, kl_divergence, poisson, binary_crossentropy, categorical_crossentropy,
              sparse_categorical_crossentropy)
}
_FUNCTIONS.update({
    "mse": mse, "MSE": MSE, "mae": mae, "MAE": MAE, "mape": mape, "MAPE": MAPE, "msle": msle, "MSLE": MSLE,
    "kld": kld, "KLD": KLD, "kullback_leibler_divergence": kl_divergence, "logcosh": log_cosh,
    "cosine_proximity": cosine_similarity, "huber_loss": huber,
})
_CLASSES = {
    c.__name__: c
    for c in (Loss, LossFunctionWrapper, MeanSquaredError, MeanAbsoluteError, MeanAbsolutePercentageError,
              MeanSquaredLogarithmicError, CosineSimilarity, Huber, LogCosh, Hinge, SquaredHinge, CategoricalHinge,
              KLDivergence, Poisson, BinaryCrossentropy, CategoricalCrossentropy, SparseCategoricalCrossentropy)
}


def serialize(loss):
    if isinstance(loss, Loss):
        return {"module": "keras.losses", "class_name": type(loss).__name__, "config": loss.get_config(),
                "registered_name": None}
    return getattr(loss, "__name__", str(loss))


def deserialize(config, custom_objects=None):
    if isinstance(config, str):
        return get(config)
    name = config["class_name"]
    cls = (custom_objects or {}).get(name) or _CLASSES.get(name)
    if cls is None:
        raise ValueError(f"Unknown loss: {name!r}")
    return cls.from_config(dict(config.get("config", {})))


def get(identifier):
    """A loss function or Loss from a name ('mse', 'categorical_crossentropy', 'Huber'), a config dict,
    a Loss (returned as is) or a callable. Raises ValueError for unknown names."""
    if identifier is None:
        return None
    if isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, str):
        if identifier in _FUNCTIONS:
            return _FUNCTIONS[identifier]
        if identifier in _CLASSES and identifier not in ("Loss", "LossFunctionWrapper"):
            return _CLASSES[identifier]()
        known = sorted(set(_FUNCTIONS) | (set(_CLASSES) - {"Loss", "LossFunctionWrapper"}))
        raise ValueError(f"Could not interpret loss identifier: {identifier!r}. Known losses: {', '.join(known)}")
    if isinstance(identifier, type) and issubclass(identifier, Loss):
        return identifier()
    if callable(identifier):
        return identifier
    raise ValueError(f"Could not interpret loss identifier: {identifier!r}")

"""Metrics: stateful Metric classes and per-sample metric functions (Keras 3 names, plus the
classic short names such as 'acc', 'mse', 'mae', 'kld', 'cosine_proximity')."""
from pykeras.metrics.base import Mean, MeanMetricWrapper, Metric, Sum
from pykeras.metrics.classes import (AUC, Accuracy, BinaryAccuracy, BinaryCrossentropy, CategoricalAccuracy,
                                     CategoricalCrossentropy, CategoricalHinge, CosineSimilarity, Hinge,
                                     KLDivergence, LogCoshError, MeanAbsoluteError, MeanAbsolutePercentageError,
                                     MeanSquaredError, MeanSquaredLogarithmicError, Poisson, Precision, Recall,
                                     RootMeanSquaredError, SparseCategoricalAccuracy, SparseCategoricalCrossentropy,
                                     SparseTopKCategoricalAccuracy, SquaredHinge, TopKCategoricalAccuracy)
from pykeras.metrics.functions import (KLD, MAE, MAPE, MSE, MSLE, accuracy, binary_accuracy, binary_crossentropy,
                                       categorical_accuracy, categorical_crossentropy, categorical_hinge,
                                       cosine_proximity, cosine_similarity, hinge, huber, kl_divergence, kld,
                                       kullback_leibler_divergence, log_cosh, logcosh, mae, mape,
                                       mean_absolute_error, mean_absolute_percentage_error, mean_squared_error,
                                       mean_squared_logarithmic_error, mse, msle, poisson,
                                       sparse_categorical_accuracy, sparse_categorical_crossentropy,
                                       sparse_top_k_categorical_accuracy, squared_hinge, top_k_categorical_accuracy)

_FUNCTIONS = {
    f.__name__: f
    for f in (accuracy, binary_accuracy, categorical_accuracy, sparse_categorical_accuracy,
              top_k_categorical_accuracy, sparse_top_k_categorical_accuracy, mean_squared_error,
              mean_absolute_error, mean_absolute_percentage_error, mean_squared_logarithmic_error, hinge,
              squared_hinge, categorical_hinge, kl_divergence, poisson, log_cosh, huber, binary_crossentropy,
              categorical_crossentropy, sparse_categorical_crossentropy, cosine_proximity)
}
_FUNCTIONS.update({
    "acc": accuracy, "mse": mse, "MSE": MSE, "mae": mae, "MAE": MAE, "mape": mape, "MAPE": MAPE, "msle": msle,
    "MSLE": MSLE, "kld": kld, "KLD": KLD, "kullback_leibler_divergence": kl_divergence, "logcosh": log_cosh,
})

_CLASSES = {
    c.__name__: c
    for c in (Mean, Sum, MeanMetricWrapper, Accuracy, BinaryAccuracy, CategoricalAccuracy, SparseCategoricalAccuracy,
              TopKCategoricalAccuracy, SparseTopKCategoricalAccuracy, MeanSquaredError, MeanAbsoluteError,
              MeanAbsolutePercentageError, MeanSquaredLogarithmicError, RootMeanSquaredError, CosineSimilarity,
              LogCoshError, Hinge, SquaredHinge, CategoricalHinge, KLDivergence, Poisson, BinaryCrossentropy,
              CategoricalCrossentropy, SparseCategoricalCrossentropy, Precision, Recall, AUC)
}
# Names that denote a stateful class rather than a per-sample function.
_CLASS_ALIASES = {"cosine_similarity": CosineSimilarity, "auc": AUC, "precision": Precision, "recall": Recall,
                  "root_mean_squared_error": RootMeanSquaredError, "rmse": RootMeanSquaredError}


def serialize(metric):
    return {"module": "keras.metrics", "class_name": type(metric).__name__, "config": metric.get_config(),
            "registered_name": None}


def deserialize(config, custom_objects=None):
    name = config["class_name"]
    cls = (custom_objects or {}).get(name) or _CLASSES.get(name)
    if cls is None:
        raise ValueError(f"Unknown metric: {name!r}")
    return cls.from_config(dict(config.get("config", {})))


def get(identifier):
    """A metric function or Metric instance from a name, a config dict, a function or a Metric.

    Raises ValueError for an unknown name (listing the known ones).
    """
    if identifier is None:
        return None
    if isinstance(identifier, Metric):
        return identifier
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, str):
        if identifier in _FUNCTIONS:
            return _FUNCTIONS[identifier]
        if identifier in _CLASS_ALIASES:
            return _CLASS_ALIASES[identifier]()
        if identifier in _CLASSES:
            return _CLASSES[identifier]()
        known = sorted(set(_FUNCTIONS) | set(_CLASSES) | set(_CLASS_ALIASES))
        raise ValueError(f"Could not interpret metric identifier: {identifier!r}. Known metrics: {', '.join(known)}")
    if isinstance(identifier, type) and issubclass(identifier, Metric):
        return identifier()
    if callable(identifier):
        return identifier
    raise ValueError(f"Could not interpret metric identifier: {identifier!r}")

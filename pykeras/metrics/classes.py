"""Keras's metric classes: accuracies, regression and probabilistic metrics, and confusion-matrix
metrics (Precision, Recall, AUC). Names and defaults as in Keras 3."""
import numpy as np

from pykeras.metrics import functions as F
from pykeras.metrics.base import Metric, MeanMetricWrapper


def _wrapper(fn, default_name, doc, **fixed):
    """A MeanMetricWrapper subclass over `fn` with Keras's default name."""

    def __init__(self, name=default_name, dtype=None, **kwargs):
        merged = dict(fixed)
        merged.update(kwargs)
        MeanMetricWrapper.__init__(self, fn, name=name, dtype=dtype, **merged)

    return __init__, doc


def _simple(cls_name, fn, default_name, doc):
    init, doc = _wrapper(fn, default_name, doc)
    direction = "up" if "accuracy" in default_name else "down"
    return type(cls_name, (MeanMetricWrapper,), {"__init__": init, "__doc__": doc, "_direction": direction,
                                                  "get_config": Metric.get_config})


Accuracy = _simple("Accuracy", F.accuracy, "accuracy", "How often predictions equal labels.")
CategoricalAccuracy = _simple("CategoricalAccuracy", F.categorical_accuracy, "categorical_accuracy",
                              "How often the argmax of the prediction equals the argmax of the one-hot label.")
SparseCategoricalAccuracy = _simple("SparseCategoricalAccuracy", F.sparse_categorical_accuracy,
                                    "sparse_categorical_accuracy",
                                    "How often the argmax of the prediction equals the integer label.")
MeanSquaredError = _simple("MeanSquaredError", F.mean_squared_error, "mean_squared_error",
                           "Mean of the squared errors.")
MeanAbsoluteError = _simple("MeanAbsoluteError", F.mean_absolute_error, "mean_absolute_error",
                            "Mean of the absolute errors.")
MeanAbsolutePercentageError = _simple("MeanAbsolutePercentageError", F.mean_absolute_percentage_error,
                                      "mean_absolute_percentage_error", "Mean absolute percentage error.")
MeanSquaredLogarithmicError = _simple("MeanSquaredLogarithmicError", F.mean_squared_logarithmic_error,
                                      "mean_squared_logarithmic_error", "Mean squared logarithmic error.")
LogCoshError = _simple("LogCoshError", F.log_cosh, "logcosh", "Mean of log(cosh(error)).")
Hinge = _simple("Hinge", F.hinge, "hinge", "Hinge loss as a metric.")
SquaredHinge = _simple("SquaredHinge", F.squared_hinge, "squared_hinge", "Squared hinge loss as a metric.")
CategoricalHinge = _simple("CategoricalHinge", F.categorical_hinge, "categorical_hinge",
                           "Categorical hinge loss as a metric.")
KLDivergence = _simple("KLDivergence", F.kl_divergence, "kl_divergence", "Kullback-Leibler divergence.")
Poisson = _simple("Poisson", F.poisson, "poisson", "Poisson loss as a metric.")


class BinaryAccuracy(MeanMetricWrapper):
    """How often `y_pred > threshold` matches the binary label."""

    _direction = "up"

    def __init__(self, name="binary_accuracy", dtype=None, threshold=0.5):
        super().__init__(F.binary_accuracy, name=name, dtype=dtype, threshold=threshold)
        self.threshold = threshold


class TopKCategoricalAccuracy(MeanMetricWrapper):
    """How often the one-hot label is among the k highest predictions."""

    _direction = "up"

    def __init__(self, k=5, name="top_k_categorical_accuracy", dtype=None):
        super().__init__(F.top_k_categorical_accuracy, name=name, dtype=dtype, k=k)
        self.k = k


class SparseTopKCategoricalAccuracy(MeanMetricWrapper):
    """How often the integer label is among the k highest predictions."""

    _direction = "up"

    def __init__(self, k=5, name="sparse_top_k_categorical_accuracy", dtype=None, from_sorted_ids=False):
        super().__init__(F.sparse_top_k_categorical_accuracy, name=name, dtype=dtype, k=k,
                         from_sorted_ids=from_sorted_ids)
        self.k = k


class CosineSimilarity(MeanMetricWrapper):
    """Mean cosine similarity between labels and predictions."""

    _direction = "up"

    def __init__(self, name="cosine_similarity", dtype=None, axis=-1):
        super().__init__(F.cosine_similarity, name=name, dtype=dtype, axis=axis)


class BinaryCrossentropy(MeanMetricWrapper):
    """Binary crossentropy between labels and predictions, as a metric."""

    _direction = "down"

    def __init__(self, name="binary_crossentropy", dtype=None, from_logits=False, label_smoothing=0.0):
        super().__init__(F.binary_crossentropy, name=name, dtype=dtype, from_logits=from_logits,
                         label_smoothing=label_smoothing)


class CategoricalCrossentropy(MeanMetricWrapper):
    """Categorical crossentropy between one-hot labels and predictions, as a metric."""

    _direction = "down"

    def __init__(self, name="categorical_crossentropy", dtype=None, from_logits=False, label_smoothing=0.0,
                 axis=-1):
        super().__init__(F.categorical_crossentropy, name=name, dtype=dtype, from_logits=from_logits,
                         label_smoothing=label_smoothing, axis=axis)


class SparseCategoricalCrossentropy(MeanMetricWrapper):
    """Crossentropy between integer labels and predictions, as a metric."""

    _direction = "down"

    def __init__(self, name="sparse_categorical_crossentropy", dtype=None, from_logits=False, axis=-1):
        super().__init__(F.sparse_categorical_crossentropy, name=name, dtype=dtype, from_logits=from_logits,
                         axis=axis)


class RootMeanSquaredError(Metric):
    """sqrt of the (weighted) mean squared error over all samples seen."""

    _direction = "down"

    def __init__(self, name="root_mean_squared_error", dtype=None):
        super().__init__(name=name, dtype=dtype)
        self._mse = MeanSquaredError()

    def update_state(self, y_true, y_pred, sample_weight=None):
        self._mse.update_state(y_true, y_pred, sample_weight)

    def result(self):
        return np.float32(np.sqrt(self._mse.result()))

    def reset_state(self):
        self._mse.reset_state()


# -- confusion-matrix metrics --------------------------------------------------------------------
def _confusion_inputs(y_true, y_pred, sample_weight, class_id, top_k):
    y_true = np.asarray(y_true, dtype=np.float64)
    y_pred = np.asarray(y_pred, dtype=np.float64)
    y_true, y_pred = F.same_rank(y_true, y_pred)
    if top_k is not None:
        # Keep only each row's top-k predictions; the others can never be positive.
        kth = -np.sort(-y_pred, axis=-1)[..., top_k - 1: top_k]
        y_pred = np.where(y_pred >= kth, y_pred, -np.inf)
    if class_id is not None:
        y_true = y_true[..., class_id]
        y_pred = y_pred[..., class_id]
    w = np.ones_like(y_pred)
    if sample_weight is not None:
        sw = np.asarray(sample_weight, dtype=np.float64)
        while sw.ndim < y_pred.ndim:
            sw = sw[..., None]
        w = w * sw
    return y_true.ravel(), y_pred.ravel(), w.ravel()


def _ratio(a, b):
    """a / b, 0 where b is 0 (Keras's divide_no_nan)."""
    safe = np.where(b == 0, 1.0, b)
    return np.where(b == 0, 0.0, a / safe)


class _ThresholdCounts(Metric):
    """True/false positives/negatives at a list of thresholds (a prediction > threshold is positive)."""

    def __init__(self, thresholds, name, dtype, class_id=None, top_k=None):
        super().__init__(name=name, dtype=dtype)
        self.thresholds = np.atleast_1d(np.asarray(thresholds, dtype=np.float64))
        self.class_id = class_id
        self.top_k = top_k
        self.reset_state()

    def reset_state(self):
        n = len(self.thresholds)
        self.true_positives = np.zeros(n)
        self.false_positives = np.zeros(n)
        self.true_negatives = np.zeros(n)
        self.false_negatives = np.zeros(n)

    def update_state(self, y_true, y_pred, sample_weight=None):
        t, p, w = _confusion_inputs(y_true, y_pred, sample_weight, self.class_id, self.top_k)
        pos = t > 0.5
        predicted = p[None, :] > self.thresholds[:, None]
        self.true_positives += (predicted & pos) @ w
        self.false_positives += (predicted & ~pos) @ w
        self.true_negatives += (~predicted & ~pos) @ w
        self.false_negatives += (~predicted & pos) @ w


class Precision(_ThresholdCounts):
    """true positives / (true positives + false positives), at `thresholds` (default 0.5)."""

    _direction = "up"

    def __init__(self, thresholds=None, top_k=None, class_id=None, name="precision", dtype=None):
        self.init_thresholds = thresholds
        super().__init__(0.5 if thresholds is None else thresholds, name, dtype, class_id, top_k)

    def result(self):
        denom = self.true_positives + self.false_positives
        r = np.where(denom > 0, self.true_positives / np.where(denom > 0, denom, 1), 0.0).astype(np.float32)
        return r[0] if np.ndim(self.init_thresholds) == 0 else r

    def get_config(self):
        config = super().get_config()
        config.update({"thresholds": self.init_thresholds, "top_k": self.top_k, "class_id": self.class_id})
        return config


class Recall(_ThresholdCounts):
    """true positives / (true positives + false negatives), at `thresholds` (default 0.5)."""

    _direction = "up"

    def __init__(self, thresholds=None, top_k=None, class_id=None, name="recall", dtype=None):
        self.init_thresholds = thresholds
        super().__init__(0.5 if thresholds is None else thresholds, name, dtype, class_id, top_k)

    def result(self):
        denom = self.true_positives + self.false_negatives
        r = np.where(denom > 0, self.true_positives / np.where(denom > 0, denom, 1), 0.0).astype(np.float32)
        return r[0] if np.ndim(self.init_thresholds) == 0 else r

    def get_config(self):
        config = super().get_config()
        config.update({"thresholds": self.init_thresholds, "top_k": self.top_k, "class_id": self.class_id})
        return config


class AUC(_ThresholdCounts):
    """Area under the ROC or precision-recall curve, from confusion counts at `num_thresholds`
    _direction = "up"
    evenly spaced thresholds in [0, 1] (plus one just below 0 and one just above 1, as Keras),
    integrated with the trapezoidal rule."""

    def __init__(self, num_thresholds=200, curve="ROC", summation_method="interpolation", name="auc",
                 dtype=None, thresholds=None, multi_label=False, num_labels=None, label_weights=None,
                 from_logits=False):
        if curve.upper() not in ("ROC", "PR"):
            raise ValueError(f'Invalid AUC curve value: "{curve}". Expected values are ["ROC", "PR"]')
        if summation_method not in ("interpolation", "minoring", "majoring"):
            raise ValueError(f'Invalid AUC summation method value: "{summation_method}". Expected values are '
                             '["interpolation", "majoring", "minoring"]')
        if num_thresholds <= 1 and thresholds is None:
            raise ValueError(f"Argument `num_thresholds` must be an integer > 1. Received: num_thresholds={num_thresholds}")
        if thresholds is None:
            inner = [(i + 1) * 1.0 / (num_thresholds - 1) for i in range(num_thresholds - 2)]
        else:
            inner = sorted(thresholds)
        self.num_thresholds = len(inner) + 2
        self.curve = curve.upper()
        self.summation_method = summation_method
        self.from_logits = from_logits
        self.multi_label = multi_label
        eps = 1e-7
        super().__init__([-eps] + list(inner) + [1.0 + eps], name, dtype)

    def update_state(self, y_true, y_pred, sample_weight=None):
        if self.from_logits:
            y_pred = 1.0 / (1.0 + np.exp(-np.asarray(y_pred, dtype=np.float64)))
        super().update_state(y_true, y_pred, sample_weight)

    def result(self):
        tp, fp, tn, fn = self.true_positives, self.false_positives, self.true_negatives, self.false_negatives
        if self.curve == "PR" and self.summation_method == "interpolation":
            return np.float32(self._interpolated_pr_auc())
        recall = _ratio(tp, tp + fn)
        if self.curve == "ROC":
            x, y = _ratio(fp, fp + tn), recall
        else:
            x, y = recall, _ratio(tp, tp + fp)
        # Thresholds ascend, so x descends: a Riemann sum over consecutive pairs.
        if self.summation_method == "minoring":
            heights = np.minimum(y[:-1], y[1:])
        elif self.summation_method == "majoring":
            heights = np.maximum(y[:-1], y[1:])
        else:
            heights = (y[:-1] + y[1:]) / 2.0
        return np.float32(np.sum((x[:-1] - x[1:]) * heights))

    def _interpolated_pr_auc(self):
        """Davis & Goadrich's interpolation of the precision-recall curve between thresholds
        (precision varies as a ratio of linear functions of the positive count), as Keras."""
        tp, fp, fn = self.true_positives, self.false_positives, self.false_negatives
        dtp = tp[:-1] - tp[1:]
        p = tp + fp
        dp = p[:-1] - p[1:]
        slope = _ratio(dtp, np.maximum(dp, 0))
        intercept = tp[1:] - slope * p[1:]
        both = (p[:-1] > 0) & (p[1:] > 0)
        p_ratio = np.where(both, _ratio(p[:-1], np.maximum(p[1:], 0)), 1.0)
        increments = _ratio(slope * (dtp + intercept * np.log(p_ratio)), np.maximum(tp[1:] + fn[1:], 0))
        return np.sum(increments)

    def get_config(self):
        config = Metric.get_config(self)
        config.update({"num_thresholds": self.num_thresholds, "curve": self.curve,
                       "summation_method": self.summation_method, "from_logits": self.from_logits})
        return config

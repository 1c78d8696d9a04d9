"""Stateful metrics: `update_state` accumulates, `result` reads, `reset_state` clears.

State is kept in float64 numpy scalars/arrays (exact enough for millions of samples); `result()`
returns a numpy float32 scalar, usable with float(), formatting and arithmetic. Sample weights
follow Keras: values and weights are brought to the same rank, extra trailing axes of the values
are averaged per sample, and the mean is sum(values * weights) / sum(weights).
"""
import numpy as np

from pykeras.metrics.functions import same_rank

_name_counts = {}


def _auto_name(cls_name):
    out = []
    for i, c in enumerate(cls_name):
        if c.isupper() and i and (not cls_name[i - 1].isupper() or (i + 1 < len(cls_name) and cls_name[i + 1].islower())):
            out.append("_")
        out.append(c.lower())
    return "".join(out)


class Metric:
    """Base class: subclasses implement `update_state`, `result` and `reset_state`."""

    def __init__(self, name=None, dtype=None):
        self.name = name or _auto_name(type(self).__name__)
        self._dtype = dtype or "float32"

    @property
    def dtype(self):
        return self._dtype

    def update_state(self, *args, **kwargs):
        raise NotImplementedError

    def result(self):
        raise NotImplementedError

    def reset_state(self):
        raise NotImplementedError

    # The Keras 2 spelling.
    def reset_states(self):
        self.reset_state()

    def __call__(self, *args, **kwargs):
        """Updates the state with one batch and returns the result so far."""
        self.update_state(*args, **kwargs)
        return self.result()

    @property
    def variables(self):
        """The metric's state arrays."""
        return [v for v in self.__dict__.values() if isinstance(v, np.ndarray)]

    def get_config(self):
        return {"name": self.name, "dtype": self._dtype}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}>"


def weighted_sums(values, sample_weight):
    """(sum of weighted values, sum of weights) for one batch."""
    if sample_weight is None:
        if isinstance(values, float):
            return values, 1.0
        values = np.asarray(values)
        return float(np.add.reduce(values, axis=None, dtype=np.float64)), float(values.size)
    if isinstance(values, float) and isinstance(sample_weight, (int, float)):
        return values * sample_weight, float(sample_weight)
    values = np.asarray(values, dtype=np.float64)
    w = np.asarray(sample_weight, dtype=np.float64)
    values, w = same_rank(values, w)
    if values.ndim > w.ndim:
        values = np.mean(values, axis=tuple(range(w.ndim, values.ndim)))
    w = np.broadcast_to(w, values.shape)
    return float(np.sum(values * w)), float(np.sum(w))


class Mean(Metric):
    """The (weighted) mean of the values given."""

    def __init__(self, name="mean", dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.reset_state()

    def reset_state(self):
        self.total = 0.0
        self.count = 0.0

    def update_state(self, values, sample_weight=None):
        total, count = weighted_sums(values, sample_weight)
        self.total += total
        self.count += count

    def result(self):
        return np.float32(self.total / self.count) if self.count else np.float32(0.0)


class Sum(Metric):
    """The (weighted) sum of the values given."""

    def __init__(self, name="sum", dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.reset_state()

    def reset_state(self):
        self.total = 0.0

    def update_state(self, values, sample_weight=None):
        self.total += weighted_sums(values, sample_weight)[0]

    def result(self):
        return np.float32(self.total)


class MeanMetricWrapper(Mean):
    """The mean of `fn(y_true, y_pred, **kwargs)` over all samples seen."""

    def __init__(self, fn, name=None, dtype=None, **kwargs):
        super().__init__(name=name or getattr(fn, "__name__", "mean_metric_wrapper"), dtype=dtype)
        self._fn = fn
        self._fn_kwargs = kwargs

    def update_state(self, y_true, y_pred, sample_weight=None):
        values = np.asarray(self._fn(y_true, y_pred, **self._fn_kwargs))
        super().update_state(values, sample_weight=sample_weight)

    def get_config(self):
        config = super().get_config()
        if type(self) is MeanMetricWrapper:
            config["fn"] = self._fn
        config.update(self._fn_kwargs)
        return config

"""Trainer: compile / fit / evaluate / predict and the *_on_batch methods, mixed into Model.

The model side provides (API_CONTRACTS.md section 2): `self(x, training=...)`, `trainable_weights`,
`losses` (regularization losses of the last call), `get_weights`/`set_weights`, `layers`,
`output_names`, `built`/`build` and the `stop_training` attribute.

How a training step runs (`_train_step`): the forward pass under a `GradientTape`, the compiled
loss (per-output loss functions, sample weights, loss weights) plus the model's regularization
losses, `tape.gradient` over the trainable weights, and one `optimizer.apply`. Everything that can
be decided once is decided once: `compile` resolves optimizer, losses and metrics; the first batch
fixes the output structure (and "accuracy"/"crossentropy" become their binary, categorical or
sparse variant); `fit` converts the data to float32 once and caches the trainable weights. Per
batch there is one gather of the batch rows, the step, and numpy metric updates on the outputs
(metrics are not differentiated, so they never touch the tape).

Logs follow Keras 3: keys sorted by name (as History shows them: accuracy, loss, val_accuracy,
val_loss), values are Python floats, "loss" is the batch-size-weighted running mean of the total
loss over the epoch, multi-output models add "<output>_loss" and "<output>_<metric>".
"""
import math
import warnings

import numpy as np

from pykeras import callbacks as callbacks_module
from pykeras import losses as losses_module
from pykeras import metrics as metrics_module
from pykeras import optimizers as optimizers_module
from pykeras.metrics.base import Mean, MeanMetricWrapper, Metric
from pykeras.utils.py_dataset import PyDataset


def _K():
    from pykeras import backend

    return backend


# =============================================================================================
# Data: arrays, generators and PyDatasets behind one batch interface
# =============================================================================================
def _flatten(struct):
    if struct is None:
        return []
    if isinstance(struct, dict):
        out = []
        for v in struct.values():
            out.extend(_flatten(v))
        return out
    if isinstance(struct, (list, tuple)):
        out = []
        for s in struct:
            out.extend(_flatten(s))
        return out
    return [struct]


def _map(fn, struct):
    if struct is None:
        return None
    if isinstance(struct, dict):
        return {k: _map(fn, v) for k, v in struct.items()}
    if isinstance(struct, (list, tuple)):
        return type(struct)(_map(fn, s) for s in struct) if isinstance(struct, list) else tuple(_map(fn, s) for s in struct)
    return fn(struct)


def _to_array(x):
    """A numpy array for one input/target; floating data becomes float32 (once, here)."""
    if isinstance(x, np.ndarray):
        arr = x
    elif hasattr(x, "__array__") or isinstance(x, (list, tuple, int, float)):
        arr = np.asarray(x)
    else:
        raise TypeError(
            f"Unrecognized data type: {type(x).__name__}. Expected numpy arrays (or lists/dicts of them), a Python "
            "generator, or a pykeras.utils.PyDataset."
        )
    if arr.dtype.kind == "f" and arr.dtype != np.float32:
        arr = arr.astype(np.float32)
    elif arr.dtype == np.bool_:
        arr = arr.astype(np.float32)
    elif arr.dtype.kind in "OUS":
        raise TypeError(f"Unsupported data dtype {arr.dtype}: pass numeric numpy arrays")
    return arr


def _standardize(struct):
    if struct is None:
        return None
    if isinstance(struct, dict):
        return {k: _to_array(v) for k, v in struct.items()}
    if isinstance(struct, (list, tuple)):
        if all(np.isscalar(s) for s in struct):  # a plain list of numbers is one array
            return _to_array(struct)
        return [_standardize(s) for s in struct]
    return _to_array(struct)


def _num_samples(x, y, sample_weight):
    sizes = {}
    for label, data in (("x", x), ("y", y), ("sample_weight", sample_weight)):
        arrays = _flatten(data)
        if arrays:
            sizes[label] = [a.shape[0] if a.ndim else 1 for a in arrays]
    all_sizes = {s for v in sizes.values() for s in v}
    if len(all_sizes) > 1:
        msg = "Data cardinality is ambiguous. Make sure all arrays contain the same number of samples."
        for label, s in sizes.items():
            msg += f"\n'{label}' sizes: {', '.join(map(str, s))}"
        raise ValueError(msg)
    if not all_sizes:
        raise ValueError("No data provided: `x` is empty")
    return all_sizes.pop()


def class_weight_to_sample_weights(y, class_weight):
    """Per-sample weights looked up from the class of each label (integer or one-hot)."""
    y = np.asarray(y)
    if y.ndim > 1 and y.shape[-1] > 1:
        labels = np.argmax(y, axis=-1)
    else:
        labels = np.round(y.reshape(y.shape[0], -1)[:, 0]).astype(np.int64) if y.ndim else y
    weights = np.ones(labels.shape, dtype=np.float32)
    for cls, w in class_weight.items():
        weights[labels == int(cls)] = w
    return weights


def _unpack(batch):
    """(x, y, sample_weight) from a batch yielded by a generator or PyDataset."""
    if isinstance(batch, tuple):
        if len(batch) == 1:
            return batch[0], None, None
        if len(batch) == 2:
            return batch[0], batch[1], None
        if len(batch) == 3:
            return batch
        raise ValueError(
            "Data is expected to be in format `x`, `(x,)`, `(x, y)`, or `(x, y, sample_weight)`, found a tuple of "
            f"{len(batch)} elements"
        )
    return batch, None, None


class _ArrayData:
    """Numpy inputs: batches by slicing, rows shuffled each epoch from numpy's global generator."""

    def __init__(self, x, y, sample_weight, batch_size, shuffle, class_weight=None, steps=None):
        self.x = _standardize(x)
        self.y = _standardize(y)
        self.sample_weight = _standardize(sample_weight)
        if class_weight is not None:
            if self.sample_weight is not None:
                raise ValueError("You cannot `class_weight` and `sample_weight` at the same time.")
            if len(_flatten(self.y)) != 1:
                raise ValueError("`class_weight` is only supported for Models with a single output.")
            self.sample_weight = class_weight_to_sample_weights(_flatten(self.y)[0], class_weight)
        self.n = _num_samples(self.x, self.y, self.sample_weight)
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.steps = steps
        self.num_batches = steps if steps is not None else int(math.ceil(self.n / batch_size))

    def _take(self, idx):
        def fn(a):
            return a[idx]

        return _map(fn, self.x), _map(fn, self.y), _map(fn, self.sample_weight)

    def epoch(self):
        """Yields (x, y, sample_weight) for each batch of one epoch."""
        bs = self.batch_size
        nb = int(math.ceil(self.n / bs))
        # shuffle="batch" keeps each batch's rows together (contiguous slices) and shuffles the batch order.
        order = np.random.permutation(nb) if self.shuffle == "batch" else None
        perm = np.random.permutation(self.n) if self.shuffle and order is None else None
        for step in range(self.num_batches):
            b = step % nb
            if order is not None:
                b = int(order[b])
            if perm is None:
                yield self._take(slice(b * bs, (b + 1) * bs))
            else:
                yield self._take(perm[b * bs: (b + 1) * bs])

    def split(self, validation_split):
        """Splits off the last `validation_split` fraction (before any shuffling), as Keras does."""
        split_at = int(math.floor(self.n * (1.0 - validation_split)))
        if split_at == 0 or split_at == self.n:
            raise ValueError(
                f"Training data contains {self.n} samples, which is not sufficient to split it into a validation "
                f"and training set as specified by `validation_split={validation_split}`. Either provide more data, "
                "or a different value for the `validation_split` argument."
            )
        train = _map(lambda a: a[:split_at], (self.x, self.y, self.sample_weight))
        val = _map(lambda a: a[split_at:], (self.x, self.y, self.sample_weight))
        return train, val


class _IteratorData:
    """A Python generator/iterator of batches: `steps` batches per epoch, or until exhausted."""

    def __init__(self, iterable, steps):
        self.iterable = iterable
        self.iterator = iter(iterable)
        self.steps = steps
        self.num_batches = steps
        self.exhausted = False

    def epoch(self):
        if self.exhausted:
            return
        count = 0
        while self.steps is None or count < self.steps:
            try:
                batch = next(self.iterator)
            except StopIteration:
                if self.steps is not None:
                    warnings.warn(
                        "Your input ran out of data; interrupting training. Make sure that your dataset or "
                        "generator can generate at least `steps_per_epoch * epochs` batches.",
                        stacklevel=4,
                    )
                self.exhausted = True
                return
            count += 1
            x, y, sw = _unpack(batch)
            yield _standardize(x), _standardize(y), _standardize(sw)
        if self.steps is None:
            self.num_batches = count


class _DatasetData:
    """A PyDataset/Sequence: batches by index, batch order shuffled when asked; on_epoch_end after each."""

    def __init__(self, dataset, steps, shuffle):
        self.dataset = dataset
        self.steps = steps
        self.shuffle = shuffle
        n = dataset.num_batches if hasattr(dataset, "num_batches") else len(dataset)
        self.num_batches = n if steps is None else steps
        self._len = n

    def epoch(self):
        if hasattr(self.dataset, "on_epoch_begin"):
            self.dataset.on_epoch_begin()
        order = np.arange(self._len)
        if self.shuffle and self.shuffle != "batch":
            order = np.random.permutation(self._len)
        for step in range(self.num_batches):
            x, y, sw = _unpack(self.dataset[int(order[step % self._len])])
            yield _standardize(x), _standardize(y), _standardize(sw)
        if hasattr(self.dataset, "on_epoch_end"):
            self.dataset.on_epoch_end()


def _is_generator(x):
    return hasattr(x, "__next__") or (hasattr(x, "__iter__") and not isinstance(
        x, (np.ndarray, list, tuple, dict, str)) and not hasattr(x, "__array__"))


def _make_data(x, y=None, sample_weight=None, batch_size=None, steps=None, shuffle=False, class_weight=None,
               what="fit"):
    if isinstance(x, PyDataset) or (hasattr(x, "__getitem__") and hasattr(x, "__len__") and hasattr(x, "on_epoch_end")
                                    and not isinstance(x, (np.ndarray, list, tuple, dict))):
        _no_targets_with_dataset(y, sample_weight, batch_size, "a PyDataset")
        if class_weight is not None:
            raise ValueError("Argument `class_weight` is not supported for PyDataset inputs.")
        return _DatasetData(x, steps, shuffle)
    if _is_generator(x):
        _no_targets_with_dataset(y, sample_weight, batch_size, "a Python generator")
        if class_weight is not None:
            raise ValueError(f"Argument `class_weight` is not supported for Python generator inputs. "
                             f"Received: class_weight={class_weight}")
        return _IteratorData(x, steps)
    if x is None:
        raise ValueError(f"{what}: no input data was given (`x` is None)")
    return _ArrayData(x, y, sample_weight, batch_size or 32, shuffle, class_weight=class_weight, steps=steps)


def _no_targets_with_dataset(y, sample_weight, batch_size, kind):
    if y is not None:
        raise ValueError(f"When providing `x` as {kind}, `y` should not be passed: the batches carry the targets.")
    if sample_weight is not None:
        raise ValueError(f"When providing `x` as {kind}, `sample_weight` should not be passed.")
    if batch_size is not None:
        raise ValueError(f"When providing `x` as {kind}, `batch_size` should not be passed: the batches are "
                         "already formed.")


def _batch_size_of(x):
    for a in _flatten(x):
        return a.shape[0] if getattr(a, "ndim", 0) else 1
    return 0


# =============================================================================================
# Compiled losses and metrics
# =============================================================================================
def _kind_of_targets(y_true, y_pred, loss_fn=None):
    """'binary', 'sparse' or 'categorical', from the loss when it says, else from the shapes (Keras 3 rule)."""
    name = _loss_name(loss_fn) if loss_fn is not None else ""
    if "sparse_categorical" in name:
        return "sparse"
    if "binary" in name:
        return "binary"
    t_shape, p_shape = np.shape(y_true), tuple(y_pred.shape)
    if p_shape[-1:] == (1,) or len(p_shape) == 1:
        return "binary"
    if len(t_shape) < len(p_shape) or (t_shape[-1:] == (1,) and p_shape[-1] > 1):
        return "sparse"
    return "categorical"


def _loss_name(fn):
    if isinstance(fn, losses_module.LossFunctionWrapper):
        return getattr(fn.fn, "__name__", fn.name)
    if isinstance(fn, losses_module.Loss):
        return fn.name
    return getattr(fn, "__name__", "")


def _object_name(obj):
    if isinstance(obj, str):
        return obj
    name = getattr(obj, "name", None) or getattr(obj, "__name__", None)
    if name is None:
        name = losses_module._snake(type(obj).__name__)
    return name


class _OutputLoss:
    """The loss of one output: a per-sample function (or Loss object) and its weight."""

    def __init__(self, identifier, weight, y_true, y_pred):
        if isinstance(identifier, str) and identifier.lower() in ("crossentropy", "ce"):
            kind = _kind_of_targets(y_true, y_pred)
            identifier = {"binary": "binary_crossentropy", "sparse": "sparse_categorical_crossentropy",
                          "categorical": "categorical_crossentropy"}[kind]
        fn = losses_module.get(identifier)
        self.is_loss_object = isinstance(fn, losses_module.Loss)
        self.fn = fn
        self.weight = 1.0 if weight is None else float(weight)
        self.name = _object_name(identifier) if isinstance(identifier, str) else _object_name(fn)

    def __call__(self, y_true, y_pred, sample_weight):
        """The output's loss, before its loss weight (the per-output log shows it unweighted)."""
        if self.is_loss_object:
            value = self.fn(y_true, y_pred, sample_weight=sample_weight)
        else:
            values = self.fn(y_true, y_pred)
            value = losses_module.reduce_weighted_values(values, sample_weight, "sum_over_batch_size")
        return value


def _per_output(spec, output_names, what, allow_broadcast=True):
    """A list with one entry per output from a single value, a list or a dict keyed by output name."""
    n = len(output_names)
    if isinstance(spec, dict):
        unknown = [k for k in spec if k not in output_names]
        if unknown:
            raise ValueError(f"Unknown entries in {what} dictionary: {unknown}. Only expected the following keys: "
                             f"{list(output_names)}")
        return [spec.get(name) for name in output_names]
    if isinstance(spec, (list, tuple)):
        if len(spec) == n:
            return list(spec)
        if n == 1:
            return [spec]
        if allow_broadcast:
            return [spec] * n
        raise ValueError(f"When passing a list as `{what}`, it should have one entry per model output. The model has "
                         f"{n} outputs, but you passed {what}={spec}")
    return [spec] * n


class _CompiledMetrics:
    """The compile-time metrics, resolved against the first batch's targets and outputs."""

    def __init__(self, metrics, weighted_metrics, loss):
        for arg, value in (("metrics", metrics), ("weighted_metrics", weighted_metrics)):
            if value and not isinstance(value, (list, tuple, dict)):
                raise ValueError(f"Expected `{arg}` argument to be a list, tuple, or dict. Received instead: "
                                 f"{arg}={value} of type {type(value)}")
        self._user = metrics
        self._user_weighted = weighted_metrics
        self._loss = loss
        self.built = False
        self.entries = []  # (output index, metric object, weighted?, log name)
        # Check names now so an unknown metric fails at compile time, as in Keras.
        for m in _flatten(metrics) + _flatten(weighted_metrics):
            if m is not None and not (isinstance(m, str) and m.lower() in ("accuracy", "acc", "crossentropy", "ce")):
                metrics_module.get(m)

    def build(self, y_true, y_pred, output_names, loss_fns):
        multi = len(y_pred) > 1
        names_seen = {}
        for weighted, spec in ((False, self._user), (True, self._user_weighted)):
            if not spec:
                continue
            per_output = _per_output(spec, output_names, "weighted_metrics" if weighted else "metrics")
            for i, ms in enumerate(per_output):
                if ms is None:
                    continue
                for m in (ms if isinstance(ms, (list, tuple)) else [ms]):
                    metric = self._make(m, y_true[i], y_pred[i], loss_fns[i])
                    name = metric.name
                    if multi:
                        name = f"{output_names[i]}_{name}"
                    if name in names_seen:
                        if weighted:
                            name = f"{output_names[i]}_weighted_{metric.name}" if multi else f"weighted_{metric.name}"
                        if name in names_seen:
                            names_seen[name] += 1
                            name = f"{name}_{names_seen[name] - 1}"
                    names_seen.setdefault(name, 1)
                    self.entries.append((i, metric, weighted, name))
        self.built = True

    @staticmethod
    def _make(identifier, y_true, y_pred, loss_fn):
        if isinstance(identifier, str) and identifier.lower() in ("accuracy", "acc"):
            kind = _kind_of_targets(y_true, y_pred, loss_fn.fn if loss_fn is not None else None)
            cls = {"binary": metrics_module.BinaryAccuracy, "sparse": metrics_module.SparseCategoricalAccuracy,
                   "categorical": metrics_module.CategoricalAccuracy}[kind]
            return cls(name=identifier)
        if isinstance(identifier, str) and identifier.lower() in ("crossentropy", "ce"):
            kind = _kind_of_targets(y_true, y_pred, loss_fn.fn if loss_fn is not None else None)
            cls = {"binary": metrics_module.BinaryCrossentropy,
                   "sparse": metrics_module.SparseCategoricalCrossentropy,
                   "categorical": metrics_module.CategoricalCrossentropy}[kind]
            return cls(name=identifier)
        obj = metrics_module.get(identifier)
        if isinstance(obj, Metric):
            if isinstance(identifier, str):
                obj.name = identifier
            return obj
        return MeanMetricWrapper(obj, name=identifier if isinstance(identifier, str) else _object_name(obj))

    def update(self, y_true, y_pred_np, sample_weight):
        for i, metric, weighted, _ in self.entries:
            sw = sample_weight[i] if (weighted and sample_weight is not None) else None
            metric.update_state(y_true[i], y_pred_np[i], sample_weight=sw)

    def reset(self):
        for _, metric, _, _ in self.entries:
            metric.reset_state()

    def results(self):
        return {name: float(metric.result()) for _, metric, _, name in self.entries}

    @property
    def metrics(self):
        return [m for _, m, _, _ in self.entries]


def _serialize_spec(spec, module):
    """Losses/metrics specs (nested lists/dicts) with objects replaced by names or config dicts."""
    if spec is None or isinstance(spec, (str, int, float)):
        return spec
    if isinstance(spec, dict) and "class_name" not in spec:
        return {k: _serialize_spec(v, module) for k, v in spec.items()}
    if isinstance(spec, (list, tuple)):
        return [_serialize_spec(v, module) for v in spec]
    if isinstance(spec, (losses_module.Loss, Metric)) and not isinstance(spec, losses_module.LossFunctionWrapper) \
            and type(spec) is not MeanMetricWrapper:
        return module.serialize(spec)
    return getattr(spec, "__name__", None) or getattr(spec, "name", None) or str(spec)


def _deserialize_spec(spec, module):
    if isinstance(spec, dict) and "class_name" in spec:
        return module.deserialize(spec)
    if isinstance(spec, dict):
        return {k: _deserialize_spec(v, module) for k, v in spec.items()}
    if isinstance(spec, list):
        return [_deserialize_spec(v, module) for v in spec]
    return spec


# =============================================================================================
# The Trainer mixin
# =============================================================================================
class Trainer:
    """compile/fit/evaluate/predict for Model (and Sequential)."""

    compiled = False
    _compile_loss_spec = None

    def __init__(self):
        self.compiled = False
        self.optimizer = None
        self.loss = None
        self.stop_training = False
        self.history = None

    # -- compile ------------------------------------------------------------------------------
    def compile(self, optimizer="rmsprop", loss=None, loss_weights=None, metrics=None, weighted_metrics=None,
                run_eagerly=False, steps_per_execution=1, jit_compile="auto", auto_scale_loss=True, **kwargs):
        """Configures the model for training.

        Args:
            optimizer: name ('rmsprop', 'adam', 'sgd', ...) or Optimizer instance.
            loss: name, function `fn(y_true, y_pred)`, Loss instance, or a list/dict with one per output.
            loss_weights: list or dict of scalar coefficients for the outputs' losses.
            metrics: list (or per-output list/dict) of names, functions or Metric instances.
                'accuracy'/'acc' becomes binary, categorical or sparse categorical accuracy from the
                loss and the shapes of targets and outputs.
            weighted_metrics: metrics weighted by sample_weight / class_weight.
            run_eagerly, steps_per_execution, jit_compile, auto_scale_loss: accepted for compatibility
                (pykeras always runs the step directly on its kernels).
        """
        for legacy in ("sample_weight_mode", "target_tensors", "distribute"):
            if legacy in kwargs:
                kwargs.pop(legacy)
                warnings.warn(f"compile(): `{legacy}` is not supported by Keras 3 and is ignored.", stacklevel=2)
        if kwargs:
            raise TypeError(f"compile() got unexpected keyword argument(s): {', '.join(sorted(kwargs))}")
        if isinstance(optimizer, str):
            try:
                optimizer = optimizers_module.get(optimizer)
            except ValueError as e:
                raise ValueError(f"compile(): {e}") from None
        else:
            optimizer = optimizers_module.get(optimizer)
        for spec in _flatten(loss) if isinstance(loss, (list, tuple, dict)) else [loss]:
            if isinstance(spec, str) and spec.lower() not in ("crossentropy", "ce"):
                losses_module.get(spec)  # fails now, with the list of known names, for a typo
            elif spec is not None and not (isinstance(spec, str) or callable(spec)):
                raise ValueError(f"Could not interpret loss identifier: {spec!r}")
        if loss_weights is not None and not isinstance(loss_weights, (list, tuple, dict, float, int)):
            raise ValueError(
                "Expected `loss_weights` argument to be a float (single output case) or a list, tuple, or dict "
                f"(multiple output case). Received instead: loss_weights={loss_weights} of type {type(loss_weights)}"
            )
        self.optimizer = optimizer
        self.loss = loss
        self._compile_loss_spec = loss
        self._compile_loss_weights = loss_weights
        self._compiled_metrics = _CompiledMetrics(metrics, weighted_metrics, loss)
        self._output_losses = None  # resolved on the first batch
        self._output_loss_trackers = []
        self._loss_tracker = Mean(name="loss")
        self._trainable_cache = None
        self.run_eagerly = run_eagerly
        self.jit_compile = False
        self.steps_per_execution = steps_per_execution
        self.stop_training = False
        self.compiled = True
        self._compile_config = dict(optimizer=optimizer, loss=loss, loss_weights=loss_weights, metrics=metrics,
                                    weighted_metrics=weighted_metrics, run_eagerly=run_eagerly,
                                    steps_per_execution=steps_per_execution, jit_compile=jit_compile)

    def get_compile_config(self):
        """The arguments compile was called with, as JSON-ready values (Keras's compile_config):
        the optimizer as its serialized dict, losses and metrics as names or serialized objects."""
        if not (self.compiled and getattr(self, "_compile_config", None)):
            return {}
        config = dict(self._compile_config)
        config["optimizer"] = optimizers_module.serialize(config["optimizer"])
        for key, module in (("loss", losses_module), ("metrics", metrics_module),
                            ("weighted_metrics", metrics_module)):
            config[key] = _serialize_spec(config[key], module)
        return config

    def compile_from_config(self, config):
        """Compiles from `get_compile_config()`'s output."""
        config = dict(config)
        if isinstance(config.get("optimizer"), dict):
            config["optimizer"] = optimizers_module.deserialize(config["optimizer"])
        for key, module in (("loss", losses_module), ("metrics", metrics_module),
                            ("weighted_metrics", metrics_module)):
            config[key] = _deserialize_spec(config.get(key), module)
        self.compile(**config)

    def _assert_compiled(self, method):
        if not getattr(self, "compiled", False):
            raise ValueError(
                f"You must call `compile()` before calling `{method}()`: the model has no optimizer or loss yet.")

    # -- metrics --------------------------------------------------------------------------------
    @property
    def metrics(self):
        if not getattr(self, "compiled", False):
            return []
        out = [self._loss_tracker]
        out += self._compiled_metrics.metrics
        out += [t for t in self._output_loss_trackers]
        return out

    @property
    def metrics_names(self):
        return [m.name for m in self.metrics]

    def reset_metrics(self):
        if not getattr(self, "compiled", False):
            return
        self._loss_tracker.reset_state()
        for t in self._output_loss_trackers:
            t.reset_state()
        self._compiled_metrics.reset()

    def _results(self):
        logs = {"loss": float(self._loss_tracker.result())}
        if len(self._output_loss_trackers) > 1:
            for t in self._output_loss_trackers:
                logs[t.name] = float(t.result())
        logs.update(self._compiled_metrics.results())
        return dict(sorted(logs.items()))

    def _ordered_results(self, logs):
        """evaluate/train_on_batch list order: loss, per-output losses, then compiled metrics."""
        names = ["loss"] + ([t.name for t in self._output_loss_trackers] if len(self._output_loss_trackers) > 1 else [])
        names += [name for _, _, _, name in self._compiled_metrics.entries]
        values = [logs[n] for n in names if n in logs]
        return values[0] if len(values) == 1 else values

    # -- structure of outputs and targets -----------------------------------------------------
    def _output_list(self, y_pred):
        """The model's outputs as a list in output order."""
        if isinstance(y_pred, dict):
            names = list(getattr(self, "output_names", None) or sorted(y_pred))
            if set(names) != set(y_pred):
                names = list(y_pred)
            return [y_pred[n] for n in names]
        if isinstance(y_pred, (list, tuple)):
            return list(y_pred)
        return [y_pred]

    def _names_for(self, n):
        names = list(getattr(self, "output_names", None) or [])
        if len(names) != n:
            names = [f"output_{i + 1}" for i in range(n)] if n > 1 else ["output"]
        return names

    def _target_list(self, y, n, names):
        if y is None:
            return [None] * n
        if isinstance(y, dict):
            missing = [name for name in names if name not in y]
            if missing and n > 1:
                raise ValueError(f"Missing targets for outputs {missing}: `y` has keys {list(y)}, the model's outputs "
                                 f"are {names}")
            if n == 1 and len(y) == 1:
                return list(y.values())
            return [y.get(name) for name in names]
        if isinstance(y, (list, tuple)):
            if n == 1:
                return [y[0]] if len(y) == 1 else [np.asarray(y)]
            if len(y) != n:
                raise ValueError(f"The model has {n} outputs but `y` is a list of {len(y)} arrays")
            return list(y)
        if n > 1:
            raise ValueError(f"The model has {n} outputs ({names}) but a single target array was given; pass a list or "
                             "a dict of targets")
        return [y]

    def _weight_list(self, sample_weight, n, names):
        if sample_weight is None:
            return None
        if isinstance(sample_weight, dict):
            return [sample_weight.get(name) for name in names]
        if isinstance(sample_weight, (list, tuple)) and n > 1:
            return list(sample_weight)
        return [sample_weight] * n

    def _build_compiled(self, y_true, y_pred, names):
        spec = self._compile_loss_spec
        if spec is None:
            raise ValueError(
                "No loss to compute. Provide a `loss` argument in `compile()`."
            )
        n = len(y_pred)
        if isinstance(spec, dict) and n == 1 and len(spec) == 1:
            spec = list(spec.values())[0]
        per_output = _per_output(spec, names, "loss", allow_broadcast=True) if isinstance(spec, (list, tuple, dict)) \
            else [spec] * n
        weights = self._compile_loss_weights
        if weights is None:
            weights = [None] * n
        elif isinstance(weights, (int, float)):
            weights = [weights] * n
        else:
            weights = _per_output(weights, names, "loss_weights", allow_broadcast=False)
        self._output_losses = [
            _OutputLoss(spec_i, w, y_true[i], y_pred[i]) if spec_i is not None else None
            for i, (spec_i, w) in enumerate(zip(per_output, weights))
        ]
        if all(l is None for l in self._output_losses):
            raise ValueError("No loss to compute. Provide a `loss` argument in `compile()`.")
        self._output_loss_trackers = [Mean(name=f"{names[i]}_loss") for i, l in enumerate(self._output_losses)
                                      if l is not None] if n > 1 else []
        self._compiled_metrics.build(y_true, y_pred, names, self._output_losses)

    # -- one step --------------------------------------------------------------------------------
    def _compute_loss(self, y_true, y_pred, sample_weight):
        """Total loss Tensor (weighted output losses + regularization) and the per-output values."""
        total = None
        parts = []
        for i, out_loss in enumerate(self._output_losses):
            if out_loss is None:
                continue
            if y_true[i] is None:
                raise ValueError(
                    f"Output {i} has a loss but no target was given: pass `y` to fit/evaluate (or yield (x, y) "
                    "batches)."
                )
            value = out_loss(y_true[i], y_pred[i], sample_weight[i] if sample_weight is not None else None)
            parts.append(value)
            if out_loss.weight != 1.0:
                value = value * out_loss.weight
            total = value if total is None else total + value
        reg = self.losses
        if reg:
            for r in reg:
                total = total + r
        return total, parts

    def _training_variables(self):
        cache = self._trainable_cache
        if cache is None:
            cache = list(self.trainable_weights)
            self._trainable_cache = cache
        return cache

    def _train_step(self, x, y, sample_weight):
        """One gradient step; returns (total loss value, batch outputs as numpy, per-output losses)."""
        K = _K()
        with K.GradientTape() as tape:
            outputs = self(x, training=True)
            y_pred = self._output_list(outputs)
            n = len(y_pred)
            if self._output_losses is None:
                names = self._names_for(n)
                self._names = names
                y_true = self._target_list(y, n, names)
                self._build_compiled(y_true, y_pred, names)
            else:
                y_true = self._target_list(y, n, self._names)
            sw = self._weight_list(sample_weight, n, self._names)
            loss, parts = self._compute_loss(y_true, y_pred, sw)
            if self.optimizer.loss_scale_factor is not None:
                scaled = loss * float(self.optimizer.loss_scale_factor)
            else:
                scaled = loss
        trainable = self._training_variables()
        if not trainable:
            raise ValueError("The model has no trainable weights: nothing to train.")
        grads = tape.gradient(scaled, trainable)
        if not isinstance(grads, (list, tuple)):
            grads = [grads]
        self.optimizer.apply(grads, trainable)
        return loss, y_true, y_pred, sw, parts

    def _test_step(self, x, y, sample_weight):
        outputs = self(x, training=False)
        y_pred = self._output_list(outputs)
        n = len(y_pred)
        if self._output_losses is None:
            names = self._names_for(n)
            self._names = names
            y_true = self._target_list(y, n, names)
            self._build_compiled(y_true, y_pred, names)
        else:
            y_true = self._target_list(y, n, self._names)
        sw = self._weight_list(sample_weight, n, self._names)
        loss, parts = self._compute_loss(y_true, y_pred, sw)
        return loss, y_true, y_pred, sw, parts

    def _update_metrics(self, batch_size, loss, y_true, y_pred, sw, parts):
        self._loss_tracker.update_state(float(loss), sample_weight=batch_size)
        if self._output_loss_trackers:
            for tracker, part in zip(self._output_loss_trackers, parts):
                tracker.update_state(float(part), sample_weight=batch_size)
        if self._compiled_metrics.entries:
            y_pred_np = [np.asarray(p) for p in y_pred]
            self._compiled_metrics.update(y_true, y_pred_np, sw)

    # -- fit ------------------------------------------------------------------------------------
    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None, validation_split=0.0,
            validation_data=None, shuffle=True, class_weight=None, sample_weight=None, initial_epoch=0,
            steps_per_epoch=None, validation_steps=None, validation_batch_size=None, validation_freq=1, **kwargs):
        """Trains the model for `epochs` epochs; returns a History (see Keras's Model.fit)."""
        if "nb_epoch" in kwargs:  # the Keras 1 name
            epochs = kwargs.pop("nb_epoch")
            warnings.warn("The `nb_epoch` argument in `fit` has been renamed `epochs`.", stacklevel=2)
        for ignored in ("workers", "use_multiprocessing", "max_queue_size"):
            kwargs.pop(ignored, None)
        if kwargs:
            raise TypeError(f"fit() got unexpected keyword argument(s): {', '.join(sorted(kwargs))}")
        self._assert_compiled("fit")
        if validation_split and validation_data is None:
            if not 0.0 < validation_split < 1.0:
                raise ValueError(f"`validation_split` must be between 0 and 1, got {validation_split}")
            full = _make_data(x, y, sample_weight, batch_size, None, False, class_weight=class_weight)
            if not isinstance(full, _ArrayData):
                raise ValueError("`validation_split` is only supported for numpy arrays; pass `validation_data` for "
                                 "generators and PyDatasets.")
            (x, y, sample_weight), validation_data = full.split(validation_split)
            class_weight = None  # already folded into sample_weight
        data = _make_data(x, y, sample_weight, batch_size, steps_per_epoch, shuffle, class_weight=class_weight)
        val_data = None
        if validation_data is not None:
            if isinstance(validation_data, tuple) and not _is_generator(validation_data):
                if len(validation_data) not in (2, 3):
                    raise ValueError(
                        "When passing validation_data, it must contain 2 (x_val, y_val) or 3 (x_val, y_val, "
                        f"val_sample_weights) items, however it contains {len(validation_data)} items"
                    )
                vx, vy, vsw = _unpack(validation_data)
                val_data = _make_data(vx, vy, vsw, validation_batch_size or batch_size, validation_steps, False)
            else:
                val_data = _make_data(validation_data, None, None, None, validation_steps, False)
        if isinstance(validation_freq, int) and validation_freq < 1:
            raise ValueError(f"`validation_freq` must be a positive int or a list, got {validation_freq}")

        if not isinstance(callbacks, callbacks_module.CallbackList):
            callbacks = callbacks_module.CallbackList(
                callbacks, add_history=True, add_progbar=verbose != 0, model=self,
                verbose=verbose, epochs=epochs, steps=data.num_batches,
            )
        self._trainable_cache = None
        self.stop_training = False
        self._in_fit = True
        callbacks.on_train_begin()
        training_logs = None
        logs = {}
        try:
            for epoch in range(initial_epoch, epochs):
                self.reset_metrics()
                callbacks.on_epoch_begin(epoch)
                logs = self._run_train_epoch(data, callbacks)
                if logs is None:  # the data ran out before the first batch of this epoch
                    warnings.warn(
                        "Your input ran out of data; interrupting training. Make sure that your dataset or generator "
                        "can generate at least `steps_per_epoch * epochs` batches.",
                        stacklevel=2,
                    )
                    break
                if val_data is not None and self._should_eval(epoch, validation_freq):
                    val_logs = self._run_test(val_data, callbacks)
                    logs.update({"val_" + k: v for k, v in val_logs.items()})
                callbacks.on_epoch_end(epoch, logs)
                training_logs = logs
                if self.stop_training:
                    break
        finally:
            self._in_fit = False
        if isinstance(self.optimizer, optimizers_module.Optimizer) and self.optimizer.use_ema:
            self.optimizer.finalize_variable_values(self._training_variables())
        callbacks.on_train_end(training_logs)
        return self._history_of(callbacks)

    @staticmethod
    def _history_of(callbacks):
        for cb in callbacks:
            if isinstance(cb, callbacks_module.History):
                return cb
        return None

    @staticmethod
    def _should_eval(epoch, validation_freq):
        epoch += 1
        if isinstance(validation_freq, int):
            return epoch % validation_freq == 0
        if isinstance(validation_freq, (list, tuple, set)):
            return epoch in validation_freq
        raise ValueError(f"Expected `validation_freq` to be a list or int. Received: validation_freq={validation_freq} "
                         f"of the type {type(validation_freq)}.")

    def _run_train_epoch(self, data, callbacks):
        """One epoch of training steps; returns the epoch logs (None if no batch was produced)."""
        batch_hooks = callbacks.has_batch_hooks
        step = -1
        for step, (x, y, sw) in enumerate(data.epoch()):
            if batch_hooks:
                callbacks.on_train_batch_begin(step)
            loss, y_true, y_pred, sw_list, parts = self._train_step(x, y, sw)
            self._update_metrics(_batch_size_of(x), loss, y_true, y_pred, sw_list, parts)
            if batch_hooks:
                callbacks.on_train_batch_end(step, self._results())
            if self.stop_training:
                break
        if step < 0:
            return None
        return self._results()

    def _run_test(self, data, callbacks):
        self.reset_metrics()
        callbacks.on_test_begin()
        hooks = bool(callbacks._batch_targets["on_test_batch_begin"] or callbacks._batch_targets["on_test_batch_end"])
        step = -1
        for step, (x, y, sw) in enumerate(data.epoch()):
            if hooks:
                callbacks.on_test_batch_begin(step)
            loss, y_true, y_pred, sw_list, parts = self._test_step(x, y, sw)
            self._update_metrics(_batch_size_of(x), loss, y_true, y_pred, sw_list, parts)
            if hooks:
                callbacks.on_test_batch_end(step, self._results())
        if step < 0:
            raise ValueError("evaluate: the data produced no batch")
        logs = self._results()
        callbacks.on_test_end(logs)
        return logs

    # -- evaluate / predict ----------------------------------------------------------------------
    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", sample_weight=None, steps=None,
                 callbacks=None, return_dict=False, **kwargs):
        """Loss and metric values on the given data: a scalar, a list [loss, metrics...] or a dict."""
        for ignored in ("workers", "use_multiprocessing", "max_queue_size"):
            kwargs.pop(ignored, None)
        if kwargs:
            raise TypeError(f"evaluate() got unexpected keyword argument(s): {', '.join(sorted(kwargs))}")
        self._assert_compiled("evaluate")
        data = _make_data(x, y, sample_weight, batch_size, steps, False, what="evaluate")
        if not isinstance(callbacks, callbacks_module.CallbackList):
            callbacks = callbacks_module.CallbackList(
                callbacks, add_progbar=verbose != 0, model=self, verbose=verbose, epochs=1, steps=data.num_batches)
        logs = self._run_test(data, callbacks)
        if return_dict:
            return logs
        return self._ordered_results(logs)

    def predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None, **kwargs):
        """Model outputs for `x`, computed batch by batch into one preallocated array per output."""
        for ignored in ("workers", "use_multiprocessing", "max_queue_size"):
            kwargs.pop(ignored, None)
        if kwargs:
            raise TypeError(f"predict() got unexpected keyword argument(s): {', '.join(sorted(kwargs))}")
        data = _make_data(x, None, None, batch_size, steps, False, what="predict")
        if not isinstance(callbacks, callbacks_module.CallbackList):
            callbacks = callbacks_module.CallbackList(
                callbacks, add_progbar=verbose != 0, model=self, verbose=verbose, epochs=1, steps=data.num_batches)
        total = data.n if isinstance(data, _ArrayData) and steps is None else None
        callbacks.on_predict_begin()
        hooks = bool(callbacks._batch_targets["on_predict_batch_begin"]
                     or callbacks._batch_targets["on_predict_batch_end"])
        outputs = None  # preallocated per output when the total is known, else lists of batches
        structure = None
        pos = 0
        step = -1
        for step, (bx, _, _) in enumerate(data.epoch()):
            if hooks:
                callbacks.on_predict_batch_begin(step)
            out = self(bx, training=False)
            structure = out
            outs = [np.asarray(o) for o in self._output_list(out)]
            n = outs[0].shape[0] if outs[0].ndim else 1
            if outputs is None:
                if total is not None:
                    outputs = [np.empty((total,) + o.shape[1:], dtype=o.dtype) for o in outs]
                else:
                    outputs = [[] for _ in outs]
            for buf, o in zip(outputs, outs):
                if total is not None:
                    buf[pos: pos + n] = o
                else:
                    buf.append(o.copy())
            pos += n
            if hooks:
                callbacks.on_predict_batch_end(step, {"outputs": out})
        if step < 0:
            raise ValueError("predict: the data produced no batch")
        if total is None:
            outputs = [np.concatenate(b, axis=0) for b in outputs]
        callbacks.on_predict_end()
        return self._restructure(structure, outputs)

    def _restructure(self, structure, arrays):
        if isinstance(structure, dict):
            names = list(getattr(self, "output_names", None) or sorted(structure))
            if set(names) != set(structure):
                names = list(structure)
            return dict(zip(names, arrays))
        if isinstance(structure, (list, tuple)):
            return list(arrays)
        return arrays[0]

    # -- single batches ---------------------------------------------------------------------------
    def train_on_batch(self, x, y=None, sample_weight=None, class_weight=None, return_dict=False):
        """One gradient update on one batch; returns the loss (and metrics) for that batch."""
        self._assert_compiled("train_on_batch")
        x, y, sample_weight = _standardize(x), _standardize(y), _standardize(sample_weight)
        if class_weight is not None:
            if sample_weight is not None:
                raise ValueError(
                    "Arguments `sample_weight` and `class_weight` cannot be specified at the same time. "
                    f"Received: sample_weight={sample_weight}, class_weight={class_weight}"
                )
            sample_weight = class_weight_to_sample_weights(_flatten(y)[0], class_weight)
        _num_samples(x, y, sample_weight)
        self.reset_metrics()
        loss, y_true, y_pred, sw, parts = self._train_step(x, y, sample_weight)
        self._update_metrics(_batch_size_of(x), loss, y_true, y_pred, sw, parts)
        logs = self._results()
        return logs if return_dict else self._ordered_results(logs)

    def test_on_batch(self, x, y=None, sample_weight=None, return_dict=False):
        """Loss (and metrics) of the model on one batch, without updating it."""
        self._assert_compiled("test_on_batch")
        x, y, sample_weight = _standardize(x), _standardize(y), _standardize(sample_weight)
        _num_samples(x, y, sample_weight)
        self.reset_metrics()
        loss, y_true, y_pred, sw, parts = self._test_step(x, y, sample_weight)
        self._update_metrics(_batch_size_of(x), loss, y_true, y_pred, sw, parts)
        logs = self._results()
        return logs if return_dict else self._ordered_results(logs)

    def predict_on_batch(self, x):
        """Model outputs for one batch, as numpy arrays."""
        out = self(_standardize(x), training=False)
        return self._restructure(out, [np.array(o) for o in self._output_list(out)])

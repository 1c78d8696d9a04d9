"""The optimizer base class: Keras 3's Optimizer API over in-place updates of numpy buffers.

Every Variable wraps one float32 numpy buffer that never changes identity (backend contract), so
an update writes into `np.asarray(variable)` directly: no Tensors, no tape, no copies. One step
(`apply`) does, in Keras's order: drop variables without a gradient, clip the gradients
(clipnorm per tensor, global_clipnorm over all, clipvalue elementwise), decoupled weight decay
(`p -= p * weight_decay * lr`), the optimizer's own update rule for all parameters at once
(`_update`, which uses the fused native kernel of pykeras._core.optim when one exists for the
rule, else the numpy reference of Keras's formula), each variable's constraint, the moving
average of the weights when `use_ema`, and finally `iterations += 1`.

Slots (momentums, velocities, ...) are non-trainable Variables created on the first `apply` (or
`build`), listed in `variables` in Keras's order: iteration, learning rate, then per trainable
variable its slots, so optimizer state saves and loads like Keras's.
"""
import warnings

import numpy as np

from pykeras.optimizers import schedules as schedules_module

_name_counts = {}


def _auto_name(cls_name):
    base = "".join("_" + c.lower() if c.isupper() else c for c in cls_name).lstrip("_")
    base = {"s_g_d": "sgd", "r_m_sprop": "rmsprop", "adam_w": "adamw"}.get(base, base)
    n = _name_counts.get(base, 0)
    _name_counts[base] = n + 1
    return base if n == 0 else f"{base}_{n}"


def _backend():
    from pykeras import backend

    return backend


def _new_variable(value, name, dtype="float32"):
    """A non-trainable backend Variable holding `value` (a copy)."""
    return _backend().Variable(np.array(value, dtype=dtype), trainable=False, name=name)


def _buffer(x):
    """The float32 numpy array behind a Variable/Tensor/array (no copy when already float32)."""
    return np.asarray(x, dtype=np.float32)


def _var_name(variable):
    path = getattr(variable, "path", None)
    if path:
        return str(path).replace("/", "_")
    return str(getattr(variable, "name", "var")).replace("/", "_").replace(":", "_")


class Optimizer:
    """Base class of all optimizers.

    Args:
        learning_rate: a float, a `LearningRateSchedule`, or a zero-argument callable.
        weight_decay: if set, decoupled weight decay `p -= p * weight_decay * lr` before the update.
        clipnorm: clip each gradient to this L2 norm.
        clipvalue: clip each gradient element to [-clipvalue, clipvalue].
        global_clipnorm: clip all gradients together to this global L2 norm.
        use_ema, ema_momentum, ema_overwrite_frequency: keep an exponential moving average of
            the weights (`avg = m * avg + (1 - m) * w`), written into the weights every
            `ema_overwrite_frequency` steps or by `finalize_variable_values()` (fit does this).
        loss_scale_factor: the trainer multiplies the loss by it; gradients are divided by it.
        gradient_accumulation_steps: update only every N steps, with the mean of the N gradients.
        name: the optimizer's name.
    """

    # Names of the per-variable slots, in Keras's creation order, and their initial value.
    _slot_names = ()
    _slot_initial_value = 0.0

    def __init__(self, learning_rate, weight_decay=None, clipnorm=None, clipvalue=None, global_clipnorm=None,
                 use_ema=False, ema_momentum=0.99, ema_overwrite_frequency=None, loss_scale_factor=None,
                 gradient_accumulation_steps=None, name=None, **kwargs):
        if "lr" in kwargs:
            raise ValueError(
                f"{type(self).__name__}: the argument `lr` was renamed `learning_rate` (Keras 3 no longer accepts "
                f"`lr`). Use {type(self).__name__}(learning_rate={kwargs['lr']!r})."
            )
        if kwargs.pop("decay", None) is not None:
            warnings.warn("Argument `decay` is no longer supported and will be ignored.", stacklevel=3)
        if kwargs:
            raise ValueError(f"Argument(s) not recognized: {kwargs}")
        if sum(a is not None for a in (clipnorm, clipvalue, global_clipnorm)) > 1:
            raise ValueError(
                "Only one of `clipnorm`, `clipvalue` and `global_clipnorm` can be set. "
                f"Received: clipnorm={clipnorm}, clipvalue={clipvalue}, global_clipnorm={global_clipnorm}"
            )
        if gradient_accumulation_steps is not None and (
            not isinstance(gradient_accumulation_steps, int) or gradient_accumulation_steps < 2
        ):
            raise ValueError(
                f"`gradient_accumulation_steps` must be an integer >= 2. Received: {gradient_accumulation_steps}"
            )
        if use_ema and not 0 <= ema_momentum <= 1:
            raise ValueError(f"`ema_momentum` must be in the range [0, 1]. Received: ema_momentum={ema_momentum}")
        if ema_overwrite_frequency is not None and (
            not isinstance(ema_overwrite_frequency, int) or ema_overwrite_frequency < 1
        ):
            raise ValueError(
                f"`ema_overwrite_frequency` must be an integer >= 1 or None. Received: {ema_overwrite_frequency}"
            )
        self.name = name or _auto_name(type(self).__name__)
        self.weight_decay = weight_decay
        self.clipnorm = clipnorm
        self.clipvalue = clipvalue
        self.global_clipnorm = global_clipnorm
        self.use_ema = use_ema
        self.ema_momentum = ema_momentum
        self.ema_overwrite_frequency = ema_overwrite_frequency
        self.loss_scale_factor = loss_scale_factor
        self.gradient_accumulation_steps = gradient_accumulation_steps
        self.built = False

        self._iterations = _new_variable(0, f"{self.name}/iteration", dtype="int64")
        self._variables = [self._iterations]
        self._learning_rate = self._make_learning_rate(learning_rate)
        self._trainable_variables = []
        self._index = {}
        self._slots = []  # per trainable variable: list of slot Variables (order of _slot_names)
        self._slot_buffers = []  # the numpy buffers of _slots
        self._ema = []
        self._accumulators = []
        self._exclude_ids = set()
        self._exclude_names = ()
        self._last_plan = None

    # -- learning rate ------------------------------------------------------------------------
    def _make_learning_rate(self, learning_rate):
        if isinstance(learning_rate, schedules_module.LearningRateSchedule) or callable(learning_rate):
            return learning_rate
        if isinstance(learning_rate, bool) or not isinstance(learning_rate, (int, float, np.floating, np.integer)):
            raise ValueError(
                "Argument `learning_rate` should be float, or an instance of LearningRateSchedule, or a callable "
                f"(that takes in the current iteration value and returns the corresponding learning rate value). "
                f"Received instead: learning_rate={learning_rate!r}"
            )
        var = _new_variable(float(learning_rate), f"{self.name}/learning_rate")
        self._variables.append(var)
        return var

    @property
    def learning_rate(self):
        """The current learning rate: the Variable for a float rate, else the schedule's value."""
        lr = self._learning_rate
        if isinstance(lr, schedules_module.LearningRateSchedule):
            return np.float32(lr(self.iterations_value))
        if callable(lr) and not hasattr(lr, "assign"):
            return np.float32(lr())
        return lr

    @learning_rate.setter
    def learning_rate(self, value):
        if isinstance(value, schedules_module.LearningRateSchedule) or (callable(value) and not hasattr(value, "assign")):
            if hasattr(self._learning_rate, "assign"):
                self._variables.remove(self._learning_rate)
            self._learning_rate = value
            return
        if not hasattr(self._learning_rate, "assign"):
            if isinstance(self._learning_rate, schedules_module.LearningRateSchedule):
                raise TypeError(
                    "This optimizer was created with a `LearningRateSchedule` object as its `learning_rate` "
                    "constructor argument, hence its learning rate is not settable. If you need the learning rate "
                    "to be settable, you should instantiate the optimizer with a float `learning_rate` argument."
                )
            self._learning_rate = _new_variable(float(value), f"{self.name}/learning_rate")
            self._variables.insert(1, self._learning_rate)
            return
        _buffer(self._learning_rate)[...] = float(value)

    # The classic spelling, still common in Keras 2 code (`K.set_value(model.optimizer.lr, ...)`).
    lr = learning_rate

    def _current_lr(self):
        lr = self._learning_rate
        if hasattr(lr, "assign"):
            return float(_buffer(lr))
        if isinstance(lr, schedules_module.LearningRateSchedule):
            return float(lr(self.iterations_value))
        return float(lr())

    # -- state ----------------------------------------------------------------------------------
    @property
    def iterations(self):
        """The number of updates applied (a non-trainable int64 Variable)."""
        return self._iterations

    @property
    def iterations_value(self):
        return int(np.asarray(self._iterations))

    @property
    def variables(self):
        return list(self._variables)

    def build(self, var_list):
        """Creates the slots for `var_list` (called by the first `apply`)."""
        if self.built:
            return
        var_list = list(var_list)
        self._trainable_variables = var_list
        self._index = {id(v): i for i, v in enumerate(var_list)}
        if self.use_ema:
            self._ema = [self._add_slot(v, "average", initial=_buffer(v)) for v in var_list]
        if self.gradient_accumulation_steps:
            self._accumulators = [self._add_slot(v, "gradient_accumulator") for v in var_list]
        self._slots = [[self._add_slot(v, s) for s in self._slot_names] for v in var_list]
        self._slot_buffers = [[_buffer(s) for s in slots] for slots in self._slots]
        self._build_extra(var_list)
        self.built = True

    def _build_extra(self, var_list):
        """Hook for optimizers with state beyond per-variable slots (Nadam's running product)."""

    def _add_slot(self, variable, slot_name, initial=None):
        shape = tuple(np.shape(_buffer(variable)))
        if initial is None:
            value = np.full(shape, self._slot_initial_value if slot_name in self._slot_names else 0.0, np.float32)
        else:
            value = np.array(initial, dtype=np.float32)
        var = _new_variable(value, f"{self.name}/{_var_name(variable)}_{slot_name}")
        self._variables.append(var)
        return var

    def get_weights(self):
        return [np.array(v) for v in self._variables]

    def set_weights(self, weights):
        if not self.built:
            raise ValueError(
                "You are calling `set_weights()` on an optimizer that has not yet been built. Please call "
                "`optimizer.build(trainable_variables)` to create the optimizer weights before calling `set_weights()`."
            )
        if len(weights) != len(self._variables):
            raise ValueError(f"Optimizer {self.name} has {len(self._variables)} variables, got {len(weights)} weights")
        for var, w in zip(self._variables, weights):
            w = np.asarray(w)
            if tuple(np.shape(var)) != w.shape:
                raise ValueError(
                    f"Optimizer variable {getattr(var, 'name', '?')} has shape {tuple(np.shape(var))} not compatible "
                    f"with provided weight shape {w.shape}."
                )
            var.assign(w)

    def save_own_variables(self, store):
        for i, var in enumerate(self._variables):
            store[str(i)] = np.array(var)

    def load_own_variables(self, store):
        if len(store.keys()) != len(self._variables):
            warnings.warn(
                f"Skipping variable loading for optimizer '{self.name}', because it has {len(self._variables)} "
                f"variables whereas the saved optimizer has {len(store.keys())} variables.",
                stacklevel=2,
            )
            return
        for i, var in enumerate(self._variables):
            var.assign(np.asarray(store[str(i)]))

    # -- applying gradients ------------------------------------------------------------------
    def apply_gradients(self, grads_and_vars):
        """Applies [(gradient, variable), ...]; returns `iterations`."""
        grads_and_vars = list(grads_and_vars)
        if not grads_and_vars:
            return self._iterations
        grads, variables = zip(*grads_and_vars)
        self.apply(list(grads), list(variables))
        return self._iterations

    def apply(self, grads, trainable_variables=None):
        """Updates `trainable_variables` (default: those the optimizer was built with) in place."""
        if len(grads) == 0:
            return
        if trainable_variables is None:
            if not self.built:
                raise ValueError(
                    "When passing `grads` without `variables`, the optimizer must already be built on a list of "
                    "variables. Call `optimizer.build(trainable_variables)` first."
                )
            trainable_variables = self._trainable_variables
            if len(grads) != len(trainable_variables):
                raise ValueError(
                    f"When passing `grads` as a list of gradient tensors, the gradients must match "
                    f"`optimizer.variables` one-to-one. Received a list of {len(grads)} gradients, but the "
                    f"optimizer is tracking {len(trainable_variables)} trainable variables."
                )
        else:
            if not self.built:
                self.build(trainable_variables)
            if len(grads) != len(trainable_variables):
                raise ValueError(f"Got {len(grads)} gradients for {len(trainable_variables)} variables")
        if any(g is None for g in grads):
            pairs = [(g, v) for g, v in zip(grads, trainable_variables) if g is not None]
            if not pairs:
                raise ValueError("No gradients provided for any variable.")
            missing = [getattr(v, "name", "?") for g, v in zip(grads, trainable_variables) if g is None]
            warnings.warn(
                f"Gradients do not exist for variables {missing} when minimizing the loss. If using "
                "`model.compile()`, did you forget to provide a `loss` argument?",
                stacklevel=2,
            )
            grads = [g for g, _ in pairs]
            trainable_variables = [v for _, v in pairs]
        indices, p_bufs, variables, constrained = self._plan(trainable_variables)
        g_bufs = [_buffer(g) for g in grads]
        for g, p in zip(g_bufs, p_bufs):
            if g.shape != p.shape:
                raise ValueError(f"{self.name}: gradient of shape {g.shape} for a variable of shape {p.shape}")
        if self.loss_scale_factor is not None:
            g_bufs = [g / np.float32(self.loss_scale_factor) for g in g_bufs]

        if self.gradient_accumulation_steps:
            steps = self.gradient_accumulation_steps
            accs = [_buffer(self._accumulators[i]) for i in indices]
            for a, g in zip(accs, g_bufs):
                a += g
            if (self.iterations_value + 1) % steps != 0:
                np.asarray(self._iterations)[...] += 1
                return
            g_bufs = [a / np.float32(steps) for a in accs]
            for a in accs:
                a[...] = 0

        g_bufs = self._clip(g_bufs)
        lr = self._current_lr()
        decays = self._weight_decays(variables) if self.weight_decay else None
        self._update(g_bufs, p_bufs, indices, lr, decays)
        for v in constrained:
            v.assign(v.constraint(v))
        if self.use_ema:
            self._update_ema(indices, p_bufs)
        np.asarray(self._iterations)[...] += 1

    def _plan(self, variables):
        """(slot indices, parameter buffers, variables, constrained variables) for a variable list.

        The last plan is kept: fit passes the same list every step, and a variable's buffer never
        changes identity, so a step only has to look at the gradients."""
        key = tuple(map(id, variables))
        plan = self._last_plan
        if plan is not None and plan[0] == key:
            return plan[1]
        index = self._index
        indices = []
        for v in variables:
            i = index.get(id(v))
            if i is None:
                raise ValueError(
                    f"Unknown variable: {getattr(v, 'name', v)}. This optimizer can only be called for the "
                    "variables it was originally built with. When working with a new set of variables, you should "
                    "recreate a new optimizer instance."
                )
            indices.append(i)
        constrained = [v for v in variables if getattr(v, "constraint", None) is not None]
        result = (indices, [_buffer(v) for v in variables], list(variables), constrained)
        self._last_plan = (key, result)
        return result

    def _clip(self, grads):
        if self.clipnorm and self.clipnorm > 0:
            c = np.float32(self.clipnorm)
            out = []
            for g in grads:
                norm = np.float32(np.sqrt(np.dot(g.ravel(), g.ravel())))
                out.append(g * (c / max(norm, c)) if norm > c else g)
            return out
        if self.global_clipnorm and self.global_clipnorm > 0:
            norm = float(np.sqrt(sum(float(np.dot(g.ravel(), g.ravel())) for g in grads)))
            if not np.isfinite(norm):
                return [np.full_like(g, np.nan) for g in grads]
            if norm <= self.global_clipnorm:
                return grads
            scale = np.float32(self.global_clipnorm / norm)
            return [g * scale for g in grads]
        if self.clipvalue and self.clipvalue > 0:
            v = np.float32(self.clipvalue)
            return [np.clip(g, -v, v) for g in grads]
        return grads

    def exclude_from_weight_decay(self, var_list=None, var_names=None):
        """Variables (or name substrings) that weight decay leaves alone; call before building."""
        if self.built:
            raise ValueError("`exclude_from_weight_decay()` can only be configured before the optimizer is built.")
        self._exclude_ids = {id(v) for v in var_list or ()}
        self._exclude_names = tuple(var_names or ())

    def _weight_decays(self, variables):
        """The weight-decay factor of each variable (0 for those excluded)."""
        out = []
        for v in variables:
            name = str(getattr(v, "name", ""))
            excluded = id(v) in self._exclude_ids or any(s in name for s in self._exclude_names)
            out.append(0.0 if excluded else float(self.weight_decay))
        return out

    @staticmethod
    def _decay(params, decays, lr):
        """Decoupled weight decay `p -= p * (weight_decay * lr)` (the numpy path; kernels fuse it)."""
        if decays is None:
            return
        for p, d in zip(params, decays):
            if d:
                p -= p * np.float32(d * lr)

    def _update_ema(self, indices, params):
        m = np.float32(self.ema_momentum)
        first = self.iterations_value == 0
        for i, p in zip(indices, params):
            avg = _buffer(self._ema[i])
            if first:
                avg[...] = p
            else:
                avg *= m
                avg += (1 - m) * p
        if self.ema_overwrite_frequency and (self.iterations_value + 1) % self.ema_overwrite_frequency == 0:
            for i, p in zip(indices, params):
                p[...] = _buffer(self._ema[i])

    def finalize_variable_values(self, var_list):
        """Writes the moving averages into the weights (when `use_ema`); fit calls it at the end."""
        if self.use_ema and self.built:
            for v in var_list:
                i = self._index.get(id(v))
                if i is not None:
                    v.assign(np.array(_buffer(self._ema[i])))

    def _update(self, grads, params, indices, lr, decays):
        """Applies weight decay (`decays`: None or one factor per parameter) and the update rule to
        every (grad, param) pair; `indices` select the slots."""
        raise NotImplementedError(f"{type(self).__name__} must implement _update")

    # -- config ----------------------------------------------------------------------------------
    def get_config(self):
        lr = self._learning_rate
        if isinstance(lr, schedules_module.LearningRateSchedule):
            lr = schedules_module.serialize(lr)
        elif hasattr(lr, "assign"):
            lr = float(_buffer(lr))
        return {
            "name": self.name,
            "learning_rate": lr,
            "weight_decay": self.weight_decay,
            "clipnorm": self.clipnorm,
            "global_clipnorm": self.global_clipnorm,
            "clipvalue": self.clipvalue,
            "use_ema": self.use_ema,
            "ema_momentum": self.ema_momentum,
            "ema_overwrite_frequency": self.ema_overwrite_frequency,
            "loss_scale_factor": self.loss_scale_factor,
            "gradient_accumulation_steps": self.gradient_accumulation_steps,
        }

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        if isinstance(config.get("learning_rate"), dict):
            config["learning_rate"] = schedules_module.deserialize(config["learning_rate"], custom_objects)
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name} learning_rate={self._current_lr():g}>"

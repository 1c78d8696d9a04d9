"""Tensor and Variable: the values every backend op takes and returns.

A Tensor wraps exactly one numpy array (`_v`) and, when it was produced by an op recorded on a
GradientTape, the tape node that made it (`_node`). It is immutable by convention: ops never
write into their inputs. `np.asarray(t)` returns the wrapped array without a copy. A Variable is
a Tensor whose buffer is owned and updated in place (assign/assign_add/assign_sub), so the array
identity of a variable never changes: optimizer kernels and batch-norm statistics write straight
into it. Python operators (+, -, *, @, indexing, comparisons...) are attached to Tensor by the op
modules (math.py, shape.py), which keeps this module free of op code.

Dtype rules (Keras 3 on a 32-bit float backend): Python floats, float64 numpy arrays and lists of
floats become floatx() (float32) unless a dtype is asked for; Python ints become int32; integer
numpy arrays keep their type. In binary ops an integer operand meets a float operand in the float
type, and Python scalars are "weak" (they take the other operand's type).
"""
import numpy as np

from pykeras.backend import common

_ndarray = np.ndarray
_new = object.__new__
_F64 = np.dtype(np.float64)
_I64 = np.dtype(np.int64)
_I32 = np.dtype(np.int32)


def standardize_dtype(dtype):
    """numpy dtype for a dtype spec (None and `float` mean floatx())."""
    if dtype is None or dtype is float:
        return common.floatx_dtype()
    if dtype is int:
        return _I32
    if isinstance(dtype, np.dtype):
        return dtype
    try:
        return np.dtype(getattr(dtype, "name", dtype) if not isinstance(dtype, (str, type)) else dtype)
    except TypeError:
        raise TypeError(f"unknown dtype {dtype!r}") from None


def dtype_name(dtype):
    return standardize_dtype(dtype).name


class Tensor:
    """An immutable n-d value backed by one numpy array (see the module docstring)."""

    __slots__ = ("_v", "_node", "_keras_logits", "_logits_of", "_keras_mask", "__weakref__")
    _is_var = False
    # numpy defers binary operators with a Tensor operand to the Tensor's reflected method.
    __array_priority__ = 100

    def __init__(self, value, dtype=None):
        self._v = to_array(value, dtype)
        self._node = None

    # -- numpy interop -------------------------------------------------------------------------
    def __array__(self, dtype=None, copy=None):
        v = self._v
        if dtype is not None and v.dtype != dtype:
            return v.astype(dtype)
        if copy:
            return v.copy()
        return v

    def numpy(self):
        """A copy of the value as a numpy array."""
        return self._v.copy()

    # -- attributes ----------------------------------------------------------------------------
    @property
    def shape(self):
        return self._v.shape

    @property
    def dtype(self):
        return self._v.dtype

    @property
    def ndim(self):
        return self._v.ndim

    @property
    def size(self):
        return self._v.size

    @property
    def T(self):
        from pykeras.backend import array_ops as _shape

        return _shape.transpose(self)

    def reshape(self, *shape):
        from pykeras.backend import array_ops as _shape

        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = shape[0]
        return _shape.reshape(self, shape)

    def astype(self, dtype):
        from pykeras.backend import math_ops as _math

        return _math.cast(self, dtype)

    # -- Python protocol -----------------------------------------------------------------------
    __hash__ = object.__hash__

    def __len__(self):
        if self._v.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._v.shape[0]

    def __iter__(self):
        if self._v.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        for i in range(self._v.shape[0]):
            yield self[i]

    def _scalar(self, what):
        if self._v.size != 1:
            raise ValueError(f"{what} of a tensor needs exactly one element, got shape {self._v.shape}")
        return self._v.reshape(()).item()

    def __bool__(self):
        return bool(self._scalar("the truth value"))

    def __float__(self):
        return float(self._scalar("float()"))

    def __int__(self):
        return int(self._scalar("int()"))

    def __index__(self):
        if self._v.dtype.kind not in "iub":
            raise TypeError(f"only integer tensors can be used as an index, got dtype {self._v.dtype}")
        return int(self._scalar("index"))

    def __repr__(self):
        body = np.array2string(self._v, separator=", ", threshold=200)
        return f"<{type(self).__name__} shape={self._v.shape}, dtype={self._v.dtype.name}, numpy=\n{body}>"

    def __str__(self):
        return str(self._v)


def wrap(v):
    """A new untracked Tensor around ndarray `v` (no checks, no copy)."""
    t = _new(Tensor)
    t._v = v
    t._node = None
    return t


class Variable(Tensor):
    """A mutable, named Tensor with an owned buffer updated in place.

    Args:
        initial_value: an array-like, a Tensor, or a callable `f(shape, dtype)` (an initializer,
            used with `shape`). Keras 3's keyword name `initializer` is accepted too.
        dtype: defaults to the dtype of `initial_value` for arrays of a non-float64 type, else
            floatx().
        trainable: trainable variables are watched automatically by gradient tapes.
        name: a name (default 'variable'); `path` defaults to it.
        constraint: a callable applied by optimizers after each update.
    """

    __slots__ = ("name", "path", "trainable", "constraint", "regularizer", "_layer")
    _is_var = True

    def __init__(self, initial_value=None, dtype=None, trainable=True, name=None, constraint=None, shape=None,
                 initializer=None, regularizer=None, **kwargs):
        unknown = set(kwargs) - {"autocast", "aggregation", "synchronization", "validate_shape", "caching_device"}
        if unknown:
            raise TypeError(f"Variable: unexpected keyword arguments {sorted(unknown)}")
        if initial_value is None:
            initial_value = initializer
        if initial_value is None:
            raise ValueError("Variable: an initial value (or an initializer with a shape) is required")
        if callable(initial_value) and not isinstance(initial_value, (Tensor, _ndarray)):
            if shape is None:
                raise ValueError(f"Variable {name!r}: an initializer needs a `shape`")
            initial_value = initial_value(tuple(shape), dtype_name(dtype))
        v = to_array(initial_value, dtype)
        if shape is not None and tuple(v.shape) != tuple(shape):
            raise ValueError(f"Variable {name!r}: initial value has shape {v.shape}, expected {tuple(shape)}")
        # An owned, writeable, C-contiguous buffer.
        self._v = np.array(v, order="C", copy=True)
        self._node = None
        self.name = "variable" if name is None else str(name)
        self.path = self.name
        self.trainable = bool(trainable)
        self.constraint = constraint
        self.regularizer = regularizer
        self._layer = None

    @property
    def value(self):
        """The current value as a Tensor (shares the buffer; recorded on tapes like a read)."""
        from pykeras.backend import math_ops as _math

        return _math.identity(self)

    def numpy(self):
        return self._v.copy()

    def _checked(self, value, what):
        v = value._v if isinstance(value, Tensor) else np.asarray(value)
        if v.shape != self._v.shape:
            try:
                v = np.broadcast_to(v, self._v.shape) if v.ndim <= self._v.ndim and v.size == 1 else None
            except ValueError:
                v = None
            if v is None:
                raise ValueError(f"Variable {self.path!r}.{what}: value has shape {np.shape(value)}, "
                                 f"expected {self._v.shape}")
        return v

    def assign(self, value):
        """Writes `value` into the buffer (same shape); returns the variable."""
        np.copyto(self._v, self._checked(value, "assign"), casting="unsafe")
        return self

    def assign_add(self, delta):
        v = self._checked(delta, "assign_add")
        np.add(self._v, v, out=self._v, casting="unsafe")
        return self

    def assign_sub(self, delta):
        v = self._checked(delta, "assign_sub")
        np.subtract(self._v, v, out=self._v, casting="unsafe")
        return self

    def __repr__(self):
        body = np.array2string(self._v, separator=", ", threshold=50)
        return f"<Variable path={self.path}, shape={self._v.shape}, dtype={self._v.dtype.name}, value=\n{body}>"


def to_array(x, dtype=None):
    """numpy array for any tensor-like (see the module docstring for the dtype rules)."""
    if isinstance(x, Tensor):
        v = x._v
    elif isinstance(x, _ndarray):
        v = x
        if dtype is None and v.dtype is _F64 and common._FLOATX != "float64":
            return v.astype(common._FLOATX_DTYPE)
    else:
        if common.KERAS_TENSOR_TYPES and isinstance(x, tuple(common.KERAS_TENSOR_TYPES)):
            raise common.SymbolicInputError(f"a symbolic Keras tensor ({x!r}) cannot be converted to a value: "
                                            "symbolic tensors are only valid as inputs of layers and models "
                                            "(wrap backend code in a Lambda layer)")
        if isinstance(x, (list, tuple)) and any(isinstance(e, Tensor) for e in x):
            x = [to_array(e) for e in x]
        v = np.asarray(x)
        if v.dtype.kind == "O":
            raise TypeError(f"cannot convert an object of type {type(x).__name__} to a tensor")
        if dtype is None:
            if v.dtype is _F64 or v.dtype == _F64:
                if common._FLOATX != "float64":
                    v = v.astype(common._FLOATX_DTYPE)
            elif v.dtype == _I64 and not isinstance(x, np.generic):
                v = v.astype(_I32)
            return v
    if dtype is not None:
        dt = standardize_dtype(dtype)
        if v.dtype != dt:
            v = v.astype(dt)
    return v


def convert_to_tensor(x, dtype=None, sparse=None, ragged=None):
    """A Tensor for x (Tensors are returned as they are unless a different dtype is asked for)."""
    if isinstance(x, Tensor):
        if dtype is None or x._v.dtype == standardize_dtype(dtype):
            return x
        from pykeras.backend import math_ops as _math

        return _math.cast(x, dtype)
    return wrap(to_array(x, dtype))


def convert_to_numpy(x):
    """A numpy array for x (a copy for Tensors, so later in-place updates of variables do not show)."""
    if isinstance(x, Tensor):
        return x._v.copy()
    return np.asarray(x)


def is_tensor(x):
    return isinstance(x, Tensor)


def operand(x):
    """numpy operand of an op for a non-Tensor input: Python scalars stay (weak) Python scalars."""
    if isinstance(x, np.generic):  # before the Python types: np.float64 is a float subclass
        if x.dtype.kind == "f" and x.dtype == _F64:
            return float(x)
        return np.asarray(x)
    if isinstance(x, (float, int)):  # also bool
        return x
    return to_array(x)


def _promote(xv, yv):
    """Keras-style type promotion of two operands whose dtypes differ (or that are scalars)."""
    xd = getattr(xv, "dtype", None)
    yd = getattr(yv, "dtype", None)
    if xd is None and yd is None:
        return np.asarray(xv, common._FLOATX_DTYPE if isinstance(xv, float) else None), yv
    if xd is None or yd is None:
        # A weak Python scalar and an array: a float scalar lifts an integer/bool array to floatx.
        arr, scal = (yv, xv) if xd is None else (xv, yv)
        if isinstance(scal, float) and arr.dtype.kind in "iub":
            arr = arr.astype(common._FLOATX_DTYPE)
        elif isinstance(scal, int) and not isinstance(scal, bool) and arr.dtype.kind == "b":
            arr = arr.astype(_I32)
        return (scal, arr) if xd is None else (arr, scal)
    if xd == yd:
        return xv, yv
    xk, yk = xd.kind, yd.kind
    if xk == "f" and yk != "f":
        return xv, yv.astype(xd)
    if yk == "f" and xk != "f":
        return xv.astype(yd), yv
    if xk == "b" and yk != "b":
        return xv.astype(yd), yv
    if yk == "b" and xk != "b":
        return xv, yv.astype(xd)
    return xv, yv


def binary_operands(x, y):
    """numpy operands (arrays or weak Python scalars) of a binary op, type-promoted."""
    xv = x._v if isinstance(x, Tensor) else operand(x)
    yv = y._v if isinstance(y, Tensor) else operand(y)
    try:
        if xv.dtype is yv.dtype:
            return xv, yv
    except AttributeError:
        pass
    return _promote(xv, yv)

"""Runtime settings: which kernel path (ISA) runs, and on how many threads.

The kernel path starts as the best this CPU supports (AVX-512, else AVX2, else generic C++);
the environment variable ``PYKERAS_ISA=generic|avx2|avx512`` lowers it at import. The thread
count starts from ``OMP_NUM_THREADS``, else the number of CPUs this process may use.

At import, pykeras asks the C library (glibc) to keep freed allocations of up to 256 MiB mapped
(``_core.runtime.keep_freed_memory``): models allocate and free the same large activations on
every call, and with glibc's defaults each call would fault in fresh pages for them (a ResNet50
forward pass at batch 8 ran up to 2x slower). The process then keeps up to 512 MiB of freed heap
for reuse instead of returning it to the system at once; ``PYKERAS_MALLOC_TUNING=0`` in the
environment leaves the C library's defaults alone.
"""
import os

try:
    from pykeras import _core
except ImportError as e:  # pragma: no cover - depends on how the package was installed
    raise ImportError(
        f"pykeras's compiled kernels (pykeras._core) could not be loaded: {e}. "
        "Build and install them with `pip install .` from the source checkout."
    ) from e

_ISAS = ("generic", "avx2", "avx512")


def isa():
    """Name of the kernel path in use: 'avx512', 'avx2' or 'generic'."""
    return _core.runtime.isa()


def best_isa():
    """The best kernel path this CPU supports."""
    return _core.runtime.best_isa()


def set_isa(name):
    """Selects the kernel path ('generic', 'avx2' or 'avx512').

    Raises ValueError for an unknown name or a path this CPU cannot run.
    """
    if name not in _ISAS:
        raise ValueError(f"unknown kernel path {name!r}: expected one of {', '.join(_ISAS)}")
    _core.runtime.set_isa(name)


def get_num_threads():
    """Number of threads kernels may use."""
    return _core.runtime.num_threads()


def set_num_threads(n):
    """Sets the number of threads every kernel may use (n >= 1)."""
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(f"set_num_threads expects an int, got {type(n).__name__}")
    if n < 1:
        raise ValueError(f"the number of threads must be at least 1, got {n}")
    _core.runtime.set_num_threads(n)


def _apply_isa(requested):
    requested = requested.strip().lower()
    if requested not in _ISAS:
        raise ImportError(f"PYKERAS_ISA={requested!r} is not a kernel path: expected one of {', '.join(_ISAS)}")
    try:
        _core.runtime.set_isa(requested)
    except ValueError as e:
        raise ImportError(f"PYKERAS_ISA={requested}: {e}") from None


# Freed allocations up to this size stay mapped for reuse (see the module docstring).
HEAP_KEEP_BYTES = 256 << 20


def _apply_environment():
    requested = os.environ.get("PYKERAS_ISA")
    if requested:
        _apply_isa(requested)
    if os.environ.get("PYKERAS_MALLOC_TUNING", "1").strip() != "0":
        _core.runtime.keep_freed_memory(HEAP_KEEP_BYTES)


_apply_environment()


def enable_unsafe_deserialization():
    """Lets loading rebuild Python lambdas stored in saved configs (Keras's switch of this name).

    Only for files you trust: a lambda in a file is code that runs when the model runs.
    """
    from pykeras.saving.serialization_lib import enable_unsafe_deserialization as enable

    enable()

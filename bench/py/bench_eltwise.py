"""Elementwise kernels against numpy and PyTorch, each library and thread count in its own process.

Cases (float32, outputs preallocated in every library so that allocation and page faults are not
measured):
  relu 4M            ReLU forward on 4,194,304 floats (16 MB: fits this machine's 32 MB L3)
  relu fwd+bwd 4M    forward, then dx = dy * (x > 0) (torch: aten threshold_backward)
  relu 32M           ReLU on 33,554,432 floats (128 MB per array: DRAM-bound)
  softmax            softmax over the last axis of (4096, 1024)
  softmax fwd+bwd    forward, then the backward from y and dy
  bias add           (4096, 1024) + (1024,) broadcast add
  sum 4M             sum of 4,194,304 floats to a scalar
  column sum         (4096, 1024) summed over axis 0 (a bias gradient)
  gelu 4M            exact GELU (erf form) forward
  triad 32M          a = b + s c on 33,554,432 floats: torch's fused add(alpha), numpy's two passes;
                     pykeras runs its broadcast add a = b + c, which moves the same bytes (2 reads,
                     1 write) as the triad. Its GB/s is the memory bandwidth the DRAM-bound cases are
                     measured against.
GB/s counts the bytes an ideal kernel must read and write (STREAM convention).

    python bench/py/bench_eltwise.py --threads 1 2 [--markdown]

With PYKERAS_BENCH_CPU_TIME=1 in the environment, 1-thread workers time each call by the CPU
time of the process instead of the wall clock (as bench_conv.py does): on a machine shared with
other jobs the time slices the process did not get are left out. Runs with more threads always
use the wall clock.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
from harness import Case, main  # noqa: E402


N = 4_194_304
BIG = 33_554_432
ROWS, COLS = 4096, 1024


def arrays(n, count, seed=0):
    import numpy as np

    rng = np.random.default_rng(seed)
    return [rng.standard_normal(n, dtype=np.float32) for _ in range(count)]


def torch_arrays(n, count, seed=0):
    import torch

    return [torch.from_numpy(a) for a in arrays(n, count, seed)]


# ----------------------------------------------------------------------------- ReLU

def pyk_relu(n):
    def make(threads):
        from pykeras import _core

        x, = arrays(n, 1)
        out = x.copy()
        return lambda: _core.eltwise.unary("relu", x, out=out)
    return make


def np_relu(n):
    def make(threads):
        import numpy as np

        x, = arrays(n, 1)
        out = x.copy()
        return lambda: np.maximum(x, 0, out=out)
    return make


def torch_relu(n):
    def make(threads):
        import torch

        x, = torch_arrays(n, 1)
        out = x.clone()
        return lambda: torch.clamp_min(x, 0, out=out)
    return make


def pyk_relu_fwd_bwd(threads):
    from pykeras import _core

    x, dy = arrays(N, 2)
    y, dx = x.copy(), x.copy()

    def step():
        _core.eltwise.unary("relu", x, out=y)
        _core.eltwise.unary_backward("relu", dy, y=y, out=dx)
    return step


def np_relu_fwd_bwd(threads):
    import numpy as np

    x, dy = arrays(N, 2)
    y, dx = x.copy(), x.copy()
    zero = np.float32(0)

    def step():
        np.maximum(x, 0, out=y)
        np.multiply(dy, y > zero, out=dx)
    return step


def torch_relu_fwd_bwd(threads):
    import torch

    x, dy = torch_arrays(N, 2)
    y, dx = x.clone(), x.clone()

    def step():
        torch.clamp_min(x, 0, out=y)
        torch.ops.aten.threshold_backward.grad_input(dy, y, 0.0, grad_input=dx)
    return step


# ----------------------------------------------------------------------------- softmax

def pyk_softmax(bwd):
    def make(threads):
        from pykeras import _core

        x, dy = (a.reshape(ROWS, COLS) for a in arrays(N, 2))
        y, dx = x.copy(), x.copy()

        def step():
            _core.eltwise.softmax(x, axis=-1, out=y)
            if bwd:
                _core.eltwise.softmax_backward(y, dy, axis=-1, out=dx)
        return step
    return make


def np_softmax(bwd):
    def make(threads):
        import numpy as np

        x, dy = (a.reshape(ROWS, COLS) for a in arrays(N, 2))
        y, dx = x.copy(), x.copy()
        m, s = np.empty((ROWS, 1), np.float32), np.empty((ROWS, 1), np.float32)

        def step():
            np.max(x, axis=-1, keepdims=True, out=m)
            np.subtract(x, m, out=y)
            np.exp(y, out=y)
            np.sum(y, axis=-1, keepdims=True, out=s)
            np.divide(y, s, out=y)
            if bwd:
                np.multiply(dy, y, out=dx)
                np.sum(dx, axis=-1, keepdims=True, out=s)
                np.subtract(dy, s, out=dx)
                np.multiply(dx, y, out=dx)
        return step
    return make


def torch_softmax(bwd):
    def make(threads):
        import torch

        x, dy = (a.reshape(ROWS, COLS) for a in torch_arrays(N, 2))
        y, dx = x.clone(), x.clone()

        def step():
            torch.ops.aten._softmax.out(x, -1, False, out=y)
            if bwd:
                torch.ops.aten._softmax_backward_data.out(dy, y, -1, torch.float32, grad_input=dx)
        return step
    return make


# ----------------------------------------------------------------------------- broadcast add, sums, gelu

def pyk_bias_add(threads):
    from pykeras import _core

    a, = (v.reshape(ROWS, COLS) for v in arrays(N, 1))
    b, = arrays(COLS, 1, seed=1)
    out = a.copy()
    return lambda: _core.eltwise.binary("add", a, b, out=out)


def np_bias_add(threads):
    import numpy as np

    a, = (v.reshape(ROWS, COLS) for v in arrays(N, 1))
    b, = arrays(COLS, 1, seed=1)
    out = a.copy()
    return lambda: np.add(a, b, out=out)


def torch_bias_add(threads):
    import torch

    a, = (v.reshape(ROWS, COLS) for v in torch_arrays(N, 1))
    b, = torch_arrays(COLS, 1, seed=1)
    out = a.clone()
    return lambda: torch.add(a, b, out=out)


def pyk_sum(axis):
    def make(threads):
        from pykeras import _core

        x = arrays(N, 1)[0].reshape(ROWS, COLS)
        out = _core.eltwise.reduce("sum", x, axis=axis)
        return lambda: _core.eltwise.reduce("sum", x, axis=axis, out=out)
    return make


def np_sum(axis):
    def make(threads):
        import numpy as np

        x = arrays(N, 1)[0].reshape(ROWS, COLS)
        if axis is None:
            return lambda: np.sum(x)
        out = np.empty(COLS, np.float32)
        return lambda: np.sum(x, axis=axis, out=out)
    return make


def torch_sum(axis):
    def make(threads):
        import torch

        x = torch_arrays(N, 1)[0].reshape(ROWS, COLS)
        if axis is None:
            return lambda: torch.sum(x)
        out = torch.empty(COLS)
        return lambda: torch.sum(x, axis, out=out)
    return make


def pyk_gelu(threads):
    from pykeras import _core

    x, = arrays(N, 1)
    out = x.copy()
    return lambda: _core.eltwise.unary("gelu", x, out=out)


def torch_gelu(threads):
    import torch

    x, = torch_arrays(N, 1)
    out = x.clone()
    return lambda: torch._C._nn.gelu(x, out=out)


# ----------------------------------------------------------------------------- triad

def pyk_triad(threads):
    from pykeras import _core

    a, b, c = arrays(BIG, 3)
    return lambda: _core.eltwise.binary("add", b, c, out=a)


def np_triad(threads):
    import numpy as np

    a, b, c = arrays(BIG, 3)
    s = np.float32(3.0)

    def step():
        np.multiply(c, s, out=a)
        np.add(a, b, out=a)
    return step


def torch_triad(threads):
    import torch

    a, b, c = torch_arrays(BIG, 3)
    return lambda: torch.add(b, c, alpha=3.0, out=a)


def make_cases(args):
    return [
        Case("relu 4M", {"pykeras": pyk_relu(N), "numpy": np_relu(N), "torch": torch_relu(N)}, bytes=8.0 * N),
        Case("relu fwd+bwd 4M", {"pykeras": pyk_relu_fwd_bwd, "numpy": np_relu_fwd_bwd, "torch": torch_relu_fwd_bwd},
             bytes=8.0 * N + 12.0 * N),
        Case("relu 32M", {"pykeras": pyk_relu(BIG), "numpy": np_relu(BIG), "torch": torch_relu(BIG)},
             bytes=8.0 * BIG),
        Case("softmax 4096x1024", {"pykeras": pyk_softmax(False), "numpy": np_softmax(False),
                                   "torch": torch_softmax(False)}, bytes=8.0 * N),
        Case("softmax fwd+bwd", {"pykeras": pyk_softmax(True), "numpy": np_softmax(True), "torch": torch_softmax(True)},
             bytes=8.0 * N + 12.0 * N),
        Case("bias add 4096x1024", {"pykeras": pyk_bias_add, "numpy": np_bias_add, "torch": torch_bias_add},
             bytes=8.0 * N),
        Case("sum 4M", {"pykeras": pyk_sum(None), "numpy": np_sum(None), "torch": torch_sum(None)}, bytes=4.0 * N),
        Case("column sum 4096x1024", {"pykeras": pyk_sum(0), "numpy": np_sum(0), "torch": torch_sum(0)},
             bytes=4.0 * N),
        Case("gelu 4M", {"pykeras": pyk_gelu, "torch": torch_gelu}, bytes=8.0 * N),
        Case("triad 32M", {"pykeras": pyk_triad, "numpy": np_triad, "torch": torch_triad}, bytes=12.0 * BIG),
    ]


if __name__ == "__main__":
    main("Elementwise kernels", make_cases, ["pykeras", "numpy", "torch"])

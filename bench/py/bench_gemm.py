"""SGEMM C = A @ B (float32, row-major) in pykeras, numpy (OpenBLAS) and PyTorch (MKL).

Square sizes 64..2048 and the deep-learning shapes (M, K, N) of dense layers and convolutions
lowered to GEMM. Every library writes into a preallocated output (out=), so allocation is not
timed. Ratios > 1 mean pykeras is faster than the best peer in the same run.

    python bench/py/bench_gemm.py [--threads 1 2] [--markdown] [--cases 1024 12544]
"""
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
from harness import Case, main  # noqa: E402

SQUARE = [64, 128, 256, 512, 1024, 2048]
DL_SHAPES = [(128, 784, 512), (128, 512, 512), (128, 512, 10), (32768, 576, 64), (12544, 27, 32)]


def operands(m, k, n):
    import numpy as np

    rng = np.random.default_rng(0)
    a = rng.standard_normal((m, k), dtype=np.float32)
    b = rng.standard_normal((k, n), dtype=np.float32)
    return a, b, np.empty((m, n), np.float32)


def make_cases(args):
    def pykeras_impl(m, k, n):
        def factory(threads):
            from pykeras import _core

            a, b, c = operands(m, k, n)
            sgemm = _core.gemm.sgemm
            return lambda: sgemm(a, b, c)

        return factory

    def numpy_impl(m, k, n):
        def factory(threads):
            import numpy as np

            a, b, c = operands(m, k, n)
            return lambda: np.matmul(a, b, out=c)

        return factory

    def torch_impl(m, k, n):
        def factory(threads):
            import torch

            a, b, c = (torch.from_numpy(x) for x in operands(m, k, n))
            return lambda: torch.mm(a, b, out=c)

        return factory

    cases = []
    shapes = [(s, s, s) for s in SQUARE] + DL_SHAPES
    for m, k, n in shapes:
        impls = {"pykeras": pykeras_impl(m, k, n), "numpy": numpy_impl(m, k, n), "torch": torch_impl(m, k, n)}
        cases.append(Case(f"{m}x{k}x{n}", impls, flops=2.0 * m * k * n))
    return cases


if __name__ == "__main__":
    main("SGEMM C = A @ B, (M, K, N), float32", make_cases, ["pykeras", "numpy", "torch"])

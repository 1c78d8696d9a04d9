"""Guards against the GEMM silently losing its fast path (for example dispatching to the generic
kernels): on the best kernel path this CPU has, pykeras's sgemm must run a 512 x 512 x 512
product at least 0.7x as fast as numpy's matmul (OpenBLAS) in the same process. The real
benchmarks (bench/py/bench_gemm.py) show pykeras well ahead; the wide margin absorbs the noise
of a shared machine. Both libraries run on one thread (a second thread that the OS schedules
late on a busy machine would dominate the timing), calls alternate between them so that both see
the same load, and the fastest of many runs of each is compared (other processes on a shared
machine only ever add time, so the minimum is the steadiest estimate of each library's speed).
"""
import contextlib
import time

import numpy as np

from pykeras import _core, config

try:  # ships with scikit-learn, which the test extra installs
    from threadpoolctl import threadpool_limits
except ImportError:  # pragma: no cover
    threadpool_limits = None

SIZE = 512
MIN_RATIO = 0.7
ROUNDS = 25


def test_sgemm_keeps_pace_with_numpy_on_the_best_path():
    config.set_isa(config.best_isa())  # both restored by conftest's autouse fixture
    config.set_num_threads(1)
    with threadpool_limits(1) if threadpool_limits else contextlib.nullcontext():
        ratio, detail = _median_ratio()
    assert ratio >= MIN_RATIO, f"sgemm {SIZE}^3 on {config.isa()} ran at {ratio:.2f}x numpy's speed ({detail})"


def _median_ratio():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((SIZE, SIZE), dtype=np.float32)
    b = rng.standard_normal((SIZE, SIZE), dtype=np.float32)
    ours, theirs = np.empty((SIZE, SIZE), np.float32), np.empty((SIZE, SIZE), np.float32)
    sgemm = _core.gemm.sgemm
    for _ in range(2):  # warm-up: threads, packing buffers, caches
        sgemm(a, b, ours)
        np.matmul(a, b, out=theirs)
    t_ours, t_theirs = [], []
    for _ in range(ROUNDS):
        t0 = time.perf_counter()
        sgemm(a, b, ours)
        t1 = time.perf_counter()
        np.matmul(a, b, out=theirs)
        t2 = time.perf_counter()
        t_ours.append(t1 - t0)
        t_theirs.append(t2 - t1)
    np.testing.assert_allclose(ours, theirs, rtol=1e-3, atol=1e-3)
    ratio = min(t_theirs) / min(t_ours)
    detail = f"fastest {min(t_ours) * 1e3:.2f} ms vs {min(t_theirs) * 1e3:.2f} ms, expected >= {MIN_RATIO}x"
    return ratio, detail

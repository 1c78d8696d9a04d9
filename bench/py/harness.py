"""Runs one workload set in pykeras and its peers, each (library, threads) in its own process.

A benchmark script lists its cases and, per library, a factory that prepares the inputs and
returns a zero-argument callable doing one unit of work. The harness then, for every thread
count, starts one worker process per library (1-thread workers pinned to one CPU; thread
variables set before numpy/torch/jax are imported), times each case (warm-up, then the median of
repeated runs), and prints one table per thread count with the ratio of the best peer's time to
pykeras's time (> 1 means pykeras is faster). `--markdown` prints tables for bench/RESULTS.md.

Usage of a script built on it:
    python bench/py/bench_gemm.py [--threads 1 2] [--libs pykeras numpy torch] [--markdown]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Callable, Dict, Optional

THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS")


@dataclass
class Case:
    name: str
    # lib name -> factory(threads) -> callable doing one unit of work
    impls: Dict[str, Callable[[int], Callable[[], object]]]
    flops: Optional[float] = None  # per unit of work, for GFLOP/s
    bytes: Optional[float] = None  # per unit of work, for GB/s
    samples: Optional[int] = None  # per unit of work, for samples/s
    extra: dict = field(default_factory=dict)


def cpu_time_wanted():
    """PYKERAS_BENCH_CPU_TIME=1 times the calls of 1-thread workers by the CPU time of the process
    (time.process_time) instead of the wall clock: on a machine shared with other jobs, the time
    slices the process did not get are left out. Runs with more threads use the wall clock."""
    return os.environ.get("PYKERAS_BENCH_CPU_TIME") == "1" and os.environ.get("OMP_NUM_THREADS") == "1"


def time_callable(fn, min_time=0.2, min_reps=5, max_reps=200, warmup=2):
    """Median seconds per call after `warmup` calls; repeats until min_time and min_reps are met."""
    clock = time.process_time if cpu_time_wanted() else time.perf_counter
    for _ in range(warmup):
        fn()
    times = []
    start = time.perf_counter()
    while len(times) < max_reps and (len(times) < min_reps or time.perf_counter() - start < min_time):
        t0 = clock()
        fn()
        times.append(clock() - t0)
    return statistics.median(times)


def set_library_threads(lib, threads):
    """Applies `threads` inside a worker, after its library is importable."""
    if lib == "pykeras":
        import pykeras

        pykeras.config.set_num_threads(threads)
    elif lib == "torch":
        import torch

        torch.set_num_threads(threads)
        torch.set_num_interop_threads(1)


def _worker(cases, lib, threads, min_time):
    set_library_threads(lib, threads)
    results = {}
    for case in cases:
        if lib not in case.impls:
            continue
        try:
            fn = case.impls[lib](threads)
            results[case.name] = time_callable(fn, min_time=min_time)
        except ImportError as e:
            results[case.name] = f"unavailable: {e}"
    print("RESULTS " + json.dumps(results))


def _spawn(script, lib, threads, min_time, script_args):
    env = dict(os.environ)
    for var in THREAD_VARS:
        env[var] = str(threads)
    if lib == "jax" or lib.startswith("keras"):
        env["XLA_FLAGS"] = env.get("XLA_FLAGS", "") + (
            " --xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1" if threads == 1 else ""
        )
    cmd = [sys.executable, script, "--worker", lib, "--worker-threads", str(threads), "--min-time", str(min_time)]
    cmd += script_args
    if threads == 1:
        cmd = ["taskset", "-c", "0"] + cmd
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    for line in proc.stdout.splitlines():
        if line.startswith("RESULTS "):
            return json.loads(line[len("RESULTS "):])
    sys.stderr.write(f"[{lib}, {threads} threads] worker failed:\n{proc.stderr[-3000:]}\n")
    return {}


def _fmt_time(seconds):
    if not isinstance(seconds, float):
        return "n/a"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.3f} ms"
    return f"{seconds * 1e6:.1f} us"


def _table(cases, libs, timings, markdown):
    """timings: lib -> case -> seconds. Returns printable lines."""
    peers = [lib for lib in libs if lib != "pykeras"]
    header = ["case"] + [f"{lib}" for lib in libs]
    if any(c.flops for c in cases):
        header.append("pykeras GFLOP/s")
    if any(c.bytes for c in cases):
        header.append("pykeras GB/s")
    if any(c.samples for c in cases):
        header += [f"{lib} samples/s" for lib in libs]
    if peers:
        header.append("best peer / pykeras")
    rows = []
    for case in cases:
        row = [case.name] + [_fmt_time(timings.get(lib, {}).get(case.name)) for lib in libs]
        ours = timings.get("pykeras", {}).get(case.name)
        ok = isinstance(ours, float)
        if any(c.flops for c in cases):
            row.append(f"{case.flops / ours * 1e-9:.1f}" if ok and case.flops else "")
        if any(c.bytes for c in cases):
            row.append(f"{case.bytes / ours * 1e-9:.1f}" if ok and case.bytes else "")
        if any(c.samples for c in cases):
            for lib in libs:
                t = timings.get(lib, {}).get(case.name)
                row.append(f"{case.samples / t:,.0f}" if isinstance(t, float) and case.samples else "")
        if peers:
            peer_times = [timings.get(p, {}).get(case.name) for p in peers]
            peer_times = [t for t in peer_times if isinstance(t, float)]
            row.append(f"{min(peer_times) / ours:.2f}x" if ok and peer_times else "")
        rows.append(row)
    if markdown:
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(r) + " |" for r in rows]
        return lines
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
    fmt = "  ".join("{:<%d}" % w for w in widths)
    return [fmt.format(*header)] + [fmt.format(*r) for r in rows]


def main(title, make_cases, default_libs, argv=None):
    """Entry point of a benchmark script. make_cases(args) -> list[Case]."""
    parser = argparse.ArgumentParser(description=title)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--libs", nargs="+", default=default_libs)
    parser.add_argument("--min-time", type=float, default=0.3, help="seconds of timed runs per case")
    parser.add_argument("--markdown", action="store_true")
    parser.add_argument("--cases", nargs="*", help="only cases whose name contains one of these")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--worker-threads", type=int, help=argparse.SUPPRESS)
    args, _ = parser.parse_known_args(argv)

    cases = make_cases(args)
    if args.cases:
        cases = [c for c in cases if any(s in c.name for s in args.cases)]
    if args.worker:
        _worker(cases, args.worker, args.worker_threads, args.min_time)
        return

    script = os.path.abspath(sys.argv[0])
    passthrough = []
    if args.cases:
        passthrough = ["--cases"] + args.cases
    import pykeras

    print(f"# {title}")
    print(f"# pykeras kernel path: {pykeras.config.isa()}; median of timed runs; ratio > 1: pykeras faster")
    for threads in args.threads:
        timings = {lib: _spawn(script, lib, threads, args.min_time, passthrough) for lib in args.libs}
        print(f"\n## {threads} thread{'s' if threads > 1 else ''}")
        for line in _table(cases, args.libs, timings, args.markdown):
            print(line)
        sys.stdout.flush()

"""Training throughput (samples/s): pykeras vs Keras 3 on JAX and PyTorch, same models, same data.

One unit of work is one epoch of `fit` (Keras, pykeras: verbose=0, no shuffling) or the
equivalent hand-written loop (PyTorch, channels_last for the CNN, denormals flushed as XLA and
pykeras do) over a fixed synthetic data set; the harness reports the median over repeated
epochs after two warm-up epochs (which include JAX's compilation).

Cases:
  a. mlp b128: 784 -> Dense(512, relu) -> Dropout(0.2) -> Dense(512, relu) -> Dropout(0.2)
     -> Dense(10, softmax), RMSprop, categorical crossentropy, batch 128
  b. mnist_cnn b128: 28x28x1 -> Conv2D(32, 3, relu) -> Conv2D(64, 3, relu) -> MaxPooling2D(2)
     -> Dropout(0.25) -> Flatten -> Dense(128, relu) -> Dropout(0.5) -> Dense(10, softmax),
     Adam, categorical crossentropy, batch 128
  c. mlp b32: case a at batch 32

    python bench/py/bench_training.py [--threads 1 2] [--libs pykeras keras torch] [--markdown]
    python bench/py/bench_training.py --min-step [--threads 1 2]   # per-step minimum (see below)
    python bench/py/bench_training.py --profile mlp   # where a pykeras step spends its time

--min-step times single training steps (`train_on_batch` for Keras and pykeras, one
forward/backward/update for PyTorch) a few hundred times per library and reports the fastest
step and the median. On a shared, loaded machine the epoch medians above move with the load
from one library's run to the next; the fastest step is what each library does when it gets
the core to itself, so ratios of minima are the more stable comparison there.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
from harness import Case, main  # noqa: E402

MLP_BATCHES = 32  # batches per timed epoch
CNN_BATCHES = 4


def synthetic(kind, n):
    import numpy as np

    rng = np.random.default_rng(0)
    shape = (n, 784) if kind == "mlp" else (n, 28, 28, 1)
    x = rng.random(shape, dtype=np.float32)
    y = np.eye(10, dtype=np.float32)[rng.integers(0, 10, n)]
    return x, y


# -- Keras-style models (pykeras and Keras share the code through the module they are given) ------
def keras_style_model(k, kind):
    L = k.layers
    if kind == "mlp":
        model = k.Sequential([
            L.Input((784,)), L.Dense(512, activation="relu"), L.Dropout(0.2), L.Dense(512, activation="relu"),
            L.Dropout(0.2), L.Dense(10, activation="softmax"),
        ])
        model.compile(optimizer=k.optimizers.RMSprop(), loss="categorical_crossentropy", metrics=["accuracy"])
    else:
        model = k.Sequential([
            L.Input((28, 28, 1)), L.Conv2D(32, 3, activation="relu"), L.Conv2D(64, 3, activation="relu"),
            L.MaxPooling2D(2), L.Dropout(0.25), L.Flatten(), L.Dense(128, activation="relu"), L.Dropout(0.5),
            L.Dense(10, activation="softmax"),
        ])
        model.compile(optimizer=k.optimizers.Adam(), loss="categorical_crossentropy", metrics=["accuracy"])
    return model


def fit_epoch(k, kind, batch, single_step=False):
    n = batch * (MLP_BATCHES if kind == "mlp" else CNN_BATCHES)
    x, y = synthetic(kind, n)
    model = keras_style_model(k, kind)
    if single_step:
        return lambda: model.train_on_batch(x[:batch], y[:batch])
    return lambda: model.fit(x, y, batch_size=batch, epochs=1, verbose=0, shuffle=False)


def pykeras_impl(kind, batch, single_step=False):
    def factory(threads):
        import pykeras

        pykeras.utils.set_random_seed(0)
        return fit_epoch(pykeras, kind, batch, single_step)

    return factory


def keras_impl(kind, batch, single_step=False):
    def factory(threads):
        os.environ.setdefault("KERAS_BACKEND", "jax")
        import keras

        keras.utils.set_random_seed(0)
        return fit_epoch(keras, kind, batch, single_step)

    return factory


def torch_impl(kind, batch, single_step=False):
    def factory(threads):
        import torch
        from torch import nn

        torch.manual_seed(0)
        torch.set_flush_denormal(True)
        n = batch * (MLP_BATCHES if kind == "mlp" else CNN_BATCHES)
        x, y = synthetic(kind, n)
        labels = torch.from_numpy(y.argmax(-1))
        if kind == "mlp":
            xt = torch.from_numpy(x)
            model = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Dropout(0.2), nn.Linear(512, 512), nn.ReLU(),
                                  nn.Dropout(0.2), nn.Linear(512, 10))
            opt = torch.optim.RMSprop(model.parameters(), lr=0.001, alpha=0.9, eps=1e-7)
        else:
            xt = torch.from_numpy(x).permute(0, 3, 1, 2).contiguous(memory_format=torch.channels_last)
            model = nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
                                  nn.Dropout(0.25), nn.Flatten(), nn.Linear(64 * 12 * 12, 128), nn.ReLU(),
                                  nn.Dropout(0.5), nn.Linear(128, 10)).to(memory_format=torch.channels_last)
            opt = torch.optim.Adam(model.parameters(), lr=0.001, eps=1e-7)
        loss_fn = nn.CrossEntropyLoss()  # log-softmax + NLL: the fused equivalent of softmax + CE
        model.train()

        def step(i):
            opt.zero_grad(set_to_none=True)
            out = model(xt[i:i + batch])
            loss = loss_fn(out, labels[i:i + batch])
            loss.backward()
            opt.step()
            # the same per-batch loss and accuracy bookkeeping fit does
            loss.item()
            (out.argmax(1) == labels[i:i + batch]).float().mean().item()

        def epoch():
            for i in range(0, n, batch):
                step(i)

        return (lambda: step(0)) if single_step else epoch

    return factory


CASE_LIST = (("a. mlp b128", "mlp", 128, MLP_BATCHES), ("b. mnist_cnn b128", "cnn", 128, CNN_BATCHES),
             ("c. mlp b32", "mlp", 32, MLP_BATCHES))
IMPLS = {"pykeras": pykeras_impl, "keras": keras_impl, "torch": torch_impl}


def min_step_worker(lib, threads, reps=300, budget=20.0):
    """Prints {case: [fastest step, median step, samples per step]} for one library."""
    import json
    import statistics
    import time

    from harness import set_library_threads

    set_library_threads(lib, threads)
    out = {}
    for name, kind, batch, _ in CASE_LIST:
        try:
            fn = IMPLS[lib](kind, batch, single_step=True)(threads)
        except ImportError as e:
            out[name] = f"unavailable: {e}"
            continue
        for _ in range(3):
            fn()
        times = []
        start = time.perf_counter()
        while len(times) < reps and time.perf_counter() - start < budget:
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        out[name] = [min(times), statistics.median(times), batch]
    print("RESULTS " + json.dumps(out))


def min_step_main(threads_list, libs):
    import json
    import subprocess

    from harness import THREAD_VARS

    print("# Training step, fastest of repeated single steps (median in brackets); samples/s from the fastest")
    for threads in threads_list:
        rows = {}
        for lib in libs:
            env = dict(os.environ)
            for var in THREAD_VARS:
                env[var] = str(threads)
            if lib == "keras" and threads == 1:
                env["XLA_FLAGS"] = env.get("XLA_FLAGS", "") + " --xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
            cmd = [sys.executable, os.path.abspath(__file__), "--min-step-worker", lib, str(threads)]
            if threads == 1:
                cmd = ["taskset", "-c", "0"] + cmd
            proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
            line = [l for l in proc.stdout.splitlines() if l.startswith("RESULTS ")]
            rows[lib] = json.loads(line[0][8:]) if line else {}
            if not line:
                sys.stderr.write(f"[{lib}, {threads} threads] failed:\n{proc.stderr[-2000:]}\n")
        print(f"\n## {threads} thread{'s' if threads > 1 else ''}")
        print("| case | " + " | ".join(f"{lib} ms/step" for lib in libs) + " | "
              + " | ".join(f"{lib} samples/s" for lib in libs) + " | best peer / pykeras |")
        print("|---|" + "---|" * (2 * len(libs) + 1))
        for name, _, batch, _ in CASE_LIST:
            cells, rates, best = [], [], {}
            for lib in libs:
                r = rows[lib].get(name)
                if isinstance(r, list):
                    cells.append(f"{r[0] * 1e3:.2f} ({r[1] * 1e3:.2f})")
                    rates.append(f"{batch / r[0]:,.0f}")
                    best[lib] = r[0]
                else:
                    cells.append("n/a")
                    rates.append("")
            peers = [t for lib, t in best.items() if lib != "pykeras"]
            ratio = f"{min(peers) / best['pykeras']:.2f}x" if peers and "pykeras" in best else ""
            print(f"| {name} | " + " | ".join(cells) + " | " + " | ".join(rates) + f" | {ratio} |")
        sys.stdout.flush()


def make_cases(args):
    cases = []
    for name, kind, batch, nb in CASE_LIST:
        impls = {lib: impl(kind, batch) for lib, impl in IMPLS.items()}
        cases.append(Case(name, impls, samples=batch * nb))
    return cases


def profile(kind="mlp", batch=128, steps=60):
    """Prints where one pykeras training step spends its time (cProfile, top functions)."""
    import cProfile
    import pstats

    import pykeras

    pykeras.utils.set_random_seed(0)
    x, y = synthetic(kind, batch * steps)
    model = keras_style_model(pykeras, kind)
    model.fit(x[: batch * 2], y[: batch * 2], batch_size=batch, epochs=1, verbose=0)
    prof = cProfile.Profile()
    prof.enable()
    model.fit(x, y, batch_size=batch, epochs=1, verbose=0, shuffle=False)
    prof.disable()
    stats = pstats.Stats(prof)
    print(f"# pykeras {kind} batch {batch}: {steps} steps, {pykeras.config.get_num_threads()} threads")
    stats.sort_stats("tottime").print_stats(25)


if __name__ == "__main__":
    if "--min-step-worker" in sys.argv:
        i = sys.argv.index("--min-step-worker")
        min_step_worker(sys.argv[i + 1], int(sys.argv[i + 2]))
    elif "--min-step" in sys.argv:
        threads = [1, 2]
        if "--threads" in sys.argv:
            i = sys.argv.index("--threads") + 1
            threads = []
            while i < len(sys.argv) and sys.argv[i].isdigit():
                threads.append(int(sys.argv[i]))
                i += 1
        min_step_main(threads, ["pykeras", "keras", "torch"])
    elif "--profile" in sys.argv:
        i = sys.argv.index("--profile")
        kind = sys.argv[i + 1] if i + 1 < len(sys.argv) else "mlp"
        profile(kind)
    else:
        main("Training throughput (one epoch of fit; samples/s)", make_cases, ["pykeras", "keras", "torch"])

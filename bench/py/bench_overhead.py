"""Framework overhead of the backend (ops + gradient tape) against PyTorch eager.

Cases
- "chain 200 ops 8x8, fwd+grad": y = y * c + c repeated 100 times on 8x8 float32 tensors (200
  recorded ops), summed, and the gradient with respect to the 8x8 start variable. The kernels do
  almost nothing at this size, so the time is the framework's per-op cost: divide by 200 (the
  "samples/s" column counts recorded ops per second).
- "chain 200 ops 8x8, fwd only (no tape)": the same forward pass outside any tape.
- "MLP 784-512-512-10 bN, fwd+loss+grad": relu-relu-softmax dense layers, mean sparse softmax
  crossentropy, gradients of the six weights (batch N = 32 or 128); "+SGD" adds the in-place update.
- "... kernels only": the same step as the exact sequence of kernel calls the backend makes
  (pykeras.backend.kernels, no Tensors, no tape). pykeras minus this row is the framework's
  overhead per training step.
- "... framework only": the pykeras step with every entry point of pykeras.backend.kernels
  replaced by a stub that replays, in call order, the results the kernels computed in the first
  step, so the kernels cost ~nothing and the time left is the Python side (Tensors, tape,
  dtype/shape handling, plus ~0.1 us per stub call). Unlike "pykeras - kernels only" it does not
  drown in the noise of a shared machine.

    python bench/py/bench_overhead.py [--threads 1 2] [--markdown]
"""
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
from harness import Case, main  # noqa: E402

CHAIN = 100  # iterations of y = y * c + c: 2 ops each


def chain_inputs():
    import numpy as np

    rng = np.random.default_rng(0)
    return rng.uniform(0.5, 1.0, (8, 8)).astype(np.float32), rng.uniform(0.0, 0.5, (8, 8)).astype(np.float32) * 0.01


def mlp_inputs(batch):
    import numpy as np

    rng = np.random.default_rng(0)
    sizes = [784, 512, 512, 10]
    ws = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        ws.append((rng.standard_normal((a, b)) * np.sqrt(2.0 / a)).astype(np.float32))
        ws.append(np.zeros(b, np.float32))
    x = rng.random((batch, 784), dtype=np.float32)
    labels = rng.integers(0, 10, batch)
    return ws, x, labels


# ------------------------------------------------------------------------------------------------
# pykeras

def pyk_chain(threads, with_grad=True):
    from pykeras import backend as K

    a0, c0 = chain_inputs()
    a = K.variable(a0)
    c = K.constant(c0)

    def step():
        with K.GradientTape() as tape:
            y = a
            for _ in range(CHAIN):
                y = y * c + c
            s = K.sum(y)
        return tape.gradient(s, a)

    def forward():
        y = a
        for _ in range(CHAIN):
            y = y * c + c
        return y

    return step if with_grad else forward


def pyk_mlp(batch, sgd=False):
    def factory(threads):
        from pykeras import backend as K

        ws, x0, labels = mlp_inputs(batch)
        params = [K.variable(w) for w in ws]
        x = K.constant(x0)

        def step():
            w1, b1, w2, b2, w3, b3 = params
            with K.GradientTape() as tape:
                h = K.dense(x, w1, b1, "relu")
                h = K.dense(h, w2, b2, "relu")
                p = K.dense(h, w3, b3, "softmax")
                loss = K.mean(K.sparse_categorical_crossentropy(labels, p))
            grads = tape.gradient(loss, params)
            if sgd:
                for v, g in zip(params, grads):
                    v.assign_sub(0.01 * g._v)
            return loss

        return step

    return factory


def kernels_mlp(batch, sgd=False):
    """The kernel calls of pyk_mlp's step, without the framework."""
    def factory(threads):
        import numpy as np

        from pykeras.backend import kernels as kn

        ws, x, labels = mlp_inputs(batch)
        w1, b1, w2, b2, w3, b3 = ws
        upstream = np.full(batch, 1.0 / batch, np.float32)  # d mean / d per-sample loss

        def step():
            h1 = kn.gemm(x, w1, bias=b1, act="relu")
            h2 = kn.gemm(h1, w2, bias=b2, act="relu")
            z = kn.gemm(h2, w3, bias=b3)
            kn.softmax(z)  # the softmax layer output (the loss reads the logits)
            loss, grad = kn.sparse_softmax_xent(z, labels, with_grad=True)
            loss.mean()
            dz = kn.scale_rows(grad, upstream)
            grads = [kn.gemm(h2, dz, trans_a=True), kn.column_sums(dz)]
            dh2 = kn.act_backward("relu", kn.gemm(dz, w3, trans_b=True), None, h2)
            grads += [kn.gemm(h1, dh2, trans_a=True), kn.column_sums(dh2)]
            dh1 = kn.act_backward("relu", kn.gemm(dh2, w2, trans_b=True), None, h1)
            grads += [kn.gemm(x, dh1, trans_a=True), kn.column_sums(dh1)]
            if sgd:
                for w, g in zip((w3, b3, w2, b2, w1, b1), grads):
                    w -= 0.01 * g
            return grads

        return step

    return factory


STUBBED = ("gemm", "matmul", "act_forward", "act_backward", "softmax", "softmax_backward", "log_softmax",
           "log_softmax_backward", "softmax_xent", "sparse_softmax_xent", "sigmoid_xent", "scale_rows", "column_sums",
           "add", "dropout", "dropout_backward", "unary", "unary_backward")


def pyk_mlp_framework_only(batch):
    def factory(threads):
        from pykeras.backend import kernels as kn

        real = {name: getattr(kn, name) for name in STUBBED}
        results = []  # kernel results of the first step, in call order
        pos = [0]
        recording = [True]

        def make_stub(name):
            fn = real[name]

            def stub(*args, **kwargs):
                if recording[0]:
                    r = fn(*args, **kwargs)
                    results.append(r)
                    return r
                r = results[pos[0]]
                pos[0] += 1
                return r
            return stub

        stubs = {name: make_stub(name) for name in STUBBED}
        step = pyk_mlp(batch)(threads)

        def run():
            for name, f in stubs.items():
                setattr(kn, name, f)
            pos[0] = 0
            try:
                return step()
            finally:
                recording[0] = False
                for name, f in real.items():
                    setattr(kn, name, f)

        return run

    return factory


# ------------------------------------------------------------------------------------------------
# PyTorch eager

def torch_chain(threads, with_grad=True):
    import torch

    a0, c0 = chain_inputs()
    a = torch.from_numpy(a0).requires_grad_(with_grad)
    c = torch.from_numpy(c0)

    def step():
        y = a
        for _ in range(CHAIN):
            y = y * c + c
        y.sum().backward()
        g = a.grad
        a.grad = None
        return g

    def forward():
        with torch.no_grad():
            y = a
            for _ in range(CHAIN):
                y = y * c + c
        return y

    return step if with_grad else forward


def torch_mlp(batch, sgd=False):
    def factory(threads):
        import torch
        import torch.nn.functional as F

        torch.set_flush_denormal(True)
        ws, x0, labels0 = mlp_inputs(batch)
        params = [torch.from_numpy(w.T.copy() if w.ndim == 2 else w.copy()).requires_grad_() for w in ws]
        x = torch.from_numpy(x0)
        labels = torch.from_numpy(labels0)

        def step():
            w1, b1, w2, b2, w3, b3 = params
            h = F.relu(F.linear(x, w1, b1))
            h = F.relu(F.linear(h, w2, b2))
            loss = F.cross_entropy(F.linear(h, w3, b3), labels)
            grads = torch.autograd.grad(loss, params)
            if sgd:
                with torch.no_grad():
                    for p, g in zip(params, grads):
                        p.sub_(0.01 * g)
            return loss

        return step

    return factory


def make_cases(args):
    ops = 2 * CHAIN + 1
    cases = [
        Case("chain 200 ops 8x8, fwd+grad", {"pykeras": pyk_chain, "torch": torch_chain}, samples=ops),
        Case("chain 200 ops 8x8, fwd only (no tape)",
             {"pykeras": lambda t: pyk_chain(t, False), "torch": lambda t: torch_chain(t, False)}, samples=ops),
    ]
    for batch in (32, 128):
        cases.append(Case(f"MLP 784-512-512-10 b{batch}, fwd+loss+grad",
                          {"pykeras": pyk_mlp(batch), "torch": torch_mlp(batch)}, samples=batch))
        cases.append(Case(f"MLP 784-512-512-10 b{batch}, fwd+loss+grad, kernels only",
                          {"pykeras": kernels_mlp(batch)}, samples=batch))
        cases.append(Case(f"MLP 784-512-512-10 b{batch}, fwd+loss+grad, framework only",
                          {"pykeras": pyk_mlp_framework_only(batch)}, samples=batch))
        cases.append(Case(f"MLP 784-512-512-10 b{batch}, fwd+loss+grad+SGD",
                          {"pykeras": pyk_mlp(batch, True), "torch": torch_mlp(batch, True)}, samples=batch))
    return cases


if __name__ == "__main__":
    main("Framework overhead: recorded ops and small training steps", make_cases, ["pykeras", "torch"])

"""One optimizer step over the parameters of mnist_cnn (~1.2M floats in 8 tensors).

pykeras: one fused native call for all tensors (pykeras._core.optim.*_update). PyTorch:
torch.optim with foreach=True ("torch") and fused=True ("torch-fused"). Keras 3 on JAX: the
optimizer's stateless_apply under jax.jit (buffers donated, so the update can run in place).
"""
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
from harness import Case, main  # noqa: E402

# mnist_cnn's weights: Conv 3x3x1x32, Conv 3x3x32x64, Dense 9216x128, Dense 128x10, and biases.
SHAPES = [(3, 3, 1, 32), (32,), (3, 3, 32, 64), (64,), (9216, 128), (128,), (128, 10), (10,)]
LR = 1e-3


def arrays(seed):
    import numpy as np

    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s).astype(np.float32) for s in SHAPES]


def count():
    import numpy as np

    return int(sum(np.prod(s) for s in SHAPES))


def pyk(name):
    def make(threads):
        import numpy as np

        from pykeras import _core

        O = _core.optim
        params, grads = arrays(0), arrays(1)
        zeros = lambda: [np.zeros(s, np.float32) for s in SHAPES]  # noqa: E731
        if name == "adam":
            m, v = zeros(), zeros()
            return lambda: O.adam_update(params, grads, m, v, step=10, learning_rate=LR)
        if name == "sgd":
            m = zeros()
            return lambda: O.sgd_update(params, grads, m, learning_rate=LR, momentum=0.9)
        if name == "rmsprop":
            v = zeros()
            return lambda: O.rmsprop_update(params, grads, v, learning_rate=LR)
        raise ValueError(name)

    return make


def torch_opt(name, fused):
    def make(threads):
        import torch

        torch.set_num_threads(threads)
        params = [torch.nn.Parameter(torch.from_numpy(a)) for a in arrays(0)]
        for p, g in zip(params, arrays(1)):
            p.grad = torch.from_numpy(g)
        flavour = dict(fused=True) if fused else dict(foreach=True)
        if name == "adam":
            opt = torch.optim.Adam(params, lr=LR, **flavour)
        elif name == "sgd":
            opt = torch.optim.SGD(params, lr=LR, momentum=0.9, **flavour)
        else:
            opt = torch.optim.RMSprop(params, lr=LR, **flavour)
        opt.step()  # creates the state

        def step():
            with torch.no_grad():
                opt.step()

        return step

    return make


def keras_opt(name):
    def make(threads):
        os.environ.setdefault("KERAS_BACKEND", "jax")
        import jax
        import jax.numpy as jnp
        import keras

        variables = [keras.Variable(a) for a in arrays(0)]
        cls = {"adam": keras.optimizers.Adam, "sgd": keras.optimizers.SGD, "rmsprop": keras.optimizers.RMSprop}[name]
        opt = cls(learning_rate=LR, **({"momentum": 0.9} if name == "sgd" else {}))
        opt.build(variables)
        grads = [jnp.asarray(g) for g in arrays(1)]
        state = {"train": [v.value for v in variables], "opt": [v.value for v in opt.variables]}

        @jax.jit
        def apply(train, opt_vars, g):
            return opt.stateless_apply(opt_vars, g, train)

        apply_donated = jax.jit(apply, donate_argnums=(0, 1))

        def step():
            state["train"], state["opt"] = apply_donated(state["train"], state["opt"], grads)
            jax.block_until_ready(state["train"])

        return step

    return make


def make_cases(args):
    n = count()
    cases = []
    for name, label in [("adam", "Adam"), ("sgd", "SGD momentum"), ("rmsprop", "RMSprop")]:
        # bytes per element: Adam reads p, g, m, v and writes p, m, v; SGD 3+2; RMSprop 3+2.
        per = 28 if name == "adam" else 20
        impls = {"pykeras": pyk(name), "torch": torch_opt(name, fused=False), "keras": keras_opt(name)}
        if name != "rmsprop":  # torch has no fused RMSprop
            impls["torch-fused"] = torch_opt(name, fused=True)
        cases.append(Case(f"{label} step, {n:,} params", impls, bytes=per * n))
    return cases


if __name__ == "__main__":
    main("Optimizer step over mnist_cnn's parameters", make_cases, ["pykeras", "torch", "torch-fused", "keras"])

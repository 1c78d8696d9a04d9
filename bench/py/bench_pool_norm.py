"""Pooling and batch normalization against PyTorch (channels_last) and Keras 3 on JAX.

Workloads: MaxPooling2D 2x2 on (32, 32, 32, 64) NHWC, forward and forward+backward;
BatchNormalization training forward+backward on (32, 32, 32, 64) (batch statistics, moving
statistics update, gradients of input, gamma and beta); also AveragePooling2D 3x3/2 'same' and
BatchNormalization inference on the same tensor. Each library preallocates its buffers where
its API allows; Keras/JAX runs jitted functions (the backward through jax.vjp).
"""
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
from harness import Case, main  # noqa: E402

SHAPE = (32, 32, 32, 64)  # NHWC
EPS = 1e-3
MOMENTUM = 0.99


def inputs(shape=SHAPE, seed=0):
    import numpy as np

    rng = np.random.default_rng(seed)
    return rng.standard_normal(shape).astype(np.float32)


def pooled_shape(pool, stride, padding):
    from pykeras import _core

    return _core.pool.output_shape(SHAPE, pool, stride, padding)


# ----------------------------------------------------------------------------- pykeras
def pyk_pool(kind, pool, stride, padding, backward):
    def make(threads):
        import numpy as np

        from pykeras import _core

        P = _core.pool
        x = inputs()
        y = np.empty(pooled_shape(pool, stride, padding), np.float32)
        dy = inputs(y.shape, 1)
        dx = np.empty_like(x)
        if kind == "max":
            if not backward:
                return lambda: P.max_pool(x, pool, stride, padding, out=y)
            return lambda: (P.max_pool(x, pool, stride, padding, out=y),
                            P.max_pool_backward(x, dy, pool, stride, padding, out=dx))
        if not backward:
            return lambda: P.avg_pool(x, pool, stride, padding, out=y)
        return lambda: (P.avg_pool(x, pool, stride, padding, out=y),
                        P.avg_pool_backward(dy, x.shape, pool, stride, padding, out=dx))

    return make


def pyk_bn(training):
    def make(threads):
        import numpy as np

        from pykeras import _core

        N = _core.norm
        x = inputs()
        c = x.shape[-1]
        gamma, beta = np.ones(c, np.float32), np.zeros(c, np.float32)
        mm, mv = np.zeros(c, np.float32), np.ones(c, np.float32)
        y, dx, dy = np.empty_like(x), np.empty_like(x), inputs(x.shape, 1)
        if not training:
            return lambda: N.batch_norm_inference(x, mm, mv, gamma, beta, epsilon=EPS, out=y)

        def step():
            _, mean, inv_std = N.batch_norm_train(x, gamma, beta, mm, mv, momentum=MOMENTUM, epsilon=EPS, out=y)
            return N.batch_norm_backward(dy, x, mean, inv_std, gamma, out=dx)

        return step

    return make


# ----------------------------------------------------------------------------- torch
def torch_pool(kind, pool, stride, padding, backward):
    def make(threads):
        import torch
        import torch.nn.functional as F

        x = torch.from_numpy(inputs()).permute(0, 3, 1, 2)  # NCHW view of NHWC memory = channels_last
        assert x.is_contiguous(memory_format=torch.channels_last)
        pad = 0 if padding == "valid" else pool // 2
        if kind == "max":
            def f(v):
                return F.max_pool2d(v, pool, stride, pad)
        else:
            def f(v):
                return F.avg_pool2d(v, pool, stride, pad, count_include_pad=False)
        if not backward:
            def fwd():
                with torch.no_grad():
                    return f(x)
            return fwd
        xg = x.detach().requires_grad_(True)
        dy = torch.from_numpy(inputs(pooled_shape(pool, stride, padding), 1)).permute(0, 3, 1, 2)

        def fwd_bwd():
            xg.grad = None
            f(xg).backward(dy)

        return fwd_bwd

    return make


def torch_bn(training):
    def make(threads):
        import torch

        x = torch.from_numpy(inputs()).permute(0, 3, 1, 2)
        bn = torch.nn.BatchNorm2d(x.shape[1], eps=EPS, momentum=1 - MOMENTUM)
        if not training:
            bn.eval()

            def infer():
                with torch.no_grad():
                    return bn(x)
            return infer
        bn.train()
        xg = x.detach().requires_grad_(True)
        dy = torch.from_numpy(inputs(SHAPE, 1)).permute(0, 3, 1, 2)

        def step():
            xg.grad = None
            bn.weight.grad = None
            bn.bias.grad = None
            bn(xg).backward(dy)

        return step

    return make


# ----------------------------------------------------------------------------- keras (jax)
def keras_pool(kind, pool, stride, padding, backward):
    def make(threads):
        os.environ.setdefault("KERAS_BACKEND", "jax")
        import jax
        import jax.numpy as jnp
        from keras import ops

        x = jnp.asarray(inputs())
        op = ops.max_pool if kind == "max" else ops.average_pool

        def f(v):
            return op(v, pool, stride, padding)

        if not backward:
            fj = jax.jit(f)
            return lambda: fj(x).block_until_ready()
        dy = jnp.asarray(inputs(pooled_shape(pool, stride, padding), 1))

        @jax.jit
        def fb(v, g):
            y, vjp = jax.vjp(f, v)
            return y, vjp(g)[0]

        return lambda: jax.block_until_ready(fb(x, dy))

    return make


def keras_bn(training):
    def make(threads):
        os.environ.setdefault("KERAS_BACKEND", "jax")
        import jax
        import jax.numpy as jnp
        import keras

        layer = keras.layers.BatchNormalization(momentum=MOMENTUM, epsilon=EPS)
        layer.build(SHAPE)
        x = jnp.asarray(inputs())
        weights = [jnp.asarray(v) for v in layer.trainable_variables]
        state = [jnp.asarray(v) for v in layer.non_trainable_variables]
        if not training:
            @jax.jit
            def infer(v, tw, ntw):
                y, _ = layer.stateless_call(tw, ntw, v, training=False)
                return y
            return lambda: infer(x, weights, state).block_until_ready()
        dy = jnp.asarray(inputs(SHAPE, 1))

        @jax.jit
        def fwd_bwd(v, tw, ntw, g):
            def f(a, b):
                y, new_state = layer.stateless_call(b, ntw, a, training=True)
                return y, new_state
            y, vjp, new_state = jax.vjp(f, v, tw, has_aux=True)
            dx, dw = vjp(g)
            return dx, dw, new_state

        return lambda: jax.block_until_ready(fwd_bwd(x, weights, state, dy))

    return make


def make_cases(args):
    cases = []
    for name, kind, pool, stride, padding in [
        ("MaxPool2D 2x2", "max", 2, 2, "valid"),
        ("AvgPool2D 3x3/2 same", "avg", 3, 2, "same"),
    ]:
        for backward in (False, True):
            label = f"{name} {'fwd+bwd' if backward else 'fwd'}"
            cases.append(Case(label, {
                "pykeras": pyk_pool(kind, pool, stride, padding, backward),
                "torch": torch_pool(kind, pool, stride, padding, backward),
                "keras": keras_pool(kind, pool, stride, padding, backward),
            }))
    cases.append(Case("BatchNorm train fwd+bwd", {"pykeras": pyk_bn(True), "torch": torch_bn(True),
                                                    "keras": keras_bn(True)}))
    cases.append(Case("BatchNorm inference", {"pykeras": pyk_bn(False), "torch": torch_bn(False),
                                              "keras": keras_bn(False)}))
    return cases


if __name__ == "__main__":
    main("Pooling and batch normalization on (32, 32, 32, 64) NHWC", make_cases, ["pykeras", "torch", "keras"])

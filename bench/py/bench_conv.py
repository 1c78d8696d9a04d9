"""Convolutions in pykeras, PyTorch (channels_last, oneDNN) and Keras 3 on JAX (forward only).

Rows (fp32, no bias):
  a  3x3, batch 32, 32x32x64 -> 64, stride 1, same
  b  3x3, batch 8, 56x56x64 -> 128, stride 1, same
  c  1x1, batch 32, 32x32x64 -> 128
  d  depthwise 3x3, batch 8, 112x112x32, stride 1, same
  e  separable: depthwise 3x3 then 1x1 32 -> 64, batch 8, 112x112x32
  f  3x3, batch 8, 224x224x3 -> 32, stride 2, same
each as `fwd` (forward) and `fwd+bwd` (forward, then the gradients of the input and the weights).

    python bench/py/bench_conv.py [--threads 1 2] [--libs pykeras torch keras] [--cases a-fwd ...]

With PYKERAS_BENCH_CPU_TIME=1 in the environment, 1-thread workers time each call by the CPU
time of the process (time.process_time, all its threads) instead of the wall clock: on a machine
shared with other jobs this leaves out the time slices the process did not get, so ratios
measured under load stay meaningful. Runs with more threads always use the wall clock.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
from harness import Case, main  # noqa: E402


# name: (kind, batch, H, W, cin, cout, k, stride)
ROWS = {
    "a": ("conv", 32, 32, 32, 64, 64, 3, 1),
    "b": ("conv", 8, 56, 56, 64, 128, 3, 1),
    "c": ("conv", 32, 32, 32, 64, 128, 1, 1),
    "d": ("depthwise", 8, 112, 112, 32, 32, 3, 1),
    "e": ("separable", 8, 112, 112, 32, 64, 3, 1),
    "f": ("conv", 8, 224, 224, 3, 32, 3, 2),
}


def flops(row, backward):
    kind, n, h, w, cin, cout, k, s = ROWS[row]
    ho, wo = -(-h // s), -(-w // s)
    if kind == "conv":
        f = 2.0 * n * ho * wo * cout * cin * k * k
    elif kind == "depthwise":
        f = 2.0 * n * ho * wo * cin * k * k
    else:
        f = 2.0 * n * ho * wo * cin * (k * k + cout)
    return f * (3 if backward else 1)


def arrays(row):
    import numpy as np

    kind, n, h, w, cin, cout, k, s = ROWS[row]
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, h, w, cin), dtype=np.float32)
    if kind == "conv":
        ks = [rng.standard_normal((k, k, cin, cout), dtype=np.float32) * 0.1]
    elif kind == "depthwise":
        ks = [rng.standard_normal((k, k, cin, 1), dtype=np.float32) * 0.1]
    else:
        ks = [rng.standard_normal((k, k, cin, 1), dtype=np.float32) * 0.1,
              rng.standard_normal((1, 1, cin, cout), dtype=np.float32) * 0.1]
    ho, wo = -(-h // s), -(-w // s)
    dy = rng.standard_normal((n, ho, wo, cout), dtype=np.float32)
    return x, ks, dy


def pykeras_impl(row, backward):
    def factory(threads):
        from pykeras import _core

        conv = _core.conv
        kind, *_, s = ROWS[row]
        x, ks, dy = arrays(row)
        if kind == "conv":
            y = conv.conv_forward(x, ks[0], strides=s, padding="same")
            if not backward:
                return lambda: conv.conv_forward(x, ks[0], strides=s, padding="same", out=y)
            return lambda: (conv.conv_forward(x, ks[0], strides=s, padding="same", out=y),
                            conv.conv_backward(x, ks[0], dy, s, "same", bias=False))
        if kind == "depthwise":
            y = conv.depthwise_forward(x, ks[0], strides=s, padding="same")
            if not backward:
                return lambda: conv.depthwise_forward(x, ks[0], strides=s, padding="same", out=y)
            return lambda: (conv.depthwise_forward(x, ks[0], strides=s, padding="same", out=y),
                            conv.depthwise_backward(x, ks[0], dy, s, "same", bias=False))
        y = conv.separable_forward(x, ks[0], ks[1], strides=s, padding="same")
        if not backward:
            return lambda: conv.separable_forward(x, ks[0], ks[1], strides=s, padding="same", out=y)
        return lambda: (conv.separable_forward(x, ks[0], ks[1], strides=s, padding="same", out=y),
                        conv.separable_backward(x, ks[0], ks[1], dy, s, "same", bias=False))
    return factory


def torch_impl(row, backward):
    def factory(threads):
        import torch
        import torch.nn.functional as F

        kind, n, h, w, cin, cout, k, s = ROWS[row]
        x, ks, dy = arrays(row)
        cl = torch.channels_last
        tx = torch.from_numpy(x).permute(0, 3, 1, 2).contiguous(memory_format=cl)
        tdy = torch.from_numpy(dy).permute(0, 3, 1, 2).contiguous(memory_format=cl)
        # Keras (kh, kw, in, out) -> torch (out, in, kh, kw); depthwise (kh, kw, c, 1) -> (c, 1, kh, kw).
        if kind == "conv":
            ws = [torch.from_numpy(ks[0]).permute(3, 2, 0, 1).contiguous(memory_format=cl)]
        else:
            ws = [torch.from_numpy(ks[0]).permute(2, 3, 0, 1).contiguous(memory_format=cl)]
            if kind == "separable":
                ws.append(torch.from_numpy(ks[1]).permute(3, 2, 0, 1).contiguous(memory_format=cl))
        pad = (k - 1) // 2  # symmetric padding gives TF 'same' sizes for these rows (odd k)

        def fwd(xx, ww):
            if kind == "conv":
                if s == 2:  # TF 'same' on an even size with stride 2 pads only after
                    xx = F.pad(xx, (0, 1, 0, 1))
                    return F.conv2d(xx, ww[0], stride=s)
                return F.conv2d(xx, ww[0], stride=s, padding=pad)
            m = F.conv2d(xx, ww[0], stride=s, padding=pad, groups=cin)
            return m if kind == "depthwise" else F.conv2d(m, ww[1])

        if not backward:
            def run():
                with torch.no_grad():
                    return fwd(tx, ws)
            return run
        tx.requires_grad_(True)
        for w_ in ws:
            w_.requires_grad_(True)

        def run_bwd():
            y = fwd(tx, ws)
            return torch.autograd.grad(y, [tx] + ws, tdy)
        return run_bwd
    return factory


def keras_impl(row):
    def factory(threads):
        os.environ.setdefault("KERAS_BACKEND", "jax")
        import jax
        import keras

        kind, *_, s = ROWS[row]
        x, ks, _ = arrays(row)
        if kind == "conv":
            f = jax.jit(lambda a, k0: keras.ops.conv(a, k0, strides=s, padding="same"))
        elif kind == "depthwise":
            f = jax.jit(lambda a, k0: keras.ops.depthwise_conv(a, k0, strides=s, padding="same"))
        else:
            f = jax.jit(lambda a, k0, k1: keras.ops.separable_conv(a, k0, k1, strides=s, padding="same"))
        args = [jax.numpy.asarray(x)] + [jax.numpy.asarray(k_) for k_ in ks]
        return lambda: f(*args).block_until_ready()
    return factory


def make_cases(args):
    cases = []
    for row in ROWS:
        cases.append(Case(f"{row}-fwd", {"pykeras": pykeras_impl(row, False), "torch": torch_impl(row, False),
                                         "keras": keras_impl(row)}, flops=flops(row, False)))
        cases.append(Case(f"{row}-fwd+bwd", {"pykeras": pykeras_impl(row, True), "torch": torch_impl(row, True)},
                          flops=flops(row, True)))
    return cases


if __name__ == "__main__":
    main("Convolutions (fp32, channels_last)", make_cases, ["pykeras", "torch", "keras"])

"""Inference throughput (images/s) of ResNet50 and MobileNet (alpha 1.0), batch 8 of 224x224x3:
pykeras.applications vs keras.applications on JAX vs the same architectures in PyTorch.

One unit of work is one forward pass over the batch: `model.predict_on_batch(x)` in pykeras and
in Keras (whose predict function is jit-compiled by XLA during the warm-up calls), and
`model(x)` under `torch.inference_mode()` in PyTorch with the model and input in channels_last
(torchvision does not run here, so both networks are written below as small nn.Modules with
Keras's layer shapes: ResNet50 v1 with its stride on the first 1x1 convolution of a block,
biased convolutions, BatchNormalization eps 1.001e-5; MobileNet v1 with ReLU6 and depthwise
3x3 blocks). Random weights (weights=None); the Keras and PyTorch models are as their users run
them by default (PyTorch does not fold BatchNormalization into the convolutions in eager mode;
XLA may). The harness runs every (library, threads) in its own process and reports the median.

Each model has two rows: "<model> b8" times pykeras's model as built, "<model> b8 fused" times
`pykeras.applications.optimize_for_inference(model)` (BatchNormalization, ReLU/ReLU6 and zero
padding folded into the convolutions; the peers run their unchanged models again in that row).

    KERAS_BACKEND=jax python bench/py/bench_inference.py [--threads 1 2] [--libs pykeras keras torch]
    python bench/py/bench_inference.py --profile resnet50 [--fused] [--threads 1]   # per-layer times

With PYKERAS_BENCH_CPU_TIME=1 in the environment, 1-thread workers time each call by the CPU
time of the process (time.process_time, all its threads) instead of the wall clock, as
bench_conv.py does: on a machine shared with other jobs this leaves out the time slices the
process did not get. Runs with more threads always use the wall clock.

--profile runs the pykeras model layer by layer (the functional graph's execution plan) and
prints where a forward pass spends its time: per layer class, milliseconds, share, and the
convolutions' GFLOP/s (1 thread: process CPU time; more threads: wall clock).
"""
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from harness import Case, main  # noqa: E402


BATCH = 8
SIDE = 224


def _images():
    import numpy as np

    return np.random.default_rng(0).uniform(-1, 1, (BATCH, SIDE, SIDE, 3)).astype(np.float32)


# ---- pykeras and Keras ----------------------------------------------------------------------------


def _keras_like(module, name):
    return module.applications.ResNet50(weights=None) if name == "resnet50" else \
        module.applications.MobileNet(weights=None)


def pykeras_impl(name, fused=False):
    def factory(threads):
        import pykeras

        pykeras.utils.set_random_seed(0)
        model = _keras_like(pykeras, name)
        if fused:
            model = pykeras.applications.optimize_for_inference(model)
        x = _images()
        return lambda: model.predict_on_batch(x)

    return factory


def keras_impl(name):
    def factory(threads):
        os.environ.setdefault("KERAS_BACKEND", "jax")
        import keras

        keras.utils.set_random_seed(0)
        model = _keras_like(keras, name)
        x = _images()
        return lambda: model.predict_on_batch(x)

    return factory


# ---- PyTorch ----------------------------------------------------------------------------------------


def _torch_models():
    from torch import nn

    def conv_bn(cin, cout, k, stride=1, padding=0, bias=True, eps=1.001e-5):
        return [nn.Conv2d(cin, cout, k, stride, padding, bias=bias), nn.BatchNorm2d(cout, eps=eps)]

    class Bottleneck(nn.Module):
        """Keras's residual_block_v1: 1x1 (stride) -> 3x3 -> 1x1 (4x), projection when asked."""

        def __init__(self, cin, filters, stride, project):
            super().__init__()
            self.body = nn.Sequential(*conv_bn(cin, filters, 1, stride), nn.ReLU(inplace=True),
                                      *conv_bn(filters, filters, 3, 1, 1), nn.ReLU(inplace=True),
                                      *conv_bn(filters, 4 * filters, 1))
            self.shortcut = nn.Sequential(*conv_bn(cin, 4 * filters, 1, stride)) if project else nn.Identity()
            self.relu = nn.ReLU(inplace=True)

        def forward(self, x):
            return self.relu(self.shortcut(x) + self.body(x))

    class ResNet50(nn.Module):
        def __init__(self, classes=1000):
            super().__init__()
            blocks, cin = [], 64
            for filters, count, stride in ((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)):
                for i in range(count):
                    blocks.append(Bottleneck(cin, filters, stride if i == 0 else 1, i == 0))
                    cin = 4 * filters
            self.features = nn.Sequential(*conv_bn(3, 64, 7, 2, 3), nn.ReLU(inplace=True),
                                          nn.MaxPool2d(3, 2, 1), *blocks)
            self.head = nn.Linear(2048, classes)

        def forward(self, x):
            x = self.features(x).mean((2, 3))
            return self.head(x).softmax(-1)

    class MobileNet(nn.Module):
        def __init__(self, classes=1000):
            super().__init__()
            layers = [*conv_bn(3, 32, 3, 2, 1, bias=False, eps=1e-3), nn.ReLU6(inplace=True)]
            cin = 32
            for filters, stride in ((64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2), (512, 1), (512, 1),
                                    (512, 1), (512, 1), (512, 1), (1024, 2), (1024, 1)):
                layers += [nn.Conv2d(cin, cin, 3, stride, 1, groups=cin, bias=False), nn.BatchNorm2d(cin, eps=1e-3),
                           nn.ReLU6(inplace=True), *conv_bn(cin, filters, 1, bias=False, eps=1e-3),
                           nn.ReLU6(inplace=True)]
                cin = filters
            self.features = nn.Sequential(*layers)
            self.head = nn.Conv2d(1024, classes, 1)

        def forward(self, x):
            x = self.features(x).mean((2, 3), keepdim=True)
            return self.head(x).flatten(1).softmax(-1)

    return {"resnet50": ResNet50, "mobilenet": MobileNet}


def torch_impl(name):
    def factory(threads):
        import torch

        torch.manual_seed(0)
        torch.set_flush_denormal(True)
        model = _torch_models()[name]().eval().to(memory_format=torch.channels_last)
        x = torch.from_numpy(_images()).permute(0, 3, 1, 2).contiguous(memory_format=torch.channels_last)

        def run():
            with torch.inference_mode():
                return model(x)

        return run

    return factory


def make_cases(args):
    return [Case(f"{name} b{BATCH}{' fused' if fused else ''}",
                 {"pykeras": pykeras_impl(name, fused), "keras": keras_impl(name), "torch": torch_impl(name)},
                 samples=BATCH)
            for name in ("resnet50", "mobilenet") for fused in (False, True)]


# ---- --profile: where a pykeras forward pass spends its time -----------------------------------------


def _conv_flops(layer, out_shape, in_shape):
    """Multiply-adds x 2 of a convolution layer for one batch (None for other layers)."""
    import numpy as np

    from pykeras import layers

    from pykeras.applications.inference import FusedConv2D

    n_out = int(np.prod(out_shape))
    if isinstance(layer, FusedConv2D):
        window = layer.kernel.shape[0] * layer.kernel.shape[1]
        if layer.kind == "conv":
            return 2 * n_out * window * in_shape[-1] // layer.groups
        if layer.kind == "depthwise":
            return 2 * n_out * window
        middle = layer.pointwise_kernel.shape[-2]
        return 2 * n_out // out_shape[-1] * middle * (window + out_shape[-1])
    if isinstance(layer, layers.DepthwiseConv2D):
        return 2 * n_out * int(np.prod(layer.kernel_size))
    if isinstance(layer, layers.Conv2D):
        return 2 * n_out * int(np.prod(layer.kernel_size)) * in_shape[-1] // layer.groups
    if isinstance(layer, layers.Dense):
        return 2 * n_out * in_shape[-1]
    return None


def _label(layer):
    kind = getattr(layer, "kind", None)
    return type(layer).__name__ + (f" ({kind})" if kind else "")


def profile(name, threads, fused=False, reps=5):
    import collections

    import numpy as np

    import pykeras
    from pykeras import backend as K

    pykeras.config.set_num_threads(threads)
    model = _keras_like(pykeras, name)
    if fused:
        model = pykeras.applications.optimize_for_inference(model)
    x = K.convert_to_tensor(_images())
    model.predict_on_batch(x)
    per_layer = collections.defaultdict(list)
    flops = {}
    totals = []
    # One thread: CPU time, which leaves out the time slices other jobs take (see the docstring).
    clock = time.process_time if threads == 1 else time.perf_counter
    # Values are released as the model's own call releases them (only an InferenceModel does).
    release = model.__dict__.get("_release") or [[] for _ in model._execution_plan]
    for _ in range(reps):
        values = {id(model._graph_inputs[0]): x}
        start = clock()
        for node, released in zip(model._execution_plan, release):
            args, kwargs = node.fill_in(values)
            t0 = clock()
            out = node.operation(*args, **kwargs)  # training=None: inference, as in predict
            np.asarray(out)
            per_layer[node.operation.name].append(clock() - t0)
            values[id(node.output_tensors[0])] = out
            for tensor_id in released:
                values.pop(tensor_id, None)
            if node.operation.name not in flops:
                flops[node.operation.name] = (_label(node.operation), _conv_flops(
                    node.operation, tuple(out.shape), tuple(args[0].shape) if hasattr(args[0], "shape") else None))
        totals.append(clock() - start)
    by_class = collections.defaultdict(lambda: [0.0, 0, 0])
    for layer_name, times in per_layer.items():
        cls, f = flops[layer_name]
        entry = by_class[cls]
        entry[0] += statistics.median(times)
        entry[1] += 1
        entry[2] += f or 0
    total = statistics.median(totals)
    print(f"# pykeras {name}{' fused' if fused else ''}, batch {BATCH}, {threads} thread(s): {total * 1e3:.1f} ms "
          "per forward "
          f"({BATCH / total:.1f} images/s), kernel path {pykeras.config.isa()}")
    print(f"{'layer class':<30}{'layers':>7}{'ms':>10}{'share':>8}{'GFLOP/s':>10}")
    for cls, (seconds, count, f) in sorted(by_class.items(), key=lambda kv: -kv[1][0]):
        rate = f"{f / seconds * 1e-9:.0f}" if f else ""
        print(f"{cls:<30}{count:>7}{seconds * 1e3:>10.2f}{seconds / total:>8.1%}{rate:>10}")
    slowest = sorted(per_layer.items(), key=lambda kv: -statistics.median(kv[1]))[:12]
    print("\nslowest layers:")
    for layer_name, times in slowest:
        cls, f = flops[layer_name]
        t = statistics.median(times)
        rate = f"  {f / t * 1e-9:.0f} GFLOP/s" if f else ""
        print(f"  {layer_name:<28}{cls:<30}{t * 1e3:8.2f} ms{rate}")


if __name__ == "__main__":
    if "--profile" in sys.argv:
        import argparse

        parser = argparse.ArgumentParser()
        parser.add_argument("--profile", choices=["resnet50", "mobilenet"])
        parser.add_argument("--fused", action="store_true")
        parser.add_argument("--threads", type=int, nargs="+", default=[1])
        parsed = parser.parse_args()
        for t in parsed.threads:
            profile(parsed.profile, t, parsed.fused)
    else:
        main("Inference, batch 8 of 224x224x3 (images/s)", make_cases, ["pykeras", "keras", "torch"])

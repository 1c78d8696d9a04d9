"""Elementwise kernels against numpy and PyTorch: ReLU and add on 4,194,304 floats."""
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
from harness import Case, main  # noqa: E402

N = 4_194_304


def numpy_inputs():
    import numpy as np

    rng = np.random.default_rng(0)
    return rng.standard_normal(N).astype(np.float32), rng.standard_normal(N).astype(np.float32)


def make_cases(args):
    def pyk_relu(threads):
        from pykeras import _core

        x, _ = numpy_inputs()
        out = x.copy()
        return lambda: _core.eltwise.relu(x, out=out)

    def np_relu(threads):
        import numpy as np

        x, _ = numpy_inputs()
        out = x.copy()
        return lambda: np.maximum(x, 0, out=out)

    def torch_relu(threads):
        import torch

        x, _ = numpy_inputs()
        tx = torch.from_numpy(x)
        out = tx.clone()
        return lambda: torch.clamp_min(tx, 0, out=out)

    def pyk_add(threads):
        from pykeras import _core

        a, b = numpy_inputs()
        out = a.copy()
        return lambda: _core.eltwise.add(a, b, out=out)

    def np_add(threads):
        import numpy as np

        a, b = numpy_inputs()
        out = a.copy()
        return lambda: np.add(a, b, out=out)

    def torch_add(threads):
        import torch

        a, b = (torch.from_numpy(v) for v in numpy_inputs())
        out = a.clone()
        return lambda: torch.add(a, b, out=out)

    return [
        Case("relu 4M floats", {"pykeras": pyk_relu, "numpy": np_relu, "torch": torch_relu}, bytes=8.0 * N),
        Case("add 4M floats", {"pykeras": pyk_add, "numpy": np_add, "torch": torch_add}, bytes=12.0 * N),
    ]


if __name__ == "__main__":
    main("Elementwise kernels", make_cases, ["pykeras", "numpy", "torch"])

"""The generic op checker of the backend tests.

check_op(fn, args, ref) runs a backend op on float32 tensors and checks
  1. the forward result against a float64 numpy reference `ref` (evaluated on the same
     float32-rounded inputs), and
  2. the gradient from the tape against central finite differences of that float64 reference:
     the tape computes d(sum(w * out))/d(input) for a random weight w (passed as
     output_gradients), the reference gives (F(x + h e_i) - F(x - h e_i)) / 2h with
     F = sum(w * ref(...)) in float64.
Why this split: the kernels compute in float32 only, where finite differences are too noisy to
check a gradient to better than ~1e-2; differencing the float64 reference instead is accurate to
~1e-9, so the float32 analytic gradient can be held to float32-level tolerances. The forward
check ties the reference to the op. Inputs are chosen by each case away from kinks (relu at 0,
ties of max, clip bounds) so that the reference is differentiable where it is probed.

For inputs with more than `max_fd` elements a random subset of elements is differenced, plus one
directional derivative along a random direction over all elements.
"""
import numpy as np

from pykeras import backend as K

_F32 = np.float32


def _is_float_array(a):
    return isinstance(a, np.ndarray) and a.dtype.kind == "f"


def check_op(fn, args, ref, wrt=None, rtol=1e-5, atol=1e-6, grad_rtol=2e-3, grad_atol=2e-4, h=1e-6, max_fd=40,
             seed=0, check_grad=True):
    """Checks fn(*tensors) against ref(*float64 arrays) forward and backward; returns the forward output."""
    rng = np.random.default_rng(seed)
    args32 = [a.astype(_F32) if _is_float_array(a) else a for a in args]
    args64 = [a.astype(np.float64) if _is_float_array(a) else a for a in args32]
    if wrt is None:
        wrt = [i for i, a in enumerate(args) if _is_float_array(a)]
    tensors = [K.constant(a) if _is_float_array(a) else a for a in args32]
    with K.GradientTape(persistent=True) as tape:
        for i in wrt:
            tape.watch(tensors[i])
        out = fn(*tensors)
    got = np.asarray(out)
    want = np.asarray(ref(*args64))
    assert got.shape == want.shape, f"forward shape {got.shape}, reference {want.shape}"
    if got.dtype.kind == "f":
        assert got.dtype == _F32, f"forward dtype {got.dtype}, expected float32"
    scale = max(1.0, float(np.max(np.abs(want)))) if want.size else 1.0
    np.testing.assert_allclose(got, want, rtol=rtol, atol=atol * scale, err_msg="forward")
    if not check_grad:
        return got
    w = rng.standard_normal(want.shape)
    grads = tape.gradient(out, [tensors[i] for i in wrt], output_gradients=w.astype(_F32))

    def objective(i, xi):
        a = list(args64)
        a[i] = xi
        return float(np.sum(np.asarray(ref(*a), np.float64) * w))

    for i, g in zip(wrt, grads):
        x = args64[i]
        assert g is not None, f"gradient of input {i} is None"
        g = np.asarray(g)
        assert g.shape == x.shape, f"gradient of input {i} has shape {g.shape}, input {x.shape}"
        assert g.dtype == _F32, f"gradient of input {i} has dtype {g.dtype}"
        flat = x.reshape(-1)
        n = flat.size
        idx = np.arange(n) if n <= max_fd else rng.choice(n, max_fd, replace=False)
        num = np.empty(len(idx))
        for j, e in enumerate(idx):
            step = h * max(1.0, abs(flat[e]))
            xp = flat.copy()
            xp[e] += step
            xm = flat.copy()
            xm[e] -= step
            num[j] = (objective(i, xp.reshape(x.shape)) - objective(i, xm.reshape(x.shape))) / (2 * step)
        ana = g.reshape(-1)[idx].astype(np.float64)
        gscale = max(1.0, float(np.max(np.abs(num)))) if num.size else 1.0
        np.testing.assert_allclose(ana, num, rtol=grad_rtol, atol=grad_atol * gscale,
                                   err_msg=f"gradient of input {i} (elements {idx[:10]}...)")
        if n > max_fd:
            d = rng.standard_normal(x.shape)
            step = h * max(1.0, float(np.max(np.abs(x))))
            dnum = (objective(i, x + step * d) - objective(i, x - step * d)) / (2 * step)
            dana = float(np.sum(g.astype(np.float64) * d))
            assert abs(dana - dnum) <= grad_atol * gscale * np.sqrt(n) + grad_rtol * abs(dnum), \
                f"directional derivative of input {i}: tape {dana}, finite differences {dnum}"
    return got


def rules_used(fn, args):
    """Names of the gradient rules recorded when fn runs on watched float32 tensors of args."""
    tensors = [K.constant(a.astype(_F32)) if _is_float_array(a) else a for a in args]
    with K.GradientTape() as tape:
        for t in tensors:
            if isinstance(t, K.Tensor):
                tape.watch(t)
        fn(*tensors)
    return {node.bwd.__name__ for node in tape._nodes}


def away_from(values, points, margin, rng=None):
    """values moved away from each point by at least margin (keeps the sign of the offset)."""
    v = np.array(values, np.float64)
    for p in np.atleast_1d(points):
        d = v - p
        close = np.abs(d) < margin
        v[close] = p + np.where(d[close] >= 0, margin, -margin)
    return v

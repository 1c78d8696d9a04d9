"""Every backend op against a float64 numpy reference, forward and gradient (finite differences).

CASES lists (id, op, inputs, reference[, options]); backend_opcheck.check_op does the checking.
test_every_rule_is_covered asserts that the cases exercise every rule in gradient_rules.RULES.
References are written here, independently of the backend's numpy code.
"""
import math

import numpy as np
import pytest
from backend_opcheck import away_from, check_op, rules_used

from pykeras import backend as K
from pykeras import ops
from pykeras.backend import gradient_rules

RNG = np.random.default_rng(1234)


def rnd(*shape, lo=None, hi=None):
    if lo is not None:
        return RNG.uniform(lo, hi, shape)
    return RNG.standard_normal(shape)


def off_kinks(*shape, points=(0.0,), margin=0.1, scale=1.0):
    return away_from(RNG.standard_normal(shape) * scale, points, margin)


def pos(*shape, lo=0.5, hi=2.0):
    return RNG.uniform(lo, hi, shape)


def distinct(*shape):
    """Values with no ties (for max/min/sort), spread apart by at least 0.01."""
    n = int(np.prod(shape))
    return (RNG.permutation(n) * 0.05 - n * 0.025 + 0.013).reshape(shape)


def frac(*shape):
    """k + u with u in [0.2, 0.8]: away from the jumps of floor/ceil/round."""
    return RNG.integers(-3, 3, shape) + RNG.uniform(0.2, 0.8, shape)


# ------------------------------------------------------------------------------------------------
# float64 references

def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def softplus(x):
    return np.logaddexp(0.0, x)


_erf = np.vectorize(math.erf)


def softmax(x, axis=-1):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def log_softmax(x, axis=-1):
    m = x.max(axis=axis, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=axis, keepdims=True))


SELU_A, SELU_S = 1.6732632423543772, 1.0507009873554805

ACTS = {
    "relu": lambda x: np.maximum(x, 0),
    "relu6": lambda x: np.clip(x, 0, 6),
    "leaky_relu": lambda x: np.where(x > 0, x, 0.2 * x),
    "elu": lambda x: np.where(x > 0, x, np.expm1(np.minimum(x, 0))),
    "selu": lambda x: SELU_S * np.where(x > 0, x, SELU_A * np.expm1(np.minimum(x, 0))),
    "sigmoid": sigmoid,
    "tanh": np.tanh,
    "hard_sigmoid": lambda x: np.clip(x / 6 + 0.5, 0, 1),
    "hard_silu": lambda x: x * np.clip(x / 6 + 0.5, 0, 1),
    "swish": lambda x: x * sigmoid(x),
    "gelu": lambda x: 0.5 * x * (1 + _erf(x / np.sqrt(2))),
    "softplus": softplus,
    "softsign": lambda x: x / (1 + np.abs(x)),
    "exponential": np.exp,
    "log_sigmoid": lambda x: -softplus(-x),
    "mish": lambda x: x * np.tanh(softplus(x)),
    "linear": lambda x: x,
}


def gelu_tanh(x):
    return 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3)))


def ref_cce(t, o, axis=-1):
    o = o / o.sum(axis=axis, keepdims=True)
    o = np.clip(o, 1e-7, 1 - 1e-7)
    return -(t * np.log(o)).sum(axis=axis)


def ref_bce(t, o):
    o = np.clip(o, 1e-7, 1 - 1e-7)
    return -(t * np.log(o) + (1 - t) * np.log(1 - o))


def ref_bce_logits(t, z):
    return -(t * -softplus(-z) + (1 - t) * -softplus(z))


def same_pads(n, k, s, d=1):
    dk = (k - 1) * d + 1
    out = -(-n // s)
    total = max((out - 1) * s + dk - n, 0)
    return total // 2, total - total // 2


def ref_conv(x, w, strides=1, padding="valid", dil=1, groups=1):
    rank = w.ndim - 2
    st = (strides,) * rank if isinstance(strides, int) else strides
    dl = (dil,) * rank if isinstance(dil, int) else dil
    pads = []
    for i in range(rank):
        n, k = x.shape[1 + i], w.shape[i]
        if padding == "same":
            pads.append(same_pads(n, k, st[i], dl[i]))
        elif padding == "causal":
            pads.append(((k - 1) * dl[i], 0))
        else:
            pads.append((0, 0))
    xp = np.pad(x, [(0, 0)] + pads + [(0, 0)])
    outs = [(xp.shape[1 + i] - (w.shape[i] - 1) * dl[i] - 1) // st[i] + 1 for i in range(rank)]
    cin_g, cout = w.shape[-2], w.shape[-1]
    cout_g = cout // groups
    y = np.zeros((x.shape[0],) + tuple(outs) + (cout,))
    for off in np.ndindex(*w.shape[:rank]):
        sl = tuple(slice(o * d, o * d + s * (m - 1) + 1, s) for o, d, s, m in zip(off, dl, st, outs))
        slab = xp[(slice(None),) + sl]
        for g in range(groups):
            y[..., g * cout_g:(g + 1) * cout_g] += slab[..., g * cin_g:(g + 1) * cin_g] @ w[off][:, g * cout_g:(g + 1) * cout_g]
    return y


def ref_depthwise(x, w, strides=1, padding="valid", dil=1):
    c, m = w.shape[-2], w.shape[-1]
    # Expand to a grouped convolution: group c maps channel c to its m outputs.
    wg = np.zeros(w.shape[:-2] + (1, c * m))
    for ci in range(c):
        wg[..., 0, ci * m:(ci + 1) * m] = w[..., ci, :]
    return ref_conv(x, wg, strides, padding, dil, groups=c)


def ref_conv_transpose(x, w, strides=1, padding="valid", output_padding=None, dil=1):
    """Scatter definition: out[i * s + k * d - P] += x[i] @ w[k].T, sizes as Keras on JAX."""
    rank = w.ndim - 2
    st = (strides,) * rank if isinstance(strides, int) else strides
    dl = (dil,) * rank if isinstance(dil, int) else dil
    sizes, P = [], []
    for i in range(rank):
        k, s, d, n = w.shape[i], st[i], dl[i], x.shape[1 + i]
        dk = (k - 1) * d + 1
        op = output_padding if output_padding is None or isinstance(output_padding, int) else output_padding[i]
        if padding == "valid":
            op = max(dk, s) - dk if op is None else op
            left, right = dk - 1, dk - 1 + op
        else:
            pad_len = s + dk - 2 if op is None else dk + dk % 2 - 2 + op
            left = min(pad_len // 2 + pad_len % 2, dk - 1)
            right = pad_len - left
        sizes.append((n - 1) * s + 1 + left + right - dk + 1)
        P.append(dk - 1 - left)
    y = np.zeros((x.shape[0],) + tuple(sizes) + (w.shape[-2],))
    for idx in np.ndindex(*x.shape[1:-1]):
        for off in np.ndindex(*w.shape[:rank]):
            o = tuple(i * s + k * d - p for i, s, k, d, p in zip(idx, st, off, dl, P))
            if all(0 <= oi < n for oi, n in zip(o, sizes)):
                y[(slice(None),) + o] += x[(slice(None),) + idx] @ w[off].T
    return y


def ref_pool(x, pool, strides=None, padding="valid", mode="max"):
    rank = x.ndim - 2
    pool = (pool,) * rank if isinstance(pool, int) else pool
    st = pool if strides is None else ((strides,) * rank if isinstance(strides, int) else strides)
    pads = [same_pads(x.shape[1 + i], pool[i], st[i]) if padding == "same" else (0, 0) for i in range(rank)]
    fill = -np.inf if mode == "max" else 0.0
    xp = np.pad(x, [(0, 0)] + pads + [(0, 0)], constant_values=fill)
    cnt = np.pad(np.ones((1,) + x.shape[1:-1] + (1,)), [(0, 0)] + pads + [(0, 0)])
    outs = [(xp.shape[1 + i] - pool[i]) // st[i] + 1 for i in range(rank)]
    acc = np.full((x.shape[0],) + tuple(outs) + (x.shape[-1],), -np.inf if mode == "max" else 0.0)
    n = np.zeros((1,) + tuple(outs) + (1,))
    for off in np.ndindex(*pool):
        sl = (slice(None),) + tuple(slice(o, o + s * (m - 1) + 1, s) for o, s, m in zip(off, st, outs))
        if mode == "max":
            acc = np.maximum(acc, xp[sl])
        else:
            acc = acc + xp[sl]
            n = n + cnt[sl]
    return acc if mode == "max" else acc / n


def ref_bilinear_1d(n_in, n_out):
    m = np.zeros((n_out, n_in))
    for i in range(n_out):
        src = (i + 0.5) * n_in / n_out - 0.5
        lo = math.floor(src)
        t = src - lo
        m[i, min(max(lo, 0), n_in - 1)] += 1 - t
        m[i, min(max(lo + 1, 0), n_in - 1)] += t
    return m


def ref_bn_train(x, gamma, beta, eps=1e-3):
    axes = tuple(range(x.ndim - 1))
    m = x.mean(axis=axes)
    v = x.var(axis=axes)
    return (x - m) / np.sqrt(v + eps) * gamma + beta


def ref_batch_dot(x, y, axes):
    """Per-sample tensordot over one axis each (Keras 2 batch_dot), (b,) results expanded to (b, 1)."""
    out = np.stack([np.tensordot(x[b], y[b], axes=(axes[0] - 1, axes[1] - 1)) for b in range(x.shape[0])])
    return out.reshape(x.shape[0], 1) if out.ndim == 1 else out


def antirectifier(x):
    x = x - K.mean(x, axis=1, keepdims=True)
    x = K.l2_normalize(x, axis=1)
    pos_ = K.relu(x)
    neg = K.relu(-x)
    return K.concatenate([pos_, neg], axis=1)


def ref_antirectifier(x):
    x = x - x.mean(axis=1, keepdims=True)
    x = x / np.sqrt(np.maximum((x ** 2).sum(axis=1, keepdims=True), 1e-12))
    return np.concatenate([np.maximum(x, 0), np.maximum(-x, 0)], axis=1)


def antirectifier_input():
    # Rows whose centred, normalised entries stay away from 0 (the relu kink).
    while True:
        x = rnd(4, 6)
        xc = x - x.mean(axis=1, keepdims=True)
        if np.abs(xc).min() > 0.05:
            return x


ONEHOT = np.eye(5)[[0, 3, 1, 4]]
LABELS = np.array([0, 3, 1, 4])


def probs(*shape):
    return softmax(rnd(*shape))


DROP_SEED = 1234


def ref_dropout(x, rate, shape=None):
    """x * the mask the seeded kernel draws (taken from dropout of ones: the mask is what is tested
    statistically elsewhere; here the check is that forward and gradient use the same one)."""
    m = np.asarray(K.dropout(np.ones(shape or x.shape, np.float32), rate, seed=DROP_SEED), np.float64)
    return x * m


# ------------------------------------------------------------------------------------------------
# The cases: (id, op, inputs, reference, check_op options)

BCAST = [((3, 4), (3, 4)), ((2, 3, 4), (4,)), ((3, 1), (1, 4)), ((2, 1, 3), (5, 1))]

CASES = []


def case(name, fn, args, ref, **opts):
    CASES.append(pytest.param(fn, args, ref, opts, id=name))


for sx, sy in BCAST:
    tag = f"{sx}x{sy}"
    case(f"add{tag}", K.add, [rnd(*sx), rnd(*sy)], np.add)
    case(f"subtract{tag}", K.subtract, [rnd(*sx), rnd(*sy)], np.subtract)
    case(f"multiply{tag}", K.multiply, [rnd(*sx), rnd(*sy)], np.multiply)
    case(f"divide{tag}", K.divide, [rnd(*sx), away_from(rnd(*sy), 0, 0.5)], np.divide)
    case(f"maximum{tag}", K.maximum, [rnd(*sx), rnd(*sy)], np.maximum)
    case(f"minimum{tag}", K.minimum, [rnd(*sx), rnd(*sy)], np.minimum)
    case(f"power{tag}", K.pow, [pos(*sx), rnd(*sy)], np.power, rtol=2e-5)
for sx, sy in BCAST[:3]:
    mask = RNG.random(np.broadcast_shapes(sx, sy)) > 0.5
    case(f"where{sx}x{sy}", lambda a, b, m=mask: K.where(m, a, b), [rnd(*sx), rnd(*sy)],
         lambda a, b, m=mask: np.where(m, a, b))

case("mod", K.mod, [(RNG.integers(0, 4, (3, 4)) + RNG.uniform(0.2, 0.8, (3, 4))) * 1.5, np.full((3, 4), 1.5)],
     np.mod)
case("mod-by-tensor", K.mod, [RNG.uniform(2.2, 2.8, (3, 4)), np.ones((3, 4))], np.mod)
case("scalar-ops", lambda a: (2.0 * a + 1.0) / 3.0 - a ** 2 + 4.0 ** a, [rnd(3, 4)],
     lambda a: (2.0 * a + 1.0) / 3.0 - a ** 2 + 4.0 ** a)
case("reflected-ops", lambda a: 1.0 - 2.0 / (a + 3.0), [pos(3, 4)], lambda a: 1.0 - 2.0 / (a + 3.0))
case("clip-none-int", lambda x: K.clip(x, None, 1), [off_kinks(4, 5, points=(1.0,), margin=0.05)],
     lambda x: np.minimum(x, 1.0))
case("clip", lambda x: K.clip(x, -0.5, 0.5), [off_kinks(4, 5, points=(-0.5, 0.5), margin=0.05)],
     lambda x: np.clip(x, -0.5, 0.5))
case("clip-tensor-bounds", lambda x, lo: K.clip(x, lo, 0.5), [off_kinks(4, 5, points=(-0.3, 0.5), margin=0.05),
                                                             np.full((4, 5), -0.3)],
     lambda x, lo: np.clip(x, lo, 0.5), wrt=[0])
case("switch", lambda a, b: K.switch(np.array([True, False, True]), a, b), [rnd(3, 4), rnd(3, 4)],
     lambda a, b: np.where(np.array([True, False, True])[:, None], a, b))

UNARY = [
    ("negative", K.negative, rnd(3, 4), np.negative),
    ("square", K.square, rnd(3, 4), np.square),
    ("sqrt", K.sqrt, pos(3, 4), np.sqrt),
    ("rsqrt", K.rsqrt, pos(3, 4), lambda x: 1 / np.sqrt(x)),
    ("exp", K.exp, rnd(3, 4), np.exp),
    ("expm1", K.expm1, rnd(3, 4), np.expm1),
    ("log", K.log, pos(3, 4), np.log),
    ("log1p", K.log1p, pos(3, 4), np.log1p),
    ("log2", K.log2, pos(3, 4), np.log2),
    ("log10", K.log10, pos(3, 4), np.log10),
    ("abs", K.abs, off_kinks(3, 4), np.abs),
    ("reciprocal", K.reciprocal, away_from(rnd(3, 4), 0, 0.5), np.reciprocal),
    ("sin", K.sin, rnd(3, 4), np.sin),
    ("cos", K.cos, rnd(3, 4), np.cos),
    ("tan", K.tan, rnd(3, 4, lo=-1, hi=1), np.tan),
    ("arcsin", K.arcsin, rnd(3, 4, lo=-0.8, hi=0.8), np.arcsin),
    ("arccos", K.arccos, rnd(3, 4, lo=-0.8, hi=0.8), np.arccos),
    ("arctan", K.arctan, rnd(3, 4), np.arctan),
    ("sinh", K.sinh, rnd(3, 4), np.sinh),
    ("cosh", K.cosh, rnd(3, 4), np.cosh),
    ("erf", K.erf, rnd(3, 4), _erf),
    ("arcsinh", K.arcsinh, rnd(3, 4), np.arcsinh),
    ("arccosh", K.arccosh, pos(3, 4, lo=1.2, hi=3.0), np.arccosh),
    ("arctanh", K.arctanh, rnd(3, 4, lo=-0.8, hi=0.8), np.arctanh),
    ("exp2", K.exp2, rnd(3, 4), np.exp2),
    ("trunc", K.trunc, frac(3, 4), np.trunc),
    ("identity", K.identity, rnd(3, 4), lambda x: x),
    ("sign", K.sign, off_kinks(3, 4), np.sign),
    ("round", K.round, frac(3, 4), np.round),
    ("floor", K.floor, frac(3, 4), np.floor),
    ("ceil", K.ceil, frac(3, 4), np.ceil),
    ("cast-float16", lambda x: K.cast(K.cast(x, "float16"), "float32"), rnd(3, 4) * 0.5,
     lambda x: x),  # float16 rounding is within the forward tolerance; the cast passes gradients through
]
for name, fn, x, ref in UNARY:
    opts = {"rtol": 2e-4, "atol": 1e-4} if name == "erf" else ({"rtol": 1e-3, "atol": 1e-3} if "16" in name else {})
    case(name, fn, [x], ref, **opts)

# Activations (inputs away from each function's kinks).
for name, ref in ACTS.items():
    kinks = {"relu": (0.0,), "relu6": (0.0, 6.0), "leaky_relu": (0.0,), "elu": (0.0,), "selu": (0.0,),
             "hard_sigmoid": (-3.0, 3.0), "hard_silu": (-3.0, 3.0)}.get(name, ())
    x = away_from(rnd(4, 5) * 3, kinks, 0.05) if kinks else rnd(4, 5) * 2
    fn = (lambda t, n=name: K.activation(t, n)) if name != "gelu" else (lambda t: K.gelu(t, approximate=False))
    opts = {"rtol": 2e-5, "atol": 2e-6} if name in ("gelu", "mish") else {}
    case(f"activation-{name}", fn, [x], ref, **opts)
case("gelu-tanh", K.gelu, [rnd(4, 5) * 2], gelu_tanh)


def ref_sparsemax(x):
    z = -np.sort(-x, axis=-1)
    k = np.arange(1, x.shape[-1] + 1)
    cum = np.cumsum(z, axis=-1)
    kz = ((1 + k * z) > cum).sum(-1, keepdims=True)
    tau = (np.take_along_axis(cum, kz - 1, -1) - 1) / kz
    return np.maximum(x - tau, 0)


MORE_ACTS = [
    ("celu", lambda x: K.celu(x, 0.7), off_kinks(4, 5), lambda x: np.maximum(x, 0) + np.minimum(0, 0.7 * np.expm1(x / 0.7))),
    ("glu", K.glu, rnd(3, 6), lambda x: x[:, :3] * sigmoid(x[:, 3:])),
    ("hard_tanh", K.hard_tanh, away_from(rnd(4, 5) * 2, (-1, 1), 0.05), lambda x: np.clip(x, -1, 1)),
    ("hard_shrink", K.hard_shrink, away_from(rnd(4, 5), (-0.5, 0.5), 0.05), lambda x: np.where(np.abs(x) > 0.5, x, 0)),
    ("soft_shrink", K.soft_shrink, away_from(rnd(4, 5), (-0.5, 0.5), 0.05),
     lambda x: np.where(x > 0.5, x - 0.5, np.where(x < -0.5, x + 0.5, 0))),
    ("tanh_shrink", K.tanh_shrink, rnd(4, 5), lambda x: x - np.tanh(x)),
    ("squareplus", K.squareplus, rnd(4, 5), lambda x: (x + np.sqrt(x * x + 4)) / 2),
    ("sparse_plus", K.sparse_plus, away_from(rnd(4, 5) * 2, (-1, 1), 0.05),
     lambda x: np.where(x <= -1, 0, np.where(x >= 1, x, (x + 1) ** 2 / 4))),
    ("threshold", lambda x: K.threshold(x, 0.3, -1.0), away_from(rnd(4, 5), 0.3, 0.05), lambda x: np.where(x > 0.3, x, -1.0)),
    ("sparsemax", K.sparsemax, rnd(4, 5) * 2, ref_sparsemax),
]
for name, fn, x, ref in MORE_ACTS:
    case(name, fn, [x], ref)
case("relu-general", lambda x: K.relu(x, negative_slope=0.1, max_value=2.0, threshold=0.5),
     [away_from(rnd(4, 5) * 2, (0.5, 2.0), 0.05)],
     lambda x: np.where(x > 0.5, np.minimum(x, 2.0), 0.0) - 0.1 * np.maximum(0.5 - x, 0))
case("relu-keras2-alpha", lambda x: K.relu(x, alpha=0.3), [off_kinks(4, 5)], lambda x: np.where(x > 0, x, 0.3 * x))
case("softmax-last", K.softmax, [rnd(3, 5)], softmax)
case("softmax-axis0", lambda x: K.softmax(x, axis=0), [rnd(3, 5)], lambda x: softmax(x, 0))
case("softmax-axes", lambda x: K.softmax(x, axis=(1, 2)), [rnd(2, 3, 4)], lambda x: softmax(x, (1, 2)))
case("log_softmax", K.log_softmax, [rnd(3, 5)], log_softmax)
case("log_softmax-axis1of3", lambda x: K.log_softmax(x, axis=1), [rnd(2, 4, 3)], lambda x: log_softmax(x, 1))

# Crossentropies.
case("cce-logits", lambda t, z: K.categorical_crossentropy(t, z, from_logits=True), [ONEHOT * 0.9 + 0.02, rnd(4, 5)],
     lambda t, z: -(t * log_softmax(z)).sum(-1))
case("cce-logits-axis0", lambda t, z: K.categorical_crossentropy(t, z, from_logits=True, axis=0),
     [probs(5, 3), rnd(5, 3)], lambda t, z: -(t * log_softmax(z, 0)).sum(0))
case("cce-probs", K.categorical_crossentropy, [ONEHOT, probs(4, 5)], ref_cce)
case("cce-softmax-trick", lambda t, z: K.categorical_crossentropy(t, K.softmax(z)), [ONEHOT, rnd(4, 5) * 3],
     lambda t, z: -(t * log_softmax(z)).sum(-1))
case("scce-logits", lambda z: K.sparse_categorical_crossentropy(LABELS, z, from_logits=True), [rnd(4, 5)],
     lambda z: -log_softmax(z)[np.arange(4), LABELS])
case("scce-probs", lambda o: K.sparse_categorical_crossentropy(LABELS[:, None], o), [probs(4, 5)],
     lambda o: ref_cce(ONEHOT, o))
case("scce-softmax-trick", lambda z: K.sparse_categorical_crossentropy(LABELS, K.softmax(z)), [rnd(4, 5) * 3],
     lambda z: -log_softmax(z)[np.arange(4), LABELS])
case("scce-logits-seq", lambda z: K.sparse_categorical_crossentropy(np.array([[0, 2, 1], [2, 2, 0]]), z,
                                                                     from_logits=True), [rnd(2, 3, 3)],
     lambda z: -np.take_along_axis(log_softmax(z), np.array([[0, 2, 1], [2, 2, 0]])[..., None], -1)[..., 0])
case("bce-logits", lambda t, z: K.binary_crossentropy(t, z, from_logits=True), [rnd(4, 3, lo=0, hi=1), rnd(4, 3) * 3],
     ref_bce_logits)
case("bce-probs", K.binary_crossentropy, [rnd(4, 3, lo=0, hi=1), rnd(4, 3, lo=0.05, hi=0.95)], ref_bce)
case("bce-sigmoid-trick", lambda t, z: K.binary_crossentropy(t, K.sigmoid(z)), [rnd(4, 3, lo=0, hi=1), rnd(4, 3) * 3],
     ref_bce_logits)

# Reductions.
for axis, keep in [(None, False), (1, False), ((0, 2), True), (-1, True)]:
    tag = f"axis={axis},keepdims={keep}"
    case(f"sum[{tag}]", lambda x, a=axis, k=keep: K.sum(x, axis=a, keepdims=k), [rnd(2, 3, 4)],
         lambda x, a=axis, k=keep: np.sum(x, axis=a, keepdims=k))
    case(f"mean[{tag}]", lambda x, a=axis, k=keep: K.mean(x, axis=a, keepdims=k), [rnd(2, 3, 4)],
         lambda x, a=axis, k=keep: np.mean(x, axis=a, keepdims=k))
    case(f"max[{tag}]", lambda x, a=axis, k=keep: K.max(x, axis=a, keepdims=k), [distinct(2, 3, 4)],
         lambda x, a=axis, k=keep: np.max(x, axis=a, keepdims=k))
    case(f"min[{tag}]", lambda x, a=axis, k=keep: K.min(x, axis=a, keepdims=k), [distinct(2, 3, 4)],
         lambda x, a=axis, k=keep: np.min(x, axis=a, keepdims=k))
    case(f"prod[{tag}]", lambda x, a=axis, k=keep: K.prod(x, axis=a, keepdims=k), [pos(2, 3, 4, lo=0.7, hi=1.3)],
         lambda x, a=axis, k=keep: np.prod(x, axis=a, keepdims=k), rtol=2e-5)
    case(f"var[{tag}]", lambda x, a=axis, k=keep: K.var(x, axis=a, keepdims=k), [rnd(2, 3, 4)],
         lambda x, a=axis, k=keep: np.var(x, axis=a, keepdims=k))
    case(f"std[{tag}]", lambda x, a=axis, k=keep: K.std(x, axis=a, keepdims=k), [rnd(2, 3, 4)],
         lambda x, a=axis, k=keep: np.std(x, axis=a, keepdims=k))
    case(f"logsumexp[{tag}]", lambda x, a=axis, k=keep: K.logsumexp(x, axis=a, keepdims=k), [rnd(2, 3, 4)],
         lambda x, a=axis, k=keep: np.log(np.sum(np.exp(x), axis=a, keepdims=k)))
case("max-ties-share", lambda x: K.max(x, axis=1), [np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]])],
     lambda x: x.max(1), check_grad=False)
case("prod-with-zero", lambda x: K.prod(x, axis=1), [np.array([[0.0, 2.0, 3.0], [1.5, 0.5, 2.0]])],
     lambda x: x.prod(1))
case("cumsum", lambda x: K.cumsum(x, axis=1), [rnd(3, 4)], lambda x: np.cumsum(x, 1))
case("cumsum-flat", lambda x: ops.cumsum(x), [rnd(3, 4)], lambda x: np.cumsum(x))
case("cumprod", lambda x: K.cumprod(x, axis=0), [pos(3, 4, lo=0.5, hi=1.5)], lambda x: np.cumprod(x, 0))

# Matrix products.
case("matmul-2d", K.matmul, [rnd(3, 4), rnd(4, 5)], np.matmul)
case("matmul-nd-by-2d", K.matmul, [rnd(2, 3, 4), rnd(4, 5)], np.matmul)
case("matmul-batched", K.matmul, [rnd(2, 3, 4), rnd(2, 4, 5)], np.matmul)
case("matmul-broadcast", K.matmul, [rnd(2, 1, 3, 4), rnd(3, 4, 2)], np.matmul)
case("matmul-vec", K.matmul, [rnd(4), rnd(4, 3)], np.matmul)
# Per-matrix products above kernels.BATCHED_NATIVE_MIN multiply-adds: one native GEMM per matrix.
case("matmul-batched-large", K.matmul, [rnd(2, 40, 30), rnd(1, 30, 36)], np.matmul, max_fd=12, rtol=2e-5, atol=2e-5)
case("matmul-matvec", K.matmul, [rnd(3, 4), rnd(4)], np.matmul)
case("operator@", lambda a, b: a @ b, [rnd(3, 4), rnd(4, 2)], np.matmul)
case("dot-2d", K.dot, [rnd(3, 4), rnd(4, 5)], np.dot)
case("dot-nd", K.dot, [rnd(2, 3, 4), rnd(5, 4, 2)], np.dot)
case("dot-vec", K.dot, [rnd(4), rnd(4)], np.dot)
case("batch_dot-default", K.batch_dot, [rnd(2, 3, 4), rnd(2, 4, 5)], lambda x, y: ref_batch_dot(x, y, (2, 1)))
case("batch_dot-axes(1,2)", lambda x, y: K.batch_dot(x, y, axes=(1, 2)), [rnd(3, 5), rnd(3, 4, 5)],
     lambda x, y: ref_batch_dot(x, y, (1, 2)))
case("batch_dot-2d", lambda x, y: K.batch_dot(x, y, axes=1), [rnd(3, 5), rnd(3, 5)],
     lambda x, y: ref_batch_dot(x, y, (1, 1)))
case("batch_dot-4d", lambda x, y: K.batch_dot(x, y, axes=(1, 3)), [rnd(2, 3, 2, 4), rnd(2, 5, 2, 3)],
     lambda x, y: ref_batch_dot(x, y, (1, 3)))
case("tensordot", lambda x, y: K.tensordot(x, y, axes=([1, 2], [0, 1])), [rnd(2, 3, 4), rnd(3, 4, 5)],
     lambda x, y: np.tensordot(x, y, axes=([1, 2], [0, 1])))
case("einsum-attention", lambda q, k: ops.einsum("bqd,bkd->bqk", q, k), [rnd(2, 3, 4), rnd(2, 5, 4)],
     lambda q, k: np.einsum("bqd,bkd->bqk", q, k))
case("einsum-sum-out", lambda a, b: ops.einsum("ij,jk->i", a, b), [rnd(3, 4), rnd(4, 5)],
     lambda a, b: np.einsum("ij,jk->i", a, b))
case("einsum-ellipsis", lambda a, b: ops.einsum("...ij,jk", a, b), [rnd(2, 3, 4), rnd(4, 2)],
     lambda a, b: np.einsum("...ij,jk", a, b))
case("outer", ops.outer, [rnd(3), rnd(4)], np.outer)
# Large enough for einsum's GEMM lowering (batch, kept, contracted and summed-alone letters).
case("einsum-gemm-attention", lambda q, k: ops.einsum("bqhd,bkhd->bhqk", q, k), [rnd(2, 40, 2, 32), rnd(2, 30, 2, 32)],
     lambda q, k: np.einsum("bqhd,bkhd->bhqk", q, k), max_fd=10, rtol=2e-5, atol=2e-5)
case("einsum-gemm-lone-sum", lambda a, b: ops.einsum("ijz,jk->ki", a, b), [rnd(50, 40, 2), rnd(40, 30)],
     lambda a, b: np.einsum("ijz,jk->ki", a, b), max_fd=10, rtol=2e-5, atol=2e-5)

# Shapes and movement.
case("reshape", lambda x: K.reshape(x, (4, -1)), [rnd(2, 3, 4)], lambda x: x.reshape(4, -1))
case("transpose", lambda x: K.permute_dimensions(x, (2, 0, 1)), [rnd(2, 3, 4)], lambda x: x.transpose(2, 0, 1))
case("transpose-default", K.transpose, [rnd(3, 4)], lambda x: x.T)
case("swapaxes", lambda x: ops.swapaxes(x, 0, 2), [rnd(2, 3, 4)], lambda x: np.swapaxes(x, 0, 2))
case("moveaxis", lambda x: ops.moveaxis(x, 0, -1), [rnd(2, 3, 4)], lambda x: np.moveaxis(x, 0, -1))
case("expand_dims", lambda x: K.expand_dims(x, 1), [rnd(3, 4)], lambda x: x[:, None])
case("squeeze", lambda x: K.squeeze(x, 1), [rnd(3, 1, 4)], lambda x: x[:, 0])
case("flatten", K.flatten, [rnd(2, 3)], lambda x: x.reshape(-1))
case("batch_flatten", K.batch_flatten, [rnd(2, 3, 4)], lambda x: x.reshape(2, -1))
case("broadcast_to", lambda x: ops.broadcast_to(x, (2, 3, 4)), [rnd(3, 1)], lambda x: np.broadcast_to(x, (2, 3, 4)))
case("concatenate", lambda a, b, c: K.concatenate([a, b, c], axis=1), [rnd(2, 1, 3), rnd(2, 2, 3), rnd(2, 4, 3)],
     lambda a, b, c: np.concatenate([a, b, c], 1))
case("stack", lambda a, b: K.stack([a, b], axis=1), [rnd(2, 3), rnd(2, 3)], lambda a, b: np.stack([a, b], 1))
case("unstack", lambda x: K.concatenate(ops.unstack(x, axis=1), axis=0), [rnd(2, 3, 2)],
     lambda x: np.concatenate([x[:, i] for i in range(3)], 0))
case("split", lambda x: K.concatenate(ops.split(x, [1, 3], axis=1)[::-1], axis=1), [rnd(2, 5)],
     lambda x: np.concatenate([x[:, 3:], x[:, 1:3], x[:, :1]], 1))
case("getitem-basic", lambda x: x[1:, ::2, None, -1], [rnd(3, 4, 5)], lambda x: x[1:, ::2, None, -1])
case("getitem-int", lambda x: x[1], [rnd(3, 4)], lambda x: x[1])
case("getitem-advanced-dup", lambda x: x[np.array([0, 2, 0, 0])], [rnd(3, 4)], lambda x: x[[0, 2, 0, 0]])
case("getitem-mask", lambda x: x[np.array([[True, False, True, False]] * 3)], [rnd(3, 4)],
     lambda x: x[np.array([[True, False, True, False]] * 3)])
case("getitem-mixed", lambda x: x[:, np.array([1, 1, 3])], [rnd(3, 4)], lambda x: x[:, [1, 1, 3]])
case("gather", lambda x: K.gather(x, np.array([[2, 0], [2, 2]])), [rnd(3, 4)], lambda x: x[np.array([[2, 0], [2, 2]])])
case("take-axis1", lambda x: ops.take(x, np.array([3, -1, 0]), axis=1), [rnd(2, 4, 3)],
     lambda x: np.take(x, [3, -1, 0], axis=1))
case("take_along_axis", lambda x: ops.take_along_axis(x, np.array([[0, 2, 2], [1, 1, 0]]), axis=1), [rnd(2, 3)],
     lambda x: np.take_along_axis(x, np.array([[0, 2, 2], [1, 1, 0]]), 1))
case("pad-constant", lambda x: ops.pad(x, ((1, 0), (2, 3))), [rnd(3, 4)], lambda x: np.pad(x, ((1, 0), (2, 3))))
case("pad-reflect", lambda x: ops.pad(x, ((1, 2), (2, 1)), mode="reflect"), [rnd(3, 4)],
     lambda x: np.pad(x, ((1, 2), (2, 1)), mode="reflect"))
case("pad-symmetric", lambda x: ops.pad(x, ((1, 1), (0, 2)), mode="symmetric"), [rnd(3, 4)],
     lambda x: np.pad(x, ((1, 1), (0, 2)), mode="symmetric"))
case("temporal_padding", lambda x: K.temporal_padding(x, (2, 1)), [rnd(2, 3, 2)],
     lambda x: np.pad(x, ((0, 0), (2, 1), (0, 0))))
case("spatial_2d_padding", lambda x: K.spatial_2d_padding(x, ((1, 2), (0, 1))), [rnd(2, 3, 3, 2)],
     lambda x: np.pad(x, ((0, 0), (1, 2), (0, 1), (0, 0))))
case("spatial_2d_padding-cf", lambda x: K.spatial_2d_padding(x, ((1, 0), (0, 1)), data_format="channels_first"),
     [rnd(2, 2, 3, 3)], lambda x: np.pad(x, ((0, 0), (0, 0), (1, 0), (0, 1))))
case("spatial_3d_padding", lambda x: K.spatial_3d_padding(x, ((1, 0), (0, 1), (1, 1))), [rnd(1, 2, 2, 2, 1)],
     lambda x: np.pad(x, ((0, 0), (1, 0), (0, 1), (1, 1), (0, 0))))
case("spatial_2d_cropping", lambda x: K.spatial_2d_cropping(x, ((1, 0), (1, 2))), [rnd(2, 4, 5, 2)],
     lambda x: x[:, 1:, 1:3])
case("temporal_cropping", lambda x: K.temporal_cropping(x, (1, 2)), [rnd(2, 5, 2)], lambda x: x[:, 1:3])
case("spatial_3d_cropping", lambda x: K.spatial_3d_cropping(x, ((1, 0), (0, 1), (1, 1))), [rnd(1, 3, 3, 4, 1)],
     lambda x: x[:, 1:, :2, 1:3])
case("tile", lambda x: K.tile(x, (2, 1, 3)), [rnd(2, 3, 1)], lambda x: np.tile(x, (2, 1, 3)))
case("tile-promote", lambda x: K.tile(x, (2, 2, 1)), [rnd(3, 2)], lambda x: np.tile(x, (2, 2, 1)))
case("repeat", lambda x: ops.repeat(x, 3, axis=1), [rnd(2, 3)], lambda x: np.repeat(x, 3, axis=1))
case("repeat-array", lambda x: ops.repeat(x, np.array([1, 0, 2]), axis=0), [rnd(3, 2)],
     lambda x: np.repeat(x, [1, 0, 2], axis=0))
case("repeat-flat", lambda x: ops.repeat(x, 2), [rnd(2, 2)], lambda x: np.repeat(x, 2))
case("repeat_elements", lambda x: K.repeat_elements(x, 2, axis=0), [rnd(2, 3)], lambda x: np.repeat(x, 2, axis=0))
case("K.repeat", lambda x: K.repeat(x, 3), [rnd(2, 4)], lambda x: np.repeat(x[:, None], 3, axis=1))
case("flip", lambda x: ops.flip(x, axis=(0, 2)), [rnd(2, 3, 4)], lambda x: np.flip(x, (0, 2)))
case("reverse", lambda x: K.reverse(x, 1), [rnd(2, 3)], lambda x: x[:, ::-1])
case("roll", lambda x: ops.roll(x, 2, axis=1), [rnd(2, 5)], lambda x: np.roll(x, 2, axis=1))
case("roll-flat", lambda x: ops.roll(x, -3), [rnd(2, 5)], lambda x: np.roll(x, -3))
case("resize-nearest", lambda x: K.resize_images(x, 2, 3, "channels_last"), [rnd(2, 3, 2, 2)],
     lambda x: x.repeat(2, 1).repeat(3, 2))
case("resize-bilinear", lambda x: K.resize_images(x, 2, 2, "channels_last", interpolation="bilinear"),
     [rnd(2, 3, 4, 2)], lambda x: np.einsum("ih,jw,nhwc->nijc", ref_bilinear_1d(3, 6), ref_bilinear_1d(4, 8), x))
case("resize-bilinear-cf", lambda x: K.resize_images(x, 2, 1, "channels_first", interpolation="bilinear"),
     [rnd(1, 2, 3, 2)], lambda x: np.einsum("ih,nchw->nciw", ref_bilinear_1d(3, 6), x))
case("resize_volumes", lambda x: K.resize_volumes(x, 2, 1, 2, "channels_last"), [rnd(1, 2, 2, 2, 1)],
     lambda x: x.repeat(2, 1).repeat(2, 3))
case("image.resize-nonint", lambda x: ops.image.resize(x, (5, 3)), [rnd(1, 3, 4, 2)],
     lambda x: np.einsum("ih,jw,nhwc->nijc", ref_bilinear_1d(3, 5), ref_bilinear_1d(4, 3), x))

# Dense, bias, normalisation.
for act in ["linear", "relu", "relu6", "leaky_relu", "elu", "selu", "sigmoid", "tanh", "softplus", "softsign",
            "exponential", "swish", "gelu", "hard_sigmoid", "softmax"]:
    kinks = {"relu": (0.0,), "relu6": (0.0, 6.0), "leaky_relu": (0.0,), "elu": (0.0,), "selu": (0.0,),
             "hard_sigmoid": (-3.0, 3.0)}.get(act, ())
    while True:  # pre-activations x @ k + b kept 0.05 away from the activation's kinks
        xin, kin, bias = rnd(4, 3) * 0.5, rnd(3, 5), rnd(5) * 0.3
        if all(np.abs(xin @ kin + bias - k).min() > 0.05 for k in kinks):
            break
    ref_act = ACTS.get(act, None) if act != "softmax" else softmax
    case(f"dense-{act}", lambda x, k, b, a=act: K.dense(x, k, b, activation=a), [xin, kin, bias],
         lambda x, k, b, f=ref_act: f(x @ k + b), rtol=2e-5, atol=2e-6)
case("dense-3d-nobias", lambda x, k: K.dense(x, k), [rnd(2, 3, 4), rnd(4, 2)], lambda x, k: x @ k)
case("dense-callable", lambda x, k: K.dense(x, k, activation=lambda t: K.square(t)), [rnd(3, 4), rnd(4, 2)],
     lambda x, k: (x @ k) ** 2)
case("bias_add", K.bias_add, [rnd(2, 3, 4), rnd(4)], lambda x, b: x + b)
case("bias_add-cf", lambda x, b: K.bias_add(x, b, data_format="channels_first"), [rnd(2, 4, 3, 3), rnd(4)],
     lambda x, b: x + b[:, None, None])
case("l2_normalize", lambda x: K.l2_normalize(x, axis=-1), [rnd(3, 4)],
     lambda x: x / np.sqrt((x ** 2).sum(-1, keepdims=True)))
case("normalize-l1", lambda x: ops.normalize(x, axis=-1, order=1), [off_kinks(3, 4)],
     lambda x: x / np.abs(x).sum(-1, keepdims=True))
case("moments", lambda x: K.concatenate(list(K.moments(x, axes=[0, 1])), axis=0), [rnd(3, 2, 4)],
     lambda x: np.concatenate([x.mean((0, 1)), x.var((0, 1))]))
case("batch_normalization", lambda x, m, v, b, g: K.batch_normalization(x, m, v, b, g, epsilon=1e-3),
     [rnd(4, 3), rnd(3), pos(3), rnd(3), rnd(3)], lambda x, m, v, b, g: (x - m) / np.sqrt(v + 1e-3) * g + b)
case("batch_normalization-axis1", lambda x, m, v, b, g: K.batch_normalization(x, m, v, b, g, axis=1, epsilon=1e-3),
     [rnd(2, 3, 4), rnd(3), pos(3), rnd(3), rnd(3)],
     lambda x, m, v, b, g: (x - m[:, None]) / np.sqrt(v[:, None] + 1e-3) * g[:, None] + b[:, None])
case("ops.batch_normalization", lambda x, m, v: ops.batch_normalization(x, m, v, axis=-1),
     [rnd(4, 3), rnd(3), pos(3)], lambda x, m, v: (x - m) / np.sqrt(v + 1e-3))
case("fused_batch_norm_train", lambda x, g, b: K.fused_batch_norm_train(x, g, b, None, None, -1, 0.9, 1e-3),
     [rnd(3, 2, 4), pos(4), rnd(4)], ref_bn_train, rtol=2e-5, atol=2e-5)
case("fused_batch_norm_train-axis1", lambda x, g, b: K.fused_batch_norm_train(x, g, b, None, None, 1, 0.9, 1e-3),
     [rnd(3, 4, 2), pos(4), rnd(4)], lambda x, g, b: np.moveaxis(ref_bn_train(np.moveaxis(x, 1, -1), g, b), -1, 1),
     rtol=2e-5, atol=2e-5)
case("dropout", lambda x: K.dropout(x, 0.3, seed=DROP_SEED), [rnd(4, 6)], lambda x: ref_dropout(x, 0.3))
case("dropout-noise_shape", lambda x: K.dropout(x, 0.5, noise_shape=(4, 1), seed=DROP_SEED), [rnd(4, 6)],
     lambda x: ref_dropout(x, 0.5, (4, 1)))
case("top_k", lambda x: ops.top_k(x, 2)[0], [distinct(3, 5)], lambda x: -np.sort(-x, axis=-1)[:, :2])
case("sort", lambda x: ops.sort(x, axis=0), [distinct(3, 4)], lambda x: np.sort(x, 0))
case("norm", lambda x: ops.norm(x, axis=1), [rnd(3, 4)], lambda x: np.linalg.norm(x, axis=1))
case("slice_update", lambda x, u: ops.slice_update(x, (1, 0), u), [rnd(3, 3), rnd(2, 2)],
     lambda x, u: np.concatenate([x[:1], np.concatenate([u, x[1:, 2:]], 1)], 0))
case("tril", ops.tril, [rnd(3, 3)], np.tril)


def ref_scatter(v, idx, shape):
    out = np.zeros(shape)
    np.add.at(out, tuple(idx.T), v)
    return out


SC_IDX = np.array([[0, 1], [2, 0], [0, 1]])
case("scatter-dup", lambda v: ops.scatter(SC_IDX, v, (3, 2)), [rnd(3)], lambda v: ref_scatter(v, SC_IDX, (3, 2)))
case("scatter-rows", lambda v: ops.scatter(np.array([[2], [0]]), v, (3, 4)), [rnd(2, 4)],
     lambda v: ref_scatter(v, np.array([[2], [0]]), (3, 4)))
case("scatter_update", lambda x, u: ops.scatter_update(x, np.array([[1, 1], [0, 2]]), u), [rnd(2, 3), rnd(2)],
     lambda x, u: np.where(np.array([[0, 0, 1], [0, 1, 0]], bool), ref_scatter(u, np.array([[1, 1], [0, 2]]), (2, 3)), x))
case("segment_sum", lambda d: ops.segment_sum(d, np.array([0, 2, 0, 1]), 3), [rnd(4, 2)],
     lambda d: ref_scatter(d, np.array([[0], [2], [0], [1]]), (3, 2)))
case("logaddexp", ops.logaddexp, [rnd(3, 4), rnd(3, 4)], np.logaddexp)
case("diagonal", lambda x: ops.diagonal(x, 1), [rnd(3, 4)], lambda x: np.diagonal(x, 1))
case("diag-vector", lambda x: ops.diag(x, -1), [rnd(3)], lambda x: np.diag(x, -1))
case("trace", ops.trace, [rnd(3, 3)], np.trace)
case("map", lambda x: ops.map(lambda r: r * r, x), [rnd(3, 2)], lambda x: x * x)
case("arctan2", ops.arctan2, [rnd(3, 4), away_from(rnd(3, 4), 0, 0.3)], np.arctan2)
case("divide_no_nan", lambda x, y: ops.divide_no_nan(x, y), [rnd(2, 3), np.array([[1.5, 0.0, -2.0], [0.0, 0.7, 1.1]])],
     lambda x, y: np.where(y == 0, 0.0, x / np.where(y == 0, 1.0, y)), wrt=[0])  # not differentiable in y at 0


def ref_attention(q, k, v, mask=None, causal=False):
    n = q.shape[2]
    k = np.repeat(k, n // k.shape[2], axis=2)
    v = np.repeat(v, n // v.shape[2], axis=2)
    logits = np.einsum("btnh,bsnh->bnts", q, k) / np.sqrt(q.shape[-1])
    allowed = np.ones(logits.shape, bool)
    if mask is not None:
        allowed &= mask
    if causal:
        allowed &= np.tril(np.ones(logits.shape[-2:], bool))
    logits = np.where(allowed, logits, -1e30)
    return np.einsum("bnts,bsnh->btnh", softmax(logits), v)


ATT_MASK = RNG.random((2, 1, 3, 4)) > 0.3
ATT_MASK[..., 0] = True
case("dot_product_attention", lambda q, k, v: ops.dot_product_attention(q, k, v, mask=ATT_MASK),
     [rnd(2, 3, 2, 4), rnd(2, 4, 2, 4), rnd(2, 4, 2, 4)], lambda q, k, v: ref_attention(q, k, v, ATT_MASK))
case("dot_product_attention-gqa-causal", lambda q, k, v: ops.dot_product_attention(q, k, v, is_causal=True),
     [rnd(1, 3, 4, 2), rnd(1, 3, 2, 2), rnd(1, 3, 2, 2)], lambda q, k, v: ref_attention(q, k, v, causal=True))

# Convolutions and pooling.
CONV = [
    ("conv1d-valid", rnd(2, 7, 3), rnd(3, 3, 4), dict(strides=1, padding="valid")),
    ("conv1d-causal-dil2", rnd(2, 7, 3), rnd(3, 3, 2), dict(strides=1, padding="causal", dil=2)),
    ("conv2d-same", rnd(2, 5, 6, 3), rnd(3, 3, 3, 4), dict(strides=1, padding="same")),
    ("conv2d-stride2-same", rnd(1, 7, 6, 2), rnd(3, 2, 2, 3), dict(strides=2, padding="same")),
    ("conv2d-stride(2,1)-valid", rnd(2, 6, 5, 2), rnd(2, 3, 2, 2), dict(strides=(2, 1), padding="valid")),
    ("conv2d-dilated", rnd(1, 7, 7, 2), rnd(3, 3, 2, 2), dict(strides=1, padding="same", dil=2)),
    ("conv2d-groups2", rnd(2, 5, 5, 4), rnd(3, 3, 2, 6), dict(strides=1, padding="same", groups=2)),
    ("conv3d-same", rnd(1, 4, 3, 4, 2), rnd(2, 2, 3, 2, 3), dict(strides=1, padding="same")),
]
for name, x, w, kw in CONV:
    dil = kw.get("dil", 1)
    case(name, lambda x, w, kw=kw, dil=dil: K.conv(x, w, None, kw["strides"], kw["padding"], dil, kw.get("groups", 1)),
         [x, w], lambda x, w, kw=kw, dil=dil: ref_conv(x, w, kw["strides"], kw["padding"], dil, kw.get("groups", 1)),
         rtol=1e-5, atol=1e-5)
case("conv2d-bias-relu", lambda x, w, b: K.conv(x, w, b, 1, "same", activation="relu"),
     [rnd(1, 4, 4, 2), rnd(3, 3, 2, 3), np.full(3, 0.05)],
     lambda x, w, b: np.maximum(ref_conv(x, w, 1, "same") + b, 0), rtol=1e-5, atol=1e-5)
case("conv2d-bias-swish", lambda x, w, b: K.conv(x, w, b, 1, "valid", activation="swish"),
     [rnd(1, 4, 4, 2), rnd(3, 3, 2, 3), rnd(3)], lambda x, w, b: ACTS["swish"](ref_conv(x, w) + b), rtol=1e-5,
     atol=1e-5)
case("K.conv2d-channels_first", lambda x, w: K.conv2d(x, w, padding="same", data_format="channels_first"),
     [rnd(1, 2, 4, 5), rnd(3, 3, 2, 3)],
     lambda x, w: np.moveaxis(ref_conv(np.moveaxis(x, 1, -1), w, 1, "same"), -1, 1), rtol=1e-5, atol=1e-5)
case("depthwise-mult2-same", lambda x, w: K.depthwise_conv(x, w, None, 1, "same"), [rnd(2, 5, 5, 3), rnd(3, 3, 3, 2)],
     lambda x, w: ref_depthwise(x, w, 1, "same"), rtol=1e-5, atol=1e-5)
case("depthwise-stride2-bias", lambda x, w, b: K.depthwise_conv(x, w, b, 2, "valid"),
     [rnd(1, 6, 7, 2), rnd(3, 3, 2, 1), rnd(2)], lambda x, w, b: ref_depthwise(x, w, 2, "valid") + b, rtol=1e-5,
     atol=1e-5)
case("depthwise1d-dilated", lambda x, w: K.depthwise_conv(x, w, None, 1, "same", 2), [rnd(2, 8, 2), rnd(3, 2, 2)],
     lambda x, w: ref_depthwise(x, w, 1, "same", 2), rtol=1e-5, atol=1e-5)
case("separable1d-stride2", lambda x, d, p: K.separable_conv(x, d, p, None, 2, "valid"),
     [rnd(2, 9, 2), rnd(3, 2, 3), rnd(6, 4)],
     lambda x, d, p: ref_conv(ref_depthwise(x, d, 2, "valid"), p[None]), rtol=1e-5, atol=1e-5)
case("separable2d", lambda x, d, p, b: K.separable_conv(x, d, p, b, 1, "same", activation="tanh"),
     [rnd(1, 5, 5, 2), rnd(3, 3, 2, 2), rnd(1, 1, 4, 3), rnd(3)],
     lambda x, d, p, b: np.tanh(ref_conv(ref_depthwise(x, d, 1, "same"), p) + b), rtol=1e-5, atol=1e-5)
TRANSPOSE = [
    ("conv_transpose2d-valid-s2", rnd(1, 3, 4, 3), rnd(3, 3, 2, 3), dict(strides=2, padding="valid")),
    ("conv_transpose2d-same-s2", rnd(2, 3, 3, 2), rnd(3, 3, 3, 2), dict(strides=2, padding="same")),
    ("conv_transpose2d-same-s1", rnd(1, 4, 4, 2), rnd(3, 3, 2, 2), dict(strides=1, padding="same")),
    ("conv_transpose2d-outpad", rnd(1, 3, 3, 2), rnd(3, 3, 2, 2), dict(strides=2, padding="valid", output_padding=1)),
    ("conv_transpose2d-same-outpad", rnd(1, 3, 3, 2), rnd(4, 4, 2, 2), dict(strides=3, padding="same",
                                                                             output_padding=2)),
    ("conv_transpose1d-dilated", rnd(2, 4, 2), rnd(3, 2, 2), dict(strides=1, padding="valid", dil=2)),
    ("conv_transpose3d-same", rnd(1, 2, 3, 2, 2), rnd(2, 2, 2, 3, 2), dict(strides=2, padding="same")),
]
for name, x, w, kw in TRANSPOSE:
    case(name, lambda x, w, kw=kw: K.conv_transpose(x, w, None, kw["strides"], kw["padding"], kw.get("output_padding"),
                                                   kw.get("dil", 1)),
         [x, w], lambda x, w, kw=kw: ref_conv_transpose(x, w, kw["strides"], kw["padding"], kw.get("output_padding"),
                                                       kw.get("dil", 1)), rtol=1e-5, atol=1e-5)
case("conv_transpose-bias-relu", lambda x, w, b: K.conv_transpose(x, w, b, 2, "same", activation="relu"),
     [rnd(1, 3, 3, 2), rnd(3, 3, 2, 2), np.full(2, 0.02)],
     lambda x, w, b: np.maximum(ref_conv_transpose(x, w, 2, "same") + b, 0), rtol=1e-5, atol=1e-5)
POOL = [
    ("max_pool2d-valid", "max", distinct(2, 4, 5, 2), 2, None, "valid"),
    ("max_pool2d-same-s1", "max", distinct(1, 5, 5, 2), 3, 1, "same"),
    ("max_pool1d-same", "max", distinct(2, 7, 3), 2, 2, "same"),
    ("max_pool3d", "max", distinct(1, 4, 4, 4, 1), 2, None, "valid"),
    ("avg_pool2d-valid", "avg", rnd(2, 4, 5, 2), 2, None, "valid"),
    ("avg_pool2d-same-s2", "avg", rnd(1, 5, 5, 2), 3, 2, "same"),
    ("avg_pool1d-same", "avg", rnd(2, 7, 3), 2, 2, "same"),
    ("avg_pool3d-same", "avg", rnd(1, 3, 4, 3, 1), 2, 2, "same"),
]
for name, mode, x, p, s, pad in POOL:
    op = K.max_pool if mode == "max" else K.average_pool
    case(name, lambda x, op=op, p=p, s=s, pad=pad: op(x, p, s, pad), [x],
         lambda x, mode=mode, p=p, s=s, pad=pad: ref_pool(x, p, s, pad, mode))
case("K.pool2d-avg-cf", lambda x: K.pool2d(x, (2, 2), (2, 2), "valid", "channels_first", "avg"), [rnd(1, 2, 4, 4)],
     lambda x: np.moveaxis(ref_pool(np.moveaxis(x, 1, -1), 2, 2, "valid", "avg"), -1, 1))

# Composite and repeated-use cases.
case("antirectifier", antirectifier, [antirectifier_input()], ref_antirectifier)
case("repeated-use", lambda x: x * x + K.exp(x) * x - K.sum(x, axis=0), [rnd(3, 4)],
     lambda x: x * x + np.exp(x) * x - x.sum(0))
case("repeated-use-broadcast", lambda x, b: (x + b) * b + b, [rnd(3, 4), rnd(4)], lambda x, b: (x + b) * b + b)
case("fan-out-chain", lambda x: K.tanh(K.dense(x, x[:, :3] * 0.5)) + x[:, :3], [rnd(3, 3)],
     lambda x: np.tanh(x @ (x * 0.5)) + x, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("fn, args, ref, opts", CASES)
def test_op_forward_and_gradient(fn, args, ref, opts):
    check_op(fn, args, ref, **opts)


def test_every_rule_is_covered():
    covered = set()
    for param in CASES:
        fn, args, _, _ = param.values
        covered |= rules_used(fn, args)
    missing = set(gradient_rules.RULES) - covered
    assert not missing, f"gradient rules without a finite-difference case: {sorted(missing)}"


def test_max_ties_share_the_gradient():
    x = K.constant(np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]], np.float32))
    with K.GradientTape() as tape:
        tape.watch(x)
        y = K.max(x, axis=1)
    np.testing.assert_allclose(np.asarray(tape.gradient(y, x)), [[0, 0.5, 0.5], [1 / 3, 1 / 3, 1 / 3]], rtol=1e-6)

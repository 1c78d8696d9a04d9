"""Activations and unary math (pykeras._core.eltwise.unary / unary_backward).

Forward results are checked against float64 numpy references written from Keras 3's definitions;
backward results against central finite differences of those references in float64, at points
away from kinks, from x and (where allowed) from y = f(x). Every case runs on each kernel path
and on 1 and 2 threads, over sizes around the vector widths and the thread grain.
"""
import os

import numpy as np
import pytest
import scipy.special as sp

from pykeras import _core

E = _core.eltwise
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946
SIZES = [0, 1, 7, 8, 9, 15, 16, 17, 33, 97, 1009, 8192 * 2 + 3, 32768 * 2 + 5]


def keras_relu(x, alpha=0.0, max_value=None, threshold=0.0):
    if alpha != 0 and max_value is None and threshold == 0:
        return np.where(x >= 0, x, alpha * x)
    v = np.where(x > threshold, x, 0.0)
    if max_value is not None:
        v = np.clip(v, 0.0, max_value)
    return v - alpha * np.maximum(threshold - x, 0.0)


def gelu_tanh(x):
    # 0.5 x (1 + tanh(u)) = x sigmoid(2u), written without float64's own cancellation for x << 0.
    return x * sp.expit(2 * np.sqrt(2 / np.pi) * (x + 0.044715 * x**3))


def softplus(x):
    return np.logaddexp(0.0, x)


# name, kwargs, float64 reference, input domain, kinks, forward rtol (or (rtol, atol) where float32
# arithmetic itself cancels: hard_sigmoid's s x + 0.5 near 0)
CASES = [
    ("linear", {}, lambda x: x, "real", [], 0),
    ("relu", {}, keras_relu, "real", [0], 0),
    ("relu", {"alpha": 0.1}, lambda x: keras_relu(x, 0.1), "real", [0], 1e-7),
    ("relu", {"max_value": 3.0}, lambda x: keras_relu(x, max_value=3.0), "real", [0, 3], 0),
    ("relu", {"threshold": 0.5}, lambda x: keras_relu(x, threshold=0.5), "real", [0.5], 0),
    ("relu", {"alpha": 0.2, "max_value": 4.0, "threshold": -1.0},
     lambda x: keras_relu(x, 0.2, 4.0, -1.0), "real", [-1, 0, 4], 1e-7),
    ("relu6", {}, lambda x: np.minimum(np.maximum(x, 0), 6), "wide", [0, 6], 0),
    ("leaky_relu", {}, lambda x: np.where(x >= 0, x, 0.2 * x), "real", [0], 1e-7),
    ("leaky_relu", {"alpha": 0.3}, lambda x: np.where(x >= 0, x, 0.3 * x), "real", [0], 1e-7),
    ("elu", {}, lambda x: np.where(x > 0, x, np.expm1(x)), "real", [0], 3e-7),
    ("elu", {"alpha": 0.5}, lambda x: np.where(x > 0, x, 0.5 * np.expm1(x)), "real", [0], 3e-7),
    ("sigmoid", {}, sp.expit, "wide", [], 3e-7),
    ("tanh", {}, np.tanh, "real", [], 3e-7),
    ("hard_sigmoid", {}, lambda x: np.clip(x / 6 + 0.5, 0, 1), "wide", [-3, 3], (3e-7, 6e-8)),
    ("hard_sigmoid", {"alpha": 0.2}, lambda x: np.clip(0.2 * x + 0.5, 0, 1), "wide", [-2.5, 2.5], (3e-7, 6e-8)),
    ("swish", {}, lambda x: x * sp.expit(x), "wide", [], 4e-7),
    ("silu", {}, lambda x: x * sp.expit(x), "real", [], 4e-7),
    ("gelu", {}, lambda x: x * sp.ndtr(x), "wide", [], 5e-7),
    ("gelu", {"approximate": True}, gelu_tanh, "real", [], (1e-5, 1e-35)),  # sigmoid(v) < FLT_MIN flushes
    ("softplus", {}, softplus, "wide", [], 3e-7),
    ("selu", {}, lambda x: SELU_SCALE * np.where(x > 0, x, SELU_ALPHA * np.expm1(x)), "real", [0], 3e-7),
    ("exponential", {}, np.exp, "real", [], 2e-7),
    ("softsign", {}, lambda x: x / (1 + np.abs(x)), "wide", [], 2e-7),
    ("hard_silu", {}, lambda x: x * np.clip(x / 6 + 0.5, 0, 1), "wide", [-3, 3], (3e-7, 2e-7)),
    ("thresholded_relu", {}, lambda x: np.where(x > 1.0, x, 0.0), "real", [1], 0),
    ("thresholded_relu", {"threshold": -0.5}, lambda x: np.where(x > -0.5, x, 0.0), "real", [-0.5], 0),
    ("mish", {}, lambda x: x * np.tanh(softplus(x)), "wide", [], 6e-7),
    ("log_sigmoid", {}, lambda x: -softplus(-x), "wide", [], 3e-7),
    ("exp", {}, np.exp, "real", [], 2e-7),
    ("exp2", {}, np.exp2, "real", [], 2e-7),
    ("expm1", {}, np.expm1, "real", [], 3e-7),
    ("log", {}, np.log, "positive", [], 2e-7),
    ("log2", {}, np.log2, "positive", [], 3e-7),
    ("log10", {}, np.log10, "positive", [], 3e-7),
    ("log1p", {}, np.log1p, "above_minus_one", [], 3e-7),
    ("sqrt", {}, np.sqrt, "positive", [], 1e-7),
    ("rsqrt", {}, lambda x: 1 / np.sqrt(x), "positive", [], 2e-7),
    ("square", {}, np.square, "real", [], 1e-7),
    ("abs", {}, np.abs, "real", [0], 0),
    ("sign", {}, np.sign, "real", [0], 0),
    ("negative", {}, np.negative, "real", [], 0),
    ("reciprocal", {}, lambda x: 1 / x, "positive", [], 1e-7),
    ("floor", {}, np.floor, "real", "integers", 0),
    ("ceil", {}, np.ceil, "real", "integers", 0),
    ("round", {}, np.round, "real", "halves", 0),
    ("trunc", {}, np.trunc, "real", "integers", 0),
    ("clip", {"min_value": -0.5, "max_value": 0.7}, lambda x: np.clip(x, -0.5, 0.7), "real", [-0.5, 0.7], 0),
    ("sin", {}, np.sin, "real", [], 2e-7),
    ("cos", {}, np.cos, "real", [], 2e-7),
    ("tan", {}, np.tan, "unit", [], 2e-7),
    ("arcsin", {}, np.arcsin, "unit", [], 2e-7),
    ("arccos", {}, np.arccos, "unit", [], 2e-7),
    ("arctan", {}, np.arctan, "real", [], 2e-7),
    ("sinh", {}, np.sinh, "real", [], 2e-7),
    ("cosh", {}, np.cosh, "real", [], 2e-7),
    ("arcsinh", {}, np.arcsinh, "real", [], 2e-7),
    ("arccosh", {}, np.arccosh, "above_one", [], 2e-7),
    ("arctanh", {}, np.arctanh, "unit", [], 2e-7),
    ("erf", {}, sp.erf, "real", [], 2e-7),
    ("erfc", {}, sp.erfc, "real", [], 4e-7),
]
IDS = [name + "".join(f"-{k}={v}" for k, v in kw.items()) for name, kw, *_ in CASES]


def inputs(domain, n, seed=0):
    rng = np.random.default_rng(seed)
    if domain == "real":
        x = rng.standard_normal(n) * 3
    elif domain == "wide":
        x = rng.standard_normal(n) * 8
    elif domain == "positive":
        x = np.exp(rng.standard_normal(n) * 2)
    elif domain == "above_minus_one":
        x = np.exp(rng.standard_normal(n) * 2) - 0.999
    elif domain == "above_one":
        x = 1.001 + np.exp(rng.standard_normal(n))
    else:  # unit
        x = rng.uniform(-0.98, 0.98, n)
    return x.astype(np.float32)


def away_from_kinks(x, kinks, gap=1e-2):
    if kinks == "integers":
        return np.abs(x - np.round(x)) > gap
    if kinks == "halves":
        return np.abs(x - np.floor(x) - 0.5) > gap
    keep = np.ones(x.shape, bool)
    for k in kinks:
        keep &= np.abs(x - k) > gap
    return keep


def finite_difference(ref, x):
    x = x.astype(np.float64)
    h = 1e-6 * np.maximum(1.0, np.abs(x))
    return (ref(x + h) - ref(x - h)) / (2 * h)


def check_forward(case, n):
    name, kw, ref, domain, _, rtol = case
    x = inputs(domain, n)
    y = E.unary(name, x, **kw)
    assert y.dtype == np.float32 and y.shape == x.shape
    with np.errstate(all="ignore"):
        expected = ref(x.astype(np.float64))
    rtol, atol = rtol if isinstance(rtol, tuple) else (rtol, 1e-37)
    if rtol == 0:  # exact operations: the correctly rounded result
        np.testing.assert_array_equal(y, expected.astype(np.float32))
    else:
        np.testing.assert_allclose(y, expected, rtol=rtol, atol=atol)


@pytest.mark.parametrize("case", CASES, ids=IDS)
@pytest.mark.parametrize("n", [4099, 70001])
def test_forward_matches_reference(isa, threads, case, n):
    check_forward(case, n)


# One operation of each loop flavour (cheap, transcendental, parameterised, scalar libm) over
# sizes around the vector widths and the thread grains.
@pytest.mark.parametrize("case", [c for c, i in zip(CASES, IDS) if i in (
    "relu", "gelu", "clip-min_value=-0.5-max_value=0.7", "sin", "tanh", "elu")], ids=lambda c: c[0])
@pytest.mark.parametrize("n", SIZES)
def test_forward_sizes(isa, threads, case, n):
    check_forward(case, n)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_backward_matches_finite_differences(isa, threads, case):
    name, kw, ref, domain, kinks, _ = case
    x = inputs(domain, 20011, seed=1)
    x = x[away_from_kinks(x, kinks)]
    dy = np.random.default_rng(2).standard_normal(x.size).astype(np.float32)
    with np.errstate(all="ignore"):
        expected = dy * finite_difference(ref, x)
    how = E.unary_backward_input(name, **kw)
    assert how in ("x", "either", "none")
    dx = E.unary_backward(name, dy, x=x, **kw)
    scale = np.abs(expected).max() if expected.size else 1.0
    np.testing.assert_allclose(dx, expected, rtol=2e-5, atol=2e-6 * max(scale, 1.0))
    if how == "either":
        y = E.unary(name, x, **kw)
        dx_y = E.unary_backward(name, dy, y=y, **kw)
        np.testing.assert_allclose(dx_y, expected, rtol=1e-4, atol=2e-6 * max(scale, 1.0))
    if how == "none":
        np.testing.assert_array_equal(E.unary_backward(name, dy, **kw), dx)


@pytest.mark.parametrize("n", [1, 17, 32768 * 2 + 5])
def test_backward_from_x_and_from_y_agree_on_sizes(isa, threads, n):
    x = inputs("real", n, seed=3)
    dy = inputs("real", n, seed=4)
    for name in ["relu", "sigmoid", "tanh", "elu", "softplus", "exp", "relu6", "selu"]:
        y = E.unary(name, x)
        np.testing.assert_allclose(E.unary_backward(name, dy, y=y), E.unary_backward(name, dy, x=x),
                                   rtol=2e-5, atol=2e-6)


def test_results_do_not_depend_on_threads():
    from pykeras import config

    x = inputs("wide", 200003, seed=5)
    results = []
    for t in (1, 2):
        config.set_num_threads(t)
        results.append([E.unary(n, x) for n in ("gelu", "tanh", "softplus", "mish")])
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)


EXTREMES = np.array([np.inf, -np.inf, 1e30, -1e30, 1e4, -1e4, 100.0, -100.0, 0.0, -0.0], np.float32)


@pytest.mark.parametrize("case", [c for c in CASES if c[3] in ("real", "wide")], ids=[
    i for i, c in zip(IDS, CASES) if c[3] in ("real", "wide")])
def test_extreme_inputs_give_the_limits(isa, case):
    name, kw, ref, *_ = case
    if name in ("sin", "cos", "tan", "sinh", "cosh", "exp2", "erf", "erfc"):
        x = EXTREMES[2:]
    else:
        x = EXTREMES
    y = E.unary(name, x, **kw)
    with np.errstate(all="ignore"):
        xd = x.astype(np.float64)
        expected = ref(xd)
        # At +-inf the float64 formulas can give inf/inf or inf * 0: the limit is the value at +-1e300.
        at_limit = np.isinf(xd) & np.isnan(expected)
        expected = np.where(at_limit, ref(np.sign(xd) * 1e300), expected).astype(np.float32)
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-30)
    # Gradients are finite wherever the derivative is.
    dx = E.unary_backward(name, np.ones_like(x), x=x, **kw)
    if name in ("relu", "relu6", "leaky_relu", "elu", "sigmoid", "tanh", "hard_sigmoid", "swish", "silu", "gelu",
                "softplus", "selu", "softsign", "hard_silu", "thresholded_relu", "mish", "log_sigmoid", "linear"):
        assert np.all(np.isfinite(dx)), (name, dx)


@pytest.mark.parametrize("name", ["relu", "sigmoid", "tanh", "gelu", "swish", "softplus", "elu", "exp", "log",
                                  "sqrt", "abs", "hard_sigmoid", "mish", "softsign", "clip"])
def test_nan_propagates(isa, name):
    kw = {"min_value": -1.0, "max_value": 1.0} if name == "clip" else {}
    x = np.array([np.nan, 1.0, np.nan], np.float32)
    assert np.isnan(E.unary(name, x, **kw)[[0, 2]]).all()


def test_activation_codes_match_the_enum_and_are_accepted():
    codes = E.ACTIVATIONS
    assert codes["linear"] == 0 and codes["relu"] == 1 and codes["gelu"] == 9 and codes["softsign"] == 13
    assert codes["silu"] == codes["swish"] and codes["hard_swish"] == codes["hard_silu"]
    x = inputs("real", 100)
    for name, code in codes.items():
        np.testing.assert_array_equal(E.unary(code, x), E.unary(name, x))
    assert set(codes) <= set(E.UNARY_OPS)


def test_in_place_and_out(isa):
    x = inputs("real", 1000)
    expected = E.unary("tanh", x)
    out = np.empty_like(x)
    assert E.unary("tanh", x, out=out) is out
    np.testing.assert_array_equal(out, expected)
    E.unary("tanh", x, out=x)
    np.testing.assert_array_equal(x, expected)
    dy = inputs("real", 1000, seed=9)
    expected_dx = E.unary_backward("tanh", dy, y=x)
    E.unary_backward("tanh", dy, y=x, out=dy)
    np.testing.assert_array_equal(dy, expected_dx)


def test_does_not_write_past_the_end(isa):
    buf = np.full(64, 7.0, np.float32)
    x = inputs("real", 37)
    E.unary("gelu", x, out=buf[5:42])
    assert np.all(buf[:5] == 7) and np.all(buf[42:] == 7)


def test_argument_errors():
    x = np.ones(4, np.float32)
    with pytest.raises(ValueError, match="unknown op 'nope'"):
        E.unary("nope", x)
    with pytest.raises(ValueError, match="unknown op code 999"):
        E.unary(999, x)
    with pytest.raises(TypeError, match="'op' must be a str or an int"):
        E.unary(1.5, x)
    with pytest.raises(ValueError, match="'sigmoid' takes no 'alpha'"):
        E.unary("sigmoid", x, alpha=0.1)
    with pytest.raises(ValueError, match="clip needs both"):
        E.unary("clip", x, min_value=0.0)
    with pytest.raises(TypeError, match="float32"):
        E.unary("relu", np.ones(4))
    with pytest.raises(TypeError, match="float32 numpy array"):
        E.unary("relu", [1.0, 2.0])
    with pytest.raises(TypeError, match="C-contiguous"):
        E.unary("relu", np.ones((4, 4), np.float32)[:, ::2])
    with pytest.raises(ValueError, match="needs x for its backward"):
        E.unary_backward("gelu", x, y=x)
    with pytest.raises(ValueError, match="needs x or y"):
        E.unary_backward("sigmoid", x)
    with pytest.raises(ValueError, match=r"'x' has shape \(3,\), expected \(4,\)"):
        E.unary_backward("sigmoid", x, x=np.ones(3, np.float32))
    with pytest.raises(ValueError, match="out"):
        E.unary("relu", x, out=np.ones(5, np.float32))


def test_backward_input_reports_what_is_needed():
    assert E.unary_backward_input("relu") == "either"
    assert E.unary_backward_input("relu", threshold=0.5) == "x"
    assert E.unary_backward_input("leaky_relu", alpha=-0.5) == "x"
    assert E.unary_backward_input("gelu") == "x"
    assert E.unary_backward_input("sigmoid") == "either"
    assert E.unary_backward_input("floor") == "none"


@pytest.mark.keras_reference
@pytest.mark.parametrize("name, kw, keras_kw", [
    ("relu", {"alpha": 0.1, "max_value": 2.0, "threshold": 0.3}, {"negative_slope": 0.1, "max_value": 2.0,
                                                                    "threshold": 0.3}),
    ("relu", {"alpha": 0.2}, {"negative_slope": 0.2}),
    ("relu6", {}, {}), ("leaky_relu", {}, {}), ("elu", {}, {}), ("sigmoid", {}, {}), ("tanh", {}, {}),
    ("hard_sigmoid", {}, {}), ("silu", {}, {}), ("gelu", {}, {}), ("gelu", {"approximate": True},
                                                                   {"approximate": True}),
    ("softplus", {}, {}), ("selu", {}, {}), ("exponential", {}, {}), ("softsign", {}, {}), ("hard_silu", {}, {}),
    ("mish", {}, {}), ("log_sigmoid", {}, {}),
])
def test_matches_keras_activations(name, kw, keras_kw):
    os.environ.setdefault("KERAS_BACKEND", "jax")
    keras = pytest.importorskip("keras")
    x = inputs("wide", 4001, seed=7)
    expected = np.asarray(getattr(keras.activations, name)(x, **keras_kw))
    np.testing.assert_allclose(E.unary(name, x, **kw), expected, rtol=2e-5, atol=2e-6)

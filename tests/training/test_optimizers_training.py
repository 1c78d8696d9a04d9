"""Optimizers against float64 numpy references of Keras 3's update formulas over several steps,
on several parameter shapes at once (SIMD-width edges: 1, 7, 16, 17 and a 2-d kernel), plus
clipping, weight decay, EMA, gradient accumulation, schedules, settable learning rates,
constraints, config round trips and error messages."""
import math
import os

import numpy as np
import pytest

from pykeras import backend as K
from pykeras import optimizers
from pykeras.optimizers import native, schedules

SHAPES = [(1,), (7,), (16,), (17,), (5, 13)]
STEPS = 5


def _problem(seed=0):
    rng = np.random.default_rng(seed)
    params = [rng.standard_normal(s) for s in SHAPES]
    grads = [[rng.standard_normal(s) for s in SHAPES] for _ in range(STEPS)]
    return params, grads


# -- references (float64, Keras 3 formulas) -------------------------------------------------------
def ref_sgd(p, gs, learning_rate=0.01, momentum=0.0, nesterov=False):
    m = np.zeros_like(p)
    for g in gs:
        if momentum:
            m = momentum * m - learning_rate * g
            p = p + (momentum * m - learning_rate * g if nesterov else m)
        else:
            p = p - learning_rate * g
    return p


def ref_rmsprop(p, gs, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False):
    v = np.zeros_like(p)
    a = np.zeros_like(p)
    m = np.zeros_like(p)
    for g in gs:
        v = rho * v + (1 - rho) * g * g
        if centered:
            a = rho * a + (1 - rho) * g
            denom = v - a * a + epsilon
        else:
            denom = v + epsilon
        inc = learning_rate * g / np.sqrt(denom)
        if momentum > 0:
            m = momentum * m + inc
            p = p - m
        else:
            p = p - inc
    return p


def ref_adam(p, gs, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False):
    m = np.zeros_like(p)
    v = np.zeros_like(p)
    vh = np.zeros_like(p)
    for t, g in enumerate(gs, start=1):
        alpha = learning_rate * math.sqrt(1 - beta_2**t) / (1 - beta_1**t)
        m = m + (g - m) * (1 - beta_1)
        v = v + (g * g - v) * (1 - beta_2)
        if amsgrad:
            vh = np.maximum(vh, v)
            p = p - m * alpha / (np.sqrt(vh) + epsilon)
        else:
            p = p - m * alpha / (np.sqrt(v) + epsilon)
    return p


def ref_adamw(p, gs, learning_rate=0.001, weight_decay=0.004, **kw):
    # decoupled decay before each Adam update; the Adam state evolves on the gradients only
    m = np.zeros_like(p)
    v = np.zeros_like(p)
    for t, g in enumerate(gs, start=1):
        p = p - p * weight_decay * learning_rate
        alpha = learning_rate * math.sqrt(1 - 0.999**t) / (1 - 0.9**t)
        m = m + (g - m) * 0.1
        v = v + (g * g - v) * 0.001
        p = p - m * alpha / (np.sqrt(v) + 1e-7)
    return p


def ref_adagrad(p, gs, learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7):
    acc = np.full_like(p, initial_accumulator_value)
    for g in gs:
        acc = acc + g * g
        p = p - learning_rate * g / np.sqrt(acc + epsilon)
    return p


def ref_adadelta(p, gs, learning_rate=0.001, rho=0.95, epsilon=1e-7):
    ag = np.zeros_like(p)
    ad = np.zeros_like(p)
    for g in gs:
        ag = rho * ag + (1 - rho) * g * g
        delta = -np.sqrt(ad + epsilon) * g / np.sqrt(ag + epsilon)
        ad = rho * ad + (1 - rho) * delta * delta
        p = p + learning_rate * delta
    return p


def ref_adamax(p, gs, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7):
    m = np.zeros_like(p)
    u = np.zeros_like(p)
    for t, g in enumerate(gs, start=1):
        m = m + (g - m) * (1 - beta_1)
        u = np.maximum(beta_2 * u, np.abs(g))
        p = p - learning_rate * m / ((1 - beta_1**t) * (u + epsilon))
    return p


def ref_nadam(p, gs, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7):
    m = np.zeros_like(p)
    v = np.zeros_like(p)
    prod = 1.0
    for t, g in enumerate(gs, start=1):
        u_t = beta_1 * (1 - 0.5 * 0.96**t)
        u_t1 = beta_1 * (1 - 0.5 * 0.96 ** (t + 1))
        prod = prod * u_t
        prod_next = prod * u_t1
        m = m + (g - m) * (1 - beta_1)
        v = v + (g * g - v) * (1 - beta_2)
        m_hat = u_t1 * m / (1 - prod_next) + (1 - u_t) * g / (1 - prod)
        v_hat = v / (1 - beta_2**t)
        p = p - m_hat * learning_rate / (np.sqrt(v_hat) + epsilon)
    return p


CASES = [
    ("SGD", {}, ref_sgd),
    ("SGD", {"learning_rate": 0.1, "momentum": 0.9}, ref_sgd),
    ("SGD", {"learning_rate": 0.1, "momentum": 0.9, "nesterov": True}, ref_sgd),
    ("RMSprop", {}, ref_rmsprop),
    ("RMSprop", {"learning_rate": 0.01, "momentum": 0.5, "centered": True, "rho": 0.8}, ref_rmsprop),
    ("RMSprop", {"momentum": 0.3}, ref_rmsprop),
    ("Adam", {}, ref_adam),
    ("Adam", {"learning_rate": 0.01, "amsgrad": True, "beta_1": 0.8}, ref_adam),
    ("AdamW", {}, ref_adamw),
    ("Adagrad", {"learning_rate": 0.05}, ref_adagrad),
    ("Adadelta", {"learning_rate": 1.0}, ref_adadelta),
    ("Adamax", {"learning_rate": 0.02}, ref_adamax),
    ("Nadam", {"learning_rate": 0.01}, ref_nadam),
]


def _run(opt, params, grads):
    variables = [K.Variable(p.astype(np.float32)) for p in params]
    buffers = [np.asarray(v) for v in variables]
    for step_grads in grads:
        opt.apply_gradients(zip([K.convert_to_tensor(g.astype(np.float32)) for g in step_grads], variables))
    for v, b in zip(variables, buffers):
        assert np.asarray(v) is b or np.shares_memory(np.asarray(v), b)  # updated in place
    return [np.asarray(v) for v in variables]


@pytest.fixture(params=["native", "numpy"])
def update_path(request):
    """Runs a test with the fused kernels, then with the numpy reference path."""
    before = native.enabled
    native.enabled = request.param == "native"
    if request.param == "native":
        assert native.available("adam_update"), "pykeras._core.optim kernels are missing"
    yield request.param
    native.enabled = before


@pytest.mark.parametrize("name,kwargs,ref", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_update_matches_keras_formula(name, kwargs, ref, update_path, isa, threads):
    params, grads = _problem()
    opt = getattr(optimizers, name)(**kwargs)
    got = _run(opt, params, grads)
    ref_kwargs = {k: v for k, v in kwargs.items()}
    for i, p in enumerate(params):
        want = ref(p, [g[i] for g in grads], **ref_kwargs)
        np.testing.assert_allclose(got[i], want, rtol=2e-5, atol=2e-6, err_msg=f"{name} {kwargs} shape {p.shape}")
    assert int(np.asarray(opt.iterations)) == STEPS


def test_default_hyperparameters_are_keras_3():
    assert float(np.asarray(optimizers.SGD().learning_rate)) == pytest.approx(0.01)
    for cls in (optimizers.RMSprop, optimizers.Adam, optimizers.Adagrad, optimizers.Adadelta, optimizers.Adamax,
                optimizers.Nadam, optimizers.AdamW):
        assert float(np.asarray(cls().learning_rate)) == pytest.approx(0.001), cls
    assert optimizers.RMSprop().rho == 0.9 and optimizers.RMSprop().epsilon == 1e-7
    assert optimizers.Adam().beta_2 == 0.999 and optimizers.Adadelta().rho == 0.95
    assert optimizers.AdamW().weight_decay == 0.004
    assert optimizers.Adagrad().initial_accumulator_value == 0.1


def test_slots_and_variables_order():
    opt = optimizers.Adam(amsgrad=True)
    a, b = K.Variable(np.zeros((2, 3), np.float32)), K.Variable(np.zeros(3, np.float32))
    opt.build([a, b])
    # iteration, learning_rate, then per variable its momentum, velocity, velocity_hat
    assert len(opt.variables) == 2 + 2 * 3
    assert [tuple(np.shape(v)) for v in opt.variables[2:]] == [(2, 3)] * 3 + [(3,)] * 3
    assert all("momentum" in v.name or "velocity" in v.name for v in opt.variables[2:])


def _one_step(opt, g):
    v = K.Variable(np.zeros_like(g, dtype=np.float32))
    opt.apply([K.convert_to_tensor(g.astype(np.float32))], [v])
    return np.asarray(v).astype(np.float64)


def test_clipnorm_clipvalue_global_clipnorm():
    g = np.array([3.0, 4.0])  # norm 5
    np.testing.assert_allclose(_one_step(optimizers.SGD(learning_rate=1.0, clipnorm=1.0), g), -g / 5, rtol=1e-6)
    np.testing.assert_allclose(_one_step(optimizers.SGD(learning_rate=1.0, clipnorm=10.0), g), -g, rtol=1e-6)
    np.testing.assert_allclose(_one_step(optimizers.SGD(learning_rate=1.0, clipvalue=3.5), g), [-3.0, -3.5])
    opt = optimizers.SGD(learning_rate=1.0, global_clipnorm=2.5)
    v1, v2 = K.Variable(np.zeros(2, np.float32)), K.Variable(np.zeros(1, np.float32))
    opt.apply([np.array([3.0, 0.0], np.float32), np.array([4.0], np.float32)], [v1, v2])
    np.testing.assert_allclose(np.concatenate([np.asarray(v1), np.asarray(v2)]), [-1.5, 0.0, -2.0], rtol=1e-6)
    with pytest.raises(ValueError, match="Only one of `clipnorm`, `clipvalue` and `global_clipnorm`"):
        optimizers.SGD(clipnorm=1.0, clipvalue=1.0)


def test_weight_decay_and_exclusion(update_path):
    opt = optimizers.SGD(learning_rate=0.1, weight_decay=0.5)
    a = K.Variable(np.ones(2, np.float32), name="kernel")
    b = K.Variable(np.ones(2, np.float32), name="bias")
    opt.exclude_from_weight_decay(var_names=["bias"])
    opt.apply([np.zeros(2, np.float32)] * 2, [a, b])
    np.testing.assert_allclose(np.asarray(a), 0.95)
    np.testing.assert_allclose(np.asarray(b), 1.0)


def test_constraint_applied_after_update():
    v = K.Variable(np.zeros(3, np.float32), constraint=lambda w: np.clip(np.asarray(w), -0.5, 0.5))
    optimizers.SGD(learning_rate=1.0).apply([np.array([1.0, -0.2, -3.0], np.float32)], [v])
    np.testing.assert_allclose(np.asarray(v), [-0.5, 0.2, 0.5])


def test_ema_and_gradient_accumulation():
    opt = optimizers.SGD(learning_rate=1.0, use_ema=True, ema_momentum=0.5)
    v = K.Variable(np.zeros(1, np.float32))
    for g in (1.0, 1.0, 1.0):
        opt.apply([np.array([g], np.float32)], [v])
    # weights -1, -2, -3; average: -1 (first step copies), then 0.5 * -1 + 0.5 * -2 = -1.5, then -2.25
    opt.finalize_variable_values([v])
    np.testing.assert_allclose(np.asarray(v), [-2.25])
    opt = optimizers.SGD(learning_rate=1.0, gradient_accumulation_steps=2)
    v = K.Variable(np.zeros(1, np.float32))
    opt.apply([np.array([1.0], np.float32)], [v])
    np.testing.assert_allclose(np.asarray(v), [0.0])
    opt.apply([np.array([3.0], np.float32)], [v])
    np.testing.assert_allclose(np.asarray(v), [-2.0])
    assert int(np.asarray(opt.iterations)) == 2


def test_learning_rate_settable_and_schedules_follow_iterations():
    opt = optimizers.Adam(learning_rate=0.01)
    opt.learning_rate = 0.5
    assert float(np.asarray(opt.learning_rate)) == 0.5
    sched = schedules.ExponentialDecay(0.1, decay_steps=2, decay_rate=0.5)
    opt = optimizers.SGD(learning_rate=sched)
    v = K.Variable(np.zeros(1, np.float32))
    expected = 0.0
    for step in range(4):
        assert float(opt.learning_rate) == pytest.approx(0.1 * 0.5 ** (step / 2))
        expected -= 0.1 * 0.5 ** (step / 2)
        opt.apply([np.ones(1, np.float32)], [v])
    np.testing.assert_allclose(np.asarray(v), [expected], rtol=1e-6)
    with pytest.raises(TypeError, match="not settable"):
        opt.learning_rate = 0.3


def test_schedules_formulas():
    e = schedules.ExponentialDecay(1.0, 10, 0.5, staircase=True)
    assert e(9) == 1.0 and e(10) == 0.5 and e(25) == 0.25
    p = schedules.PiecewiseConstantDecay([10, 20], [1.0, 0.5, 0.1])
    assert [p(s) for s in (0, 10, 11, 20, 21)] == [1.0, 1.0, 0.5, 0.5, 0.1]
    inv = schedules.InverseTimeDecay(1.0, 10, 0.5)
    assert inv(20) == pytest.approx(1.0 / 2.0)
    poly = schedules.PolynomialDecay(1.0, 10, end_learning_rate=0.0, power=2.0)
    assert poly(5) == pytest.approx(0.25) and poly(50) == pytest.approx(0.0)
    cyc = schedules.PolynomialDecay(1.0, 10, end_learning_rate=0.0, cycle=True)
    assert cyc(15) == pytest.approx(0.25)  # second cycle spans 20 steps
    cos = schedules.CosineDecay(1.0, 100, alpha=0.1)
    assert cos(0) == pytest.approx(1.0) and cos(50) == pytest.approx(0.55) and cos(200) == pytest.approx(0.1)
    warm = schedules.CosineDecay(0.0, 100, warmup_target=1.0, warmup_steps=10)
    assert warm(5) == pytest.approx(0.5) and warm(10) == pytest.approx(1.0) and warm(60) == pytest.approx(0.5)
    for s in (e, p, inv, poly, cos, warm, schedules.CosineDecayRestarts(1.0, 10)):
        clone = schedules.deserialize(schedules.serialize(s))
        assert type(clone) is type(s) and clone(7) == pytest.approx(s(7))
    with pytest.raises(ValueError):
        schedules.PiecewiseConstantDecay([1, 2], [1.0])


def test_config_round_trip_and_get():
    opt = optimizers.RMSprop(learning_rate=0.02, rho=0.8, momentum=0.1, centered=True, clipnorm=2.0, name="r")
    clone = optimizers.RMSprop.from_config(opt.get_config())
    assert clone.get_config() == opt.get_config()
    sched_opt = optimizers.Adam(learning_rate=schedules.CosineDecay(0.1, 50))
    clone = optimizers.deserialize(optimizers.serialize(sched_opt))
    assert isinstance(clone, optimizers.Adam) and float(clone.learning_rate) == pytest.approx(0.1)
    for name, cls in [("sgd", optimizers.SGD), ("rmsprop", optimizers.RMSprop), ("Adam", optimizers.Adam),
                      ("adagrad", optimizers.Adagrad), ("adadelta", optimizers.Adadelta),
                      ("adamax", optimizers.Adamax), ("nadam", optimizers.Nadam), ("adamw", optimizers.AdamW)]:
        assert isinstance(optimizers.get(name), cls)


def test_errors():
    with pytest.raises(ValueError, match="Could not interpret optimizer identifier: 'adamm'"):
        optimizers.get("adamm")
    with pytest.raises(ValueError, match="`lr` was renamed `learning_rate`"):
        optimizers.Adam(lr=0.1)
    with pytest.raises(ValueError, match="momentum"):
        optimizers.SGD(momentum=1.5)
    with pytest.raises(ValueError, match="learning_rate"):
        optimizers.SGD(learning_rate="fast")
    opt = optimizers.SGD()
    a = K.Variable(np.zeros(2, np.float32))
    opt.apply([np.ones(2, np.float32)], [a])
    with pytest.raises(ValueError, match="Unknown variable"):
        opt.apply([np.ones(2, np.float32)], [K.Variable(np.zeros(2, np.float32))])
    with pytest.raises(ValueError, match="shape"):
        optimizers.SGD().apply([np.ones(3, np.float32)], [K.Variable(np.zeros(2, np.float32))])


@pytest.mark.keras_reference
@pytest.mark.parametrize("name,kwargs", [(c[0], c[1]) for c in CASES])
def test_against_real_keras(name, kwargs):
    os.environ.setdefault("KERAS_BACKEND", "jax")
    keras = pytest.importorskip("keras")
    params, grads = _problem(1)
    got = _run(getattr(optimizers, name)(**kwargs), params, grads)
    kopt = getattr(keras.optimizers, name)(**kwargs)
    kvars = [keras.Variable(p.astype(np.float32)) for p in params]
    for step_grads in grads:
        kopt.apply_gradients(zip([keras.ops.convert_to_tensor(g.astype(np.float32)) for g in step_grads], kvars))
    for g_, k_ in zip(got, kvars):
        np.testing.assert_allclose(g_, np.asarray(k_), rtol=1e-5, atol=1e-6)

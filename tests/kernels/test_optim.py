"""Fused optimizer updates (pykeras._core.optim) against float64 numpy versions of Keras 3's
formulas, over several steps, plus a comparison with keras.optimizers where Keras is installed.
"""
import numpy as np
import pytest

from pykeras import _core, config

O = _core.optim

# Tensor sizes around the vector widths, a scalar (0-d), an empty tensor, and one large enough
# to span several thread chunks; chunks therefore cross tensor boundaries.
SHAPES = [(3, 5), (), (17,), (0, 4), (16,), (33, 2), (70001,), (1,), (8, 8)]


# ----------------------------------------------------------------------------- references
def ref_update(name, hp, p, g, s, step):
    """One Keras 3 step in float64. p: param, g: grad, s: dict of slot arrays (updated)."""
    lr = hp.get("learning_rate", 0.001)
    wd = hp.get("weight_decay")
    if wd:
        p = p - p * wd * lr
    eps = hp.get("epsilon", 1e-7)
    if name == "sgd":
        mom = hp.get("momentum", 0.0)
        if mom == 0:
            return p - g * lr
        s["momentums"] = s["momentums"] * mom - g * lr
        if hp.get("nesterov"):
            return p + s["momentums"] * mom - g * lr
        return p + s["momentums"]
    if name == "rmsprop":
        rho, mom = hp.get("rho", 0.9), hp.get("momentum", 0.0)
        s["velocities"] = rho * s["velocities"] + (1 - rho) * g * g
        if hp.get("centered"):
            s["average_gradients"] = rho * s["average_gradients"] + (1 - rho) * g
            denom = s["velocities"] - s["average_gradients"] ** 2 + eps
        else:
            denom = s["velocities"] + eps
        inc = lr * g / np.sqrt(denom)
        if mom > 0:
            s["momentums"] = mom * s["momentums"] + inc
            return p - s["momentums"]
        return p - inc
    if name == "adagrad":
        s["accumulators"] = s["accumulators"] + g * g
        return p - lr * g / np.sqrt(s["accumulators"] + eps)
    if name == "adadelta":
        rho = hp.get("rho", 0.95)
        s["accumulated_grads"] = rho * s["accumulated_grads"] + (1 - rho) * g * g
        delta = -np.sqrt(s["accumulated_delta_vars"] + eps) * g / np.sqrt(s["accumulated_grads"] + eps)
        s["accumulated_delta_vars"] = rho * s["accumulated_delta_vars"] + (1 - rho) * delta * delta
        return p + lr * delta
    b1, b2 = hp.get("beta_1", 0.9), hp.get("beta_2", 0.999)
    s["momentums"] = s["momentums"] + (g - s["momentums"]) * (1 - b1)
    if name == "adamax":
        s["norms"] = np.maximum(b2 * s["norms"], np.abs(g))
        return p - lr * s["momentums"] / ((1 - b1**step) * (s["norms"] + eps))
    s["velocities"] = s["velocities"] + (g * g - s["velocities"]) * (1 - b2)
    if name == "adam":
        alpha = lr * np.sqrt(1 - b2**step) / (1 - b1**step)
        v = s["velocities"]
        if hp.get("amsgrad"):
            s["velocity_hats"] = np.maximum(s["velocity_hats"], v)
            v = s["velocity_hats"]
        return p - s["momentums"] * alpha / (np.sqrt(v) + eps)
    if name == "nadam":
        mu = [b1 * (1 - 0.5 * 0.96**i) for i in range(1, step + 2)]
        prod_t = np.prod(mu[:step])
        m_hat = mu[step] * s["momentums"] / (1 - prod_t * mu[step]) + (1 - mu[step - 1]) * g / (1 - prod_t)
        v_hat = s["velocities"] / (1 - b2**step)
        return p - m_hat * lr / (np.sqrt(v_hat) + eps)
    raise ValueError(name)


# (optimizer, the state lists it uses, hyperparameters)
CONFIGS = [
    ("sgd", [], dict(learning_rate=0.1, momentum=0.0)),
    ("sgd", ["momentums"], dict(learning_rate=0.05, momentum=0.9)),
    ("sgd", ["momentums"], dict(learning_rate=0.05, momentum=0.9, nesterov=True, weight_decay=0.1)),
    ("rmsprop", ["velocities"], dict(learning_rate=0.01)),
    ("rmsprop", ["velocities", "momentums", "average_gradients"],
     dict(learning_rate=0.01, rho=0.8, momentum=0.5, centered=True, epsilon=1e-6, weight_decay=0.02)),
    ("rmsprop", ["velocities", "momentums"], dict(learning_rate=0.01, momentum=0.3)),
    ("adagrad", ["accumulators"], dict(learning_rate=0.1)),
    ("adadelta", ["accumulated_grads", "accumulated_delta_vars"], dict(learning_rate=1.0, rho=0.9)),
    ("adam", ["momentums", "velocities"], dict(learning_rate=0.01)),
    ("adam", ["momentums", "velocities", "velocity_hats"],
     dict(learning_rate=0.01, beta_1=0.8, beta_2=0.99, amsgrad=True, weight_decay=0.05)),
    ("adamax", ["momentums", "norms"], dict(learning_rate=0.01)),
    ("nadam", ["momentums", "velocities"], dict(learning_rate=0.01, weight_decay=0.01)),
]
STEPPED = {"adam", "adamax", "nadam"}


def config_id(c):
    name, _, hp = c
    extras = "-".join(k for k in ("nesterov", "centered", "amsgrad", "weight_decay") if hp.get(k))
    mom = "-mom" if hp.get("momentum") else ""
    return f"{name}{mom}{'-' + extras if extras else ''}"


def run_kernel(name, slot_names, hp, params, grads, slots, step):
    fn = getattr(O, f"{name}_update")
    slot_lists = [slots[k] for k in slot_names]
    if name == "rmsprop":  # positional: velocities, momentums, average_gradients (None if unused)
        slot_lists = [slots["velocities"], slots.get("momentums"), slots.get("average_gradients")]
    kwargs = dict(hp)
    if name in STEPPED:
        kwargs["step"] = step
    fn(params, grads, *slot_lists, **kwargs)


def make_state(slot_names, name, seed):
    rng = np.random.default_rng(seed)
    params = [rng.standard_normal(s).astype(np.float32) for s in SHAPES]
    init = 0.1 if name == "adagrad" else 0.0  # Keras's initial_accumulator_value
    slots = {k: [np.full(s, init, np.float32) for s in SHAPES] for k in slot_names}
    return params, slots


def grads_for(step, seed):
    rng = np.random.default_rng(1000 * seed + step)
    return [rng.standard_normal(s).astype(np.float32) for s in SHAPES]


@pytest.mark.parametrize("cfg", CONFIGS, ids=config_id)
def test_matches_float64_reference(isa, threads, cfg):
    name, slot_names, hp = cfg
    params, slots = make_state(slot_names, name, 1)
    ref_p = [p.astype(np.float64) for p in params]
    ref_s = [{k: slots[k][i].astype(np.float64) for k in slot_names} for i in range(len(SHAPES))]
    for step in range(1, 6):
        grads = grads_for(step, 2)
        run_kernel(name, slot_names, hp, params, grads, slots, step)
        for i in range(len(SHAPES)):
            ref_p[i] = ref_update(name, hp, ref_p[i], grads[i].astype(np.float64), ref_s[i], step)
    for i in range(len(SHAPES)):
        np.testing.assert_allclose(params[i], ref_p[i], rtol=2e-5, atol=2e-6, err_msg=f"param {i}")
        for k in slot_names:
            np.testing.assert_allclose(slots[k][i], ref_s[i][k], rtol=2e-5, atol=2e-6, err_msg=f"{k} {i}")


@pytest.mark.parametrize("cfg", CONFIGS, ids=config_id)
def test_results_do_not_depend_on_thread_count(isa, cfg):
    name, slot_names, hp = cfg
    finals = []
    for t in (1, 2, 3):
        config.set_num_threads(t)
        params, slots = make_state(slot_names, name, 3)
        for step in range(1, 3):
            run_kernel(name, slot_names, hp, params, grads_for(step, 4), slots, step)
        finals.append(params)
    for other in finals[1:]:
        for a, b in zip(finals[0], other):
            np.testing.assert_array_equal(a, b)


def test_per_parameter_weight_decay(isa):
    params = [np.ones(5, np.float32), np.ones(7, np.float32), np.ones(3, np.float32)]
    grads = [np.zeros_like(p) for p in params]
    O.sgd_update(params, grads, learning_rate=0.5, weight_decay=[np.float32(0.1), None, 0.0])
    np.testing.assert_allclose(params[0], 0.95, rtol=1e-7)
    np.testing.assert_array_equal(params[1], 1.0)
    np.testing.assert_array_equal(params[2], 1.0)
    # numpy scalars are accepted wherever a number is.
    O.sgd_update(params, grads, learning_rate=np.float32(0.5), weight_decay=np.float64(0.1))
    np.testing.assert_allclose(params[1], 0.95, rtol=1e-7)
    O.scale_(params, np.float32(2.0))
    np.testing.assert_allclose(params[1], 1.9, rtol=1e-7)
    with pytest.raises(TypeError, match="weight_decay must be a number"):
        O.sgd_update(params, grads, weight_decay=[object(), None, None])


def test_nadam_long_run_schedule(isa):
    # Past the 2000 explicit schedule factors the product continues with beta_1 powers.
    p, g = np.ones(3, np.float32), np.full(3, 0.5, np.float32)
    m, v = np.full(3, 0.3, np.float32), np.full(3, 0.2, np.float32)
    step = 2500
    s = {"momentums": m.astype(np.float64), "velocities": v.astype(np.float64)}
    expected = ref_update("nadam", dict(learning_rate=0.01), p.astype(np.float64), g.astype(np.float64), s, step)
    O.nadam_update([p], [g], [m], [v], step=step, learning_rate=0.01)
    np.testing.assert_allclose(p, expected, rtol=1e-6)


def test_empty_list_and_in_place_semantics(isa):
    O.adam_update([], [], [], [], step=1)
    p = np.zeros(4, np.float32)
    view = p[:]
    O.sgd_update([p], [np.ones(4, np.float32)], learning_rate=1.0)
    np.testing.assert_array_equal(view, -1.0)


# ----------------------------------------------------------------------------- clipping helpers
def test_global_norm_and_sum_squares(isa, threads):
    arrays = [np.asarray(a * 3) for a in grads_for(1, 5)]
    ref = np.sqrt(sum(float(np.sum(a.astype(np.float64) ** 2)) for a in arrays))
    assert O.global_norm(arrays) == pytest.approx(ref, rel=1e-12)
    sq = O.sum_squares(arrays)
    np.testing.assert_allclose(sq, [np.sum(a.astype(np.float64) ** 2) for a in arrays], rtol=1e-12)
    assert O.global_norm([]) == 0.0


def test_global_norm_is_deterministic_and_accurate(isa):
    # 3M values of 1 + tiny noise: a float running sum would be off by ~1e-3; float64 blocks
    # are exact to ~1e-12 and identical for any thread count.
    big = (1 + 1e-4 * np.random.default_rng(6).standard_normal(3_000_001)).astype(np.float32)
    arrays = [big, np.ones(7, np.float32)]
    norms = []
    for t in (1, 2, 3):
        config.set_num_threads(t)
        norms.append(O.global_norm(arrays))
    assert norms[0] == norms[1] == norms[2]
    ref = np.sqrt(np.sum(big.astype(np.float64) ** 2) + 7)
    assert norms[0] == pytest.approx(ref, rel=1e-12)


def test_scale_and_clip_by_value(isa):
    arrays = [a.copy() for a in grads_for(2, 7)]
    before = [a.copy() for a in arrays]
    O.scale_(arrays, 0.5)
    for a, b in zip(arrays, before):
        np.testing.assert_array_equal(a, b * np.float32(0.5))
    O.scale_(arrays, [2.0] * len(arrays))
    for a, b in zip(arrays, before):
        np.testing.assert_array_equal(a, b)
    arrays[0].reshape(-1)[0] = np.nan
    O.clip_by_value_(arrays, 0.7)
    assert np.isnan(arrays[0].reshape(-1)[0])
    for a, b in zip(arrays[1:], before[1:]):
        np.testing.assert_array_equal(a, np.clip(b, -0.7, 0.7))


def test_clip_by_norm_and_global_norm(isa):
    arrays = [np.asarray(a * 4) for a in grads_for(3, 8)]
    before = [a.astype(np.float64) for a in arrays]
    per = [a.copy() for a in arrays]
    O.clip_by_norm_(per, 1.5)
    for a, b in zip(per, before):
        n = np.sqrt(np.sum(b * b))
        np.testing.assert_allclose(a, b * 1.5 / max(n, 1.5), rtol=1e-6, atol=1e-7)
    total = np.sqrt(sum(np.sum(b * b) for b in before))
    norm = O.clip_by_global_norm_(arrays, 2.0)
    assert norm == pytest.approx(total, rel=1e-12)
    for a, b in zip(arrays, before):
        np.testing.assert_allclose(a, b * 2.0 / total, rtol=1e-6, atol=1e-7)
    # Below the threshold nothing changes; a non-finite norm makes everything NaN (Keras).
    small = [np.full(3, 0.1, np.float32)]
    O.clip_by_global_norm_(small, 2.0)
    np.testing.assert_array_equal(small[0], np.float32(0.1))
    bad = [np.array([np.inf, 1.0], np.float32)]
    O.clip_by_global_norm_(bad, 1.0)
    assert np.all(np.isnan(bad[0]))


# ----------------------------------------------------------------------------- errors
def test_errors():
    p = [np.zeros(3, np.float32)]
    g = [np.zeros(3, np.float32)]
    with pytest.raises(ValueError, match=r"'grads\[0\]' has shape \(4,\), expected \(3,\)"):
        O.sgd_update(p, [np.zeros(4, np.float32)])
    with pytest.raises(ValueError, match="'grads' has 2 arrays, 'params' has 1"):
        O.sgd_update(p, g + g)
    with pytest.raises(TypeError, match=r"'params\[0\]' must be a float32 numpy array, got builtins.list"):
        O.sgd_update([[0.0, 1.0]], g)
    with pytest.raises(TypeError, match=r"'grads\[0\]' must be a float32 array"):
        O.sgd_update(p, [np.zeros(3)])
    with pytest.raises(TypeError, match="must be a list"):
        O.sgd_update(p[0], g[0])
    with pytest.raises(ValueError, match="'momentums' is required when momentum != 0"):
        O.sgd_update(p, g, momentum=0.9)
    with pytest.raises(ValueError, match="'momentums' is given but not used"):
        O.sgd_update(p, g, [np.zeros(3, np.float32)])
    with pytest.raises(ValueError, match="momentum must be a float in"):
        O.sgd_update(p, g, momentum=1.5)
    with pytest.raises(ValueError, match="'velocity_hats' is required when amsgrad=True"):
        O.adam_update(p, g, [np.zeros(3, np.float32)], [np.zeros(3, np.float32)], step=1, amsgrad=True)
    with pytest.raises(ValueError, match="step must be >= 1"):
        O.adam_update(p, g, [np.zeros(3, np.float32)], [np.zeros(3, np.float32)], step=0)
    with pytest.raises(TypeError):
        O.adam_update(p, g, [np.zeros(3, np.float32)], [np.zeros(3, np.float32)])  # step is required
    with pytest.raises(ValueError, match="learning_rate must be finite"):
        O.sgd_update(p, g, learning_rate=float("nan"))
    with pytest.raises(ValueError, match="epsilon must be >= 0"):
        O.adagrad_update(p, g, [np.zeros(3, np.float32)], epsilon=-1.0)
    with pytest.raises(ValueError, match="weight_decay has 2 values for 1 parameters"):
        O.sgd_update(p, g, weight_decay=[0.1, 0.1])
    ro = np.zeros(3, np.float32)
    ro.setflags(write=False)
    with pytest.raises(ValueError, match=r"'params\[0\]' is read-only"):
        O.sgd_update([ro], g)
    shared = np.zeros(3, np.float32)
    with pytest.raises(ValueError, match="share memory"):
        O.adam_update([shared], g, [shared], [np.zeros(3, np.float32)], step=1)
    with pytest.raises(ValueError, match=r"'grads\[0\]' shares memory with 'params\[0\]'"):
        O.sgd_update([shared], [shared])
    buf = np.zeros(6, np.float32)
    with pytest.raises(ValueError, match="share memory"):
        O.sgd_update([buf[:4], buf[2:5]], [np.zeros(4, np.float32), np.zeros(3, np.float32)])
    with pytest.raises(ValueError, match="clip_value must be >= 0"):
        O.clip_by_value_(g, -1.0)
    with pytest.raises(ValueError, match="clip_norm must be > 0"):
        O.clip_by_global_norm_(g, 0.0)
    with pytest.raises(ValueError, match="factor has 2 values for 1 arrays"):
        O.scale_(g, [1.0, 2.0])


# ----------------------------------------------------------------------------- Keras
KERAS_CASES = [
    ("SGD", "sgd", ["momentums"], dict(learning_rate=0.1, momentum=0.9, nesterov=True)),
    ("SGD", "sgd", [], dict(learning_rate=0.1, weight_decay=0.05)),
    ("RMSprop", "rmsprop", ["velocities"], dict(learning_rate=0.01)),
    ("RMSprop", "rmsprop", ["velocities", "momentums", "average_gradients"],
     dict(learning_rate=0.01, momentum=0.5, centered=True)),
    ("Adagrad", "adagrad", ["accumulators"], dict(learning_rate=0.1)),
    ("Adadelta", "adadelta", ["accumulated_grads", "accumulated_delta_vars"], dict(learning_rate=1.0)),
    ("Adam", "adam", ["momentums", "velocities"], dict(learning_rate=0.01)),
    ("Adam", "adam", ["momentums", "velocities", "velocity_hats"], dict(learning_rate=0.01, amsgrad=True,
                                                                         weight_decay=0.1)),
    ("Adamax", "adamax", ["momentums", "norms"], dict(learning_rate=0.01)),
    ("Nadam", "nadam", ["momentums", "velocities"], dict(learning_rate=0.01)),
]


@pytest.mark.keras_reference
@pytest.mark.parametrize("case", KERAS_CASES, ids=lambda c: config_id((c[1], None, c[3])))
def test_matches_keras_optimizers(monkeypatch, case):
    monkeypatch.setenv("KERAS_BACKEND", "jax")
    keras = pytest.importorskip("keras")
    cls, name, slot_names, hp = case
    shapes = [(4, 3), (5,), (2, 2, 2)]
    rng = np.random.default_rng(9)
    init = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    variables = [keras.Variable(v) for v in init]
    opt = getattr(keras.optimizers, cls)(**hp)
    params = [v.copy() for v in init]
    fill = 0.1 if name == "adagrad" else 0.0
    slots = {k: [np.full(s, fill, np.float32) for s in shapes] for k in slot_names}
    for step in range(1, 5):
        grads = [rng.standard_normal(s).astype(np.float32) for s in shapes]
        opt.apply_gradients(zip([keras.ops.convert_to_tensor(g) for g in grads], variables))
        kwargs = dict(hp)
        if name in STEPPED:
            kwargs["step"] = step
        if name == "rmsprop":
            lists = [slots["velocities"], slots.get("momentums"), slots.get("average_gradients")]
        else:
            lists = [slots[k] for k in slot_names]
        getattr(O, f"{name}_update")(params, grads, *lists, **kwargs)
    for p, v in zip(params, variables):
        np.testing.assert_allclose(p, np.asarray(v.value), rtol=1e-5, atol=1e-6)

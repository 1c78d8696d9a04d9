"""run_layer_test: the standard checks every layer must pass (import as `from layer_testing import ...`).

For a layer class and constructor arguments it checks, in order:
  1. config round-trip: `cls.from_config(layer.get_config())` has the same config, and so does
     `layers.deserialize(layers.serialize(layer))`;
  2. symbolic call on `Input(input_shape[1:])`: output shape (batch None) = expected;
  3. real call on data: output shape = expected, `compute_output_shape` agrees, numbers equal
     `expected_output` (when given);
  4. weight counts (trainable / non-trainable), `losses` count after a call;
  5. `supports_masking`, and the output mask shape when the input carries a mask;
  6. training vs inference: the outputs differ exactly when `training_differs`;
  7. a functional model around the layer rebuilt from its config gives the same outputs once
     the weights are copied, and so does the model saved to a .keras file and loaded back;
  8. a few steps of plain GradientTape + SGD on a mean-squared loss lower the loss (layers
     with trainable weights), or the input gradient is finite and has the input's shape.

Multi-input layers (merges) pass a list of arrays as `input_data` (or a list of shapes as
`input_shape`, and a list of masks as `input_mask`); the layer is then called on the list.

It returns the layer used for the real call, for extra checks in the test.
"""
import os
import tempfile

import numpy as np

from pykeras import backend as K
from pykeras import layers, models


def _random_input(shape, dtype, rng):
    dtype = np.dtype(dtype)
    if np.issubdtype(dtype, np.integer):
        return rng.randint(0, 5, size=shape).astype(dtype)
    if dtype == np.bool_:
        return rng.rand(*shape) > 0.5
    return rng.standard_normal(shape).astype(dtype)


def _comparable_config(config):
    config = dict(config)
    return config


def run_layer_test(layer_cls, init_kwargs=None, input_shape=None, input_dtype="float32", input_data=None,
                   expected_output_shape=None, expected_output=None, expected_num_trainable_weights=0,
                   expected_num_non_trainable_weights=0, expected_num_losses=0, supports_masking=None,
                   input_mask=None, expected_mask_shape=None, training_differs=False, run_training_check=True,
                   custom_objects=None, run_saving_check=True, rtol=1e-5, atol=1e-5, seed=0):
    init_kwargs = dict(init_kwargs or {})
    rng = np.random.RandomState(seed)
    multi = isinstance(input_data, (list, tuple)) if input_data is not None else \
        isinstance(input_shape[0], (list, tuple))
    if input_data is None:
        input_data = [_random_input(s, input_dtype, rng) for s in input_shape] if multi else \
            _random_input(input_shape, input_dtype, rng)
    if multi:
        input_data = [np.asarray(a) for a in input_data]
        input_shape = [tuple(a.shape) for a in input_data]
    else:
        input_data = np.asarray(input_data)
        input_shape = tuple(input_data.shape)

    def symbolic_inputs():
        if multi:
            return [layers.Input(shape=s[1:], dtype=input_dtype) for s in input_shape]
        return layers.Input(shape=input_shape[1:], dtype=input_dtype)

    # 1. Config round-trip.
    layer = layer_cls(**init_kwargs)
    config = layer.get_config()
    clone = layer_cls.from_config(config)
    assert clone.get_config() == config, (clone.get_config(), config)
    revived = layers.deserialize(layers.serialize(layer), custom_objects=custom_objects)
    assert type(revived) is layer_cls
    assert revived.get_config() == config

    # 2. Symbolic call.
    symbolic_layer = layer_cls(**init_kwargs)
    x = symbolic_inputs()
    y = symbolic_layer(x)
    if expected_output_shape is not None:
        expected_symbolic = (None,) + tuple(expected_output_shape[1:])
        assert y.shape == expected_symbolic, f"symbolic output shape {y.shape} != {expected_symbolic}"

    # 3. Real call.
    layer = layer_cls(**init_kwargs)
    out = layer(input_data)
    out_np = np.asarray(out)
    if expected_output_shape is not None:
        assert out_np.shape == tuple(expected_output_shape), f"output shape {out_np.shape} != {expected_output_shape}"
    computed = layer.compute_output_shape(input_shape)
    assert tuple(computed) == out_np.shape, f"compute_output_shape {computed} != real {out_np.shape}"
    if expected_output is not None:
        np.testing.assert_allclose(out_np, np.asarray(expected_output), rtol=rtol, atol=atol)
    assert np.all(np.isfinite(out_np.astype(np.float64))) if np.issubdtype(out_np.dtype, np.floating) else True

    # 4. Weights and losses.
    assert layer.built
    assert len(layer.trainable_weights) == expected_num_trainable_weights, \
        f"{len(layer.trainable_weights)} trainable weights, expected {expected_num_trainable_weights}"
    assert len(layer.non_trainable_weights) == expected_num_non_trainable_weights, \
        f"{len(layer.non_trainable_weights)} non-trainable weights, expected {expected_num_non_trainable_weights}"
    assert len(layer.weights) == expected_num_trainable_weights + expected_num_non_trainable_weights
    assert len(layer.losses) == expected_num_losses, f"{len(layer.losses)} losses, expected {expected_num_losses}"
    assert layer.count_params() == sum(int(np.prod(w.shape)) for w in layer.weights)
    weights = layer.get_weights()
    layer.set_weights(weights)
    for a, b in zip(weights, layer.get_weights()):
        np.testing.assert_array_equal(a, b)

    # 5. Masks.
    if supports_masking is not None:
        assert layer.supports_masking == supports_masking
    if input_mask is not None:
        if multi:
            tensor = [K.convert_to_tensor(a) for a in input_data]
            for t, m in zip(tensor, input_mask):
                if m is not None:
                    t._keras_mask = K.convert_to_tensor(np.asarray(m))
        else:
            tensor = K.convert_to_tensor(input_data)
            tensor._keras_mask = K.convert_to_tensor(np.asarray(input_mask))
        masked_out = layer(tensor)
        mask = getattr(masked_out, "_keras_mask", None)
        if expected_mask_shape is None:
            assert mask is None
        else:
            assert mask is not None and tuple(mask.shape) == tuple(expected_mask_shape)

    # 6. Training vs inference.
    out_infer = np.asarray(layer(input_data, training=False))
    out_train = np.asarray(layer(input_data, training=True))
    if training_differs:
        assert not np.allclose(out_infer, out_train), "training=True and training=False gave the same output"
    else:
        np.testing.assert_allclose(out_infer, out_train, rtol=rtol, atol=atol)
        np.testing.assert_allclose(out_infer, out_np, rtol=rtol, atol=atol)

    # 7. Functional model around the layer, rebuilt from its config.
    inp = symbolic_inputs()
    model = models.Model(inp, layer_cls(**{k: v for k, v in init_kwargs.items() if k != "name"})(inp))
    rebuilt = models.Model.from_config(model.get_config(), custom_objects=custom_objects) \
        if custom_objects else models.Model.from_config(model.get_config())
    rebuilt.set_weights(model.get_weights())
    np.testing.assert_allclose(np.asarray(rebuilt(input_data)), np.asarray(model(input_data)), rtol=rtol, atol=atol)
    if run_saving_check:
        check_keras_file_round_trip(model, input_data, custom_objects, rtol, atol)

    # 8. A few SGD steps.
    if run_training_check and np.issubdtype(out_np.dtype, np.floating):
        _check_training(layer, input_data, out_np, rng)
    return layer


def check_keras_file_round_trip(model, input_data, custom_objects=None, rtol=1e-5, atol=1e-5):
    """Saves `model` to a .keras file, loads it back and compares the outputs on `input_data`."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "model.keras")
        model.save(path)
        loaded = models.load_model(path, custom_objects=custom_objects, safe_mode=False)
    np.testing.assert_allclose(np.asarray(loaded(input_data)), np.asarray(model(input_data)), rtol=rtol, atol=atol)


def _check_training(layer, input_data, reference_output, rng, steps=4, learning_rate=0.05):
    target = reference_output + rng.standard_normal(reference_output.shape).astype(reference_output.dtype)
    variables = layer.trainable_weights

    def loss_value(tape=None):
        out = layer(input_data, training=False)
        loss = K.mean(K.square(out - target))
        for extra in layer.losses:
            loss = loss + extra
        return loss

    if not variables:
        arrays = input_data if isinstance(input_data, list) else [input_data]
        if not all(np.issubdtype(np.asarray(a).dtype, np.floating) for a in arrays):
            return
        xs = [K.convert_to_tensor(a) for a in arrays]
        with K.GradientTape() as tape:
            for x in xs:
                tape.watch(x)
            loss = K.mean(K.square(layer(xs if isinstance(input_data, list) else xs[0], training=False) - target))
        grads = tape.gradient(loss, xs)
        for grad, a in zip(grads, arrays):
            assert grad is not None, "no gradient for an input"
            grad = np.asarray(grad)
            assert grad.shape == np.asarray(a).shape
            assert np.all(np.isfinite(grad))
        return

    losses = []
    for _ in range(steps):
        with K.GradientTape() as tape:
            loss = loss_value()
        grads = tape.gradient(loss, variables)
        losses.append(float(np.asarray(loss)))
        for v, g in zip(variables, grads):
            assert g is not None, f"no gradient for {v.name}"
            v.assign(np.asarray(v) - learning_rate * np.asarray(g))
    final = float(np.asarray(loss_value()))
    assert final < losses[0], f"training did not lower the loss: {losses + [final]}"

"""Writes the Keras-made golden files under tests/saving/fixtures/.

Run from the repository root with real Keras 3 on JAX:

    KERAS_BACKEND=jax python tests/saving/make_fixtures.py

For every model NAME below it builds the model with fixed seeds, trains it for a few steps when it
is compiled (so optimizer slots and BatchNormalization statistics are not at their initial
values), and writes:

- NAME.keras          Keras 3 zip (config.json, metadata.json, model.weights.h5), `model.save`
- NAME.h5             legacy HDF5 written by Keras 3's legacy writer, `model.save("NAME.h5")`
- NAME.weights.h5     Keras 3 weights file, `model.save_weights`
- NAME_x.npy          a fixed input (a list of arrays is saved as NAME_x0.npy, NAME_x1.npy, ...)
- NAME_y.npy          `model.predict(x)` on that input (NAME_y0.npy, ... for several outputs)

Compiled models also get NAME_train_x*.npy / NAME_train_y*.npy (one batch) and NAME_step_y*.npy:
the predictions on NAME_x after one more `train_on_batch` on that batch, so a loader can check
that training continues exactly where the saved optimizer state left it.

Keras 2 (tf.keras) cannot run here (no TensorFlow), so the Keras 2 files `keras2_mlp.h5` and
`keras2_functional.json` are written in the Keras 2 layout with h5py/json from a Keras 3 model's
weights: Keras 2 style configs (`batch_input_shape`, plain "float32" dtypes, initializers without
`module`, list-style `inbound_nodes`), weight names such as "dense/kernel:0" and
keras_version 2.13.1. Their expected outputs come from the Keras 3 model holding the same weights.

The files are small (a few KB each) and committed; rerun this script only to refresh them.
"""
import json
import os
import sys

os.environ.setdefault("KERAS_BACKEND", "jax")

import h5py  # noqa: E402
import numpy as np  # noqa: E402

import keras  # noqa: E402
from keras import layers  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "fixtures")


def _as_list(x):
    return list(x) if isinstance(x, (list, tuple)) else [x]


def _save_arrays(prefix, arrays):
    arrays = arrays if isinstance(arrays, (list, tuple)) else [arrays]
    if len(arrays) == 1:
        np.save(os.path.join(OUT, f"{prefix}.npy"), np.asarray(arrays[0]))
    else:
        for i, a in enumerate(arrays):
            np.save(os.path.join(OUT, f"{prefix}{i}.npy"), np.asarray(a))


def _write_all(name, model, x, train=None):
    """Saves `model` in every format plus the input and expected outputs."""
    model.save(os.path.join(OUT, f"{name}.keras"))
    model.save(os.path.join(OUT, f"{name}.h5"))
    model.save_weights(os.path.join(OUT, f"{name}.weights.h5"))
    _save_arrays(f"{name}_x", x)
    _save_arrays(f"{name}_y", model.predict(x, verbose=0))
    if train is not None:
        tx, ty = train
        _save_arrays(f"{name}_train_x", tx)
        _save_arrays(f"{name}_train_y", ty)
        model.train_on_batch(tx, ty)
        _save_arrays(f"{name}_step_y", model.predict(x, verbose=0))


def make_mlp():
    """Sequential MLP with a regularizer, trained with Adam."""
    model = keras.Sequential(
        [
            keras.Input((8,)),
            layers.Dense(16, activation="relu", kernel_regularizer=keras.regularizers.L2(1e-3)),
            layers.Dense(16, activation="tanh", bias_initializer="ones"),
            layers.Dense(4, activation="softmax"),
        ],
        name="mlp",
    )
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.01), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    rng = np.random.default_rng(1)
    xs = rng.normal(size=(64, 8)).astype("float32")
    ys = rng.integers(0, 4, size=(64,)).astype("int32")
    model.fit(xs, ys, batch_size=16, epochs=2, shuffle=False, verbose=0)
    x = rng.normal(size=(5, 8)).astype("float32")
    train = (rng.normal(size=(16, 8)).astype("float32"), rng.integers(0, 4, size=(16,)).astype("int32"))
    return model, x, train


def make_bn_dropout():
    """Sequential with BatchNormalization and Dropout, trained with SGD + momentum on MSE."""
    model = keras.Sequential(
        [
            keras.Input((6,)),
            layers.Dense(12, activation="relu"),
            layers.BatchNormalization(momentum=0.9),
            layers.Dropout(0.3),
            layers.Dense(3),
        ],
        name="bn_dropout",
    )
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.05, momentum=0.9), loss="mse")
    rng = np.random.default_rng(2)
    xs = rng.normal(size=(64, 6)).astype("float32")
    ys = rng.normal(size=(64, 3)).astype("float32")
    model.fit(xs, ys, batch_size=16, epochs=2, shuffle=False, verbose=0)
    x = rng.normal(size=(5, 6)).astype("float32")
    return model, x, None


def make_regression():
    """Dense-only regression with SGD + Nesterov momentum on loss "mse" (an alias Keras 3's own
    legacy .h5 reader cannot recompile) and a metric."""
    model = keras.Sequential([keras.Input((5,)), layers.Dense(8, activation="relu"), layers.Dense(2)],
                             name="regression")
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.05, momentum=0.9, nesterov=True), loss="mse",
                  metrics=["mae"])
    rng = np.random.default_rng(8)
    xs = rng.normal(size=(32, 5)).astype("float32")
    ys = rng.normal(size=(32, 2)).astype("float32")
    model.fit(xs, ys, batch_size=8, epochs=2, shuffle=False, verbose=0)
    x = rng.normal(size=(4, 5)).astype("float32")
    train = (rng.normal(size=(8, 5)).astype("float32"), rng.normal(size=(8, 2)).astype("float32"))
    return model, x, train


def make_multi_io():
    """Functional model: two inputs, a layer shared by both, a nested Sequential, two outputs."""
    a = keras.Input((5,), name="in_a")
    b = keras.Input((5,), name="in_b")
    shared = layers.Dense(8, activation="relu", name="shared")
    inner = keras.Sequential([layers.Dense(6, activation="relu"), layers.Dense(4)], name="inner")
    out_a = layers.Dense(2, name="out_a")(inner(shared(a)))
    out_b = layers.Dense(1, activation="sigmoid", name="out_b")(shared(b))
    model = keras.Model([a, b], [out_a, out_b], name="multi_io")
    rng = np.random.default_rng(3)
    for w in model.weights:  # non-trivial biases so that a wrong assignment shows
        w.assign(rng.normal(size=w.shape).astype("float32") * 0.5)
    x = [rng.normal(size=(4, 5)).astype("float32"), rng.normal(size=(4, 5)).astype("float32")]
    return model, x, None


def make_cnn():
    """Small CNN: Conv2D, BatchNormalization, MaxPooling2D, Flatten, Dropout, Dense; Adam."""
    model = keras.Sequential(
        [
            keras.Input((8, 8, 3)),
            layers.Conv2D(4, 3, padding="same", activation="relu"),
            layers.BatchNormalization(),
            layers.MaxPooling2D(2),
            layers.Conv2D(6, 3, activation="relu"),
            layers.Flatten(),
            layers.Dropout(0.25),
            layers.Dense(5, activation="softmax"),
        ],
        name="cnn",
    )
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.005), loss="categorical_crossentropy")
    rng = np.random.default_rng(4)
    xs = rng.normal(size=(32, 8, 8, 3)).astype("float32")
    ys = keras.utils.to_categorical(rng.integers(0, 5, size=(32,)), 5)
    model.fit(xs, ys, batch_size=8, epochs=1, shuffle=False, verbose=0)
    x = rng.normal(size=(3, 8, 8, 3)).astype("float32")
    train = (rng.normal(size=(8, 8, 8, 3)).astype("float32"),
             keras.utils.to_categorical(rng.integers(0, 5, size=(8,)), 5).astype("float32"))
    return model, x, train


def make_merge():
    """Functional model with merging layers (Concatenate, Add)."""
    a = keras.Input((4,), name="left")
    b = keras.Input((4,), name="right")
    ha = layers.Dense(6, activation="relu")(a)
    hb = layers.Dense(6, activation="relu")(b)
    summed = layers.Add()([ha, hb])
    cat = layers.Concatenate()([summed, a])
    out = layers.Dense(3)(cat)
    model = keras.Model([a, b], out, name="merge")
    rng = np.random.default_rng(5)
    for w in model.weights:
        w.assign(rng.normal(size=w.shape).astype("float32") * 0.5)
    x = [rng.normal(size=(4, 4)).astype("float32"), rng.normal(size=(4, 4)).astype("float32")]
    return model, x, None


# ---- Keras 2 layout -------------------------------------------------------------------------


def _k2_initializer(init):
    cfg = init.get_config()
    cfg = {k: v for k, v in cfg.items() if k in ("seed", "mean", "stddev", "minval", "maxval", "value", "gain",
                                                   "scale", "mode", "distribution")}
    return {"class_name": init.__class__.__name__, "config": cfg}


def _k2_dense(layer, batch_input_shape=None):
    config = {
        "name": layer.name,
        "trainable": True,
        "dtype": "float32",
        "units": layer.units,
        "activation": keras.activations.serialize(layer.activation),
        "use_bias": layer.use_bias,
        "kernel_initializer": _k2_initializer(layer.kernel_initializer),
        "bias_initializer": _k2_initializer(layer.bias_initializer),
        "kernel_regularizer": None,
        "bias_regularizer": None,
        "activity_regularizer": None,
        "kernel_constraint": None,
        "bias_constraint": None,
    }
    if batch_input_shape is not None:
        config["batch_input_shape"] = batch_input_shape
    return {"class_name": "Dense", "config": config}


def _k2_input(name, batch_input_shape):
    return {"class_name": "InputLayer",
            "config": {"batch_input_shape": batch_input_shape, "dtype": "float32", "sparse": False,
                       "ragged": False, "name": name}}


def make_keras2_mlp():
    """A Keras 2 (tf.keras 2.13) style legacy .h5 of a Sequential MLP, without optimizer."""
    model = keras.Sequential([keras.Input((7,)), layers.Dense(9, activation="relu", name="dense"),
                              layers.Dense(3, activation="softmax", name="dense_1")], name="sequential")
    rng = np.random.default_rng(6)
    for w in model.weights:
        w.assign(rng.normal(size=w.shape).astype("float32") * 0.5)
    # tf.keras 2.x put the input shape on the first layer (`batch_input_shape`) when the model was
    # built from `input_shape=`, with no separate InputLayer entry: exercise that form.
    config = {"class_name": "Sequential",
              "config": {"name": "sequential",
                         "layers": [_k2_dense(model.layers[0], [None, 7]), _k2_dense(model.layers[1])]}}
    training_config = {"loss": "categorical_crossentropy", "metrics": [[{"class_name": "MeanMetricWrapper",
                                                                            "config": {"name": "accuracy",
                                                                                       "dtype": "float32",
                                                                                       "fn": "categorical_accuracy"}}]],
                       "weighted_metrics": None, "loss_weights": None,
                       "optimizer_config": {"class_name": "Adam", "config": {
                           "name": "Adam", "weight_decay": None, "clipnorm": None, "global_clipnorm": None,
                           "clipvalue": None, "use_ema": False, "ema_momentum": 0.99,
                           "ema_overwrite_frequency": None, "jit_compile": True, "is_legacy_optimizer": False,
                           "learning_rate": 0.0020000000949949026, "beta_1": 0.9, "beta_2": 0.999,
                           "epsilon": 1e-07, "amsgrad": False}}}
    path = os.path.join(OUT, "keras2_mlp.h5")
    with h5py.File(path, "w") as f:
        f.attrs["keras_version"] = "2.13.1"
        f.attrs["backend"] = "tensorflow"
        f.attrs["model_config"] = json.dumps(config).encode("utf8")
        f.attrs["training_config"] = json.dumps(training_config).encode("utf8")
        g = f.create_group("model_weights")
        g.attrs["layer_names"] = np.array([b"dense", b"dense_1"])
        g.attrs["backend"] = b"tensorflow"
        g.attrs["keras_version"] = b"2.13.1"
        for layer in model.layers:
            lg = g.create_group(layer.name)
            names = [f"{layer.name}/kernel:0".encode(), f"{layer.name}/bias:0".encode()]
            lg.attrs["weight_names"] = np.array(names)
            for n, w in zip(names, (layer.kernel, layer.bias)):
                lg.create_dataset(n.decode(), data=np.asarray(w))
    x = rng.normal(size=(4, 7)).astype("float32")
    _save_arrays("keras2_mlp_x", x)
    _save_arrays("keras2_mlp_y", model.predict(x, verbose=0))


def make_keras2_functional_json():
    """A Keras 2 style `model.to_json()` of a small functional model, plus weights as .npy."""
    a = keras.Input((5,), name="input_1")
    d1 = layers.Dense(4, activation="tanh", name="dense")
    d2 = layers.Dense(2, name="dense_1")
    out = d2(d1(a))
    model = keras.Model(a, out, name="model")
    rng = np.random.default_rng(7)
    for w in model.weights:
        w.assign(rng.normal(size=w.shape).astype("float32") * 0.5)
    config = {"class_name": "Functional", "config": {
        "name": "model", "trainable": True,
        "layers": [
            {**_k2_input("input_1", [None, 5]), "name": "input_1", "inbound_nodes": []},
            {**_k2_dense(d1), "name": "dense", "inbound_nodes": [[["input_1", 0, 0, {}]]]},
            {**_k2_dense(d2), "name": "dense_1", "inbound_nodes": [[["dense", 0, 0, {}]]]},
        ],
        "input_layers": [["input_1", 0, 0]],
        "output_layers": [["dense_1", 0, 0]]},
        "keras_version": "2.13.1", "backend": "tensorflow"}
    with open(os.path.join(OUT, "keras2_functional.json"), "w") as f:
        json.dump(config, f)
    _save_arrays("keras2_functional_weights", [np.asarray(w) for w in model.get_weights()])
    x = rng.normal(size=(3, 5)).astype("float32")
    _save_arrays("keras2_functional_x", x)
    _save_arrays("keras2_functional_y", model.predict(x, verbose=0))


MODELS = {"mlp": make_mlp, "regression": make_regression, "bn_dropout": make_bn_dropout, "multi_io": make_multi_io,
          "cnn": make_cnn, "merge": make_merge}


def main():
    if keras.backend.backend() != "jax":
        sys.exit("run with KERAS_BACKEND=jax")
    os.makedirs(OUT, exist_ok=True)
    keras.utils.set_random_seed(1234)
    for name, make in MODELS.items():
        model, x, train = make()
        _write_all(name, model, x, train)
    make_keras2_mlp()
    make_keras2_functional_json()
    with open(os.path.join(OUT, "VERSIONS.txt"), "w") as f:
        f.write(f"keras {keras.__version__}, backend {keras.backend.backend()}, h5py {h5py.__version__}, "
                f"numpy {np.__version__}\n")
    print(f"wrote fixtures to {OUT}")


if __name__ == "__main__":
    main()

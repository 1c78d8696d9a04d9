"""model.summary() and count_params(): Keras 3's exact text (fixed expectations here, and a
side-by-side comparison with real Keras when it is installed)."""
import os

import pytest

import pykeras
from pykeras import backend as K
from pykeras import layers


class Concatenate(layers.Layer):
    """Stand-in with Keras's class name, so the expected text below is Keras's own output."""

    def call(self, inputs):
        return K.concatenate(inputs, axis=-1)

    def compute_output_shape(self, input_shape):
        return input_shape[0][:-1] + (sum(s[-1] for s in input_shape),)


SEQUENTIAL_TEXT = '''Model: "sequential"
┏━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━┓
┃ Layer (type)                    ┃ Output Shape           ┃       Param # ┃
┡━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━┩
│ dense (Dense)                   │ (None, 512)            │       401,920 │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ dropout (Dropout)               │ (None, 512)            │             0 │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ dense_1 (Dense)                 │ (None, 10)             │         5,130 │
└─────────────────────────────────┴────────────────────────┴───────────────┘
 Total params: 407,050 (1.55 MB)
 Trainable params: 407,050 (1.55 MB)
 Non-trainable params: 0 (0.00 B)
'''

FUNCTIONAL_TEXT = '''Model: "functional"
┏━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━┓
┃ Layer (type)        ┃ Output Shape      ┃    Param # ┃ Connected to      ┃
┡━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━┩
│ a (InputLayer)      │ (None, 8)         │          0 │ -                 │
├─────────────────────┼───────────────────┼────────────┼───────────────────┤
│ b (InputLayer)      │ (None, 4)         │          0 │ -                 │
├─────────────────────┼───────────────────┼────────────┼───────────────────┤
│ dense_a (Dense)     │ (None, 5)         │         45 │ a[0][0]           │
├─────────────────────┼───────────────────┼────────────┼───────────────────┤
│ dense_b (Dense)     │ (None, 5)         │         25 │ b[0][0]           │
├─────────────────────┼───────────────────┼────────────┼───────────────────┤
│ concatenate         │ (None, 10)        │          0 │ dense_a[0][0],    │
│ (Concatenate)       │                   │            │ dense_b[0][0]     │
├─────────────────────┼───────────────────┼────────────┼───────────────────┤
│ o1 (Dense)          │ (None, 1)         │         11 │ concatenate[0][0] │
├─────────────────────┼───────────────────┼────────────┼───────────────────┤
│ o2 (Dense)          │ (None, 2)         │         22 │ concatenate[0][0] │
└─────────────────────┴───────────────────┴────────────┴───────────────────┘
 Total params: 103 (412.00 B)
 Trainable params: 103 (412.00 B)
 Non-trainable params: 0 (0.00 B)
'''

UNBUILT_TEXT = '''Model: "lazy"
┏━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━┓
┃ Layer (type)                    ┃ Output Shape           ┃       Param # ┃
┡━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━┩
│ later (Dense)                   │ ?                      │   0 (unbuilt) │
└─────────────────────────────────┴────────────────────────┴───────────────┘
 Total params: 0 (0.00 B)
 Trainable params: 0 (0.00 B)
 Non-trainable params: 0 (0.00 B)
'''


@pytest.fixture
def columns_80(monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")


def _mlp(lib):
    return lib.Sequential([lib.Input((784,)), lib.layers.Dense(512, activation="relu", name="dense"),
                           lib.layers.Dropout(0.2, name="dropout"),
                           lib.layers.Dense(10, activation="softmax", name="dense_1")], name="sequential")


def _two_inputs(lib, concatenate):
    a = lib.Input((8,), name="a")
    b = lib.Input((4,), name="b")
    x = concatenate(name="concatenate")([lib.layers.Dense(5, name="dense_a")(a), lib.layers.Dense(5, name="dense_b")(b)])
    return lib.Model([a, b], [lib.layers.Dense(1, name="o1")(x), lib.layers.Dense(2, name="o2")(x)], name="functional")


def test_sequential_summary_text(columns_80):
    out = []
    model = _mlp(pykeras)
    model.summary(print_fn=out.append)
    assert out == [SEQUENTIAL_TEXT]
    assert model.count_params() == 407050


def test_functional_summary_text(columns_80):
    out = []
    _two_inputs(pykeras, Concatenate).summary(print_fn=out.append)
    assert out == [FUNCTIONAL_TEXT]


def test_unbuilt_summary_and_stdout(columns_80, capsys):
    model = pykeras.Sequential([layers.Dense(4, name="later")], name="lazy")
    model.summary()
    assert capsys.readouterr().out == UNBUILT_TEXT


def test_summary_non_trainable_counts(columns_80):
    model = _mlp(pykeras)
    model.layers[0].trainable = False
    out = []
    model.summary(print_fn=out.append)
    text = out[0]
    assert " Trainable params: 5,130 (20.04 KB)\n" in text
    assert " Non-trainable params: 401,920 (1.53 MB)\n" in text


def _models_for_reference(lib, concatenate):
    """A set of models built identically with pykeras and Keras (explicit names everywhere)."""
    L = lib.layers
    out = [_mlp(lib), _two_inputs(lib, concatenate)]
    out.append(lib.Sequential([L.Dense(4, name="u1")], name="unbuilt"))
    emb = lib.Sequential([L.Embedding(100, 8, mask_zero=True, name="emb"),
                          L.LayerNormalization(name="layer_normalization_with_a_very_long_name"),
                          L.Flatten(name="flat"), L.Dense(3, name="head")], name="emb_model")
    emb.build((None, 5))
    out.append(emb)
    inp = lib.Input((6,), name="inp")
    shared = L.Dense(6, name="shared")
    inner = lib.Sequential([lib.Input((6,)), L.Dense(3, name="i1"), L.Dense(2, name="i2")], name="inner")
    nested = lib.Model(inp, inner(shared(shared(inp))), name="nested")
    out.append(nested)
    frozen = lib.Model(inp, inner(shared(shared(inp))), name="nested_frozen")
    out.append(frozen)
    seq = lib.Sequential(name="reshapes")
    seq.add(L.Reshape((3, 4), input_shape=(12,), name="reshape"))
    seq.add(L.Permute((2, 1), name="permute"))
    seq.add(L.Flatten(name="flatten"))
    seq.add(L.RepeatVector(3, name="repeat"))
    seq.add(L.Dense(7, kernel_regularizer="l2", name="dense_reg"))
    out.append(seq)
    return out, inner


@pytest.mark.keras_reference
def test_summary_and_count_params_match_keras(monkeypatch):
    os.environ.setdefault("KERAS_BACKEND", "jax")
    keras = pytest.importorskip("keras")
    monkeypatch.setenv("COLUMNS", "100")
    ours, our_inner = _models_for_reference(pykeras, Concatenate)
    theirs, their_inner = _models_for_reference(keras, keras.layers.Concatenate)
    for frozen_step in (False, True):
        if frozen_step:
            our_inner.trainable = False
            their_inner.trainable = False
        for ours_m, theirs_m in zip(ours, theirs):
            for kwargs in ({}, {"show_trainable": True}, {"line_length": 70}, {"expand_nested": True}):
                a, b = [], []
                ours_m.summary(print_fn=a.append, **kwargs)
                theirs_m.summary(print_fn=b.append, **kwargs)
                assert a == b, f"{ours_m.name} {kwargs}:\n{a[0]}\n{b[0]}"
            if theirs_m.built:
                assert ours_m.count_params() == theirs_m.count_params()
                assert [tuple(w.shape) for w in ours_m.weights] == [tuple(w.shape) for w in theirs_m.weights]
                assert [tuple(w.shape) for w in ours_m.trainable_weights] == \
                    [tuple(w.shape) for w in theirs_m.trainable_weights]

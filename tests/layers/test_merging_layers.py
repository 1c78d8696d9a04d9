"""Merging layers and their functional forms: run_layer_test on lists of inputs, numpy results,
broadcasting and rank alignment, masks as Keras 3 combines them, Dot's batch_dot geometry,
and the errors for incompatible inputs (naming the layer and the shapes)."""
import numpy as np
import pytest

from layer_testing import run_layer_test
from pykeras import backend as K
from pykeras import layers, models


def _x(shape, seed):
    return np.random.RandomState(seed).standard_normal(shape).astype(np.float32)


ELEMENTWISE = [
    (layers.Add, lambda xs: sum(x.astype(np.float64) for x in xs)),
    (layers.Average, lambda xs: sum(x.astype(np.float64) for x in xs) / len(xs)),
    (layers.Multiply, lambda xs: np.prod(np.broadcast_arrays(*[x.astype(np.float64) for x in xs]), axis=0)),
    (layers.Maximum, lambda xs: np.max(np.broadcast_arrays(*xs), axis=0)),
    (layers.Minimum, lambda xs: np.min(np.broadcast_arrays(*xs), axis=0)),
]


@pytest.mark.parametrize("cls,reference", ELEMENTWISE)
@pytest.mark.parametrize("shapes", [[(2, 3, 4), (2, 3, 4)], [(2, 3, 4), (2, 3, 4), (2, 3, 4)],
                                    [(2, 3, 4), (2, 1, 4)], [(2, 5), (2, 1)]])
def test_elementwise_merges(cls, reference, shapes):
    xs = [_x(s, i) for i, s in enumerate(shapes)]
    expected = reference(xs)
    run_layer_test(cls, {}, input_data=xs, expected_output_shape=expected.shape, expected_output=expected,
                   supports_masking=True)


def test_subtract():
    xs = [_x((3, 4), 0), _x((3, 4), 1)]
    run_layer_test(layers.Subtract, {}, input_data=xs, expected_output_shape=(3, 4), expected_output=xs[0] - xs[1])
    with pytest.raises(ValueError, match=r"'sub'.*exactly 2 inputs"):
        layers.Subtract(name="sub")([layers.Input((3,))] * 3)
    with pytest.raises(ValueError, match="exactly 2 inputs"):
        layers.Subtract()([layers.Input((3,))])


def test_lower_rank_inputs_get_axes_after_the_batch_axis():
    a, b = _x((2, 3, 4), 0), _x((2, 4), 1)
    out = layers.Add()([a, b])
    np.testing.assert_allclose(np.asarray(out), a + b[:, None, :], rtol=1e-6)
    assert layers.Add()([layers.Input((3, 4)), layers.Input((4,))]).shape == (None, 3, 4)
    assert layers.Multiply()([layers.Input((3, 1)), layers.Input((3, 5))]).shape == (None, 3, 5)


@pytest.mark.parametrize("axis,shapes", [(-1, [(2, 3, 4), (2, 3, 2)]), (1, [(2, 3, 4), (2, 1, 4), (2, 2, 4)]),
                                         (0, [(2, 3), (1, 3)])])
def test_concatenate(axis, shapes):
    xs = [_x(s, i) for i, s in enumerate(shapes)]
    expected = np.concatenate(xs, axis=axis)
    if axis == 0:  # joining along the batch axis works eagerly (symbolic batches are unknown)
        np.testing.assert_array_equal(np.asarray(layers.Concatenate(axis=0)(xs)), expected)
        return
    run_layer_test(layers.Concatenate, {"axis": axis}, input_data=xs, expected_output_shape=expected.shape,
                   expected_output=expected, supports_masking=True)
    assert layers.concatenate([layers.Input(s[1:]) for s in shapes], axis=axis).shape == (None,) + expected.shape[1:]


def _dot_ref(x, y, axes):
    """Per-sample tensordot over one axis of each input (Keras batch_dot), float64."""
    x, y = x.astype(np.float64), y.astype(np.float64)
    out = np.stack([np.tensordot(x[i], y[i], axes=(axes[0] - 1, axes[1] - 1)) for i in range(x.shape[0])])
    return out.reshape(x.shape[0], 1) if out.ndim == 1 else out


@pytest.mark.parametrize("axes,shapes,resolved", [
    (1, [(3, 4), (3, 4)], (1, 1)),
    (-1, [(3, 4), (3, 4)], (1, 1)),
    ((2, 1), [(2, 3, 4), (2, 4, 5)], (2, 1)),
    (2, [(2, 3, 4), (2, 5, 4)], (2, 2)),
    ([1, 2], [(2, 3, 4), (2, 5, 3)], (1, 2)),
    ((1, 1), [(2, 4), (2, 4, 3)], (1, 1)),
    (-1, [(2, 2, 3, 4), (2, 5, 4)], (3, 2)),
])
def test_dot(axes, shapes, resolved):
    xs = [_x(s, i + 3) for i, s in enumerate(shapes)]
    expected = _dot_ref(xs[0], xs[1], resolved)
    run_layer_test(layers.Dot, {"axes": axes}, input_data=xs, expected_output_shape=expected.shape,
                   expected_output=expected, rtol=1e-5, atol=1e-5)


def test_dot_normalize_is_cosine_similarity():
    a, b = _x((4, 6), 0), _x((4, 6), 1)
    cos = np.sum(a * b, axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    run_layer_test(layers.Dot, {"axes": 1, "normalize": True}, input_data=[a, b], expected_output_shape=(4, 1),
                   expected_output=cos[:, None], rtol=1e-5, atol=1e-6)
    assert np.asarray(layers.dot([a, b], axes=-1, normalize=True)).shape == (4, 1)


def test_functional_forms_build_graphs():
    a, b = layers.Input((3,), name="a"), layers.Input((3,), name="b")
    outs = [layers.add([a, b]), layers.subtract([a, b]), layers.multiply([a, b]), layers.average([a, b]),
            layers.maximum([a, b]), layers.minimum([a, b]), layers.concatenate([a, b]), layers.dot([a, b], axes=1)]
    model = models.Model([a, b], outs)
    x, y = _x((2, 3), 0), _x((2, 3), 1)
    got = [np.asarray(o) for o in model([x, y])]
    want = [x + y, x - y, x * y, (x + y) / 2, np.maximum(x, y), np.minimum(x, y), np.concatenate([x, y], -1),
            np.sum(x * y, axis=1, keepdims=True)]
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6)
    assert [type(layer).__name__ for layer in model.layers[2:]] == ["Add", "Subtract", "Multiply", "Average",
                                                                    "Maximum", "Minimum", "Concatenate", "Dot"]


def _masked(x, mask):
    t = K.convert_to_tensor(x)
    t._keras_mask = K.convert_to_tensor(np.asarray(mask, bool))
    return t


def test_merge_masks_follow_keras():
    a, b = _x((2, 3, 2), 0), _x((2, 3, 2), 1)
    ma = np.array([[1, 1, 0], [1, 0, 0]], bool)
    mb = np.array([[1, 0, 0], [0, 1, 0]], bool)
    union = ma | mb
    run_layer_test(layers.Add, {}, input_data=[a, b], input_mask=[ma, mb], expected_mask_shape=(2, 3))
    out = layers.Add()([_masked(a, ma), _masked(b, mb)])
    np.testing.assert_array_equal(np.asarray(out._keras_mask), union)
    np.testing.assert_allclose(np.asarray(out), a + b, rtol=1e-6)
    # An input without a mask: no output mask.
    assert getattr(layers.Add()([_masked(a, ma), K.convert_to_tensor(b)]), "_keras_mask", None) is None
    # Maximum: a masked value is replaced by the other input's where only one side is masked.
    out = np.asarray(layers.Maximum()([_masked(a, ma), _masked(b, mb)]))
    ea, eb = ma[..., None], mb[..., None]
    other = np.where(eb, b, a)        # b where unmasked, else a
    first = np.where(ea, a, other)    # a where unmasked, else the other input
    np.testing.assert_allclose(out, np.maximum(first, other), rtol=1e-6)
    # Multiply: masked values count as 1, positions masked in every input are 0.
    out = np.asarray(layers.Multiply()([_masked(a, ma), _masked(b, mb)]))
    want = np.where(ea, a, 1.0) * np.where(eb, b, 1.0)
    want = np.where(ea | eb, want, 0.0)
    np.testing.assert_allclose(out, want, rtol=1e-6)
    # Concatenate: missing masks count as all-true; the mask reduces over the last axis.
    out = layers.Concatenate(axis=1)([_masked(a, ma), K.convert_to_tensor(b)])
    np.testing.assert_array_equal(np.asarray(out._keras_mask), np.concatenate([ma, np.ones_like(mb)], axis=1))
    out = layers.Concatenate()([_masked(a, ma), _masked(b, mb)])
    np.testing.assert_array_equal(np.asarray(out._keras_mask), union)
    # Dot drops masks.
    assert getattr(layers.Dot(axes=2)([_masked(a, ma), _masked(b, mb)]), "_keras_mask", None) is None


def test_merge_masks_through_embeddings():
    tokens = layers.Input((4,), dtype="int32")
    emb = layers.Embedding(10, 3, mask_zero=True)
    merged = layers.Add()([emb(tokens), emb(tokens)])
    pooled = layers.GlobalAveragePooling1D()(merged)
    model = models.Model(tokens, pooled)
    ids = np.array([[1, 2, 0, 0], [3, 0, 0, 0]], np.int32)
    vectors = np.asarray(emb(ids)).astype(np.float64) * 2
    want = np.stack([vectors[0, :2].mean(axis=0), vectors[1, :1].mean(axis=0)])
    np.testing.assert_allclose(np.asarray(model(ids)), want, rtol=1e-5, atol=1e-6)


def test_incompatible_inputs_raise_naming_the_layer_and_shapes():
    with pytest.raises(ValueError, match=r"'add_bad'.*incompatible shapes.*\(None, 3\), \(None, 4\)"):
        layers.Add(name="add_bad")([layers.Input((3,)), layers.Input((4,))])
    layer = layers.Maximum(name="max_later")
    layer([_x((2, 3), 0), _x((2, 3), 1)])
    with pytest.raises(ValueError, match=r"'max_later'.*incompatible shapes.*\(2, 3\), \(2, 5\)"):
        layer([_x((2, 3), 0), _x((2, 5), 1)])
    with pytest.raises(ValueError, match=r"'batches'.*different batch sizes"):
        layers.Add(name="batches")([_x((2, 3), 0), _x((3, 3), 1)])
    with pytest.raises(ValueError, match=r"'cat'.*matching shapes except for the concatenation axis.*\(2, 3, 4\)"):
        layers.Concatenate(name="cat")([_x((2, 3, 4), 0), _x((2, 2, 5), 1)])
    with pytest.raises(ValueError, match=r"'cat_rank'.*matching shapes"):
        layers.Concatenate(name="cat_rank")([layers.Input((3, 4)), layers.Input((4,))])
    with pytest.raises(ValueError, match=r"'dot_bad'.*axis values 4 \(at axis 1\) != 5 \(at axis 1\)"):
        layers.Dot(axes=1, name="dot_bad")([layers.Input((4,)), layers.Input((5,))])
    with pytest.raises(ValueError, match="batch axis"):
        layers.Dot(axes=0)([layers.Input((4,)), layers.Input((4,))])
    with pytest.raises(ValueError, match="list of inputs"):
        layers.Add()(layers.Input((3,)))
    with pytest.raises(TypeError):
        layers.Dot(axes="x")
    with pytest.raises(ValueError):
        layers.Dot(axes=(1, 2, 3))

"""ImageDataGenerator's iterators: `flow` over arrays (batching, order, seeded shuffling,
subsets, sample weights, extra inputs, saving) and `flow_from_directory` over PNG files written
in tmp_path (classes, labels per class_mode, color modes, resizing, subsets, nested folders),
both driving `model.fit`."""
import os

import numpy as np
import pytest

import pykeras
from pykeras import layers
from pykeras.preprocessing.image import DirectoryIterator, ImageDataGenerator, NumpyArrayIterator

PIL = pytest.importorskip("PIL.Image")


def _data(n=10, h=6, w=5, seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform(0, 255, (n, h, w, 3)).astype(np.float32), np.arange(n) % 2


def test_flow_batches_in_order_without_shuffle():
    x, y = _data()
    flow = ImageDataGenerator(rescale=0.5).flow(x, y, batch_size=4, shuffle=False)
    assert isinstance(flow, NumpyArrayIterator) and isinstance(flow, pykeras.utils.PyDataset)
    assert len(flow) == 3
    batches = [flow[i] for i in range(len(flow))]
    assert [len(b[0]) for b in batches] == [4, 4, 2]
    np.testing.assert_allclose(np.concatenate([b[0] for b in batches]), x * 0.5)
    np.testing.assert_array_equal(np.concatenate([b[1] for b in batches]), y)
    with pytest.raises(ValueError, match="Asked to retrieve element 3, but the Sequence has length 3"):
        flow[3]


def test_seeded_shuffle_is_reproducible_and_reshuffles_each_epoch():
    x, y = _data(n=12)
    generator = ImageDataGenerator(rotation_range=20, horizontal_flip=True)

    def epochs(flow, count=2):
        out = []
        for _ in range(count):
            out.append([flow[i] for i in range(len(flow))])
            flow.on_epoch_end()
        return out

    a = epochs(generator.flow(x, y, batch_size=5, seed=3))
    b = epochs(generator.flow(x, y, batch_size=5, seed=3))
    for epoch_a, epoch_b in zip(a, b):
        for (xa, ya), (xb, yb) in zip(epoch_a, epoch_b):
            np.testing.assert_array_equal(xa, xb)
            np.testing.assert_array_equal(ya, yb)
    labels = [np.concatenate([batch[1] for batch in epoch]) for epoch in a]
    assert sorted(labels[0]) == sorted(y) and not np.array_equal(labels[0], labels[1])
    c = epochs(generator.flow(x, y, batch_size=5, seed=4), 1)
    assert not np.array_equal(c[0][0][0], a[0][0][0])


def test_next_cycles_endlessly():
    x, y = _data(n=5)
    flow = ImageDataGenerator().flow(x, y, batch_size=2, shuffle=False)
    sizes = [len(next(flow)[0]) for _ in range(7)]
    assert sizes == [2, 2, 1, 2, 2, 1, 2]
    assert iter(flow) is flow


def test_flow_subsets_weights_and_extra_inputs(tmp_path):
    x, y = _data(n=10)
    generator = ImageDataGenerator(validation_split=0.3)
    train = generator.flow(x, y, batch_size=10, subset="training", shuffle=False)
    valid = generator.flow(x, y, batch_size=10, subset="validation", shuffle=False)
    np.testing.assert_array_equal(train[0][0], x[3:])
    np.testing.assert_array_equal(valid[0][0], x[:3])
    with pytest.raises(ValueError, match="different number of classes after the split"):
        generator.flow(x, np.r_[np.zeros(3), np.ones(7)], subset="training")
    with pytest.raises(ValueError, match="Invalid subset name: test"):
        generator.flow(x, y, subset="test")

    weights = np.linspace(0, 1, 10)
    bx, by, bw = ImageDataGenerator().flow(x, y, sample_weight=weights, batch_size=4, shuffle=False)[1]
    np.testing.assert_array_equal(bw, weights[4:8])
    extra = np.arange(20).reshape(10, 2)
    inputs, labels = ImageDataGenerator().flow((x, extra), y, batch_size=3, shuffle=False)[1]
    assert isinstance(inputs, list) and len(inputs) == 2
    np.testing.assert_array_equal(inputs[1], extra[3:6])
    only_x = ImageDataGenerator().flow(x, batch_size=4, shuffle=False)[0]
    assert isinstance(only_x, np.ndarray) and only_x.shape == (4, 6, 5, 3)

    ImageDataGenerator().flow(x, y, batch_size=3, shuffle=False, save_to_dir=str(tmp_path), save_prefix="aug",
                              seed=1)[0]
    saved = sorted(os.listdir(tmp_path))
    assert len(saved) == 3 and all(f.startswith("aug_") and f.endswith(".png") for f in saved)


def test_flow_argument_errors():
    x, y = _data()
    with pytest.raises(ValueError, match=r"should have the same length. Found: x.shape = \(10, 6, 5, 3\)"):
        ImageDataGenerator().flow(x, y[:5])
    with pytest.raises(ValueError, match="`x` \\(images tensor\\) and `sample_weight`"):
        ImageDataGenerator().flow(x, y, sample_weight=np.ones(3))
    with pytest.raises(ValueError, match="should have rank 4"):
        ImageDataGenerator().flow(x[0], y[:6])
    with pytest.warns(UserWarning, match="expected either 1, 3, or 4 channels"):
        ImageDataGenerator().flow(np.zeros((2, 4, 4, 5)))
    with pytest.raises(NotImplementedError, match="flow_from_dataframe"):
        ImageDataGenerator().flow_from_dataframe(None)


def _small_cnn(shape, classes):
    pykeras.utils.set_random_seed(0)
    model = pykeras.Sequential([pykeras.Input(shape), layers.Conv2D(4, 3, activation="relu"),
                                layers.GlobalAveragePooling2D(), layers.Dense(classes, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def test_model_fit_on_flow():
    x, y = _data(n=24, h=8, w=8)
    generator = ImageDataGenerator(rescale=1 / 255.0, rotation_range=15, width_shift_range=0.1,
                                   horizontal_flip=True)
    model = _small_cnn((8, 8, 3), 2)
    flow = generator.flow(x, y, batch_size=8, seed=0)
    history = model.fit(flow, epochs=2, verbose=0, validation_data=ImageDataGenerator(rescale=1 / 255.0).flow(
        x, y, batch_size=8, shuffle=False))
    assert len(history.history["loss"]) == 2 and np.all(np.isfinite(history.history["val_loss"]))
    assert flow.total_batches_seen == 6
    assert model.predict(ImageDataGenerator(rescale=1 / 255.0).flow(x, batch_size=8, shuffle=False),
                         verbose=0).shape == (24, 2)


# ---- flow_from_directory ----------------------------------------------------------------------------


COLORS = {"cat": (250, 10, 10), "dog": (10, 250, 10), "eel": (10, 10, 250)}


@pytest.fixture
def image_dir(tmp_path):
    """root/<class>/*.png (3, 4 and 5 images of one color per class), plus a nested folder, a
    non-image file and a file at the root, which flow_from_directory ignores."""
    root = tmp_path / "images"
    for k, (name, color) in enumerate(COLORS.items()):
        folder = root / name
        folder.mkdir(parents=True)
        for i in range(3 + k):
            pixels = np.zeros((10 + i, 12, 3), np.uint8) + np.array(color, np.uint8)
            PIL.fromarray(pixels).save(folder / f"{name}_{i}.png")
        (folder / "notes.txt").write_text("not an image")
    nested = root / "eel" / "more"
    nested.mkdir()
    PIL.fromarray(np.zeros((6, 6, 3), np.uint8) + np.array(COLORS["eel"], np.uint8)).save(nested / "deep.png")
    PIL.fromarray(np.zeros((6, 6, 3), np.uint8)).save(root / "stray.png")
    return root


def test_directory_classes_files_and_labels(image_dir, capsys):
    flow = ImageDataGenerator().flow_from_directory(str(image_dir), target_size=(8, 9), batch_size=4,
                                                    shuffle=False)
    assert isinstance(flow, DirectoryIterator)
    assert "Found 13 images belonging to 3 classes." in capsys.readouterr().out
    assert flow.class_indices == {"cat": 0, "dog": 1, "eel": 2}
    assert flow.samples == 13 and len(flow) == 4
    np.testing.assert_array_equal(flow.classes, [0] * 3 + [1] * 4 + [2] * 6)
    assert flow.filenames[0] == os.path.join("cat", "cat_0.png")
    assert os.path.join("eel", "more", "deep.png") in flow.filenames
    assert flow.filepaths[0] == os.path.join(str(image_dir), "cat", "cat_0.png")
    xs, ys = zip(*(flow[i] for i in range(len(flow))))
    x, y = np.concatenate(xs), np.concatenate(ys)
    assert x.shape == (13, 8, 9, 3) and x.dtype == np.float32
    np.testing.assert_array_equal(y, np.eye(3, dtype=np.float32)[flow.classes])
    for label, name in enumerate(COLORS):
        np.testing.assert_array_equal(x[flow.classes == label], np.broadcast_to(COLORS[name], (1, 8, 9, 3))
                                      .repeat((flow.classes == label).sum(), axis=0))


@pytest.mark.parametrize("class_mode", ["binary", "sparse", "input", None])
def test_directory_class_modes(image_dir, class_mode):
    flow = ImageDataGenerator().flow_from_directory(str(image_dir), target_size=(4, 4), class_mode=class_mode,
                                                    classes=["dog", "cat"], batch_size=3, shuffle=False)
    assert flow.class_indices == {"dog": 0, "cat": 1}
    batch = flow[0]
    if class_mode is None:
        assert batch.shape == (3, 4, 4, 3)
    elif class_mode == "input":
        np.testing.assert_array_equal(batch[0], batch[1])
    else:
        np.testing.assert_array_equal(batch[1], [0.0, 0.0, 0.0])
        assert batch[1].dtype == np.float32


def test_directory_color_modes_subsets_and_errors(image_dir):
    generator = ImageDataGenerator(validation_split=0.34)
    gray = generator.flow_from_directory(str(image_dir), target_size=(5, 5), color_mode="grayscale")
    assert gray[0][0].shape[1:] == (5, 5, 1)
    rgba = generator.flow_from_directory(str(image_dir), target_size=(5, 5), color_mode="rgba")
    assert rgba[0][0].shape[1:] == (5, 5, 4)
    train = generator.flow_from_directory(str(image_dir), target_size=(5, 5), subset="training")
    valid = generator.flow_from_directory(str(image_dir), target_size=(5, 5), subset="validation")
    # Per class, the first int(0.34 * n) sorted files are the validation part.
    assert valid.samples == 1 + 1 + 2 and train.samples == 13 - valid.samples
    assert not set(train.filenames) & set(valid.filenames)
    with pytest.raises(ValueError, match="Invalid color mode: cmyk"):
        generator.flow_from_directory(str(image_dir), color_mode="cmyk")
    with pytest.raises(ValueError, match="Invalid class_mode: multi"):
        generator.flow_from_directory(str(image_dir), class_mode="multi")
    with pytest.raises(ValueError, match="Invalid subset name: test"):
        generator.flow_from_directory(str(image_dir), subset="test")


def test_model_fit_on_directory_with_augmentation(image_dir):
    generator = ImageDataGenerator(rescale=1 / 255.0, zoom_range=0.2, horizontal_flip=True, fill_mode="reflect")
    flow = generator.flow_from_directory(str(image_dir), target_size=(8, 8), class_mode="sparse", batch_size=5,
                                         seed=2)
    model = _small_cnn((8, 8, 3), 3)
    history = model.fit(flow, epochs=3, verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))
    assert history.history["loss"][-1] < history.history["loss"][0]

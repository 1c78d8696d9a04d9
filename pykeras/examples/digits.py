"""Train a small network on scikit-learn's bundled handwritten digits (8x8 images) and print the
test accuracy.

    python -m pykeras.examples.digits [--epochs N] [--mlp]

The 1,797 images (pixel values 0-16, scaled to [0, 1]) are split 75/25, stratified by class. The
model is a small CNN (two 3x3 convolutions, max pooling, dropout, a dense layer; --mlp for a
two-layer MLP instead); Adam, sparse categorical crossentropy, a seeded run. It needs no
network access and trains in a few seconds on a laptop CPU; expect about 98% test accuracy.
"""
import argparse
import sys
import time

import numpy as np

import pykeras
from pykeras import layers
from pykeras.models import Sequential
from pykeras.utils import set_random_seed


def load_data(seed=0):
    try:
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split
    except ImportError:  # pragma: no cover - scikit-learn is in the `examples` extra
        sys.exit("This example needs scikit-learn: pip install 'pykeras[examples]'")
    digits = load_digits()
    x = (digits.images / 16.0).astype(np.float32)[..., None]  # (1797, 8, 8, 1), channels last
    y = digits.target.astype(np.int64)
    return train_test_split(x, y, test_size=0.25, random_state=seed, stratify=y)


def build_model(use_cnn):
    if use_cnn:
        return Sequential([
            layers.Input((8, 8, 1)),
            layers.Conv2D(32, 3, padding="same", activation="relu"),
            layers.Conv2D(64, 3, activation="relu"),
            layers.MaxPooling2D(2),
            layers.Dropout(0.25),
            layers.Flatten(),
            layers.Dense(128, activation="relu"),
            layers.Dropout(0.4),
            layers.Dense(10, activation="softmax"),
        ], name="digits_cnn")
    return Sequential([
        layers.Input((8, 8, 1)),
        layers.Flatten(),
        layers.Dense(256, activation="relu"),
        layers.Dropout(0.4),
        layers.Dense(128, activation="relu"),
        layers.Dropout(0.4),
        layers.Dense(10, activation="softmax"),
    ], name="digits_mlp")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=None, help="default: 20 (CNN) or 60 (MLP)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--mlp", action="store_true", help="train a two-layer MLP instead of the CNN")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    set_random_seed(args.seed)
    x_train, x_test, y_train, y_test = load_data(args.seed)
    use_cnn = not args.mlp
    epochs = args.epochs or (20 if use_cnn else 60)
    model = build_model(use_cnn)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    print(f"{model.name}: {model.count_params():,} parameters, {len(x_train)} training and {len(x_test)} test "
          f"images, kernel path {pykeras.config.isa()}, {pykeras.config.get_num_threads()} threads")
    start = time.perf_counter()
    # As in Keras's classic MNIST examples, the held-out set is shown after each epoch but never used to
    # choose anything: training sees only x_train.
    model.fit(x_train, y_train, batch_size=args.batch_size, epochs=epochs, validation_data=(x_test, y_test),
              verbose="auto")
    seconds = time.perf_counter() - start
    loss, accuracy = model.evaluate(x_test, y_test, verbose=0)
    print(f"Trained in {seconds:.1f} s. Test loss: {loss:.4f} - test accuracy: {accuracy * 100:.2f}%")
    return accuracy


if __name__ == "__main__":
    main()

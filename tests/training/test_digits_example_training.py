"""The main example: `python -m pykeras.examples.digits` reaches >= 97% test accuracy offline."""
import pytest

from pykeras.examples import digits


@pytest.mark.slow
def test_digits_example_reaches_97_percent(capsys):
    accuracy = digits.main([])
    out = capsys.readouterr().out
    assert "test accuracy" in out
    assert accuracy >= 0.97, out[-2000:]


def test_digits_data_split():
    x_train, x_test, y_train, y_test = digits.load_data(0)
    assert x_train.shape == (1347, 8, 8, 1) and x_test.shape == (450, 8, 8, 1)
    assert x_train.dtype.name == "float32" and 0.0 <= x_train.min() and x_train.max() <= 1.0
    assert sorted(set(y_test.tolist())) == list(range(10))

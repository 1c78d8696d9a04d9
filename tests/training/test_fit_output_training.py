"""What fit/evaluate/predict print: Keras 3's epoch headers and bar lines when the output is a file
or pipe (one plain line per epoch) and on a pseudo-terminal (redrawn in place), verbose 0/1/2."""
import os
import pty
import re
import subprocess
import sys
import textwrap

import numpy as np

from pykeras import layers
from pykeras.models import Sequential

BAR = "\u2501"
STEP = r"\d+(us|ms|s)/step"
NUM = r"\d+\.\d{4}(e-\d+)?"


def _model():
    model = Sequential([layers.Input((3,)), layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse", metrics=["mae"])
    return model


def _data():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((40, 3)).astype(np.float32)
    return x, x.sum(-1, keepdims=True)


def test_fit_to_a_pipe_prints_one_line_per_epoch(capsys):
    x, y = _data()
    _model().fit(x, y, batch_size=16, epochs=2, validation_split=0.2)
    out = capsys.readouterr().out
    assert "\r" not in out and "\x1b" not in out
    lines = out.splitlines()
    assert len(lines) == 4, lines
    assert lines[0] == "Epoch 1/2" and lines[2] == "Epoch 2/2"
    for line in (lines[1], lines[3]):
        assert re.fullmatch(rf"2/2 {BAR}{{20}} \d+s {STEP} - loss: {NUM} - mae: {NUM} - val_loss: {NUM} - val_mae: {NUM}",
                            line), line


def test_single_epoch_has_no_header_and_verbose_2_and_0(capsys):
    x, y = _data()
    model = _model()
    model.fit(x, y, batch_size=16, epochs=1)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1 and lines[0].startswith("3/3 ")
    model.fit(x, y, batch_size=16, epochs=2, verbose=2)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "Epoch 1/2"
    assert re.fullmatch(rf"3/3 - \d+s - {STEP} - loss: {NUM} - mae: {NUM}", lines[1]), lines[1]
    model.fit(x, y, batch_size=16, epochs=2, verbose=0)
    assert capsys.readouterr().out == ""


def test_evaluate_and_predict_bars(capsys):
    x, y = _data()
    model = _model()
    model.evaluate(x, y, batch_size=10)
    line = capsys.readouterr().out.strip()
    assert re.fullmatch(rf"4/4 {BAR}{{20}} \d+s {STEP} - loss: {NUM} - mae: {NUM}", line), line
    model.predict(x, batch_size=10)
    line = capsys.readouterr().out.strip()
    assert re.fullmatch(rf"4/4 {BAR}{{20}} \d+s {STEP}", line), line
    model.evaluate(x, y, verbose=0)
    model.predict(x, verbose=0)
    assert capsys.readouterr().out == ""


def test_fit_on_a_pseudo_terminal_redraws_in_place(tmp_path):
    script = tmp_path / "run_fit.py"
    script.write_text(textwrap.dedent("""
        import numpy as np
        from pykeras import layers
        from pykeras.models import Sequential
        x = np.random.default_rng(0).standard_normal((64, 3)).astype(np.float32)
        model = Sequential([layers.Input((3,)), layers.Dense(1)])
        model.compile(optimizer="sgd", loss="mse")
        model.fit(x, x.sum(-1), batch_size=8, epochs=2)
    """))
    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, str(script)], stdout=slave, stderr=subprocess.PIPE, cwd=str(tmp_path))
    os.close(slave)
    chunks = []
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    proc.wait(timeout=120)
    os.close(master)
    assert proc.returncode == 0, proc.stderr.read().decode()
    text = b"".join(chunks).decode("utf-8")
    assert "Epoch 1/2" in text and "Epoch 2/2" in text
    assert "\r" in text and "\x1b[1m8/8\x1b[0m" in text and "\x1b[32m" + BAR * 20 in text
    plain = re.sub(r"\x1b\[[0-9;]*m", "", text).replace("\r\n", "\n")
    finals = [frame.strip() for frame in re.split(r"[\r\n]", plain) if frame.startswith("8/8")]
    assert finals and all(re.fullmatch(rf"8/8 {BAR}{{20}} \d+s {STEP} - loss: {NUM}", f) for f in finals), finals

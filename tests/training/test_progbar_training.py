"""The progress bar's Keras 3 format: on a pseudo-terminal (animated with carriage returns,
colours), to a file (one plain line when finished), verbose=2, unknown targets and time units."""
import io
import os
import pty
import re
import time

import pytest

from pykeras.utils import Progbar
from pykeras.utils.progbar import format_time_per_unit, format_value

BAR = "\u2501"
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def test_file_output_is_one_plain_line_per_finished_bar():
    out = io.StringIO()
    bar = Progbar(target=10, stream=out)
    for step in range(1, 11):
        bar.update(step, [("loss", 0.5 / step), ("accuracy", 0.1 * step)])
    text = out.getvalue()
    assert "\r" not in text and "\b" not in text and "\x1b" not in text
    lines = text.splitlines()
    assert len(lines) == 1
    assert re.fullmatch(rf"10/10 {BAR}{{20}} \d+s \d+(us|ms|s)/step - loss: 0\.0500 - accuracy: 1\.0000", lines[0]), lines


def test_running_average_of_stateless_values():
    out = io.StringIO()
    bar = Progbar(target=4, stream=out)
    for step, v in enumerate([1.0, 2.0, 3.0], start=1):
        bar.update(step, [("loss", v)])
    bar.update(4, [("loss", 6.0)], finalize=False)
    bar.update(4, [], finalize=True)
    assert out.getvalue().rstrip().endswith("loss: 3.0000")  # (1 + 2 + 3 + 6) / 4


def test_stateful_and_stateless_selection():
    out = io.StringIO()
    bar = Progbar(target=2, stream=out, stateless_metrics=())
    bar.update(1, [("loss", 1.0)])
    bar.update(2, [("loss", 0.25)])
    assert out.getvalue().rstrip().endswith("loss: 0.2500")
    with pytest.raises(ValueError):
        Progbar(target=2, stateful_metrics=["a"], stateless_metrics=["b"])


def test_verbose_2_short_line_and_verbose_0_silent():
    out = io.StringIO()
    bar = Progbar(target=3, verbose=2, stream=out)
    for step in (1, 2, 3):
        bar.update(step, [("loss", 0.125)])
    assert re.fullmatch(r"3/3 - \d+s - \d+(us|ms|s)/step - loss: 0\.1250\n", out.getvalue()), out.getvalue()
    silent = io.StringIO()
    bar = Progbar(target=3, verbose=0, stream=silent)
    bar.update(3, [("loss", 1.0)])
    assert silent.getvalue() == ""


def test_unknown_target():
    out = io.StringIO()
    bar = Progbar(target=None, stream=out)
    bar.update(5, [("loss", 1.0)], finalize=True)
    assert re.match(r"\s+5/Unknown \d+s", out.getvalue())


def test_pseudo_terminal_animates_in_place():
    master, slave = pty.openpty()
    try:
        stream = os.fdopen(slave, "w", encoding="utf-8", closefd=False)
        bar = Progbar(target=3, stream=stream, interval=0.0)
        for step in (1, 2, 3):
            bar.update(step, [("loss", 1.0 / step)])
            time.sleep(0.002)
        stream.flush()
        data = b""
        while True:
            chunk = os.read(master, 65536)
            data += chunk
            if data.endswith(b"\r\n") or len(chunk) == 0:
                break
        text = data.decode("utf-8")
    finally:
        os.close(master)
        os.close(slave)
    frames = [f for f in text.replace("\r\n", "\n").split("\r") if f]
    assert len(frames) == 3, frames  # each update redraws the same line
    assert "\x1b[1m1/3\x1b[0m" in frames[0] and "\x1b[32m" in frames[-1]
    plain = [ANSI.sub("", f) for f in frames]
    assert re.match(rf"1/3 {BAR}{{6}}{BAR}{{14}} \d+s \d+(us|ms|s)/step - loss: 1\.0000", plain[0]), plain[0]
    assert re.match(rf"3/3 {BAR}{{20}} \d+s \d+(us|ms|s)/step - loss: 0\.3333\s*\n$", plain[-1]), plain[-1]


def test_time_and_value_formats():
    assert format_time_per_unit(0.012) == " 12ms/step"
    assert format_time_per_unit(2.4) == " 2s/step"
    assert format_time_per_unit(0.00042) == " 420us/step"
    assert format_time_per_unit(0.0) == " 0s/step"
    assert format_value(0.123456) == "0.1235"
    assert format_value(0.0001234) == "1.2340e-04"

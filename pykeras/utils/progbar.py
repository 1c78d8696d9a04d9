"""The progress bar printed by fit/evaluate/predict, in Keras 3's format.

On a terminal (verbose=1) one line is redrawn in place with a carriage return:

     10/100 ━━━━━━━━━━━━━━━━━━━━ 1s 12ms/step - accuracy: 0.9000 - loss: 0.3000

(step counter in bold, the done part of the 20-character bar green, the rest grey, then the ETA
while running or the elapsed time once finished, the time per step, and the metrics in the order
they were first given). When the output is not a terminal (a file, a pipe, a CI log) nothing is
redrawn: only the finished line is written, plain text without escape codes, so a log gets one
line per epoch. verbose=2 writes only the finished line in the short form
`100/100 - 1s - 12ms/step - loss: 0.3000`.

Values are averaged over the steps seen (weighted by steps) unless their name is listed in
`stateful_metrics` (then shown as given), as in Keras. Timing: the time per step excludes the
first step (it includes one-off set-up work) once more steps are known.
"""
import math
import os
import sys
import time

_BAR_CHAR = "\u2501"  # the heavy horizontal line Keras 3 draws its bar with
_BOLD, _GREEN, _GREY, _RESET = "\x1b[1m", "\x1b[32m", "\x1b[37m", "\x1b[0m"


def _is_interactive(stream):
    if "ipykernel" in sys.modules or "PYCHARM_HOSTED" in os.environ:
        return True
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty())
    except ValueError:  # a closed stream
        return False


def format_time_per_unit(seconds, unit_name="step"):
    """' 12ms/step', ' 3s/step', ' 840us/step' as Keras prints them."""
    if seconds >= 1 or seconds == 0:
        return f" {seconds:.0f}s/{unit_name}"
    if seconds >= 1e-3:
        return f" {seconds * 1e3:.0f}ms/{unit_name}"
    return f" {seconds * 1e6:.0f}us/{unit_name}"


def format_value(value):
    """Metric values: 4 decimals, scientific notation for tiny magnitudes (Keras's rule)."""
    value = float(value)
    if abs(value) > 1e-3:
        return f"{value:.4f}"
    return f"{value:.4e}"


def _format_eta(eta):
    if eta > 3600:
        return "%d:%02d:%02d" % (eta // 3600, (eta % 3600) // 60, eta % 60)
    if eta > 60:
        return "%d:%02d" % (eta // 60, eta % 60)
    return "%ds" % eta


class Progbar:
    """Displays a progress bar.

    Args:
        target: total number of steps expected, None if unknown.
        width: bar width in characters.
        verbose: 0 (silent), 1 (bar), 2 (one line when finished).
        interval: minimum seconds between two redraws on a terminal.
        stateful_metrics: names of values shown as given rather than averaged.
        stateless_metrics: alternatively, the only names that are averaged.
        unit_name: what one step is called ("step" or "sample").
        stream: where to write (default: sys.stdout at the time of each write).
    """

    def __init__(self, target, width=20, verbose=1, interval=0.05, stateful_metrics=None,
                 stateless_metrics=None, unit_name="step", stream=None):
        if stateful_metrics is not None and stateless_metrics is not None:
            raise ValueError("Only one of `stateful_metrics` or `stateless_metrics` can be provided.")
        self.target = target
        self.width = width
        self.verbose = verbose
        self.interval = interval
        self.unit_name = unit_name
        self.stateful_metrics = set(stateful_metrics or ())
        # With `stateless_metrics`, only those names are averaged; everything else is shown as given.
        self.stateless_metrics = None if stateless_metrics is None else set(stateless_metrics)
        self._stream = stream
        self._dynamic = _is_interactive(self.stream)
        self._values = {}  # name -> [weighted sum, weight]
        self._values_order = []
        self._seen_so_far = 0
        self._start = time.time()
        self._last_update = 0.0
        self._time_after_first_step = None
        self._prev_width = 0

    @property
    def stream(self):
        return self._stream if self._stream is not None else sys.stdout

    def update(self, current, values=None, finalize=None):
        """Records progress up to step `current` with `values` = [(name, value), ...]."""
        if finalize is None:
            finalize = self.target is not None and current >= self.target
        for name, value in values or ():
            if name not in self._values_order:
                self._values_order.append(name)
            if self.stateless_metrics is not None:
                averaged = name in self.stateless_metrics
            else:
                averaged = name not in self.stateful_metrics
            if not averaged or finalize:
                self._values[name] = [value, 1]
            else:
                weight = max(current - self._seen_so_far, 1)
                acc = self._values.get(name)
                if acc is None:
                    self._values[name] = [value * weight, weight]
                else:
                    acc[0] += value * weight
                    acc[1] += weight
        self._seen_so_far = current

        now = time.time()
        time_per_unit = self._time_per_unit(current, now)
        if self.verbose == 1:
            if not finalize and (not self._dynamic or now - self._last_update < self.interval):
                return
            self._write(self._line(current, now, time_per_unit, finalize), finalize)
        elif self.verbose == 2 and finalize:
            self._write(self._short_line(current, now, time_per_unit), True)
        self._last_update = now

    def add(self, n, values=None):
        self.update(self._seen_so_far + n, values)

    # -- formatting -------------------------------------------------------------------------
    def _time_per_unit(self, current, now):
        if not current:
            return 0.0
        if self._time_after_first_step is not None and current > 1:
            per = (now - self._time_after_first_step) / (current - 1)
        else:
            per = (now - self._start) / current
        if current == 1:
            self._time_after_first_step = now
        return per

    def _metrics_text(self):
        parts = []
        for name in self._values_order:
            total, count = self._values[name]
            parts.append(f" - {name}: {format_value(float(total) / max(1, count))}")
        return "".join(parts)

    def _line(self, current, now, time_per_unit, finalize):
        """One bar line; returns (text, visible width)."""
        color = self._dynamic
        if self.target:
            digits = int(math.log10(self.target)) + 1
            count = f"%{digits}d/%d" % (current, self.target)
            done = min(int(self.width * current / self.target), self.width)
            if color:
                bar = f"{_BOLD}{count}{_RESET} "
                if done:
                    bar += f"{_GREEN}{_BAR_CHAR * done}{_RESET}"
                bar += f"{_GREY}{_BAR_CHAR * (self.width - done)}{_RESET}"
            else:
                bar = f"{count} " + _BAR_CHAR * self.width
            visible = len(count) + 1 + self.width
        else:
            bar = "%7d/Unknown" % current
            visible = len(bar)
        if self.target and not finalize:
            clock = _format_eta(time_per_unit * (self.target - current))
        else:
            clock = f"{now - self._start:.0f}s"
        info = (f" {_BOLD}{clock}{_RESET}" if color else f" {clock}")
        visible += 1 + len(clock)
        rest = format_time_per_unit(time_per_unit, self.unit_name) + self._metrics_text()
        visible += len(rest)
        return bar + info + rest, visible

    def _short_line(self, current, now, time_per_unit):
        digits = int(math.log10(self.target)) + 1 if self.target else 1
        count = f"%{digits}d/%d" % (current, self.target or current)
        text = f"{count} - {now - self._start:.0f}s -{format_time_per_unit(time_per_unit, self.unit_name)}"
        text += self._metrics_text()
        return text, len(text)

    def _write(self, line, finalize):
        text, visible = line
        stream = self.stream
        if self._dynamic and self.verbose == 1:
            pad = " " * max(self._prev_width - visible, 0)
            stream.write("\r" + text + pad + ("\n" if finalize else ""))
            self._prev_width = visible
        else:
            stream.write(text + "\n")
        stream.flush()

"""Combines repeated runs of one benchmark (their --markdown outputs) into one table per section.

The machine is shared and noisy, so each benchmark is run several times and RESULTS.md quotes,
for every row, the median of each cell over the runs (times, rates, and the ratio of each run),
plus the lowest and highest ratio seen. One disturbed run then moves no figure.

    python bench/py/bench_gemm.py --threads 1 2 --markdown > run1.md   # (and run2.md, run3.md)
    python bench/py/combine_runs.py run1.md run2.md run3.md
"""
import statistics
import sys


def parse(path):
    """{section: (header line, {row name: cells})} of a --markdown output; the ratio is the last cell."""
    sections, current = {}, None
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if line.startswith("## "):
                current = line
                sections[current] = [None, {}]
            elif current and line.startswith("| ") and not line.startswith("|---"):
                cells = [c.strip() for c in line.strip("|").split("|")]
                if sections[current][0] is None:
                    sections[current][0] = cells
                else:
                    sections[current][1][cells[0]] = cells
    return sections


_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0}


def value(cell):
    """(number, kind) of a cell: kind 'time' (seconds), 'count' (with thousands commas), 'ratio',
    'float'; None for text such as n/a."""
    text = cell.strip()
    try:
        if text.endswith("x"):
            return float(text[:-1]), "ratio"
        parts = text.split()
        if len(parts) == 2 and parts[1] in _UNITS:
            return float(parts[0]) * _UNITS[parts[1]], "time"
        if "," in text or (text.isdigit()):
            return float(text.replace(",", "")), "count"
        return float(text), "float"
    except ValueError:
        return None


def fmt(number, kind):
    if kind == "time":
        if number < 1e-3:
            return f"{number * 1e6:.1f} us"
        return f"{number * 1e3:.3f} ms" if number < 1.0 else f"{number:.3f} s"
    if kind == "count":
        return f"{number:,.0f}"
    if kind == "ratio":
        return f"{number:.2f}x"
    return f"{number:.1f}"


def median_cell(cells):
    parsed = [value(c) for c in cells]
    if not parsed or any(p is None for p in parsed) or len({k for _, k in parsed}) != 1:
        return cells[len(cells) // 2]
    return fmt(statistics.median(n for n, _ in parsed), parsed[0][1])


def combine(paths):
    runs = [parse(p) for p in paths]
    out = []
    for section, (header, rows) in runs[0].items():
        out.append(f"{section}\n")
        out.append("| " + " | ".join(header) + f" | range over {len(runs)} runs |")
        out.append("|" + "---|" * (len(header) + 1))
        for name in rows:
            found = [r[section][1][name] for r in runs if section in r and name in r[section][1]]
            cells = [name] + [median_cell([f[i] for f in found]) for i in range(1, len(found[0]))]
            ratios = [value(f[-1]) for f in found]
            ratios = [r for r, kind in (x for x in ratios if x is not None) if kind == "ratio"]
            spread = f"{min(ratios):.2f}-{max(ratios):.2f}x" if ratios else ""
            out.append("| " + " | ".join(cells) + f" | {spread} |")
        out.append("")
    return "\n".join(out)


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    print(combine(sys.argv[1:]))

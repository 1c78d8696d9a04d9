"""Combines repeated runs of one benchmark (their --markdown outputs) into one table per section.

The machine is shared and noisy, so each benchmark is run several times and RESULTS.md quotes,
for every row, the run whose ratio is the median of all runs (its times and rates), plus the
lowest and highest ratio seen:

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


def ratio(cells):
    try:
        return float(cells[-1].rstrip("x"))
    except ValueError:
        return None


def combine(paths):
    runs = [parse(p) for p in paths]
    out = []
    for section, (header, rows) in runs[0].items():
        out.append(f"{section}\n")
        out.append("| " + " | ".join(header) + f" | range over {len(runs)} runs |")
        out.append("|" + "---|" * (len(header) + 1))
        for name in rows:
            found = [r[section][1][name] for r in runs if section in r and name in r[section][1]]
            rated = [(ratio(c), c) for c in found if ratio(c) is not None]
            if not rated:
                out.append("| " + " | ".join(found[0]) + " | |")
                continue
            rated.sort(key=lambda rc: rc[0])
            median_cells = rated[(len(rated) - 1) // 2][1]
            lo, hi = rated[0][0], rated[-1][0]
            med = statistics.median(r for r, _ in rated)
            median_cells = median_cells[:-1] + [f"{med:.2f}x"]
            out.append("| " + " | ".join(median_cells) + f" | {lo:.2f}-{hi:.2f}x |")
        out.append("")
    return "\n".join(out)


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    print(combine(sys.argv[1:]))

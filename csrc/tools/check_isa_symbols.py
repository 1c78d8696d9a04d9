"""Fails the build if a per-ISA object exports a symbol that does not belong to its ISA.

Every kernel source is compiled once per ISA. The linker keeps a single copy of each inline or
template function with external linkage, so if, say, an AVX-512 object defined such a function
outside its ISA namespace, a CPU without AVX-512 could end up running AVX-512 instructions.
Symbols must therefore live in `isa_<name>` namespaces or be the ISA's table (`..._<name>`).

usage: check_isa_symbols.py --isa avx2 a.o b.o --isa avx512 c.o ...
"""
import subprocess
import sys

# nm symbol types that the linker can resolve across objects (global, weak, unique).
EXPORTED = set("BDGRSTVWiu")
# Compiler-made data every object using exceptions carries; it holds no code.
ALLOWED = {"DW.ref.__gxx_personality_v0"}


def exported_symbols(obj):
    out = subprocess.run(["nm", "-C", "--defined-only", obj], check=True, capture_output=True, text=True).stdout
    for line in out.splitlines():
        parts = line.split(" ", 2)
        if len(parts) == 3 and parts[1] in EXPORTED:
            yield parts[2]


def main(argv):
    isa, bad = None, []
    for arg in argv:
        if arg == "--isa":
            isa = "?"
            continue
        if isa == "?":
            isa = arg
            continue
        for sym in exported_symbols(arg):
            if sym not in ALLOWED and f"isa_{isa}" not in sym and not sym.endswith(f"_{isa}"):
                bad.append(f"{arg}: {sym}")
    if bad:
        sys.stderr.write("ISA objects export symbols outside their ISA namespace "
                         "(move them into PYK_ISA_NS or give them internal linkage):\n  " + "\n  ".join(bad) + "\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

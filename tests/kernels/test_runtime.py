"""The runtime: kernel-path selection, threads, and the machine probe."""
import os
import subprocess
import sys
import tempfile

import pytest

from pykeras import _core, config


def run_python(code, **env):
    full_env = dict(os.environ)
    full_env.pop("PYKERAS_ISA", None)
    full_env.update(env)
    # Run outside the source tree, which would otherwise shadow the installed package.
    return subprocess.run([sys.executable, "-c", code], env=full_env, capture_output=True, text=True,
                          cwd=tempfile.gettempdir())


def test_isa_names_a_supported_path():
    assert config.isa() in ("generic", "avx2", "avx512")
    assert config.best_isa() in ("generic", "avx2", "avx512")


def test_default_isa_is_the_best_supported():
    r = run_python("import pykeras; print(pykeras.config.isa(), pykeras.config.best_isa())")
    assert r.returncode == 0, r.stderr
    active, best = r.stdout.split()
    assert active == best


@pytest.mark.parametrize("name", ["generic", "avx2", "avx512"])
def test_environment_forces_a_path(name):
    if ["generic", "avx2", "avx512"].index(name) > ["generic", "avx2", "avx512"].index(config.best_isa()):
        r = run_python("import pykeras", PYKERAS_ISA=name)
        assert r.returncode != 0 and "does not support" in r.stderr
        return
    r = run_python("import pykeras; print(pykeras.config.isa())", PYKERAS_ISA=name)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == name


def test_unknown_isa_in_environment_fails_import_clearly():
    r = run_python("import pykeras", PYKERAS_ISA="sse9")
    assert r.returncode != 0
    assert "ImportError" in r.stderr and "sse9" in r.stderr and "generic" in r.stderr


def test_set_isa_rejects_unknown_names():
    with pytest.raises(ValueError, match="unknown kernel path"):
        config.set_isa("neon")


def test_set_isa_switches_path(isa):
    assert config.isa() == isa
    assert _core.runtime.vector_width() == {"generic": 1, "avx2": 8, "avx512": 16}[isa]


def test_threads_knob():
    config.set_num_threads(3)
    assert config.get_num_threads() == 3
    config.set_num_threads(1)
    assert config.get_num_threads() == 1


@pytest.mark.parametrize("bad", [0, -2])
def test_threads_must_be_positive(bad):
    with pytest.raises(ValueError, match="at least 1"):
        config.set_num_threads(bad)


def test_threads_must_be_int():
    with pytest.raises(TypeError):
        config.set_num_threads(2.5)


def test_default_threads_follow_omp_num_threads():
    r = run_python("import pykeras; print(pykeras.config.get_num_threads())", OMP_NUM_THREADS="3")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "3"


def test_fma_probe_reports_a_positive_rate(isa):
    assert _core.runtime.fma_peak_gflops(1, 0.01) > 0.1



# A child process allocates, fills and frees a 64 MiB array (above glibc's largest adaptive mmap
# threshold) several times and prints the page faults of the last rounds.
_REUSE = """
import resource
import numpy as np
import pykeras
faults = []
for _ in range(6):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    a = np.empty(16 << 20, np.float32)
    a.fill(1.0)
    del a
    faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
print(sum(faults[2:]))
"""


def _faults_of_reuse(env_value):
    env = dict(os.environ, PYKERAS_MALLOC_TUNING=env_value)
    out = subprocess.run([sys.executable, "-c", _REUSE], env=env, capture_output=True, text=True, check=True)
    return int(out.stdout.strip())


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc heap policy")
def test_freed_activations_stay_mapped():
    # 64 MiB is 16,384 pages, or 32 transparent huge pages (numpy asks for them on large
    # arrays): with glibc's defaults each of the 4 rounds counted faults them all in afresh.
    assert _faults_of_reuse("0") >= 4 * 32
    assert _faults_of_reuse("1") < 32


def test_keep_freed_memory_rejects_bad_sizes():
    assert _core.runtime.keep_freed_memory(config.HEAP_KEEP_BYTES) is True
    with pytest.raises(ValueError, match="bytes must be > 0"):
        _core.runtime.keep_freed_memory(0)
    assert _core.runtime.keep_freed_memory(1 << 40) is False

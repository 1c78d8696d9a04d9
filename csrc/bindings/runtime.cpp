// Bindings of the runtime: kernel path (ISA), threads, the heap policy and the FMA peak probe.
#include <chrono>
#include <stdexcept>

#include <omp.h>

#include "bindings/common.h"
#include "kernels/probe/probe.h"
#include "runtime/cpu.h"
#include "runtime/heap.h"
#include "runtime/threading.h"

namespace pyk::bind {
namespace {

// Measured fp32 FMA peak in GFLOP/s of the active ISA on `threads` threads: every thread runs the
// probe loop for about `seconds`, and the slowest thread's time counts.
double fma_peak_gflops(int threads, double seconds) {
  if (threads < 1) throw py::value_error("fma_peak_gflops: threads must be >= 1");
  const auto& probe = pyk::probe::table();
  // Calibrate the iteration count on one thread.
  int64_t iters = 1 << 16;
  double elapsed = 0.0;
  for (;;) {
    auto t0 = std::chrono::steady_clock::now();
    probe.fma_loop(iters);
    elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (elapsed > 0.02 || iters > (int64_t(1) << 40)) break;
    iters *= 4;
  }
  iters = static_cast<int64_t>(iters * (seconds / std::max(elapsed, 1e-9)));
  if (iters < 1) iters = 1;
  double flops = 0.0, worst = 0.0;
#pragma omp parallel num_threads(threads) reduction(+ : flops) reduction(max : worst)
  {
    auto t0 = std::chrono::steady_clock::now();
    flops += probe.fma_loop(iters);
    worst = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }
  return flops / worst * 1e-9;
}

}  // namespace

void bind_runtime(py::module_& m) {
  m.def("isa", [] { return std::string(isa_name(active_isa())); }, "Name of the kernel path in use.");
  m.def("best_isa", [] { return std::string(isa_name(best_supported_isa())); },
        "The best kernel path this CPU supports.");
  m.def("set_isa", [](const std::string& name) {
    const Isa isa = parse_isa(name);  // std::invalid_argument -> ValueError
    set_active_isa(isa);
  }, py::arg("name"), "Selects the kernel path: 'generic', 'avx2' or 'avx512'.");
  m.def("keep_freed_memory", [](int64_t bytes) {
    if (bytes <= 0) throw py::value_error("keep_freed_memory: bytes must be > 0, got " + std::to_string(bytes));
    return pyk::keep_freed_memory(static_cast<size_t>(bytes));
  }, py::arg("bytes"),
        "Keeps freed allocations up to `bytes` mapped for reuse (glibc); False where unsupported.");
  m.def("num_threads", &num_threads);
  m.def("set_num_threads", [](int n) { set_num_threads(n); }, py::arg("n"));
  m.def("num_cpus", &num_cpus);
  m.def("vector_width", [] { return pyk::probe::table().vector_width; },
        "Floats per vector register on the active path.");
  m.def("fma_peak_gflops", [](int threads, double seconds) {
    py::gil_scoped_release nogil;
    return fma_peak_gflops(threads, seconds);
  }, py::arg("threads") = 1, py::arg("seconds") = 0.2);
}

}  // namespace pyk::bind

#include "runtime/cpu.h"

#include <atomic>
#include <stdexcept>

namespace pyk {
namespace {

bool cpu_has_avx2() {
  __builtin_cpu_init();
  // GCC's detection also checks that the OS saves the YMM/ZMM state (XGETBV).
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

bool cpu_has_avx512() {
  __builtin_cpu_init();
  return cpu_has_avx2() && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
         __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
}

std::atomic<int>& active_slot() {
  static std::atomic<int> slot{static_cast<int>(best_supported_isa())};
  return slot;
}

}  // namespace

Isa best_supported_isa() {
  if (cpu_has_avx512()) return Isa::avx512;
  if (cpu_has_avx2()) return Isa::avx2;
  return Isa::generic;
}

bool isa_supported(Isa isa) { return static_cast<int>(isa) <= static_cast<int>(best_supported_isa()); }

Isa active_isa() { return static_cast<Isa>(active_slot().load(std::memory_order_relaxed)); }

void set_active_isa(Isa isa) {
  if (!isa_supported(isa)) {
    throw std::invalid_argument(std::string("this CPU does not support the '") + isa_name(isa) +
                                "' kernel path; the best it supports is '" +
                                isa_name(best_supported_isa()) + "'");
  }
  active_slot().store(static_cast<int>(isa), std::memory_order_relaxed);
}

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::avx512: return "avx512";
    case Isa::avx2: return "avx2";
    default: return "generic";
  }
}

Isa parse_isa(const std::string& name) {
  if (name == "generic") return Isa::generic;
  if (name == "avx2") return Isa::avx2;
  if (name == "avx512") return Isa::avx512;
  throw std::invalid_argument("unknown kernel path '" + name + "': expected 'generic', 'avx2' or 'avx512'");
}

}  // namespace pyk

#pragma once
// CPU feature detection and the choice of kernel path (ISA).
//
// Each kernel family exposes one table of function pointers per ISA (table_generic, table_avx2,
// table_avx512). The glue picks the table of the active ISA with select_table(). The active ISA
// starts as the best the CPU and OS support and can be lowered (PYKERAS_ISA, or set_isa for tests).
#include <string>

namespace pyk {

enum class Isa : int { generic = 0, avx2 = 1, avx512 = 2 };

// Best ISA this CPU and OS support (AVX-512 needs F, BW, VL and DQ; AVX2 needs FMA too).
Isa best_supported_isa();
bool isa_supported(Isa isa);

Isa active_isa();
// Throws std::invalid_argument if the CPU lacks the ISA.
void set_active_isa(Isa isa);

const char* isa_name(Isa isa);
// Parses "generic" | "avx2" | "avx512"; throws std::invalid_argument otherwise.
Isa parse_isa(const std::string& name);

template <class Table>
const Table& select_table(const Table& generic, const Table& avx2, const Table& avx512) {
  switch (active_isa()) {
    case Isa::avx512: return avx512;
    case Isa::avx2: return avx2;
    default: return generic;
  }
}

}  // namespace pyk

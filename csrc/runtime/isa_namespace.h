#pragma once
// Kernel sources are compiled once per ISA (see CMakeLists.txt). The build defines, per copy:
//   PYK_ISA_NS     the namespace that holds this ISA's code (isa_generic, isa_avx2, isa_avx512)
//   PYK_ISA_NAME   generic | avx2 | avx512
//   PYK_ISA_LEVEL  0 | 1 | 2
// Every function with external linkage that an ISA copy defines must sit inside PYK_ISA_NS (or be
// its table, named *_<isa>), so that the linker can never merge an AVX-512 copy of an inline
// function into the AVX2 or generic path. csrc/tools/check_isa_symbols.py enforces this.
// Glue code (runtime/, bindings/) sees PYK_ISA_NS = glue and never calls PYK_ISA_NS functions.
#ifndef PYK_ISA_NS
#define PYK_ISA_NS glue
#define PYK_ISA_NAME glue
#define PYK_ISA_LEVEL -1
#endif

#define PYK_CONCAT_(a, b) a##b
#define PYK_CONCAT(a, b) PYK_CONCAT_(a, b)

// The name of this ISA's copy of a dispatch table: PYK_TABLE(table) -> table_avx2.
#define PYK_TABLE(name) PYK_CONCAT(PYK_CONCAT(name, _), PYK_ISA_NAME)

#pragma once
// This ISA's pooling functions, shared by the pool sources and the table (pool_table.cpp).
#include <cstdint>

#include "kernels/pool/pool.h"

namespace pyk::pool::PYK_ISA_NS {

void max_forward(const Window& w, const float* x, float* y);
void avg_forward(const Window& w, const float* x, float* y);
void max_backward(const Window& w, const float* x, const float* dy, float* dx);
void avg_backward(const Window& w, const float* dy, float* dx);

void global_max_forward(int64_t n, int64_t s, int64_t c, const float* x, float* y);
void global_avg_forward(int64_t n, int64_t s, int64_t c, const float* x, float* y);
void global_max_backward(int64_t n, int64_t s, int64_t c, const float* x, const float* dy, float* dx);
void global_avg_backward(int64_t n, int64_t s, int64_t c, const float* dy, float* dx);

}  // namespace pyk::pool::PYK_ISA_NS

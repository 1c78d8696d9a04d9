#pragma once
// 64-byte aligned memory: one cache line, one AVX-512 register. Packed GEMM panels and kernel
// scratch live here so that aligned vector loads never straddle cache lines.
#include <cstddef>
#include <cstdint>

#include "runtime/isa_namespace.h"

namespace pyk {

constexpr size_t kAlignment = 64;

// Throws std::bad_alloc on failure. aligned_free(nullptr) is a no-op.
void* aligned_malloc(size_t bytes);
void aligned_free(void* p);

namespace PYK_ISA_NS {

// Owning, move-only buffer of n T's (uninitialised). Lives in the ISA namespace because kernels
// of every ISA instantiate it.
template <class T>
class AlignedBuffer {
 public:
  AlignedBuffer() = default;
  explicit AlignedBuffer(size_t n) : data_(static_cast<T*>(aligned_malloc(n * sizeof(T)))), size_(n) {}
  ~AlignedBuffer() { aligned_free(data_); }
  AlignedBuffer(AlignedBuffer&& o) noexcept : data_(o.data_), size_(o.size_) { o.data_ = nullptr; o.size_ = 0; }
  AlignedBuffer& operator=(AlignedBuffer&& o) noexcept {
    if (this != &o) { aligned_free(data_); data_ = o.data_; size_ = o.size_; o.data_ = nullptr; o.size_ = 0; }
    return *this;
  }
  AlignedBuffer(const AlignedBuffer&) = delete;
  AlignedBuffer& operator=(const AlignedBuffer&) = delete;

  // Grows (never shrinks) to hold at least n elements; contents are not preserved.
  void reserve(size_t n) {
    if (n > size_) { aligned_free(data_); data_ = nullptr; size_ = 0; data_ = static_cast<T*>(aligned_malloc(n * sizeof(T))); size_ = n; }
  }
  T* data() { return data_; }
  const T* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  T* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace PYK_ISA_NS
}  // namespace pyk

#include "runtime/aligned.h"

#include <cstdlib>
#include <new>

namespace pyk {

void* aligned_malloc(size_t bytes) {
  if (bytes == 0) bytes = kAlignment;
  // aligned_alloc wants a size that is a multiple of the alignment.
  const size_t rounded = (bytes + kAlignment - 1) / kAlignment * kAlignment;
  if (rounded < bytes) throw std::bad_alloc();
  void* p = std::aligned_alloc(kAlignment, rounded);
  if (!p) throw std::bad_alloc();
  return p;
}

void aligned_free(void* p) { std::free(p); }

}  // namespace pyk

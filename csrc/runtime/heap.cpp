#include "runtime/heap.h"

#include <climits>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace pyk {

bool keep_freed_memory(size_t bytes) {
#if defined(__GLIBC__)
  if (bytes == 0 || bytes > size_t(INT_MAX) / 2) return false;
  const int threshold = static_cast<int>(bytes);
  // Setting either limit also turns off glibc's adaptive threshold, which would otherwise move it.
  return mallopt(M_MMAP_THRESHOLD, threshold) == 1 && mallopt(M_TRIM_THRESHOLD, 2 * threshold) == 1;
#else
  (void)bytes;
  return false;
#endif
}

}  // namespace pyk

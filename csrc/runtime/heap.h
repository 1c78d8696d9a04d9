#pragma once
// The C library's heap policy for large arrays. By default glibc maps every allocation above an
// adaptive threshold (at most 32 MiB) with mmap and unmaps it on free, and gives the top of the
// heap back to the system as soon as 128 KiB of it are free. A training step or a forward pass
// allocates and frees the same large activations on every call, so each call then faults in
// fresh zeroed pages for all of them: on ResNet50 at batch 8, ~87,000 page faults per forward
// pass, doubling its time. keep_freed_memory raises both limits so freed activations stay mapped
// and are reused by the next call.
#include <cstddef>

namespace pyk {

// Allocations up to `bytes` come from the heap, and up to 2 x `bytes` of free heap is kept
// mapped. Returns false where the C library has no such settings (not glibc).
bool keep_freed_memory(size_t bytes);

}  // namespace pyk

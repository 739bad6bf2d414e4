// common/crc32c.h — CRC32C (Castagnoli), the checksum on every weft packet.
// Uses the SSE4.2 crc32 instruction when the CPU has it (checked once at
// start-up), a slicing-by-8 table otherwise.
#pragma once

#include <cstddef>
#include <cstdint>

namespace weft {

// Extend `crc` (start with 0) over `n` bytes. crc32c(crc32c(0,a),b) == crc32c(0,a||b).
uint32_t crc32c(uint32_t crc, const void* data, size_t n);

// Copies `n` bytes from `src` to `dst` (which must not overlap) and extends
// `crc` over them, reading each byte once: the receive path checks a payload
// while placing it, instead of a checksum pass followed by a copy.
uint32_t crc32c_copy(uint32_t crc, void* dst, const void* src, size_t n);

// The portable implementation, exposed so tests can compare both paths.
uint32_t crc32c_portable(uint32_t crc, const void* data, size_t n);
bool crc32c_hardware_available();

}  // namespace weft

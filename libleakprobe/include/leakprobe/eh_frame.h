// The .eh_frame / .eh_frame_hdr byte reader, defined once: the probe compiles frame rules
// with it inside malloc (libleakprobe/src/frame_rule.cpp) and the symbolizer indexes FDEs
// with it offline (tools/symbolize/src/fde_index.cpp), so both read every encoding, and
// every malformed one, the same way. Header-only, no allocation, no system call.
//
// Encodings are the LSB "Exception Frame" ones (DW_EH_PE_*). Little-endian only (x86_64,
// aarch64). A read past the end, a LEB128 longer than 10 bytes (64 bits need at most 10),
// or an unknown encoding fails the cursor: it then stays at the end and reads only zeros.
#pragma once

#include <cstddef>
#include <cstdint>

namespace leakprobe::eh {

// Pointer encodings: the low nibble is the format, bits 0x70 what it is relative to, 0x80
// indirect.
inline constexpr uint8_t kPeAbsptr = 0x00;
inline constexpr uint8_t kPeUleb = 0x01;
inline constexpr uint8_t kPeUdata2 = 0x02;
inline constexpr uint8_t kPeUdata4 = 0x03;
inline constexpr uint8_t kPeUdata8 = 0x04;
inline constexpr uint8_t kPeSleb = 0x09;
inline constexpr uint8_t kPeSdata2 = 0x0a;
inline constexpr uint8_t kPeSdata4 = 0x0b;
inline constexpr uint8_t kPeSdata8 = 0x0c;
inline constexpr uint8_t kPePcrel = 0x10;
inline constexpr uint8_t kPeDatarel = 0x30;
inline constexpr uint8_t kPeApplication = 0x70;
inline constexpr uint8_t kPeIndirect = 0x80;
inline constexpr uint8_t kPeOmit = 0xff;

// LEB128 longer than this is malformed (and refused): 10 bytes carry 70 bits.
inline constexpr int kMaxLebBytes = 10;

class Cursor {
 public:
  Cursor(const uint8_t* p, const uint8_t* end) : p_(p), end_(end) {}

  const uint8_t* position() const { return p_; }
  const uint8_t* end() const { return end_; }
  bool ok() const { return ok_; }
  size_t left() const { return static_cast<size_t>(end_ - p_); }
  // Narrows the end (an entry's own length); never widens it.
  void limit(const uint8_t* end) {
    if (end < end_) end_ = end;
  }
  // Moves forward n bytes; fails if fewer are left.
  bool skip(uint64_t n) {
    if (!ok_ || left() < n) return fail(), false;
    p_ += n;
    return true;
  }

  uint8_t u8() { return static_cast<uint8_t>(fixed(1)); }
  // An unsigned little-endian value of `size` bytes (1..8).
  uint64_t fixed(size_t size) {
    if (!ok_ || left() < size) return fail();
    uint64_t v = 0;
    for (size_t i = 0; i < size; ++i) v |= static_cast<uint64_t>(p_[i]) << (8 * i);
    p_ += size;
    return v;
  }
  uint64_t uleb() {
    uint64_t v = 0;
    for (int i = 0; i < kMaxLebBytes; ++i) {
      if (!ok_ || p_ >= end_) return fail();
      const uint8_t b = *p_++;
      const int shift = 7 * i;
      if (shift < 64) v |= static_cast<uint64_t>(b & 0x7f) << shift;
      if (!(b & 0x80)) return v;
    }
    return fail();
  }
  int64_t sleb() {
    uint64_t v = 0;
    for (int i = 0; i < kMaxLebBytes; ++i) {
      if (!ok_ || p_ >= end_) return static_cast<int64_t>(fail());
      const uint8_t b = *p_++;
      const int shift = 7 * i;
      if (shift < 64) v |= static_cast<uint64_t>(b & 0x7f) << shift;
      if (!(b & 0x80)) {
        if (shift + 7 < 64 && (b & 0x40)) v |= ~uint64_t{0} << (shift + 7);
        return static_cast<int64_t>(v);
      }
    }
    return static_cast<int64_t>(fail());
  }
  // The raw value of an encoded pointer, before its application (pcrel, datarel).
  uint64_t encoded(uint8_t encoding, size_t address_size = 8) {
    switch (encoding & 0x0f) {
      case kPeAbsptr:
        return fixed(address_size);
      case kPeUleb:
        return uleb();
      case kPeUdata2:
        return fixed(2);
      case kPeUdata4:
        return fixed(4);
      case kPeUdata8:
        return fixed(8);
      case kPeSleb:
        return static_cast<uint64_t>(sleb());
      case kPeSdata2:
        return static_cast<uint64_t>(static_cast<int64_t>(static_cast<int16_t>(fixed(2))));
      case kPeSdata4:
        return static_cast<uint64_t>(static_cast<int64_t>(static_cast<int32_t>(fixed(4))));
      case kPeSdata8:
        return fixed(8);
      default:
        return fail();
    }
  }
  // An encoded pointer in mapped memory, applied: pcrel against the field's own address,
  // datarel against `datarel` (the .eh_frame_hdr). Indirect pointers (personality routines)
  // are returned as the address of the pointer, never followed. Omit reads nothing.
  uintptr_t pointer(uint8_t encoding, uintptr_t datarel = 0) {
    if (encoding == kPeOmit) return 0;
    const auto here = reinterpret_cast<uintptr_t>(p_);
    uint64_t v = encoded(encoding);
    switch (encoding & kPeApplication) {
      case 0:
        break;
      case kPePcrel:
        v += here;
        break;
      case kPeDatarel:
        v += datarel;
        break;
      default:
        return fail();  // textrel/funcrel/aligned: not emitted on x86_64 Linux
    }
    return static_cast<uintptr_t>(v);
  }

 private:
  uint64_t fail() {
    ok_ = false;
    p_ = end_;
    return 0;
  }
  const uint8_t* p_;
  const uint8_t* end_;
  bool ok_ = true;
};

}  // namespace leakprobe::eh

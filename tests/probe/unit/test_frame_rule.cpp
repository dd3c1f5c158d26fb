// Frame rules compiled from .eh_frame bytes built here, without LD_PRELOAD: the probe's CFI
// interpreter (frame_rule.cpp) and the shared byte reader (leakprobe/eh_frame.h) case by case.
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "frame_rule.h"
#include "leakprobe/eh_frame.h"

namespace leakprobe {
namespace {

// DWARF CFA opcodes used below.
constexpr uint8_t kAdvance1 = 0x41;          // DW_CFA_advance_loc 1
constexpr uint8_t kAdvance3 = 0x43;          // DW_CFA_advance_loc 3
constexpr uint8_t kDefCfa = 0x0c;            // reg, offset
constexpr uint8_t kDefCfaRegister = 0x0d;    // reg
constexpr uint8_t kDefCfaOffset = 0x0e;      // offset
constexpr uint8_t kDefCfaExpression = 0x0f;  // length, expression
constexpr uint8_t kOffsetRa = 0x90;          // DW_CFA_offset r16, then factored offset
constexpr uint8_t kOffsetRbp = 0x86;         // DW_CFA_offset r6
constexpr uint8_t kNop = 0x00;

void put32(std::vector<uint8_t>* b, size_t at, uint32_t v) { std::memcpy(&(*b)[at], &v, 4); }
void add32(std::vector<uint8_t>* b, uint32_t v) {
  b->resize(b->size() + 4);
  put32(b, b->size() - 4, v);
}

// One position-independent blob: .eh_frame_hdr (binary search table of one FDE), one CIE,
// one FDE covering [kCode, kCode + kCodeSize) relative to the blob's start. Every pointer is
// pcrel or datarel, so the blob can be copied anywhere (e.g. against a PROT_NONE page).
constexpr uint32_t kCode = 0x10000;
constexpr uint32_t kCodeSize = 0x40;

struct Blob {
  std::vector<uint8_t> bytes;
};

Blob build(const std::string& augmentation, const std::vector<uint8_t>& fde_insns,
           size_t truncate_fde_by = 0) {
  std::vector<uint8_t> b;
  // .eh_frame_hdr: version, eh_frame_ptr enc (pcrel sdata4), count enc (udata4), table enc
  // (datarel sdata4).
  b.insert(b.end(), {1, 0x1b, 0x03, 0x3b});
  const size_t eh_frame_ptr_at = b.size();
  add32(&b, 0);
  add32(&b, 1);  // one FDE
  const size_t table_at = b.size();
  add32(&b, kCode);  // initial location, relative to the header
  add32(&b, 0);      // FDE address, relative to the header (patched below)

  // CIE.
  const size_t cie_at = b.size();
  put32(&b, eh_frame_ptr_at, static_cast<uint32_t>(cie_at - eh_frame_ptr_at));
  std::vector<uint8_t> cie = {0, 0, 0, 0, 1};  // CIE id 0, version 1
  cie.insert(cie.end(), augmentation.begin(), augmentation.end());
  cie.push_back(0);
  cie.push_back(1);     // code alignment 1
  cie.push_back(0x78);  // data alignment -8
  cie.push_back(16);    // return address register
  cie.push_back(1);     // augmentation data length
  cie.push_back(0x1b);  // 'R': FDE pointers pcrel sdata4
  // Initial instructions: CFA = rsp + 8, return address at CFA - 8.
  cie.insert(cie.end(), {kDefCfa, 7, 8, kOffsetRa, 1});
  while ((cie.size() + 4) % 8) cie.push_back(kNop);
  add32(&b, static_cast<uint32_t>(cie.size()));
  b.insert(b.end(), cie.begin(), cie.end());

  // FDE.
  const size_t fde_at = b.size();
  put32(&b, table_at + 4, static_cast<uint32_t>(fde_at));
  std::vector<uint8_t> body;
  body.resize(4);  // CIE pointer: from this field back to the CIE
  uint32_t back = static_cast<uint32_t>(fde_at + 4 - cie_at);
  std::memcpy(body.data(), &back, 4);
  const size_t loc_field = fde_at + 4 + body.size();
  const int32_t loc = static_cast<int32_t>(kCode) - static_cast<int32_t>(loc_field);
  body.resize(body.size() + 4);
  std::memcpy(&body[body.size() - 4], &loc, 4);
  body.resize(body.size() + 4);
  std::memcpy(&body[body.size() - 4], &kCodeSize, 4);
  body.push_back(0);  // augmentation data length
  body.insert(body.end(), fde_insns.begin(), fde_insns.end());
  if (!truncate_fde_by) {
    while ((body.size() + 4) % 8) body.push_back(kNop);
  } else {
    body.resize(body.size() - truncate_fde_by);
  }
  add32(&b, static_cast<uint32_t>(body.size()));
  b.insert(b.end(), body.begin(), body.end());
  return Blob{b};
}

// The blob copied so that its last byte is the last byte before a PROT_NONE page: any read
// past the end of the FDE faults (and fails the test run).
class Fenced {
 public:
  explicit Fenced(const Blob& blob) {
    page_ = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    size_ = ((blob.bytes.size() + page_ - 1) / page_ + 1) * page_;
    void* m = mmap(nullptr, size_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    EXPECT_NE(m, MAP_FAILED);
    base_ = static_cast<uint8_t*>(m);
    EXPECT_EQ(mprotect(base_ + size_ - page_, page_, PROT_NONE), 0);
    hdr_ = base_ + size_ - page_ - blob.bytes.size();
    std::memcpy(hdr_, blob.bytes.data(), blob.bytes.size());
  }
  ~Fenced() { munmap(base_, size_); }
  Fenced(const Fenced&) = delete;
  Fenced& operator=(const Fenced&) = delete;

  FrameRule at(uint32_t offset) const {
    return compile_frame_rule_from(hdr_, reinterpret_cast<uintptr_t>(hdr_) + kCode + offset);
  }

 private:
  size_t page_ = 0;
  size_t size_ = 0;
  uint8_t* base_ = nullptr;
  uint8_t* hdr_ = nullptr;
};

// push rbp (1 byte); mov rbp, rsp (3 bytes); then the body.
const std::vector<uint8_t> kFramePointerPrologue = {
    kAdvance1, kDefCfaOffset,   16, kOffsetRbp, 2,  // after push: CFA = rsp+16, rbp at CFA-16
    kAdvance3, kDefCfaRegister, 6,                  // after mov: CFA = rbp+16
};

TEST(FrameRule, PushRbpMovRbpRsp) {
  Fenced f(build("zR", kFramePointerPrologue));
  FrameRule entry = f.at(0);
  EXPECT_EQ(entry.kind, RuleKind::kNormal);
  EXPECT_FALSE(entry.cfa_from_bp);
  EXPECT_EQ(entry.cfa_offset, 8);
  EXPECT_FALSE(entry.bp_saved);

  FrameRule pushed = f.at(1);
  EXPECT_EQ(pushed.kind, RuleKind::kNormal);
  EXPECT_FALSE(pushed.cfa_from_bp);
  EXPECT_EQ(pushed.cfa_offset, 16);
  EXPECT_TRUE(pushed.bp_saved);
  EXPECT_EQ(pushed.bp_offset, -16);

  for (uint32_t body : {4u, 5u, kCodeSize - 1}) {
    FrameRule r = f.at(body);
    EXPECT_EQ(r.kind, RuleKind::kNormal) << body;
    EXPECT_TRUE(r.cfa_from_bp) << body;
    EXPECT_EQ(r.cfa_offset, 16) << body;
    EXPECT_TRUE(r.bp_saved) << body;
    EXPECT_EQ(r.bp_offset, -16) << body;
  }
}

TEST(FrameRule, OutsideTheFdeIsNoFde) {
  Fenced f(build("zR", kFramePointerPrologue));
  EXPECT_EQ(f.at(kCodeSize).why, RuleWhy::kNoFde);
  EXPECT_EQ(f.at(kCodeSize).kind, RuleKind::kUnsupported);
}

TEST(FrameRule, DwarfExpressionCfaIsUnsupported) {
  // CFA = DW_OP_breg7 (rsp) 8; DW_OP_deref: a computed CFA, as in PLT stubs.
  Fenced f(build("zR", {kAdvance1, kDefCfaExpression, 3, 0x77, 0x08, 0x06}));
  EXPECT_EQ(f.at(0).kind, RuleKind::kNormal);  // before the expression takes effect
  FrameRule r = f.at(1);
  EXPECT_EQ(r.kind, RuleKind::kUnsupported);
  EXPECT_EQ(r.why, RuleWhy::kCfaExpression);
}

TEST(FrameRule, TruncatedFdeReadsNothingPastItsEnd) {
  // The FDE ends in the middle of DW_CFA_def_cfa_offset (its operand is cut off) right
  // before a PROT_NONE page: the operand must not be read from beyond the entry.
  Fenced f(build("zR", {kAdvance1, kDefCfaOffset, 0x90, 0x01}, /*truncate_fde_by=*/2));
  EXPECT_EQ(f.at(0).kind, RuleKind::kNormal);  // the instructions before the cut still apply
  FrameRule r = f.at(1);
  EXPECT_EQ(r.kind, RuleKind::kUnsupported);
  EXPECT_EQ(r.why, RuleWhy::kBadCfi);
}

TEST(FrameRule, SignalFrameAugmentation) {
  Fenced f(build("zRS", {}));
  EXPECT_EQ(f.at(0).kind, RuleKind::kSignal);
  EXPECT_EQ(f.at(kCodeSize - 1).kind, RuleKind::kSignal);
}

TEST(FrameRule, UnknownAugmentationIsBadCfi) {
  Fenced f(build("xR", {}));
  EXPECT_EQ(f.at(0).why, RuleWhy::kBadCfi);
}

TEST(FrameRule, NoHeaderIsNoUnwindTable) {
  EXPECT_EQ(compile_frame_rule_from(nullptr, 0x1000).why, RuleWhy::kNoUnwindTable);
  const uint8_t version2[16] = {2, 0x1b, 0x03, 0x3b};
  EXPECT_EQ(compile_frame_rule_from(version2, 0x1000).why, RuleWhy::kNoUnwindTable);
}

// The shared reader: LEB128 edges, read the same way by the probe and the symbolizer.
TEST(EhFrameCursor, LebEdges) {
  const uint8_t minus_one[] = {0x7f};
  eh::Cursor a(minus_one, minus_one + 1);
  EXPECT_EQ(a.sleb(), -1);
  EXPECT_TRUE(a.ok());

  // INT64_MIN in 10 bytes: the longest well-formed SLEB128.
  const uint8_t min64[] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x7f};
  eh::Cursor b(min64, min64 + sizeof min64);
  EXPECT_EQ(b.sleb(), INT64_MIN);
  EXPECT_TRUE(b.ok());

  // 11 bytes (a redundant continuation): overlong, refused, for SLEB and ULEB alike.
  const uint8_t overlong[] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00};
  eh::Cursor c(overlong, overlong + sizeof overlong);
  c.sleb();
  EXPECT_FALSE(c.ok());
  eh::Cursor d(overlong, overlong + sizeof overlong);
  d.uleb();
  EXPECT_FALSE(d.ok());

  // Cut off in the middle: fails, reads nothing more.
  const uint8_t cut[] = {0x80, 0x80};
  eh::Cursor e(cut, cut + sizeof cut);
  EXPECT_EQ(e.uleb(), 0u);
  EXPECT_FALSE(e.ok());
  EXPECT_EQ(e.u8(), 0u);
}

TEST(EhFrameCursor, EncodedPointers) {
  const uint8_t bytes[] = {0xfe, 0xff, 0xff, 0xff, 0x10, 0x00};
  eh::Cursor a(bytes, bytes + sizeof bytes);
  EXPECT_EQ(a.pointer(eh::kPeSdata4 | eh::kPePcrel), reinterpret_cast<uintptr_t>(bytes) - 2);
  EXPECT_EQ(a.pointer(eh::kPeUdata2, 0), 0x10u);
  EXPECT_TRUE(a.ok());
  EXPECT_EQ(a.pointer(eh::kPeUdata2), 0u);  // past the end
  EXPECT_FALSE(a.ok());

  eh::Cursor b(bytes, bytes + sizeof bytes);
  b.pointer(0x0d);  // not an encoding
  EXPECT_FALSE(b.ok());
  eh::Cursor c(bytes, bytes + sizeof bytes);
  c.pointer(eh::kPeSdata4 | 0x20);  // textrel: not on x86_64 Linux
  EXPECT_FALSE(c.ok());
}

}  // namespace
}  // namespace leakprobe

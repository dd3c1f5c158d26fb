#include "frame_rule.h"

#include <dlfcn.h>

#include <cstring>

#include "leakprobe/eh_frame.h"

namespace leakprobe {
namespace {

// DWARF register numbers on x86_64.
constexpr unsigned kRegRbp = 6;
constexpr unsigned kRegRsp = 7;
constexpr unsigned kRegRa = 16;

using eh::kPeAbsptr;
using eh::kPeDatarel;
using eh::kPeIndirect;
using eh::kPeOmit;
using eh::kPeSdata4;
// .eh_frame_hdr's search table as every linker writes it: datarel, signed 4-byte.
constexpr uint8_t kHdrTableEnc = kPeDatarel | kPeSdata4;

// A bounded cursor over the module's tables (leakprobe/eh_frame.h, shared with the
// symbolizer): a malformed entry makes it fail, never read past the entry.
using Reader = eh::Cursor;

enum : uint8_t { kSame = 0, kUndefined = 1, kAtCfa = 2, kOther = 3 };

struct RegRule {
  uint8_t type = kSame;
  int64_t offset = 0;
};

struct CfiState {
  unsigned cfa_reg = kRegRsp;
  int64_t cfa_offset = 0;
  bool cfa_expression = false;
  RegRule bp;
  RegRule ra;
};

struct Cie {
  uint64_t code_align = 1;
  int64_t data_align = 0;
  uint8_t fde_encoding = kPeAbsptr;
  bool has_augmentation_data = false;
  bool signal_frame = false;
  const uint8_t* insns = nullptr;
  const uint8_t* insns_end = nullptr;
};

// Parses the CIE at `p` (its length field). False if it is not one we can use.
bool parse_cie(const uint8_t* p, Cie* cie, RuleWhy* why) {
  Reader r{p, p + 8};
  const auto len = static_cast<uint32_t>(r.fixed(4));
  if (!r.ok() || len == 0 || len == 0xffffffffu) return *why = RuleWhy::kBadCfi, false;
  r = Reader{p + 4, p + 4 + len};
  if (r.fixed(4) != 0) return *why = RuleWhy::kBadCfi, false;  // not a CIE
  uint8_t version = r.u8();
  if (version != 1 && version != 3 && version != 4) return *why = RuleWhy::kBadCfi, false;
  const char* aug = reinterpret_cast<const char*>(r.position());
  while (r.left() && *r.position()) r.skip(1);
  r.u8();
  if (!r.ok() || (aug[0] && aug[0] != 'z')) return *why = RuleWhy::kBadCfi, false;
  if (version == 4) {
    if (r.u8() != 8 || r.u8() != 0) return *why = RuleWhy::kBadCfi, false;
  }
  cie->code_align = r.uleb();
  cie->data_align = r.sleb();
  uint64_t ra_reg = version == 1 ? r.u8() : r.uleb();
  if (!r.ok() || ra_reg != kRegRa) return *why = RuleWhy::kBadCfi, false;
  if (aug[0] == 'z') {
    cie->has_augmentation_data = true;
    uint64_t aug_len = r.uleb();
    if (!r.ok() || r.left() < aug_len) return *why = RuleWhy::kBadCfi, false;
    const uint8_t* aug_end = r.position() + aug_len;
    // An unknown letter ends the walk: the length lets the rest be skipped.
    bool known = true;
    for (const char* a = aug + 1; *a && known && r.ok(); ++a) {
      switch (*a) {
        case 'R':
          cie->fde_encoding = r.u8();
          break;
        case 'P':
          r.pointer(static_cast<uint8_t>(r.u8() & ~kPeIndirect));
          break;
        case 'L':
          r.u8();
          break;
        case 'S':
          cie->signal_frame = true;
          break;
        default:
          known = false;
          break;
      }
    }
    if (!r.ok() || r.position() > aug_end) return *why = RuleWhy::kBadCfi, false;
    r.skip(static_cast<uint64_t>(aug_end - r.position()));
  }
  cie->insns = r.position();
  cie->insns_end = r.end();
  return true;
}

// Runs CFA instructions [p, end) from `loc` while the location stays <= target.
// Returns false (with *why) on an opcode this reader cannot follow.
bool run_cfi(const uint8_t* p, const uint8_t* end, const Cie& cie, uintptr_t target, uintptr_t* loc,
             CfiState* st, const CfiState& initial, RuleWhy* why) {
  constexpr int kMaxRemembered = 8;
  CfiState remembered[kMaxRemembered];
  int nremembered = 0;
  Reader r{p, end};
  auto set_reg = [&](uint64_t reg, uint8_t type, int64_t offset) {
    RegRule* rule = reg == kRegRbp ? &st->bp : reg == kRegRa ? &st->ra : nullptr;
    if (rule) *rule = RegRule{type, offset};
  };
  auto restore_reg = [&](uint64_t reg) {
    if (reg == kRegRbp) st->bp = initial.bp;
    if (reg == kRegRa) st->ra = initial.ra;
  };
  auto advance = [&](uint64_t delta) {
    *loc += delta * cie.code_align;
    return *loc <= target;
  };
  while (r.ok() && r.left()) {
    uint8_t op = r.u8();
    uint8_t low = op & 0x3f;
    switch (op & 0xc0) {
      case 0x40:
        if (!advance(low)) return r.ok();
        continue;
      case 0x80:
        set_reg(low, kAtCfa, static_cast<int64_t>(r.uleb()) * cie.data_align);
        continue;
      case 0xc0:
        restore_reg(low);
        continue;
      default:
        break;
    }
    switch (op) {
      case 0x00:
        break;      // nop
      case 0x01: {  // set_loc
        *loc = r.pointer(cie.fde_encoding);
        if (*loc > target) return r.ok();
        break;
      }
      case 0x02:
        if (!advance(r.u8())) return r.ok();
        break;
      case 0x03:
        if (!advance(r.fixed(2))) return r.ok();
        break;
      case 0x04:
        if (!advance(r.fixed(4))) return r.ok();
        break;
      case 0x05: {  // offset_extended
        uint64_t reg = r.uleb();
        set_reg(reg, kAtCfa, static_cast<int64_t>(r.uleb()) * cie.data_align);
        break;
      }
      case 0x06:
        restore_reg(r.uleb());
        break;
      case 0x07:
        set_reg(r.uleb(), kUndefined, 0);
        break;
      case 0x08:
        set_reg(r.uleb(), kSame, 0);
        break;
      case 0x09: {  // register: saved in another register
        uint64_t reg = r.uleb();
        r.uleb();
        set_reg(reg, kOther, 0);
        break;
      }
      case 0x0a:
        if (nremembered == kMaxRemembered) return *why = RuleWhy::kBadCfi, false;
        remembered[nremembered++] = *st;
        break;
      case 0x0b:
        if (nremembered == 0) return *why = RuleWhy::kBadCfi, false;
        // As in libgcc, the remembered state includes the CFA rule (gcc's epilogues rely on it).
        *st = remembered[--nremembered];
        break;
      case 0x0c:  // def_cfa
        st->cfa_reg = static_cast<unsigned>(r.uleb());
        st->cfa_offset = static_cast<int64_t>(r.uleb());
        st->cfa_expression = false;
        break;
      case 0x0d:
        st->cfa_reg = static_cast<unsigned>(r.uleb());
        break;
      case 0x0e:
        st->cfa_offset = static_cast<int64_t>(r.uleb());
        break;
      case 0x0f: {  // def_cfa_expression
        r.skip(r.uleb());
        st->cfa_expression = true;
        break;
      }
      case 0x10:    // expression
      case 0x16: {  // val_expression
        uint64_t reg = r.uleb();
        r.skip(r.uleb());
        set_reg(reg, kOther, 0);
        break;
      }
      case 0x11: {  // offset_extended_sf
        uint64_t reg = r.uleb();
        set_reg(reg, kAtCfa, r.sleb() * cie.data_align);
        break;
      }
      case 0x12:  // def_cfa_sf
        st->cfa_reg = static_cast<unsigned>(r.uleb());
        st->cfa_offset = r.sleb() * cie.data_align;
        st->cfa_expression = false;
        break;
      case 0x13:
        st->cfa_offset = r.sleb() * cie.data_align;
        break;
      case 0x14:    // val_offset
      case 0x15: {  // val_offset_sf
        uint64_t reg = r.uleb();
        if (op == 0x14)
          r.uleb();
        else
          r.sleb();
        set_reg(reg, kOther, 0);
        break;
      }
      case 0x2e:
        r.uleb();
        break;      // GNU_args_size: only matters to exception landing pads
      case 0x2f: {  // GNU_negative_offset_extended
        uint64_t reg = r.uleb();
        set_reg(reg, kAtCfa, -static_cast<int64_t>(r.uleb()) * cie.data_align);
        break;
      }
      default:
        return *why = RuleWhy::kBadCfi, false;
    }
  }
  if (!r.ok()) *why = RuleWhy::kBadCfi;
  return r.ok();
}

FrameRule unsupported(RuleWhy why) {
  FrameRule rule;
  rule.why = why;
  return rule;
}

}  // namespace

FrameRule compile_frame_rule_from(const uint8_t* hdr, uintptr_t pc) {
  if (!hdr || hdr[0] != 1) return unsupported(RuleWhy::kNoUnwindTable);
  const auto hdr_addr = reinterpret_cast<uintptr_t>(hdr);
  Reader h{hdr + 4, hdr + 4 + 16};
  h.pointer(hdr[1], hdr_addr);  // the .eh_frame pointer: the table below is all we need
  uint64_t count = h.pointer(hdr[2], hdr_addr);
  if (!h.ok() || hdr[2] == kPeOmit || hdr[3] != kHdrTableEnc || count == 0)
    return unsupported(RuleWhy::kNoUnwindTable);
  // The table: sorted (initial location, FDE address) pairs relative to the header.
  const auto* table = reinterpret_cast<const int32_t*>(h.position());
  uint64_t lo = 0;
  uint64_t hi = count;
  while (hi - lo > 1) {
    uint64_t mid = lo + (hi - lo) / 2;
    if (hdr_addr + static_cast<intptr_t>(table[2 * mid]) <= pc)
      lo = mid;
    else
      hi = mid;
  }
  if (hdr_addr + static_cast<intptr_t>(table[2 * lo]) > pc) return unsupported(RuleWhy::kNoFde);
  const uint8_t* fde = hdr + table[2 * lo + 1];

  Reader f{fde, fde + 4};
  const auto len = static_cast<uint32_t>(f.fixed(4));
  if (!f.ok() || len == 0 || len == 0xffffffffu) return unsupported(RuleWhy::kBadCfi);
  f = Reader{fde + 4, fde + 4 + len};
  const uint8_t* cie_field = f.position();
  const auto cie_offset = static_cast<uint32_t>(f.fixed(4));
  if (!f.ok() || cie_offset == 0) return unsupported(RuleWhy::kBadCfi);
  Cie cie;
  RuleWhy why = RuleWhy::kNone;
  if (!parse_cie(cie_field - cie_offset, &cie, &why)) return unsupported(why);
  uintptr_t begin = f.pointer(cie.fde_encoding);
  uintptr_t range = f.pointer(cie.fde_encoding & 0x0f);
  if (cie.has_augmentation_data) f.skip(f.uleb());
  if (!f.ok()) return unsupported(RuleWhy::kBadCfi);
  if (pc < begin || pc - begin >= range) return unsupported(RuleWhy::kNoFde);

  FrameRule rule;
  if (cie.signal_frame) {
    rule.kind = RuleKind::kSignal;
    return rule;
  }
  CfiState st;
  uintptr_t loc = begin;
  if (!run_cfi(cie.insns, cie.insns_end, cie, pc, &loc, &st, st, &why)) return unsupported(why);
  const CfiState initial = st;
  loc = begin;
  if (!run_cfi(f.position(), f.end(), cie, pc, &loc, &st, initial, &why)) return unsupported(why);

  if (st.ra.type == kUndefined) {
    rule.kind = RuleKind::kEnd;
    return rule;
  }
  if (st.cfa_expression || (st.cfa_reg != kRegRsp && st.cfa_reg != kRegRbp))
    return unsupported(RuleWhy::kCfaExpression);
  if (st.ra.type != kAtCfa || st.ra.offset != -8) return unsupported(RuleWhy::kReturnAddress);
  if (st.bp.type == kOther) return unsupported(RuleWhy::kFramePointer);
  if (st.cfa_offset < 8 || st.cfa_offset > INT32_MAX || st.bp.offset < INT32_MIN ||
      st.bp.offset > INT32_MAX)
    return unsupported(RuleWhy::kCfaExpression);
  rule.kind = RuleKind::kNormal;
  rule.cfa_from_bp = st.cfa_reg == kRegRbp;
  rule.cfa_offset = static_cast<int32_t>(st.cfa_offset);
  rule.bp_saved = st.bp.type == kAtCfa;
  rule.bp_offset = static_cast<int32_t>(st.bp.offset);
  return rule;
}

FrameRule compile_frame_rule(uintptr_t pc) {
  // glibc >= 2.35: lock-free, allocation-free, safe while another thread runs dlopen.
  dl_find_object obj;
  if (_dl_find_object(reinterpret_cast<void*>(pc), &obj) != 0)
    return unsupported(RuleWhy::kNoModule);
  return compile_frame_rule_from(static_cast<const uint8_t*>(obj.dlfo_eh_frame), pc);
}

const char* rule_why_name(RuleWhy why) {
  switch (why) {
    case RuleWhy::kNone:
      return "none";
    case RuleWhy::kNoModule:
      return "no_module";
    case RuleWhy::kNoUnwindTable:
      return "no_unwind_table";
    case RuleWhy::kNoFde:
      return "no_fde";
    case RuleWhy::kCfaExpression:
      return "cfa_expression";
    case RuleWhy::kReturnAddress:
      return "return_address";
    case RuleWhy::kFramePointer:
      return "frame_pointer";
    case RuleWhy::kBadCfi:
      return "bad_cfi";
    case RuleWhy::kCount:
      break;
  }
  return "unknown";
}

}  // namespace leakprobe

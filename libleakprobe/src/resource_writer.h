// The resource part of a snapshot (docs/snapshot-format.md, "Resource sections"): first the
// table is reconciled with /proc/self/fd, then one "# leakprobe.section: <kind>" block per
// kind that has lines. Allocation-free, like the rest of the writer.
#pragma once

namespace leakprobe {

class Out;
class ResourceTable;

// `t` may be nullptr (resource tracking off): then only "# leakprobe.resources: 0".
void write_resource_sections(Out& out, ResourceTable* t);

}  // namespace leakprobe

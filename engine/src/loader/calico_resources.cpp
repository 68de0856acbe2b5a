// projectcalico.org/v3 resources other than policies: Tier, NetworkSet,
// GlobalNetworkSet, HostEndpoint (calico-semantics.md §3.8–§3.10, §5.4).
#include "readers.h"

namespace rampart::engine::loader {

void read_calico_policy(const MapView& doc, Model&, PolicyKind) {
  doc.sink().report("RP0011", "Calico policies are not read yet; skipped", doc.node());
}
void read_tier(const MapView& doc, Model&) { doc.sink().report("RP0011", "Tier not read yet", doc.node()); }
void read_network_set(const MapView& doc, Model&, bool) {
  doc.sink().report("RP0011", "NetworkSet not read yet", doc.node());
}
void read_host_endpoint(const MapView& doc, Model&) {
  doc.sink().report("RP0011", "HostEndpoint not read yet", doc.node());
}

}  // namespace rampart::engine::loader

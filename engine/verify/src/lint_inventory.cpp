// RV002, RV003, RV104: concrete checks over the inventory (no solver).
#include "linter.h"

#include <set>

#include "rampart/engine/label_index.h"

namespace rampart::verify::detail::lint {

// ---- RV002, RV003, RV104 (concrete, over the inventory) ----------------
void Linter::check_inventory() {
  const Model& model = shared_.model;
  Sink& sink = sink_;
  Timer timer{&sink, "inventory"};
  if (model.endpoints.empty()) return;
  std::vector<const engine::Endpoint*> pods;
  for (const auto& e : model.endpoints)
    if (e.kind == engine::EndpointKind::kPod) pods.push_back(&e);
  // Pods, then network sets (peers may match either).
  std::vector<const Labels*> maps;
  for (const auto& e : model.endpoints) maps.push_back(&e.effective_labels);
  for (const auto& n : model.network_sets) maps.push_back(&n.effective_labels);
  // Selectors are matched through the engine's inverted index (the same
  // answers as SelectorMatcher, from the labels they name).
  const engine::LabelIndex index(maps);
  std::map<const Policy*, std::vector<const engine::Endpoint*>> selected;
  // Generated and real policy sets repeat selectors: each distinct one is
  // matched against the inventory once.
  std::map<std::string, std::vector<const engine::Endpoint*>, std::less<>> selections;
  std::map<std::string, bool, std::less<>> peer_matches;
  for (const auto& p : model.policies) {
    if (!p.applies_to_workloads() || !p.effective_selector) continue;
    const std::string key = p.effective_selector->canonical();
    auto known = selections.find(key);
    if (known == selections.end()) {
      known = selections.emplace(key, std::vector<const engine::Endpoint*>{}).first;
      for (std::uint32_t i : index.select(*p.effective_selector))
        if (i < model.endpoints.size()) known->second.push_back(&model.endpoints[i]);
    }
    selected[&p] = known->second;
    if (selected[&p].empty())
      sink.add(kRuleDanglingPolicy, Severity::kWarning,
               "policy " + p.qualified_name() + " selects no workload of the inventory (" +
                   std::to_string(model.endpoints.size()) + " endpoints)",
               p.where);
    for (Direction d : {Direction::kIngress, Direction::kEgress}) {
      const auto& rules = p.rules(d);
      for (std::size_t i = 0; i < rules.size(); ++i)
        for (const auto* er : {&rules[i].source, &rules[i].destination}) {
          if (!er->effective_selector) continue;
          const std::string peer_key = er->effective_selector->canonical();
          auto peer = peer_matches.find(peer_key);
          if (peer == peer_matches.end()) {
            const bool found = !index.select(*er->effective_selector).empty();
            peer = peer_matches.emplace(peer_key, found).first;
          }
          const bool any = peer->second;
          if (!any)
            sink.add(kRuleDanglingPeer, Severity::kWarning,
                     rule_name(p, d, static_cast<int>(i)) + ": the " +
                         (er == &rules[i].source ? "source" : "destination") + " selector `" +
                         er->effective_selector->canonical() + "` matches no workload or network set of the inventory",
                     er->where.known() ? er->where : rules[i].where);
        }
    }
  }
  // Which endpoints some policy isolates, per direction (one pass over the
  // selections instead of a search per pod and policy).
  std::set<const engine::Endpoint*> isolated_in, isolated_out;
  for (const auto& [p, eps] : selected) {
    if (p->types_ingress) isolated_in.insert(eps.begin(), eps.end());
    if (p->types_egress) isolated_out.insert(eps.begin(), eps.end());
  }
  for (const auto* e : pods) {
    const bool in = isolated_in.contains(e), out = isolated_out.contains(e);
    if (!in || !out)
      sink.add(kRuleUnprotectedPod, Severity::kNote,
               "pod " + e->ns + "/" + e->name + " is selected by no policy for " +
                   (!in && !out ? "ingress or egress" : (!in ? "ingress" : "egress")) + ": all such traffic is allowed",
               e->where);
  }
}

}  // namespace rampart::verify::detail::lint

// projectcalico.org/v3 NetworkPolicy, GlobalNetworkPolicy and their staged
// forms (calico-semantics.md §3.2, §3.3, §3.7, §3.12, §5.2).
#include "../validate/checks.h"
#include "calico_rule.h"
#include "readers.h"

namespace rampart::engine::loader {
namespace {

void check_spec_selector(Sink& sink, const MapView& spec, std::string_view key) {
  const auto text = spec.str(key);
  if (!text) return;
  if (auto problem = checks::selector_text(*text)) sink.report_at("RP2003", spec.path(key) + ": " + *problem, spec.where(key));
  if (text->find("global(") != std::string::npos)
    sink.report_at("RP2004", spec.path(key) + ": global() may only be used in an EntityRule namespaceSelector",
                   spec.where(key));
  if (key == "selector" &&
      (text->find("projectcalico.org/namespace") != std::string::npos || text->find("pcns.") != std::string::npos))
    sink.report_at("RP6006", spec.path(key) + " refers to Calico's internal labels", spec.where(key));
}

}  // namespace

void read_calico_policy(const MapView& doc, Model& model, PolicyKind kind) {
  Sink& sink = doc.sink();
  const int errors = sink.errors();
  const bool global = kind == PolicyKind::kGlobalNetworkPolicy || kind == PolicyKind::kStagedGlobalNetworkPolicy;
  const bool staged = kind == PolicyKind::kStagedNetworkPolicy || kind == PolicyKind::kStagedGlobalNetworkPolicy;
  Metadata meta = read_metadata(doc, global ? NameRule::kGlobalPolicy : NameRule::kNetworkPolicy, !global);

  std::initializer_list<std::string_view> np_fields = {"order", "tier", "selector", "types", "ingress", "egress",
                                                       "serviceAccountSelector", "performanceHints"};
  std::initializer_list<std::string_view> gnp_fields = {
      "order",           "tier",          "selector", "types",    "ingress",        "egress", "serviceAccountSelector",
      "performanceHints", "namespaceSelector", "doNotTrack", "preDNAT", "applyOnForward"};
  std::initializer_list<std::string_view> snp_fields = {"order", "tier", "selector", "types", "ingress", "egress",
                                                        "serviceAccountSelector", "performanceHints", "stagedAction"};
  std::initializer_list<std::string_view> sgnp_fields = {
      "order",           "tier",          "selector", "types",    "ingress",        "egress", "serviceAccountSelector",
      "performanceHints", "namespaceSelector", "doNotTrack", "preDNAT", "applyOnForward", "stagedAction"};
  const StrictFields strict(sink);
  MapView spec(sink, doc.get("spec"), "spec",
               global ? (staged ? sgnp_fields : gnp_fields) : (staged ? snp_fields : np_fields));

  Policy policy;
  policy.kind = kind;
  policy.name = meta.name;
  policy.ns = meta.ns;
  policy.where = meta.where;
  policy.tier = spec.str("tier").value_or("");
  if (policy.tier.empty()) policy.tier = "default";
  else if (auto problem = checks::tier_name(policy.tier)) sink.report_at("RP1003", "spec.tier: " + *problem, spec.where("tier"));
  policy.order = spec.number("order");

  check_spec_selector(sink, spec, "selector");
  check_spec_selector(sink, spec, "serviceAccountSelector");
  if (global) check_spec_selector(sink, spec, "namespaceSelector");
  policy.selector = spec.str("selector").value_or("");
  policy.service_account_selector = spec.str("serviceAccountSelector").value_or("");
  policy.namespace_selector = spec.str("namespaceSelector").value_or("");

  // types (P1, P2) and their defaulting (§3.7).
  const auto types = spec.string_list("types");
  bool listed_ingress = false, listed_egress = false;
  for (const auto& [text, item] : types) {
    if (text != "Ingress" && text != "Egress") {
      sink.report("RP2001", "spec.types entry \"" + text + "\" must be Ingress or Egress (case-sensitive)", item);
      continue;
    }
    bool& flag = text == "Ingress" ? listed_ingress : listed_egress;
    if (flag) sink.report("RP2002", "spec.types lists " + text + " more than once", item);
    flag = true;
  }
  const auto ingress = spec.list("ingress");
  const auto egress = spec.list("egress");
  if (!listed_ingress && !listed_egress) {
    listed_ingress = !ingress.empty() || egress.empty();
    listed_egress = !egress.empty();
  } else {
    if (!ingress.empty() && !listed_ingress)
      sink.report_at("RP6002", "ingress rules are ignored: spec.types does not list Ingress", spec.key_where("ingress"));
    if (!egress.empty() && !listed_egress)
      sink.report_at("RP6002", "egress rules are ignored: spec.types does not list Egress", spec.key_where("egress"));
  }
  policy.types_ingress = listed_ingress;
  policy.types_egress = listed_egress;

  for (auto [list, key] : {std::pair{&ingress, "ingress"}, std::pair{&egress, "egress"}})
    if (list->size() > 1024)
      sink.report_at("RP2009", "spec." + std::string(key) + " has " + std::to_string(list->size()) +
                                   " rules (at most 1024)", spec.key_where(key));

  const RuleContext in{Direction::kIngress, global};
  const RuleContext out{Direction::kEgress, global};
  for (std::size_t i = 0; i < ingress.size(); ++i)
    policy.ingress.push_back(read_calico_rule(sink, ingress[i], "spec.ingress[" + std::to_string(i) + "]", in));
  for (std::size_t i = 0; i < egress.size(); ++i)
    policy.egress.push_back(read_calico_rule(sink, egress[i], "spec.egress[" + std::to_string(i) + "]", out));

  // performanceHints (P8).
  bool hinted = false;
  for (const auto& [hint, item] : spec.string_list("performanceHints")) {
    if (hint != "AssumeNeededOnEveryNode") {
      sink.report("RP2008", "performance hint \"" + hint + "\" is not AssumeNeededOnEveryNode", item);
      continue;
    }
    if (hinted) sink.report("RP2008", "performance hint AssumeNeededOnEveryNode is listed twice", item);
    hinted = true;
  }

  if (global) {
    policy.do_not_track = spec.boolean("doNotTrack").value_or(false);
    policy.pre_dnat = spec.boolean("preDNAT").value_or(false);
    policy.apply_on_forward = spec.boolean("applyOnForward").value_or(false);
    if (policy.pre_dnat && policy.do_not_track)
      sink.report_at("RP2005", "preDNAT and doNotTrack cannot both be true", spec.where("preDNAT"),
                     {{spec.where("doNotTrack"), "doNotTrack set here"}});
    if (policy.pre_dnat && (!egress.empty() || listed_egress))
      sink.report_at("RP2006", "a preDNAT policy cannot have egress rules or the Egress type",
                     !egress.empty() ? spec.key_where("egress") : spec.where("types"),
                     {{spec.where("preDNAT"), "preDNAT set here"}});
    if ((policy.pre_dnat || policy.do_not_track) && !policy.apply_on_forward)
      sink.report_at("RP2007",
                     std::string("applyOnForward must be true when ") + (policy.pre_dnat ? "preDNAT" : "doNotTrack") +
                         " is true",
                     spec.where(policy.pre_dnat ? "preDNAT" : "doNotTrack"));
    if (policy.pre_dnat != policy.do_not_track)  // both: RP2005 above
      sink.report_at("RP2017",
                     std::string("a ") + (policy.pre_dnat ? "preDNAT" : "doNotTrack") +
                         " policy applies to host endpoints only, never to pods",
                     spec.where(policy.pre_dnat ? "preDNAT" : "doNotTrack"));
  }

  if (staged) {
    policy.staged_action = spec.str("stagedAction").value_or("Set");
    if (policy.staged_action != "Set" && policy.staged_action != "Delete" && policy.staged_action != "Learn" &&
        policy.staged_action != "Ignore")
      sink.report_at("RP2016", "stagedAction \"" + policy.staged_action + "\" is not one of Set, Delete, Learn, Ignore",
                     spec.where("stagedAction"));
    if (policy.staged_action == "Delete")
      for (const auto& [key, value] : spec.entries())
        if (key != "tier" && key != "stagedAction" && !is_null(value))
          sink.report_at("RP2015", "spec." + key + " must be unset with stagedAction: Delete", spec.key_where(key));
  }
  if (sink.errors() != errors) return;  // the API server would refuse it
  model.policies.push_back(std::move(policy));
}

}  // namespace rampart::engine::loader

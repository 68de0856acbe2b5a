// detail::base_parts(): what depends only on the node's local endpoints —
// the hook chains with the conntrack fast path, the from-wl/to-wl dispatch
// maps with their fail-closed drops, anti-spoofing sets, and the bridge
// table in overlay mode.
#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "ir_build.h"
#include "lowering_parts.h"

namespace rampart::compiler::detail {

using engine::Direction;
using engine::Endpoint;
using engine::Model;

std::vector<IpAddress> claimed_addresses(const Endpoint& e) {
  std::vector<IpAddress> out = e.ips;
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

BaseParts base_parts(const Model& model, const std::vector<NodeEndpoint>& endpoints, const NodeConfig& cfg) {
  BaseParts out;
  const auto add_set = [&](Set s) { normalize(s); out.sets.push_back(std::move(s)); };
  const bool overlay = cfg.mode == Mode::kOverlay;
  Set from_if{.name = "from-wl-if", .key = {KeyType::kIfname}, .verdict_map = true};
  Set to_if{.name = "to-wl-if", .key = {KeyType::kIfname}, .verdict_map = true};
  Set from4{.name = "from-wl-4", .key = {KeyType::kIpv4}, .verdict_map = true};
  Set to4{.name = "to-wl-4", .key = {KeyType::kIpv4}, .verdict_map = true};
  Set from6{.name = "from-wl-6", .key = {KeyType::kIpv6}, .verdict_map = true};
  Set to6{.name = "to-wl-6", .key = {KeyType::kIpv6}, .verdict_map = true};
  for (const auto& ne : endpoints) {
    const Endpoint& e = model.endpoints[ne.index];
    const std::string from = endpoint_chain(e, Direction::kEgress), to = endpoint_chain(e, Direction::kIngress);
    if (overlay) {
      for (const auto& ip : e.ips) {
        (ip.family == 4 ? from4 : from6).elements.push_back(Element{.key = {ip}, .verdict = go(from)});
        (ip.family == 4 ? to4 : to6).elements.push_back(Element{.key = {ip}, .verdict = go(to)});
      }
    } else if (!ne.interface.empty()) {
      from_if.elements.push_back(Element{.key = {ne.interface}, .verdict = go(from)});
      to_if.elements.push_back(Element{.key = {ne.interface}, .verdict = go(to)});
    }
  }
  Chain from_wl{.name = "from-wl"}, to_wl{.name = "to-wl"};
  std::vector<Rule> spoof;  // vcn-native anti-spoofing, first in the hook chains
  // Contested addresses first: before the dispatch map (overlay) and the
  // anti-spoofing rules (vcn-native), which would each let one pod's policy
  // stand for the other's traffic. NodeLowering fills these two sets from its
  // own count of claims (node_lowering_base.cpp); a single pod contests nothing.
  {
    std::map<IpAddress, int> claims;
    for (const auto& ne : endpoints)
      for (const auto& ip : claimed_addresses(model.endpoints[ne.index])) ++claims[ip];
    Set c4{.name = kContested4, .key = {KeyType::kIpv4}}, c6{.name = kContested6, .key = {KeyType::kIpv6}};
    for (const auto& [ip, n] : claims)
      if (n > 1) (ip.family == 4 ? c4 : c6).elements.push_back(Element{.key = {ip}});
    add_set(std::move(c4));
    add_set(std::move(c6));
    const char* why = "address claimed by two local pods";
    from_wl.rules.push_back(Rule{.matches = {in_set({Key::kIpSaddr}, kContested4)}, .verdict = plain(Verdict::Kind::kDrop), .comment = why});
    from_wl.rules.push_back(Rule{.matches = {in_set({Key::kIp6Saddr}, kContested6)}, .verdict = plain(Verdict::Kind::kDrop), .comment = why});
    to_wl.rules.push_back(Rule{.matches = {in_set({Key::kIpDaddr}, kContested4)}, .verdict = plain(Verdict::Kind::kDrop), .comment = why});
    to_wl.rules.push_back(Rule{.matches = {in_set({Key::kIp6Daddr}, kContested6)}, .verdict = plain(Verdict::Kind::kDrop), .comment = why});
  }
  // Contested interfaces likewise (counted the same way by NodeLowering).
  // vcn-native here, before anti-spoofing and the interface dispatch map;
  // overlay in the bridge table below.
  std::map<std::string, int> if_claims;
  for (const auto& ne : endpoints)
    if (!ne.interface.empty()) ++if_claims[ne.interface];
  const auto contested_ifs = [&](const char* name) {
    Set s{.name = name, .key = {KeyType::kIfname}};
    for (const auto& [ifname, n] : if_claims)
      if (n > 1) s.elements.push_back(Element{.key = {ifname}});
    normalize(s);
    return s;
  };
  const char* if_why = "interface claimed by two local pods";
  if (!overlay) {
    add_set(contested_ifs(kContestedIf));
    from_wl.rules.push_back(Rule{.matches = {in_set({Key::kIifname}, kContestedIf)}, .verdict = plain(Verdict::Kind::kDrop), .comment = if_why});
    to_wl.rules.push_back(Rule{.matches = {in_set({Key::kOifname}, kContestedIf)}, .verdict = plain(Verdict::Kind::kDrop), .comment = if_why});
  }
  // IP-in-IP (protocol 4, IPv4 or IPv6 outer) from a pod, before policy
  // (calico-semantics §4.3, §6.2 item 8: Felix's default
  // AllowIPIPPacketsFromWorkloads=false): a node with an IPIP device up
  // (tunl0) would decapsulate it and judge the inner packet by a source
  // address the pod chose. `pod` says which packets are a pod's.
  const auto ipip_drop = [](std::vector<Match> pod) {
    pod.insert(pod.begin(), eq(Key::kL4proto, Value{std::uint64_t{4}}));
    return Rule{.matches = std::move(pod), .verdict = plain(Verdict::Kind::kDrop), .comment = "IPIP from a pod"};
  };
  if (overlay) {
    for (Set* s : {&from4, &to4, &from6, &to6}) add_set(*s);
    if (cfg.vxlan_port != 0)
      from_wl.rules.push_back(Rule{.matches = {eq(Key::kL4proto, Value{std::uint64_t{17}}),
                                               eq(Key::kThDport, Value{std::uint64_t{cfg.vxlan_port}})},
                                   .verdict = plain(Verdict::Kind::kDrop), .comment = "VXLAN from a pod"});
    from_wl.rules.push_back(ipip_drop({}));
    from_wl.rules.push_back(Rule{.vmap_keys = {Key::kIpSaddr}, .vmap = "from-wl-4"});
    from_wl.rules.push_back(Rule{.vmap_keys = {Key::kIp6Saddr}, .vmap = "from-wl-6"});
    from_wl.rules.push_back(Rule{.verdict = plain(Verdict::Kind::kDrop), .comment = "unknown pod address"});
    to_wl.rules.push_back(Rule{.vmap_keys = {Key::kIpDaddr}, .vmap = "to-wl-4"});
    to_wl.rules.push_back(Rule{.vmap_keys = {Key::kIp6Daddr}, .vmap = "to-wl-6"});
    to_wl.rules.push_back(Rule{.verdict = plain(Verdict::Kind::kDrop), .comment = "unknown pod address"});
  } else {
    add_set(from_if);
    add_set(to_if);
    // Anti-spoofing: a pod's veth may only carry its own source addresses;
    // the interface dispatch below would otherwise judge a packet with a
    // forged source as the sending pod's and the receiver would trust the
    // forged address. (Overlay does the same on the bridge ports.) A pod
    // whose addresses are not known yet can send nothing.
    Set ifs{.name = "wl-ifs", .key = {KeyType::kIfname}};
    Set a4{.name = "wl-addr-4", .key = {KeyType::kIfname, KeyType::kIpv4}};
    Set a6{.name = "wl-addr-6", .key = {KeyType::kIfname, KeyType::kIpv6}};
    for (const auto& ne : endpoints) {
      if (ne.interface.empty()) continue;
      ifs.elements.push_back(Element{.key = {ne.interface}});
      for (const auto& ip : model.endpoints[ne.index].ips)
        (ip.family == 4 ? a4 : a6).elements.push_back(Element{.key = {ne.interface, ip}});
    }
    for (Set* set : {&ifs, &a4, &a6}) add_set(std::move(*set));
    // In the hook chains, before the conntrack fast path (review H3 #9): a
    // forged packet matching another pod's established flow (a DNS answer)
    // would otherwise be accepted unchecked. Felix checks workload sources
    // before conntrack too (raw RPF). The address lookup first: its family
    // dependency ends the other family's rule at once, and a pod's own
    // packet costs one lookup (the interface set is asked only when the
    // interface . address pair is not a pod's).
    spoof.push_back(Rule{.matches = {in_set({Key::kIifname, Key::kIpSaddr}, "wl-addr-4", true), in_set({Key::kIifname}, "wl-ifs")},
                         .verdict = plain(Verdict::Kind::kDrop), .comment = "spoofed source"});
    spoof.push_back(Rule{.matches = {in_set({Key::kIifname, Key::kIp6Saddr}, "wl-addr-6", true), in_set({Key::kIifname}, "wl-ifs")},
                         .verdict = plain(Verdict::Kind::kDrop), .comment = "spoofed source"});
    from_wl.rules.push_back(ipip_drop({in_set({Key::kIifname}, "wl-ifs")}));
    from_wl.rules.push_back(Rule{.vmap_keys = {Key::kIifname}, .vmap = "from-wl-if"});
    to_wl.rules.push_back(Rule{.vmap_keys = {Key::kOifname}, .vmap = "to-wl-if"});
    for (const auto& g : cfg.pod_interface_globs) {
      from_wl.rules.push_back(Rule{.matches = {eq(Key::kIifname, g)}, .verdict = plain(Verdict::Kind::kDrop), .comment = "unknown pod interface"});
      to_wl.rules.push_back(Rule{.matches = {eq(Key::kOifname, g)}, .verdict = plain(Verdict::Kind::kDrop), .comment = "unknown pod interface"});
    }
  }
  // vcn-native, a pod's link with the node: NUD probes to its gateway
  // fe80::1, router solicitations and MLD come from the pod's link-local
  // address, DAD and MLD during DAD from :: — neither is the pod's address,
  // so anti-spoofing would drop them (the gateway neighbour goes FAILED).
  // Felix accepts ND, RS and MLD from workloads to the host before policy
  // (ICMPv6Filter). Here only in the input hook, and only with the hop limit
  // the RFCs prescribe (ND 255, MLD 1): the kernel forwards no packet with a
  // link-local or unspecified source, so none reaches another pod, and
  // nothing else from such a source reaches the node.
  std::vector<Rule> link_local;
  if (!overlay) {
    const Match from_link_local{.keys = {Key::kIp6Saddr}, .op = Match::Op::kRange,
                                .values = {*IpAddress::parse("fe80::"), *IpAddress::parse("febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff")}};
    const Match from_unspecified = eq(Key::kIp6Saddr, Value{*IpAddress::parse("::")});
    struct Type {
      std::uint64_t type, hop_limit;
      bool unspecified;  // also from :: (RFC 4861 6.3.7, 4862 5.4.2, 3590)
    };
    for (const Type t : {Type{133, 255, true}, Type{135, 255, true}, Type{136, 255, false}, Type{130, 1, false},
                         Type{131, 1, true}, Type{132, 1, false}, Type{143, 1, true}})
      for (const bool unspecified : {false, true}) {
        if (unspecified && !t.unspecified) continue;
        link_local.push_back(Rule{.matches = {unspecified ? from_unspecified : from_link_local, eq(Key::kIcmpv6Type, Value{t.type}),
                                              eq(Key::kIp6Hoplimit, Value{t.hop_limit})},
                                  .verdict = plain(Verdict::Kind::kAccept)});
      }
  }
  const auto hook_chain = [&](const char* name, Hook hook, bool to_pods) {
    Chain c{.name = name, .base = BaseChain{.hook = hook, .priority = cfg.priority}};
    if (!to_pods) c.rules = link_local;
    c.rules.insert(c.rules.end(), spoof.begin(), spoof.end());
    c.rules.push_back(Rule{.matches = {Match{.keys = {Key::kCtState}, .op = Match::Op::kBitsAny,
                                             .values = {Value{std::uint64_t{ct_state::kEstablished | ct_state::kRelated}}}}},
                           .verdict = plain(Verdict::Kind::kAccept)});
    c.rules.push_back(Rule{.matches = {Match{.keys = {Key::kCtState}, .op = Match::Op::kBitsAny,
                                             .values = {Value{std::uint64_t{ct_state::kInvalid}}}}},
                           .verdict = plain(Verdict::Kind::kDrop)});
    if (!to_pods || overlay) {
      // IPv6 neighbour discovery is never policy (Felix allows it too): with
      // the node, and in overlay between pods of the bridge (br_netfilter
      // brings bridged ND to the forward hook; conntrack does not track it).
      // Only with hop limit 255: every receiver discards ND with another
      // (RFC 4861 §7.1.1), and no sender off the link can make it arrive
      // with 255 — so what passes here unpoliced is real ND from the link.
      // Forwarded: also only bridged (cni0 to cni0).
      for (std::uint64_t type : {133, 134, 135, 136}) {
        Rule nd{.matches = {eq(Key::kIcmpv6Type, Value{type}), eq(Key::kIp6Hoplimit, Value{std::uint64_t{255}})},
                .verdict = plain(Verdict::Kind::kAccept)};
        if (to_pods) {
          nd.matches.push_back(eq(Key::kIifname, cfg.bridge));
          nd.matches.push_back(eq(Key::kOifname, cfg.bridge));
        }
        c.rules.push_back(std::move(nd));
      }
    }
    if (overlay) {
      c.rules.push_back(Rule{.matches = {eq(Key::kIifname, cfg.bridge)}, .verdict = jump("from-wl")});
      if (to_pods) c.rules.push_back(Rule{.matches = {eq(Key::kOifname, cfg.bridge)}, .verdict = jump("to-wl")});
    } else {
      c.rules.push_back(Rule{.verdict = jump("from-wl")});
      if (to_pods) c.rules.push_back(Rule{.verdict = jump("to-wl")});
    }
    // A pod's new connection to the node, allowed by its egress policy
    // (from-wl returned): Felix's DefaultEndpointToHostAction=DROP. Pods
    // without a known interface were dropped in from-wl already.
    if (!to_pods && cfg.endpoint_to_host == EndpointToHost::kDrop)
      c.rules.push_back(Rule{.matches = {overlay ? eq(Key::kIifname, cfg.bridge) : in_set({Key::kIifname}, "wl-ifs")},
                             .verdict = plain(Verdict::Kind::kDrop), .comment = "endpoint to host"});
    return c;
  };
  out.chains.push_back(hook_chain("hook-forward", Hook::kForward, true));
  out.chains.push_back(hook_chain("hook-input", Hook::kInput, false));
  out.chains.push_back(std::move(from_wl));
  out.chains.push_back(std::move(to_wl));
  if (cfg.mode == Mode::kOverlay) {
    // Anti-spoofing on the bridge ports: a pod may only send from its own
    // addresses (the inet hooks see only cni0, so they trust the source).
    Table br{.family = Family::kBridge, .name = cfg.table};
    Set p4{.name = "port-addr-4", .key = {KeyType::kIfname, KeyType::kIpv4}};
    Set p6{.name = "port-addr-6", .key = {KeyType::kIfname, KeyType::kIpv6}};
    for (const auto& ne : endpoints) {
      if (ne.interface.empty()) continue;
      for (const auto& ip : model.endpoints[ne.index].ips)
        (ip.family == 4 ? p4 : p6).elements.push_back(Element{.key = {ne.interface, ip}});
    }
    normalize(p4);
    normalize(p6);
    br.sets = {p4, p6, contested_ifs(kContestedPort)};
    Chain c{.name = "hook-prerouting", .base = BaseChain{.hook = Hook::kPrerouting, .priority = -200 + cfg.priority}};
    c.rules.push_back(Rule{.matches = {in_set({Key::kIifname}, kContestedPort)}, .verdict = plain(Verdict::Kind::kDrop), .comment = if_why});
    for (const auto& g : cfg.pod_interface_globs) {
      // Only untagged IPv4, IPv6 and ARP frames from a pod: br_netfilter hands
      // the inet hooks untagged IP only, so an 802.1Q-tagged frame (VLAN id 0
      // is a priority tag the receiving pod reads as untagged) would cross the
      // bridge with no policy at all. Pods on a flannel bridge send nothing else.
      c.rules.push_back(Rule{.matches = {eq(Key::kIifname, g), ne(Key::kEtherType, std::uint64_t{0x0800}),
                                         ne(Key::kEtherType, std::uint64_t{0x86dd}), ne(Key::kEtherType, std::uint64_t{0x0806})},
                             .verdict = plain(Verdict::Kind::kDrop), .comment = "not IP or ARP"});
      c.rules.push_back(Rule{.matches = {eq(Key::kIifname, g), in_set({Key::kIifname, Key::kIpSaddr}, "port-addr-4", true)},
                             .verdict = plain(Verdict::Kind::kDrop), .comment = "spoofed source"});
      c.rules.push_back(Rule{.matches = {eq(Key::kIifname, g), in_set({Key::kIifname, Key::kIp6Saddr}, "port-addr-6", true)},
                             .verdict = plain(Verdict::Kind::kDrop), .comment = "spoofed source"});
    }
    br.chains.push_back(std::move(c));
    // A unicast IP frame leaving a pod's port must be addressed to that pod:
    // a pod that answers ARP / ND for another pod's address (CAP_NET_RAW)
    // would otherwise receive traffic the inet hooks judged by the addressed
    // pod's ingress policy. Multicast and broadcast (IPv4 224.0.0.0 and up)
    // and IPv6 link-local pass (ND, the pod's fe80:: address).
    Chain post{.name = "hook-postrouting", .base = BaseChain{.hook = Hook::kPostrouting, .priority = -200 + cfg.priority}};
    const auto range = [](Key k, const char* lo, const char* hi) {
      return Match{.keys = {k}, .op = Match::Op::kNotRange, .values = {*IpAddress::parse(lo), *IpAddress::parse(hi)}};
    };
    for (const auto& g : cfg.pod_interface_globs) {
      post.rules.push_back(Rule{.matches = {eq(Key::kOifname, g), in_set({Key::kOifname, Key::kIpDaddr}, "port-addr-4", true),
                                            range(Key::kIpDaddr, "224.0.0.0", "255.255.255.255")},
                                .verdict = plain(Verdict::Kind::kDrop), .comment = "addressed to another pod"});
      post.rules.push_back(Rule{.matches = {eq(Key::kOifname, g), in_set({Key::kOifname, Key::kIp6Daddr}, "port-addr-6", true),
                                            range(Key::kIp6Daddr, "fe80::", "febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff"),
                                            range(Key::kIp6Daddr, "ff00::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")},
                                .verdict = plain(Verdict::Kind::kDrop), .comment = "addressed to another pod"});
    }
    br.chains.push_back(std::move(post));
    out.bridge = std::move(br);
  }
  return out;
}

}  // namespace rampart::compiler::detail

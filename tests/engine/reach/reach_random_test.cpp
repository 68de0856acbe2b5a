// Differential test: on thousands of generated clusters (Calico tiers, Pass,
// Log, Deny, orders with name ties, NP/GNP scoping, network sets, nets and
// notNets, named ports and notPorts with no protocol (met by ICMP and
// protocol 47 probes), source ports, ICMP, notProtocol, ipVersion, host
// endpoints), the
// class-based Reachability engine, the flow Evaluator and the simple
// reference evaluator must give the same verdict for every pair of peers and
// every probe; and the targeted questions (one row, one column, single
// entries, isolation), computed without the matrix, must equal the matrix.
// RAMPART_RANDOM_CLUSTERS overrides the number of clusters.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <random>
#include <sstream>

#include "rampart/engine/connlist.h"
#include "rampart/engine/evaluator.h"
#include "rampart/engine/reachability.h"
#include "support/reference_evaluator.h"
#include "support/test_model.h"

using namespace rampart;
using namespace rampart::engine;
using namespace rampart::testing;

namespace {

struct Gen {
  std::mt19937 rng;
  explicit Gen(unsigned seed) : rng(seed) {}
  int pick(int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng); }
  bool chance(int percent) { return pick(100) < percent; }
  template <typename T>
  const T& of(const std::vector<T>& v) {
    return v[static_cast<std::size_t>(pick(static_cast<int>(v.size())))];
  }
};

const std::vector<std::string> kAtoms = {"all()", "app == 'web'", "app == 'db'", "app in {'web', 'api'}",
                                         "has(role)", "!has(role)", "role == 'admin' || app == 'db'",
                                         "kind == 'corp'", "has(host)", "pcns.team == 'a'"};

std::string scoped(Gen& g, const std::string& ns) {
  const std::string atom = g.of(kAtoms);
  if (ns.empty()) return atom;
  return "(" + atom + ") && projectcalico.org/namespace == '" + ns + "'";
}

EntityRule entity(Gen& g, const std::string& ns, bool peer_side, bool ports_allowed, bool named_only) {
  EntityRule e;
  if (peer_side) {
    if (g.chance(45)) e.effective_selector = sel(scoped(g, g.chance(70) ? ns : ""));
    if (g.chance(15)) e.effective_not_selector = sel(g.of(kAtoms));
    if (g.chance(20)) e.nets.push_back(cidr(g.of(std::vector<std::string>{
                          "10.0.1.0/24", "10.0.0.0/16", "8.8.8.0/24", "0.0.0.0/0", "1.2.3.4/32", "fd00::/8", "169.254.169.254/32"})));
    if (g.chance(10)) e.not_nets.push_back(cidr(g.of(std::vector<std::string>{"10.0.1.0/28", "8.8.8.8/32", "10.0.2.0/24"})));
  } else if (g.chance(15)) {
    e.effective_selector = sel(scoped(g, ns));
  }
  if (ports_allowed || named_only) {
    if (g.chance(40)) {
      const int n = 1 + g.pick(2);
      for (int i = 0; i < n; ++i) {
        if (named_only || g.chance(35)) e.ports.push_back(named(g.of(std::vector<std::string>{"http", "dns", "metrics"})));
        else e.ports.push_back(g.of(std::vector<PortSpec>{port(80), port(53, 54), port(1000, 9999), port(22)}));
      }
    }
    if (g.chance(named_only ? 15 : 10)) e.not_ports.push_back(named_only ? named("http") : port(8080));
  }
  return e;
}

Rule random_rule(Gen& g, const std::string& ns, Direction d) {
  static const std::vector<Action> actions = {Action::kAllow, Action::kAllow, Action::kAllow, Action::kDeny,
                                              Action::kDeny,  Action::kPass,  Action::kLog};
  Rule r = rule(g.of(actions));
  const int p = g.pick(100);
  if (p < 30) r.protocol = protocol("TCP");
  else if (p < 45) r.protocol = protocol("UDP");
  else if (p < 52) r.protocol = protocol("SCTP");
  else if (p < 62) r.protocol = protocol("ICMP");
  else if (p < 65) r.protocol = protocol("1");
  else if (p < 68) r.not_protocol = protocol("TCP");
  if (g.chance(5)) r.ip_version = g.chance(50) ? 4 : 6;
  if (r.protocol && r.protocol->number == proto::kIcmp) {
    if (g.chance(50)) r.icmp = IcmpMatch{8, g.chance(50) ? std::optional<int>(0) : std::nullopt};
    else if (g.chance(30)) r.not_icmp = IcmpMatch{3, std::nullopt};
  }
  const bool ported = r.protocol && r.protocol->supports_ports();
  // Named ports need no protocol (R5); with none (or only notProtocol) they
  // also meet ICMP and other packets without ports: notPorts holds for them.
  const bool named_only = !r.protocol;
  // The peer is the source for ingress rules and the destination for egress.
  // Source ports are undetermined for TCP/UDP/SCTP (probes give none).
  const bool src_ports = g.chance(15);
  r.source = entity(g, ns, d == Direction::kIngress, ported && src_ports, named_only && src_ports);
  r.destination = entity(g, ns, d == Direction::kEgress, ported, named_only && g.chance(50));
  return r;
}

Model random_model(unsigned seed) {
  Gen g(seed);
  TestModel t;
  t.ns("n1", {{"team", "a"}});
  t.ns("n2", {{"team", "b"}});
  t.tier("default", 1e6);
  if (g.chance(70)) t.tier("security", 100, g.chance(50) ? Action::kPass : Action::kDeny);
  if (g.chance(50)) t.tier("platform", g.chance(80) ? std::optional<double>(200) : std::nullopt,
                           g.chance(50) ? Action::kPass : Action::kDeny);
  const std::vector<NamedPort> port_menu = {{"http", proto::kTcp, 80},    {"http", proto::kTcp, 8080},
                                            {"dns", proto::kUdp, 53},     {"metrics", proto::kTcp, 9090},
                                            {"http", proto::kSctp, 80},   {"dns", proto::kTcp, 53}};
  const int pods = 3 + g.pick(6);
  for (int i = 0; i < pods; ++i) {
    const std::string ns = g.chance(50) ? "n1" : "n2";
    Labels labels{{"app", g.of(std::vector<std::string>{"web", "db", "api"})}};
    if (g.chance(40)) labels["role"] = g.chance(50) ? "admin" : "user";
    std::vector<NamedPort> ports;
    for (const auto& np : port_menu)
      if (g.chance(30)) ports.push_back(np);
    const std::string address = g.chance(90) ? "10.0." + std::to_string(1 + g.pick(2)) + "." + std::to_string(i + 1) : "";
    t.pod(ns, "p" + std::to_string(i), labels, address, ports);
  }
  if (g.chance(30)) t.host("node1", {{"host", "yes"}}, "192.168.0.1",
                           g.chance(50) ? std::vector<std::string>{"projectcalico-default-allow"} : std::vector<std::string>{});
  const int sets = g.pick(3);
  for (int i = 0; i < sets; ++i)
    t.network_set(g.chance(50) ? "" : "n1", "s" + std::to_string(i), {{"kind", g.chance(50) ? "corp" : "ext"}},
                  {g.of(std::vector<std::string>{"8.8.8.0/24", "1.2.3.4", "10.0.1.0/24", "203.0.113.0/25", "169.254.169.254"})});
  const int policies = g.pick(7);
  const std::vector<std::string> names = {"a", "b", "a-b", "a.b", "c"};
  for (int i = 0; i < policies; ++i) {
    const int k = g.pick(3);
    const PolicyKind kind = k == 0 ? PolicyKind::kNetworkPolicy
                            : k == 1 ? PolicyKind::kGlobalNetworkPolicy
                                     : PolicyKind::kKubernetesNetworkPolicy;
    const std::string ns = kind == PolicyKind::kGlobalNetworkPolicy ? "" : (g.chance(50) ? "n1" : "n2");
    std::string tier = kind == PolicyKind::kKubernetesNetworkPolicy ? "default"
                                                                     : g.of(std::vector<std::string>{"default", "security", "platform", "ghost"});
    std::optional<double> order;
    if (kind == PolicyKind::kKubernetesNetworkPolicy) order = 1000;
    else if (g.chance(70)) order = g.of(std::vector<double>{10, 100, 100, 1000});
    const bool in = g.chance(70), eg = !in || g.chance(50);
    Policy p;
    p.kind = kind;
    p.name = g.of(names);
    p.ns = ns;
    p.tier = tier;
    p.order = order;
    p.effective_selector = sel(scoped(g, ns));
    p.types_ingress = in;
    p.types_egress = eg;
    if (g.chance(5)) p.kind = PolicyKind::kStagedNetworkPolicy;
    for (int r = g.pick(4); r > 0; --r) p.ingress.push_back(random_rule(g, ns, Direction::kIngress));
    for (int r = g.pick(4); r > 0; --r) p.egress.push_back(random_rule(g, ns, Direction::kEgress));
    bool duplicate = false;
    for (const auto& q : t.model.policies)
      duplicate = duplicate || (q.name == p.name && q.ns == p.ns && q.kind == p.kind);
    if (!duplicate) t.model.policies.push_back(std::move(p));
  }
  return t.model;
}

std::string dump_entity(const EntityRule& e) {
  std::ostringstream o;
  if (e.effective_selector) o << " sel[" << e.effective_selector->canonical() << "]";
  if (e.effective_not_selector) o << " notsel[" << e.effective_not_selector->canonical() << "]";
  for (const auto& c : e.nets) o << " net " << c.str();
  for (const auto& c : e.not_nets) o << " notnet " << c.str();
  for (const auto& p : e.ports) o << " port " << (p.is_named() ? p.name : std::to_string(p.min) + "-" + std::to_string(p.max));
  for (const auto& p : e.not_ports) o << " notport " << (p.is_named() ? p.name : std::to_string(p.min) + "-" + std::to_string(p.max));
  return o.str();
}

// The model as text, for failure messages.
std::string dump(const Model& m) {
  std::ostringstream o;
  for (const auto& t : m.tiers) o << "tier " << t.name << " order " << t.order.value_or(-1) << " default " << action_name(t.default_action) << "\n";
  for (const auto& e : m.endpoints) {
    o << "endpoint " << e.ns << "/" << e.name << " ips";
    for (const auto& a : e.ips) o << " " << a.str();
    o << " labels";
    for (const auto& [k, v] : e.labels) o << " " << k << "=" << v;
    o << " ports";
    for (const auto& p : e.ports) o << " " << p.name << "/" << int(p.protocol) << "/" << p.port;
    o << "\n";
  }
  for (const auto& s : m.network_sets) {
    o << "netset " << s.ns << "/" << s.name;
    for (const auto& c : s.nets) o << " " << c.str();
    for (const auto& [k, v] : s.effective_labels) o << " " << k << "=" << v;
    o << "\n";
  }
  for (const auto& p : m.policies) {
    o << kind_name(p.kind) << " " << p.ns << "/" << p.name << " tier " << p.tier << " order " << p.order.value_or(-1)
      << " sel[" << p.effective_selector->canonical() << "] in " << p.types_ingress << " eg " << p.types_egress << "\n";
    for (int d = 0; d < 2; ++d)
      for (const auto& r : d ? p.egress : p.ingress) {
        o << "  " << (d ? "egress " : "ingress ") << action_name(r.action);
        if (r.ip_version) o << " v" << *r.ip_version;
        if (r.protocol) o << " proto " << r.protocol->written;
        if (r.not_protocol) o << " notproto " << r.not_protocol->written;
        if (r.icmp) o << " icmp " << r.icmp->type.value_or(-1) << "/" << r.icmp->code.value_or(-1);
        if (r.not_icmp) o << " noticmp " << r.not_icmp->type.value_or(-1) << "/" << r.not_icmp->code.value_or(-1);
        o << " src{" << dump_entity(r.source) << " } dst{" << dump_entity(r.destination) << " }\n";
      }
  }
  return o.str();
}

struct Probe {
  std::uint8_t protocol;
  std::uint16_t port;
  int type, code;
  [[nodiscard]] std::uint32_t coordinate() const {
    if (protocol == proto::kIcmp || protocol == proto::kIcmpV6) return static_cast<std::uint32_t>(type * 256 + code);
    return protocol == proto::kTcp || protocol == proto::kUdp || protocol == proto::kSctp ? port : 0u;
  }
};

const std::vector<Probe> kProbes = {{6, 80, 0, 0},  {6, 8080, 0, 0}, {6, 53, 0, 0}, {6, 9090, 0, 0},
                                    {6, 22, 0, 0},  {17, 53, 0, 0},  {17, 80, 0, 0}, {132, 80, 0, 0},
                                    {1, 0, 8, 0},   {1, 0, 3, 1},    {47, 0, 0, 0},   {6, 5000, 0, 0}};

const ExternalBlock& block_of(const std::vector<ExternalBlock>& blocks, const IpAddress& a) {
  for (const auto& b : blocks)
    if (b.addresses.contains(a.v4_value())) return b;
  FAIL("no external block contains " << a.str());
  return blocks.front();
}

// One address per region that the model's IPv4 CIDRs (rules, network sets)
// cut the address space into: what a pod without an address may get, as far
// as any rule can tell.
std::vector<IpAddress> representative_addresses(const Model& m) {
  std::vector<std::uint64_t> cuts{0};
  auto add = [&](const Cidr& c) {
    if (c.address.family != 4) return;
    const std::uint64_t base = c.address.v4_value();
    cuts.push_back(base);
    cuts.push_back(base + (std::uint64_t{1} << (32 - c.prefix)));
  };
  for (const auto& set : m.network_sets)
    for (const auto& c : set.nets) add(c);
  for (const auto& p : m.policies)
    for (int d = 0; d < 2; ++d)
      for (const auto& r : d ? p.egress : p.ingress)
        for (const auto* e : {&r.source, &r.destination}) {
          for (const auto& c : e->nets) add(c);
          for (const auto& c : e->not_nets) add(c);
        }
  std::sort(cuts.begin(), cuts.end());
  cuts.erase(std::unique(cuts.begin(), cuts.end()), cuts.end());
  std::vector<IpAddress> out;
  for (const auto c : cuts)  // no loopback or link-local: never a pod's
    if (c <= UINT32_MAX && (c >> 24) != 127 && (c >> 16) != 0xa9fe) out.push_back(IpAddress::v4(static_cast<std::uint32_t>(c)));
  return out;
}

}  // namespace

TEST_CASE("class engine, flow evaluator and reference agree on generated clusters", "[reach][random]") {
#if defined(__SANITIZE_ADDRESS__)
  int clusters = 150;  // the sanitizer build runs ~30x slower; the release build runs 1000
#else
  int clusters = 1000;
#endif
  if (const char* env = std::getenv("RAMPART_RANDOM_CLUSTERS")) clusters = std::atoi(env);
  const std::vector<std::string> externals = {"8.8.8.8", "1.2.3.4", "10.0.1.200", "203.0.113.5", "192.0.2.1"};
  std::size_t flows = 0, allowed_count = 0, addressless_allowed = 0;
  for (int seed = 1; seed <= clusters; ++seed) {
    const Model model = random_model(static_cast<unsigned>(seed));
    const auto reach = Reachability::compute(model);
    const Evaluator evaluator(model);
    struct PeerRef {
      FlowEnd end;
      std::uint32_t src_class, dst_class;
      std::string name;
    };
    std::vector<PeerRef> peers;
    for (std::size_t i = 0; i < model.endpoints.size(); ++i) {
      const auto c = reach.class_of_endpoint(i);
      peers.push_back({FlowEnd::of(model.endpoints[i]), c, c, model.endpoints[i].name});
    }
    for (const auto& text : externals) {
      const auto a = ip(text);
      peers.push_back({FlowEnd::external(a), block_of(reach.source_blocks(), a).peer,
                       block_of(reach.destination_blocks(), a).peer, text});
    }
    for (const auto& src : peers)
      for (const auto& dst : peers) {
        if (!src.end.endpoint && !dst.end.endpoint) continue;
        const auto& conns = reach.allowed(src.src_class, dst.dst_class);
        for (const auto& probe : kProbes) {
          Flow f;
          f.src = src.end;
          f.dst = dst.end;
          f.protocol = probe.protocol;
          f.dst_port = probe.port;
          if (probe.protocol == proto::kIcmp) {
            f.icmp_type = probe.type;
            f.icmp_code = probe.code;
          }
          const bool want = reference::allowed(model, f);
          const bool flow_verdict = evaluator.evaluate(f).allowed;
          // Soundness for pods without an address: an "allowed" holds for
          // every address either end may get (checked by substituting one
          // address per region, with the reference).
          if (flow_verdict && ((f.src.endpoint && !f.src.ip) || (f.dst.endpoint && !f.dst.ip))) {
            ++addressless_allowed;
            for (const auto& a : representative_addresses(model)) {
              Flow g = f;
              if (g.src.endpoint && !g.src.ip) g.src.ip = a;
              if (g.dst.endpoint && !g.dst.ip) g.dst.ip = a;
              if (!reference::allowed(model, g)) {
                INFO("seed " << seed << ": " << src.name << " -> " << dst.name << " proto " << int(probe.protocol)
                             << " port " << probe.port << " allowed without an address, denied with " << a.str()
                             << "\n" << dump(model));
                CHECK(false);
                return;
              }
            }
          }
          const bool class_verdict = conns.contains(probe.protocol, probe.coordinate());
          ++flows;
          allowed_count += want;
          if (want != flow_verdict || want != class_verdict) {
            INFO("seed " << seed << ": " << src.name << " -> " << dst.name << " proto " << int(probe.protocol) << " port "
                         << probe.port << " type " << probe.type << "; reference " << want << ", evaluator "
                         << flow_verdict << ", classes " << class_verdict << " (" << conns.str() << "; egress "
                         << (src.end.endpoint ? reach.egress(src.src_class, dst.dst_class).str() : "-") << "; ingress "
                         << (dst.end.endpoint ? reach.ingress(dst.dst_class, src.src_class).str() : "-") << "; classes "
                         << src.src_class << "->" << dst.dst_class << ")\n"
                         << dump(model));
            CHECK(want == flow_verdict);
            CHECK(want == class_verdict);
            return;
          }
        }
      }
  }
  INFO(flows << " flows, " << allowed_count << " allowed, " << addressless_allowed << " allowed with an addressless end");
  CHECK(flows > 0);
  CHECK(addressless_allowed > 0);
  // Both verdicts occur often enough for the comparison to mean something.
  CHECK(allowed_count > flows / 10);
  CHECK(allowed_count < flows - flows / 10);
}

TEST_CASE("targeted rows, columns and isolation equal the all-pairs matrix on generated clusters", "[reach][random]") {
#if defined(__SANITIZE_ADDRESS__)
  int clusters = 100;
#else
  int clusters = 1000;
#endif
  if (const char* env = std::getenv("RAMPART_RANDOM_CLUSTERS")) clusters = std::atoi(env);
  ReachOptions targeted;
  targeted.all_pairs = false;
  std::size_t cells = 0, nonempty = 0, isolated_count = 0, subjects = 0;
  for (int seed = 1; seed <= clusters; ++seed) {
    const Model model = random_model(static_cast<unsigned>(seed));
    const auto full = Reachability::compute(model);
    const auto n = static_cast<std::uint32_t>(full.peer_class_count());
    // Single entries read one by one from a targeted object: every cell
    // computed alone, no row ever built.
    const auto cellwise = Reachability::compute(model, targeted);
    REQUIRE(cellwise.peer_class_count() == n);
    for (std::uint32_t s = 0; s < n; ++s)
      for (std::uint32_t d = 0; d < n; ++d) {
        ++cells;
        nonempty += !full.allowed(s, d).empty();
        if (!(cellwise.allowed(s, d) == full.allowed(s, d))) {
          INFO("seed " << seed << " cell " << s << "->" << d << ": targeted " << cellwise.allowed(s, d).str()
                       << ", matrix " << full.allowed(s, d).str() << "\n" << dump(model));
          CHECK(false);
          return;
        }
      }
    // A column and a row per class, each from a fresh object so that no
    // earlier question has filled its caches.
    for (std::uint32_t subject = 0; subject < n; ++subject) {
      ++subjects;
      const auto for_column = Reachability::compute(model, targeted);
      const auto column = for_column.column(subject);
      const auto for_row = Reachability::compute(model, targeted);
      const auto row = for_row.row(subject);
      REQUIRE(column.size() == n);
      REQUIRE(row.size() == n);
      for (std::uint32_t other = 0; other < n; ++other) {
        if (!(*column[other] == full.allowed(other, subject)) || !(*row[other] == full.allowed(subject, other))) {
          INFO("seed " << seed << " subject class " << subject << ", other " << other << ": column "
                       << column[other]->str() << " vs " << full.allowed(other, subject).str() << ", row "
                       << row[other]->str() << " vs " << full.allowed(subject, other).str() << "\n"
                       << dump(model));
          CHECK(false);
          return;
        }
      }
    }
    // Isolation: from the targeted object's programs, against the reference.
    const auto lazy = Reachability::compute(model, targeted);
    for (std::size_t i = 0; i < model.endpoints.size(); ++i)
      for (const auto d : {Direction::kIngress, Direction::kEgress}) {
        const bool want = reference::isolated(model, model.endpoints[i], d);
        isolated_count += want;
        if (lazy.isolated(lazy.class_of_endpoint(i), d) != want ||
            full.isolated(full.class_of_endpoint(i), d) != want) {
          INFO("seed " << seed << " endpoint " << model.endpoints[i].name << " direction " << static_cast<int>(d)
                       << ": reference " << want << "\n" << dump(model));
          CHECK(false);
          return;
        }
      }
  }
  INFO(cells << " cells, " << nonempty << " non-empty, " << subjects << " rows and columns, " << isolated_count
             << " isolated endpoint directions");
  CHECK(cells > 0);
  CHECK(nonempty > cells / 10);
  CHECK(nonempty < cells - cells / 10);
  CHECK(isolated_count > 0);
}

TEST_CASE("focused lists (--focus-workload, --to, --from) equal the full list filtered, on generated clusters",
          "[reach][random]") {
#if defined(__SANITIZE_ADDRESS__)
  int clusters = 50;
#else
  int clusters = 300;
#endif
  if (const char* env = std::getenv("RAMPART_RANDOM_CLUSTERS")) clusters = std::min(clusters, std::atoi(env));
  ReachOptions targeted;
  targeted.all_pairs = false;
  std::size_t compared = 0, lines_seen = 0;
  auto text = [](const ConnLine& l) { return l.src + " => " + l.dst + " : " + l.conn.str(); };
  for (int seed = 1; seed <= clusters; ++seed) {
    const Model model = random_model(static_cast<unsigned>(seed));
    const auto full_reach = Reachability::compute(model);
    const auto full = build_connlist(model, full_reach);
    for (const auto& w : full.workloads) {
      for (int mode = 0; mode < 3; ++mode) {
        ConnListOptions options;
        (mode == 0 ? options.focus_workloads : mode == 1 ? options.to_workloads : options.from_workloads).push_back(w.id);
        std::vector<std::string> want;
        for (const auto& l : full.lines)
          if ((mode != 2 && l.dst == w.id) || (mode != 1 && l.src == w.id)) want.push_back(text(l));
        const auto reach = Reachability::compute(model, targeted);
        const auto list = build_connlist(model, reach, options);
        std::vector<std::string> got;
        for (const auto& l : list.lines) got.push_back(text(l));
        ++compared;
        lines_seen += got.size();
        if (got != want) {
          std::string g, x;
          for (const auto& l : got) g += l + "\n";
          for (const auto& l : want) x += l + "\n";
          INFO("seed " << seed << " workload " << w.id << " mode " << mode << "\ntargeted:\n" << g << "full, filtered:\n"
                       << x << dump(model));
          CHECK(false);
          return;
        }
      }
    }
  }
  INFO(compared << " focused lists, " << lines_seen << " lines");
  CHECK(compared > 0);
  CHECK(lines_seen > compared);
}

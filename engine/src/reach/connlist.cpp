#include "rampart/engine/connlist.h"

#include <algorithm>
#include <map>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

namespace rampart::engine {

std::string workload_id(const Endpoint& e) {
  std::string kind = e.owner.kind;
  std::string name = e.owner.name;
  if (name.empty()) {
    name = e.name;
    kind = e.kind == EndpointKind::kHostEndpoint ? "HostEndpoint" : "Pod";
  }
  if (kind.empty()) kind = "Pod";
  std::string ns = e.ns;
  if (ns.empty() && e.kind == EndpointKind::kHostEndpoint) ns = e.node_name;
  return ns + "/" + name + "[" + kind + "]";
}

namespace {

std::string label_of(const std::string& id) {
  const auto slash = id.find('/');
  return slash == std::string::npos ? id : id.substr(slash + 1);
}

}  // namespace

bool workload_matches(const std::string& name, const std::string& id) {
  const std::string ns_name = id.substr(0, id.find('['));
  return name == ns_name || name == label_of(ns_name) || name == id;
}

namespace {

// Whether the workload id is one of `names` (an empty list names none).
bool focus_matches_any(const std::vector<std::string>& names, const std::string& id) {
  for (const auto& f : names)
    if (workload_matches(f, id)) return true;
  return false;
}

}  // namespace

namespace {

struct Workloads {
  std::map<std::string, std::vector<std::uint32_t>> classes;  // workload id → its endpoint classes
  std::map<std::string, std::string> ns;
  std::map<std::string, std::vector<std::size_t>> endpoints;
};

Workloads group_workloads(const Model& model, const Reachability& reach) {
  Workloads w;
  for (std::size_t i = 0; i < model.endpoints.size(); ++i) {
    const auto id = workload_id(model.endpoints[i]);
    auto& classes = w.classes[id];
    const auto c = reach.class_of_endpoint(i);
    if (std::find(classes.begin(), classes.end(), c) == classes.end()) classes.push_back(c);
    w.ns[id] = model.endpoints[i].ns.empty() ? model.endpoints[i].node_name : model.endpoints[i].ns;
    w.endpoints[id].push_back(i);
  }
  return w;
}

}  // namespace

ConnList build_connlist(const Model& model, const Reachability& reach, const ConnListOptions& options) {
  ConnList out;
  if (model.endpoints.empty()) return out;
  const Workloads grouped = group_workloads(model, reach);
  const auto& workloads = grouped.classes;
  for (const auto& [id, classes] : workloads) {
    out.workloads.push_back(PeerNode{id, grouped.ns.at(id), label_of(id), false});
    if (classes.size() > 1)
      out.warnings.push_back("pods of " + id +
                             " are told apart by policies; its connections are the union over its pods");
  }
  std::set<std::string> used_externals;
  if (!options.focused()) {
    auto union_over = [&](const std::vector<std::uint32_t>& srcs, const std::vector<std::uint32_t>& dsts) {
      if (srcs.size() == 1 && dsts.size() == 1) return reach.allowed(srcs[0], dsts[0]);
      ConnectionSet u;
      for (auto s : srcs)
        for (auto d : dsts) u = u.unite(reach.allowed(s, d));
      return u;
    };
    for (const auto& [src, src_classes] : workloads)
      for (const auto& [dst, dst_classes] : workloads) {
        if (src == dst) continue;
        auto conn = union_over(src_classes, dst_classes);
        if (!conn.empty()) out.lines.push_back(ConnLine{src, dst, std::move(conn)});
      }
    for (const auto& block : reach.source_blocks()) {
      const std::string id = block.text() + "[External]";
      for (const auto& [dst, dst_classes] : workloads) {
        auto conn = union_over({block.peer}, dst_classes);
        if (conn.empty()) continue;
        used_externals.insert(id);
        out.lines.push_back(ConnLine{id, dst, std::move(conn)});
      }
    }
    for (const auto& block : reach.destination_blocks()) {
      const std::string id = block.text() + "[External]";
      for (const auto& [src, src_classes] : workloads) {
        auto conn = union_over(src_classes, {block.peer});
        if (conn.empty()) continue;
        used_externals.insert(id);
        out.lines.push_back(ConnLine{src, id, std::move(conn)});
      }
    }
  } else {
    // Targeted: per focused class one column (lines into it) or one row
    // (lines out of it); never the all-pairs matrix.
    std::map<std::pair<std::string, std::string>, ConnectionSet> lines;
    auto add = [&](const std::string& src, const std::string& dst, const ConnectionSet& conn) {
      if (conn.empty()) return;
      auto [it, inserted] = lines.try_emplace({src, dst}, conn);
      if (!inserted) it->second = it->second.unite(conn);
    };
    for (const auto& [w, w_classes] : workloads) {
      const bool into = focus_matches_any(options.focus_workloads, w) || focus_matches_any(options.to_workloads, w);
      const bool out_of = focus_matches_any(options.focus_workloads, w) || focus_matches_any(options.from_workloads, w);
      for (const auto c : w_classes) {
        if (into) {
          const auto column = reach.column(c);
          for (const auto& [src, src_classes] : workloads)
            if (src != w)
              for (const auto s : src_classes) add(src, w, *column[s]);
          for (const auto& block : reach.source_blocks()) add(block.text() + "[External]", w, *column[block.peer]);
        }
        if (out_of) {
          const auto row = reach.row(c);
          for (const auto& [dst, dst_classes] : workloads)
            if (dst != w)
              for (const auto d : dst_classes) add(w, dst, *row[d]);
          for (const auto& block : reach.destination_blocks()) add(w, block.text() + "[External]", *row[block.peer]);
        }
      }
    }
    for (auto& [key, conn] : lines) {
      for (const auto* id : {&key.first, &key.second})
        if (id->ends_with("[External]")) used_externals.insert(*id);
      out.lines.push_back(ConnLine{key.first, key.second, std::move(conn)});
    }
  }
  for (const auto& id : used_externals) out.externals.push_back(PeerNode{id, "", id, true});
  std::sort(out.lines.begin(), out.lines.end(),
            [](const ConnLine& a, const ConnLine& b) { return std::tie(a.src, a.dst) < std::tie(b.src, b.dst); });
  if (options.focused()) {
    std::set<std::string> in_lines;
    for (const auto& l : out.lines) {
      in_lines.insert(l.src);
      in_lines.insert(l.dst);
    }
    std::erase_if(out.workloads, [&](const PeerNode& n) {
      return !focus_matches_any(options.focus_workloads, n.id) && !focus_matches_any(options.to_workloads, n.id) &&
             !focus_matches_any(options.from_workloads, n.id) && !in_lines.contains(n.id);
    });
  }
  return out;
}

IsolationList isolated_workloads(const Model& model, const Reachability& reach) {
  IsolationList out;
  const Workloads grouped = group_workloads(model, reach);
  for (const auto& [id, endpoints] : grouped.endpoints) {
    IsolationLine line{id, true, true};
    bool some_ingress = false, some_egress = false;
    for (const auto e : endpoints) {
      const auto c = reach.class_of_endpoint(e);
      const bool in = reach.isolated(c, Direction::kIngress), eg = reach.isolated(c, Direction::kEgress);
      line.ingress = line.ingress && in;
      line.egress = line.egress && eg;
      some_ingress = some_ingress || in;
      some_egress = some_egress || eg;
    }
    if (some_ingress != line.ingress || some_egress != line.egress)
      out.warnings.push_back("only some pods of " + id + " are isolated for " +
                             (some_ingress != line.ingress ? std::string("ingress") : std::string("egress")) +
                             (some_ingress != line.ingress && some_egress != line.egress ? " and egress" : "") +
                             "; the workload is not listed as isolated there");
    if (line.ingress || line.egress) out.lines.push_back(std::move(line));
  }
  return out;
}

Result<std::string> format_isolation(const IsolationList& list, std::string_view format) {
  std::ostringstream out;
  auto directions = [](const IsolationLine& l) {
    return std::string(l.ingress ? "ingress" : "") + (l.ingress && l.egress ? ", " : "") + (l.egress ? "egress" : "");
  };
  if (format == "txt" || format == "text") {
    for (const auto& l : list.lines) out << l.workload << " : " << directions(l) << "\n";
    return out.str();
  }
  if (format == "csv") {
    out << "workload,ingress,egress\n";
    for (const auto& l : list.lines) out << l.workload << "," << (l.ingress ? "true" : "false") << "," << (l.egress ? "true" : "false") << "\n";
    return out.str();
  }
  if (format == "md") {
    out << "| workload | ingress | egress |\n|----------|---------|--------|\n";
    for (const auto& l : list.lines)
      out << "| " << l.workload << " | " << (l.ingress ? "isolated" : "") << " | " << (l.egress ? "isolated" : "") << " |\n";
    return out.str();
  }
  if (format == "json") {
    auto array = nlohmann::ordered_json::array();
    for (const auto& l : list.lines)
      array.push_back(nlohmann::ordered_json{{"workload", l.workload}, {"ingress", l.ingress}, {"egress", l.egress}});
    return array.dump(2) + "\n";
  }
  return fail(ErrorCode::kInvalidArgument, "isolation has no '" + std::string(format) + "' format (txt, json, csv, md)");
}

namespace {

// Go's encoding/csv quoting: quote a field with a comma, quote, CR/LF or a
// leading space.
std::string csv_field(const std::string& f) {
  const bool quote = f.find_first_of(",\"\r\n") != std::string::npos || (!f.empty() && f.front() == ' ');
  if (!quote) return f;
  std::string out = "\"";
  for (char c : f) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

std::string dot_quote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

std::string edge_line(const std::string& src, const std::string& dst, const std::string& label, const std::string& color,
                      const std::string& font) {
  return "\t" + dot_quote(src) + " -> " + dot_quote(dst) + " [label=" + dot_quote(label) + " color=" + dot_quote(color) +
         " fontcolor=" + dot_quote(font) + " weight=" + (src <= dst ? "0.5" : "1") + "]";
}

std::string node_line(const PeerNode& n, const std::string& color) {
  return "\t" + dot_quote(n.id) + " [label=" + dot_quote(n.label) + " color=" + dot_quote(color) +
         " fontcolor=" + dot_quote(color) + "]";
}

// Namespace subgraphs (dot does not take '-' in subgraph names).
std::vector<std::string> namespace_groups(const std::map<std::string, std::vector<std::string>>& by_ns) {
  std::vector<std::string> out;
  for (const auto& [ns, lines] : by_ns) {
    std::string name = ns + "[namespace]";
    std::string header = name;
    std::replace(header.begin(), header.end(), '-', '_');
    out.push_back("\tsubgraph \"cluster_" + header + "\" {");
    out.push_back("\t\tcolor=\"black\"");
    out.push_back("\t\tfontcolor=\"black\"");
    auto sorted = lines;
    std::sort(sorted.begin(), sorted.end());
    for (const auto& l : sorted) out.push_back("\t" + l);
    out.push_back("\t\tlabel=\"" + name + "\"");
    out.push_back("\t}");
  }
  return out;
}

std::string join_lines(const std::vector<std::string>& lines) {
  std::string out;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    if (i) out += '\n';
    out += lines[i];
  }
  return out;
}

}  // namespace

Result<std::string> format_connlist(const ConnList& list, std::string_view format) {
  std::ostringstream out;
  if (format == "txt" || format == "text") {
    for (const auto& l : list.lines) out << l.src << " => " << l.dst << " : " << l.conn.str() << "\n";
    return out.str();
  }
  if (format == "csv") {
    out << "src,dst,conn\n";
    for (const auto& l : list.lines)
      out << csv_field(l.src) << "," << csv_field(l.dst) << "," << csv_field(l.conn.str()) << "\n";
    return out.str();
  }
  if (format == "md") {
    out << "| src | dst | conn |\n|-----|-----|------|\n";
    for (const auto& l : list.lines) out << "| " << l.src << " | " << l.dst << " | " << l.conn.str() << " |\n";
    return out.str();
  }
  if (format == "json") {
    auto array = nlohmann::ordered_json::array();
    for (const auto& l : list.lines)
      array.push_back(nlohmann::ordered_json{{"src", l.src}, {"dst", l.dst}, {"conn", l.conn.str()}});
    return array.dump(2) + "\n";
  }
  if (format == "dot") {
    std::map<std::string, std::vector<std::string>> by_ns;
    for (const auto& w : list.workloads) by_ns[w.ns].push_back(node_line(w, "blue"));
    std::vector<std::string> lines{"digraph {"};
    for (auto& l : namespace_groups(by_ns)) lines.push_back(std::move(l));
    std::vector<std::string> externals, edges;
    for (const auto& e : list.externals) externals.push_back(node_line(e, "red2"));
    for (const auto& l : list.lines) edges.push_back(edge_line(l.src, l.dst, l.conn.str(), "gold2", "darkgreen"));
    std::sort(externals.begin(), externals.end());
    std::sort(edges.begin(), edges.end());
    lines.insert(lines.end(), externals.begin(), externals.end());
    lines.insert(lines.end(), edges.begin(), edges.end());
    lines.push_back("}");
    return join_lines(lines) + "\n";
  }
  return fail(ErrorCode::kInvalidArgument, "unknown output format '" + std::string(format) +
                                               "' (txt, json, csv, md, dot, svg)");
}

// ----------------------------------------------------------------------- diff

ConnDiff diff_connlists(const ConnList& ref1, const ConnList& ref2) {
  ConnDiff diff;
  std::set<std::string> w1, w2;
  for (const auto& w : ref1.workloads) w1.insert(w.id);
  for (const auto& w : ref2.workloads) w2.insert(w.id);
  std::map<std::pair<std::string, std::string>, std::pair<const ConnectionSet*, const ConnectionSet*>> pairs;
  for (const auto& l : ref1.lines) pairs[{l.src, l.dst}].first = &l.conn;
  for (const auto& l : ref2.lines) pairs[{l.src, l.dst}].second = &l.conn;
  auto is_workload = [](const std::string& id) { return id.find("[External]") == std::string::npos; };
  auto new_or_lost = [&](const std::string& id) {
    return is_workload(id) && (w1.contains(id) != w2.contains(id));
  };
  std::vector<DiffLine> changed, added, removed, unchanged;
  for (const auto& [key, conns] : pairs) {
    DiffLine d;
    d.src = key.first;
    d.dst = key.second;
    d.ref1 = conns.first ? conns.first->str() : "No Connections";
    d.ref2 = conns.second ? conns.second->str() : "No Connections";
    d.src_new_or_lost = new_or_lost(d.src);
    d.dst_new_or_lost = new_or_lost(d.dst);
    if (!conns.first) d.type = "added";
    else if (!conns.second) d.type = "removed";
    else if (*conns.first == *conns.second) d.type = "unchanged";
    else d.type = "changed";
    if (d.src_new_or_lost || d.dst_new_or_lost) {
      d.info = "workload ";
      if (d.src_new_or_lost) d.info += d.src;
      if (d.dst_new_or_lost) d.info += (d.src_new_or_lost ? " and " : "") + d.dst;
      d.info += " " + d.type;
    }
    auto& bucket = d.type == "added" ? added : d.type == "removed" ? removed : d.type == "changed" ? changed : unchanged;
    bucket.push_back(std::move(d));
  }
  for (auto* bucket : {&changed, &added, &removed, &unchanged})
    for (auto& d : *bucket) diff.lines.push_back(std::move(d));
  std::map<std::string, PeerNode> nodes;
  for (const auto* list : {&ref1, &ref2}) {
    for (const auto& w : list->workloads) nodes.emplace(w.id, w);
    for (const auto& e : list->externals) nodes.emplace(e.id, e);
  }
  for (auto& [id, n] : nodes) diff.nodes.push_back(n);
  return diff;
}

namespace {

std::vector<std::string> diff_legend() {
  return {
      "\tnodesep=0.5",
      "\tsubgraph cluster_legend {",
      "\t\tlabel=\"Legend\"",
      "\t\tfontsize = 10",
      "\t\tmargin=0",
      "\t\ta [style=invis height=0 width=0]",
      "\t\tb [style=invis height=0 width=0]",
      "\t\tc [style=invis height=0 width=0]",
      "\t\td [style=invis height=0 width=0]",
      "\t\te [style=invis height=0 width=0]",
      "\t\tf [style=invis height=0 width=0]",
      "\t\tg [style=invis height=0 width=0]",
      "\t\th [style=invis height=0 width=0]",
      "\t\t{rank=source a b c d}",
      "\t\t{rank=same e f g h}",
      "\t\ta -> b [label=\"added connection\", color=\"#008000\" fontcolor=\"#008000\" fontsize = 10 arrowsize=0.2]",
      "\t\tc -> d [label=\"removed connection\", color=\"red2\" fontcolor=\"red2\" fontsize = 10 arrowsize=0.2]",
      "\t\te -> f [label=\"changed connection\", color=\"magenta\" fontcolor=\"magenta\" fontsize = 10 arrowsize=0.2]",
      "\t\tg -> h [label=\"unchanged connection\", color=\"grey\" fontcolor=\"grey\" fontsize = 10 arrowsize=0.2]",
      "\t\tnp [label=\"new peer\" color=\"#008000\" fontcolor=\"#008000\" fontsize = 10]",
      "\t\tlp [label=\"lost peer\" color=\"red\" fontcolor=\"red\" fontsize = 10]",
      "\t\tpp [label=\"persistent peer\" color=\"blue\" fontcolor=\"blue\" fontsize = 10]",
      "\t\t{rank=sink np lp pp}",
      "\t\tnp->lp [style=invis]",
      "\t\tlp->pp [style=invis]",
      "\t}",
  };
}

}  // namespace

Result<std::string> format_diff(const ConnDiff& diff, std::string_view format) {
  std::ostringstream out;
  std::vector<const DiffLine*> shown;
  for (const auto& d : diff.lines)
    if (d.type != "unchanged") shown.push_back(&d);
  if (format == "txt" || format == "text") {
    out << "Connectivity diff:\n";
    for (const auto* d : shown) {
      out << "diff-type: " << d->type << ", source: " << d->src << ", destination: " << d->dst << ", ref1: " << d->ref1
          << ", ref2: " << d->ref2;
      if (!d->info.empty()) out << ", workloads-diff-info: " << d->info;
      out << "\n";
    }
    return out.str();
  }
  if (format == "csv") {
    out << "diff-type,source,destination,ref1,ref2,workloads-diff-info\n";
    for (const auto* d : shown)
      out << d->type << "," << csv_field(d->src) << "," << csv_field(d->dst) << "," << csv_field(d->ref1) << ","
          << csv_field(d->ref2) << "," << csv_field(d->info) << "\n";
    return out.str();
  }
  if (format == "md") {
    out << "| diff-type | source | destination | ref1 | ref2 | workloads-diff-info |\n"
        << "|-----------|--------|-------------|------|------|---------------------|\n";
    for (const auto* d : shown)
      out << "| " << d->type << " | " << d->src << " | " << d->dst << " | " << d->ref1 << " | " << d->ref2 << " | "
          << d->info << " |\n";
    return out.str();
  }
  if (format == "json") {
    auto array = nlohmann::ordered_json::array();
    for (const auto* d : shown)
      array.push_back(nlohmann::ordered_json{{"diff-type", d->type},
                                             {"source", d->src},
                                             {"destination", d->dst},
                                             {"ref1", d->ref1},
                                             {"ref2", d->ref2},
                                             {"workloads-diff-info", d->info}});
    return array.dump(2) + "\n";
  }
  if (format == "dot") {
    std::map<std::string, std::vector<std::string>> by_ns;
    std::vector<std::string> externals, edges;
    std::set<std::string> seen;
    auto add_peer = [&](const std::string& id, const DiffLine& d, bool new_or_lost) {
      if (!seen.insert(id).second) return;
      std::string color = "blue";
      if (new_or_lost) color = d.type == "added" ? "#008000" : d.type == "removed" ? "red" : "blue";
      PeerNode n{id, "", label_of(id), false};
      for (const auto& node : diff.nodes)
        if (node.id == id) n = node;
      if (n.external) {
        n.label = id;
        externals.push_back(node_line(n, color));
      } else {
        by_ns[n.ns].push_back(node_line(n, color));
      }
    };
    // Peer colours follow netpol-analyzer: unchanged, changed, added, removed.
    for (const char* type : {"unchanged", "changed", "added", "removed"})
      for (const auto& d : diff.lines) {
        if (d.type != type) continue;
        add_peer(d.src, d, d.src_new_or_lost);
        add_peer(d.dst, d, d.dst_new_or_lost);
        if (d.type == "unchanged") edges.push_back(edge_line(d.src, d.dst, d.ref1, "grey", "grey"));
        else if (d.type == "changed")
          edges.push_back(edge_line(d.src, d.dst, d.ref2 + " (ref1: " + d.ref1 + ")", "magenta", "magenta"));
        else if (d.type == "removed") edges.push_back(edge_line(d.src, d.dst, d.ref1, "red2", "red2"));
        else edges.push_back(edge_line(d.src, d.dst, d.ref2, "#008000", "#008000"));
      }
    std::sort(externals.begin(), externals.end());
    std::sort(edges.begin(), edges.end());
    std::vector<std::string> lines{"digraph {"};
    for (auto& l : namespace_groups(by_ns)) lines.push_back(std::move(l));
    lines.insert(lines.end(), externals.begin(), externals.end());
    lines.insert(lines.end(), edges.begin(), edges.end());
    for (auto& l : diff_legend()) lines.push_back(std::move(l));
    lines.push_back("}");
    return join_lines(lines) + "\n";
  }
  return fail(ErrorCode::kInvalidArgument,
              "unknown diff output format '" + std::string(format) + "' (txt, csv, md, dot, json, svg)");
}

}  // namespace rampart::engine

#include "rampart/compiler/transaction.h"

#include <algorithm>
#include <set>

namespace rampart::compiler {

void Transaction::record_failure(const std::string& message) {
  error_ = Error{ErrorCode::kInvalidArgument, "transaction op " + std::to_string(ops_.size() + 1) + ": " + message, {}};
}

void Transaction::check_name(const std::string& name, const char* what) {
  // nft identifiers; `fwd` and other keywords would need quoting in nft text.
  static const std::set<std::string, std::less<>> kKeywords = {"fwd", "table", "chain", "set", "map", "rule", "element",
                                                               "ip", "ip6", "inet", "bridge", "arp", "netdev"};
  bool ok = !name.empty() && name.size() <= 256 && std::isalpha(static_cast<unsigned char>(name[0]));
  for (char c : name)
    ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.');
  check(ok, [&] { return std::string("bad ") + what + " name '" + name + "'"; });
  check(!kKeywords.contains(name), [&] { return std::string(what) + " name '" + name + "' is an nft keyword"; });
}

void Transaction::check_rule(const Rule& rule) {
  for (const auto& m : rule.matches) {
    check(!m.keys.empty(), "match without a key");
    const bool set_op = m.op == Match::Op::kInSet || m.op == Match::Op::kNotInSet;
    check(set_op == !m.set.empty(), "set lookups need a set name, and only they");
    check(set_op || m.keys.size() == 1, "concatenations are only allowed in set lookups");
    const size_t want = set_op ? 0 : (m.op == Match::Op::kRange || m.op == Match::Op::kNotRange) ? 2 : 1;
    check(m.values.size() == want,
          [&] { return "match has " + std::to_string(m.values.size()) + " values, wants " + std::to_string(want); });
  }
  check(rule.vmap.empty() || rule.verdict.kind == Verdict::Kind::kNone, "a vmap rule has no other verdict");
  check(rule.vmap.empty() == rule.vmap_keys.empty(), "a vmap needs keys");
  const bool to_chain = rule.verdict.kind == Verdict::Kind::kJump || rule.verdict.kind == Verdict::Kind::kGoto;
  check(to_chain == !rule.verdict.chain.empty(), "jump/goto needs a chain, other verdicts none");
}

void Transaction::check_elements(const Set& set, const std::vector<Element>& elements) {
  for (const auto& e : elements) {
    check(e.key.size() == set.key.size(), [&] {
      return "element of set '" + set.name + "' has " + std::to_string(e.key.size()) + " fields, the set " +
             std::to_string(set.key.size());
    });
    check(!e.key_end || set.interval, [&] { return "range element in non-interval set '" + set.name + "'"; });
    check(set.verdict_map == (e.verdict.kind != Verdict::Kind::kNone), "map elements need a verdict, set elements none");
  }
}

void Transaction::add_table(Family f, const std::string& t) {
  check_name(t, "table");
  ops_.push_back(Op{.verb = Op::Verb::kAdd, .object = Op::Object::kTable, .family = f, .table = t});
}
void Transaction::delete_table(Family f, const std::string& t) {
  ops_.push_back(Op{.verb = Op::Verb::kDelete, .object = Op::Object::kTable, .family = f, .table = t});
}
void Transaction::add_chain(Family f, const std::string& t, const Chain& c) {
  check_name(c.name, "chain");
  ops_.push_back(Op{.verb = Op::Verb::kAdd, .object = Op::Object::kChain, .family = f, .table = t, .name = c.name, .base = c.base});
}
void Transaction::flush_chain(Family f, const std::string& t, const std::string& c) {
  ops_.push_back(Op{.verb = Op::Verb::kFlush, .object = Op::Object::kChain, .family = f, .table = t, .name = c});
}
void Transaction::delete_chain(Family f, const std::string& t, const std::string& c) {
  ops_.push_back(Op{.verb = Op::Verb::kDelete, .object = Op::Object::kChain, .family = f, .table = t, .name = c});
}
void Transaction::add_rule(Family f, const std::string& t, const std::string& c, const Rule& r) {
  check_rule(r);
  ops_.push_back(Op{.verb = Op::Verb::kAdd, .object = Op::Object::kRule, .family = f, .table = t, .name = c, .rule = r});
}
// The set without its elements (not copied: a node's address sets hold
// thousands).
static Set declaration(const Set& s) {
  return Set{.name = s.name, .key = s.key, .interval = s.interval, .verdict_map = s.verdict_map};
}
void Transaction::add_set(Family f, const std::string& t, const Set& s) {
  check_name(s.name, "set");
  check(!s.key.empty(), [&] { return "set '" + s.name + "' has no key type"; });
  check(!(s.interval && s.key.size() > 1), "concatenated interval sets are not supported");
  ops_.push_back(Op{.verb = Op::Verb::kAdd, .object = Op::Object::kSet, .family = f, .table = t, .name = s.name, .set = declaration(s)});
}
void Transaction::flush_set(Family f, const std::string& t, const Set& s) {
  ops_.push_back(Op{.verb = Op::Verb::kFlush, .object = Op::Object::kSet, .family = f, .table = t, .name = s.name, .set = declaration(s)});
}
void Transaction::delete_set(Family f, const std::string& t, const Set& s) {
  ops_.push_back(Op{.verb = Op::Verb::kDelete, .object = Op::Object::kSet, .family = f, .table = t, .name = s.name, .set = declaration(s)});
}
void Transaction::add_elements(Family f, const std::string& t, const Set& s, std::vector<Element> els) {
  if (els.empty()) return;
  check_elements(s, els);
  Set d = declaration(s);
  d.elements = std::move(els);
  ops_.push_back(Op{.verb = Op::Verb::kAdd, .object = Op::Object::kElements, .family = f, .table = t, .name = s.name, .set = std::move(d)});
}
void Transaction::delete_elements(Family f, const std::string& t, const Set& s, std::vector<Element> els) {
  if (els.empty()) return;
  check_elements(s, els);
  Set d = declaration(s);
  d.elements = std::move(els);
  ops_.push_back(Op{.verb = Op::Verb::kDelete, .object = Op::Object::kElements, .family = f, .table = t, .name = s.name, .set = std::move(d)});
}

void Transaction::create(const Table& table) {
  size_t ops = 1 + table.chains.size() + 2 * table.sets.size();
  for (const auto& c : table.chains) ops += c.rules.size();
  ops_.reserve(ops_.size() + ops);
  add_table(table.family, table.name);
  // Chains before sets: nft 1.0.6 refuses (ENOENT) `add element` of an
  // interval map whose goto names a chain added after the map in the same
  // `nft -f` batch (netlink does not mind).
  for (const auto& c : table.chains) add_chain(table.family, table.name, c);
  for (const auto& s : table.sets) add_set(table.family, table.name, s);
  for (const auto& s : table.sets) add_elements(table.family, table.name, s, s.elements);
  for (const auto& c : table.chains)
    for (const auto& r : c.rules) add_rule(table.family, table.name, c.name, r);
}

Result<void> Transaction::error() const {
  if (error_) return std::unexpected(*error_);
  return {};
}

// ---------------------------------------------------------------------------

namespace {

Table* find_table(Ruleset& rs, Family f, const std::string& name) {
  for (auto& t : rs.tables)
    if (t.family == f && t.name == name) return &t;
  return nullptr;
}

bool references_chain(const Table& t, const std::string& chain) {
  for (const auto& c : t.chains)
    for (const auto& r : c.rules)
      if (r.verdict.chain == chain) return true;
  for (const auto& s : t.sets)
    for (const auto& e : s.elements)
      if (e.verdict.chain == chain) return true;
  return false;
}

bool references_set(const Table& t, const std::string& set) {
  for (const auto& c : t.chains)
    for (const auto& r : c.rules) {
      if (r.vmap == set) return true;
      for (const auto& m : r.matches)
        if (m.set == set) return true;
    }
  return false;
}

Result<void> apply_op(Ruleset& rs, const Op& op) {
  const auto where = std::string(family_name(op.family)) + " " + op.table;
  const auto err = [&](const std::string& msg) { return fail(ErrorCode::kKernel, msg + " (" + where + ")"); };
  Table* t = find_table(rs, op.family, op.table);
  if (op.object == Op::Object::kTable) {
    if (op.verb == Op::Verb::kAdd) {
      if (!t) rs.tables.push_back(Table{.family = op.family, .name = op.table});
      return {};
    }
    if (!t) return err("no such table");
    if (op.verb == Op::Verb::kDelete) {
      std::erase_if(rs.tables, [&](const Table& x) { return &x == t; });
    } else {
      for (auto& c : t->chains) c.rules.clear();
      for (auto& s : t->sets) s.elements.clear();
    }
    return {};
  }
  if (!t) return err("no such table");
  switch (op.object) {
    case Op::Object::kChain: {
      Chain* c = t->find_chain(op.name);
      if (op.verb == Op::Verb::kAdd) {
        if (c) return c->base == op.base ? Result<void>{} : err("chain " + op.name + " exists with another type");
        t->chains.push_back(Chain{.name = op.name, .base = op.base});
        return {};
      }
      if (!c) return err("no such chain " + op.name);
      if (op.verb == Op::Verb::kFlush) {
        c->rules.clear();
        return {};
      }
      if (references_chain(*t, op.name)) return err("chain " + op.name + " is in use");
      std::erase_if(t->chains, [&](const Chain& x) { return x.name == op.name; });
      return {};
    }
    case Op::Object::kRule: {
      Chain* c = t->find_chain(op.name);
      if (!c) return err("no such chain " + op.name);
      for (const auto& m : op.rule.matches)
        if (!m.set.empty() && !t->find_set(m.set)) return err("no such set " + m.set);
      if (!op.rule.vmap.empty() && !t->find_set(op.rule.vmap)) return err("no such map " + op.rule.vmap);
      if (!op.rule.verdict.chain.empty() && !t->find_chain(op.rule.verdict.chain))
        return err("no such chain " + op.rule.verdict.chain);
      c->rules.push_back(op.rule);
      return {};
    }
    case Op::Object::kSet: {
      Set* s = t->find_set(op.name);
      if (op.verb == Op::Verb::kAdd) {
        if (s) return s->key == op.set.key && s->interval == op.set.interval ? Result<void>{} : err("set " + op.name + " exists");
        t->sets.push_back(op.set);
        return {};
      }
      if (!s) return err("no such set " + op.name);
      if (op.verb == Op::Verb::kFlush) {
        s->elements.clear();
        return {};
      }
      if (references_set(*t, op.name)) return err("set " + op.name + " is in use");
      std::erase_if(t->sets, [&](const Set& x) { return x.name == op.name; });
      return {};
    }
    case Op::Object::kElements: {
      Set* s = t->find_set(op.name);
      if (!s) return err("no such set " + op.name);
      for (const auto& e : op.set.elements) {
        Element k = e;
        if (s->interval && !k.key_end) k.key_end = k.key.front();
        auto it = std::find_if(s->elements.begin(), s->elements.end(), [&](const Element& x) {
          return x.key == k.key && x.key_end == k.key_end;
        });
        if (op.verb == Op::Verb::kAdd) {
          if (it != s->elements.end()) {
            if (it->verdict != k.verdict) return err("element exists in " + op.name);
            continue;
          }
          if (!k.verdict.chain.empty() && !t->find_chain(k.verdict.chain)) return err("no such chain " + k.verdict.chain);
          s->elements.push_back(k);
        } else {
          if (it == s->elements.end()) return err("no such element in " + op.name);
          s->elements.erase(it);
        }
      }
      std::sort(s->elements.begin(), s->elements.end());
      return {};
    }
    case Op::Object::kTable: break;
  }
  return {};
}

}  // namespace

Result<void> FakeKernel::apply(const Transaction& tx) {
  if (auto e = tx.error(); !e) return e;
  Ruleset next = ruleset_;
  size_t index = 0;
  for (const auto& op : tx.ops()) {
    ++index;
    if (auto r = apply_op(next, op); !r)
      return fail(ErrorCode::kKernel, "op " + std::to_string(index) + ": " + r.error().message);
  }
  ruleset_ = std::move(next);  // all or nothing
  return {};
}

}  // namespace rampart::compiler

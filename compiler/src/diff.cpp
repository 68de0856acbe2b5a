#include "rampart/compiler/diff.h"

#include <algorithm>
#include <iterator>

namespace rampart::compiler {
namespace {

std::vector<Element> minus(const std::vector<Element>& a, const std::vector<Element>& b) {
  std::vector<Element> out;
  std::set_difference(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(out));
  return out;
}

bool same_decl(const Set& a, const Set& b) {
  return a.key == b.key && a.interval == b.interval && a.verdict_map == b.verdict_map;
}

// false when the table must be rebuilt (a declaration changed in place).
bool diff_table(Transaction& tx, const Table& cur, const Table& want) {
  for (const auto& s : want.sets)
    if (const Set* c = cur.find_set(s.name); c && !same_decl(*c, s)) return false;
  for (const auto& ch : want.chains)
    if (const Chain* c = cur.find_chain(ch.name); c && c->base != ch.base) return false;

  const Family f = want.family;
  const std::string& t = want.name;
  for (const auto& ch : want.chains)  // chains first: see Transaction::create
    if (!cur.find_chain(ch.name)) tx.add_chain(f, t, ch);
  for (const auto& s : want.sets)
    if (!cur.find_set(s.name)) tx.add_set(f, t, s);
  for (const auto& s : want.sets)
    if (const Set* c = cur.find_set(s.name)) tx.delete_elements(f, t, s, minus(c->elements, s.elements));
  // A map going away still holds its jumps: empty it first, or the chains
  // it points at cannot be deleted below. A flush, not its elements: a
  // current state read back from the kernel may not list them.
  for (const auto& s : cur.sets)
    if (s.verdict_map && !want.find_set(s.name)) tx.flush_set(f, t, s);
  for (const auto& s : want.sets) {
    const Set* c = cur.find_set(s.name);
    tx.add_elements(f, t, s, c ? minus(s.elements, c->elements) : s.elements);
  }
  for (const auto& ch : want.chains) {
    const Chain* c = cur.find_chain(ch.name);
    if (c && c->rules == ch.rules) continue;
    if (c && !c->rules.empty()) tx.flush_chain(f, t, ch.name);
    for (const auto& r : ch.rules) tx.add_rule(f, t, ch.name, r);
  }
  for (const auto& c : cur.chains)
    if (!want.find_chain(c.name) && !c.rules.empty()) tx.flush_chain(f, t, c.name);
  for (const auto& c : cur.chains)
    if (!want.find_chain(c.name)) tx.delete_chain(f, t, c.name);
  for (const auto& s : cur.sets)
    if (!want.find_set(s.name)) tx.delete_set(f, t, s);
  return true;
}

void replace(Transaction& tx, const Table& want) {
  tx.add_table(want.family, want.name);
  tx.delete_table(want.family, want.name);
  tx.create(want);
}

}  // namespace

Transaction diff(const Ruleset& current, const Ruleset& desired) {
  Transaction tx;
  for (const auto& want : desired.tables) {
    const Table* cur = current.find_table(want.family, want.name);
    if (!cur) {
      tx.create(want);
      continue;
    }
    Transaction part;
    if (diff_table(part, *cur, want)) {
      for (const auto& op : part.ops()) {
        // replay through the public builders keeps validation in one place
        switch (op.object) {
          case Op::Object::kTable: break;
          case Op::Object::kChain:
            if (op.verb == Op::Verb::kAdd) tx.add_chain(op.family, op.table, Chain{.name = op.name, .base = op.base});
            else if (op.verb == Op::Verb::kFlush) tx.flush_chain(op.family, op.table, op.name);
            else tx.delete_chain(op.family, op.table, op.name);
            break;
          case Op::Object::kRule: tx.add_rule(op.family, op.table, op.name, op.rule); break;
          case Op::Object::kSet:
            if (op.verb == Op::Verb::kAdd) tx.add_set(op.family, op.table, op.set);
            else if (op.verb == Op::Verb::kFlush) tx.flush_set(op.family, op.table, op.set);
            else tx.delete_set(op.family, op.table, op.set);
            break;
          case Op::Object::kElements:
            if (op.verb == Op::Verb::kAdd) tx.add_elements(op.family, op.table, op.set, op.set.elements);
            else tx.delete_elements(op.family, op.table, op.set, op.set.elements);
            break;
        }
      }
    } else {
      replace(tx, want);
    }
  }
  for (const auto& cur : current.tables)
    if (!desired.find_table(cur.family, cur.name)) tx.delete_table(cur.family, cur.name);
  return tx;
}

Transaction rebuild(const Ruleset& desired, const Ruleset& current) {
  Transaction tx;
  for (const auto& want : desired.tables) replace(tx, want);
  for (const auto& cur : current.tables)
    if (!desired.find_table(cur.family, cur.name)) tx.delete_table(cur.family, cur.name);
  return tx;
}

}  // namespace rampart::compiler

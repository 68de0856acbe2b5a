#include "rampart/compiler/kernel.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>

#include "netlink.h"
#include "rampart/compiler/render.h"

namespace rampart::compiler {
namespace {

Result<Kernel::Output> run(const std::vector<std::string>& argv, const std::string& input) {
  int in[2], out[2], err[2];
  if (pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC) || pipe2(err, O_CLOEXEC))
    return fail(ErrorCode::kIo, std::string("pipe: ") + std::strerror(errno));
  const pid_t pid = fork();
  if (pid < 0) return fail(ErrorCode::kIo, std::string("fork: ") + std::strerror(errno));
  if (pid == 0) {
    dup2(in[0], 0);
    dup2(out[1], 1);
    dup2(err[1], 2);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execvp(args[0], args.data());
    _exit(127);
  }
  close(in[0]);
  close(out[1]);
  close(err[1]);
  Kernel::Output o;
  size_t written = 0;
  int in_fd = in[1];
  if (input.empty()) {
    close(in_fd);
    in_fd = -1;
  } else {
    fcntl(in_fd, F_SETFL, O_NONBLOCK);
  }
  bool out_open = true, err_open = true;
  char buf[65536];
  while (out_open || err_open || in_fd >= 0) {
    pollfd fds[3] = {{out_open ? out[0] : -1, POLLIN, 0}, {err_open ? err[0] : -1, POLLIN, 0}, {in_fd, POLLOUT, 0}};
    if (poll(fds, 3, -1) < 0 && errno != EINTR) break;
    for (int i = 0; i < 2; ++i) {
      if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      const ssize_t n = read(fds[i].fd, buf, sizeof buf);
      if (n > 0) (i == 0 ? o.out : o.err).append(buf, static_cast<size_t>(n));
      else (i == 0 ? out_open : err_open) = false;
    }
    if (in_fd >= 0 && (fds[2].revents & (POLLOUT | POLLERR | POLLHUP))) {
      const ssize_t n = write(in_fd, input.data() + written, input.size() - written);
      if (n > 0) written += static_cast<size_t>(n);
      if (n < 0 || written == input.size()) {
        close(in_fd);
        in_fd = -1;
      }
    }
  }
  close(out[0]);
  close(err[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  o.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128;
  if (o.status == 127) return fail(ErrorCode::kIo, "cannot run " + argv[0]);
  return o;
}

// JSON element → the text render_element() prints; field picks the key type.
std::string element_text(const nlohmann::json& j, const Set& set, size_t field = 0) {
  const bool quote_strings = field < set.key.size() && set.key[field] == KeyType::kIfname;
  if (j.is_string()) return quote_strings ? "\"" + j.get<std::string>() + "\"" : j.get<std::string>();
  if (j.is_number()) return std::to_string(j.get<long long>());
  if (j.is_array()) {  // map element: [key, verdict]
    std::string v;
    for (const auto& [kind, body] : j[1].items())
      v = kind + (body.is_object() && body.contains("target") ? " " + body["target"].get<std::string>() : "");
    return element_text(j[0], set) + " : " + v;
  }
  if (j.contains("prefix")) return j["prefix"]["addr"].get<std::string>() + "/" + std::to_string(j["prefix"]["len"].get<int>());
  if (j.contains("range")) return element_text(j["range"][0], set, field) + "-" + element_text(j["range"][1], set, field);
  if (j.contains("concat")) {
    std::string out;
    size_t i = 0;
    for (const auto& part : j["concat"]) out += (out.empty() ? "" : " . ") + element_text(part, set, i++);
    return out;
  }
  if (j.contains("elem")) return element_text(j["elem"]["val"], set, field);
  return j.dump();
}

}  // namespace

Result<Kernel::Output> Kernel::nft(const std::vector<std::string>& args, const std::string& input) const {
  std::vector<std::string> argv;
  if (!netns_.empty()) argv = {"ip", "netns", "exec", netns_};
  argv.push_back("nft");
  argv.insert(argv.end(), args.begin(), args.end());
  return run(argv, input);
}

Result<std::uint32_t> Kernel::generation() const { return netlink::generation(netns_); }

Result<void> Kernel::apply(const Transaction& tx) const {
  if (backend_ == KernelBackend::kNftText) return apply_text(tx);
  auto r = netlink::apply(netns_, tx, std::nullopt);
  if (!r) return std::unexpected(r.error());
  return {};
}

Result<void> Kernel::apply(const Transaction& tx, std::uint32_t generation) const {
  if (backend_ == KernelBackend::kNftText) {
    auto now = this->generation();
    if (!now) return std::unexpected(now.error());
    if (*now != generation)
      return fail(ErrorCode::kKernel, std::string(netlink::kGenerationChanged) + " (generation " + std::to_string(generation) +
                                          ", now " + std::to_string(*now) + "); nothing changed, read back and retry");
    return apply_text(tx);
  }
  auto r = netlink::apply(netns_, tx, generation);
  if (!r) return std::unexpected(r.error());
  return {};
}

Result<void> Kernel::apply_text(const Transaction& tx) const {
  if (auto e = tx.error(); !e) return e;
  if (tx.empty()) return {};
  // One op per line (render() drops none: builders skip empty element
  // lists), so nft's line numbers name the op.
  const std::string script = render(tx);
  auto r = nft({"-f", "-"}, script);
  if (!r) return std::unexpected(r.error());
  if (r->status == 0) return {};
  std::string message = r->err;
  static const std::regex kLine(R"(/dev/stdin:(\d+):)");
  std::smatch m;
  if (std::regex_search(r->err, m, kLine)) {
    const size_t line = std::stoul(m[1]);
    std::istringstream lines(script);
    std::string text;
    for (size_t i = 0; i < line && std::getline(lines, text); ++i) {
    }
    const auto first_line = r->err.substr(0, r->err.find('\n'));
    message = "op " + std::to_string(line) + " (" + text + "): " + first_line.substr(first_line.find("Error"));
  }
  while (!message.empty() && message.back() == '\n') message.pop_back();
  return fail(ErrorCode::kKernel, "nftables refused the transaction, nothing changed: " + message);
}

Result<Ruleset> Kernel::read_back(const std::vector<std::pair<Family, std::string>>& tables) const {
  return netlink::read_tables(netns_, tables);
}

Result<std::vector<std::pair<Family, std::string>>> Kernel::tables() const { return netlink::list_tables(netns_); }

Result<std::string> Kernel::drift(const Ruleset& desired) const {
  std::vector<netlink::TableName> names;
  for (const auto& t : desired.tables) names.emplace_back(t.family, t.name);
  auto have = read_back(names);
  if (!have) {
    if (have.error().message.starts_with(netlink::kNotUnderstood)) return have.error().message;
    return std::unexpected(have.error());
  }
  for (const auto& t : desired.tables) {
    const std::string where = std::string(family_name(t.family)) + " " + t.name;
    const Table* h = have->find_table(t.family, t.name);
    if (!h) return "table " + where + " is missing";
    Ruleset want = canonical(Ruleset{.tables = {t}});
    Ruleset got = canonical(Ruleset{.tables = {*h}});
    for (auto* rs : {&want, &got})
      for (auto& s : rs->tables[0].sets) normalize(s);
    if (want == got) continue;
    const std::string want_text = render(want), have_text = render(got);
    if (want_text != have_text) return "table " + where + " differs:\n--- want\n" + want_text + "--- have\n" + have_text;
    return "table " + where + " differs (the same text, other IR)";
  }
  return std::string();
}

Result<std::string> Kernel::list(Family family, const std::string& table, bool terse) const {
  std::vector<std::string> args;
  if (terse) args.push_back("-t");
  args.insert(args.end(), {"list", "table", family_name(family), table});
  auto r = nft(args);
  if (!r) return std::unexpected(r.error());
  if (r->status != 0) return fail(ErrorCode::kNotFound, r->err);
  return r->out;
}

Result<std::string> Kernel::list_ruleset() const {
  auto r = nft({"list", "ruleset"});
  if (!r) return std::unexpected(r.error());
  if (r->status != 0) return fail(ErrorCode::kKernel, r->err);
  return r->out;
}

std::string canonical_listing(const std::string& listing) {
  // Blocks are separated by blank lines inside each table.
  std::istringstream in(listing);
  std::string line, out;
  std::vector<std::string> blocks;
  std::string block;
  const auto flush_table = [&] {
    if (!block.empty()) blocks.push_back(block);
    block.clear();
    std::sort(blocks.begin(), blocks.end());
    for (const auto& b : blocks) out += b;
    blocks.clear();
  };
  while (std::getline(in, line)) {
    if (line.starts_with("table ")) {
      out += line + "\n";
      continue;
    }
    if (line == "}") {
      flush_table();
      out += "}\n";
      continue;
    }
    if (line.empty()) {
      if (!block.empty()) blocks.push_back(block);
      block.clear();
      continue;
    }
    if (line.find("elements = {") != std::string::npos) {
      while (line.find('}') == std::string::npos && std::getline(in, line)) {
      }
      continue;
    }
    block += line + "\n";
  }
  return out;
}

Result<std::string> Kernel::drift_nft(const Ruleset& desired) const {
  for (const auto& t : desired.tables) {
    const std::string where = std::string(family_name(t.family)) + " " + t.name;
    auto listed = list(t.family, t.name, true);
    if (!listed) return "table " + where + " is missing";
    Table terse = t;
    const std::string want = canonical_listing(render(canonical(Ruleset{.tables = {terse}}), RenderOptions{.elements = false}));
    const std::string have = canonical_listing(*listed);
    if (want != have) return "table " + where + " differs:\n--- want\n" + want + "--- have\n" + have;
    auto json = nft({"-j", "list", "table", family_name(t.family), t.name});
    if (!json || json->status != 0) return fail(ErrorCode::kKernel, "cannot list " + where + " as JSON");
    nlohmann::json doc;
    try {
      doc = nlohmann::json::parse(json->out);
    } catch (const std::exception& e) {
      return fail(ErrorCode::kKernel, std::string("nft -j output: ") + e.what());
    }
    for (const auto& item : doc["nftables"]) {
      const nlohmann::json* body = item.contains("set") ? &item["set"] : item.contains("map") ? &item["map"] : nullptr;
      if (!body) continue;
      const std::string name = (*body)["name"].get<std::string>();
      const Set* s = t.find_set(name);
      if (!s) continue;  // reported by the listing compare
      std::vector<std::string> have_elems, want_elems;
      if (body->contains("elem"))
        for (const auto& e : (*body)["elem"]) have_elems.push_back(element_text(e, *s));
      for (const auto& e : s->elements) want_elems.push_back(render_element(*s, e));
      std::sort(have_elems.begin(), have_elems.end());
      std::sort(want_elems.begin(), want_elems.end());
      if (have_elems != want_elems) {
        std::string msg = "set " + name + " in " + where + " differs: want {";
        for (const auto& e : want_elems) msg += " " + e;
        msg += " } have {";
        for (const auto& e : have_elems) msg += " " + e;
        return msg + " }";
      }
    }
  }
  return std::string();
}

}  // namespace rampart::compiler

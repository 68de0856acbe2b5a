// cpp-httplib is the HTTP client here (and the agent's /metrics server): it is
// packaged by Debian, blocking and small, streams a response body through a
// callback (the watch), and can be stopped from another thread (cancel_watch).
#include "rampart/enforcer/etcd_client.h"

#include <httplib.h>

#include <nlohmann/json.hpp>

#include <array>

namespace rampart::enforcer {
namespace {

constexpr std::string_view kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

std::int64_t int_field(const nlohmann::json& object, const char* name) {
  if (!object.is_object()) return 0;
  const auto it = object.find(name);
  if (it == object.end()) return 0;
  if (it->is_number_integer()) return it->get<std::int64_t>();
  if (it->is_string()) {
    try {
      return std::stoll(it->get<std::string>());
    } catch (const std::exception&) {
      return 0;
    }
  }
  return 0;
}

std::string string_field(const nlohmann::json& object, const char* name) {
  if (!object.is_object()) return {};
  const auto it = object.find(name);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

Result<EtcdKv> decode_kv(const nlohmann::json& kv) {
  auto key = base64_decode(string_field(kv, "key"));
  if (!key) return std::unexpected(key.error());
  auto value = base64_decode(string_field(kv, "value"));
  if (!value) return std::unexpected(value.error());
  return EtcdKv{std::move(*key), std::move(*value), int_field(kv, "create_revision"), int_field(kv, "mod_revision")};
}

void configure(httplib::Client& client, const EtcdClientOptions& options, std::chrono::milliseconds read_timeout) {
  client.set_connection_timeout(options.connect_timeout);
  client.set_read_timeout(read_timeout);
  client.set_write_timeout(options.request_timeout);
  client.set_keep_alive(false);
}

// gRPC status codes the gateway returns in {"code":…}.
constexpr int kGrpcOutOfRange = 11;     // ErrCompacted, ErrFutureRev
constexpr int kGrpcUnavailable = 14;    // no leader, stopping
constexpr int kGrpcDeadline = 4;

}  // namespace

std::string base64_encode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    const unsigned v = (static_cast<unsigned char>(bytes[i]) << 16) | (static_cast<unsigned char>(bytes[i + 1]) << 8) |
                       static_cast<unsigned char>(bytes[i + 2]);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  if (i + 1 == bytes.size()) {
    const unsigned v = static_cast<unsigned char>(bytes[i]) << 16;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += "==";
  } else if (i + 2 == bytes.size()) {
    const unsigned v = (static_cast<unsigned char>(bytes[i]) << 16) | (static_cast<unsigned char>(bytes[i + 1]) << 8);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += '=';
  }
  return out;
}

Result<std::string> base64_decode(std::string_view text) {
  std::array<int, 256> value{};
  value.fill(-1);
  for (std::size_t i = 0; i < kAlphabet.size(); ++i) value[static_cast<unsigned char>(kAlphabet[i])] = static_cast<int>(i);
  std::string out;
  unsigned buffer = 0;
  int bits = 0;
  std::size_t padding = 0;
  for (char c : text) {
    if (c == '=') {
      ++padding;
      continue;
    }
    const int v = value[static_cast<unsigned char>(c)];
    if (v < 0 || padding > 0) return fail(ErrorCode::kParse, "invalid base64 from etcd");
    buffer = (buffer << 6) | static_cast<unsigned>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((buffer >> bits) & 0xff);
    }
  }
  if (padding > 2) return fail(ErrorCode::kParse, "invalid base64 from etcd");
  return out;
}

std::string prefix_range_end(std::string_view prefix) {
  std::string end(prefix);
  while (!end.empty()) {
    auto& last = reinterpret_cast<unsigned char&>(end.back());
    if (last < 0xff) {
      ++last;
      return end;
    }
    end.pop_back();
  }
  return std::string(1, '\0');  // every key
}

struct EtcdClient::Reply {
  nlohmann::json body;
};

struct EtcdClient::ActiveWatch {
  std::unique_ptr<httplib::Client> client;
};

EtcdClient::EtcdClient(std::vector<std::string> endpoints, EtcdClientOptions options)
    : endpoints_(std::move(endpoints)), options_(options) {}

EtcdClient::~EtcdClient() = default;

std::string EtcdClient::current_endpoint() const {
  std::lock_guard lock(mutex_);
  return endpoints_.empty() ? std::string() : endpoints_[current_ % endpoints_.size()];
}

// One request, trying each endpoint once starting at the current one. An
// endpoint that cannot be reached, or that answers "unavailable" (a member
// without a leader), moves the client on to the next.
Result<EtcdClient::Reply> EtcdClient::call(std::string_view path, const std::string& body) {
  if (endpoints_.empty()) return fail(ErrorCode::kInvalidArgument, "no etcd endpoints");
  std::string problems;
  std::size_t start;
  {
    std::lock_guard lock(mutex_);
    start = current_;
  }
  for (std::size_t attempt = 0; attempt < endpoints_.size(); ++attempt) {
    const std::size_t index = (start + attempt) % endpoints_.size();
    const std::string& endpoint = endpoints_[index];
    try {
      httplib::Client client(endpoint);
      configure(client, options_, options_.request_timeout);
      auto response = client.Post(std::string(path), body, "application/json");
      if (!response) {
        problems += "; " + endpoint + ": " + httplib::to_string(response.error());
        continue;
      }
      nlohmann::json reply = nlohmann::json::parse(response->body, nullptr, false);
      std::string().swap(response->body);  // a whole-cluster list: the text goes before its values are decoded
      if (reply.is_discarded() || !reply.is_object()) {
        problems += "; " + endpoint + ": HTTP " + std::to_string(response->status) +
                    " with a body that is not a JSON object";
        continue;
      }
      if (response->status != 200) {
        const int code = static_cast<int>(int_field(reply, "code"));
        const std::string message = string_field(reply, "message");
        if (code == kGrpcUnavailable || code == kGrpcDeadline || response->status >= 500) {
          problems += "; " + endpoint + ": " + message;
          continue;
        }
        {
          std::lock_guard lock(mutex_);
          current_ = index;
        }
        if (code == kGrpcOutOfRange) return fail(ErrorCode::kNotFound, "etcd: " + message);
        return fail(ErrorCode::kInvalidArgument, "etcd " + endpoint + ": " + message);
      }
      {
        std::lock_guard lock(mutex_);
        current_ = index;
      }
      return Reply{std::move(reply)};
    } catch (const std::exception& e) {
      problems += "; " + endpoint + ": " + e.what();
    }
  }
  return fail(ErrorCode::kUnavailable, "no etcd endpoint answered" + problems);
}

Result<EtcdRange> EtcdClient::range_prefix(std::string_view prefix, std::int64_t revision) {
  nlohmann::json request{{"key", base64_encode(prefix)}, {"range_end", base64_encode(prefix_range_end(prefix))}};
  if (revision > 0) request["revision"] = std::to_string(revision);
  auto reply = call("/v3/kv/range", request.dump());
  if (!reply) return std::unexpected(reply.error());
  EtcdRange out;
  out.revision = int_field(reply->body.value("header", nlohmann::json::object()), "revision");
  if (auto it = reply->body.find("kvs"); it != reply->body.end() && it->is_array()) {
    out.kvs.reserve(it->size());
    for (auto& kv : *it) {
      auto decoded = decode_kv(kv);
      if (!decoded) return std::unexpected(decoded.error());
      out.kvs.push_back(std::move(*decoded));
      kv = nullptr;  // each parsed entry is freed as it is decoded: the list is never held twice
    }
  }
  return out;
}

Result<std::optional<EtcdKv>> EtcdClient::get(std::string_view key) {
  nlohmann::json request{{"key", base64_encode(key)}};
  auto reply = call("/v3/kv/range", request.dump());
  if (!reply) return std::unexpected(reply.error());
  const auto it = reply->body.find("kvs");
  if (it == reply->body.end() || !it->is_array() || it->empty()) return std::optional<EtcdKv>{};
  auto decoded = decode_kv(it->front());
  if (!decoded) return std::unexpected(decoded.error());
  return std::optional<EtcdKv>{std::move(*decoded)};
}

Result<std::int64_t> EtcdClient::put(std::string_view key, std::string_view value) {
  nlohmann::json request{{"key", base64_encode(key)}, {"value", base64_encode(value)}};
  auto reply = call("/v3/kv/put", request.dump());
  if (!reply) return std::unexpected(reply.error());
  return int_field(reply->body.value("header", nlohmann::json::object()), "revision");
}

Result<std::int64_t> EtcdClient::remove(std::string_view key) {
  nlohmann::json request{{"key", base64_encode(key)}};
  auto reply = call("/v3/kv/deleterange", request.dump());
  if (!reply) return std::unexpected(reply.error());
  return int_field(reply->body.value("header", nlohmann::json::object()), "revision");
}

Result<void> EtcdClient::compact(std::int64_t revision) {
  nlohmann::json request{{"revision", std::to_string(revision)}, {"physical", true}};
  auto reply = call("/v3/kv/compaction", request.dump());
  if (!reply) return std::unexpected(reply.error());
  return {};
}

void EtcdClient::cancel_watch() {
  std::lock_guard lock(mutex_);
  cancelled_ = true;
  if (watch_ && watch_->client) watch_->client->stop();
}

WatchOutcome EtcdClient::watch_prefix(std::string_view prefix, std::int64_t start_revision,
                                      const EventHandler& on_events) {
  nlohmann::json create{{"key", base64_encode(prefix)},
                        {"range_end", base64_encode(prefix_range_end(prefix))},
                        {"start_revision", std::to_string(start_revision)},
                        {"progress_notify", true}};
  const std::string body = nlohmann::json{{"create_request", create}}.dump();
  std::string problems;
  std::size_t start;
  {
    std::lock_guard lock(mutex_);
    if (cancelled_) return WatchOutcome{WatchOutcome::Kind::kCancelled, 0, "cancelled"};
    start = current_;
  }
  for (std::size_t attempt = 0; attempt < endpoints_.size(); ++attempt) {
    const std::size_t index = (start + attempt) % endpoints_.size();
    const std::string& endpoint = endpoints_[index];
    auto active = std::make_shared<ActiveWatch>();
    try {
      active->client = std::make_unique<httplib::Client>(endpoint);
    } catch (const std::exception& e) {
      problems += "; " + endpoint + ": " + e.what();
      continue;
    }
    configure(*active->client, options_, options_.watch_idle_timeout);
    {
      std::lock_guard lock(mutex_);
      if (cancelled_) return WatchOutcome{WatchOutcome::Kind::kCancelled, 0, "cancelled"};
      watch_ = active;
    }

    bool created = false;
    bool bad_answer = false;  // a message etcd never sends: the stream does not count as established
    std::optional<WatchOutcome> ended;
    std::string buffer;
    // A line that is not what etcd sends ends this watch as a bad answer from
    // the endpoint (so the caller relists, reporting the state lost, rather
    // than resuming at the same message); it must never end the agent.
    auto read_line = [&](std::string_view line) {
      nlohmann::json message = nlohmann::json::parse(line, nullptr, false);
      if (message.is_discarded()) return;
      auto malformed = [&] {
        bad_answer = true;
        ended = WatchOutcome{WatchOutcome::Kind::kDisconnected, 0, endpoint + ": a watch message that is not etcd's"};
      };
      if (!message.is_object()) return malformed();
      if (message.contains("error")) {
        ended = WatchOutcome{WatchOutcome::Kind::kDisconnected, 0, endpoint + ": " + string_field(message, "message")};
        return;
      }
      const nlohmann::json& result = message.contains("result") ? message["result"] : message;
      if (!result.is_object()) return malformed();
      const bool creation = result.value("created", false);
      created = created || creation;
      if (const auto compacted = int_field(result, "compact_revision"); compacted > 0) {
        ended = WatchOutcome{WatchOutcome::Kind::kCompacted, compacted, "revision compacted"};
        return;
      }
      if (result.value("canceled", false)) {
        ended = WatchOutcome{WatchOutcome::Kind::kDisconnected, 0,
                             endpoint + ": watch cancelled by the server: " + string_field(result, "cancel_reason")};
        return;
      }
      std::vector<EtcdEvent> events;
      if (auto it = result.find("events"); it != result.end() && it->is_array()) {
        for (const auto& event : *it) {
          if (!event.is_object()) return malformed();
          auto kv = decode_kv(event.value("kv", nlohmann::json::object()));
          if (!kv) return malformed();  // never skipped: its revision would be passed over
          events.push_back(EtcdEvent{string_field(event, "type") == "DELETE", std::move(*kv)});
        }
      }
      // The creation reply's header is the store's revision when the watch
      // began, not what was delivered: it is not passed on. Below the
      // revision the watch starts after, the store went back (a snapshot
      // restore): the watch would skip every revision up to the old one.
      const auto revision = int_field(result.value("header", nlohmann::json::object()), "revision");
      if (creation && revision > 0 && revision < start_revision - 1) {
        ended = WatchOutcome{WatchOutcome::Kind::kBehind, revision,
                             endpoint + ": the store is at revision " + std::to_string(revision)};
        return;
      }
      if (!events.empty() || (revision > 0 && !creation)) on_events(revision, events);
    };
    auto handle_line = [&](std::string_view line) {
      try {
        read_line(line);
      } catch (const nlohmann::json::exception& e) {  // a field of the wrong type
        bad_answer = true;
        ended = WatchOutcome{WatchOutcome::Kind::kDisconnected, 0, endpoint + ": " + e.what()};
      }
    };

    httplib::Request request;
    request.method = "POST";
    request.path = "/v3/watch";
    request.body = body;
    request.set_header("Content-Type", "application/json");
    request.content_receiver = [&](const char* data, std::size_t size, std::uint64_t, std::uint64_t) {
      buffer.append(data, size);
      std::size_t newline;
      while (!ended && (newline = buffer.find('\n')) != std::string::npos) {
        handle_line(std::string_view(buffer).substr(0, newline));
        buffer.erase(0, newline + 1);
      }
      return !ended.has_value();
    };
    httplib::Response response;
    httplib::Error error = httplib::Error::Success;
    active->client->send(request, response, error);
    if (!ended && !buffer.empty()) handle_line(buffer);
    {
      std::lock_guard lock(mutex_);
      watch_.reset();
      if (cancelled_) return WatchOutcome{WatchOutcome::Kind::kCancelled, 0, "cancelled"};
      if (created) current_ = index;
    }
    if (ended && (ended->kind == WatchOutcome::Kind::kCompacted || ended->kind == WatchOutcome::Kind::kBehind)) {
      return *ended;
    }
    if (created && !bad_answer) {
      // The stream was up and ended: the caller re-watches from where it got
      // to, on this endpoint first.
      return WatchOutcome{WatchOutcome::Kind::kDisconnected, 0,
                          endpoint + ": watch ended (" + (ended ? ended->detail : httplib::to_string(error)) + ")",
                          true};
    }
    problems += "; " + endpoint + ": " + (ended ? ended->detail : httplib::to_string(error));
  }
  return WatchOutcome{WatchOutcome::Kind::kDisconnected, 0, "no etcd endpoint accepted the watch" + problems};
}

}  // namespace rampart::enforcer

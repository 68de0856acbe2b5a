// The agent protocol codec: round trips, and the checks a receiver relies on.
#include <catch2/catch.hpp>

#include "rampart/agent_protocol/messages.h"

using namespace rampart::agent_protocol;

namespace {

Request full_add() {
  Request r;
  r.op = Operation::kAdd;
  r.network = "cbr0";
  r.endpoint = Endpoint{.container_id = "3f1a9c",
                        .netns = "/var/run/netns/cni-1234",
                        .ifname = "eth0",
                        .host_interface = "veth5e2a91b0",
                        .bridge = "cni0",
                        .addresses = {"10.244.1.5/25", "fd00:10:244:1::5/64"},
                        .pod_namespace = "shop",
                        .pod_name = "cart-7d9f",
                        .pod_uid = "0b0e-11"};
  return r;
}

std::string with(std::string line, const std::string& from, const std::string& to) {
  auto at = line.find(from);
  REQUIRE(at != std::string::npos);
  return line.replace(at, from.size(), to);
}

}  // namespace

TEST_CASE("requests round-trip for every operation", "[unit][cni][protocol]") {
  Request add = full_add();
  Request del = add;
  del.op = Operation::kDelete;
  del.endpoint.netns.clear();
  del.endpoint.addresses.clear();
  del.endpoint.host_interface.clear();
  Request check = add;
  check.op = Operation::kCheck;
  Request status{.op = Operation::kStatus};
  Request gc{.op = Operation::kGc, .network = "oci", .valid_attachments = {{"a1", "eth0"}, {"b2", "eth0"}}};
  for (const Request& r : {add, del, check, status, gc}) {
    std::string line = encode(r);
    INFO(line);
    REQUIRE(line.back() == '\n');
    CHECK(line.find('\n') == line.size() - 1);
    auto decoded = decode_request(line);
    REQUIRE(decoded);
    CHECK(*decoded == r);
  }
}

TEST_CASE("the wire form is the documented one", "[unit][cni][protocol]") {
  CHECK(encode(Request{.op = Operation::kStatus}) == "{\"network\":\"\",\"op\":\"status\",\"version\":1}\n");
  CHECK(encode(Reply{}) == "{\"ok\":true,\"version\":1}\n");
  CHECK(encode(Reply{false, "no pod shop/x", true}) ==
        "{\"message\":\"no pod shop/x\",\"ok\":false,\"temporary\":true,\"version\":1}\n");
  auto gc = decode_request(
      R"({"version":1,"op":"gc","network":"cbr0","validAttachments":[{"containerID":"abc","ifname":"eth0"}]})");
  REQUIRE(gc);
  CHECK(gc->valid_attachments == std::vector<Attachment>{{"abc", "eth0"}});
}

TEST_CASE("replies round-trip and a refusal always has a reason", "[unit][cni][protocol]") {
  for (const Reply& r : {Reply{}, Reply{true, "already programmed", false},
                         Reply{false, "kernel said EBUSY", true}, Reply{false, "pod unknown", false}}) {
    auto decoded = decode_reply(encode(r));
    REQUIRE(decoded);
    CHECK(*decoded == r);
  }
  auto bare = decode_reply(R"({"version":1,"ok":false})");
  REQUIRE(bare);
  CHECK_FALSE(bare->message.empty());
}

TEST_CASE("control characters in fields cannot split the line", "[unit][cni][protocol]") {
  Request r = full_add();
  r.endpoint.pod_name = "evil\n{\"version\":1}";
  std::string line = encode(r);
  CHECK(line.find('\n') == line.size() - 1);
  auto decoded = decode_request(line);
  REQUIRE(decoded);
  CHECK(decoded->endpoint.pod_name == r.endpoint.pod_name);
}

TEST_CASE("malformed requests are rejected with a reason", "[unit][cni][protocol]") {
  const std::string good = encode(full_add());
  struct Case {
    std::string line;
    std::string reason;
  };
  std::vector<Case> cases = {
      {"not json", "not JSON"},
      {"[1,2]", "JSON object"},
      {with(good, "\"version\":1", "\"version\":2"), "unsupported protocol version 2"},
      {with(good, "\"version\":1", "\"version\":\"1\""), "version"},
      {with(good, "\"op\":\"add\"", "\"op\":\"nuke\""), "unknown operation \"nuke\""},
      {with(good, "\"containerID\":\"3f1a9c\"", "\"containerID\":\"\""), "endpoint.containerID"},
      {with(good, "\"network\":\"cbr0\"", "\"network\":7"), "network must be a string"},
      {with(good, "\"10.244.1.5/25\"", "\"10.244.1.5\""), "CIDR"},
      {with(good, "\"10.244.1.5/25\"", "\"10.244.1.5/33\""), "CIDR"},
      {with(good, "\"10.244.1.5/25\"", "\"10.244.1/25\""), "CIDR"},
      {with(good, "\"10.244.1.5/25\"", "5"), "CIDR"},
      {with(good, "\"veth5e2a91b0\"", "\"veth/../../x\""), "hostInterface"},
      {with(good, "\"veth5e2a91b0\"", "\"a-name-longer-than-15\""), "hostInterface"},
      {with(good, "\"ifname\":\"eth0\"", "\"ifname\":\"\""), "endpoint.ifname"},
      {with(good, "\"netns\":\"/var/run/netns/cni-1234\"", "\"netns\":\"\""), "endpoint.netns"},
      {with(good, "\"addresses\":[\"10.244.1.5/25\",\"fd00:10:244:1::5/64\"]", "\"addresses\":[]"),
       "must not be empty for add"},
      {R"({"version":1,"op":"add","network":"x"})", "endpoint is missing"},
      {R"({"version":1,"op":"gc","network":"x"})", "validAttachments"},
      {R"({"version":1,"op":"gc","network":"x","validAttachments":[{"ifname":"eth0"}]})", "containerID"},
      {"{\"version\":1,\n\"op\":\"status\"}", "single line"},
  };
  for (const auto& c : cases) {
    INFO(c.line);
    auto decoded = decode_request(c.line);
    REQUIRE_FALSE(decoded);
    CHECK_THAT(decoded.error().message, Catch::Contains(c.reason));
  }
  CHECK_FALSE(decode_reply(R"({"version":1})"));
  CHECK_FALSE(decode_reply(R"({"version":1,"ok":"yes"})"));
  CHECK_FALSE(decode_reply(R"({"version":1,"ok":false,"temporary":1})"));
}

TEST_CASE("delete needs only the attachment's identity; unknown fields are ignored",
          "[unit][cni][protocol]") {
  auto del = decode_request(
      R"({"version":1,"op":"delete","network":"n","future":{"x":1},"endpoint":{"containerID":"c1","ifname":"eth0"}})");
  REQUIRE(del);
  CHECK(del->op == Operation::kDelete);
  CHECK(del->endpoint.container_id == "c1");
  CHECK(del->endpoint.addresses.empty());
}

TEST_CASE("cidr and interface name checks", "[unit][cni][protocol]") {
  CHECK(is_valid_cidr("0.0.0.0/0"));
  CHECK(is_valid_cidr("::/0"));
  CHECK(is_valid_cidr("fe80::1/128"));
  CHECK_FALSE(is_valid_cidr("fe80::1/129"));
  CHECK_FALSE(is_valid_cidr("10.0.0.1/"));
  CHECK_FALSE(is_valid_cidr("/24"));
  CHECK_FALSE(is_valid_cidr("10.0.0.1/2x"));
  CHECK_FALSE(is_valid_cidr("10.0.0.1/-1"));
  CHECK(is_valid_interface_name("cali12345678901"));
  CHECK_FALSE(is_valid_interface_name("cali123456789012"));
  CHECK_FALSE(is_valid_interface_name(".."));
  CHECK_FALSE(is_valid_interface_name("a:b"));
  CHECK_FALSE(is_valid_interface_name("a b"));
}

TEST_CASE("json_depth skips strings; a message nested too deeply is refused before parsing", "[unit][cni][protocol]") {
  CHECK(json_depth("") == 0);
  CHECK(json_depth(R"({"a":[1,{"b":[]}]})") == 4);
  CHECK(json_depth(R"({"a":"[[[{{{"})") == 1);
  CHECK(json_depth(R"({"a":"\"[[[", "b":[]})") == 2);  // an escaped quote does not end the string
  CHECK(json_depth("]]]]{") == 1);
  const std::string deep = std::string(200000, '[') + std::string(200000, ']');
  auto r = decode_request(R"({"version":1,"op":"add","x":)" + deep + "}");
  REQUIRE_FALSE(r);
  CHECK_THAT(r.error().message, Catch::Contains("nest arrays and objects deeper than 128"));
}

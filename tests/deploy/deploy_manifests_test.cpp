// The DaemonSet's agent container, with each ConfigMap's values, run as it is
// written: every flag must be one rampart-agent has, and the probes kubelet
// sends must answer 200 (a manifest the agent cannot start with stops every
// pod on the node once rampart-cni is in the conflist).
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <chrono>
#include <fstream>
#include <map>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "netns.h"
#include "temp_files.h"

using namespace rampart::testing;
using namespace std::chrono_literals;

namespace {

const std::string kDeploy = std::string(RAMPART_SOURCE_DIR) + "/deploy/";

YAML::Node container(const YAML::Node& daemonset, const std::string& name) {
  for (const auto& c : daemonset["spec"]["template"]["spec"]["containers"])
    if (c["name"].as<std::string>() == name) return c;
  FAIL("no container " << name);
  return {};
}

// $(VAR) expanded as kubelet does, from the container's env: ConfigMap keys
// and the node's name.
std::vector<std::string> command_line(const YAML::Node& c, const YAML::Node& config, const std::string& node) {
  std::map<std::string, std::string> env;
  for (const auto& e : c["env"]) {
    const auto from = e["valueFrom"];
    if (from["fieldRef"]) {
      REQUIRE(from["fieldRef"]["fieldPath"].as<std::string>() == "spec.nodeName");
      env[e["name"].as<std::string>()] = node;
    } else {
      const auto key = from["configMapKeyRef"]["key"].as<std::string>();
      INFO("ConfigMap key " << key);
      REQUIRE(config["data"][key]);
      env[e["name"].as<std::string>()] = config["data"][key].as<std::string>();
    }
  }
  std::vector<std::string> argv;
  const std::regex var(R"(\$\(([A-Z_]+)\))");
  for (const auto& a : c["command"]) {
    std::string arg = a.as<std::string>(), out;
    std::smatch m;
    while (std::regex_search(arg, m, var)) {
      INFO("variable " << m[1]);
      REQUIRE(env.contains(m[1]));
      out += m.prefix().str() + env[m[1]];
      arg = m.suffix();
    }
    argv.push_back(out + arg);
  }
  return argv;
}

std::string http_status(const std::string& netns, const std::string& host, int port, const std::string& path) {
  const int fd = socket_in(netns, AF_INET, SOCK_STREAM);
  if (fd < 0) return "";
  timeval tv{2, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  ::inet_pton(AF_INET, host.c_str(), &addr.sin_addr);
  std::string reply;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    const std::string request = "GET " + path + " HTTP/1.0\r\nHost: " + host + "\r\n\r\n";
    if (::write(fd, request.data(), request.size()) == static_cast<ssize_t>(request.size())) {
      char buf[256];
      const ssize_t n = ::read(fd, buf, sizeof buf);
      if (n > 0) reply.assign(buf, static_cast<std::size_t>(n));
    }
  }
  ::close(fd);
  const auto space = reply.find(' ');
  return space == std::string::npos ? "" : reply.substr(space + 1, 3);
}

struct Process {
  pid_t pid = -1;
  ~Process() {
    if (pid <= 0) return;
    ::kill(pid, SIGTERM);
    int status = 0;
    for (int i = 0; i < 100 && ::waitpid(pid, &status, WNOHANG) == 0; ++i) std::this_thread::sleep_for(50ms);
    if (::waitpid(pid, &status, WNOHANG) == 0) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
    }
  }
  bool running() const { return ::waitpid(pid, nullptr, WNOHANG) == 0; }
};

std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p);
  return {std::istreambuf_iterator<char>(in), {}};
}

}  // namespace

TEST_CASE("the DaemonSet's agent command line starts rampart-agent and its probes answer", "[deploy][e2e]") {
  if (::geteuid() != 0) {
    WARN("SKIPPED: needs root (a network namespace for the agent)");
    return;
  }
  const auto daemonset = YAML::LoadFile(kDeploy + "daemonset.yaml");
  const auto agent = container(daemonset, "agent");
  REQUIRE(daemonset["spec"]["template"]["spec"]["hostNetwork"].as<bool>());  // probes reach its loopback
  for (const std::string file : {"configmap-vcn-native.yaml", "configmap-overlay.yaml"}) {
    SECTION(file) {
      const auto config = YAML::LoadFile(kDeploy + file);
      auto argv = command_line(agent, config, "node-1");
      REQUIRE(argv.front() == "/usr/local/bin/rampart-agent");
      argv.front() = RAMPART_AGENT;
      // The shipped datastore is a placeholder etcd URL: check its form, run
      // with a dir: store holding what every cluster has (kube-system); host
      // paths move into a temporary directory.
      TempDir dir("deploy");
      write_file(dir.path / "store" / "kube-system.yaml", "apiVersion: v1\nkind: Namespace\nmetadata: {name: kube-system}\n");
      for (std::size_t i = 1; i + 1 < argv.size(); ++i) {
        if (argv[i] == "--datastore") {
          CHECK((argv[i + 1].rfind("etcd:", 0) == 0 || argv[i + 1].rfind("dir:", 0) == 0));
          argv[i + 1] = "dir:" + (dir.path / "store").string();
        }
        if (argv[i] == "--socket") argv[i + 1] = (dir.path / "agent.sock").string();
        if (argv[i] == "--state-dir") argv[i + 1] = dir.path.string();
      }
      Netns ns("deploy");
      REQUIRE(ns.run("ip link set lo up") == 0);
      std::vector<std::string> full = {"/usr/sbin/ip", "netns", "exec", ns.name()};
      full.insert(full.end(), argv.begin(), argv.end());
      std::vector<char*> c_argv;
      for (auto& a : full) c_argv.push_back(a.data());
      c_argv.push_back(nullptr);
      const auto log = dir.path / "agent.log";
      Process p;
      p.pid = ::fork();
      REQUIRE(p.pid >= 0);
      if (p.pid == 0) {
        ::signal(SIGTERM, SIG_DFL);  // not Catch's handler, should the test end before exec
        const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
        ::dup2(fd, 1);
        ::dup2(fd, 2);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, nullptr);
        ::execv(c_argv[0], c_argv.data());
        ::_exit(127);
      }
      for (const std::string probe : {"readinessProbe", "livenessProbe"}) {
        const auto get = agent[probe]["httpGet"];
        INFO(probe);
        REQUIRE((get["host"] && get["port"] && get["path"]));  // an exec probe cannot be asked here
        std::string status;
        for (auto deadline = std::chrono::steady_clock::now() + 30s;
             status != "200" && p.running() && std::chrono::steady_clock::now() < deadline;
             std::this_thread::sleep_for(100ms))
          status = http_status(ns.name(), get["host"].as<std::string>(), get["port"].as<int>(),
                               get["path"].as<std::string>());
        INFO(get["path"].as<std::string>() << ", agent log:\n" << slurp(log));
        CHECK(status == "200");
      }
    }
  }
}

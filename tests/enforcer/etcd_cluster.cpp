#include "etcd_cluster.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <exception>
#include <fstream>
#include <random>
#include <set>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "rampart/enforcer/etcd_client.h"

namespace rampart::test {
namespace fs = std::filesystem;

int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    if (fd >= 0) ::close(fd);
    throw std::runtime_error("no free loopback port");
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

void run_in_netns(const std::string& netns, const std::function<void()>& fn) {
  if (netns.empty()) return fn();
  std::exception_ptr failure;
  std::thread t([&] {
    try {
      const int fd = ::open(("/run/netns/" + netns).c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0) throw std::runtime_error("no network namespace " + netns);
      const int rc = ::setns(fd, CLONE_NEWNET);
      ::close(fd);
      if (rc != 0) throw std::runtime_error("cannot enter network namespace " + netns);
      fn();
    } catch (...) {
      failure = std::current_exception();
    }
  });
  t.join();
  if (failure) std::rethrow_exception(failure);
}

bool EtcdCluster::available() { return fs::exists("/usr/bin/etcd"); }

EtcdCluster::EtcdCluster(int members, EtcdPlacement placement) : placement_(std::move(placement)) {
  char templ[] = "/tmp/rampart-etcd-XXXXXX";
  if (!::mkdtemp(templ)) throw std::runtime_error("mkdtemp failed");
  dir_ = templ;
  const std::string token = "rampart-test-" + fs::path(dir_).filename().string();
  // free_port() may hand the same port out twice in a row (nothing holds it):
  // two members, or a member's two URLs, must not get the same one.
  std::set<int> used;
  auto unused_port = [](std::set<int>& taken) {
    for (int attempt = 0; attempt < 100; ++attempt) {
      if (const int port = free_port(); taken.insert(port).second) return port;
    }
    throw std::runtime_error("no distinct free ports");
  };
  for (int i = 0; i < members; ++i) {
    names_.push_back("m" + std::to_string(i));
    client_urls_.push_back("http://" + placement_.host + ":" + std::to_string(unused_port(used)));
    peer_urls_.push_back("http://" + placement_.host + ":" + std::to_string(unused_port(used)));
    initial_cluster_ += (i ? "," : "") + names_.back() + "=" + peer_urls_.back();
  }
  initial_cluster_ += " " + token;  // split again in launch()
  pids_.assign(members, -1);
  try {
    for (int i = 0; i < members; ++i) launch(i);
    for (int i = 0; i < members; ++i) wait_ready(i);
  } catch (...) {
    const std::string log = logs();
    for (int i = 0; i < members; ++i) kill_member(i);
    fs::remove_all(dir_);
    throw std::runtime_error("etcd did not start:\n" + log);
  }
}

EtcdCluster::~EtcdCluster() {
  for (int i = 0; i < size(); ++i) kill_member(i);
  std::error_code ec;
  fs::remove_all(dir_, ec);
}

std::string EtcdCluster::spec() const {
  std::string out = "etcd:";
  for (std::size_t i = 0; i < client_urls_.size(); ++i) out += (i ? "," : "") + client_urls_[i];
  return out;
}

void EtcdCluster::launch(int index) {
  const auto space = initial_cluster_.find(' ');
  const std::string cluster = initial_cluster_.substr(0, space);
  const std::string token = initial_cluster_.substr(space + 1);
  const fs::path data = dir_ / names_[index];
  const bool fresh = !fs::exists(data);
  std::vector<std::string> args;
  // `ip netns exec` execs etcd in place: the pid stays the member's.
  if (!placement_.netns.empty()) args = {"/usr/sbin/ip", "netns", "exec", placement_.netns};
  args.insert(args.end(), {"/usr/bin/etcd",
                                   "--name", names_[index],
                                   "--data-dir", data.string(),
                                   "--listen-client-urls", client_urls_[index],
                                   "--advertise-client-urls", client_urls_[index],
                                   "--listen-peer-urls", peer_urls_[index],
                                   "--initial-advertise-peer-urls", peer_urls_[index],
                                   "--initial-cluster", cluster,
                                   "--initial-cluster-token", token,
                                   "--initial-cluster-state", fresh ? "new" : "existing",
                                   "--heartbeat-interval", "50",
                                   "--election-timeout", "500"});
  const std::string log = (dir_ / (names_[index] + ".log")).string();
  const pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      ::dup2(fd, 1);
      ::dup2(fd, 2);
    }
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  pids_[index] = pid;
}

void EtcdCluster::kill_member(int index) {
  if (pids_[index] <= 0) return;
  ::kill(pids_[index], SIGKILL);
  int status = 0;
  ::waitpid(pids_[index], &status, 0);
  pids_[index] = -1;
}

void EtcdCluster::restart_member(int index) {
  kill_member(index);
  launch(index);
  wait_ready(index);
}

void EtcdCluster::restart_members(const std::vector<int>& indices) {
  for (int i : indices) kill_member(i);
  for (int i : indices) launch(i);
  for (int i : indices) wait_ready(i);
}

void EtcdCluster::run_tool(std::vector<std::string> args) const {
  if (!placement_.netns.empty()) args.insert(args.begin(), {"/usr/sbin/ip", "netns", "exec", placement_.netns});
  const std::string log = (dir_ / "tools.log").string();
  const pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      ::dup2(fd, 1);
      ::dup2(fd, 2);
    }
    ::setenv("ETCDCTL_API", "3", 1);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::ifstream in(log);
    std::stringstream text;
    text << in.rdbuf();
    std::string command;
    for (const auto& a : args) command += a + " ";
    throw std::runtime_error("failed: " + command + "\n" + text.str());
  }
}

void EtcdCluster::save_snapshot(int index, const fs::path& file) {
  run_tool({"/usr/bin/etcdctl", "--endpoints", client_urls_[index], "snapshot", "save", file.string()});
}

void EtcdCluster::restore_snapshot(const fs::path& file) {
  if (size() != 1) throw std::runtime_error("restore_snapshot: one member only");
  const auto space = initial_cluster_.find(' ');
  kill_member(0);
  const fs::path data = dir_ / names_[0];
  fs::remove_all(data);
  run_tool({"/usr/bin/etcdctl", "snapshot", "restore", file.string(), "--name", names_[0], "--data-dir",
            data.string(), "--initial-cluster", initial_cluster_.substr(0, space), "--initial-cluster-token",
            initial_cluster_.substr(space + 1), "--initial-advertise-peer-urls", peer_urls_[0]});
  launch(0);
  wait_ready(0);
}

void EtcdCluster::wait_ready(int index, std::chrono::milliseconds limit) {
  run_in_netns(placement_.netns, [&] { wait_ready_here(index, limit); });
}

void EtcdCluster::wait_ready_here(int index, std::chrono::milliseconds limit) {
  enforcer::EtcdClientOptions options;
  options.connect_timeout = std::chrono::milliseconds(200);
  options.request_timeout = std::chrono::milliseconds(1000);
  enforcer::EtcdClient client({client_urls_[index]}, options);
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pids_[index] > 0 && ::waitpid(pids_[index], nullptr, WNOHANG) == pids_[index]) {
      pids_[index] = -1;  // reaped: never signal that pid again
      throw std::runtime_error("etcd member " + names_[index] + " exited");
    }
    if (client.get("/rampart-test-probe")) return;  // a linearizable read: the member has a leader
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  throw std::runtime_error("etcd member " + names_[index] + " not ready at " + client_urls_[index]);
}

std::string EtcdCluster::logs() const {
  std::string out;
  for (const auto& name : names_) {
    std::ifstream in(dir_ / (name + ".log"));
    std::stringstream text;
    text << in.rdbuf();
    std::string s = text.str();
    if (s.size() > 4000) s = "…" + s.substr(s.size() - 4000);
    out += "--- " + name + "\n" + s + "\n";
  }
  return out;
}

}  // namespace rampart::test

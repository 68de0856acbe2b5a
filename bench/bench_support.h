// What several benchmarks share: the generated cluster they load, a private
// network namespace for kernel work, and CPU time that counts child processes
// (so an `nft` or `ip` baseline is not flattered by running outside us).
#pragma once

#include <sys/resource.h>
#include <unistd.h>

#include <cctype>

#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <string>

namespace rampart::bench {

#ifdef RAMPART_SOURCE_DIR
// bench/gen/gen_cluster.py's output for these sizes, generated once into the
// temp directory and reused across runs. RAMPART_BENCH_DATA names a directory
// to use instead. `extra` goes on the generator's command line.
inline std::filesystem::path generated_cluster(int pods, int policies, const std::string& extra = "--namespaces 50") {
  if (const char* dir = std::getenv("RAMPART_BENCH_DATA")) return dir;
  std::string tag = extra;
  for (char& c : tag) c = std::isalnum(static_cast<unsigned char>(c)) ? c : '-';
  const auto out = std::filesystem::temp_directory_path() /
                   ("rampart-bench-" + std::to_string(pods) + "-" + std::to_string(policies) + tag);
  if (!std::filesystem::exists(out / "base-000.yaml")) {
    const std::string command = "python3 " RAMPART_SOURCE_DIR "/bench/gen/gen_cluster.py --pods " + std::to_string(pods) +
                                " --policies " + std::to_string(policies) + " --seed 1 " + extra + " --out " +
                                out.string() + " >/dev/null";
    if (std::system(command.c_str()) != 0) throw std::runtime_error("failed: " + command);
  }
  return out;
}
#endif

// A network namespace of this process, removed when it goes.
struct BenchNetns {
  std::string name;
  bool ok = false;
  explicit BenchNetns(const std::string& prefix) : name(prefix + std::to_string(::getpid())) {
    ok = std::system(("ip netns add " + name).c_str()) == 0;
  }
  ~BenchNetns() { (void)std::system(("ip netns del " + name + " 2>/dev/null").c_str()); }
  BenchNetns(const BenchNetns&) = delete;
  BenchNetns& operator=(const BenchNetns&) = delete;
};

// System CPU (the kernel's work on our behalf, e.g. inside sendmsg) of this
// process and of its reaped children, in seconds.
inline double system_cpu_seconds_with_children() {
  double total = 0;
  for (int who : {RUSAGE_SELF, RUSAGE_CHILDREN}) {
    rusage u{};
    getrusage(who, &u);
    total += static_cast<double>(u.ru_stime.tv_sec) + 1e-6 * static_cast<double>(u.ru_stime.tv_usec);
  }
  return total;
}

// User + system CPU of this process and of its reaped children, in seconds.
inline double cpu_seconds_with_children() {
  double total = system_cpu_seconds_with_children();
  for (int who : {RUSAGE_SELF, RUSAGE_CHILDREN}) {
    rusage u{};
    getrusage(who, &u);
    total += static_cast<double>(u.ru_utime.tv_sec) + 1e-6 * static_cast<double>(u.ru_utime.tv_usec);
  }
  return total;
}

}  // namespace rampart::bench

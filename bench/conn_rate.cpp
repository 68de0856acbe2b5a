// conn_rate: new TCP connections per second, for bench/datapath_bench.sh.
//
//   conn_rate server ADDR PORT            accept and close until killed
//   conn_rate client ADDR PORT SECONDS [THREADS=1]
//   conn_rate probe  ADDR PORT            open | reachable (RST) | dropped
//
// The client loops connect() + close() on THREADS threads for SECONDS and
// prints "<conn/s> <connections> <failures> <cpu_s>". Both ends close with
// SO_LINGER 0 (an RST, not a FIN): no socket enters TIME_WAIT, so the
// ephemeral ports and the TIME_WAIT table never fill during a run, and the
// conntrack entry goes to CLOSE (10 s timeout) instead of TIME_WAIT (120 s).
// A compiled loop, so the per-connection rule cost is not hidden behind an
// interpreter's own per-connection cost.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace {

sockaddr_in address(const char* host, const char* port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(std::atoi(port)));
  if (inet_pton(AF_INET, host, &a.sin_addr) != 1) {
    std::fprintf(stderr, "conn_rate: not an IPv4 address: %s\n", host);
    std::exit(2);
  }
  return a;
}

void reset_on_close(int fd) {
  linger l{1, 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
}

// A connect that gives up after `seconds` (a dropped SYN would otherwise wait
// for the kernel's retries, ~2 minutes).
int timed_connect(const sockaddr_in& to, int seconds) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -errno;
  timeval tv{seconds, 0};
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  reset_on_close(fd);
  if (connect(fd, reinterpret_cast<const sockaddr*>(&to), sizeof to) != 0) {
    int err = errno;
    close(fd);
    return -err;
  }
  return fd;
}

int server(const sockaddr_in& at) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(fd, reinterpret_cast<const sockaddr*>(&at), sizeof at) != 0 || listen(fd, 4096) != 0) {
    std::perror("conn_rate server");
    return 1;
  }
  std::printf("ready\n");
  std::fflush(stdout);
  for (;;) {
    int c = accept4(fd, nullptr, nullptr, SOCK_CLOEXEC);
    if (c < 0) continue;  // ECONNABORTED when the client's RST came first
    reset_on_close(c);
    close(c);
  }
}

double cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

int client(const sockaddr_in& to, double seconds, int threads) {
  std::atomic<long> done{0};
  std::atomic<long> failed{0};
  const auto start = std::chrono::steady_clock::now();
  const auto end = start + std::chrono::duration<double>(seconds);
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&] {
      long n = 0;
      long bad = 0;
      while (std::chrono::steady_clock::now() < end) {
        int fd = timed_connect(to, 2);
        if (fd < 0) {
          ++bad;
          continue;
        }
        close(fd);
        ++n;
      }
      done += n;
      failed += bad;
    });
  }
  for (auto& w : workers) w.join();
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("%.1f %ld %ld %.3f\n", static_cast<double>(done) / elapsed, done.load(), failed.load(),
              cpu_seconds());
  return failed > 0 ? 1 : 0;
}

int probe(const sockaddr_in& to) {
  int fd = timed_connect(to, 1);
  if (fd >= 0) {
    close(fd);
    std::printf("open\n");
  } else {
    std::printf(fd == -ECONNREFUSED ? "reachable\n" : "dropped\n");
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "server" && argc == 4) return server(address(argv[2], argv[3]));
  if (mode == "probe" && argc == 4) return probe(address(argv[2], argv[3]));
  if (mode == "client" && (argc == 5 || argc == 6)) {
    const int threads = argc == 6 ? std::atoi(argv[5]) : 1;
    return client(address(argv[2], argv[3]), std::atof(argv[4]), threads < 1 ? 1 : threads);
  }
  std::fprintf(stderr,
               "usage: conn_rate server ADDR PORT | client ADDR PORT SECONDS [THREADS] | probe ADDR PORT\n");
  return 2;
}

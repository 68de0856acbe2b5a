#include "rampart/cni/log.h"

#include <sys/time.h>
#include <unistd.h>

#include <ctime>

namespace rampart::cni {

namespace {

// RFC 3339 UTC with milliseconds; g++ 12 has no <format>.
std::string timestamp() {
  timeval now{};
  gettimeofday(&now, nullptr);
  std::tm utc{};
  gmtime_r(&now.tv_sec, &utc);
  char text[40];
  std::size_t n = std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &utc);
  std::snprintf(text + n, sizeof text - n, ".%03dZ", static_cast<int>(now.tv_usec / 1000));
  return text;
}

}  // namespace

Logger::Logger() = default;

Logger::~Logger() {
  if (file_) std::fclose(file_);
}

void Logger::open(const std::string& path) {
  if (path.empty()) return;
  std::FILE* file = std::fopen(path.c_str(), "ae");  // append, close-on-exec
  if (!file) {
    warning("cannot open log_file " + path + "; logging to stderr");
    return;
  }
  if (file_) std::fclose(file_);
  file_ = file;
}

void Logger::write(LogLevel level, std::string_view message) {
  if (level < level_) return;
  std::string line = timestamp() + " rampart-cni[" + std::to_string(getpid()) + "] " + to_string(level);
  if (!context_.empty()) line += " " + context_;
  line += ": ";
  line += message;
  line += '\n';
  std::FILE* out = file_ ? file_ : stderr;
  std::fwrite(line.data(), 1, line.size(), out);
  std::fflush(out);
}

}  // namespace rampart::cni

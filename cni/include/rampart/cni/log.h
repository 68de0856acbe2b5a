// Diagnostics of one plugin run. Never stdout: stdout belongs to the CNI result.
#pragma once

#include <cstdio>
#include <string>
#include <string_view>

#include "rampart/cni/plugin_config.h"

namespace rampart::cni {

class Logger {
 public:
  Logger();
  ~Logger();
  Logger(const Logger&) = delete;
  Logger& operator=(const Logger&) = delete;

  // Appends to `path` from now on; falls back to stderr (and says so) when the
  // file cannot be opened. An empty path means stderr.
  void open(const std::string& path);
  void set_level(LogLevel level) { level_ = level; }
  void set_context(std::string context) { context_ = std::move(context); }

  void debug(std::string_view message) { write(LogLevel::kDebug, message); }
  void info(std::string_view message) { write(LogLevel::kInfo, message); }
  void warning(std::string_view message) { write(LogLevel::kWarning, message); }
  void error(std::string_view message) { write(LogLevel::kError, message); }

 private:
  void write(LogLevel level, std::string_view message);

  std::FILE* file_ = nullptr;  // nullptr: stderr
  LogLevel level_ = LogLevel::kInfo;
  std::string context_;
};

}  // namespace rampart::cni

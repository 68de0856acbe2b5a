// Structured logs: one JSON object per line on stderr
// ({"ts":…,"level":…,"msg":…, fields…}), safe to call from any thread.
#pragma once

#include <functional>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

namespace rampart::enforcer {

enum class LogLevel { kDebug, kInfo, kWarning, kError };

using LogField = std::pair<std::string_view, std::string>;

void log(LogLevel level, std::string_view message, std::initializer_list<LogField> fields = {});
void set_log_level(LogLevel minimum);
// Tests: each line (with its newline) goes to `sink` instead of stderr;
// nullptr restores stderr.
void set_log_sink(std::function<void(std::string_view line)> sink);

}  // namespace rampart::enforcer

// SPDX-License-Identifier: Apache-2.0
// Logging (--log, --log-format) and the few output helpers every command uses.
#include "runtime.hpp"

namespace wardrt {

Globals g;

// loads the time zone on the first conversion of any kind).
std::string now_rfc3339() {
  timespec ts{};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  // Days since 1970-01-01 -> civil date (Howard Hinnant's days_from_civil,
  // inverted; proleptic Gregorian calendar).
  long long secs = ts.tv_sec;
  long long days = secs / 86400;
  long long rem = secs % 86400;
  if (rem < 0) {
    rem += 86400;
    --days;
  }
  days += 719468;
  const long long era = (days >= 0 ? days : days - 146096) / 146097;
  const long long doe = days - era * 146097;
  const long long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const long long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const long long mp = (5 * doy + 2) / 153;
  const long long day = doy - (153 * mp + 2) / 5 + 1;
  const long long month = mp < 10 ? mp + 3 : mp - 9;
  const long long year = yoe + era * 400 + (month <= 2 ? 1 : 0);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04lld-%02lld-%02lldT%02lld:%02lld:%02lld.%09ldZ", year, month,
                day, rem / 3600, rem / 60 % 60, rem % 60, ts.tv_nsec);
  return buf;
}

// Standard output and error, through stdio (see the top: no iostreams).
void out(std::string_view s) { std::fwrite(s.data(), 1, s.size(), stdout); }
void err_out(std::string_view s) { std::fwrite(s.data(), 1, s.size(), stderr); }

namespace {

// A message may carry bytes a container chose (a NOTIFY_SOCKET line it
// sent, notify.cpp) or a path's, which need not be UTF-8, and json::dump
// refuses what is not: a byte that is not part of well-formed UTF-8 is
// written as \xNN, so that a log line never throws (in the foreground
// run's notify thread, that was std::terminate: the runtime aborted and
// left the container and its state behind).
std::string loggable(const std::string& msg) {
  if (json::is_valid_utf8(msg)) return msg;
  std::string text;
  for (std::size_t i = 0, bad = 0; i < msg.size();) {
    const std::size_t n = json::impl::utf8_sequence(msg, i, &bad);
    if (n != 0) {
      text.append(msg, i, n);
      i += n;
      continue;
    }
    char hex[8];
    std::snprintf(hex, sizeof hex, "\\x%02X", static_cast<unsigned char>(msg[i++]));
    text += hex;
  }
  return text;
}

}  // namespace

// One line per message in --log: text, or JSON lines with level, msg, time
// (containerd's shim reads the last "error" line of this file to explain a
// failure).
// Without --log, warnings go to stderr, where runc's logrus
// writes them by default ("--log: default is /dev/stderr"), in its text
// format: engines and users see, e.g., "ignoring unknown or unavailable
// capabilities" there.
void log_line(const char* level, const std::string& raw) {
  const std::string msg = loggable(raw);
  if (g.log_path.empty()) {
    if (std::strcmp(level, "warning") == 0)
      err_out("time=\"" + now_rfc3339() + "\" level=" + level +
              " msg=" + json::dump(json::Value(msg)) + "\n");
    return;
  }
  int fd = ::open(g.log_path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return;
  std::string line;
  if (g.log_json) {
    line =
        json::dump(json::Value::object({{"level", level}, {"msg", msg}, {"time", now_rfc3339()}})) +
        "\n";
  } else {
    line = now_rfc3339() + " " + level + " " + msg + "\n";
  }
  if (::write(fd, line.data(), line.size()) < 0) {
  }
  ::close(fd);
}

void debug(const std::string& msg) {
  if (g.debug) log_line("debug", msg);
}

[[noreturn]] void fail(std::string msg) { throw Fatal{std::move(msg)}; }

}  // namespace wardrt

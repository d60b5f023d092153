#pragma once

#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <stdexcept>
#include <string>
#include <system_error>
#include <unistd.h>
#include <vector>

namespace durable::test {

/// Temporary directories of this test process, removed when it exits (at
/// static destruction, after every test). Thread-safe.
class temp_dirs {
public:
  static temp_dirs& instance() {
    static temp_dirs dirs;
    return dirs;
  }

  /// Creates a new empty directory under $TMPDIR (or /tmp) whose name starts
  /// with `prefix`; throws std::runtime_error if it cannot.
  std::string make(const std::string& prefix) {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl = std::string(base && *base ? base : "/tmp") + "/" + prefix
                       + "XXXXXX";
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    if (::mkdtemp(buf.data()) == nullptr)
      throw std::runtime_error("cannot create a directory like " + tmpl);
    std::string dir{buf.data()};
    std::lock_guard guard{mutex_};
    dirs_.push_back(dir);
    return dir;
  }

  ~temp_dirs() {
    for (const auto& d : dirs_) {
      std::error_code ec;
      std::filesystem::remove_all(d, ec);
    }
  }

private:
  temp_dirs() = default;

  std::mutex mutex_;
  std::vector<std::string> dirs_;
};

/// A new empty directory, removed when the test process exits.
inline std::string make_temp_dir(const std::string& prefix = "durable-") {
  return temp_dirs::instance().make(prefix);
}

} // namespace durable::test

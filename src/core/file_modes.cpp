// Directory creation with the client's modes; see file_modes.hpp.
#include "core/file_modes.hpp"

#include <sys/stat.h>

#include <cerrno>

namespace emp::telemetry::core {

bool make_directories(const std::string& path, std::error_code& ec) noexcept {
  ec.clear();
  if (path.empty()) {
    ec = std::make_error_code(std::errc::invalid_argument);
    return false;
  }
  try {
    std::string prefix;
    prefix.reserve(path.size());
    std::size_t pos = 0;
    while (pos <= path.size()) {
      std::size_t slash = path.find('/', pos);
      if (slash == std::string::npos) slash = path.size();
      prefix.assign(path, 0, slash);
      pos = slash + 1;
      if (prefix.empty() || prefix.back() == '/') continue;  // leading or doubled '/'
      if (::mkdir(prefix.c_str(), kDirMode) != 0 && errno != EEXIST) {
        ec = std::error_code(errno, std::generic_category());
        return false;
      }
    }
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) {
      ec = std::error_code(errno, std::generic_category());
      return false;
    }
    if (!S_ISDIR(st.st_mode)) {
      ec = std::make_error_code(std::errc::not_a_directory);
      return false;
    }
    return true;
  } catch (...) {
    ec = std::make_error_code(std::errc::not_enough_memory);
    return false;
  }
}

}  // namespace emp::telemetry::core

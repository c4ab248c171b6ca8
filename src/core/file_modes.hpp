// Permissions of the files and directories the client creates under LOG_DIR
// and the spool directory: log records, status files and spooled batches
// can hold what services log (user input, job payloads), so nobody outside
// the service's user and group reads them. Files are created 0640 and
// directories 0750 (the process umask can only narrow this); existing files
// and directories keep theirs. Documented in docs/security.md.
#pragma once

#include <sys/types.h>

#include <string>
#include <system_error>

namespace emp::telemetry::core {

inline constexpr mode_t kFileMode = 0640;
inline constexpr mode_t kDirMode = 0750;

// mkdir -p `path` with kDirMode for every directory it creates. True when
// `path` is a directory afterwards; otherwise `ec` says why.
bool make_directories(const std::string& path, std::error_code& ec) noexcept;

}  // namespace emp::telemetry::core

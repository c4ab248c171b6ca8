// Crash record writing (async-signal-safe) and reading; see crash_record.hpp.
#include "errors/crash_record.hpp"

#include <errno.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <system_error>

#include "errors/stacktrace.hpp"

namespace emp::telemetry::errors {

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "crash records are written in the machine's byte order, little-endian");

namespace {

constexpr std::array<std::uint32_t, 256> make_crc_table() {
  std::array<std::uint32_t, 256> t{};
  for (std::uint32_t i = 0; i < 256; ++i) {
    std::uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
    t[i] = c;
  }
  return t;
}
constexpr std::array<std::uint32_t, 256> kCrcTable = make_crc_table();

struct SectionHead {
  std::uint32_t type;
  std::uint32_t length;
};

}  // namespace

std::uint32_t crc32_update(std::uint32_t crc, const void* data, std::size_t len) noexcept {
  const auto* p = static_cast<const std::uint8_t*>(data);
  crc = ~crc;
  for (std::size_t i = 0; i < len; ++i) crc = kCrcTable[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
  return ~crc;
}

void CrashFileWriter::put(const void* data, std::size_t len) noexcept {
  if (!ok_) return;
  crc_ = crc32_update(crc_, data, len);
  const char* p = static_cast<const char*>(data);
  while (len > 0) {
    ssize_t n = ::write(fd_, p, len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      ok_ = false;
      return;
    }
    p += n;
    len -= static_cast<std::size_t>(n);
  }
}

void CrashFileWriter::header() noexcept {
  std::uint32_t words[2] = {kCrashFormatVersion, 0};
  put(kCrashMagic, sizeof kCrashMagic);
  put(words, sizeof words);
}

void CrashFileWriter::section(CrashSection type, const void* data, std::size_t len) noexcept {
  SectionHead h{static_cast<std::uint32_t>(type), static_cast<std::uint32_t>(len)};
  put(&h, sizeof h);
  if (len > 0) put(data, len);
}

void CrashFileWriter::raw(const void* data, std::size_t len) noexcept { put(data, len); }

void CrashFileWriter::end() noexcept {
  const std::uint32_t crc = crc_;
  SectionHead h{static_cast<std::uint32_t>(CrashSection::kEnd), sizeof crc};
  put(&h, sizeof h);
  put(&crc, sizeof crc);
}

std::size_t append_module_section(char* out, std::size_t used, std::size_t cap,
                                  std::uint64_t load_bias, std::uint64_t image_addr,
                                  std::uint64_t image_size, const std::uint8_t* build_id,
                                  std::size_t build_id_len, std::string_view path) noexcept {
  build_id_len = std::min(build_id_len, kMaxCrashBuildId);
  if (path.size() > kMaxCrashPath) path = path.substr(path.size() - kMaxCrashPath);
  const std::size_t body = sizeof(ModuleWire) + build_id_len + path.size();
  const std::size_t total = sizeof(SectionHead) + body;
  if (used > cap || cap - used < total) return used;
  SectionHead h{static_cast<std::uint32_t>(CrashSection::kModule),
                static_cast<std::uint32_t>(body)};
  ModuleWire m{load_bias, image_addr, image_size, static_cast<std::uint32_t>(build_id_len),
               static_cast<std::uint32_t>(path.size())};
  char* p = out + used;
  std::memcpy(p, &h, sizeof h);
  p += sizeof h;
  std::memcpy(p, &m, sizeof m);
  p += sizeof m;
  if (build_id_len > 0) std::memcpy(p, build_id, build_id_len);
  p += build_id_len;
  if (!path.empty()) std::memcpy(p, path.data(), path.size());
  return used + total;
}

const char* crash_signal_name(int signal) noexcept {
  switch (signal) {
    case SIGSEGV:
      return "SIGSEGV";
    case SIGBUS:
      return "SIGBUS";
    case SIGILL:
      return "SIGILL";
    case SIGFPE:
      return "SIGFPE";
    case SIGABRT:
      return "SIGABRT";
    default:
      return nullptr;
  }
}

// ---------------------------------------------------------------- reading

namespace {

Error bad(std::string message) { return Error{"crash record", std::move(message)}; }

std::string text_of(std::string_view payload) {
  std::string s(payload);
  // Names and texts are for display: keep them printable and single-line
  // without dropping the record for a stray byte.
  for (char& c : s) {
    if (static_cast<unsigned char>(c) < 0x20 && c != '\t') c = '?';
  }
  return s;
}

}  // namespace

Expected<CrashRecord> parse_crash_record(std::string_view bytes) {
  if (bytes.size() > kMaxCrashFileBytes) {
    return bad("file of " + std::to_string(bytes.size()) + " bytes is over the " +
               std::to_string(kMaxCrashFileBytes) + "-byte limit");
  }
  if (bytes.size() < 16)
    return bad("truncated header (" + std::to_string(bytes.size()) + " bytes)");
  if (std::memcmp(bytes.data(), kCrashMagic, sizeof kCrashMagic) != 0) {
    return bad("not a crash record (bad magic)");
  }
  std::uint32_t version = 0;
  std::memcpy(&version, bytes.data() + 8, 4);
  if (version != kCrashFormatVersion) {
    return bad("unsupported format version " + std::to_string(version));
  }

  CrashRecord r;
  bool have_info = false, have_frames = false, have_end = false;
  std::size_t pos = 16;
  while (pos < bytes.size()) {
    if (bytes.size() - pos < sizeof(SectionHead)) {
      return bad("truncated section header at offset " + std::to_string(pos));
    }
    SectionHead h;
    std::memcpy(&h, bytes.data() + pos, sizeof h);
    const std::size_t body_at = pos + sizeof h;
    if (h.length > bytes.size() - body_at) {
      return bad("truncated: section " + std::to_string(h.type) + " at offset " +
                 std::to_string(pos) + " claims " + std::to_string(h.length) + " bytes, " +
                 std::to_string(bytes.size() - body_at) + " remain");
    }
    const std::string_view body = bytes.substr(body_at, h.length);
    const std::string where =
        "section " + std::to_string(h.type) + " at offset " + std::to_string(pos);
    switch (static_cast<CrashSection>(h.type)) {
      case CrashSection::kInfo: {
        if (have_info) return bad("duplicate info " + where);
        if (body.size() != sizeof(CrashInfoWire)) {
          return bad("info " + where + " has length " + std::to_string(body.size()) +
                     ", expected " + std::to_string(sizeof(CrashInfoWire)));
        }
        CrashInfoWire w;
        std::memcpy(&w, body.data(), sizeof w);
        if (w.kind != static_cast<std::uint32_t>(CrashKind::kSignal) &&
            w.kind != static_cast<std::uint32_t>(CrashKind::kTerminate)) {
          return bad("unknown crash kind " + std::to_string(w.kind));
        }
        if (w.signal < 0 || w.signal > 64)
          return bad("signal number " + std::to_string(w.signal) + " out of range");
        if (w.time_nsec < 0 || w.time_nsec >= 1000000000)
          return bad("time nanoseconds out of range");
        r.kind = static_cast<CrashKind>(w.kind);
        r.signal = w.signal;
        r.si_code = w.si_code;
        r.pid = w.pid;
        r.tid = w.tid;
        r.fault_address = w.fault_address;
        r.time_sec = w.time_sec;
        r.time_nsec = w.time_nsec;
        have_info = true;
        break;
      }
      case CrashSection::kSignalName:
      case CrashSection::kThreadName:
      case CrashSection::kExceptionType:
      case CrashSection::kExceptionWhat: {
        if (body.size() > kMaxCrashText) {
          return bad("text " + where + " of " + std::to_string(body.size()) + " bytes is over " +
                     std::to_string(kMaxCrashText));
        }
        std::string text = text_of(body);
        switch (static_cast<CrashSection>(h.type)) {
          case CrashSection::kSignalName:
            r.signal_name = std::move(text);
            break;
          case CrashSection::kThreadName:
            r.thread_name = std::move(text);
            break;
          case CrashSection::kExceptionType:
            r.exception_type = demangle(text);
            break;
          default:
            r.exception_what = std::move(text);
            break;
        }
        break;
      }
      case CrashSection::kFrames: {
        if (have_frames) return bad("duplicate frames " + where);
        if (body.size() % 8 != 0) {
          return bad("frames " + where + " length " + std::to_string(body.size()) +
                     " is not a multiple of 8");
        }
        if (body.size() / 8 > kMaxCrashFrames) {
          return bad("frames " + where + " holds " + std::to_string(body.size() / 8) +
                     " frames, over " + std::to_string(kMaxCrashFrames));
        }
        r.frames.resize(body.size() / 8);
        if (!body.empty()) std::memcpy(r.frames.data(), body.data(), body.size());
        have_frames = true;
        break;
      }
      case CrashSection::kModule: {
        if (r.modules.size() >= kMaxCrashModules)
          return bad("more than " + std::to_string(kMaxCrashModules) + " modules");
        if (body.size() < sizeof(ModuleWire)) return bad("module " + where + " too short");
        ModuleWire w;
        std::memcpy(&w, body.data(), sizeof w);
        if (w.build_id_len > kMaxCrashBuildId || w.path_len > kMaxCrashPath ||
            sizeof(ModuleWire) + std::size_t{w.build_id_len} + w.path_len != body.size()) {
          return bad("module " + where + " lengths (build id " + std::to_string(w.build_id_len) +
                     ", path " + std::to_string(w.path_len) + ") do not match its length " +
                     std::to_string(body.size()));
        }
        if (w.image_size == 0 || w.image_addr + w.image_size < w.image_addr) {
          return bad("module " + where + " has an empty or wrapping address range");
        }
        CrashModule m;
        m.load_bias = w.load_bias;
        m.image_addr = w.image_addr;
        m.image_size = w.image_size;
        const char* p = body.data() + sizeof w;
        m.build_id.assign(p, p + w.build_id_len);
        m.path.assign(p + w.build_id_len, w.path_len);
        if (m.path.find('\0') != std::string::npos)
          return bad("module " + where + " path holds a NUL byte");
        r.modules.push_back(std::move(m));
        break;
      }
      case CrashSection::kContext: {
        if (body.size() > kMaxCrashContext) return bad("context " + where + " over the limit");
        r.contexts.emplace_back(body);
        break;
      }
      case CrashSection::kEnd: {
        if (body.size() != 4)
          return bad("end " + where + " has length " + std::to_string(body.size()));
        std::uint32_t stored = 0;
        std::memcpy(&stored, body.data(), 4);
        if (crc32_update(0, bytes.data(), pos) != stored) return bad("crc mismatch");
        if (body_at + 4 != bytes.size()) {
          return bad(std::to_string(bytes.size() - body_at - 4) + " bytes after the end section");
        }
        have_end = true;
        break;
      }
      default:
        break;  // a section of a later version: skipped, its length was checked
    }
    pos = body_at + h.length;
  }
  if (!have_end) return bad("truncated: no end section");
  if (!have_info) return bad("no info section");
  if (r.signal_name.empty()) {
    r.signal_name = r.kind == CrashKind::kTerminate          ? "terminate"
                    : crash_signal_name(r.signal) != nullptr ? crash_signal_name(r.signal)
                                                             : "SIG" + std::to_string(r.signal);
  }
  return r;
}

CrashReadResult read_crash_records(const std::string& dir) {
  namespace fs = std::filesystem;
  CrashReadResult out;
  std::error_code ec;
  std::vector<fs::path> files;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    std::error_code type_ec;
    if (!it->is_regular_file(type_ec)) continue;
    files.push_back(it->path());
  }
  std::sort(files.begin(), files.end());
  auto ends_with = [](const std::string& s, std::string_view suffix) {
    return s.size() >= suffix.size() &&
           s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  for (const fs::path& p : files) {
    const std::string name = p.string();
    if (ends_with(name, kCrashTempSuffix)) {
      out.damaged.push_back({name, "incomplete: the crashing process died while writing it"});
      continue;
    }
    if (!ends_with(name, kCrashFileSuffix)) continue;
    std::error_code size_ec;
    const auto size = fs::file_size(p, size_ec);
    if (size_ec) {
      out.damaged.push_back({name, "cannot stat: " + size_ec.message()});
      continue;
    }
    if (size > kMaxCrashFileBytes) {
      out.damaged.push_back({name, "file of " + std::to_string(size) + " bytes is over the limit"});
      continue;
    }
    std::ifstream in(p, std::ios::binary);
    std::string bytes(static_cast<std::size_t>(size), '\0');
    if (!in || !in.read(bytes.data(), static_cast<std::streamsize>(bytes.size()))) {
      out.damaged.push_back({name, "cannot read"});
      continue;
    }
    auto parsed = parse_crash_record(bytes);
    if (!parsed) {
      out.damaged.push_back({name, parsed.errors().front().message});
      continue;
    }
    parsed->file = name;
    out.records.push_back(std::move(*parsed));
  }
  std::stable_sort(
      out.records.begin(), out.records.end(), [](const CrashRecord& a, const CrashRecord& b) {
        return a.time_sec != b.time_sec ? a.time_sec < b.time_sec : a.time_nsec < b.time_nsec;
      });
  return out;
}

bool remove_crash_record(const CrashRecord& record) noexcept {
  if (record.file.empty()) return false;
  return ::unlink(record.file.c_str()) == 0 || errno == ENOENT;
}

bool set_aside_damaged(const DamagedCrashFile& damaged) noexcept {
  try {
    std::string target = damaged.file;
    for (std::string_view suffix :
         {std::string_view(kCrashTempSuffix), std::string_view(kCrashFileSuffix)}) {
      if (target.size() >= suffix.size() &&
          target.compare(target.size() - suffix.size(), suffix.size(), suffix) == 0) {
        target.resize(target.size() - suffix.size());
        break;
      }
    }
    target += kCrashDamagedSuffix;
    return ::rename(damaged.file.c_str(), target.c_str()) == 0;
  } catch (...) {
    return false;
  }
}

}  // namespace emp::telemetry::errors

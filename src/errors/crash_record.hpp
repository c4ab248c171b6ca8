// The crash record: the file a crashing process leaves behind, how it is
// written (from a signal handler: no allocation, no lock, no stdio) and how
// the next process reads it back.
//
// Format (docs/crash-capture.md has the full table): a 16-byte header
// ("EMPCRASH", version, flags) followed by sections, each a u32 type, a u32
// length and that many bytes, ending with an END section that carries the
// CRC-32 of every byte before it. All integers little-endian. A record is
// written to "<name>.emcr.tmp" and renamed to "<name>.emcr" once complete, so
// a process that died while writing leaves only a .tmp file.
//
// Reading validates every length against the bytes that remain and against
// fixed caps, so a damaged or hostile file is reported, never trusted, and
// never crashes the reader. Files are removed only when their owner confirms
// that the record was handed to delivery (remove_crash_record).
//
// Thread-safety: CrashFileWriter and crc32_update are async-signal-safe; the
// reading functions allocate and may be used from any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "emp/telemetry/expected.hpp"

namespace emp::telemetry::errors {

inline constexpr char kCrashMagic[8] = {'E', 'M', 'P', 'C', 'R', 'A', 'S', 'H'};
inline constexpr std::uint32_t kCrashFormatVersion = 1;
inline constexpr const char* kCrashFileSuffix = ".emcr";
inline constexpr const char* kCrashTempSuffix = ".emcr.tmp";
inline constexpr const char* kCrashDamagedSuffix = ".emcr.damaged";

// Section types. Readers skip types they do not know (later versions may add
// some), but every length is checked.
enum class CrashSection : std::uint32_t {
  kInfo = 1,           // CrashInfoWire
  kSignalName = 2,     // "SIGSEGV"
  kThreadName = 3,     // the crashing thread's name (prctl PR_GET_NAME)
  kFrames = 4,         // u64 instruction addresses, newest first
  kModule = 5,         // one loaded module (see ModuleWire); one section per module
  kContext = 6,        // the owner's pre-formatted context blob; one per registration
  kExceptionType = 7,  // mangled type name of the exception std::terminate saw
  kExceptionWhat = 8,  // its what()
  kEnd = 0xffff,       // u32 CRC-32 of every byte before this section
};

// Caps the reader enforces (the writer never exceeds them).
inline constexpr std::size_t kMaxCrashFileBytes = 16u << 20;
inline constexpr std::size_t kMaxCrashFrames = 256;
inline constexpr std::size_t kMaxCrashModules = 4096;
inline constexpr std::size_t kMaxCrashPath = 1024;
inline constexpr std::size_t kMaxCrashBuildId = 64;
inline constexpr std::size_t kMaxCrashContext = 1u << 20;
inline constexpr std::size_t kMaxCrashText = 4096;

enum class CrashKind : std::uint32_t { kSignal = 1, kTerminate = 2 };

// The fixed part, as stored in the kInfo section (little-endian, 48 bytes).
struct CrashInfoWire {
  std::uint32_t kind;
  std::int32_t signal;   // 0 for kTerminate
  std::int32_t si_code;  // 0 for kTerminate
  std::int32_t pid;
  std::int32_t tid;
  std::uint32_t reserved;
  std::uint64_t fault_address;  // si_addr for SIGSEGV/SIGBUS/SIGILL/SIGFPE, else 0
  std::int64_t time_sec;        // CLOCK_REALTIME at the crash
  std::int64_t time_nsec;
};
static_assert(sizeof(CrashInfoWire) == 48);

// Head of a kModule section; the build id bytes and then the path follow.
struct ModuleWire {
  std::uint64_t load_bias;
  std::uint64_t image_addr;
  std::uint64_t image_size;
  std::uint32_t build_id_len;
  std::uint32_t path_len;
};
static_assert(sizeof(ModuleWire) == 32);

// CRC-32 (IEEE 802.3, the polynomial zlib uses), incrementally: start with
// crc = 0. Table-driven from a constant table; async-signal-safe.
std::uint32_t crc32_update(std::uint32_t crc, const void* data, std::size_t len) noexcept;

// Appends sections to an open file descriptor with write(2) only, keeping the
// running CRC. Async-signal-safe. A short or failed write makes ok() false
// and later calls no-ops.
class CrashFileWriter {
 public:
  explicit CrashFileWriter(int fd) noexcept : fd_(fd) {}
  void header() noexcept;
  void section(CrashSection type, const void* data, std::size_t len) noexcept;
  // A section whose bytes were pre-formatted elsewhere (type and length
  // included), e.g. the module list snapshot.
  void raw(const void* data, std::size_t len) noexcept;
  void end() noexcept;
  bool ok() const noexcept { return ok_; }

 private:
  void put(const void* data, std::size_t len) noexcept;
  int fd_;
  std::uint32_t crc_ = 0;
  bool ok_ = true;
};

// Appends one kModule section (header included) to `out` at `used`; returns
// the new `used`, or `used` unchanged when it does not fit in `cap`.
std::size_t append_module_section(char* out, std::size_t used, std::size_t cap,
                                  std::uint64_t load_bias, std::uint64_t image_addr,
                                  std::uint64_t image_size, const std::uint8_t* build_id,
                                  std::size_t build_id_len, std::string_view path) noexcept;

struct CrashModule {
  std::string path;
  std::uint64_t load_bias = 0;
  std::uint64_t image_addr = 0;
  std::uint64_t image_size = 0;
  std::vector<std::uint8_t> build_id;
};

// One crash, as read back.
struct CrashRecord {
  std::string file;  // where it was read from
  CrashKind kind = CrashKind::kSignal;
  int signal = 0;
  std::string signal_name;  // "SIGSEGV"; "terminate" for kTerminate
  int si_code = 0;
  std::uint64_t fault_address = 0;
  int pid = 0;
  int tid = 0;
  std::string thread_name;
  std::int64_t time_sec = 0;
  std::int64_t time_nsec = 0;
  std::vector<std::uint64_t> frames;  // newest first; frames[0] is exact for kSignal
  std::vector<CrashModule> modules;   // in load order, the main executable first
  std::vector<std::string> contexts;  // the registered context blobs, as written
  std::string exception_type;         // demangled; empty when none
  std::string exception_what;
};

// Parses one record. Errors name what was wrong ("section 4 length 12 is not
// a multiple of 8", "crc mismatch", "truncated").
Expected<CrashRecord> parse_crash_record(std::string_view bytes);

struct DamagedCrashFile {
  std::string file;
  std::string reason;
};

struct CrashReadResult {
  std::vector<CrashRecord> records;       // oldest crash first
  std::vector<DamagedCrashFile> damaged;  // unreadable files, left in place
};

// Reads every "*.emcr" file in `dir` (a missing directory reads as empty).
// Damaged files and leftover ".emcr.tmp" files (the process died while
// writing) are reported in `damaged`. Nothing is removed.
CrashReadResult read_crash_records(const std::string& dir);

// The record was handed to delivery: remove its file. False when it could
// not be removed (already gone counts as removed).
bool remove_crash_record(const CrashRecord& record) noexcept;

// Moves a damaged file aside ("<name>.emcr.damaged") so it is reported once.
bool set_aside_damaged(const DamagedCrashFile& damaged) noexcept;

// "SIGSEGV" etc. for the five crash signals, "SIG<n>" otherwise is left to
// the caller: returns nullptr for any other number. Async-signal-safe.
const char* crash_signal_name(int signal) noexcept;

}  // namespace emp::telemetry::errors

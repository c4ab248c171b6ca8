// From a crash record to the data a Sentry `fatal` event needs, in the new
// process that found the record: the addresses recorded at crash time are
// symbolized against the module list recorded with them (path, load bias,
// build id), so ASLR and a later restart do not matter, and a module whose
// file has since changed keeps its module and offset rather than wrong names.
//
// The JSON helpers produce Sentry's own shapes (stack frames, debug_meta
// images, the exception with its signal mechanism) so that every event with
// a native stack, not only crashes, is built the same way.
//
// Thread-safety: plain functions over their arguments; use off the
// application's threads (symbolization reads files).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "errors/crash_record.hpp"
#include "errors/stacktrace.hpp"

namespace emp::telemetry::errors {

// Everything about one crash that an event carries.
struct CrashEventData {
  std::int64_t time_sec = 0;  // when it crashed (the event's timestamp)
  std::int64_t time_nsec = 0;
  // exception.values[0]: for a signal "SIGSEGV" and a description such as
  // "Segmentation fault (SEGV_MAPERR: address not mapped) at 0x0"; for
  // std::terminate the demangled exception type and its what(), or
  // "std::terminate" when there was no exception.
  std::string exception_type;
  std::string exception_value;
  std::string mechanism;  // "signalhandler" or "terminate"
  int signal = 0;
  std::string signal_name;
  int si_code = 0;
  std::uint64_t fault_address = 0;
  int pid = 0;
  int thread_id = 0;
  std::string thread_name;
  std::vector<Frame> frames;          // oldest first, symbolized
  std::vector<ModuleInfo> modules;    // as recorded; debug_meta.images
  std::vector<std::string> contexts;  // the owner's blobs, as written at crash time
};

// Symbolizes and describes one record. Never throws for any record that
// parse_crash_record accepted.
CrashEventData crash_event_data(const CrashRecord& record);

// The recorded modules as the Symbolizer takes them (the first is the main
// executable).
std::vector<ModuleInfo> modules_of(const CrashRecord& record);

// Sentry JSON: stacktrace.frames (oldest first), debug_meta.images, and the
// fields of a fatal event for one crash (level, timestamp, exception with
// mechanism and stack trace, threads, debug_meta, contexts.crash). The event
// id, SDK, release, environment and tags are the sender's to add.
nlohmann::json sentry_frames_json(const std::vector<Frame>& frames);
nlohmann::json sentry_debug_images_json(const std::vector<ModuleInfo>& modules);
nlohmann::json sentry_crash_event_json(const CrashEventData& crash);

// "SEGV_MAPERR: address not mapped" for the codes of the five crash signals
// (and SI_USER etc.); "si_code <n>" for others.
std::string describe_si_code(int signal, int si_code);

}  // namespace emp::telemetry::errors

// Crash record -> event data and Sentry JSON; see crash_report.hpp.
#include "errors/crash_report.hpp"

#include <signal.h>

#include <cstdio>

namespace emp::telemetry::errors {

namespace {

std::string hex_addr(std::uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}

const char* signal_description(int signal) {
  switch (signal) {
    case SIGSEGV:
      return "Segmentation fault";
    case SIGBUS:
      return "Bus error";
    case SIGILL:
      return "Illegal instruction";
    case SIGFPE:
      return "Floating-point exception";
    case SIGABRT:
      return "Aborted";
    default:
      return "Fatal signal";
  }
}

}  // namespace

std::string describe_si_code(int signal, int si_code) {
  switch (si_code) {
    case SI_USER:
      return "SI_USER: sent by kill";
    case SI_TKILL:
      return "SI_TKILL: sent by tkill/raise";
    case SI_QUEUE:
      return "SI_QUEUE: sent by sigqueue";
    default:
      break;
  }
  struct Code {
    int signal;
    int code;
    const char* text;
  };
  static const Code kCodes[] = {
      {SIGSEGV, SEGV_MAPERR, "SEGV_MAPERR: address not mapped"},
      {SIGSEGV, SEGV_ACCERR, "SEGV_ACCERR: invalid permissions for mapped object"},
      {SIGBUS, BUS_ADRALN, "BUS_ADRALN: invalid address alignment"},
      {SIGBUS, BUS_ADRERR, "BUS_ADRERR: nonexistent physical address"},
      {SIGBUS, BUS_OBJERR, "BUS_OBJERR: object-specific hardware error"},
      {SIGILL, ILL_ILLOPC, "ILL_ILLOPC: illegal opcode"},
      {SIGILL, ILL_ILLOPN, "ILL_ILLOPN: illegal operand"},
      {SIGILL, ILL_ILLADR, "ILL_ILLADR: illegal addressing mode"},
      {SIGILL, ILL_ILLTRP, "ILL_ILLTRP: illegal trap"},
      {SIGILL, ILL_PRVOPC, "ILL_PRVOPC: privileged opcode"},
      {SIGILL, ILL_PRVREG, "ILL_PRVREG: privileged register"},
      {SIGILL, ILL_COPROC, "ILL_COPROC: coprocessor error"},
      {SIGILL, ILL_BADSTK, "ILL_BADSTK: internal stack error"},
      {SIGFPE, FPE_INTDIV, "FPE_INTDIV: integer divide by zero"},
      {SIGFPE, FPE_INTOVF, "FPE_INTOVF: integer overflow"},
      {SIGFPE, FPE_FLTDIV, "FPE_FLTDIV: floating-point divide by zero"},
      {SIGFPE, FPE_FLTOVF, "FPE_FLTOVF: floating-point overflow"},
      {SIGFPE, FPE_FLTUND, "FPE_FLTUND: floating-point underflow"},
      {SIGFPE, FPE_FLTRES, "FPE_FLTRES: floating-point inexact result"},
      {SIGFPE, FPE_FLTINV, "FPE_FLTINV: floating-point invalid operation"},
      {SIGFPE, FPE_FLTSUB, "FPE_FLTSUB: subscript out of range"},
  };
  for (const Code& c : kCodes) {
    if (c.signal == signal && c.code == si_code) return c.text;
  }
  return "si_code " + std::to_string(si_code);
}

std::vector<ModuleInfo> modules_of(const CrashRecord& record) {
  std::vector<ModuleInfo> out;
  out.reserve(record.modules.size());
  for (const CrashModule& m : record.modules) {
    ModuleInfo mi;
    mi.path = m.path;
    mi.load_bias = m.load_bias;
    mi.image_addr = m.image_addr;
    mi.image_size = m.image_size;
    mi.build_id = m.build_id;
    mi.main_executable = out.empty();
    out.push_back(std::move(mi));
  }
  return out;
}

CrashEventData crash_event_data(const CrashRecord& record) {
  CrashEventData d;
  d.time_sec = record.time_sec;
  d.time_nsec = record.time_nsec;
  d.signal = record.signal;
  d.signal_name = record.signal_name;
  d.si_code = record.si_code;
  d.fault_address = record.fault_address;
  d.pid = record.pid;
  d.thread_id = record.tid;
  d.thread_name = record.thread_name;
  d.contexts = record.contexts;
  d.modules = modules_of(record);
  if (record.kind == CrashKind::kTerminate) {
    d.mechanism = "terminate";
    d.exception_type = record.exception_type.empty() ? "std::terminate" : record.exception_type;
    d.exception_value = record.exception_type.empty()
                            ? "std::terminate called without an active exception"
                        : record.exception_what.empty()
                            ? "std::terminate called after throwing " + record.exception_type
                            : record.exception_what;
  } else {
    d.mechanism = "signalhandler";
    d.exception_type = record.signal_name;
    d.exception_value = std::string(signal_description(record.signal)) + " (" +
                        describe_si_code(record.signal, record.si_code) + ")";
    if (record.si_code > 0 && record.signal != SIGABRT) {
      d.exception_value += " at " + hex_addr(record.fault_address);
    }
  }
  Symbolizer symbolizer(d.modules);
  d.frames = symbolizer.symbolize(record.frames, record.kind == CrashKind::kSignal);
  return d;
}

nlohmann::json sentry_frames_json(const std::vector<Frame>& frames) {
  nlohmann::json out = nlohmann::json::array();
  for (const Frame& f : frames) {
    nlohmann::json j;
    j["instruction_addr"] = hex_addr(f.instruction_addr);
    if (!f.function.empty()) j["function"] = f.function;
    if (!f.symbol.empty()) j["symbol"] = f.symbol;
    if (f.symbol_addr != 0) j["symbol_addr"] = hex_addr(f.symbol_addr);
    if (!f.package.empty()) {
      j["package"] = f.package;
      j["image_addr"] = hex_addr(f.image_addr);
    }
    if (!f.filename.empty()) j["filename"] = f.filename;
    if (f.lineno != 0) j["lineno"] = f.lineno;
    j["in_app"] = f.in_app;
    out.push_back(std::move(j));
  }
  return out;
}

nlohmann::json sentry_debug_images_json(const std::vector<ModuleInfo>& modules) {
  nlohmann::json out = nlohmann::json::array();
  for (const ModuleInfo& m : modules) {
    nlohmann::json j;
    j["type"] = "elf";
    j["code_file"] = m.path;
    j["image_addr"] = hex_addr(m.image_addr);
    j["image_size"] = m.image_size;
    if (!m.build_id.empty()) {
      j["code_id"] = code_id_hex(m.build_id);
      j["debug_id"] = debug_id_from_build_id(m.build_id);
    }
    out.push_back(std::move(j));
  }
  return out;
}

nlohmann::json sentry_crash_event_json(const CrashEventData& crash) {
  nlohmann::json mechanism;
  mechanism["type"] = crash.mechanism;
  mechanism["handled"] = false;
  if (crash.mechanism == "signalhandler") {
    mechanism["synthetic"] = true;
    mechanism["meta"]["signal"] = {
        {"number", crash.signal}, {"code", crash.si_code}, {"name", crash.signal_name}};
  }
  nlohmann::json stacktrace;
  stacktrace["frames"] = sentry_frames_json(crash.frames);

  nlohmann::json exception;
  exception["type"] = crash.exception_type;
  exception["value"] = crash.exception_value;
  exception["mechanism"] = std::move(mechanism);
  exception["thread_id"] = crash.thread_id;
  exception["stacktrace"] = stacktrace;

  nlohmann::json thread;
  thread["id"] = crash.thread_id;
  if (!crash.thread_name.empty()) thread["name"] = crash.thread_name;
  thread["crashed"] = true;
  thread["current"] = true;

  nlohmann::json event;
  event["level"] = "fatal";
  event["platform"] = "native";
  event["timestamp"] = static_cast<double>(crash.time_sec) + crash.time_nsec / 1e9;
  event["exception"]["values"] = nlohmann::json::array({std::move(exception)});
  event["threads"]["values"] = nlohmann::json::array({std::move(thread)});
  event["debug_meta"]["images"] = sentry_debug_images_json(crash.modules);
  event["contexts"]["crash"] = {{"pid", crash.pid}, {"thread_id", crash.thread_id}};
  if (crash.fault_address != 0)
    event["contexts"]["crash"]["fault_address"] = hex_addr(crash.fault_address);
  return event;
}

}  // namespace emp::telemetry::errors

// Decodes an OTLP/HTTP protobuf body with the official OpenTelemetry proto
// schema (tests/conformance/otlp/decode.js, run by node), so tests compare
// what a collector would read, not what our own decoder believes. `kind` is
// "traces", "logs" or "metrics". A failing decoder or non-JSON output is a
// test failure; the result is then a discarded JSON value.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

namespace emp::telemetry::testing {

inline nlohmann::json decode_otlp(const std::string& kind, const std::string& bytes) {
  static std::atomic<unsigned> next{0};
  const char* src = std::getenv("EMP_TEST_SRC");
  const std::string root = src ? src : ".";
  const std::filesystem::path file =
      std::filesystem::temp_directory_path() /
      ("emp-otlp-decode-" + std::to_string(::getpid()) + "-" + std::to_string(next++) + ".bin");
  {
    std::ofstream out(file, std::ios::binary);
    out << bytes;
  }
  const std::string cmd =
      "node " + root + "/tests/conformance/otlp/decode.js " + kind + " " + file.string();
  std::string text;
  if (FILE* p = ::popen(cmd.c_str(), "r")) {
    char buf[65536];
    std::size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) text.append(buf, n);
    EXPECT_EQ(::pclose(p), 0) << "decoder failed: " << cmd;
  }
  std::error_code ec;
  std::filesystem::remove(file, ec);
  auto j = nlohmann::json::parse(text, nullptr, false);
  EXPECT_FALSE(j.is_discarded()) << "decoder output is not JSON: " << text.substr(0, 200);
  return j;
}

}  // namespace emp::telemetry::testing

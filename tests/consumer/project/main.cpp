// Consumer of the installed emp-telemetry package: finalizes a configuration,
// creates a client, logs two lines (fields, and a format string) into a fresh
// temporary directory, shuts down and checks that both reached the log file.
// Exits 0 on success.
#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <optional>
#include <string>
#include <string_view>

#include <emp/telemetry/client.hpp>
#include <emp/telemetry/config.hpp>

namespace et = emp::telemetry;
namespace fs = std::filesystem;

int main() {
  std::string tmpl = (fs::temp_directory_path() / "emp-consumer-XXXXXX").string();
  if (mkdtemp(tmpl.data()) == nullptr) {
    std::cerr << "consumer: cannot create a temporary directory\n";
    return 1;
  }
  const fs::path dir = tmpl;

  et::Options options;
  options.service_name = "consumer-app";
  options.log_dir = dir.string();
  // Only what is set here counts: variables of the machine running the test
  // must not change the outcome.
  options.env = [](std::string_view) -> std::optional<std::string> { return std::nullopt; };

  auto config = et::finalize(options);
  if (!config) {
    for (const auto& e : config.errors()) std::cerr << "consumer: " << e.to_string() << "\n";
    return 1;
  }
  auto client = et::Client::create(std::move(config).value());
  if (!client) {
    for (const auto& e : client.errors()) std::cerr << "consumer: " << e.to_string() << "\n";
    return 1;
  }
  const fs::path file = dir / client->config().log_file;
  client->log().info("hello from a package consumer", {{"answer", 42}});
  client->log().info("job {} done", 42);
  if (!client->shutdown(std::chrono::seconds(5))) {
    std::cerr << "consumer: shutdown did not finish in time\n";
    return 1;
  }

  std::ifstream in(file);
  const std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const bool ok = content.find("hello from a package consumer") != std::string::npos &&
                  content.find("\"job 42 done\"") != std::string::npos;
  std::cout << "consumer: " << file.string() << (ok ? " has the line\n" : " lacks the line\n");
  std::error_code ec;
  fs::remove_all(dir, ec);
  return ok ? 0 : 1;
}

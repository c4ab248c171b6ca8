// Fuzzes the SENTRY_DSN parser with arbitrary bytes. Properties: nothing
// crashes; an accepted DSN has an http(s) scheme, a decimal project id and
// an envelope URL built from its parts; its redacted form masks both keys.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "config/parse.hpp"

using namespace emp::telemetry;

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  auto dsn = config::parse_sentry_dsn(input);
  if (!dsn) {
    (void)dsn.error().message;
    return 0;
  }
  const config::SentryDsn& d = dsn.value();
  check(d.scheme == "http" || d.scheme == "https");
  check(!d.project_id.empty());
  for (char c : d.project_id) check(c >= '0' && c <= '9');
  const std::string url = d.envelope_url();
  check(url.rfind(d.scheme + "://", 0) == 0);
  check(url.size() >= 10 && url.compare(url.size() - 10, 10, "/envelope/") == 0);
  // The keys never show: everything before the host is masked.
  const std::string shown = d.redacted();
  check(shown.rfind(d.scheme + "://***@", 0) == 0);
  return 0;
}

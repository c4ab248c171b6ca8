// Redaction: each kind of secret is masked, malformed input is masked
// conservatively, and ordinary values pass through unchanged.
#include "config/redact.hpp"

#include <gtest/gtest.h>

namespace emp::telemetry::config {
namespace {

TEST(Redact, RegistrySecrets) {
  EXPECT_EQ(redact("DASH0_API_KEY", "auth_abcdef"), "***");
  EXPECT_EQ(redact("DASH0_API_KEY", ""), "");
  EXPECT_EQ(redact("SENTRY_DSN", "https://pub:sec@o1.ingest.sentry.io/42"),
            "https://***@o1.ingest.sentry.io/42");
  EXPECT_EQ(redact("OTEL_EXPORTER_OTLP_HEADERS", "Authorization=Bearer xyz, X-Team=a"),
            "Authorization=***,X-Team=***");
  EXPECT_EQ(redact("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "api-key=abc"), "api-key=***");
  EXPECT_TRUE(is_secret_variable("DASH0_API_KEY"));
  EXPECT_TRUE(is_secret_variable("OTEL_EXPORTER_OTLP_LOGS_HEADERS"));
  EXPECT_FALSE(is_secret_variable("FLUENTD_HOST"));
  EXPECT_FALSE(is_secret_variable("DASH0_DATASET"));
}

TEST(Redact, MalformedSecretsAreFullyMasked) {
  EXPECT_EQ(redact_dsn("pubkey@host/42"), "***");
  EXPECT_EQ(redact_dsn("https://pubkey/42"), "***");
  EXPECT_EQ(redact_dsn("https://a@b@host/42"), "https://***@host/42");
  EXPECT_EQ(redact_dsn("https://pub@host/x@y"), "https://***@host/x@y");
  // A member without '=' may be the secret itself; a key that is not a
  // header name may hide one.
  EXPECT_EQ(redact_key_values("Bearer abcdef"), "***");
  EXPECT_EQ(redact_key_values("Authorization: Bearer abc=def"), "***");
  EXPECT_EQ(redact_key_values("a=1,,b=2,"), "a=***,b=***");
}

TEST(Redact, UrlsAndUnknownNames) {
  EXPECT_EQ(redact("SOME_URL", "https://user:pw@host:1/x"), "https://***@host:1/x");
  // The userinfo ends at the last '@': a path-like '@' is masked too, as the
  // price of never leaving a password with '/', '?' or '#' in plain sight.
  EXPECT_EQ(redact_url_userinfo("http://host/path@x"), "http://***@x");
  EXPECT_EQ(redact("MY_SERVICE_TOKEN", "abc"), "***");
  EXPECT_EQ(redact("DB_PASSWORD", "abc"), "***");
  EXPECT_EQ(redact("OTHER_DSN", "https://k@h/1"), "https://***@h/1");
  EXPECT_EQ(redact("FLUENTD_HOST", "fluentd"), "fluentd");
  EXPECT_EQ(redact("SERVICE_NAME", "emp-api"), "emp-api");
}

TEST(Redact, PasswordsWithDelimitersAndBareHosts) {
  EXPECT_EQ(redact_url_userinfo("http://user:pw/x@127.0.0.1:4318"), "http://***@127.0.0.1:4318");
  EXPECT_EQ(redact_url_userinfo("http://user:p?w@127.0.0.1:4318/v1"),
            "http://***@127.0.0.1:4318/v1");
  EXPECT_EQ(redact_url_userinfo("https://u:p#w@h"), "https://***@h");
  EXPECT_EQ(redact_url_userinfo("user:pw@host"), "***@host");
  // A "://" inside the password is not a scheme.
  EXPECT_EQ(redact_url_userinfo("u:pw://[::1]:4318/x@h"), "***@h");
  EXPECT_EQ(redact_url_userinfo("no-at-sign/x?y#z"), "no-at-sign/x?y#z");
  EXPECT_EQ(redact("OTEL_EXPORTER_OTLP_ENDPOINT", "http://user:pw/x@127.0.0.1:4318"),
            "http://***@127.0.0.1:4318");
  EXPECT_EQ(redact("FLUENTD_HOST", "user:pw@host"), "***@host");
  // Idempotent, so a message that is redacted twice stays the same.
  EXPECT_EQ(redact_url_userinfo(redact_url_userinfo("http://a:b/c@d")), "http://***@d");
}

}  // namespace
}  // namespace emp::telemetry::config

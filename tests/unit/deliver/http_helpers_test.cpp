// Pure helpers of the HTTP transport: Retry-After, redaction, URLs, deadlines.
#include <gtest/gtest.h>

#include <string>

#include "deliver/http_transport.hpp"

namespace emp::telemetry::deliver {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// 2015-10-21 07:28:00 UTC, the date of RFC 7231's example.
constexpr std::time_t kNow = 1445412480;

TEST(RetryAfter, DeltaSeconds) {
  EXPECT_EQ(parse_retry_after("120", kNow, seconds(300)), milliseconds(120000));
  EXPECT_EQ(parse_retry_after(" 0 ", kNow, seconds(300)), milliseconds(0));
  EXPECT_EQ(parse_retry_after("301", kNow, seconds(300)), milliseconds(300000));  // capped
  EXPECT_EQ(parse_retry_after("99999999999999999999999", kNow, seconds(60)), milliseconds(60000));
}

TEST(RetryAfter, HttpDateRelativeToNow) {
  EXPECT_EQ(parse_retry_after("Wed, 21 Oct 2015 07:28:30 GMT", kNow, seconds(300)),
            milliseconds(30000));
  // Obsolete RFC 850 and asctime forms are still HTTP-dates.
  EXPECT_EQ(parse_retry_after("Wednesday, 21-Oct-15 07:29:00 GMT", kNow, seconds(300)),
            milliseconds(60000));
  EXPECT_EQ(parse_retry_after("Wed Oct 21 07:28:10 2015", kNow, seconds(300)), milliseconds(10000));
  // In the past: retry now. Far future: capped.
  EXPECT_EQ(parse_retry_after("Wed, 21 Oct 2015 07:00:00 GMT", kNow, seconds(300)),
            milliseconds(0));
  EXPECT_EQ(parse_retry_after("Fri, 01 Jan 2100 00:00:00 GMT", kNow, seconds(300)),
            milliseconds(300000));
}

TEST(RetryAfter, GarbageIsNullopt) {
  for (const char* v : {"", "soon", "-5", "+5", "1.5", "12abc", "0x10", "   "}) {
    EXPECT_FALSE(parse_retry_after(v, kNow, seconds(300))) << v;
  }
  EXPECT_FALSE(parse_retry_after(std::string(200, 'a'), kNow, seconds(300)));
}

TEST(Redact, ReplacesEverySecretOccurrence) {
  EXPECT_EQ(redact("token abc123 and abc123", {"abc123"}), "token *** and ***");
  EXPECT_EQ(redact("short ab kept", {"ab"}), "short ab kept");  // too short to be a secret
  EXPECT_EQ(redact("Bearer k1 / k2key", {"Bearer k1", "k2key"}), "*** / ***");
}

TEST(Redact, HeaderSecretsIncludeTheBareCredential) {
  const HttpHeaders headers = {{"Authorization", "Bearer key-123"}, {"X-Api-Key", "abc"}};
  const auto secrets = header_secrets(headers);
  EXPECT_EQ(redact("echo: key-123 / Bearer key-123 / abc", secrets), "echo: *** / *** / ***");
}

TEST(DisplayUrl, DropsUserInfoQueryAndFragment) {
  EXPECT_EQ(display_url("http://user:pw@h:4318/v1/traces?key=s#f"), "http://h:4318/v1/traces");
  EXPECT_EQ(display_url("https://h/v1/logs"), "https://h/v1/logs");
  EXPECT_EQ(display_url("http://a@b@h/p"), "http://h/p");
  EXPECT_EQ(display_url("no-scheme@h"), "no-scheme@h");
}

TEST(Deadline, AfterNoneAndCancel) {
  std::atomic<bool> cancel{false};
  auto d = Deadline::after(std::chrono::hours(1), &cancel);
  EXPECT_FALSE(d.expired());
  EXPECT_GT(d.remaining(), milliseconds(3590000));
  cancel = true;
  EXPECT_TRUE(d.expired());
  EXPECT_TRUE(Deadline::after(milliseconds(0)).expired());
  EXPECT_TRUE(Deadline::after(milliseconds(-5)).expired());
  EXPECT_FALSE(Deadline::none().expired());
  EXPECT_TRUE(Deadline::none().unlimited());
  EXPECT_EQ(Deadline::none().remaining(), milliseconds::max());
  // Huge durations saturate instead of overflowing into the past.
  EXPECT_FALSE(Deadline::after(milliseconds::max()).expired());
}

TEST(Names, SignalsAndErrors) {
  EXPECT_EQ(to_string(Signal::kTraces), "traces");
  EXPECT_EQ(to_string(Signal::kMetrics), "metrics");
  EXPECT_EQ(to_string(Signal::kLogs), "logs");
  EXPECT_EQ(mime_type(ContentType::kProtobuf), "application/x-protobuf");
  EXPECT_EQ(mime_type(ContentType::kJson), "application/json");
  EXPECT_EQ(to_string(TransportError::kCancelled), "cancelled");
}

}  // namespace
}  // namespace emp::telemetry::deliver

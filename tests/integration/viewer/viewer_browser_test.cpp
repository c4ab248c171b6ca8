// The viewer's page as a person sees it, in headless Chromium (Debian
// `chromium`): the jobs list shows the job and its status; the job page shows
// the job id, the span names in the trace waterfall and the Sentry error
// message; the error page shows the stack trace. The rendered DOM comes from
// --dump-dom; a screenshot of the job page is kept under
// <build>/artifacts/viewer/ for a person to look at.
#include <fstream>
#include <regex>
#include <set>

#include "emp/telemetry/log.hpp"
#include "emp/telemetry/trace.hpp"
#include "integration/cli_gen/cli_process.hpp"
#include "viewer_support.hpp"

namespace emp::telemetry::viewer_test {
namespace {

using namespace std::chrono_literals;

constexpr const char* kChromium = "/usr/bin/chromium";

class ViewerBrowser : public ViewerFixture {
 protected:
  // One Chromium run with a fresh profile; `mode` is --dump-dom or
  // --screenshot=<file>. Returns what it printed on stdout.
  std::string chromium(const std::string& mode, const std::string& url) {
    const fs::path profile = dir_ / ("profile-" + std::to_string(runs_++));
    fs::create_directories(profile);
    cli_test::CliProcess p(
        {"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--virtual-time-budget=2000", "--window-size=1280,900",
         "--user-data-dir=" + profile.string(), mode, url},
        {{"HOME", dir_.string()}}, 90s, kChromium);
    const auto r = p.wait();
    EXPECT_EQ(r.exit_code, 0) << cli_test::describe(r);
    return r.out;
  }
  int runs_ = 0;
};

// The text of every element whose class attribute is exactly `cls`.
std::vector<std::string> texts_of_class(const std::string& dom, const std::string& cls) {
  std::vector<std::string> out;
  const std::regex re("<div class=\"" + cls + "\"[^>]*>([^<]*)");
  for (auto it = std::sregex_iterator(dom.begin(), dom.end(), re); it != std::sregex_iterator();
       ++it) {
    out.push_back((*it)[1]);
  }
  return out;
}

TEST_F(ViewerBrowser, JobsListJobPageAndErrorPageShowWhatHappened) {
  if (!fs::exists(kChromium)) GTEST_SKIP() << "chromium is not installed (./run setup)";
  const std::string job_id = "job-browser-1";
  std::string trace_id;
  {
    auto c = client();
    auto root = c.tracer().start_span("job.process", {.kind = SpanKind::kConsumer});
    root.set_attribute("job.id", job_id);
    trace_id = root.context().trace_id.to_hex();
    {
      Scope scope(root);
      c.log().info("job started", {{"job_id", job_id}});
      auto dl = c.tracer().start_span("process.download_model");
      dl.end();
      auto gen = c.tracer().start_span("process.image_generation");
      gen.set_status(StatusCode::kError, "model weights missing");
      gen.end();
    }
    root.set_attribute("job.final_status", "failed");
    root.end();
    ASSERT_TRUE(c.flush(20s));
  }
  const std::string event_id = "a1b2c3d4e5f60718293a4b5c6d7e8f90";
  auto r = http_request(viewer_->url() + "/api/7/envelope/", true,
                        sentry_envelope(event_id, job_id, trace_id, "model weights missing"),
                        "application/x-sentry-envelope");
  ASSERT_EQ(r.status, 200) << r.body;
  ASSERT_TRUE(viewer_->flush(20s));

  // The jobs list.
  const std::string list = chromium("--dump-dom", viewer_->url() + "/");
  EXPECT_NE(list.find(">" + job_id + "</a>"), std::string::npos) << list;
  EXPECT_NE(list.find("<span class=\"st failed\">failed</span>"), std::string::npos) << list;

  // The job page: id, the waterfall's span names in tree order, the error.
  const std::string page = chromium("--dump-dom", viewer_->url() + "/jobs/" + job_id);
  EXPECT_NE(page.find("Job " + job_id), std::string::npos) << page;
  const auto names = texts_of_class(page, "name");
  EXPECT_EQ(names, (std::vector<std::string>{"job.process", "process.download_model",
                                             "process.image_generation"}))
      << page;
  EXPECT_NE(page.find("class=\"bar error\""), std::string::npos) << page;  // the failed span
  EXPECT_NE(page.find("ModelLoadError: model weights missing"), std::string::npos) << page;
  EXPECT_NE(page.find("href=\"/errors/" + event_id + "\""), std::string::npos) << page;
  EXPECT_NE(page.find("job started"), std::string::npos) << page;

  // The error page: the stack trace, most recent call first.
  const std::string error = chromium("--dump-dom", viewer_->url() + "/errors/" + event_id);
  const auto load = error.find("<td>load_model</td>");
  const auto main_frame = error.find("<td>main</td>");
  EXPECT_NE(load, std::string::npos) << error;
  EXPECT_LT(load, main_frame) << error;
  EXPECT_NE(error.find("model.cpp:42"), std::string::npos) << error;
  EXPECT_NE(error.find("href=\"/jobs/" + job_id + "\""), std::string::npos) << error;

  // A screenshot of the job page, kept as an artifact.
  const char* bin = std::getenv("EMP_TEST_BIN");
  const fs::path artifacts = fs::path(bin ? bin : dir_.string()) / "artifacts" / "viewer";
  fs::create_directories(artifacts);
  const fs::path shot = artifacts / "job_page.png";
  fs::remove(shot);
  chromium("--screenshot=" + shot.string(), viewer_->url() + "/jobs/" + job_id);
  ASSERT_TRUE(fs::exists(shot));
  std::ifstream in(shot, std::ios::binary);
  std::string magic(8, '\0');
  in.read(magic.data(), 8);
  EXPECT_EQ(magic, std::string("\x89PNG\r\n\x1a\n", 8));
  EXPECT_GT(fs::file_size(shot), 10000u);  // a rendered page, not a blank one
}

}  // namespace
}  // namespace emp::telemetry::viewer_test

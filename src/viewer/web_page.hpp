// The viewer's web page: one self-contained HTML document (inline CSS and
// JavaScript, no external assets, so it works offline) that renders the
// jobs list at /, a job at /jobs/<id> (trace waterfall plus a timeline of
// logs, events and errors), a trace at /traces/<id>, and a Sentry-style
// error at /errors/<event_id>, all from the read API.
//
// The server embeds the first view's data in the page, so the first render
// needs no request; the page then refreshes through the API.
#pragma once

#include <string>
#include <string_view>

namespace emp::telemetry::viewer {

// The page with `initial_json` (a JSON value, or "null") available to its
// script as the first view's data.
std::string render_page(std::string_view initial_json);

}  // namespace emp::telemetry::viewer

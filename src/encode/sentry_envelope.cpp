// Sentry envelope encoding; see sentry_envelope.hpp.
#include "encode/sentry_envelope.hpp"

namespace emp::telemetry::encode::sentry {

std::string envelope_header(const nlohmann::json& header) {
  // Invalid UTF-8 in outside text (exception messages) is replaced, not thrown on.
  std::string out = header.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  out += '\n';
  return out;
}

void append_item(std::string& envelope, std::string_view type, std::string_view payload) {
  nlohmann::json h;
  h["type"] = type;
  h["length"] = payload.size();
  envelope += h.dump();
  envelope += '\n';
  envelope.append(payload);
  envelope += '\n';
}

std::string event_envelope(const nlohmann::json& event) {
  nlohmann::json header = nlohmann::json::object();
  if (event.contains("event_id")) header["event_id"] = event["event_id"];
  std::string out = envelope_header(header);
  append_item(out, "event", event.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  return out;
}

}  // namespace emp::telemetry::encode::sentry

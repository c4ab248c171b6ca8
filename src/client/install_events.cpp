// The events track: typed events queued as flagged log records (so the log
// handler writes events.jsonl and its OTLP and Fluentd outputs ship them),
// plus the in-process bus for subscribers.
#include "client/client_impl.hpp"
#include "events/bus.hpp"

namespace emp::telemetry::client {

std::string install_events(InstallContext& ctx) {
  Client::Impl& impl = ctx.impl;
  impl.event_bus = std::make_shared<events::Bus>(&ctx.pipeline.diagnostics());
  std::weak_ptr<events::Bus> weak = impl.event_bus;
  ctx.add_destination([weak] {
    if (auto bus = weak.lock()) return bus->health();
    DestinationHealth h;
    h.name = "events-bus (in-process subscribers)";
    h.track = Track::kEvents;
    h.primary = false;
    return h;
  });
  return {};
}

}  // namespace emp::telemetry::client

// The Fluentd forward destination of the log track (FLUENTD_HOST set): every
// log record also goes to Fluentd; its health shows beside the OTLP ones.
// Files added with Client::add_file are shipped there too (tail/).
#include "client/client_impl.hpp"
#include "forward/forward_log_output.hpp"

namespace emp::telemetry::client {

std::string install_forward(InstallContext& ctx) {
  const Config& c = ctx.config;
  ctx.impl.tail = std::make_unique<tail::TailService>(c, ctx.pipeline.accounting());
  if (c.fluentd_host.empty() || !ctx.log_handler) return {};
  auto worker = forward::make_forward_worker(c, ctx.pipeline.accounting());
  deliver::DeliveryWorker* raw = worker.get();
  ctx.add_destination([raw] { return raw->health(); });
  ctx.log_handler->add_output(std::make_unique<forward::ForwardLogOutput>(c, std::move(worker)));
  return {};
}

}  // namespace emp::telemetry::client

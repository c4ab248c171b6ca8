// A Destination that appends each OTLP/JSON export request as one line to a
// local file: the OpenTelemetry Collector file exporter's format, used in
// development when no collector is configured so every track still lands
// somewhere a person (or `otelcol`'s file receiver) can read.
#pragma once

#include <atomic>
#include <mutex>

#include "deliver/delivery.hpp"
#include "sinks/file_sink.hpp"

namespace emp::telemetry::sinks {

class OtlpFileDestination final : public deliver::Destination {
 public:
  explicit OtlpFileDestination(FileSink::Options options) : file_(std::move(options)) {}

  deliver::DeliveryResult deliver(const deliver::Payload& payload,
                                  deliver::Deadline deadline) noexcept override;
  deliver::DestinationStats stats() const noexcept override;
  std::string description() const override { return "otlp-file " + file_.path(); }
  const std::string& path() const noexcept { return file_.path(); }

 private:
  FileSink file_;
  mutable std::mutex mu_;
  deliver::DestinationStats stats_;
};

}  // namespace emp::telemetry::sinks

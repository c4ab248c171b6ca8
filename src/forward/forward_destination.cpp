#include "forward/forward_destination.hpp"

#include "forward/forward_protocol.hpp"

namespace emp::telemetry::forward {

using deliver::DeliveryResult;
using deliver::Outcome;

namespace {
constexpr std::size_t kMaxAnswerBytes = 64 * 1024;
}  // namespace

ForwardSettings forward_settings(const Config& c) {
  ForwardSettings fs;
  fs.host = c.fluentd_host;
  fs.port = c.fluentd_port;
  fs.tls = c.fluentd_secure;
  fs.ca_file = c.fluentd_ca_file;
  fs.tls_verify = c.fluentd_tls_verify;
  fs.shared_key = c.fluentd_shared_key;
  fs.username = c.fluentd_username;
  fs.password = c.fluentd_password;
  fs.client_hostname = c.machine_id;
  return fs;
}

ForwardDestination::ForwardDestination(ForwardSettings settings) : settings_(std::move(settings)) {
  if (settings_.tls) {
    auto ctx = TlsContext::client(settings_.ca_file, settings_.tls_verify);
    if (ctx) {
      tls_ = std::move(*ctx);
    } else {
      tls_error_ = ctx.errors().front().message;
    }
  }
}

ForwardDestination::~ForwardDestination() = default;

std::string ForwardDestination::description() const {
  return std::string("fluentd-forward ") + (settings_.tls ? "tls://" : "tcp://") + settings_.host +
         ":" + std::to_string(settings_.port);
}

deliver::DestinationStats ForwardDestination::stats() const noexcept {
  deliver::DestinationStats s;
  s.attempts = attempts_.load();
  s.delivered = delivered_.load();
  s.retryable = retryable_.load();
  s.permanent = permanent_.load();
  s.bytes_sent = bytes_sent_.load();
  s.connections_opened = connections_.load();
  return s;
}

void ForwardDestination::fail(DeliveryResult& r, Outcome o, std::string message) {
  r.outcome = o;
  r.drop_reason = DropReason::kRejected;
  r.message = description() + ": " + std::move(message);
  stream_.close();
  inbox_.clear();
}

DeliveryResult ForwardDestination::deliver(const deliver::Payload& payload,
                                           deliver::Deadline deadline) noexcept {
  const auto start = deliver::SteadyClock::now();
  DeliveryResult r;
  if (payload.bytes.empty()) {
    r.outcome = Outcome::kDelivered;
    return r;
  }
  try {
    r = attempt(payload, deadline);
  } catch (...) {
    r = DeliveryResult{};
    fail(r, Outcome::kRetryable, "out of memory");
  }
  r.elapsed =
      std::chrono::duration_cast<std::chrono::milliseconds>(deliver::SteadyClock::now() - start);
  switch (r.outcome) {
    case Outcome::kDelivered:
      delivered_.fetch_add(1);
      break;
    case Outcome::kRetryable:
      retryable_.fetch_add(1);
      break;
    default:
      permanent_.fetch_add(1);
      break;
  }
  return r;
}

template <typename Parse>
bool ForwardDestination::read_value(deliver::Deadline deadline, DeliveryResult& r,
                                    std::string_view what, Parse parse) {
  for (;;) {
    std::size_t used = 0;
    const Status s = parse(std::string_view(inbox_), used);
    if (s == Status::kOk) {
      inbox_.erase(0, used);
      return true;
    }
    if (s == Status::kMalformed) {
      fail(r, Outcome::kRetryable, "malformed " + std::string(what) + " from the server");
      return false;
    }
    const IoResult io = stream_.read_some(inbox_, kMaxAnswerBytes, deadline, &waker_);
    if (io.ok()) continue;
    if (io.status == IoStatus::kCancelled || io.status == IoStatus::kTimeout) {
      r.cancelled = io.status == IoStatus::kCancelled || deadline.cancelled();
      fail(r, Outcome::kRetryable, "no " + std::string(what) + " (" + io.error + ")");
      return false;
    }
    fail(r, Outcome::kRetryable,
         "connection lost waiting for the " + std::string(what) + " (" + io.error + ")");
    return false;
  }
}

bool ForwardDestination::open(deliver::Deadline deadline, DeliveryResult& r) {
  if (settings_.tls && !tls_) {
    fail(r, Outcome::kPermanent, "TLS is not usable: " + tls_error_);
    return false;
  }
  waker_.drain();
  inbox_.clear();
  if (trace_) trace_->connected = true;
  const IoResult io = stream_.connect(settings_.host, settings_.port, tls_.get(), deadline, &waker_,
                                      trace_ ? &trace_->connect : nullptr);
  if (!io.ok()) {
    r.cancelled = io.status == IoStatus::kCancelled || deadline.cancelled();
    // An untrusted certificate will not become trusted by retrying.
    const bool untrusted = io.error.find("not trusted") != std::string::npos;
    fail(r, untrusted ? Outcome::kPermanent : Outcome::kRetryable, io.error);
    return false;
  }
  connections_.fetch_add(1);
  return settings_.shared_key.empty() || handshake(deadline, r);
}

bool ForwardDestination::handshake(deliver::Deadline deadline, DeliveryResult& r) {
  Helo helo;
  if (!read_value(deadline, r, "HELO", [&](std::string_view b, std::size_t& used) {
        return read_helo(b, used, helo);
      })) {
    return false;
  }
  if (!helo.auth.empty() && settings_.username.empty()) {
    fail(r, Outcome::kPermanent,
         "the server asks for user authentication: set FLUENTD_USERNAME and FLUENTD_PASSWORD");
    return false;
  }
  std::string salt;
  const std::string ping = build_ping(helo, settings_.client_hostname, settings_.shared_key,
                                      settings_.username, settings_.password, salt);
  IoResult io = stream_.write_all(ping, deadline, &waker_);
  if (!io.ok()) {
    r.cancelled = io.status == IoStatus::kCancelled;
    fail(r, Outcome::kRetryable, "sending PING: " + io.error);
    return false;
  }
  Pong pong;
  std::size_t pong_used = 0;
  for (;;) {
    const Status s = read_pong(inbox_, pong_used, pong);
    if (s == Status::kOk) break;
    if (s == Status::kMalformed) {
      fail(r, Outcome::kRetryable, "malformed PONG from the server");
      return false;
    }
    io = stream_.read_some(inbox_, kMaxAnswerBytes, deadline, &waker_);
    if (io.ok()) continue;
    if (io.status == IoStatus::kClosed || io.status == IoStatus::kError) {
      // What Fluentd and Fluent Bit do with a wrong key (or user): close.
      fail(r, Outcome::kPermanent,
           "shared key rejected (the server closed the connection during the handshake)");
      return false;
    }
    r.cancelled = io.status == IoStatus::kCancelled || deadline.cancelled();
    fail(r, Outcome::kRetryable, "no PONG (" + io.error + ")");
    return false;
  }
  inbox_.erase(0, pong_used);
  if (trace_) trace_->handshake_done = deliver::SteadyClock::now();
  if (!pong.ok) {
    fail(r, Outcome::kPermanent, "shared key rejected: " + pong.reason.substr(0, 256));
    return false;
  }
  const std::string expected = sha512_hex({salt, pong.hostname, helo.nonce, settings_.shared_key});
  if (pong.digest != expected) {
    fail(r, Outcome::kPermanent, "the server did not prove the shared key (PONG digest mismatch)");
    return false;
  }
  return true;
}

DeliveryResult ForwardDestination::attempt(const deliver::Payload& payload,
                                           deliver::Deadline deadline) {
  DeliveryResult r;
  const std::string chunk = frame_chunk(payload.bytes);
  if (chunk.empty()) {
    fail(r, Outcome::kPermanent, "frame without a chunk id (cannot be acknowledged)");
    return r;
  }
  if (stream_.is_open() && stream_.peer_closed_or_talking()) {
    stream_.close();  // idle close by the server, or junk: start over
  }
  if (!stream_.is_open() && !open(deadline, r)) return r;
  attempts_.fetch_add(1);
  IoResult io = stream_.write_all(payload.bytes, deadline, &waker_);
  r.sent = true;
  if (!io.ok()) {
    r.cancelled = io.status == IoStatus::kCancelled || deadline.cancelled();
    fail(r, Outcome::kRetryable, "send: " + io.error);
    return r;
  }
  bytes_sent_.fetch_add(payload.bytes.size());
  if (trace_) trace_->sent = deliver::SteadyClock::now();
  for (;;) {
    std::string acked;
    if (!read_value(deadline, r, "ack", [&](std::string_view b, std::size_t& used) {
          return read_ack(b, used, acked);
        })) {
      return r;
    }
    if (acked == chunk) break;
    // A late ack of an earlier attempt on this connection: keep waiting.
  }
  if (trace_) trace_->acked = deliver::SteadyClock::now();
  r.outcome = Outcome::kDelivered;
  return r;
}

}  // namespace emp::telemetry::forward

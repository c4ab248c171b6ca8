// libcurl-backed HttpTransport. See http_transport.hpp for the contract.
//
// The easy handle is driven through a private multi handle instead of
// curl_easy_perform so that the wait loop can check the caller's deadline
// and cancel flag every few milliseconds and be woken by interrupt(); with
// curl_easy_perform an idle transfer is only looked at about once a second.
#include "deliver/http_transport.hpp"

#include <curl/curl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <limits>
#include <mutex>

#include "core/strings.hpp"
#include "encode/gzip.hpp"

namespace emp::telemetry::deliver {
namespace {

constexpr std::chrono::milliseconds kPollTick{50};

void global_init_once() noexcept {
  static std::once_flag once;
  // curl_global_init is not thread-safe; call_once makes the first use safe
  // from any thread. It is never cleaned up: other code in the process may
  // still use libcurl at exit.
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

std::chrono::microseconds info_us(CURL* easy, CURLINFO what) {
  curl_off_t v = 0;
  if (curl_easy_getinfo(easy, what, &v) != CURLE_OK || v < 0) v = 0;
  return std::chrono::microseconds(v);
}

// libcurl's timers are cumulative from the start of the transfer.
HttpPhases phases_of(CURL* easy) {
  const auto resolved = info_us(easy, CURLINFO_NAMELOOKUP_TIME_T);
  const auto connected = info_us(easy, CURLINFO_CONNECT_TIME_T);
  const auto secured = info_us(easy, CURLINFO_APPCONNECT_TIME_T);
  const auto total = info_us(easy, CURLINFO_TOTAL_TIME_T);
  HttpPhases p;
  p.resolve = resolved;
  if (connected > resolved) p.connect = connected - resolved;
  if (secured > connected) p.tls = secured - connected;
  const auto ready = std::max(connected, secured);
  if (total > ready) p.response = total - ready;
  return p;
}

// The leaf certificate's Subject and Expire date, as libcurl's OpenSSL
// backend lists them ("Subject:CN = ...", "Expire date:Mar  1 12:00:00 2027 GMT").
void certificate_of(CURL* easy, HttpResponse& r) {
  curl_certinfo* info = nullptr;
  if (curl_easy_getinfo(easy, CURLINFO_CERTINFO, &info) != CURLE_OK || info == nullptr ||
      info->num_of_certs < 1) {
    return;
  }
  for (curl_slist* l = info->certinfo[0]; l != nullptr; l = l->next) {
    const std::string_view line(l->data);
    if (line.rfind("Subject:", 0) == 0) r.tls_subject = std::string(line.substr(8));
    if (line.rfind("Expire date:", 0) == 0) r.tls_expiry = std::string(line.substr(12));
  }
}

std::string size_text(std::size_t bytes) {
  if (bytes % (1u << 20) == 0) return std::to_string(bytes >> 20) + " MiB";
  return std::to_string(bytes) + " bytes";
}

// State shared with libcurl's callbacks during one post().
struct Transfer {
  std::string* body = nullptr;
  std::size_t cap = 0;
  bool truncated = false;
  std::string retry_after_raw;
  std::chrono::seconds retry_after_cap{0};
  const std::vector<std::string>* keep_headers = nullptr;
  std::vector<std::pair<std::string, std::string>>* kept = nullptr;
};

size_t on_write(char* data, size_t size, size_t nmemb, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const std::size_t n = size * nmemb;
  const std::size_t room = t->cap - std::min(t->cap, t->body->size());
  if (n > room) {
    t->body->append(data, room);
    t->truncated = true;
    return 0;  // makes libcurl stop reading with CURLE_WRITE_ERROR
  }
  t->body->append(data, n);
  return n;
}

size_t on_header(char* data, size_t size, size_t nmemb, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const std::size_t n = size * nmemb;
  std::string_view line(data, n);
  if (core::istarts_with(line, "HTTP/")) {
    // A new response starts (e.g. after "100 Continue"): forget earlier headers.
    t->retry_after_raw.clear();
    t->kept->clear();
  } else if (core::istarts_with(line, "retry-after:")) {
    t->retry_after_raw =
        std::string(core::trim_whitespace(line.substr(std::strlen("retry-after:"))));
  }
  for (const std::string& name : *t->keep_headers) {
    if (line.size() > name.size() && line[name.size()] == ':' && core::istarts_with(line, name)) {
      t->kept->emplace_back(name, std::string(core::trim_whitespace(line.substr(name.size() + 1))));
    }
  }
  return n;
}

TransportError classify(CURLcode code) {
  switch (code) {
    case CURLE_OK:
      return TransportError::kNone;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CACERT_BADFILE:
      return TransportError::kConnect;
    case CURLE_OPERATION_TIMEDOUT:
      return TransportError::kTimeout;
    case CURLE_ABORTED_BY_CALLBACK:
      return TransportError::kCancelled;
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
      return TransportError::kRefused;
    default:
      return TransportError::kNetwork;
  }
}

bool has_line_break(std::string_view s) {
  return s.find_first_of("\r\n") != std::string_view::npos ||
         s.find('\0') != std::string_view::npos;
}

bool valid_header_name(std::string_view s) { return core::is_token(s); }

// The user-info of a URL ("user:pass"), or "" when none.
std::string_view url_userinfo(std::string_view url) {
  const auto scheme = url.find("://");
  if (scheme == std::string_view::npos) return {};
  auto rest = url.substr(scheme + 3);
  const auto end = rest.find_first_of("/?#");  // npos keeps the whole rest
  const auto authority = rest.substr(0, end);
  const auto at = authority.rfind('@');
  if (at == std::string_view::npos) return {};
  return authority.substr(0, at);
}

}  // namespace

std::string_view to_string(TransportError e) noexcept {
  switch (e) {
    case TransportError::kNone:
      return "none";
    case TransportError::kRefused:
      return "refused";
    case TransportError::kConnect:
      return "connect";
    case TransportError::kTimeout:
      return "timeout";
    case TransportError::kCancelled:
      return "cancelled";
    case TransportError::kNetwork:
      return "network";
  }
  return "unknown";
}

std::optional<std::chrono::milliseconds> parse_retry_after(std::string_view value, std::time_t now,
                                                           std::chrono::seconds cap) noexcept {
  value = core::trim_whitespace(value);
  if (value.empty()) return std::nullopt;
  const auto capped = [&](long long seconds) -> std::chrono::milliseconds {
    if (seconds < 0) seconds = 0;
    if (seconds > cap.count()) seconds = cap.count();
    return std::chrono::seconds(seconds);
  };
  if (std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    long long seconds = 0;
    for (char c : value) {
      seconds = seconds * 10 + (c - '0');
      if (seconds > cap.count()) return capped(seconds);  // saturate before overflow
    }
    return capped(seconds);
  }
  // An HTTP-date has letters (day/month names); refuse signed numbers and the
  // like, which curl_getdate would otherwise read in surprising ways.
  if (std::none_of(value.begin(), value.end(),
                   [](char c) { return std::isalpha(static_cast<unsigned char>(c)); })) {
    return std::nullopt;
  }
  if (value.size() > 64) return std::nullopt;
  try {
    const std::string text(value);
    const std::time_t when = curl_getdate(text.c_str(), &now);
    if (when == static_cast<std::time_t>(-1) || when <= 0) return std::nullopt;
    return capped(static_cast<long long>(when) - static_cast<long long>(now));
  } catch (...) {
    return std::nullopt;
  }
}

std::vector<std::string_view> header_secrets(const HttpHeaders& headers) {
  std::vector<std::string_view> out;
  for (const auto& [name, value] : headers) {
    const std::string_view v = value;
    out.push_back(v);
    // "Bearer <key>", "Basic <b64>": the credential alone may be echoed too.
    const auto space = v.find_last_of(' ');
    if (space != std::string_view::npos && v.size() - space - 1 >= 3) {
      out.push_back(v.substr(space + 1));
    }
  }
  return out;
}

std::string redact(std::string text, const std::vector<std::string_view>& secrets) {
  for (auto secret : secrets) {
    if (secret.size() < 3) continue;
    std::size_t pos = 0;
    while ((pos = text.find(secret, pos)) != std::string::npos) {
      text.replace(pos, secret.size(), "***");
      pos += 3;
    }
  }
  return text;
}

std::string display_url(std::string_view url) {
  url = url.substr(0, url.find_first_of("?#"));
  const auto scheme = url.find("://");
  if (scheme == std::string_view::npos) return std::string(url);
  const auto rest = url.substr(scheme + 3);
  const auto authority = rest.substr(0, rest.find('/'));
  const auto at = authority.rfind('@');
  if (at == std::string_view::npos) return std::string(url);
  std::string out(url.substr(0, scheme + 3));
  out.append(rest.substr(at + 1));
  return out;
}

struct HttpTransport::Curl {
  CURL* easy = nullptr;
  CURLM* multi = nullptr;
  char errbuf[CURL_ERROR_SIZE] = {};
  // Sockets libcurl opened through open_socket() and has not closed yet:
  // after fork() the child closes its copies of these (see after_fork_child).
  std::vector<curl_socket_t> sockets;

  static curl_socket_t open_socket(void* user, curlsocktype, curl_sockaddr* addr) {
    auto* self = static_cast<Curl*>(user);
    // CLOEXEC: an exec'd child must not inherit the collector connection.
    const curl_socket_t fd = ::socket(addr->family, addr->socktype | SOCK_CLOEXEC, addr->protocol);
    if (fd == CURL_SOCKET_BAD) return fd;
    try {
      self->sockets.push_back(fd);
    } catch (...) {
      ::close(fd);
      return CURL_SOCKET_BAD;
    }
    return fd;
  }
  static int close_socket(void* user, curl_socket_t fd) {
    auto* self = static_cast<Curl*>(user);
    std::erase(self->sockets, fd);
    return ::close(fd);
  }

  ~Curl() {
    if (multi != nullptr) curl_multi_cleanup(multi);
    if (easy != nullptr) curl_easy_cleanup(easy);
  }
};

HttpTransport::HttpTransport(HttpTransportOptions options) : options_(std::move(options)) {
  global_init_once();
  curl_ = std::make_unique<Curl>();
  curl_->easy = curl_easy_init();
  curl_->multi = curl_multi_init();
}

HttpTransport::~HttpTransport() = default;

void HttpTransport::after_fork_child() noexcept {
  if (curl_) {
    // Close the child's copies of the kept-alive sockets: closing a
    // duplicated descriptor sends nothing while the parent holds its own.
    for (const curl_socket_t fd : curl_->sockets) ::close(fd);
    curl_->sockets.clear();
  }
  // Leaked on purpose: cleaning the handles up would shut their connections
  // down (TLS close_notify) on the parent's behalf.
  static_cast<void>(curl_.release());
  try {
    auto fresh = std::make_unique<Curl>();
    fresh->easy = curl_easy_init();
    fresh->multi = curl_multi_init();
    curl_ = std::move(fresh);
  } catch (...) {
    // post() reports "libcurl could not be initialised".
  }
}

void HttpTransport::interrupt() noexcept {
  if (curl_ && curl_->multi != nullptr) curl_multi_wakeup(curl_->multi);
}

HttpTransportStats HttpTransport::stats() const noexcept {
  HttpTransportStats s;
  s.requests = requests_.load(std::memory_order_relaxed);
  s.connections_opened = connections_opened_.load(std::memory_order_relaxed);
  s.bytes_sent = bytes_sent_.load(std::memory_order_relaxed);
  s.failures = failures_.load(std::memory_order_relaxed);
  return s;
}

HttpResponse HttpTransport::post(const HttpRequest& request) noexcept {
  HttpResponse response;
  const auto started = SteadyClock::now();
  const auto finish = [&](HttpResponse& r) -> HttpResponse {
    r.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() - started);
    return std::move(r);
  };
  try {
    const std::string where = (request.get ? "GET " : "POST ") + display_url(request.url);
    const auto refuse = [&](TransportError kind, std::string message) {
      response.error = kind;
      response.error_message = where + ": " + message;
      failures_.fetch_add(1, std::memory_order_relaxed);
      return finish(response);
    };

    if (!curl_ || curl_->easy == nullptr || curl_->multi == nullptr) {
      return refuse(TransportError::kRefused, "libcurl could not be initialised");
    }
    if (request.body.size() > options_.max_request_bytes) {
      return refuse(TransportError::kRefused,
                    "request body of " + std::to_string(request.body.size()) +
                        " bytes exceeds the limit of " + size_text(options_.max_request_bytes) +
                        "; split the batch");
    }
    if (request.deadline.expired()) {
      return refuse(TransportError::kCancelled,
                    request.deadline.cancelled() ? "cancelled before the request was sent"
                                                 : "deadline passed before the request was sent");
    }
    for (const auto& [name, value] : request.headers) {
      if (!valid_header_name(name)) {
        return refuse(TransportError::kRefused,
                      "invalid header name '" + core::printable_excerpt(name, 64) + "'");
      }
      if (has_line_break(value)) {
        // The value is never echoed: it may be a credential.
        return refuse(TransportError::kRefused, "header '" + core::printable_excerpt(name, 64) +
                                                    "' has a value with a line break or NUL");
      }
    }
    if (has_line_break(request.content_type)) {
      return refuse(TransportError::kRefused, "content type has a line break");
    }

    std::string compressed;
    std::string_view wire = request.body;
    if (request.gzip) {
      if (!encode::gzip_compress(request.body, compressed, request.gzip_level)) {
        return refuse(TransportError::kRefused,
                      "gzip compression failed (level " + std::to_string(request.gzip_level) + ")");
      }
      wire = compressed;
    }

    // Header list. libcurl copies the strings, the list itself must live
    // until the transfer ends.
    struct SlistDeleter {
      void operator()(curl_slist* l) const { curl_slist_free_all(l); }
    };
    std::unique_ptr<curl_slist, SlistDeleter> headers;
    const auto add = [&](const std::string& line) -> bool {
      curl_slist* next = curl_slist_append(headers.get(), line.c_str());
      if (next == nullptr) return false;
      headers.release();
      headers.reset(next);
      return true;
    };
    bool ok = add("Content-Type: " + request.content_type) && add("Expect:");
    if (request.gzip) ok = ok && add("Content-Encoding: gzip");
    for (const auto& [name, value] : request.headers) {
      // "Name;" is libcurl's way of sending a header with an empty value.
      ok = ok && add(value.empty() ? name + ";" : name + ": " + value);
    }
    if (!ok) return refuse(TransportError::kRefused, "out of memory building headers");

    Transfer transfer;
    transfer.body = &response.body;
    transfer.cap = options_.max_response_bytes;
    transfer.retry_after_cap = request.retry_after_cap;
    transfer.keep_headers = &request.keep_headers;
    transfer.kept = &response.headers;

    CURL* easy = curl_->easy;
    // reset() keeps live connections (the connection cache lives in the multi
    // handle), so keep-alive survives; it drops the previous request's options.
    curl_easy_reset(easy);
    curl_->errbuf[0] = '\0';
    curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, curl_->errbuf);
    curl_easy_setopt(easy, CURLOPT_URL, request.url.c_str());
    curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(easy, CURLOPT_HTTP_VERSION, static_cast<long>(CURL_HTTP_VERSION_1_1));
    if (request.get) {
      curl_easy_setopt(easy, CURLOPT_HTTPGET, 1L);
    } else {
      curl_easy_setopt(easy, CURLOPT_POST, 1L);
      curl_easy_setopt(easy, CURLOPT_POSTFIELDS, wire.data());
      curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(wire.size()));
    }
    if (request.want_certificate) curl_easy_setopt(easy, CURLOPT_CERTINFO, 1L);
    curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers.get());
    curl_easy_setopt(easy, CURLOPT_USERAGENT, options_.user_agent.c_str());
    curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(easy, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(easy, CURLOPT_TCP_KEEPIDLE, static_cast<long>(options_.tcp_keepidle.count()));
    curl_easy_setopt(easy, CURLOPT_TCP_KEEPINTVL,
                     static_cast<long>(options_.tcp_keepintvl.count()));
    curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, static_cast<long>(request.timeout.count()));
    curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS,
                     static_cast<long>(request.connect_timeout.count()));
    curl_easy_setopt(easy, CURLOPT_OPENSOCKETFUNCTION, &Curl::open_socket);
    curl_easy_setopt(easy, CURLOPT_OPENSOCKETDATA, curl_.get());
    curl_easy_setopt(easy, CURLOPT_CLOSESOCKETFUNCTION, &Curl::close_socket);
    curl_easy_setopt(easy, CURLOPT_CLOSESOCKETDATA, curl_.get());
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, &on_write);
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, &transfer);
    curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, &on_header);
    curl_easy_setopt(easy, CURLOPT_HEADERDATA, &transfer);
    if (!options_.ca_file.empty()) curl_easy_setopt(easy, CURLOPT_CAINFO, options_.ca_file.c_str());
    if (!options_.client_cert_file.empty()) {
      curl_easy_setopt(easy, CURLOPT_SSLCERT, options_.client_cert_file.c_str());
    }
    if (!options_.client_key_file.empty()) {
      curl_easy_setopt(easy, CURLOPT_SSLKEY, options_.client_key_file.c_str());
    }

    requests_.fetch_add(1, std::memory_order_relaxed);
    response.attempted = true;
    CURLcode result = CURLE_OK;
    bool cancelled = false;
    if (curl_multi_add_handle(curl_->multi, easy) != CURLM_OK) {
      return refuse(TransportError::kRefused, "libcurl refused the transfer");
    }
    bool done = false;
    while (!done) {
      int running = 0;
      if (curl_multi_perform(curl_->multi, &running) != CURLM_OK) {
        result = CURLE_SEND_ERROR;
        break;
      }
      int queued = 0;
      while (CURLMsg* msg = curl_multi_info_read(curl_->multi, &queued)) {
        if (msg->msg == CURLMSG_DONE && msg->easy_handle == easy) {
          result = msg->data.result;
          done = true;
        }
      }
      if (done || running == 0) break;
      if (request.deadline.expired()) {
        cancelled = true;
        break;
      }
      auto wait = kPollTick;
      if (!request.deadline.unlimited()) wait = std::min(wait, request.deadline.remaining());
      curl_multi_poll(
          curl_->multi, nullptr, 0,
          static_cast<int>(std::max<long long>(1, static_cast<long long>(wait.count()))), nullptr);
    }
    // Removing an unfinished transfer makes libcurl close its connection, so
    // a hung peer never leaves a half-used connection in the cache.
    curl_multi_remove_handle(curl_->multi, easy);

    long status = 0;
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
    long connects = 0;
    curl_easy_getinfo(easy, CURLINFO_NUM_CONNECTS, &connects);
    curl_off_t uploaded = 0;
    curl_easy_getinfo(easy, CURLINFO_SIZE_UPLOAD_T, &uploaded);
    char* ctype = nullptr;
    curl_easy_getinfo(easy, CURLINFO_CONTENT_TYPE, &ctype);
    if (connects > 0) connections_opened_.fetch_add(connects, std::memory_order_relaxed);
    if (uploaded > 0) {
      response.bytes_sent = static_cast<std::size_t>(uploaded);
      bytes_sent_.fetch_add(static_cast<std::uint64_t>(uploaded), std::memory_order_relaxed);
    }
    if (ctype != nullptr) response.content_type = ctype;
    response.phases = phases_of(easy);
    if (request.want_certificate) certificate_of(easy, response);
    response.truncated = transfer.truncated;
    response.curl_code = static_cast<int>(result);

    std::vector<std::string_view> secrets = header_secrets(request.headers);
    const auto info = url_userinfo(request.url);
    if (!info.empty()) secrets.push_back(info);
    const auto colon = info.find(':');
    if (colon != std::string_view::npos) secrets.push_back(info.substr(colon + 1));

    if (cancelled) {
      response.error = TransportError::kCancelled;
      response.error_message =
          where + ": " + (request.deadline.cancelled() ? "cancelled" : "deadline passed") +
          " after " +
          std::to_string(
              std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() - started)
                  .count()) +
          " ms";
      status = 0;  // an answer we stopped reading is not an answer
    } else if (result != CURLE_OK && !(result == CURLE_WRITE_ERROR && transfer.truncated)) {
      // An answer that did not end well is no answer, whatever its status
      // line said: a 200 followed by endless headers, a reset mid-body.
      status = 0;
      response.error = classify(result);
      // A peer that got our request and answered something that is not
      // HTTP ("Received HTTP/0.9 when not allowed") misbehaves; the request
      // itself was fine, so this is a network failure, not a refusal.
      long request_size = 0;
      curl_easy_getinfo(easy, CURLINFO_REQUEST_SIZE, &request_size);
      if (response.error == TransportError::kRefused && request_size > 0)
        response.error = TransportError::kNetwork;
      std::string detail = curl_easy_strerror(result);
      if (curl_->errbuf[0] != '\0') detail += " (" + std::string(curl_->errbuf) + ")";
      response.error_message = redact(where + ": " + detail, secrets);
    } else if (transfer.truncated) {
      response.error_message = where + ": response body exceeded " +
                               size_text(options_.max_response_bytes) + "; truncated";
    }
    if (status == 0 && response.error == TransportError::kNone) {
      response.error = TransportError::kNetwork;
      if (response.error_message.empty()) response.error_message = where + ": no response";
    }
    response.status = status;
    if (status > 0) {
      response.connection_reused = connects == 0;
      if (!transfer.retry_after_raw.empty()) {
        response.retry_after = parse_retry_after(transfer.retry_after_raw, std::time(nullptr),
                                                 request.retry_after_cap);
      }
    } else {
      failures_.fetch_add(1, std::memory_order_relaxed);
    }
    return finish(response);
  } catch (...) {
    // Only allocation can throw above; report it instead of escaping.
    response.status = 0;
    response.error = TransportError::kNetwork;
    response.error_message = "POST failed: out of memory";
    failures_.fetch_add(1, std::memory_order_relaxed);
    return finish(response);
  }
}

}  // namespace emp::telemetry::deliver

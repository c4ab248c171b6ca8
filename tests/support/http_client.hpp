// A blocking HTTP/1.1 client for tests (libcurl, real sockets): GET or POST
// one URL and get the status, the body, the Content-Type and every response
// header. For tests that talk to a server the library runs (the Prometheus
// endpoint, the viewer); the library's own senders use src/deliver instead.
//
// Header-only; each call uses its own curl handle, so calls may run on any
// thread.
#pragma once

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace emp::telemetry::testing {

struct HttpResult {
  long status = 0;  // 0: no response (connection failed, timeout)
  std::string body;
  std::string content_type;
  std::map<std::string, std::string> headers;  // names lowercased
};

namespace detail {
inline std::size_t http_body_cb(char* p, std::size_t s, std::size_t n, void* u) {
  static_cast<std::string*>(u)->append(p, s * n);
  return s * n;
}
inline std::size_t http_header_cb(char* p, std::size_t s, std::size_t n, void* u) {
  std::string line(p, s * n);
  const auto colon = line.find(':');
  if (colon != std::string::npos) {
    std::string name = line.substr(0, colon);
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    std::string value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ')) value.erase(0, 1);
    while (!value.empty() && (value.back() == '\r' || value.back() == '\n' || value.back() == ' '))
      value.pop_back();
    (*static_cast<std::map<std::string, std::string>*>(u))[name] = value;
  }
  return s * n;
}
}  // namespace detail

// POST when `post` is set (with `body` and `content_type`), else GET.
// `headers` are extra request headers ("Name: value").
inline HttpResult http_request(const std::string& url, bool post, const std::string& body = {},
                               const std::string& content_type = {},
                               const std::vector<std::string>& headers = {}) {
  HttpResult r;
  CURL* h = curl_easy_init();
  if (h == nullptr) return r;
  curl_slist* list = nullptr;
  if (!content_type.empty())
    list = curl_slist_append(list, ("Content-Type: " + content_type).c_str());
  for (const auto& hd : headers) list = curl_slist_append(list, hd.c_str());
  list = curl_slist_append(list, "Expect:");
  curl_easy_setopt(h, CURLOPT_URL, url.c_str());
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, detail::http_body_cb);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &r.body);
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, detail::http_header_cb);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, &r.headers);
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, list);
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 20000L);
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  if (post) {
    curl_easy_setopt(h, CURLOPT_POST, 1L);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body.data());
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  }
  if (curl_easy_perform(h) == CURLE_OK) {
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r.status);
    char* ct = nullptr;
    curl_easy_getinfo(h, CURLINFO_CONTENT_TYPE, &ct);
    r.content_type = ct ? ct : "";
  }
  curl_slist_free_all(list);
  curl_easy_cleanup(h);
  return r;
}

inline HttpResult http_get(const std::string& url) { return http_request(url, false); }

// The form older tests use: status, body and Content-Type.
inline long http_get(const std::string& url, std::string& body, std::string& content_type) {
  HttpResult r = http_get(url);
  body = std::move(r.body);
  content_type = std::move(r.content_type);
  return r.status;
}
inline long http_get(const std::string& url, std::string& body) {
  std::string content_type;
  return http_get(url, body, content_type);
}

}  // namespace emp::telemetry::testing

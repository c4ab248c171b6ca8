// Redaction of secret configuration values, shared by config dumps, error
// messages and any part that needs to show a value it read from a variable.
// The rule is simple: when in doubt, mask. Secrets are recognised by the
// registry's `secret` flag and, for names the registry does not know, by
// their name (KEY, TOKEN, SECRET, PASSWORD, AUTH, CREDENTIAL, DSN, HEADERS).
// All functions are pure and thread-safe.
#pragma once

#include <string>
#include <string_view>

namespace emp::telemetry::config {

// The mask shown in place of a secret.
inline constexpr std::string_view kMask = "***";

// `value` as it may be shown for variable `var_name`:
//  - SENTRY_DSN (and any *DSN): the DSN with its keys masked, https://***@host/42
//  - *_HEADERS: keys kept, values masked, "Authorization=***,X-Team=***"
//  - other secrets: "***"
//  - anything with an '@' (URL or host with credentials): userinfo masked
//  - anything else: unchanged.
// An empty value stays empty.
std::string redact(std::string_view var_name, std::string_view value);

// True when `var_name` holds a secret (registry flag or name heuristics).
bool is_secret_variable(std::string_view var_name) noexcept;

// DSN with everything before the last '@' of its authority masked. Works on
// malformed input: without "://" and an '@' in the authority, all is masked.
std::string redact_dsn(std::string_view dsn);
// `k=v,...` list with every value masked; keys that are not plain header
// names (they may be a misplaced secret) are masked too.
std::string redact_key_values(std::string_view list);
// Any userinfo masked: everything between "scheme://" (or the start, for
// "user:pw@host") and the LAST '@' becomes ***, whatever it contains
// ('/', '?', '#' included). Text without '@' is returned unchanged. This is
// the one function every message and dump uses for userinfo.
std::string redact_url_userinfo(std::string_view text);

}  // namespace emp::telemetry::config

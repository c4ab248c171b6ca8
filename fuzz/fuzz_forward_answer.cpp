// libFuzzer target: what a forward server sends the client (acks, HELO,
// PONG) through the bounded msgpack reader; also JSON rendering and framing.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "encode/msgpack_reader.hpp"
#include "forward/forward_protocol.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace emp::telemetry;
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  std::size_t used = 0;
  std::string chunk;
  if (forward::read_ack(in, used, chunk) == forward::Status::kOk && used > size) __builtin_trap();
  forward::Helo helo;
  if (forward::read_helo(in, used, helo) == forward::Status::kOk && used > size) __builtin_trap();
  forward::Pong pong;
  if (forward::read_pong(in, used, pong) == forward::Status::kOk && used > size) __builtin_trap();
  forward::Ping ping;
  forward::read_ping(in, used, ping);
  std::size_t n = 0;
  if (encode::msgpack::complete_value(in, n) == encode::msgpack::Status::kOk) {
    std::string json;
    encode::msgpack::to_json(in.substr(0, n), json);
  }
  return 0;
}

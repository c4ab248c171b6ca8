"""Parses Sentry envelopes with the official Python SDK's parser
(sentry_sdk.envelope.Envelope.deserialize, Debian python3-sentry-sdk) and
prints one JSON line per envelope: its header and each item's header and
decoded JSON payload, as the SDK read them. Exit status 1 when an envelope
cannot be parsed or an item's length does not match its payload.

Lengths are checked on the raw bytes: the SDK parses an event's JSON and
serialises it again when asked for its bytes, and Python's shortest float
repr can be a digit shorter than what another encoder wrote for the same
double (1796527820.1026509 against 1796527820.102651).

Usage: check_envelopes.py FILE... (each file holds one envelope)
"""
import json
import sys

from sentry_sdk.envelope import Envelope


def raw_payload_lengths(raw):
    """The declared and the actual byte count of each item, from the raw
    envelope: a header line, then per item a header line and a payload.
    Every payload this project writes is JSON and ends with a newline, so
    the actual count is the distance to that newline."""
    out = []
    pos = raw.find(b"\n") + 1
    while 0 < pos < len(raw):
        end = raw.find(b"\n", pos)
        if end < 0:
            out.append((None, -1))  # an item header without its payload
            break
        declared = json.loads(raw[pos:end]).get("length")
        pos = end + 1
        end = raw.find(b"\n", pos)
        if end < 0:
            end = len(raw)
        out.append((declared, end - pos))
        pos = end + 1
    return out


def main():
    for path in sys.argv[1:]:
        with open(path, "rb") as f:
            raw = f.read()
        for declared, actual in raw_payload_lengths(raw):
            if actual < 0 or (declared is not None and declared != actual):
                print("%s: item length %s but payload has %s bytes" % (path, declared, actual),
                      file=sys.stderr)
                return 1
        env = Envelope.deserialize(raw)
        items = []
        for item in env.items:
            payload = item.payload.get_bytes()
            items.append({"headers": item.headers, "type": item.type,
                          "payload": json.loads(payload)})
        if not items and raw.count(b"\n") > 1:
            print("%s: no items parsed" % path, file=sys.stderr)
            return 1
        print(json.dumps({"headers": env.headers, "items": items}))
    return 0


if __name__ == "__main__":
    sys.exit(main())

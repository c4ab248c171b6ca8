"""Parses Sentry envelopes with the official Python SDK's parser
(sentry_sdk.envelope.Envelope.deserialize, Debian python3-sentry-sdk) and
prints one JSON line per envelope: its header and each item's header and
decoded JSON payload, as the SDK read them. Exit status 1 when an envelope
cannot be parsed or an item's length does not match its payload.

Usage: check_envelopes.py FILE... (each file holds one envelope)
"""
import json
import sys

from sentry_sdk.envelope import Envelope


def main():
    for path in sys.argv[1:]:
        with open(path, "rb") as f:
            raw = f.read()
        env = Envelope.deserialize(raw)
        items = []
        for item in env.items:
            payload = item.payload.get_bytes()
            declared = item.headers.get("length")
            if declared is not None and declared != len(payload):
                print("%s: item length %s but payload has %d bytes" % (path, declared, len(payload)),
                      file=sys.stderr)
                return 1
            items.append({"headers": item.headers, "type": item.type,
                          "payload": json.loads(payload)})
        if not items and raw.count(b"\n") > 1:
            print("%s: no items parsed" % path, file=sys.stderr)
            return 1
        print(json.dumps({"headers": env.headers, "items": items}))
    return 0


if __name__ == "__main__":
    sys.exit(main())

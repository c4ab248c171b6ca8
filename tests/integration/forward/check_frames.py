"""Independent check of forward protocol frames: decodes a file of
concatenated frames with python3-msgpack (not our reader) and prints one JSON
line per event: tag, seconds, nanoseconds, record. Exits 1 on any frame that
is not [tag, bin, {"size", "chunk"[, "compressed"]}] with EventTime entries."""
import gzip
import json
import sys

import msgpack


def ext_hook(code, data):
    if code != 0 or len(data) != 8:
        raise ValueError("unexpected ext %d/%d" % (code, len(data)))
    return ("eventtime", int.from_bytes(data[:4], "big"), int.from_bytes(data[4:], "big"))


def main(path):
    raw = open(path, "rb").read()
    unpacker = msgpack.Unpacker(raw=False, strict_map_key=True, ext_hook=ext_hook)
    unpacker.feed(raw)
    for frame in unpacker:
        assert isinstance(frame, list) and len(frame) == 3, frame
        tag, packed, option = frame
        assert isinstance(tag, str) and isinstance(packed, bytes) and isinstance(option, dict)
        assert isinstance(option["chunk"], str) and option["chunk"]
        if option.get("compressed") == "gzip":
            packed = gzip.decompress(packed)
        else:
            assert "compressed" not in option
        inner = msgpack.Unpacker(raw=False, ext_hook=ext_hook, strict_map_key=True)
        inner.feed(packed)
        entries = list(inner)
        assert option["size"] == len(entries), (option, len(entries))
        for entry in entries:
            assert isinstance(entry, list) and len(entry) == 2
            t, record = entry
            assert isinstance(t, tuple) and t[0] == "eventtime" and t[2] < 10**9
            assert isinstance(record, dict)
            print(json.dumps({"tag": tag, "chunk": option["chunk"], "sec": t[1], "nsec": t[2],
                              "record": record}))


if __name__ == "__main__":
    main(sys.argv[1])

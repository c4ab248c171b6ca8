#!/usr/bin/env node
// Independent OTLP decoder for the conformance tests.
//
// Decodes a protobuf payload with the official schema as compiled by
// protobufjs and shipped in @opentelemetry/otlp-transformer@0.52.1
// (build/src/generated/root.js), and prints it as JSON on stdout:
// int64/fixed64 as decimal strings, enums as numbers, bytes as lowercase hex,
// every field present (defaults filled), non-finite doubles as the strings
// "NaN", "Infinity", "-Infinity".
//
// That schema predates three fields of the current opentelemetry-proto:
// Span.flags (16, fixed32), Span.Link.flags (6, fixed32) and
// LogRecord.event_name (12, string). The generated decoder skips them as
// unknown fields; they are read here with protobufjs's own wire Reader at
// their official field numbers and added to the output as `flags` and
// `eventName` (0 / "" when absent). Metrics need no such addition: every
// metrics.proto field the encoder writes is known to the 0.52.1 schema (the
// newer Metric.metadata, field 12, is not written).
//
// Usage:
//   node decode.js traces|logs|metrics|traces-response|logs-response|metrics-response FILE
//     (KIND may end in ".gz": FILE is first gunzipped by node's zlib)
//   node decode.js encode-response traces|logs|metrics REJECTED MESSAGE OUTFILE
//     (writes an Export*ServiceResponse with partial_success set, encoded by
//      the official schema, so the C++ response parser can be checked against it)
'use strict';

const fs = require('fs');
const path = require('path');

const moduleDir = path.join(__dirname, '..', 'node_modules');
let root;
let protobuf;
try {
  root = require(path.join(moduleDir, '@opentelemetry', 'otlp-transformer', 'build', 'src',
                           'generated', 'root.js'));
  protobuf = require(path.join(moduleDir, 'protobufjs', 'minimal'));
} catch (e) {
  process.stderr.write(`cannot load the OTLP schema from ${moduleDir}: ${e.message}\n` +
                       'run ./run setup (npm install --prefix tests/conformance)\n');
  process.exit(3);
}

const otlp = root.opentelemetry.proto;
const kTypes = {
  'traces': otlp.collector.trace.v1.ExportTraceServiceRequest,
  'logs': otlp.collector.logs.v1.ExportLogsServiceRequest,
  'metrics': otlp.collector.metrics.v1.ExportMetricsServiceRequest,
  'traces-response': otlp.collector.trace.v1.ExportTraceServiceResponse,
  'logs-response': otlp.collector.logs.v1.ExportLogsServiceResponse,
  'metrics-response': otlp.collector.metrics.v1.ExportMetricsServiceResponse,
};

const kHexKeys = new Set(['traceId', 'spanId', 'parentSpanId', 'bytesValue']);

function base64ToHex(s) {
  return Buffer.from(s, 'base64').toString('hex');
}

// Rewrites bytes fields (base64 from toObject) as hex, recursively.
function hexify(value) {
  if (Array.isArray(value)) return value.map(hexify);
  if (value !== null && typeof value === 'object') {
    const out = {};
    for (const [k, v] of Object.entries(value)) {
      out[k] = (kHexKeys.has(k) && typeof v === 'string') ? base64ToHex(v) : hexify(v);
    }
    return out;
  }
  return value;
}

// Visits every length-delimited field at `fieldPath` (field numbers, outer to
// inner) of `buf`, calling fn(bytes) in wire order.
function forEachAtPath(buf, fieldPath, fn) {
  const reader = protobuf.Reader.create(buf);
  while (reader.pos < reader.len) {
    const tag = reader.uint32();
    const field = tag >>> 3;
    const wireType = tag & 7;
    if (field === fieldPath[0] && wireType === 2) {
      const sub = reader.bytes();
      if (fieldPath.length === 1) {
        fn(sub);
      } else {
        forEachAtPath(sub, fieldPath.slice(1), fn);
      }
    } else {
      reader.skipType(wireType);
    }
  }
}

// Scalar fields of one message, by field number: last occurrence wins (as
// protobuf requires). Returns {field: {wireType, value}}.
function scalarFields(buf) {
  const out = {};
  const reader = protobuf.Reader.create(buf);
  while (reader.pos < reader.len) {
    const tag = reader.uint32();
    const field = tag >>> 3;
    const wireType = tag & 7;
    if (wireType === 5) {
      out[field] = {wireType, value: reader.fixed32()};
    } else if (wireType === 2) {
      out[field] = {wireType, value: reader.bytes()};
    } else {
      reader.skipType(wireType);
    }
  }
  return out;
}

function fixed32At(fields, n) {
  const f = fields[n];
  if (f === undefined) return 0;
  if (f.wireType !== 5) throw new Error(`field ${n} has wire type ${f.wireType}, want 5`);
  return f.value >>> 0;
}

function stringAt(fields, n) {
  const f = fields[n];
  if (f === undefined) return '';
  if (f.wireType !== 2) throw new Error(`field ${n} has wire type ${f.wireType}, want 2`);
  return new TextDecoder('utf-8', {fatal: true}).decode(f.value);
}

// Adds the fields the 0.52.1 schema does not know (see the header).
function addNewerFields(kind, buf, obj) {
  if (kind === 'traces') {
    const spans = [];
    forEachAtPath(buf, [1, 2, 2], (b) => spans.push(b));
    const flat = [];
    for (const rs of obj.resourceSpans) {
      for (const ss of rs.scopeSpans) flat.push(...ss.spans);
    }
    if (flat.length !== spans.length) throw new Error('span count mismatch in raw walk');
    spans.forEach((b, i) => {
      flat[i].flags = fixed32At(scalarFields(b), 16);
      const links = [];
      forEachAtPath(b, [13], (lb) => links.push(lb));
      if (links.length !== flat[i].links.length) throw new Error('link count mismatch');
      links.forEach((lb, j) => { flat[i].links[j].flags = fixed32At(scalarFields(lb), 6); });
    });
  } else if (kind === 'logs') {
    const records = [];
    forEachAtPath(buf, [1, 2, 2], (b) => records.push(b));
    const flat = [];
    for (const rl of obj.resourceLogs) {
      for (const sl of rl.scopeLogs) flat.push(...sl.logRecords);
    }
    if (flat.length !== records.length) throw new Error('log record count mismatch');
    records.forEach((b, i) => { flat[i].eventName = stringAt(scalarFields(b), 12); });
  }
}

function replacer(key, value) {
  if (typeof value === 'number' && !Number.isFinite(value)) {
    return Number.isNaN(value) ? 'NaN' : (value > 0 ? 'Infinity' : '-Infinity');
  }
  return value;
}

function decode(kindArg, file) {
  const gz = kindArg.endsWith('.gz');
  const kind = gz ? kindArg.slice(0, -3) : kindArg;
  const type = kTypes[kind];
  if (!type) throw new Error(`unknown kind ${kindArg}`);
  let buf = fs.readFileSync(file);
  if (gz) buf = require('zlib').gunzipSync(buf);
  const message = type.decode(buf);
  const obj = hexify(type.toObject(message, {
    longs: String,
    enums: Number,
    bytes: String,
    defaults: true,
    arrays: true,
    objects: true,
  }));
  addNewerFields(kind, buf, obj);
  process.stdout.write(JSON.stringify(obj, replacer));
  process.stdout.write('\n');
}

function encodeResponse(signal, rejected, message, outFile) {
  const c = otlp.collector;
  const shapes = {
    traces: [c.trace.v1.ExportTraceServiceResponse, 'rejectedSpans'],
    logs: [c.logs.v1.ExportLogsServiceResponse, 'rejectedLogRecords'],
    metrics: [c.metrics.v1.ExportMetricsServiceResponse, 'rejectedDataPoints'],
  };
  const shape = shapes[signal];
  if (!shape) throw new Error(`unknown signal ${signal}`);
  const [type, key] = shape;
  const msg = type.fromObject({partialSuccess: {[key]: rejected, errorMessage: message}});
  fs.writeFileSync(outFile, type.encode(msg).finish());
}

try {
  const args = process.argv.slice(2);
  if (args[0] === 'encode-response' && args.length === 5) {
    encodeResponse(args[1], args[2], args[3], args[4]);
  } else if (args.length === 2) {
    decode(args[0], args[1]);
  } else {
    throw new Error('usage: decode.js KIND FILE | encode-response SIGNAL REJECTED MESSAGE OUT');
  }
} catch (e) {
  process.stderr.write(`decode.js: ${e.stack || e}\n`);
  process.exit(2);
}

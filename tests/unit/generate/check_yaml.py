#!/usr/bin/env python3
"""Reads a generated YAML configuration with PyYAML (an independent parser)
and checks the structure the agent needs. Usage: check_yaml.py KIND FILE;
prints what is wrong and exits 1, or exits 0."""
import sys
import yaml

kind, path = sys.argv[1], sys.argv[2]
with open(path) as f:
    doc = yaml.safe_load(f)
problems = []
if kind == "fluent-bit":
    p = doc["pipeline"]
    inputs = p["inputs"]
    if not inputs or any(i["name"] != "tail" for i in inputs):
        problems.append("inputs are not all tail")
    for i in inputs:
        if not i["path"].endswith("*"):
            problems.append("path %r misses rotated files" % i["path"])
        if not i.get("db"):
            problems.append("no position db")
    mods = [f for f in p["filters"] if f["name"] == "record_modifier"]
    records = [r for f in mods for r in f["record"]]
    for key in ("service_name", "service_type", "environment", "machine_id",
                "source_identification"):
        if not any(r.startswith(key + " ") for r in records):
            problems.append("no record_modifier for " + key)
    outs = p["outputs"]
    if len(outs) != 1 or outs[0]["name"] != "forward" or not outs[0]["host"]:
        problems.append("no forward output")
    print(len(inputs))
elif kind == "otel-collector":
    if set(doc["receivers"]["otlp"]["protocols"]) != {"grpc", "http"}:
        problems.append("otlp receiver protocols")
    if "resource" not in doc["processors"] or "batch" not in doc["processors"]:
        problems.append("processors")
    exp = doc["exporters"]["otlphttp/dash0"]
    if "Authorization" not in exp["headers"] or "Dash0-Dataset" not in exp["headers"]:
        problems.append("exporter headers")
    for sig in ("traces", "metrics", "logs"):
        pl = doc["service"]["pipelines"][sig]
        if pl["exporters"] != ["otlphttp/dash0"] or pl["processors"] != ["resource", "batch"]:
            problems.append("pipeline " + sig)
    print(len(doc["processors"]["resource"]["attributes"]))
else:
    problems.append("unknown kind " + kind)
for p in problems:
    print(p, file=sys.stderr)
sys.exit(1 if problems else 0)

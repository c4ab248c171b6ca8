#!/usr/bin/env python3
"""Runs `emp-telemetry simulate` for 100 clients and a 60 s outage and checks
what a fleet operator would look at: after the collector comes back the
request rate stays within twice the steady rate, every backlog is delivered,
nothing is lost within the default memory cap, and the per-second series
adds up. With a second endpoint (failover) the traffic moves to it during
the outage and back to the first collector after. All times are simulated: nothing here depends on the machine's speed.

Usage: check_simulate.py <emp-telemetry> <scratch dir>
"""
import json
import os
import subprocess
import sys


def run(cli, *args):
    # A controlled environment: the machine's EMP_* variables must not change
    # the delivery settings under test.
    env = {"PATH": "/usr/bin:/bin", "HOME": os.environ.get("HOME", "/tmp")}
    return subprocess.run([cli, "simulate", *args], capture_output=True, text=True, env=env,
                          timeout=100)


def main():
    cli, scratch = sys.argv[1], sys.argv[2]
    failures = []

    def check(cond, what):
        if not cond:
            failures.append(what)

    r = run(cli, "--clients", "100", "--outage", "60", "--json")
    check(r.returncode == 0, f"exit code {r.returncode}, stderr: {r.stderr}")
    j = json.loads(r.stdout)
    check(j["clients"] == 100, "clients")
    check(j["steady_rps"] > 0, "a steady rate was measured")
    check(j["peak_to_steady"] <= 2.0, f"peak/steady {j['peak_to_steady']} > 2 after recovery")
    check(j["drained"] is True and j["drain_s"] is not None, "every backlog drained")
    check(j["backlog_delivered"] == j["backlog_batches"], "every batch made before recovery delivered")
    check(j["records_lost"] == 0 and j["records_lost_by_reason"] == {},
          f"nothing lost: {j['records_lost_by_reason']}")
    check(j["records_delivered"] + j["records_pending_at_end"] == j["records_produced"],
          "produced == delivered + pending")
    check(0 < j["peak_queued_bytes_per_client"] <= 32 * 1024 * 1024,
          "peak memory per client within the default cap")
    series = j["per_second"]
    n = len(series["received"])
    check(n >= int(j["duration_s"]) - 1, f"one entry per simulated second ({n})")
    for i in range(n):
        if series["received"][i] != series["accepted"][i] + series["rejected"][i]:
            check(False, f"second {i}: received != accepted + rejected")
            break
    start, end = int(j["outage_at_s"]), int(j["outage_at_s"] + j["outage_s"])
    # While the collector is down nothing reaches it, and the clients' probes
    # (refused) are far fewer than their usual requests.
    check(all(series["received"][s] == 0 for s in range(start + 1, end)), "no request while down")
    check(sum(series["refused"][start + 1:end]) < j["steady_rps"] * j["outage_s"] / 2,
          "the breakers stop most traffic while the collector is down")
    peak = max(series["received"][end:])
    check(peak == j["peak_rps_after_recovery"], "peak matches the series")

    # Failover: with a second collector that stays up, the clients' breakers
    # send the traffic there while the first is down, and each client takes
    # the first back at its next probe after it returns.
    r = run(cli, "--clients", "100", "--outage", "60", "--second-endpoint", "--json")
    check(r.returncode == 0, f"--second-endpoint exit code {r.returncode}: {r.stderr}")
    fo = json.loads(r.stdout)
    fs = fo["per_second"]
    check(fo["second_endpoint"] is True, "second endpoint reported")
    check(fo["records_lost"] == 0, f"failover: nothing lost: {fo['records_lost_by_reason']}")
    check(fo["drained"] is True, "failover: every batch made before recovery delivered")
    check(fo["peak_to_steady"] <= 2.0, f"failover: peak/steady {fo['peak_to_steady']} > 2")
    check(fo["second_peak_to_steady"] <= 2.0,
          f"the second collector's peak/steady {fo['second_peak_to_steady']} > 2")
    before = sum(fs["second_received"][:start])
    check(before == 0, f"the second collector idles while the first is up ({before} requests)")
    # Once the breakers have opened (threshold 5 with backoff: well within
    # 30 s), the second collector carries about the usual traffic.
    late = range(start + 30, end)
    carried = sum(fs["second_accepted"][s] for s in late) / (fo["steady_rps"] * len(late))
    check(carried >= 0.9, f"the second collector carries the traffic during the outage ({carried:.2f})")
    check(all(fs["received"][s] == 0 for s in range(start + 1, end)), "failover: first idle while down")
    # Back: within the breaker's cooldown (30 s) every client has probed the
    # first collector and returned; nothing goes to the second at the end.
    tail = range(end + 45, len(fs["received"]))
    check(sum(fs["second_received"][s] for s in tail) == 0, "traffic moved back to the first")
    check(sum(fs["accepted"][s] for s in tail) > 0.9 * fo["steady_rps"] * len(tail),
          "the first collector has its usual traffic again")
    check(fo["second_share_during_outage"] >= 0.5 and fo["primary_share_at_end"] >= 0.99,
          "summary figures agree")
    check(0 < fo["moved_back_s"] <= 45, f"moved back within the cooldown ({fo['moved_back_s']} s)")

    # The same seed gives the same run.
    again = json.loads(run(cli, "--clients", "100", "--outage", "60", "--json").stdout)
    check(again["per_second"] == series, "a run is reproducible for a given seed")

    # Without pacing (EMP_CIRCUIT_RECOVERY_RAMP=0) the fleet's backlogs arrive
    # as a wall: the check reports it and exits 1.
    env_run = subprocess.run([cli, "simulate", "--clients", "100", "--json"], capture_output=True,
                             text=True, timeout=100,
                             env={"PATH": "/usr/bin:/bin", "EMP_CIRCUIT_RECOVERY_RAMP": "0"})
    wall = json.loads(env_run.stdout)
    check(env_run.returncode == 1 and wall["peak_to_steady"] > 2,
          f"unpaced replay is a wall ({wall['peak_to_steady']})")

    # --plot writes a PNG (or, without gnuplot, a CSV next to it).
    png = os.path.join(scratch, "simulate.png")
    for p in (png, png + ".csv"):
        if os.path.exists(p):
            os.remove(p)
    r = run(cli, "--clients", "20", "--outage", "10", "--plot", png)
    check(r.returncode == 0, f"--plot exit code {r.returncode}: {r.stderr}")
    if os.path.exists(png):
        with open(png, "rb") as f:
            check(f.read(8) == b"\x89PNG\r\n\x1a\n", "--plot wrote a PNG")
    else:
        check(os.path.exists(png + ".csv") and "gnuplot" in r.stderr, "--plot fell back to CSV")

    # Bad input is a usage error with a clear message.
    bad = run(cli, "--overload", "500")
    check(bad.returncode == 64 and "--overload" in bad.stderr, "bad --overload is a usage error")
    bad = run(cli, "--outage-at", "0")
    check(bad.returncode == 64 and "steady period" in bad.stderr, "no steady period is refused")

    if failures:
        print("FAILED:\n  " + "\n  ".join(failures))
        return 1
    print(f"ok: peak/steady {j['peak_to_steady']:.2f}, drained in {j['drain_s']:.1f} s; "
          f"failover carried {fo['second_share_during_outage']:.2f} of the traffic, "
          f"moved back in {fo['moved_back_s']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

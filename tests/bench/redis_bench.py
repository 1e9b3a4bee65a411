"""The Redis rows of the benchmark: redis-benchmark against stage04-redis and a real
redis-server, in the same run, under the same conditions as the echo servers.

For each server, pipeline depth (-P 1 and -P 16) and test (PING_INLINE, SET, GET):
redis-benchmark -c 50, pinned to the client CPU, with -n sized so a run lasts about
2 s (a short probe run measures the rate first); the server is pinned to the server CPU
and its CPU time (utime + stime from /proc) is read before and after, so each rate comes
with the server's CPU per request; the client's CPU time says when redis-benchmark, not
the server, was the limit. Servers are interleaved within each round; the report
gives medians. redis-server runs with persistence off and one I/O thread.
Python 3 standard library only; run_bench.py calls measure() and report_lines().
"""

import csv
import io
import os
import resource
import shutil
import statistics
import subprocess
import time
from pathlib import Path

TESTS = ["PING_INLINE", "SET", "GET"]
PIPELINES = [1, 16]
CLIENTS = 50
SECONDS = 2.0
TARGETS = {1: 1.0, 16: 1.5}  # stage04-redis / redis-server, requests per second


def servers(bin_dir):
    """The two servers, as run_bench.Server specs, or [] with the reason."""
    ours = Path(bin_dir) / "stage04-redis"
    real = shutil.which("redis-server")
    if not ours.exists():
        return [], "stage04-redis not built"
    if not real or not shutil.which("redis-benchmark"):
        return [], "redis-server or redis-benchmark not installed (apt-get install -y redis-server redis-tools)"
    return [
        {"name": "stage04-redis", "command": [str(ours)], "one_at_a_time": False},
        {"name": "redis-server", "command": [real, "--port", "{port}", "--bind", "127.0.0.1", "--save", "",
                                             "--appendonly", "no", "--io-threads", "1", "--logfile", "",
                                             "--daemonize", "no"],
         "one_at_a_time": False, "contract": False},
    ], None


def cpu_seconds(pid):
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def port_of(url):
    return url.rsplit(":", 1)[1]


def children_cpu():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def benchmark(bench, server, test, pipeline, requests):
    """One redis-benchmark run: (requests/s, server CPU s, client CPU s, wall s), or None."""
    cmd = ["redis-benchmark", "-h", "127.0.0.1", "-p", port_of(server.url), "-c", str(CLIENTS),
           "-n", str(requests), "-P", str(pipeline), "-t", test.lower(), "--csv"]
    cpu0, client0, t0 = cpu_seconds(server.pid), children_cpu(), time.monotonic()
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120, preexec_fn=bench.client_pin())
    wall, cpu, client = time.monotonic() - t0, cpu_seconds(server.pid) - cpu0, children_cpu() - client0
    rows = [row for row in csv.reader(io.StringIO(r.stdout)) if row and row[0] == test]
    if r.returncode != 0 or not rows or "rror" in r.stderr:
        bench.fail(server, cmd[1:], f"redis-benchmark exited {r.returncode}", r.stderr + r.stdout)
        return None
    return float(rows[0][1]), cpu, client, wall


def measure_server(bench, spec, rounds_out):
    def body(server):
        for pipeline in PIPELINES:
            for test in TESTS:  # SET before GET, so GET finds the key
                probe = benchmark(bench, server, test, pipeline, 20000 * pipeline)
                if probe is None:
                    continue
                requests = max(50000, int(probe[0] * SECONDS))
                run = benchmark(bench, server, test, pipeline, requests)
                if run is not None:
                    rps, cpu, client, wall = run
                    rounds_out.setdefault(f"{test}/P{pipeline}", []).append(
                        {"rps": rps, "cpu_us": cpu / requests * 1e6, "busy": cpu / wall, "client_busy": client / wall})
    bench.with_server(spec, body)


def measure(bench, bin_dir, rounds, log):
    specs, why = servers(bin_dir)
    if not specs:
        log(f"redis rows left out: {why}")
        return {"skipped": why}
    raw = {s["name"]: {} for s in specs}
    for r in range(rounds):
        for spec in specs:
            log(f"round {r + 1}/{rounds}: {spec['name']} redis-benchmark")
            measure_server(bench, spec, raw[spec["name"]])
    results = {}
    for name, cases in raw.items():
        results[name] = {case: {k: statistics.median(run[k] for run in runs)
                                for k in ("rps", "cpu_us", "busy", "client_busy")}
                         for case, runs in cases.items()}
    return {"servers": [s["name"] for s in specs], "rounds": rounds, "clients": CLIENTS, "seconds": SECONDS,
            "results": results}


def report_lines(data):
    """The Markdown section for bench-results.md."""
    redis = data.get("redis")
    if not redis:
        return []
    if "skipped" in redis:
        return ["", f"**Redis**: not measured: {redis['skipped']}."]
    res = redis["results"]

    def get(server, test, p, key):
        return res.get(server, {}).get(f"{test}/P{p}", {}).get(key)

    out = ["", f"**Redis** (higher rate, lower CPU is better): `redis-benchmark -c {redis['clients']}` "
           f"pinned to the client CPU, each run about {redis['seconds']:.0f} s, medians of {redis['rounds']} rounds; "
           "redis-server with persistence off and one I/O thread; CPU µs/req is the server's CPU time per request.",
           "",
           "| server | test | P1: requests/s | × redis-server | CPU µs/req | CPU busy, server / client "
           "| P16: requests/s | × redis-server | CPU µs/req | CPU busy, server / client |",
           "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    client_bound = []
    for server in redis["servers"]:
        for test in TESTS:
            cells = [server, test]
            for p in PIPELINES:
                rps, base = get(server, test, p, "rps"), get("redis-server", test, p, "rps")
                cpu, busy, client = (get(server, test, p, k) for k in ("cpu_us", "busy", "client_busy"))
                cells += ["**FAIL**" if rps is None else f"{rps:,.0f}",
                          f"{rps / base:.2f}×" if rps and base else "n/a",
                          "n/a" if cpu is None else f"{cpu:.2f}",
                          "n/a" if busy is None else f"{busy * 100:.0f}% / {client * 100:.0f}%"]
                if client is not None and client >= 0.9:
                    client_bound.append(f"{server} {test} P{p}")
            out.append("| " + " | ".join(cells) + " |")
    if client_bound:
        out += ["", f"redis-benchmark used ≥ 90% of its CPU in {', '.join(client_bound)}: there the rate is what "
                "one client thread can drive, and the server's CPU per request is the fairer comparison."]
    out += ["", "| target (stage04-redis) | measured | status |", "|---|---:|---|"]
    for p in PIPELINES:
        for test in TESTS:
            a, b = get("stage04-redis", test, p, "rps"), get("redis-server", test, p, "rps")
            need = TARGETS[p]
            if not a or not b:
                out.append(f"| {test}, P{p}: requests/s ≥ {need}× redis-server | n/a | unmeasured |")
                continue
            r = a / b
            status = "met" if r >= need else f"missed by {(need - r) / need * 100:.0f}%"
            out.append(f"| {test}, P{p}: requests/s ≥ {need}× redis-server | {r:.2f}× | {status} |")
    for p in PIPELINES:
        for test in TESTS:
            a, b = get("stage04-redis", test, p, "cpu_us"), get("redis-server", test, p, "cpu_us")
            if a and b:
                out.append(f"| (context) {test}, P{p}: server CPU per request vs redis-server, lower is better "
                           f"| {a / b:.2f}× | — |")
    return out

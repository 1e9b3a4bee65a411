"""The HTTP rows of the benchmark: wrk against stage04-http and nginx in the same run.

    tests/bench/run_bench.py --bin build/bin --only http     # these rows alone

For a small file and a 64 KiB one: `wrk -t1 -c50` against stage04-http and against nginx
(one worker, access log off, sendfile on; its configuration is written here, into a
temporary folder, with the document root). Each server is started fresh for each run and
pinned as the echo servers are, wrk on the other CPU. Before each timed run, a verification
run with tests/bench/wrk_check.lua checks every response (status 200, the whole body); the
timed run then goes without the script, which would slow wrk down, and must report no
non-2xx response and no socket error either. Server CPU is read from /proc for the server's
whole process tree (nginx's master and worker). Python 3 standard library only.
"""

import math
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
CHECK_SCRIPT = HERE / "wrk_check.lua"
FILES = {"small": ("small.html", 612), "64k": ("64k.bin", 64 << 10)}  # nginx's own index.html is 612 bytes
SERVERS = ("stage04-http", "nginx")
CONNECTIONS = 50


def log(msg):
    print(f"bench: {msg}", file=sys.stderr, flush=True)


def find(name, bin_dir=None):
    if bin_dir and (Path(bin_dir) / name).exists():
        return str(Path(bin_dir) / name)
    return shutil.which(name) or next((p for p in (f"/usr/sbin/{name}", f"/sbin/{name}") if os.path.exists(p)), None)


def cpu_seconds(pid):
    """utime + stime of pid and its children, from /proc."""
    total, ticks = 0.0, os.sysconf("SC_CLK_TCK")
    pids = [pid]
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            pids += [int(c) for c in Path(f"/proc/{pid}/task/{task}/children").read_text().split()]
    except OSError:
        pass
    for p in pids:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / ticks
        except (OSError, IndexError, ValueError):
            pass
    return total


class Site:
    """The document root and nginx's configuration, in one temporary folder."""

    def __init__(self):
        self.dir = Path(tempfile.mkdtemp(prefix="bench-http-"))
        self.root = self.dir / "root"
        self.root.mkdir()
        for name, size in FILES.values():
            (self.root / name).write_bytes(bytes((i * 7 + 13) % 251 for i in range(size)))
        # nginx's worker runs as nobody: it must be able to read the root.
        for p in (self.dir, self.root, *self.root.iterdir()):
            p.chmod(0o755 if p.is_dir() else 0o644)

    def nginx_conf(self, port):
        d = self.dir
        conf = d / f"nginx-{port}.conf"  # the name server_spec() gives nginx
        conf.write_text(f"""daemon off;
master_process on;
worker_processes 1;
pid {d}/nginx-{port}.pid;
error_log {d}/nginx-error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    sendfile on;
    # nginx closes a connection after 1,000 requests by default; stage04-http never does.
    keepalive_requests 100000000;
    default_type application/octet-stream;
    types {{ text/html html; }}
    client_body_temp_path {d}/body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    server {{
        listen 127.0.0.1:{port};
        root {self.root};
    }}
}}
""")
        return conf

    def remove(self):
        shutil.rmtree(self.dir, ignore_errors=True)


UNITS = {"us": 1.0, "ms": 1e3, "s": 1e6}


def parse_wrk(text):
    """The numbers of one wrk report, and what it says went wrong."""
    out = {"problems": []}
    m = re.search(r"Requests/sec:\s+([\d.]+)", text)
    out["requests_per_s"] = float(m.group(1)) if m else None
    m = re.search(r"(\d+) requests in ([\d.]+)(\w+),", text)
    out["requests"] = int(m.group(1)) if m else None
    for pct in ("50", "99"):
        m = re.search(rf"^\s+{pct}%\s+([\d.]+)(us|ms|s)\s*$", text, re.M)
        out[f"p{pct}_us"] = float(m.group(1)) * UNITS[m.group(2)] if m else None
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    if m:
        out["problems"].append(f"{m.group(1)} responses with a status over 399")
    m = re.search(r"Socket errors: (.*)", text)
    if m:
        out["problems"].append("socket errors: " + m.group(1).strip())
    m = re.search(r"checked (\d+) bad (\d+)", text)
    if m:
        out["checked"], out["bad"] = int(m.group(1)), int(m.group(2))
        if out["bad"] or not out["checked"]:
            out["problems"].append(f"{out['bad']} of {out['checked']} responses not a whole 200")
    if out["requests_per_s"] is None:
        out["problems"].append("no Requests/sec line")
    return out


def server_spec(name, bin_dir, site):
    """How run_bench.Server starts it: a contract server, or nginx on a port chosen for it."""
    if name == "nginx":
        return {"name": name, "contract": False, "prepare": site.nginx_conf,
                "command": [find("nginx"), "-c", str(site.dir / "nginx-{port}.conf"), "-p", str(site.dir)]}
    return {"name": name, "command": [find(name, bin_dir), "--root", str(site.root)]}


def measure(bench, site, bin_dir, server_name, file_key, duration):
    """One fresh server: a verification run, then the timed one. Returns the timed numbers or None."""
    name, size = FILES[file_key]
    label = f"{server_name} {file_key}"

    def body(server):
        url = "http://" + server.url[len("tcp://"):] + "/" + name
        base = [find("wrk"), "-t1", f"-c{CONNECTIONS}"]

        def run(extra, seconds):
            r = subprocess.run(base + extra + [url] + (["--", str(size)] if "-s" in extra else []),
                               capture_output=True, text=True, timeout=seconds + 30,
                               preexec_fn=bench.client_pin())
            report = parse_wrk(r.stdout)
            if r.returncode != 0:
                report["problems"].append(f"wrk exited {r.returncode}: {r.stderr.strip()}")
            return report

        check = run(["-d", "1s", "-s", str(CHECK_SCRIPT)], 1)  # wrk takes whole seconds only
        cpu0, t0 = cpu_seconds(server.pid), time.monotonic()
        wrk0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        timed = run(["-d", f"{duration}s", "--latency"], duration)
        cpu, wall = cpu_seconds(server.pid) - cpu0, time.monotonic() - t0
        wrk1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        problems = [f"verification: {p}" for p in check["problems"]] + timed["problems"]
        if problems:
            bench.failures.append(f"{label}: " + "; ".join(problems))
            log(f"FAIL {label}: {'; '.join(problems)}\n--- server stderr:\n{server.stderr_tail()}")
            return None
        timed["checked"] = check["checked"]
        timed["server_busy"] = cpu / wall
        timed["client_busy"] = (wrk1.ru_utime + wrk1.ru_stime - wrk0.ru_utime - wrk0.ru_stime) / wall
        timed["cpu_us_per_request"] = cpu / timed["requests"] * 1e6 if timed["requests"] else None
        return timed

    spec = server_spec(server_name, bin_dir, site)
    spec["name"] = label
    return bench.with_server(spec, body)


def unavailable(bin_dir):
    missing = [n for n in ("wrk", "nginx") if not find(n)]
    if not find("stage04-http", bin_dir) or not (Path(bin_dir) / "stage04-http").exists():
        missing.append("stage04-http (cmake --build build --target stage04-http)")
    return missing


def run(bench, bin_dir, rounds, duration):
    """Measures every (server, file) pair `rounds` times, interleaved; returns medians.
    `bench` is run_bench's Bench: it starts each server fresh, pinned, and stops it."""
    duration = max(1, math.ceil(duration))
    missing = unavailable(bin_dir)
    if missing:
        log(f"http rows left out: missing {', '.join(missing)} (Debian: apt-get install -y wrk nginx)")
        return {"missing": missing}
    site = Site()
    samples = {(s, f): [] for s in SERVERS for f in FILES}
    try:
        for r in range(rounds):
            for f in FILES:
                for s in SERVERS:
                    log(f"round {r + 1}/{rounds}: http {s} {f}")
                    samples[(s, f)].append(measure(bench, site, bin_dir, s, f, duration))
    finally:
        site.remove()
    results = {}
    for (s, f), runs in samples.items():
        if not runs or any(x is None for x in runs):
            results.setdefault(s, {})[f] = None
            continue
        med = lambda key: statistics.median(x[key] for x in runs)  # noqa: E731
        results.setdefault(s, {})[f] = {
            "requests_per_s": med("requests_per_s"), "p50_us": med("p50_us"), "p99_us": med("p99_us"),
            "server_busy": med("server_busy"), "client_busy": med("client_busy"),
            "cpu_us_per_request": med("cpu_us_per_request"),
            "checked": sum(x["checked"] for x in runs), "rounds": len(runs),
        }
    return {"servers": list(SERVERS), "files": {k: v[1] for k, v in FILES.items()}, "connections": CONNECTIONS,
            "rounds": rounds, "duration_s": duration, "results": results}


def markdown(http):
    """The HTTP table and its target, as lines of markdown."""
    if not http:
        return []
    if "missing" in http:
        return ["", f"**HTTP**: not measured (missing {', '.join(http['missing'])})."]

    def get(server, f, key):
        r = http["results"].get(server, {}).get(f)
        return None if r is None else r.get(key)

    def num(v, fmt):
        return "**FAIL**" if v is None else fmt.format(v)

    c = http["connections"]
    out = ["", f"**HTTP** (`wrk -t1 -c{c}`, {http['rounds']} rounds of {http['duration_s']} s, medians; "
           "every response of a verification run before each checked to be a whole 200, and no non-2xx "
           "or socket error in the timed runs; nginx with one worker, access log off, sendfile on, and "
           "keepalive_requests raised so that, like stage04-http, it never closes a connection mid-run)", "",
           "| server | file | requests/s | × nginx | p50 µs | p99 µs | CPU busy, server / wrk "
           "| server CPU µs per request |",
           "|---|---|---:|---:|---:|---:|---:|---:|"]
    for f, size in http["files"].items():
        for s in http["servers"]:
            rate, base = get(s, f, "requests_per_s"), get("nginx", f, "requests_per_s")
            busy, client = get(s, f, "server_busy"), get(s, f, "client_busy")
            out.append("| " + " | ".join([
                s, f"{f} ({size:,} B)", num(rate, "{:,.0f}"),
                "n/a" if rate is None or not base else f"{rate / base:.2f}×",
                num(get(s, f, "p50_us"), "{:.0f}"), num(get(s, f, "p99_us"), "{:.0f}"),
                "**FAIL**" if busy is None else f"{busy * 100:.0f}% / {(client or 0) * 100:.0f}%",
                num(get(s, f, "cpu_us_per_request"), "{:.2f}"),
            ]) + " |")
    mine, theirs = get("stage04-http", "small", "requests_per_s"), get("nginx", "small", "requests_per_s")
    if mine and theirs:
        r = mine / theirs
        status = "met" if r >= 1.0 else f"missed by {(1.0 - r) * 100:.0f}%"
    else:
        r, status = None, "unmeasured"
    out += ["", "| target (stage04-http) | measured | status |", "|---|---:|---|",
            f"| small file: requests/s ≥ 1.0× nginx | {'n/a' if r is None else f'{r:.2f}×'} | {status} |"]
    return out

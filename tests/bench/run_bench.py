#!/usr/bin/env python3
"""Runs every echo server through echo-bench under the same conditions and writes the
comparison: diagrams/bench-results.md (tables and targets) and diagrams/bench-results.svg.

    cmake --build build --target bench           # what the docs tell readers to run
    tests/bench/run_bench.py --bin build/bin      # the same, by hand
    tests/bench/run_bench.py --bin build/bin --server 'mine=/path/to/server --flag'

Each server is started fresh for every measurement (so RSS figures belong to that
measurement alone) with `--listen tcp://127.0.0.1:0`, and found ready by its
"listening on" line. With two CPUs or more, the server runs on one and echo-bench on
another. Throughput is measured in several rounds, servers interleaved within each
round so that background load falls on all of them alike; the report gives medians.
Syscalls are counted with perf (or strace) over a fixed number of messages.
Relays (stage04-proxy, and Debian's haproxy when installed) are measured the same way in
front of a fresh stage04-echo, both pinned to the server's CPU, beside that echo server
alone ("direct"), whose difference is the cost of the hop.
A server that fails any check (echo-bench exits non-zero) is reported as FAIL and makes
this script exit 1. Python 3 standard library only.
"""

import argparse
import json
import os
import resource
import selectors
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_report  # noqa: E402
import http_bench  # noqa: E402
import redis_bench  # noqa: E402

# The servers found in the build's bin directory, in ladder order. Stage 01 serves one
# client at a time by design, so only single-connection measurements apply to it.
KNOWN = [
    ("stage01", "stage01-echo", True),
    ("stage02", "stage02-echo", False),
    ("stage03", "stage03-echo", False),
    ("stage04", "stage04-echo", False),
    ("stage05", "stage05-echo", False),
    ("libuv", "libuv-echo", False),
    ("libevent", "libevent-echo", False),
]

# name -> (echo-bench arguments, needs concurrent service)
MEASUREMENTS = {
    "ping1": (["-m", "ping", "-c", "1"], False),
    "ping50": (["-m", "ping", "-c", "50"], True),
    "stream": (["-m", "stream", "-c", "10"], True),
    "connect": (["-m", "connect", "-c", "8"], False),
}
SYSCALL_RUNS = {"sys1": (1, 10000), "sys50": (50, 30000)}  # connections, messages
HOLD_CONNECTIONS = 10000
NOREAD_CONNECTIONS, NOREAD_SECONDS = 100, 3.0  # clients that send and never read

# Relays: what is measured through each (and the clients that never read, as for servers).
RELAY_MEASUREMENTS = ("ping50", "stream")
# haproxy as a plain TCP relay: one thread, no logging, its default buffers.
HAPROXY_CONFIG = """global
    nbthread 1
    maxconn 4096
defaults
    mode tcp
    timeout connect 5s
    timeout client 60s
    timeout server 60s
frontend relay
    bind 127.0.0.1:{port}
    default_backend echo
backend echo
    server echo {backend}
"""

READ_CALLS = {"read", "readv", "recvfrom", "recvmsg"}
WRITE_CALLS = {"write", "writev", "sendto", "sendmsg"}
WAIT_CALLS = {"epoll_wait", "epoll_pwait", "epoll_pwait2", "poll", "ppoll", "select", "pselect6"}
# io_uring_enter submits a turn's requests and waits for completions: one system call that
# stands for reads, writes and the wait at once, so it is counted as a kind of its own.
RING_CALLS = {"io_uring_enter"}
# Counted by name too, so that "other" can say what it is.
OTHER_CALLS = {"epoll_ctl", "accept", "accept4", "close", "shutdown", "ioctl", "fcntl", "getsockopt",
               "setsockopt", "getsockname", "getpeername", "clock_gettime", "gettimeofday", "futex",
               "rt_sigprocmask", "mmap", "munmap", "brk", "madvise"}


def log(msg):
    print(f"bench: {msg}", file=sys.stderr, flush=True)


class Server:
    """One server process, pinned to a CPU, ready once it has said where it listens."""

    def __init__(self, spec, cpu):
        self.spec, self.proc, self.url = spec, None, None
        cmd = list(spec["command"])
        port = None
        if "{port}" in " ".join(cmd):  # not a contract server: we choose its port
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                port = s.getsockname()[1]
            cmd = [c.replace("{port}", str(port)) for c in cmd]
            if spec.get("prepare"):  # e.g. write a configuration that names the port
                spec["prepare"](port)
        else:
            cmd += ["--listen", "tcp://127.0.0.1:0"]
        self.stderr = tempfile.TemporaryFile()
        pin = (lambda: os.sched_setaffinity(0, {cpu})) if cpu is not None else None
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=self.stderr, preexec_fn=pin)
        self.url = self._wait_ready(port)

    def _wait_ready(self, port, timeout=10.0):
        deadline = time.monotonic() + timeout
        if port is not None:  # poll until it accepts: the best an unknown server allows
            while time.monotonic() < deadline and self.proc.poll() is None:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    return f"tcp://127.0.0.1:{port}"
                except OSError:
                    time.sleep(0.05)
            return None
        sel = selectors.DefaultSelector()
        sel.register(self.proc.stdout, selectors.EVENT_READ)
        text = b""
        while time.monotonic() < deadline:
            if not sel.select(max(0.0, deadline - time.monotonic())):
                break
            chunk = os.read(self.proc.stdout.fileno(), 4096)
            if not chunk:
                break
            text += chunk
            for line in text.decode(errors="replace").splitlines(keepends=True):
                if line.startswith("listening on ") and line.endswith("\n"):
                    return line[len("listening on "):].strip()
        return None

    @property
    def pid(self):
        return self.proc.pid

    def stop(self):
        """SIGTERM; returns None when it exited 0 within 2 s, else what went wrong."""
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return "did not exit within 2 s of SIGTERM"
        self.proc.stdout.close()
        if rc != 0 and self.spec.get("contract", True):
            return f"exited with status {rc} after SIGTERM"
        return None

    def stderr_tail(self):
        self.stderr.seek(0)
        return self.stderr.read()[-2000:].decode(errors="replace")


class Bench:
    def __init__(self, args):
        self.args = args
        self.echo_bench = str(Path(args.bin) / "echo-bench")
        cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") and args.pin else []
        self.server_cpu, self.client_cpu = (cpus[0], cpus[1]) if len(cpus) >= 2 else (None, None)
        self.failures = []

    def client_pin(self):
        cpu = self.client_cpu
        return (lambda: os.sched_setaffinity(0, {cpu})) if cpu is not None else None

    def echo(self, server, extra, timeout=120):
        """Runs echo-bench against a server; returns its JSON report, or None on failure."""
        cmd = [self.echo_bench, "-a", server.url, "--pid", str(server.pid), "--json", "-q"] + extra
        try:
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, preexec_fn=self.client_pin())
        except subprocess.TimeoutExpired:
            return self.fail(server, extra, "echo-bench did not finish", "")
        if r.returncode != 0:
            return self.fail(server, extra, f"echo-bench exited {r.returncode}", r.stderr)
        return json.loads(r.stdout)

    def fail(self, server, extra, what, stderr):
        name = server.spec["name"]
        self.failures.append(f"{name} {' '.join(extra)}: {what}")
        log(f"FAIL {name} {' '.join(extra)}: {what}\n{stderr.strip()}\n--- server stderr:\n{server.stderr_tail()}")
        return None

    def with_server(self, spec, body):
        server = Server(spec, self.server_cpu)
        if server.url is None:
            server.proc.kill()
            server.proc.wait()
            self.failures.append(f"{spec['name']}: did not start")
            log(f"FAIL {spec['name']} did not start:\n{server.stderr_tail()}")
            return None
        try:
            return body(server)
        finally:
            problem = server.stop()
            if problem:
                self.failures.append(f"{spec['name']}: {problem}")
                log(f"FAIL {spec['name']}: {problem}")

    def throughput(self, spec, name):
        extra, concurrent = MEASUREMENTS[name]
        if concurrent and spec["one_at_a_time"]:
            return None
        timing = ["-d", f"{self.args.duration}s", "-w", f"{self.args.warmup}s"]
        return self.with_server(spec, lambda s: self.echo(s, extra + timing))

    def syscalls(self, spec, connections, messages):
        if connections > 1 and spec["one_at_a_time"]:
            return None
        counter = SyscallCounter.pick()
        if counter is None:
            return None

        def run(server):
            with counter(server.pid) as counts:
                report = self.echo(server, ["-m", "ping", "-c", str(connections), "-n", str(messages)])
            if report is None or not counts.total:
                return None
            return counts.per_message(report["messages"])

        return self.with_server(spec, run)

    def noread(self, spec):
        """Peak RSS of a server whose clients send as fast as it takes bytes and never read:
        what backpressure costs it. Not echo-bench: here the clients do nothing clever."""
        if spec["one_at_a_time"]:
            return None

        def run(server):
            pushed = push_without_reading(server.url)
            return {"peak_rss_kib": proc_kib(server.pid, "VmHWM"), "pushed_mib": pushed / (1 << 20),
                    "connections": NOREAD_CONNECTIONS}

        return self.with_server(spec, run)

    def hold(self, spec):
        if spec["one_at_a_time"]:
            return None
        args = ["-m", "hold", "-c", str(HOLD_CONNECTIONS), "-d", "0.5s", "--timeout", "10s"]
        report = self.with_server(spec, lambda s: self.echo(s, args))
        return None if report is None else report["server"]


    # Relays: each measurement starts a fresh stage04-echo and the relay in front of it, both
    # on the server's CPU, so the relay's cost shows in the rate. "direct" is the echo alone.
    def with_relay(self, relay, body):
        def inner(backend):
            if relay["command"] is None:
                return body(backend, backend)
            # The relay's command names the backend as {backend}; haproxy's configuration does.
            spec = dict(relay, command=[c.replace("{backend}", backend.url) for c in relay["command"]])
            if relay.get("configure"):
                spec["prepare"] = lambda port: relay["configure"](port, backend.url)
            return self.with_server(spec, lambda front: body(front, backend))

        return self.with_server(self.relay_backend, inner)

    def relay_throughput(self, relay, name):
        extra, _ = MEASUREMENTS[name]
        timing = ["-d", f"{self.args.duration}s", "-w", f"{self.args.warmup}s"]
        return self.with_relay(relay, lambda front, _: self.echo(front, extra + timing))

    def relay_syscalls(self, relay):
        counter = SyscallCounter.pick()
        if counter is None:
            return None
        connections, messages = SYSCALL_RUNS["sys50"]

        def run(front, _):
            with counter(front.pid) as counts:
                report = self.echo(front, ["-m", "ping", "-c", str(connections), "-n", str(messages)])
            return None if report is None or not counts.total else counts.per_message(report["messages"])

        return self.with_relay(relay, run)

    def never_read(self, relay):
        """As noread(), through the relay: the peak RSS of the relay and of the echo server
        behind it, beside what each held before."""
        def run(front, backend):
            before = {"front": proc_kib(front.pid, "VmRSS"), "backend": proc_kib(backend.pid, "VmRSS")}
            pushed = push_without_reading(front.url)
            return {"connections": NOREAD_CONNECTIONS, "seconds": NOREAD_SECONDS, "pushed_mib": pushed / (1 << 20),
                    "front_base_kib": before["front"], "front_peak_kib": proc_kib(front.pid, "VmHWM"),
                    "backend_base_kib": before["backend"], "backend_peak_kib": proc_kib(backend.pid, "VmHWM")}

        return self.with_relay(relay, run)


def push_without_reading(url):
    """NOREAD_CONNECTIONS clients send to url as fast as it takes bytes for NOREAD_SECONDS and
    never read; returns the bytes pushed. Measure the server before they close."""
    host, _, port = url[len("tcp://"):].rpartition(":")
    socks = [socket.create_connection((host, int(port)), timeout=5) for _ in range(NOREAD_CONNECTIONS)]
    chunk = b"n" * 65536
    pushed = 0
    for s in socks:
        s.setblocking(False)
    end = time.monotonic() + NOREAD_SECONDS
    while time.monotonic() < end:
        moved = 0
        for s in socks:
            try:
                moved += s.send(chunk)
            except (BlockingIOError, InterruptedError):
                pass
            except OSError:
                pass
        pushed += moved
        if not moved:
            time.sleep(0.02)
    for s in socks:
        s.close()
    return pushed


class SyscallCounter:
    """Counts the syscalls of a process while the `with` block runs, per syscall name."""

    @staticmethod
    def pick():
        perf, strace = shutil.which("perf"), shutil.which("strace")
        if perf and PerfCounter.works(perf):
            return lambda pid: PerfCounter(perf, pid)
        if strace:
            return lambda pid: StraceCounter(strace, pid)
        return None

    def per_message(self, messages):
        if not messages:
            return None
        group = {"read": 0, "write": 0, "wait": 0, "ring": 0, "other": 0}
        for call, n in self.calls.items():
            key = ("read" if call in READ_CALLS else "write" if call in WRITE_CALLS
                   else "wait" if call in WAIT_CALLS else "ring" if call in RING_CALLS else "other")
            group[key] += n
        group["other"] += self.total - sum(self.calls.values())
        others = {c: n / messages for c, n in self.calls.items()
                  if c not in READ_CALLS | WRITE_CALLS | WAIT_CALLS | RING_CALLS and n}
        return {"tool": self.tool, "messages": messages, "total": self.total / messages,
                **{k: v / messages for k, v in group.items()}, "others": others}


class PerfCounter(SyscallCounter):
    # perf stat starts with counting disabled and is switched on and off through a
    # control fifo, which acknowledges each switch: the window is exact, no sleeps.
    tool = "perf"
    EVENTS_DIR = ["/sys/kernel/tracing/events/syscalls", "/sys/kernel/debug/tracing/events/syscalls"]

    @staticmethod
    def works(perf):
        r = subprocess.run([perf, "stat", "-x,", "-e", "raw_syscalls:sys_enter", "true"],
                           capture_output=True, text=True)
        return r.returncode == 0 and "raw_syscalls" in r.stderr

    def __init__(self, perf, pid):
        self.perf, self.pid, self.calls, self.total = perf, pid, {}, 0

    def __enter__(self):
        d = next((d for d in self.EVENTS_DIR if os.path.isdir(d)), None)
        names = READ_CALLS | WRITE_CALLS | WAIT_CALLS | RING_CALLS | OTHER_CALLS
        self.names = sorted(n for n in names if d and os.path.isdir(f"{d}/sys_enter_{n}"))
        events = ["raw_syscalls:sys_enter"] + [f"syscalls:sys_enter_{n}" for n in self.names]
        self.dir = tempfile.mkdtemp(prefix="bench-perf-")
        ctl, ack = f"{self.dir}/ctl", f"{self.dir}/ack"
        os.mkfifo(ctl)
        os.mkfifo(ack)
        self.proc = subprocess.Popen([self.perf, "stat", "-x,", "-o", f"{self.dir}/out", "-D", "-1",
                                      "--control", f"fifo:{ctl},{ack}", "-e", ",".join(events),
                                      "-p", str(self.pid)], stderr=subprocess.DEVNULL)
        self.ctl, self.ack = open(ctl, "w"), open(ack, "r")
        self._switch("enable")
        return self

    def _switch(self, what):
        self.ctl.write(what + "\n")
        self.ctl.flush()
        self.ack.readline()

    def __exit__(self, *exc):
        self._switch("disable")
        self.proc.send_signal(signal.SIGINT)
        self.proc.wait()
        self.ctl.close()
        self.ack.close()
        for line in Path(f"{self.dir}/out").read_text().splitlines():
            fields = line.split(",")
            if len(fields) < 3 or not fields[0].isdigit():
                continue
            event = fields[2]
            if event == "raw_syscalls:sys_enter":
                self.total = int(fields[0])
            elif event.startswith("syscalls:sys_enter_"):
                self.calls[event[len("syscalls:sys_enter_"):]] = int(fields[0])
        shutil.rmtree(self.dir, ignore_errors=True)
        return False


class StraceCounter(SyscallCounter):
    # strace slows the server down a lot, but the counts per message stay exact.
    tool = "strace"

    def __init__(self, strace, pid):
        self.strace, self.pid, self.calls, self.total = strace, pid, {}, 0

    def __enter__(self):
        self.out = tempfile.NamedTemporaryFile(prefix="bench-strace-", delete=False).name
        self.proc = subprocess.Popen([self.strace, "-c", "-f", "-o", self.out, "-p", str(self.pid)],
                                     stderr=subprocess.PIPE, text=True)
        self.proc.stderr.readline()  # "strace: Process N attached": it is tracing now
        return self

    def __exit__(self, *exc):
        self.proc.send_signal(signal.SIGINT)
        self.proc.wait()
        for line in Path(self.out).read_text().splitlines():
            f = line.split()
            if len(f) >= 5 and f[3].isdigit() and f[-1] != "total":
                self.calls[f[-1]] = int(f[3])
        self.total = sum(self.calls.values())
        os.unlink(self.out)
        return False


def proc_kib(pid, field):
    """A VmXXX field of /proc/PID/status, in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return None


def median_report(reports):
    """Medians of the numbers echo-bench reported in each round, keyed as in its JSON."""
    if not reports or any(r is None for r in reports):
        return None

    def med(get):
        values = [get(r) for r in reports]
        return statistics.median(values)

    return {
        "rounds": len(reports),
        "messages_per_s": med(lambda r: r["messages_per_s"]),
        "mb_per_s": med(lambda r: r["mb_per_s"]),
        "sent_mb_per_s": med(lambda r: r["sent_mb_per_s"]),
        "connects_per_s": med(lambda r: r["connects_per_s"]),
        "p50_us": med(lambda r: r["latency_us"]["p50"]),
        "p99_us": med(lambda r: r["latency_us"]["p99"]),
        "p999_us": med(lambda r: r["latency_us"]["p999"]),
        "cpu_s_per_million": med(lambda r: r["server"]["cpu_s_per_million"]),
        # The server's CPU per byte echoed: for stream runs, what the rate does not show when
        # neither side is saturated (on a busy machine, say).
        "cpu_s_per_gb": med(lambda r: r["server"]["cpu_s"] / max(r["mb_per_s"] * r["seconds"] / 1000, 1e-9)),
        "peak_rss_kib": max(r["server"]["peak_rss_kib"] for r in reports),
        # Share of one CPU each side used while measured: near 100% marks the side that limits
        # the rate; both well below means time went to wakeups or to other load on the machine.
        "server_busy": med(lambda r: r["server"]["cpu_s"] / r["seconds"]),
        "client_busy": med(lambda r: r["client_cpu_s"] / r["seconds"]),
    }


def machine():
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": model, "cores": os.cpu_count(), "kernel": os.uname().release,
            "date": time.strftime("%Y-%m-%d", time.gmtime())}


def discover(args):
    servers = []
    for name, binary, single in KNOWN:
        path = Path(args.bin) / binary
        if path.exists():
            servers.append({"name": name, "command": [str(path)], "one_at_a_time": single})
        else:
            log(f"{binary} not built: {name} is left out")
    for item in args.server:
        name, _, command = item.partition("=")
        if not name or not command:
            sys.exit(f"bench: --server wants NAME=COMMAND, not {item!r}")
        servers.append({"name": name, "command": shlex.split(command), "one_at_a_time": False,
                        "contract": "{port}" not in command})
    if args.only:
        keep = set(args.only.split(","))
        servers = [s for s in servers if s["name"] in keep]
    return servers


def discover_relays(args):
    """The relay rows: direct (stage04-echo alone), stage04-proxy, and haproxy if installed,
    each in front of stage04-echo. Returns (relays, the backend's spec)."""
    echo, proxy = Path(args.bin) / "stage04-echo", Path(args.bin) / "stage04-proxy"
    if not echo.exists():
        log("stage04-echo not built: the relay rows are left out")
        return [], None
    relays = [{"name": "direct", "command": None}]
    if proxy.exists():
        relays.append({"name": "stage04-proxy", "command": [str(proxy), "--to", "{backend}"]})
    else:
        log("stage04-proxy not built: its relay row is left out")
    haproxy = shutil.which("haproxy")
    if haproxy:
        configs = tempfile.TemporaryDirectory(prefix="bench-haproxy-")  # kept until the driver exits

        def configure(port, backend):
            Path(configs.name, f"haproxy-{port}.cfg").write_text(
                HAPROXY_CONFIG.format(port=port, backend=backend.removeprefix("tcp://")))

        relays.append({"name": "haproxy", "contract": False, "configure": configure, "configs": configs,
                       "command": [haproxy, "-db", "-f", str(Path(configs.name, "haproxy-{port}.cfg"))]})
    else:
        log("haproxy not installed: its relay row is left out (Debian: apt-get install haproxy)")
    if args.only:
        keep = set(args.only.split(","))
        relays = [r for r in relays if r["name"] in keep]
    return relays, {"name": "stage04-echo behind a relay", "command": [str(echo)], "one_at_a_time": False}


def raise_fd_limit():
    # Servers inherit it: holding 10,000 connections needs more than the usual 1,024.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def run(args):
    servers = discover(args)
    relays, relay_backend = discover_relays(args)
    want_http = not args.only or "http" in args.only.split(",")
    want_redis = not args.only or "redis" in args.only.split(",")
    if not servers and not relays and not want_http and not want_redis:
        sys.exit("bench: no servers to measure")
    if servers and not Path(args.bin, "echo-bench").exists():
        sys.exit(f"bench: {args.bin}/echo-bench not found: build the echo-bench target first")
    fd_limit = raise_fd_limit()
    bench = Bench(args)
    bench.relay_backend = relay_backend
    started = time.monotonic()
    load_before = os.getloadavg()[0]  # what else the machine was doing: rates mean little under load
    results = {s["name"]: {"rounds": {m: [] for m in MEASUREMENTS}} for s in servers}
    relay_results = {r["name"]: {"rounds": {m: [] for m in RELAY_MEASUREMENTS}} for r in relays}

    for r in range(args.rounds):
        for spec in servers:
            for m in MEASUREMENTS:
                if MEASUREMENTS[m][1] and spec["one_at_a_time"]:
                    continue
                log(f"round {r + 1}/{args.rounds}: {spec['name']} {m}")
                results[spec["name"]]["rounds"][m].append(bench.throughput(spec, m))
        for relay in relays:
            for m in RELAY_MEASUREMENTS:
                log(f"round {r + 1}/{args.rounds}: {relay['name']} {m} in front of stage04-echo")
                relay_results[relay["name"]]["rounds"][m].append(bench.relay_throughput(relay, m))
    for spec in servers:
        res = results[spec["name"]]
        for m in MEASUREMENTS:
            res[m] = median_report(res["rounds"][m])
        for key, (conns, msgs) in SYSCALL_RUNS.items():
            log(f"{spec['name']}: syscalls per message, {conns} connection(s)")
            res[key] = bench.syscalls(spec, conns, msgs)
        if fd_limit > HOLD_CONNECTIONS + 100:
            log(f"{spec['name']}: memory per idle connection")
            res["hold"] = bench.hold(spec)
        log(f"{spec['name']}: memory under {NOREAD_CONNECTIONS} clients that never read")
        res["noread"] = bench.noread(spec)
        del res["rounds"]
    for relay in relays:
        res = relay_results[relay["name"]]
        for m in RELAY_MEASUREMENTS:
            res[m] = median_report(res["rounds"][m])
        log(f"{relay['name']}: syscalls per message in front of stage04-echo, 50 connections")
        res["sys50"] = bench.relay_syscalls(relay)
        log(f"{relay['name']}: peak RSS under clients that never read")
        res["noread"] = bench.never_read(relay)
        del res["rounds"]
    http = http_bench.run(bench, args.bin, args.rounds, args.duration) if want_http else None
    redis = redis_bench.measure(bench, args.bin, args.rounds, log) if want_redis else None

    return {
        "machine": {**machine(), "load": [round(load_before, 2), round(os.getloadavg()[0], 2)]},
        "conditions": {
            "rounds": args.rounds, "duration_s": args.duration, "warmup_s": args.warmup,
            "pinned": bench.server_cpu is not None, "server_cpu": bench.server_cpu,
            "client_cpu": bench.client_cpu, "hold_connections": HOLD_CONNECTIONS,
            "noread_connections": NOREAD_CONNECTIONS, "noread_seconds": NOREAD_SECONDS,
            "measurements": {m: " ".join(a) for m, (a, _) in MEASUREMENTS.items()},
            "syscall_runs": SYSCALL_RUNS, "seconds": round(time.monotonic() - started, 1),
        },
        "baseline": args.baseline,
        "servers": [s["name"] for s in servers],
        "one_at_a_time": [s["name"] for s in servers if s["one_at_a_time"]],
        "results": results,
        "relays": [r["name"] for r in relays],
        "relay_results": relay_results,
        "http": http,
        "redis": redis,
        "failures": bench.failures,
    }


def main():
    here = Path(__file__).resolve().parent
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bin", default=str(here.parents[1] / "build" / "bin"), help="the build's bin directory")
    p.add_argument("--out", default=str(here.parents[1] / "diagrams"), help="where bench-results.* go")
    p.add_argument("--raw", default="bench-raw.json", help="all numbers as JSON (not committed)")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--duration", type=float, default=1.5, help="seconds measured per run")
    p.add_argument("--warmup", type=float, default=0.5, help="seconds before measuring")
    p.add_argument("--baseline", default="libuv", help="the server the ratios compare with")
    p.add_argument("--server", action="append", default=[], metavar="NAME=COMMAND",
                   help="another server: a contract server's command, or one with {port} in it")
    p.add_argument("--only", help="comma-separated names to run: servers (stage04, libuv, ...), relays "
                                   "(direct, stage04-proxy, haproxy), 'http' for the HTTP rows, 'redis' for "
                                   "the redis-benchmark rows")
    p.add_argument("--no-pin", dest="pin", action="store_false",
                   help="let the scheduler place server and client (default: pinned to two CPUs)")
    p.add_argument("--report-only", metavar="RAW", help="rewrite the report from a saved --raw file")
    p.add_argument("--docs-check", metavar="PATH",
                   help="docs-check binary: refresh the copies of the table embedded in the *.md files")
    args = p.parse_args()

    if args.report_only:
        data = json.loads(Path(args.report_only).read_text())
    else:
        data = run(args)
        Path(args.raw).write_text(json.dumps(data, indent=1))
    if data["servers"] and data["baseline"] not in data["servers"]:
        fallback = "stage03" if "stage03" in data["servers"] else data["servers"][0]
        log(f"baseline {data['baseline']} was not measured: ratios are against {fallback}")
        data["baseline"] = fallback
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "bench-results.md").write_text(bench_report.markdown(data))
    (out / "bench-results.svg").write_text(bench_report.svg(data))
    log(f"wrote {out / 'bench-results.md'} and {out / 'bench-results.svg'}"
        + (f" in {data['conditions']['seconds']} s" if not args.report_only else ""))
    if args.docs_check:
        # README.md and TUTORIAL.md embed bench-results.md; their docs test fails on a stale copy.
        r = subprocess.run([args.docs_check, "anchors", str(here.parents[1]), "--update"],
                           capture_output=True, text=True)
        log("refreshed the embedded copies" if r.returncode == 0
            else f"docs-check could not refresh everything:\n{r.stderr.strip()}")
    for f in data["failures"]:
        log(f"failed: {f}")
    return 1 if data["failures"] else 0


if __name__ == "__main__":
    sys.exit(main())

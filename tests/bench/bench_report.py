"""Turns run_bench.py's numbers into diagrams/bench-results.md and bench-results.svg."""

from html import escape

import http_bench
import redis_bench

NA = "n/a"


def get(data, server, measurement, key):
    r = data["results"].get(server, {}).get(measurement)
    return None if r is None else r.get(key)


def failed(data, server, measurement):
    # A measurement that applies to the server but has no result: echo-bench or the server failed.
    if server in data["one_at_a_time"] and measurement in ("ping50", "stream", "sys50", "hold", "noread"):
        return False
    return data["results"].get(server, {}).get(measurement) is None


def fmt(value, kind):
    if value is None:
        return NA
    if kind == "rate":
        return f"{value:,.0f}"
    if kind == "us":
        return f"{value:.0f}" if value >= 100 else f"{value:.1f}"
    if kind == "mb":
        return f"{value:,.0f}" if value >= 100 else f"{value:.1f}"
    if kind == "ratio":
        return f"{value:.2f}×"
    if kind == "calls":
        return f"{value:.2f}"
    if kind == "mib":
        return f"{value / 1024:.1f} MiB"
    if kind == "bytes":
        return f"{value:,.0f} B"
    if kind == "cpu":
        return f"{value:.2f}"
    return str(value)


def cell(data, server, measurement, key, kind):
    if failed(data, server, measurement):
        return "**FAIL**"
    return fmt(get(data, server, measurement, key), kind)


def ratio(data, server, measurement, key):
    base = get(data, data["baseline"], measurement, key)
    value = get(data, server, measurement, key)
    return None if not base or value is None else value / base


def stamp(data):
    m, c = data["machine"], data["conditions"]
    pin = (f"server pinned to CPU {c['server_cpu']}, echo-bench to CPU {c['client_cpu']}" if c["pinned"]
           else "server and echo-bench not pinned (one CPU)")
    load = (f"; load average {m['load'][0]:.2f} when it started and {m['load'][1]:.2f} when it ended"
            if m.get("load") else "")
    return (f"Measured {m['date']} on {m['cpu']} ({m['cores']} cores), Linux {m['kernel']}; {pin}{load}; "
            f"medians of {c['rounds']} rounds of {c['duration_s']} s after {c['warmup_s']} s of warm-up, "
            f"each server started fresh for each run; every echoed byte verified.")


def busy(data, server, measurement):
    r = data["results"].get(server, {}).get(measurement)
    if r is None or "server_busy" not in r:
        return cell(data, server, measurement, "server_busy", "")
    return f"{r['server_busy'] * 100:.0f}% / {r['client_busy'] * 100:.0f}%"


def syscall_cell(data, server, key):
    if failed(data, server, key):
        return "**FAIL**"
    s = data["results"].get(server, {}).get(key)
    if s is None:
        return NA
    parts = f"{s['read']:.2f} r + {s['write']:.2f} w + {s['wait']:.2f} wait"
    if s.get("ring", 0) >= 0.005:
        parts += f" + {s['ring']:.2f} io_uring_enter"
    if s["other"] >= 0.005:
        named = sorted(s.get("others", {}).items(), key=lambda kv: -kv[1])
        top = ", ".join(f"{name} {n:.2f}" for name, n in named[:2] if n >= 0.005)
        parts += f" + {s['other']:.2f} other" + (f": {top}" if top else "")
    return f"{s['total']:.2f} ({parts})"


def ratio_row(data, rows, server, label, other, measurement, key, need, lower_is_better=False):
    """A target on the ratio server / other, measured in this run: at least `need`, or at
    most `need` when lower is better."""
    if other not in data["servers"]:
        rows.append((label, f"{other} not measured", "unmeasured"))
        return
    a, b = get(data, server, measurement, key), get(data, other, measurement, key)
    if a is None or b is None or not b:
        rows.append((label, NA, "unmeasured"))
        return
    r = a / b
    met = r <= need if lower_is_better else r >= need
    status = "met" if met else f"missed by {abs(r - need) / need * 100:.0f}%"
    rows.append((label, f"{r:.2f}×", status))


def targets(data):
    """Issue-level targets for stage04, each as measured in this run."""
    if "stage04" not in data["servers"]:
        return ["stage04-echo was not built when this ran: its targets are unmeasured."]
    rows = []

    def versus(label, other, measurement, key, need):
        ratio_row(data, rows, "stage04", label, other, measurement, key, need)

    versus("ping, 50 conns: messages/s ≥ 1.0× libuv", "libuv", "ping50", "messages_per_s", 1.0)
    versus("ping, 50 conns: messages/s ≥ 1.0× libevent", "libevent", "ping50", "messages_per_s", 1.0)
    versus("ping, 50 conns: messages/s ≥ 0.95× stage03", "stage03", "ping50", "messages_per_s", 0.95)
    cpu, base_cpu = get(data, "stage04", "ping50", "cpu_s_per_million"), get(data, "libuv", "ping50", "cpu_s_per_million")
    if cpu and base_cpu:
        rows.append(("(context) ping, 50 conns: server CPU per message vs libuv, lower is better",
                     f"{cpu / base_cpu:.2f}×", "—"))
    s = get(data, "stage04", "sys50", "total")
    rows.append(("ping, 50 conns: ≤ 2.05 syscalls per message", fmt(s, "calls"),
                 NA if s is None else "met" if s <= 2.05 else f"missed by {(s - 2.05) / 2.05 * 100:.0f}%"))
    versus("stream: MB/s ≥ 1.0× libuv", "libuv", "stream", "mb_per_s", 1.0)
    # A build of an earlier stage04, measured beside it (--server stage04-before=PATH): no slower.
    if "stage04-before" in data["servers"]:
        versus("ping, 50 conns: messages/s ≥ 1.0× stage04-before", "stage04-before", "ping50", "messages_per_s", 1.0)
        versus("stream: MB/s ≥ 1.0× stage04-before", "stage04-before", "stream", "mb_per_s", 1.0)
    peak = get(data, "stage04", "stream", "peak_rss_kib")
    rows.append(("stream: peak RSS < 64 MiB", fmt(peak, "mib"),
                 NA if peak is None else "met" if peak < 64 * 1024 else "missed"))
    idle = get(data, "stage04", "hold", "bytes_per_idle_conn")
    rows.append((f"RSS per idle connection at {data['conditions']['hold_connections']:,} ≤ 256 B",
                 fmt(idle, "bytes"),
                 NA if idle is None else "met" if idle <= 256 else f"missed by {(idle - 256) / 256 * 100:.0f}%"))
    # With the default options a client that never reads costs at most high_water (1 MiB)
    # plus one 64 KiB read; 8 MiB covers the process itself.
    n = data["conditions"].get("noread_connections", 100)
    bound = n * (1024 + 64) + 8 * 1024
    noread = get(data, "stage04", "noread", "peak_rss_kib")
    rows.append((f"peak RSS, {n} clients that never read ≤ {n} × (high_water + 64 KiB) + 8 MiB = {bound / 1024:.0f} MiB",
                 fmt(noread, "mib"), NA if noread is None else "met" if noread <= bound else
                 f"missed by {(noread - bound) / bound * 100:.0f}%"))
    lines = ["| target (stage04) | measured | status |", "|---|---:|---|"]
    lines += [f"| {a} | {b} | {c} |" for a, b, c in rows]
    return lines


def relay_result(data, relay, measurement):
    return data.get("relay_results", {}).get(relay, {}).get(measurement)


def relay_get(data, relay, measurement, key):
    r = relay_result(data, relay, measurement)
    return None if r is None else r.get(key)


def relay_ratio(data, relay, other, measurement, key):
    a, b = relay_get(data, relay, measurement, key), relay_get(data, other, measurement, key)
    return None if a is None or not b else a / b


def never_read_cell(data, relay):
    r = relay_result(data, relay, "noread")
    if r is None:
        return "**FAIL**"

    def peak(side):
        grown = (r[f"{side}_peak_kib"] - r[f"{side}_base_kib"]) / 1024
        return f"{r[f'{side}_peak_kib'] / 1024:.1f} MiB (+{grown:.1f})"

    return ("—" if relay == "direct" else peak("front")) + " / " + peak("backend")


def relays(data):
    """The relay table and its targets: stage04-proxy and haproxy in front of stage04-echo."""
    names = data.get("relays") or []
    if not names:
        return []
    c = data["conditions"]
    nr = {"connections": c.get("noread_connections", 100), "seconds": c.get("noread_seconds", 3)}
    peer = "haproxy" if "haproxy" in names else None

    def cell(relay, measurement, key, kind):
        if relay_result(data, relay, measurement) is None:
            return "**FAIL**"
        return fmt(relay_get(data, relay, measurement, key), kind)

    def calls(relay):
        r = relay_result(data, relay, "sys50")
        return NA if r is None else fmt(r["total"], "calls")

    out = [
        "",
        "**Through a relay** (each relay in front of a fresh stage04-echo, the two pinned to the server's CPU; "
        "*direct* is that echo server alone, measured the same way, so × direct is what the hop costs; "
        "relay CPU and syscalls are the relay process's own)",
        "",
        "| relay | ping, 50 conns: msg/s | × direct | × haproxy | p99 µs | relay CPU µs per message "
        "| syscalls per message, 50 conns | stream, 10 conns: MB/s | × direct | × haproxy "
        "| relay CPU s per GB echoed (stream) "
        f"| peak RSS, {nr['connections']} clients that never read for {nr['seconds']:g} s: relay / echo |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for relay in names:
        out.append("| " + " | ".join([
            relay,
            cell(relay, "ping50", "messages_per_s", "rate"),
            fmt(relay_ratio(data, relay, "direct", "ping50", "messages_per_s"), "ratio"),
            fmt(relay_ratio(data, relay, peer, "ping50", "messages_per_s"), "ratio") if peer else NA,
            cell(relay, "ping50", "p99_us", "us"),
            cell(relay, "ping50", "cpu_s_per_million", "cpu"),
            calls(relay),
            cell(relay, "stream", "mb_per_s", "mb"),
            fmt(relay_ratio(data, relay, "direct", "stream", "mb_per_s"), "ratio"),
            fmt(relay_ratio(data, relay, peer, "stream", "mb_per_s"), "ratio") if peer else NA,
            cell(relay, "stream", "cpu_s_per_gb", "cpu"),
            never_read_cell(data, relay),
        ]) + " |")
    if "stage04-proxy" not in names:
        return out
    rows = []
    for label, measurement, key in (("ping, 50 conns: messages/s", "ping50", "messages_per_s"),
                                    ("stream: MB/s", "stream", "mb_per_s")):
        r = relay_ratio(data, "stage04-proxy", peer, measurement, key) if peer else None
        status = ("haproxy not measured (Debian: apt-get install haproxy)" if not peer else "unmeasured"
                  if r is None else "met" if r >= 1.0 else f"missed by {(1.0 - r) * 100:.0f}%")
        rows.append((f"{label} ≥ 1.0× haproxy, both in front of stage04-echo", fmt(r, "ratio"), status))
    if peer:
        for label, measurement, key in (("ping: relay CPU per message vs haproxy, lower is better", "ping50",
                                         "cpu_s_per_million"),
                                        ("ping: syscalls per message vs haproxy, lower is better", "sys50",
                                         "total"),
                                        ("stream: relay CPU per byte vs haproxy, lower is better", "stream",
                                         "cpu_s_per_gb")):
            rows.append((f"(context) {label}", fmt(relay_ratio(data, "stage04-proxy", peer, measurement, key),
                                                  "ratio"), "—"))
    out += ["", "| target (stage04-proxy) | measured | status |", "|---|---:|---|"]
    out += [f"| {a} | {b} | {c} |" for a, b, c in rows]
    return out


def targets_stage05(data):
    """Stage 05's targets, each as measured in this run: under one system call per echo,
    cheaper in server CPU than stage 04, and at least its stream rate."""
    if "stage05" not in data["servers"]:
        return ["stage05-echo was not built when this ran (or io_uring is refused here): its targets are "
                "unmeasured."]
    rows = []
    s = get(data, "stage05", "sys50", "total")
    rows.append(("ping, 50 conns: < 1.0 system calls per message, io_uring_enter counted", fmt(s, "calls"),
                 NA if s is None else "met" if s < 1.0 else f"missed by {(s - 1.0) / 1.0 * 100:.0f}%"))
    ratio_row(data, rows, "stage05", "ping, 50 conns: server CPU per message ≤ 0.85× stage04, lower is better",
              "stage04", "ping50", "cpu_s_per_million", 0.85, lower_is_better=True)
    ratio_row(data, rows, "stage05", "stream: MB/s ≥ 1.0× stage04", "stage04", "stream", "mb_per_s", 1.0)
    ratio_row(data, rows, "stage05", "(context) ping, 50 conns: messages/s vs stage04", "stage04", "ping50",
              "messages_per_s", 0.0)
    lines = ["| target (stage05) | measured | status |", "|---|---:|---|"]
    lines += [f"| {a} | {b} | {c if not a.startswith('(context)') else '—'} |" for a, b, c in rows]
    return lines


def markdown(data):
    base = data["baseline"]
    c = data["conditions"]
    out = [
        "<!-- Generated by tests/bench/run_bench.py (cmake --build build --target bench). Do not edit. -->",
        "",
        stamp(data) + f" Ratios (×) compare with {base}, measured in the same run.",
        "",
        "**Speed** (higher is better; latency percentiles are per message, p99 over all connections)",
        "",
        f"| server | ping, 1 conn: msg/s | p50 µs | p99 µs | ping, 50 conns: msg/s | × {base} | p99 µs "
        f"| CPU busy, server / client | stream, 10 conns: MB/s | × {base} | connect, 8 at a time: conn/s "
        f"| × {base} |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for s in data["servers"]:
        out.append("| " + " | ".join([
            s,
            cell(data, s, "ping1", "messages_per_s", "rate"),
            cell(data, s, "ping1", "p50_us", "us"),
            cell(data, s, "ping1", "p99_us", "us"),
            cell(data, s, "ping50", "messages_per_s", "rate"),
            fmt(ratio(data, s, "ping50", "messages_per_s"), "ratio"),
            cell(data, s, "ping50", "p99_us", "us"),
            busy(data, s, "ping50"),
            cell(data, s, "stream", "mb_per_s", "mb"),
            fmt(ratio(data, s, "stream", "mb_per_s"), "ratio"),
            cell(data, s, "connect", "connects_per_s", "rate"),
            fmt(ratio(data, s, "connect", "connects_per_s"), "ratio"),
        ]) + " |")
    out += [
        "",
        "**Cost** (lower is better)",
        "",
        "| server | syscalls per message, 1 conn | syscalls per message, 50 conns | server CPU µs per "
        "message (50 conns) | peak RSS, stream fire-hose | RSS per idle connection "
        f"({c['hold_connections']:,} conns) | RSS per connection after one echo each "
        f"| peak RSS, {c.get('noread_connections', 100)} clients that never read |",
        "|---|---|---|---:|---:|---:|---:|---:|",
    ]
    for s in data["servers"]:
        out.append("| " + " | ".join([
            s,
            syscall_cell(data, s, "sys1"),
            syscall_cell(data, s, "sys50"),
            cell(data, s, "ping50", "cpu_s_per_million", "cpu"),
            cell(data, s, "stream", "peak_rss_kib", "mib"),
            cell(data, s, "hold", "bytes_per_idle_conn", "bytes"),
            cell(data, s, "hold", "bytes_per_conn_after_echo", "bytes"),
            cell(data, s, "noread", "peak_rss_kib", "mib"),
        ]) + " |")
    sys_tool = next((r[k]["tool"] for r in data["results"].values() for k in ("sys1", "sys50") if r.get(k)), None)
    out += [
        "",
        "How each column is measured (all with `echo-bench`, 64-byte messages): *ping* keeps one message in "
        "flight per connection; *stream* writes without limit on 10 connections and reads everything back "
        "(peak RSS is the server's VmHWM); *connect* opens, echoes once, half-closes and waits for the "
        "server's EOF; syscalls are counted "
        + (f"with {sys_tool} " if sys_tool else "")
        + f"over {c['syscall_runs']['sys1'][1]:,} (1 conn) and {c['syscall_runs']['sys50'][1]:,} (50 conns) "
        "messages, r = read/readv/recv*, w = write/writev/send*, wait = epoll_wait/poll, io_uring_enter "
        "(stage05's one call per turn, which submits and waits) on its own; RSS per idle "
        f"connection is the server's RSS growth with {c['hold_connections']:,} connections open and silent, "
        "divided by their number (kernel socket buffers are not in RSS); the last column is the server's "
        f"VmHWM after {c.get('noread_connections', 100)} clients have sent as fast as it took bytes for "
        f"{c.get('noread_seconds', 3):g} s without reading any of the echo.",
    ]
    bound = [s for s in data["servers"] if (get(data, s, "ping50", "client_busy") or 0) >= 0.95]
    if bound:
        out += ["", f"echo-bench used ≥ 95% of its CPU in the 50-connection ping runs of {', '.join(bound)}: "
                "there the rate is what one client thread can drive, and server CPU µs per message is the "
                "fairer comparison of the servers."]
    if data["one_at_a_time"]:
        out += ["", f"n/a for {', '.join(data['one_at_a_time'])}: it serves one client at a time by design, "
                "so measurements that need concurrent connections do not apply."]
    out += ["", *targets(data), "", *targets_stage05(data)]
    out += relays(data)
    out += http_bench.markdown(data.get("http"))
    out += redis_bench.report_lines(data)
    if data["failures"]:
        out += ["", "**Failures** (echo-bench found errors, or the server misbehaved):", ""]
        out += [f"- {f}" for f in data["failures"]]
    return "\n".join(out) + "\n"


# ------------------------------------------------------------------------------ SVG

STAGE, PEER = "#4878a8", "#a3a3a3"
PARTS = [("read", "#4878a8", "read"), ("write", "#e49444", "write"), ("wait", "#6a9f58", "wait"),
         ("ring", "#8c6bb1", "io_uring_enter"), ("other", "#b9b9b9", "other")]
W, LABEL, BAR = 820, 110, 520
THROUGHPUT = ("messages_per_s", "mb_per_s", "connects_per_s")


def svg(data):
    servers = data["servers"]
    c = data["conditions"]
    panels = [
        ("ping, 50 connections: messages/s (higher is better)", "ping50", "messages_per_s", "rate"),
        ("ping, 50 connections: server CPU µs per message (lower is better)", "ping50", "cpu_s_per_million", "cpu"),
        ("stream, 10 connections: MB/s echoed (higher is better)", "stream", "mb_per_s", "mb"),
        ("connect, 8 at a time: connections/s (higher is better)", "connect", "connects_per_s", "rate"),
        ("syscalls per echoed message, 50 connections (lower is better)", "sys50", None, "calls"),
        ("peak RSS under the stream fire-hose, MiB (lower is better)", "stream", "peak_rss_kib", "mib"),
        (f"RSS per idle connection at {c['hold_connections']:,} connections, bytes (lower is better)",
         "hold", "bytes_per_idle_conn", "bytes"),
    ]
    row, y = 20, 70
    body = []
    m = data["machine"]
    body.append(text(12, 24, "echo servers side by side: every stage and two peers, one run", 16, "bold"))
    load = f" · load {m['load'][0]:.1f} to {m['load'][1]:.1f}" if m.get("load") else ""
    body.append(text(12, 44, f"{m['date']} · {m['cpu']}, {m['cores']} cores · Linux {m['kernel']}{load} · "
                     f"medians of {c['rounds']} rounds · every echoed byte verified", 12, fill="#555"))
    for title, measurement, key, kind in panels:
        body.append(text(12, y, title, 13, "bold"))
        y += 10
        values = {}
        for s in servers:
            if key is None:
                r = data["results"].get(s, {}).get(measurement)
                values[s] = r
            else:
                values[s] = get(data, s, measurement, key)
        top = max([(v["total"] if isinstance(v, dict) else v) or 0 for v in values.values()] or [0]) or 1
        for s in servers:
            v = values[s]
            body.append(text(LABEL - 8, y + 14, s, 12, anchor="end"))
            if v is None:
                note = "FAIL" if failed(data, s, measurement) else "n/a (one client at a time)" \
                    if s in data["one_at_a_time"] else "n/a"
                body.append(text(LABEL + 4, y + 14, note, 12, fill="#b00" if note == "FAIL" else "#777"))
            elif isinstance(v, dict):
                x = LABEL
                for part, colour, _ in PARTS:
                    w = BAR * v.get(part, 0) / top
                    body.append(f'<rect x="{x:.1f}" y="{y + 3}" width="{w:.1f}" height="{row - 6}" fill="{colour}"/>')
                    x += w
                body.append(text(x + 6, y + 14, fmt(v["total"], kind), 12))
            else:
                w = BAR * v / top
                colour = STAGE if s.startswith("stage") else PEER
                body.append(f'<rect x="{LABEL}" y="{y + 3}" width="{w:.1f}" height="{row - 6}" fill="{colour}"/>')
                label = fmt(v, kind)
                r = ratio(data, s, measurement, key) if key in THROUGHPUT else None
                if r is not None:
                    label += f"  ({r:.2f}× {data['baseline']})"
                body.append(text(LABEL + w + 6, y + 14, label, 12))
            y += row
        if key is None:
            x = LABEL
            for _, colour, name in PARTS:
                body.append(f'<rect x="{x}" y="{y + 4}" width="10" height="10" fill="{colour}"/>')
                body.append(text(x + 14, y + 13, name, 11))
                x += 30 + 7 * len(name)
            y += row
        y += 22
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{y}" viewBox="0 0 {W} {y}" '
            f'font-family="sans-serif">\n<rect width="{W}" height="{y}" fill="white"/>\n'
            + "\n".join(body) + "\n</svg>\n")


def text(x, y, s, size, weight="normal", anchor="start", fill="#222"):
    return (f'<text x="{x:.1f}" y="{y}" font-size="{size}" font-weight="{weight}" text-anchor="{anchor}" '
            f'fill="{fill}">{escape(str(s))}</text>')

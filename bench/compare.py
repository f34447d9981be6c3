#!/usr/bin/env python3
"""Runs every implementation on every loop workload, several rounds, in one run, and writes the
median table (with ratios to uvloop), the issue-8 targets and an SVG chart to docs/benchmarks.md and
docs/benchmarks.svg.

Usage: python3 bench/compare.py [--rounds 5] [--workloads callbacks,timers,...,echo] [--out docs/benchmarks.md]
       python3 bench/compare.py --quick     # small sizes, one round, prints the table, writes nothing
       python3 bench/compare.py --workloads echo --rounds 3   # the echo workload alone
       python3 bench/compare.py --workloads echo --echo-servers aio-epoll-protocol,aio-portable-protocol --echo-conns 10000
                                                    # both backends alone, 10,000 concurrent connections

Implementations: Aio (epoll and portable backends, bench/Aio.Bench), plain .NET on the thread pool
(bench/DotNetPeers), Node.js (bench/peers/node_workloads.js), Python asyncio and uvloop
(bench/peers/asyncio_workloads.py, run with /usr/bin/python3: Debian's python3-uvloop). A peer that
is not installed is skipped with a message. Within a round the implementations run one after the
other on each workload, so slow drifts of the machine hit them all alike. Every workload prints one
JSON line; throughput workloads report ops_per_s (higher is better), memory reports bytes_per_task
(lower is better). Benchmarks are measurements, never tests: nothing here fails on a speed.

Echo (the TCP echo workload) runs servers instead: the C epoll server of bench/peers/echo_epoll.c
(built here with the machine's gcc into a temporary directory), Aio on both APIs and both backends,
a plain .NET Socket server, uvloop and asyncio on both APIs and Node.js. For each it starts the
server (port 0: the server prints the port it got), runs a short untimed warm-up client, reads the
server's CPU time (utime + stime in /proc/PID/stat), runs the measured client (bench/Aio.Bench
echo-client, the same for every server), reads the CPU time again and stops the server. Aio servers
also report their managed allocations (SIGUSR1, see bench/Aio.Bench/EchoServer.cs) before and after,
giving bytes allocated per round trip.

The output file is made of sections: the loop workloads' and echo's (between marker comments), and
anything from a line "## Notes" onwards (hand-written analysis). A run rewrites the sections of the
workloads it ran and keeps the others as they were.
"""
import argparse
import json
import os
import platform
import resource
import select
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
AIO = ["dotnet", os.path.join(ROOT, "bench/Aio.Bench/bin/Release/net10.0/Aio.Bench.dll")]
DOTNET_PEERS = ["dotnet", os.path.join(ROOT, "bench/DotNetPeers/bin/Release/net10.0/DotNetPeers.dll")]
PY = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
PY_PEER = os.path.join(ROOT, "bench/peers/asyncio_workloads.py")
NODE_PEER = os.path.join(ROOT, "bench/peers/node_workloads.js")
LOOP_WORKLOADS = ["callbacks", "timers", "threadsafe", "tasks", "pingpong", "memory"]
WORKLOADS = LOOP_WORKLOADS + ["echo"]
PY_ECHO = os.path.join(ROOT, "bench/peers/asyncio_echo.py")
NODE_ECHO = os.path.join(ROOT, "bench/peers/node_echo.js")
C_ECHO = os.path.join(ROOT, "bench/peers/echo_epoll.c")
ECHO_BASE = "python-uvloop-protocol"
ECHO_CEILING = "c-epoll"
ECHO_BEGIN, ECHO_END = "<!-- compare.py: echo -->", "<!-- /compare.py: echo -->"
# Small sizes for --quick: enough to exercise every path, not to measure anything.
QUICK_N = {"callbacks": 50_000, "timers": 10_000, "threadsafe": 50_000, "tasks": 50_000,
           "pingpong": 10_000, "memory": 10_000}
LOWER_IS_BETTER = {"memory"}
BASE = "python-uvloop"
TIMEOUT = 600


def implementations():
    """Command builders by implementation name, in table order; absent peers are skipped."""
    impls = {
        "aio-epoll": lambda w: AIO + [w, "--backend", "epoll"],
        "aio-portable": lambda w: AIO + [w, "--backend", "portable"],
        "dotnet-threadpool": lambda w: DOTNET_PEERS + [w],
    }
    node = shutil.which("node")
    if node:
        impls["node"] = lambda w: [node] + (["--expose-gc"] if w == "memory" else []) + [NODE_PEER, w]
    else:
        print("skipping node: not installed (apt-get install nodejs)", file=sys.stderr)
    if subprocess.run([PY, "-c", "import uvloop"], capture_output=True).returncode == 0:
        impls["python-uvloop"] = lambda w: [PY, PY_PEER, w, "--loop", "uvloop"]
    else:
        print("skipping python-uvloop: not installed (apt-get install python3-uvloop)", file=sys.stderr)
    impls["python-asyncio"] = lambda w: [PY, PY_PEER, w, "--loop", "asyncio"]
    return impls


def run(command, workload):
    """One run: the workload's figure, or None (with a message) when the command failed."""
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        print(f"timed out after {TIMEOUT} s: {' '.join(command)}", file=sys.stderr)
        return None
    if done.returncode != 0 or not done.stdout.strip():
        print(f"failed ({done.returncode}): {' '.join(command)}\n{done.stderr.strip()}", file=sys.stderr)
        return None
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return result["bytes_per_task" if workload == "memory" else "ops_per_s"]


# ---- echo ---------------------------------------------------------------------------------------

def echo_servers(workdir):
    """Echo server commands (given the port) by name, in table order, and whether each one answers
    the allocation probe (SIGUSR1); absent peers are skipped with a message."""
    servers = {}
    gcc = shutil.which("gcc")
    if gcc:
        binary = os.path.join(workdir, "echo_epoll")
        built = subprocess.run([gcc, "-O2", "-o", binary, C_ECHO], capture_output=True, text=True)
        if built.returncode == 0:
            servers["c-epoll"] = (lambda p: [binary, "--port", p], False)
        else:
            print(f"skipping c-epoll: gcc failed:\n{built.stderr}", file=sys.stderr)
    else:
        print("skipping c-epoll: gcc is not installed (apt-get install gcc)", file=sys.stderr)
    for backend in ("epoll", "portable"):
        for api in ("protocol", "streams") if backend == "portable" else ("protocol", "streams", "streams-bytes"):
            servers[f"aio-{backend}-{api}"] = (
                lambda p, b=backend, a=api: AIO + ["echo-server", "--port", p, "--api", a, "--backend", b], True)
    servers["dotnet-socket"] = (lambda p: DOTNET_PEERS + ["echo-server", "--port", p], False)
    loops = ["uvloop", "asyncio"]
    if subprocess.run([PY, "-c", "import uvloop"], capture_output=True).returncode != 0:
        print("skipping python-uvloop echo servers: not installed (apt-get install python3-uvloop)", file=sys.stderr)
        loops.remove("uvloop")
    for loop in loops:
        for api in ("protocol", "streams"):
            servers[f"python-{loop}-{api}"] = (
                lambda p, l=loop, a=api: [PY, PY_ECHO, "--port", p, "--api", a, "--loop", l], False)
    node = shutil.which("node")
    if node:
        servers["node"] = (lambda p: [node, NODE_ECHO, "--port", p], False)
    else:
        print("skipping node echo server: not installed (apt-get install nodejs)", file=sys.stderr)
    return servers


class LineReader:
    """Lines from a child's standard output, with a timeout (the child must not block us)."""

    def __init__(self, stream):
        self.fd = stream.fileno()
        self.pending = b""

    def line(self, timeout):
        deadline = time.monotonic() + timeout
        while b"\n" not in self.pending:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.fd], [], [], left)[0]:
                return None
            chunk = os.read(self.fd, 4096)
            if not chunk:
                return None
            self.pending += chunk
        line, self.pending = self.pending.split(b"\n", 1)
        return line.decode()


def cpu_seconds(pid):
    """The process's CPU time so far (utime + stime, every thread, in /proc/PID/stat)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def echo_client(port, conns, size, seconds, mode):
    command = AIO + ["echo-client", "--port", str(port), "--conns", str(conns), "--size", str(size),
                     "--seconds", str(seconds), "--mode", mode]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 120)
    except subprocess.TimeoutExpired:
        print(f"timed out: {' '.join(command)}", file=sys.stderr)
        return None
    if done.returncode != 0 or not done.stdout.strip():
        print(f"echo client failed ({done.returncode}): {done.stderr.strip()}", file=sys.stderr)
        return None
    return json.loads(done.stdout.strip().splitlines()[-1])


def echo_run(name, command, probes, conns, size, seconds, warmup, mode):
    """One server, one measured client run: a dict of figures, or None (with a message) on failure."""
    with tempfile.TemporaryFile() as errors:
        server = subprocess.Popen(command("0"), stdout=subprocess.PIPE, stderr=errors, stdin=subprocess.DEVNULL)
        out = LineReader(server.stdout)
        try:
            first = out.line(60)
            if first is None:
                errors.seek(0)
                print(f"{name}: the server did not start: {errors.read().decode().strip()}", file=sys.stderr)
                return None
            port = json.loads(first)["port"]

            def probe():
                if not probes:
                    return None
                server.send_signal(signal.SIGUSR1)
                line = out.line(30)
                return json.loads(line)["allocated_bytes"] if line else None

            if warmup > 0:
                echo_client(port, conns, size, warmup, mode)
            allocated0, cpu0 = probe(), cpu_seconds(server.pid)
            result = echo_client(port, conns, size, seconds, mode)
            cpu1, allocated1 = cpu_seconds(server.pid), probe()
            if result is None:
                return None
            trips = result["round_trips"]
            figures = {"rps": result["rps"], "p50_us": result["p50_us"], "p99_us": result["p99_us"],
                       "cpu_us": (cpu1 - cpu0) * 1e6 / trips, "alloc_b": None}
            if allocated0 is not None and allocated1 is not None:
                figures["alloc_b"] = (allocated1 - allocated0) / trips
            return figures
        finally:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                print(f"{name}: the server ignored SIGTERM; killed", file=sys.stderr)
                server.kill()
                server.wait()
            server.stdout.close()


def echo_table(samples):
    """Medians per server and figure; None where a server never completed a run."""
    table = {}
    for name, runs in samples.items():
        if not runs:
            table[name] = None
            continue
        table[name] = {k: (statistics.median(r[k] for r in runs) if all(r[k] is not None for r in runs) else None)
                       for k in runs[0]}
    return table


def echo_targets(table):
    """Issue 8's echo targets: (implementation, target, measured, met)."""
    def get(name, key):
        row = table.get(name)
        return row.get(key) if row else None

    rows = []
    a_rps, a_cpu, c_rps, c_cpu = (get("aio-epoll-protocol", "rps"), get("aio-epoll-protocol", "cpu_us"),
                                  get(ECHO_CEILING, "rps"), get(ECHO_CEILING, "cpu_us"))
    if a_rps and c_rps and a_cpu and c_cpu:
        rows.append(("aio-epoll-protocol", "round trips/s ≥ 0.95× and CPU per round trip ≤ 1.2× the C epoll server",
                     f"{a_rps / c_rps:.2f}× rps, {a_cpu / c_cpu:.2f}× CPU", a_rps / c_rps >= 0.95 and a_cpu / c_cpu <= 1.2))
    s_rps, s_cpu = get("aio-epoll-streams", "rps"), get("aio-epoll-streams", "cpu_us")
    up_cpu, us_rps = get("python-uvloop-protocol", "cpu_us"), get("python-uvloop-streams", "rps")
    if s_rps and s_cpu and up_cpu and us_rps:
        rows.append(("aio-epoll-streams", "CPU per round trip ≤ uvloop protocol's; round trips/s ≥ 1.3× uvloop streams",
                     f"{s_cpu / up_cpu:.2f}× uvloop protocol's CPU, {s_rps / us_rps:.2f}× uvloop streams' rps",
                     s_cpu <= up_cpu and s_rps / us_rps >= 1.3))
    for name in ("aio-epoll-protocol", "aio-epoll-streams"):
        alloc = get(name, "alloc_b")
        if alloc is not None:
            rows.append((name, "0 bytes allocated per echo round trip (steady state)", f"{alloc:.1f} B", alloc < 1))
    return rows


def echo_markdown(table, names):
    """The echo table: medians and the ratios issue 8's targets are stated in."""
    def ratio(name, key, base):
        v, b = (table[name] or {}).get(key), (table.get(base) or {}).get(key)
        return f"{v / b:.2f}" if v and b else "—"

    lines = ["| server | round trips/s | p50 µs | p99 µs | server CPU µs / round trip | allocated B / round trip "
             "| rps ÷ uvloop protocol | CPU ÷ uvloop protocol | rps ÷ C epoll | CPU ÷ C epoll |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for name in names:
        row = table[name]
        if row is None:
            lines.append(f"| {name} | — | — | — | — | — | — | — | — | — |")
            continue
        alloc = "—" if row["alloc_b"] is None else f"{row['alloc_b']:.1f}"
        lines.append(f"| {name} | {row['rps'] / 1e3:.1f}k | {row['p50_us']:.0f} | {row['p99_us']:.0f} | {row['cpu_us']:.2f} "
                     f"| {alloc} | {ratio(name, 'rps', ECHO_BASE)} | {ratio(name, 'cpu_us', ECHO_BASE)} "
                     f"| {ratio(name, 'rps', ECHO_CEILING)} | {ratio(name, 'cpu_us', ECHO_CEILING)} |")
    return lines


def fmt(workload, v):
    if v is None:
        return "—"
    if workload == "memory":
        return f"{v:.0f} B"
    return f"{v / 1e6:.3f}M" if v >= 1e5 else f"{v / 1e3:.1f}k"


def advantage(workload, v, base):
    """How many times better than base (above 1: v is better), whichever way the figure points."""
    if v is None or not base:
        return None
    if workload in LOWER_IS_BETTER:
        return base / v if v > 0 else float("inf")
    return v / base


def targets(table):
    """The issue-8 targets the loop workloads can check: (workload, target, figures, met)."""
    def get(w, i):
        return table.get(w, {}).get(i)

    rows = []
    for aio in ("aio-epoll", "aio-portable"):
        checks = []
        for w, factor in (("callbacks", 10), ("timers", 5), ("threadsafe", 5)):
            a, u = get(w, aio), get(w, BASE)
            if a and u:
                checks.append((w, f"≥ {factor}× uvloop", f"{a / u:.1f}×", a / u >= factor))
        a, u, p = get("tasks", aio), get("tasks", BASE), get("tasks", "dotnet-threadpool")
        if a and u and p:
            checks.append(("tasks", "≥ 5× uvloop and ≥ 1.5× the .NET thread pool",
                           f"{a / u:.1f}× uvloop, {a / p:.2f}× pool", a / u >= 5 and a / p >= 1.5))
        a, u, p = get("pingpong", aio), get("pingpong", BASE), get("pingpong", "dotnet-threadpool")
        if a and u and p:
            checks.append(("pingpong", "≥ 5× uvloop and ahead of Channel<T> on the pool",
                           f"{a / u:.1f}× uvloop, {a / p:.2f}× Channel<T>", a / u >= 5 and a > p))
        a, py = get("memory", aio), get("memory", "python-asyncio")
        if a and py:
            checks.append(("memory", "≤ 1/3 of asyncio's bytes per suspended task",
                           f"{a:.0f} B vs {py:.0f} B ({a / py:.2f} of asyncio)", a <= py / 3))
        rows.append((aio, checks))
    return rows


COLORS = {"aio-epoll": "#2b6cb0", "aio-portable": "#63b3ed", "dotnet-threadpool": "#805ad5",
          "dotnet-socket": "#805ad5", "node": "#2f855a", "python-uvloop": "#c05621",
          "python-asyncio": "#dd6b20", "c-epoll": "#4a5568"}


def color(name):
    """An implementation's colour; echo servers take their family's (aio-epoll-streams: aio-epoll)."""
    return next((c for prefix, c in sorted(COLORS.items(), key=lambda kv: -len(kv[0])) if name.startswith(prefix)), "#718096")


def bars(groups, path):
    """Horizontal bars, one group per (title, [(name, value, text)]), each bar scaled to the group's largest value."""
    row, width, label = 18, 420, 170
    height = sum(len(items) * row + 24 for _, items in groups) + 20
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{label + width + 120}" height="{height}" '
             f'font-family="sans-serif" font-size="12">',
             f'<rect width="100%" height="100%" fill="white"/>']
    y = 10
    for title, items in groups:
        parts.append(f'<text x="0" y="{y + 12}" font-weight="bold">{title}</text>')
        y += 18
        top = max((v for _, v, _ in items), default=0) or 1
        for name, v, text in items:
            bar = max(1, int(width * v / top))
            parts.append(f'<text x="8" y="{y + 12}">{name}</text>')
            parts.append(f'<rect x="{label}" y="{y + 2}" width="{bar}" height="{row - 4}" fill="{color(name)}"/>')
            parts.append(f'<text x="{label + bar + 4}" y="{y + 12}">{text}</text>')
            y += row
        y += 6
    parts.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(parts) + "\n")


def chart(table, impls, workloads, path):
    """The loop workloads' chart: one group per workload."""
    groups = []
    for w in workloads:
        title = f"{w} (bytes per suspended task, lower is better)" if w in LOWER_IS_BETTER else f"{w} (ops/s, higher is better)"
        items = [(i, table[w][i], f"{table[w][i]:.0f} B" if w in LOWER_IS_BETTER else f"{table[w][i] / 1e6:.2f} M/s")
                 for i in impls if table[w].get(i) is not None]
        groups.append((title, items))
    bars(groups, path)


def echo_chart(table, names, path):
    """The echo chart: round trips/s, and the server's CPU time per round trip."""
    rows = [(n, table[n]) for n in names if table[n] is not None]
    bars([("echo: round trips/s (10 connections × 1 KiB by default; higher is better)",
           [(n, r["rps"], f"{r['rps'] / 1e3:.1f}k/s") for n, r in rows]),
          ("echo: server CPU µs per round trip (lower is better)",
           [(n, r["cpu_us"], f"{r['cpu_us']:.2f} µs") for n, r in rows])], path)


def version(command):
    try:
        return subprocess.run(command, capture_output=True, text=True, timeout=30).stdout.strip().splitlines()[0]
    except (OSError, IndexError, subprocess.TimeoutExpired):
        return None


def machine():
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")),
               platform.processor())
    mem = next((int(line.split()[1]) for line in open("/proc/meminfo") if line.startswith("MemTotal")), 0)
    parts = [f"{cpu}, {os.cpu_count()} cores, {mem / 1024 / 1024:.0f} GiB", f"{platform.system()} {platform.release()}"]
    dotnet = version(["dotnet", "--version"])
    if dotnet:
        parts.append(f".NET SDK {dotnet}")
    parts.append(f"Python {version([PY, '-c', 'import platform; print(platform.python_version())'])}")
    uv = version([PY, "-c", "import uvloop; print(uvloop.__version__)"])
    if uv:
        parts.append(f"uvloop {uv}")
    node = version(["node", "--version"]) if shutil.which("node") else None
    if node:
        parts.append(f"Node.js {node}")
    return "; ".join(parts)


def load():
    """The 1-minute load average: the machine may be shared, and the figures mean less when it is busy."""
    try:
        with open("/proc/loadavg") as f:
            return float(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def source():
    """Which Aio was measured: the commit, and whether src/ had uncommitted changes."""
    head = version(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"])
    if not head:
        return "Aio from a tree outside git"
    dirty = subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "--", "src"], capture_output=True, text=True).stdout.strip()
    return f"Aio at commit {head}" + (" with uncommitted changes in src/" if dirty else "")


def loop_section(table, samples, workloads, names, rounds, loads, svg):
    """The loop workloads' part of the output file (Markdown, without the file's title)."""
    lines, spread, goal = loop_tables(table, samples, workloads, names)
    sizes = "callbacks 1,000,000; timers 200,000; threadsafe 1,000,000; tasks 100,000 × 10 steps; pingpong 200,000 round trips; memory 100,000 tasks"
    text = [f"Median of {rounds} rounds, every implementation in the same run on the same machine, produced by "
            "`python3 bench/compare.py` (workloads as defined in docs/design.md \"Performance design\"; sizes: "
            f"{sizes}). Throughput workloads: operations per second (higher is better). Memory: bytes of "
            "resident memory per suspended task (lower is better). In brackets: how many times better than "
            "uvloop (above 1: better than uvloop, for memory too).\n\n",
            f"Machine: {machine()}. {source()}.\n\n", load_note(loads),
            "\n".join(lines) + "\n\n", f"![chart]({os.path.basename(svg)})\n\n",
            "## Targets (issue 8)\n\n",
            "Computed from the medians above. The echo targets are in the echo section below; the steady-state "
            "allocation target for call soon, thread-safe post and sleep(0) is checked by the BenchmarkDotNet "
            "micro benchmarks (`bench/Aio.Micro`).\n\n",
            "\n".join(goal) + "\n\n",
            f"## Spread (lowest – highest of the {rounds} rounds)\n\n", "\n".join(spread) + "\n\n",
            "## What each peer runs\n\n"
            "- **aio-epoll / aio-portable**: `bench/Aio.Bench` on each backend: `CallSoon` with the state "
            "overload, `CallLater`, `CallSoonThreadSafe` from one other thread, `async LoopTask` methods awaiting "
            "`LoopTask.Yield()`, two `AsyncQueue<int>`, `async LoopTask` methods awaiting one `Future<bool>` (Aio's "
            "native coroutines; `tasks-delegate` / `memory-delegate` measure `loop.CreateTask(async () => ...)`).\n"
            "- **dotnet-threadpool**: `bench/DotNetPeers`, no loop: a self-requeuing "
            "`IThreadPoolWorkItem` (global queue), one-shot `System.Threading.Timer`s, thread-pool posts "
            "from one thread counted with `Interlocked` (run in parallel by the pool), `async Task` "
            "awaiting `Task.Yield()`, two unbounded single-reader/single-writer `Channel<int>`, async "
            "methods awaiting one `TaskCompletionSource`.\n"
            "- **node**: `bench/peers/node_workloads.js`: a `setImmediate` chain (the analogue of "
            "call_soon: a turn of the event loop, not a microtask), `setTimeout`, a `worker_threads` "
            "worker posting messages to the main thread, async functions awaiting a "
            "`setImmediate`-based promise, a minimal promise queue (hand-offs through microtasks), async "
            "functions awaiting one promise (`--expose-gc`).\n"
            "- **python-uvloop / python-asyncio**: `bench/peers/asyncio_workloads.py`: `call_soon`, "
            "`call_later`, `call_soon_threadsafe`, `asyncio.sleep(0)`, two `asyncio.Queue`, tasks "
            "awaiting one future.\n\n"
            "Every throughput run does an untimed warm-up pass of the same size first. Memory is "
            "measured the same way everywhere: a fresh process, a warm-up pass of 1% of the tasks, "
            "a full collection, VmRSS, the tasks created and run until all are suspended, a full "
            "collection, VmRSS again.\n"]
    return "".join(text)


def loop_tables(table, samples, workloads, names):
    lines = ["| workload | " + " | ".join(names) + " |", "|---|" + "---:|" * len(names)]
    for w in workloads:
        base = table[w].get(BASE)
        cells = []
        for i in names:
            v = table[w][i]
            ratio = advantage(w, v, base)
            cells.append(fmt(w, v) + (f" ({ratio:.1f}×)" if ratio is not None else ""))
        lines.append(f"| {w} | " + " | ".join(cells) + " |")
    spread = ["| workload | " + " | ".join(names) + " |", "|---|" + "---:|" * len(names)]
    for w in workloads:
        cells = [f"{fmt(w, min(s))} – {fmt(w, max(s))}" if s else "—" for s in (samples[w][i] for i in names)]
        spread.append(f"| {w} | " + " | ".join(cells) + " |")
    goal = ["| implementation | workload | target | measured | met |", "|---|---|---|---|---|"]
    for aio, checks in targets(table):
        for w, target, measured, met in checks:
            goal.append(f"| {aio} | {w} | {target} | {measured} | {'yes' if met else '**no**'} |")
    return lines, spread, goal


def echo_goal(table):
    goal = ["| implementation | target | measured | met |", "|---|---|---|---|"]
    for name, target, measured, met in echo_targets(table):
        goal.append(f"| {name} | {target} | {measured} | {'yes' if met else '**no**'} |")
    return goal


def echo_section(table, samples, names, rounds, loads, svg, echo):
    """The echo part of the output file, between its markers."""
    spread = ["| server | round trips/s | server CPU µs / round trip |", "|---|---:|---:|"]
    for n in names:
        runs = samples[n]
        spread.append(f"| {n} | " + (f"{min(r['rps'] for r in runs) / 1e3:.1f}k – {max(r['rps'] for r in runs) / 1e3:.1f}k | "
                                     f"{min(r['cpu_us'] for r in runs):.2f} – {max(r['cpu_us'] for r in runs):.2f} |"
                                     if runs else "— | — |"))
    text = [ECHO_BEGIN + "\n## Echo (issue 8)\n\n",
            f"Median of {rounds} rounds, every server in the same run on the same machine, produced by "
            "`python3 bench/compare.py --workloads echo` (or a full run). TCP echo on 127.0.0.1: the load "
            f"client (`bench/Aio.Bench echo-client --mode {echo['mode']}`, the same for every server) keeps "
            f"{echo['conns']} connections, each sending {echo['size']} bytes and waiting for all of them back "
            f"before sending again, for {echo['seconds']} s after a {echo['warmup']} s warm-up run. Latency: per "
            "round trip, from the send to the last byte back. Server CPU: utime + stime of the server process "
            "(every thread) from `/proc/PID/stat` over the measured run, divided by the round trips; it stays "
            "meaningful when the client is the bottleneck. Allocated: the Aio server's managed allocations "
            "over the measured run (`GC.GetTotalAllocatedBytes`, read on SIGUSR1), per round trip. Ratios are "
            "plain quotients of the medians (for CPU, below 1 is better).\n\n",
            f"Machine: {machine()}. {source()}.\n\n", load_note(loads),
            "\n".join(echo_markdown(table, names)) + "\n\n", f"![echo chart]({os.path.basename(svg)})\n\n",
            "### Echo targets\n\n", "\n".join(echo_goal(table)) + "\n\n",
            f"### Echo spread (lowest – highest of the {rounds} rounds)\n\n", "\n".join(spread) + "\n\n",
            "### What each echo server runs\n\n"
            "Every server reads up to 64 KiB per read and writes back what it read, on 127.0.0.1, "
            "TCP_NODELAY on, until the client closes.\n\n"
            "- **c-epoll**: `bench/peers/echo_epoll.c` (gcc -O2): one thread, level-triggered epoll, "
            "non-blocking sockets, recv then send (what the kernel does not take waits for EPOLLOUT).\n"
            "- **aio-{epoll,portable}-protocol**: `bench/Aio.Bench echo-server --api protocol`: a `Protocol` "
            "whose `DataReceived` calls `transport.Write(data)`.\n"
            "- **aio-{epoll,portable}-streams**: `bench/Aio.Bench echo-server --api streams`: "
            "`Streams.StartServerAsync` with `await reader.ReadAsync(buffer)` into one 64 KiB buffer per "
            "connection from `ArrayPool<byte>.Shared` (`ReadAsync(Memory<byte>)`, the .NET form of `read(n)`: it returns the count), "
            "`writer.Write(buffer[..count])`, `await writer.DrainAsync()` in a loop.\n"
            "- **aio-epoll-streams-bytes**: `bench/Aio.Bench echo-server --api streams-bytes`: the same loop "
            "with `await reader.ReadAsync(65536)`, which returns a new `byte[]` per read as asyncio's "
            "`read(65536)` returns new `bytes`.\n"
            "- **dotnet-socket**: `bench/DotNetPeers echo-server`: `Socket.AcceptAsync`, one async method "
            "per connection with `ReceiveAsync`/`SendAsync` on `Memory<byte>`, on the thread pool.\n"
            "- **python-{uvloop,asyncio}-protocol / -streams**: `bench/peers/asyncio_echo.py`: an "
            "`asyncio.Protocol` writing back in `data_received`; `asyncio.start_server` with "
            "`read(65536)`/`write`/`drain`.\n"
            "- **node**: `bench/peers/node_echo.js`: `net.createServer`, `socket.write(data)` on every "
            "`data` event.\n" + ECHO_END + "\n"]
    return "".join(text)


def load_note(loads):
    known = [x for x in loads if x is not None]
    if not known:
        return ""
    return (f"Load average (1 min) at the start and after each round: {', '.join(f'{x:.1f}' for x in known)} "
            f"on {os.cpu_count()} cores (anything well above 0 means other work shared the machine "
            "during the run, which makes every figure lower and the spread wider).\n\n")


def split_output(path):
    """The existing output file as (loop section, echo section, notes); empty strings where absent."""
    if not os.path.exists(path):
        return "", "", ""
    with open(path) as f:
        text = f.read()
    notes = ""
    at = text.find("\n## Notes")
    if at >= 0:
        text, notes = text[:at + 1], text[at + 1:]
    echo = ""
    begin, end = text.find(ECHO_BEGIN), text.find(ECHO_END)
    if begin >= 0 and end > begin:
        echo = text[begin:end + len(ECHO_END)] + "\n"
        text = text[:begin] + text[end + len(ECHO_END):].lstrip("\n")
    title = "# Benchmarks\n\n"
    loop = text[len(title):] if text.startswith(title) else text
    return loop.rstrip("\n") + "\n" if loop.strip() else "", echo, notes


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int)
    parser.add_argument("--workloads", default=",".join(WORKLOADS), help=f"comma-separated, of: {', '.join(WORKLOADS)}")
    parser.add_argument("--out", help="default: docs/benchmarks.md (with --quick: write nothing)")
    parser.add_argument("--quick", action="store_true", help="small sizes, one round: checks that everything runs")
    parser.add_argument("--echo-conns", type=int, default=10)
    parser.add_argument("--echo-size", type=int, default=1024)
    parser.add_argument("--echo-seconds", type=float, help="measured client run per server (default 5; --quick: 0.5)")
    parser.add_argument("--echo-mode", choices=["loop", "threads"], default="loop",
                        help="how the load client drives its connections (see bench/Aio.Bench/EchoClient.cs)")
    parser.add_argument("--echo-servers", help="comma-separated echo servers to run (default: all), e.g. aio-epoll-protocol,aio-portable-protocol")
    args = parser.parse_args()

    # Many connections need many descriptors in the client and in each server (they inherit ours):
    # raise the soft limit to the hard one, and say so when that is too low for the run.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and (hard == resource.RLIM_INFINITY or hard > soft):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        soft = hard
    if soft != resource.RLIM_INFINITY and soft < args.echo_conns + 100:
        print(f"warning: RLIMIT_NOFILE is {soft}: {args.echo_conns} connections need more (raise the hard limit, ulimit -Hn)", file=sys.stderr)
    workloads = args.workloads.split(",")
    unknown = [w for w in workloads if w not in WORKLOADS]
    if unknown:
        parser.error(f"unknown workloads: {', '.join(unknown)}")
    loop_workloads = [w for w in workloads if w in LOOP_WORKLOADS]
    run_echo = "echo" in workloads
    rounds = args.rounds or (1 if args.quick else 5)
    out = args.out or (None if args.quick else os.path.join(ROOT, "docs/benchmarks.md"))
    echo = {"conns": args.echo_conns, "size": args.echo_size, "mode": args.echo_mode,
            "seconds": args.echo_seconds or (0.5 if args.quick else 5), "warmup": 0.2 if args.quick else 1}

    for project in ("bench/Aio.Bench", "bench/DotNetPeers"):
        build = subprocess.run(["dotnet", "build", "-c", "Release", os.path.join(ROOT, project)], capture_output=True, text=True)
        if build.returncode != 0:
            sys.exit(f"building {project} failed:\n{build.stdout}{build.stderr}")
    workdir = tempfile.mkdtemp(prefix="aio-compare-")
    try:
        impls = implementations() if loop_workloads else {}
        servers = echo_servers(workdir) if run_echo else {}
        if args.echo_servers:
            wanted = args.echo_servers.split(",")
            unknown = [n for n in wanted if n not in servers]
            if unknown:
                sys.exit(f"unknown or unavailable echo servers: {', '.join(unknown)} (known: {', '.join(servers)})")
            servers = {n: servers[n] for n in wanted}
        loads = [load()]
        samples = {w: {i: [] for i in impls} for w in loop_workloads}
        echo_samples = {n: [] for n in servers}
        for r in range(rounds):
            for w in loop_workloads:
                for i, command in impls.items():
                    argv = command(w) + (["--n", str(QUICK_N[w])] if args.quick else [])
                    v = run(argv, w)
                    if v is not None:
                        samples[w][i].append(v)
            for n, (command, probes) in servers.items():
                figures = echo_run(n, command, probes, echo["conns"], echo["size"], echo["seconds"], echo["warmup"], echo["mode"])
                if figures is not None:
                    echo_samples[n].append(figures)
            loads.append(load())
            print(f"round {r + 1}/{rounds} done", file=sys.stderr)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    table = {w: {i: (statistics.median(v) if v else None) for i, v in samples[w].items()} for w in loop_workloads}
    names = list(impls)
    echo_medians = echo_table(echo_samples)
    echo_names = list(servers)
    if loop_workloads:
        lines, _, goal = loop_tables(table, samples, loop_workloads, names)
        print("\n".join(lines))
        print()
        print("\n".join(goal))
        print()
    if run_echo:
        print("\n".join(echo_markdown(echo_medians, echo_names)))
        print()
        print("\n".join(echo_goal(echo_medians)))
    if out is None:
        return

    loop_text, echo_text, notes = split_output(out)
    base = os.path.splitext(out)[0]
    if loop_workloads:
        svg = base + ".svg"
        chart(table, names, loop_workloads, svg)
        loop_text = loop_section(table, samples, loop_workloads, names, rounds, loads, svg)
    if run_echo:
        svg = base + "-echo.svg"
        echo_chart(echo_medians, echo_names, svg)
        echo_text = echo_section(echo_medians, echo_samples, echo_names, rounds, loads, svg, echo)
    with open(out, "w") as f:
        f.write("# Benchmarks\n\n")
        f.write(loop_text)
        if echo_text:
            f.write("\n" + echo_text)
        if notes:
            f.write("\n" + notes)
    print(f"wrote {out}", file=sys.stderr)


if __name__ == "__main__":
    main()

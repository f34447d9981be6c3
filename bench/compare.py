#!/usr/bin/env python3
"""Runs every implementation on every loop workload, several rounds, in one run, and writes the
median table (with ratios to uvloop), the issue-8 targets and an SVG chart to docs/benchmarks.md and
docs/benchmarks.svg.

Usage: python3 bench/compare.py [--rounds 5] [--workloads callbacks,timers,...] [--out docs/benchmarks.md]
       python3 bench/compare.py --quick     # small sizes, one round, prints the table, writes nothing

Implementations: Aio (epoll and portable backends, bench/Aio.Bench), plain .NET on the thread pool
(bench/DotNetPeers), Node.js (bench/peers/node_workloads.js), Python asyncio and uvloop
(bench/peers/asyncio_workloads.py, run with /usr/bin/python3: Debian's python3-uvloop). A peer that
is not installed is skipped with a message. Within a round the implementations run one after the
other on each workload, so slow drifts of the machine hit them all alike. Every workload prints one
JSON line; throughput workloads report ops_per_s (higher is better), memory reports bytes_per_task
(lower is better). Benchmarks are measurements, never tests: nothing here fails on a speed.

Anything from a line "## Notes" onwards in the existing output file is kept (hand-written analysis).
"""
import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
AIO = ["dotnet", os.path.join(ROOT, "bench/Aio.Bench/bin/Release/net10.0/Aio.Bench.dll")]
DOTNET_PEERS = ["dotnet", os.path.join(ROOT, "bench/DotNetPeers/bin/Release/net10.0/DotNetPeers.dll")]
PY = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
PY_PEER = os.path.join(ROOT, "bench/peers/asyncio_workloads.py")
NODE_PEER = os.path.join(ROOT, "bench/peers/node_workloads.js")
WORKLOADS = ["callbacks", "timers", "threadsafe", "tasks", "pingpong", "memory"]
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


def chart(table, impls, workloads, path):
    """Horizontal bars, one group per workload, each bar scaled to the group's largest figure."""
    colors = {"aio-epoll": "#2b6cb0", "aio-portable": "#63b3ed", "dotnet-threadpool": "#805ad5",
              "node": "#2f855a", "python-uvloop": "#c05621", "python-asyncio": "#dd6b20"}
    row, width, label = 18, 420, 140
    height = sum(sum(1 for i in impls if table[w].get(i) is not None) * row + 24 for w in workloads) + 20
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{label + width + 120}" height="{height}" '
             f'font-family="sans-serif" font-size="12">',
             f'<rect width="100%" height="100%" fill="white"/>']
    y = 10
    for w in workloads:
        title = f"{w} (bytes per suspended task, lower is better)" if w in LOWER_IS_BETTER else f"{w} (ops/s, higher is better)"
        parts.append(f'<text x="0" y="{y + 12}" font-weight="bold">{title}</text>')
        y += 18
        top = max((table[w].get(i) or 0) for i in impls) or 1
        for i in impls:
            v = table[w].get(i)
            if v is None:
                continue
            bar = max(1, int(width * v / top))
            parts.append(f'<text x="8" y="{y + 12}">{i}</text>')
            parts.append(f'<rect x="{label}" y="{y + 2}" width="{bar}" height="{row - 4}" fill="{colors.get(i, "#718096")}"/>')
            text = f"{v:.0f} B" if w in LOWER_IS_BETTER else f"{v / 1e6:.2f} M/s"
            parts.append(f'<text x="{label + bar + 4}" y="{y + 12}">{text}</text>')
            y += row
        y += 6
    parts.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(parts) + "\n")


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


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int)
    parser.add_argument("--workloads", default=",".join(WORKLOADS))
    parser.add_argument("--out", help="default: docs/benchmarks.md (with --quick: write nothing)")
    parser.add_argument("--quick", action="store_true", help="small sizes, one round: checks that everything runs")
    args = parser.parse_args()
    workloads = args.workloads.split(",")
    unknown = [w for w in workloads if w not in WORKLOADS]
    if unknown:
        parser.error(f"unknown workloads: {', '.join(unknown)}")
    rounds = args.rounds or (1 if args.quick else 5)
    out = args.out or (None if args.quick else os.path.join(ROOT, "docs/benchmarks.md"))

    for project in ("bench/Aio.Bench", "bench/DotNetPeers"):
        build = subprocess.run(["dotnet", "build", "-c", "Release", os.path.join(ROOT, project)], capture_output=True, text=True)
        if build.returncode != 0:
            sys.exit(f"building {project} failed:\n{build.stdout}{build.stderr}")
    impls = implementations()
    loads = [load()]
    samples = {w: {i: [] for i in impls} for w in workloads}
    for r in range(rounds):
        for w in workloads:
            for i, command in impls.items():
                argv = command(w) + (["--n", str(QUICK_N[w])] if args.quick else [])
                v = run(argv, w)
                if v is not None:
                    samples[w][i].append(v)
        loads.append(load())
        print(f"round {r + 1}/{rounds} done", file=sys.stderr)

    table = {w: {i: (statistics.median(v) if v else None) for i, v in samples[w].items()} for w in workloads}
    names = list(impls)
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

    print("\n".join(lines))
    print()
    print("\n".join(goal))
    if out is None:
        return

    notes = ""
    if os.path.exists(out):
        with open(out) as f:
            text = f.read()
        at = text.find("\n## Notes")
        if at >= 0:
            notes = text[at + 1:]
    svg = os.path.splitext(out)[0] + ".svg"
    chart(table, names, workloads, svg)
    sizes = "callbacks 1,000,000; timers 200,000; threadsafe 1,000,000; tasks 100,000 × 10 steps; pingpong 200,000 round trips; memory 100,000 tasks"
    with open(out, "w") as f:
        f.write("# Benchmarks\n\n")
        f.write(f"Median of {rounds} rounds, every implementation in the same run on the same machine, produced by "
                "`python3 bench/compare.py` (workloads as defined in DESIGN.md \"Performance design\"; sizes: "
                f"{sizes}). Throughput workloads: operations per second (higher is better). Memory: bytes of "
                "resident memory per suspended task (lower is better). In brackets: how many times better than "
                "uvloop (above 1: better than uvloop, for memory too).\n\n")
        f.write(f"Machine: {machine()}. {source()}.\n\n")
        known = [x for x in loads if x is not None]
        if known:
            f.write(f"Load average (1 min) at the start and after each round: {', '.join(f'{x:.1f}' for x in known)} "
                    f"on {os.cpu_count()} cores (anything well above 0 means other work shared the machine "
                    "during the run, which makes every figure lower and the spread wider).\n\n")
        f.write("\n".join(lines) + "\n\n")
        f.write(f"![chart]({os.path.basename(svg)})\n\n")
        f.write("## Targets (issue 8)\n\n")
        f.write("Computed from the medians above. The echo targets need the networking layer and the "
                "steady-state allocation target is checked by the BenchmarkDotNet micro benchmarks "
                "(`bench/Aio.Micro`); neither is measured by this command.\n\n")
        f.write("\n".join(goal) + "\n\n")
        f.write(f"## Spread (lowest – highest of the {rounds} rounds)\n\n")
        f.write("\n".join(spread) + "\n\n")
        f.write("## What each peer runs\n\n"
                "- **aio-epoll / aio-portable**: `bench/Aio.Bench` on each backend: `CallSoon` with the state "
                "overload, `CallLater`, `CallSoonThreadSafe` from one other thread, `LoopTask`s awaiting "
                "`LoopTask.Yield()`, two `AsyncQueue<int>`, `LoopTask`s awaiting one `Future<bool>`.\n"
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
                "collection, VmRSS again.\n")
        if notes:
            f.write("\n" + notes)
    print(f"wrote {out} and {svg}", file=sys.stderr)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Runs every implementation on every loop workload, several rounds, in one run, and writes the
median table (with ratios to uvloop) and an SVG chart to docs/benchmarks.md and docs/benchmarks.svg.

Usage: python3 bench/compare.py [--rounds 5] [--workloads callbacks,timers,...] [--out docs/benchmarks.md]
Peers that are not installed are skipped with a message. Benchmarks are measurements, never tests.
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
PY = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
PEER = os.path.join(ROOT, "bench/peers/asyncio_workloads.py")
WORKLOADS = ["callbacks", "timers", "threadsafe", "tasks"]


def implementations():
    impls = {
        "aio-epoll": lambda w: AIO + [w, "--backend", "epoll"],
        "aio-portable": lambda w: AIO + [w, "--backend", "portable"],
        "python-asyncio": lambda w: [PY, PEER, w, "--loop", "asyncio"],
    }
    probe = subprocess.run([PY, "-c", "import uvloop"], capture_output=True)
    if probe.returncode == 0:
        impls["python-uvloop"] = lambda w: [PY, PEER, w, "--loop", "uvloop"]
    else:
        print("skipping python-uvloop: not installed (apt-get install python3-uvloop)", file=sys.stderr)
    return impls


def run(command):
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1]
    return json.loads(out)["ops_per_s"]


def chart(table, impls, workloads, path):
    """Horizontal bars, one group per workload, each bar scaled to the group's best."""
    colors = ["#2b6cb0", "#63b3ed", "#c05621", "#dd6b20", "#2f855a", "#805ad5"]
    row, width, label = 18, 420, 130
    height = sum(len(impls) * row + 24 for _ in workloads) + 20
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{label + width + 140}" height="{height}" font-family="sans-serif" font-size="12">']
    y = 10
    for w in workloads:
        parts.append(f'<text x="0" y="{y + 12}" font-weight="bold">{w}</text>')
        y += 18
        best = max(table[w].get(i, 0) for i in impls) or 1
        for k, i in enumerate(impls):
            v = table[w].get(i)
            if v is None:
                continue
            bar = max(1, int(width * v / best))
            parts.append(f'<text x="8" y="{y + 12}">{i}</text>')
            parts.append(f'<rect x="{label}" y="{y + 2}" width="{bar}" height="{row - 4}" fill="{colors[k % len(colors)]}"/>')
            parts.append(f'<text x="{label + bar + 4}" y="{y + 12}">{v / 1e6:.2f} M/s</text>')
            y += row
        y += 6
    parts.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(parts) + "\n")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--workloads", default=",".join(WORKLOADS))
    parser.add_argument("--out", default=os.path.join(ROOT, "docs/benchmarks.md"))
    args = parser.parse_args()
    workloads = args.workloads.split(",")

    subprocess.run(["dotnet", "build", "-c", "Release", os.path.join(ROOT, "bench/Aio.Bench")], check=True, capture_output=True)
    impls = implementations()
    samples = {w: {i: [] for i in impls} for w in workloads}
    for r in range(args.rounds):
        for w in workloads:
            for i, command in impls.items():
                samples[w][i].append(run(command(w)))
        print(f"round {r + 1}/{args.rounds} done", file=sys.stderr)

    table = {w: {i: statistics.median(v) for i, v in samples[w].items()} for w in workloads}
    names = list(impls)
    lines = ["| workload | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    for w in workloads:
        base = table[w].get("python-uvloop")
        cells = []
        for i in names:
            v = table[w][i]
            ratio = f" ({v / base:.1f}×)" if base else ""
            cells.append(f"{v / 1e6:.3f}M{ratio}")
        lines.append(f"| {w} | " + " | ".join(cells) + " |")

    svg = os.path.splitext(args.out)[0] + ".svg"
    chart(table, names, workloads, svg)
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.processor())
    with open(args.out, "w") as f:
        f.write("# Benchmarks\n\n")
        f.write("Operations per second, median of %d rounds, every implementation in the same run; in brackets the ratio to "
                "uvloop (above 1: faster). Produced by `python3 bench/compare.py`; workloads as in DESIGN.md.\n\n" % args.rounds)
        f.write(f"Machine: {cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}.\n\n")
        f.write("\n".join(lines) + "\n\n")
        f.write(f"![chart]({os.path.basename(svg)})\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()

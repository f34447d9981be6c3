#!/usr/bin/env python3
"""The loop workloads of DESIGN.md "Performance design" on Python's asyncio or uvloop.

Usage: /usr/bin/python3 bench/peers/asyncio_workloads.py WORKLOAD [--loop asyncio|uvloop] [--n N]
Prints one JSON line like the Aio bench CLI: {"impl", "workload", "ops", "seconds", "ops_per_s"}.
Each run does one untimed warm-up pass of the same size, as the Aio CLI does.
"""
import argparse
import asyncio
import json
import random
import sys
import threading
import time

DEFAULTS = {"callbacks": 1_000_000, "timers": 200_000, "threadsafe": 1_000_000, "tasks": 1_000_000}


def new_loop(kind):
    if kind == "uvloop":
        import uvloop  # Debian: python3-uvloop
        return uvloop.new_event_loop()
    return asyncio.new_event_loop()


def callbacks(loop, n):
    remaining = [n]

    def step():
        remaining[0] -= 1
        if remaining[0] == 0:
            loop.stop()
        else:
            loop.call_soon(step)

    loop.call_soon(step)
    start = time.perf_counter()
    loop.run_forever()
    return time.perf_counter() - start


def timers(loop, n):
    rng = random.Random(42)
    remaining = [n]

    def fire():
        remaining[0] -= 1
        if remaining[0] == 0:
            loop.stop()

    start = time.perf_counter()
    for _ in range(n):
        loop.call_later(rng.random() * 0.05, fire)
    loop.run_forever()
    return time.perf_counter() - start


def threadsafe(loop, n):
    remaining = [n]

    def count():
        remaining[0] -= 1
        if remaining[0] == 0:
            loop.stop()

    def produce():
        post = loop.call_soon_threadsafe
        for _ in range(n):
            post(count)

    producer = threading.Thread(target=produce)
    start = time.perf_counter()
    producer.start()
    loop.run_forever()
    seconds = time.perf_counter() - start
    producer.join()
    return seconds


def tasks(loop, n):
    async def worker():
        for _ in range(10):
            await asyncio.sleep(0)

    async def main():
        start = time.perf_counter()
        await asyncio.gather(*[worker() for _ in range(max(1, n // 10))])
        return time.perf_counter() - start

    return loop.run_until_complete(main())


WORKLOADS = {"callbacks": callbacks, "timers": timers, "threadsafe": threadsafe, "tasks": tasks}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("workload", choices=sorted(WORKLOADS))
    parser.add_argument("--loop", choices=["asyncio", "uvloop"], default="asyncio")
    parser.add_argument("--n", type=int)
    args = parser.parse_args()
    n = args.n or DEFAULTS[args.workload]
    run = WORKLOADS[args.workload]
    for timed in (False, True):
        loop = new_loop(args.loop)
        try:
            seconds = run(loop, n)
        finally:
            loop.close()
    print(json.dumps({"impl": f"python-{args.loop}", "workload": args.workload, "ops": n,
                      "seconds": round(seconds, 6), "ops_per_s": round(n / seconds, 1)}))


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""The loop workloads of docs/design.md "Performance design" on Python's asyncio or uvloop.

Usage: /usr/bin/python3 bench/peers/asyncio_workloads.py WORKLOAD [--loop asyncio|uvloop] [--n N]
Prints one JSON line like the Aio bench CLI: {"impl", "workload", "ops", "seconds", "ops_per_s"}
(memory: {"impl", "workload", "ops", "bytes_per_task"}).
Each timed run does one untimed warm-up pass of the same size, as the Aio CLI does. The memory
workload is measured as in bench/Aio.Bench/Memory.cs: a small warm-up pass (1% of N, at least 100),
gc.collect(), VmRSS from /proc/self/status, N tasks each awaiting one shared future, the loop run
until all are suspended, gc.collect(), VmRSS again; (growth / N); then the future is completed.
"""
import argparse
import asyncio
import gc
import json
import random
import sys
import threading
import time

DEFAULTS = {"callbacks": 1_000_000, "timers": 200_000, "threadsafe": 1_000_000, "tasks": 1_000_000,
            "pingpong": 200_000, "memory": 100_000}


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


def pingpong(loop, n):
    """n round trips between two tasks through two unbounded asyncio.Queue, as the Aio pingpong."""
    async def main():
        ping, pong = asyncio.Queue(), asyncio.Queue()

        async def ponger():
            for _ in range(n):
                await pong.put(await ping.get())

        async def pinger():
            for i in range(n):
                await ping.put(i)
                if await pong.get() != i:
                    raise RuntimeError("pingpong: an item came back out of order")

        start = time.perf_counter()
        await asyncio.gather(loop.create_task(ponger()), loop.create_task(pinger()))
        return time.perf_counter() - start

    return loop.run_until_complete(main())


def resident_bytes():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def memory(loop, n):
    """Bytes of resident memory per task suspended on one shared future (see the module doc)."""
    async def main():
        gate = loop.create_future()

        async def waiter():
            await gate

        gc.collect()
        rss0 = resident_bytes()
        tasks = [loop.create_task(waiter()) for _ in range(n)]
        await asyncio.sleep(0)  # every task runs its first step and suspends on the gate
        gc.collect()
        rss1 = resident_bytes()
        gate.set_result(True)
        await asyncio.gather(*tasks)
        return (rss1 - rss0) / n

    return loop.run_until_complete(main())


WORKLOADS = {"callbacks": callbacks, "timers": timers, "threadsafe": threadsafe, "tasks": tasks,
             "pingpong": pingpong, "memory": memory}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("workload", choices=sorted(WORKLOADS))
    parser.add_argument("--loop", choices=["asyncio", "uvloop"], default="asyncio")
    parser.add_argument("--n", type=int)
    args = parser.parse_args()
    n = args.n or DEFAULTS[args.workload]
    run = WORKLOADS[args.workload]
    if args.workload == "memory":
        for size in (max(100, n // 100), n):
            loop = new_loop(args.loop)
            try:
                per_task = memory(loop, size)
            finally:
                loop.close()
        print(json.dumps({"impl": f"python-{args.loop}", "workload": "memory", "ops": n,
                          "bytes_per_task": round(per_task, 1)}))
        return 0
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

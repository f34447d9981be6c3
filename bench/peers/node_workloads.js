#!/usr/bin/env node
// The loop workloads of DESIGN.md "Performance design" on Node.js's own event loop (libuv).
//
// Usage: node [--expose-gc] bench/peers/node_workloads.js WORKLOAD [--n N]
// Prints one JSON line like the Aio bench CLI: {"impl", "workload", "ops", "seconds", "ops_per_s"}
// (memory: {"impl", "workload", "ops", "bytes_per_task"}; run it with --expose-gc so the full
// collections before both readings happen). Each timed run does one untimed warm-up pass of the
// same size, as the Aio CLI does.
//
// The closest Node.js analogue of each asyncio primitive, and why:
// - call_soon -> setImmediate. It runs the callback on a later turn of the event loop, after I/O
//   polling, in FIFO order: the same contract as call_soon. queueMicrotask/process.nextTick would
//   run the chain without ever returning to the event loop (never polling I/O) — a different,
//   cheaper thing that a loop callback is not.
// - call_later -> setTimeout (millisecond resolution; Node.js clamps delays below 1 ms to 1 ms).
// - call_soon_threadsafe -> a worker_threads Worker posting messages to the main thread
//   (postMessage; each message is structured-cloned). The clock starts when the worker, already
//   booted, is told to go, so the worker's start-up (a whole new V8 isolate) is not counted.
// - a task awaiting sleep(0) -> an async function awaiting `new Promise(r => setImmediate(r))`:
//   one trip through the event loop per step, as sleep(0) is. A bare `await null` would only
//   take a microtask turn.
// - asyncio.Queue -> a minimal promise queue (an array of items and an array of waiting
//   resolvers); a get that has to wait resumes through the microtask queue, which is how any
//   promise-based Node.js code hands values between async functions.
// - memory: async functions suspended on one shared promise; process.memoryUsage().rss after
//   global.gc() (when exposed), as the peers read VmRSS after a full collection.
"use strict";

const { Worker, isMainThread, parentPort, workerData } = require("worker_threads");

const DEFAULTS = { callbacks: 1_000_000, timers: 200_000, threadsafe: 1_000_000, tasks: 1_000_000, pingpong: 200_000, memory: 100_000 };

function now() {
  return process.hrtime.bigint();
}

function seconds(start) {
  return Number(process.hrtime.bigint() - start) / 1e9;
}

// A seeded generator (mulberry32) so the timer deadlines are the same on every run.
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function callbacks(n) {
  return new Promise((resolve) => {
    let remaining = n;
    let start;
    const step = () => {
      if (--remaining === 0) {
        resolve(seconds(start));
      } else {
        setImmediate(step);
      }
    };
    start = now();
    setImmediate(step);
  });
}

function timers(n) {
  return new Promise((resolve) => {
    const random = rng(42);
    let remaining = n;
    const start = now();
    const fire = () => {
      if (--remaining === 0) {
        resolve(seconds(start));
      }
    };
    for (let i = 0; i < n; i++) {
      setTimeout(fire, random() * 50);
    }
  });
}

function threadsafe(n) {
  return new Promise((resolve, reject) => {
    const worker = new Worker(__filename, { workerData: { n } });
    let remaining = n;
    let start;
    worker.on("error", reject);
    worker.on("message", (message) => {
      if (message === "ready") {
        start = now();
        worker.postMessage("go");
        return;
      }
      if (--remaining === 0) {
        const s = seconds(start);
        worker.terminate().then(() => resolve(s), reject);
      }
    });
  });
}

function producer() {
  // Runs in the worker: wait for "go", then post n messages to the main thread.
  parentPort.once("message", () => {
    const n = workerData.n;
    for (let i = 0; i < n; i++) {
      parentPort.postMessage(i);
    }
  });
  parentPort.postMessage("ready");
}

function yieldOnce() {
  return new Promise((resolve) => setImmediate(resolve));
}

async function tasks(n) {
  const worker = async () => {
    for (let step = 0; step < 10; step++) {
      await yieldOnce();
    }
  };
  const start = now();
  const all = [];
  for (let i = 0; i < Math.max(1, Math.floor(n / 10)); i++) {
    all.push(worker());
  }
  await Promise.all(all);
  return seconds(start);
}

class PromiseQueue {
  constructor() {
    this.items = [];
    this.head = 0;
    this.waiters = [];
  }

  put(item) {
    if (this.waiters.length > 0) {
      this.waiters.shift()(item);
    } else {
      this.items.push(item);
    }
  }

  get() {
    if (this.head < this.items.length) {
      const item = this.items[this.head++];
      if (this.head === this.items.length) {
        this.items.length = 0;
        this.head = 0;
      }
      return Promise.resolve(item);
    }
    return new Promise((resolve) => this.waiters.push(resolve));
  }
}

async function pingpong(n) {
  const ping = new PromiseQueue();
  const pong = new PromiseQueue();
  const ponger = async () => {
    for (let i = 0; i < n; i++) {
      pong.put(await ping.get());
    }
  };
  const pinger = async () => {
    for (let i = 0; i < n; i++) {
      ping.put(i);
      if ((await pong.get()) !== i) {
        throw new Error("pingpong: an item came back out of order");
      }
    }
  };
  const start = now();
  await Promise.all([ponger(), pinger()]);
  return seconds(start);
}

function fullCollect() {
  if (typeof global.gc === "function") {
    global.gc();
    global.gc();
  }
}

async function memoryPass(n) {
  let open;
  const gate = new Promise((resolve) => {
    open = resolve;
  });
  const waiter = async () => {
    await gate;
  };
  fullCollect();
  const rss0 = process.memoryUsage().rss;
  const all = new Array(n);
  for (let i = 0; i < n; i++) {
    all[i] = waiter();
  }
  await yieldOnce(); // every async function has run to its await and is suspended
  fullCollect();
  const rss1 = process.memoryUsage().rss;
  open(true);
  await Promise.all(all);
  return (rss1 - rss0) / n;
}

const WORKLOADS = { callbacks, timers, threadsafe, tasks, pingpong };

async function main() {
  const args = process.argv.slice(2);
  const workload = args[0];
  let n;
  for (let i = 1; i < args.length; i++) {
    if (args[i] === "--n" && i + 1 < args.length) {
      n = parseInt(args[++i], 10);
    } else {
      console.error(`unknown argument: ${args[i]}`);
      return 2;
    }
  }
  if (!(workload in DEFAULTS)) {
    console.error(`usage: node node_workloads.js WORKLOAD [--n N]; workloads: ${Object.keys(DEFAULTS).join(", ")}`);
    return 2;
  }
  n = n || DEFAULTS[workload];
  if (workload === "memory") {
    if (typeof global.gc !== "function") {
      console.error("memory: run node with --expose-gc for the full collections; measuring without them");
    }
    await memoryPass(Math.max(100, Math.floor(n / 100)));
    const perTask = await memoryPass(n);
    console.log(JSON.stringify({ impl: "node", workload, ops: n, bytes_per_task: Math.round(perTask * 10) / 10 }));
    return 0;
  }
  const run = WORKLOADS[workload];
  await run(n);
  const s = await run(n);
  console.log(JSON.stringify({ impl: "node", workload, ops: n, seconds: Math.round(s * 1e6) / 1e6, ops_per_s: Math.round((n / s) * 10) / 10 }));
  return 0;
}

if (isMainThread) {
  main().then(
    (code) => {
      process.exitCode = code;
    },
    (error) => {
      console.error(error);
      process.exitCode = 1;
    },
  );
} else {
  producer();
}

#!/usr/bin/env node
// The echo workload's server (DESIGN.md "Performance design") on Node.js's net module.
//
// Usage: node bench/peers/node_echo.js --port P
// Serves TCP echo on 127.0.0.1:P (0 picks a free port) until SIGTERM or SIGINT; prints {"port": N}
// on its first line once it listens. Each chunk a socket reads is written straight back
// (socket.write; Node.js buffers what the kernel does not take). noDelay as asyncio and Aio do.
"use strict";

const net = require("net");

const at = process.argv.indexOf("--port");
const port = at > 0 ? Number(process.argv[at + 1]) : NaN;
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error("usage: node node_echo.js --port P (0 picks a free port)");
  process.exit(2);
}

const server = net.createServer({ noDelay: true }, (socket) => {
  socket.on("data", (data) => socket.write(data));
  socket.on("error", () => socket.destroy()); // a client that went away: the ordinary end
});
server.listen(port, "127.0.0.1", () => {
  process.stdout.write(JSON.stringify({ port: server.address().port }) + "\n");
});
for (const signal of ["SIGTERM", "SIGINT"]) {
  process.on(signal, () => process.exit(0));
}

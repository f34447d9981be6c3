#!/usr/bin/env python3
"""The echo workload's server (docs/design.md "Performance design") on Python's asyncio or uvloop.

Usage: /usr/bin/python3 bench/peers/asyncio_echo.py --port P [--api protocol|streams] [--loop asyncio|uvloop]
Serves TCP echo on 127.0.0.1:P (0 picks a free port) until SIGTERM or SIGINT; prints {"port": N}
on its first line once it listens.
- protocol: a Protocol whose data_received writes the data back (the asyncio docs' EchoServerProtocol).
- streams: asyncio.start_server with the read/write/drain loop of the asyncio docs' echo server,
  reading up to 64 KiB at a time (as every peer does).
"""
import argparse
import asyncio
import json
import signal
import sys

READ_SIZE = 64 * 1024


class EchoProtocol(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        self.transport.write(data)


async def handle_echo(reader, writer):
    try:
        while True:
            data = await reader.read(READ_SIZE)
            if not data:
                break
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass  # the client went away mid-write: the benchmark's ordinary end of a connection
    finally:
        writer.close()


async def serve(port, api):
    loop = asyncio.get_running_loop()
    if api == "protocol":
        server = await loop.create_server(EchoProtocol, "127.0.0.1", port)
    else:
        server = await asyncio.start_server(handle_echo, "127.0.0.1", port)
    print(json.dumps({"port": server.sockets[0].getsockname()[1]}), flush=True)
    stop = loop.create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, lambda: stop.done() or stop.set_result(None))
    async with server:
        await stop


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--api", choices=["protocol", "streams"], default="protocol")
    parser.add_argument("--loop", choices=["asyncio", "uvloop"], default="asyncio")
    args = parser.parse_args()
    if args.loop == "uvloop":
        import uvloop  # Debian: python3-uvloop
        loop = uvloop.new_event_loop()
    else:
        loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(serve(args.port, args.api))
    finally:
        loop.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

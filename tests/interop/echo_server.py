# The echo server of seed 001 (aiorun's README, from the asyncio streams documentation), with plain
# asyncio instead of aiorun and a --port option, for tests/interop/echo_interop.sh.
import argparse
import asyncio


async def handle_echo(reader, writer):
    # Same as original!
    data = await reader.read(100)
    message = data.decode()
    addr = writer.get_extra_info('peername')
    print("Received %r from %r" % (message, addr), flush=True)
    print("Send: %r" % message, flush=True)
    writer.write(data)
    await writer.drain()
    print("Close the client socket", flush=True)
    writer.close()


async def main(port):
    server = await asyncio.start_server(handle_echo, '127.0.0.1', port)
    print('Serving on {}'.format(server.sockets[0].getsockname()), flush=True)
    try:
        # Wait for cancellation
        while True:
            await asyncio.sleep(10)
    except asyncio.CancelledError:
        server.close()
        await server.wait_closed()


if __name__ == '__main__':
    parser = argparse.ArgumentParser()
    parser.add_argument('--port', type=int, default=8888)
    asyncio.run(main(parser.parse_args().port))

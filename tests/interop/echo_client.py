# The echo client of seed 001 (aiorun's README, from the asyncio streams documentation), with plain
# asyncio instead of aiorun, a --port option and the message as an optional argument, for
# tests/interop/echo_interop.sh. asyncio.run ends when the coroutine returns, so the original's
# loop.stop() ("Exit after one msg like original") is not needed.
import argparse
import asyncio


async def tcp_echo_client(message, port):
    reader, writer = await asyncio.open_connection('127.0.0.1', port)
    print('Send: %r' % message, flush=True)
    writer.write(message.encode())
    data = await reader.read(100)
    print('Received: %r' % data.decode(), flush=True)
    print('Close the socket', flush=True)
    writer.close()


if __name__ == '__main__':
    parser = argparse.ArgumentParser()
    parser.add_argument('--port', type=int, default=8888)
    parser.add_argument('message', nargs='?', default='Hello World!')
    arguments = parser.parse_args()
    asyncio.run(tcp_echo_client(arguments.message, arguments.port))

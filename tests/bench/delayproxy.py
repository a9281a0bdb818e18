#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""A TCP delay line: the benchmark's stand-in for a link with a round-trip
time (tc netem is not available on these kernels).

usage: delayproxy.py LISTEN_PORT TARGET_PORT RTT_MS

Listens on 127.0.0.1:LISTEN_PORT; each connection gets its own connection
to 127.0.0.1:TARGET_PORT.  Every chunk read in either direction is
stamped on arrival and written out at arrival + RTT/2, in order.  Nothing
waits for the far side to drain before reading on, so the delay adds
latency only, not a bandwidth limit (a real link of that RTT with a large
window).  Prints "ready" on stdout once it listens.
"""

import asyncio
import collections
import sys

CHUNK = 256 * 1024


async def pump(reader, writer, delay):
    """Copies reader to writer, each chunk delayed by DELAY seconds."""
    loop = asyncio.get_running_loop()
    queue = collections.deque()
    wake = asyncio.Event()
    done = False

    async def read_side():
        nonlocal done
        try:
            while True:
                data = await reader.read(CHUNK)
                if not data:
                    break
                queue.append((loop.time() + delay, data))
                wake.set()
        except (ConnectionError, OSError):
            pass
        done = True
        wake.set()

    async def write_side():
        try:
            while True:
                while not queue:
                    if done:
                        return
                    wake.clear()
                    await wake.wait()
                due, data = queue[0]
                wait = due - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                queue.popleft()
                writer.write(data)
                # Drain only when much is pending: the transport's buffer
                # stays small while reads go on (the queue holds what is
                # "on the wire", as a link's bandwidth-delay product).
                if writer.transport.get_write_buffer_size() > 8 * CHUNK:
                    await writer.drain()
        finally:
            try:
                if writer.can_write_eof():
                    writer.write_eof()
            except (ConnectionError, OSError):
                pass

    await asyncio.gather(read_side(), write_side())


async def handle(creader, cwriter, target, delay):
    try:
        sreader, swriter = await asyncio.open_connection("127.0.0.1", target)
    except OSError:
        cwriter.close()
        return
    try:
        await asyncio.gather(pump(creader, swriter, delay),
                             pump(sreader, cwriter, delay))
    finally:
        for w in (cwriter, swriter):
            try:
                w.close()
            except (ConnectionError, OSError):
                pass


async def main(listen, target, rtt_ms):
    delay = rtt_ms / 2000.0
    server = await asyncio.start_server(
        lambda r, w: handle(r, w, target, delay), "127.0.0.1", listen,
        limit=CHUNK)
    print("ready", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    if len(sys.argv) != 4:
        print(__doc__.strip(), file=sys.stderr)
        sys.exit(2)
    try:
        asyncio.run(main(int(sys.argv[1]), int(sys.argv[2]),
                         float(sys.argv[3])))
    except KeyboardInterrupt:
        pass

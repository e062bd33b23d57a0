"""Load on `lakectl serve`: N clients, each on its own keep-alive connection, GET a path once
every PERIOD seconds (as a browser polls) for DURATION seconds. Prints one JSON line: requests,
errors, latency p50/p99/max (ms) overall and, when `--window FILE` names a file holding
"start end" (Unix seconds), inside that window too.

usage: bench_serve.py HOST:PORT PATH CLIENTS DURATION PERIOD [--window FILE]"""
import asyncio, json, sys, time

addr, path, clients, duration, period = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5])
window_file = sys.argv[7] if len(sys.argv) > 7 and sys.argv[6] == "--window" else None
host, port = addr.rsplit(":", 1)
samples = []  # (time sent, latency s)
errors = 0


async def client(i):
    global errors
    reader = writer = None
    end = time.time() + duration
    # Spread the clients over one period.
    await asyncio.sleep(period * i / clients)
    while time.time() < end:
        t = time.time()
        try:
            if writer is None:
                reader, writer = await asyncio.open_connection(host, int(port))
            writer.write(f"GET {path} HTTP/1.1\r\nHost: {addr}\r\n\r\n".encode())
            await writer.drain()
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head.split(b" ", 2)[1])
            length = next(int(l.split(b":")[1]) for l in head.split(b"\r\n") if l.lower().startswith(b"content-length:"))
            await reader.readexactly(length)
            if status != 200:
                errors += 1
            samples.append((t, time.time() - t))
        except Exception:
            errors += 1
            writer = None
        await asyncio.sleep(max(0.0, period - (time.time() - t)))


def pct(xs, p):
    xs = sorted(xs)
    return round(1000 * xs[min(len(xs) - 1, int(len(xs) * p))], 1) if xs else None


async def main():
    await asyncio.gather(*(client(i) for i in range(clients)))
    lat = [l for _, l in samples]
    out = {"clients": clients, "period_s": period, "requests": len(samples), "errors": errors,
           "p50_ms": pct(lat, 0.5), "p99_ms": pct(lat, 0.99), "max_ms": pct(lat, 1.0)}
    if window_file:
        try:
            a, b = map(float, open(window_file).read().split())
            w = [l for t, l in samples if a <= t <= b]
            out.update({"during_drain_requests": len(w), "during_drain_p99_ms": pct(w, 0.99), "during_drain_max_ms": pct(w, 1.0)})
        except (OSError, ValueError):
            pass
    print(json.dumps(out))


asyncio.run(main())

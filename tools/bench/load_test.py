"""Load test of `translate serve` on this machine's loopback: requests/s and p50 / p99 latency.

Starts ``translate serve MODEL --host 127.0.0.1 --port 0`` (default limits) in a subprocess,
sends a warm-up request, then for each client count (default 1, 4, 16) lets that many threads
POST the same image back to back, each on its own keep-alive connection, until ``--requests``
responses have come back or ``--seconds`` have passed (both bound the run), and reports per level:
completed requests, requests/s (completed / wall time), p50 and p99 latency, and any response
that was not 200 (a 429 means the server's --max-concurrent + --max-queue was exceeded). The
machine (CPU, cores) and its load average before and after are printed with the figures, since
the client threads share the CPU with the server.

    .venv/bin/python tools/bench/load_test.py facades-label2photo docs/samples/facade_labels.png
    .venv/bin/python tools/bench/load_test.py sr-x4 docs/samples/astronaut_lr.png --clients 1 4 --json
"""

from __future__ import annotations

import argparse
import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_infer import ROOT, cpu_name  # noqa: E402  (the machine's name as the benchmarks print it)


def start_server(model: str, device: str) -> tuple[subprocess.Popen, str]:
    """`translate serve MODEL` on 127.0.0.1 and a free port; returns (process, base URL)."""
    log = tempfile.TemporaryFile(mode="w+")  # the server's stderr, shown if it does not start
    proc = subprocess.Popen([sys.executable, "-m", "translate", "serve", model, "--host", "127.0.0.1", "--port", "0",
                             "--device", device], cwd=ROOT, stdout=subprocess.PIPE, stderr=log, text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if select.select([proc.stdout], [], [], 1)[0]:
            line = proc.stdout.readline()
            if " on http://127.0.0.1:" in line:
                return proc, line.split(" on ", 1)[1].split()[0]
    proc.kill()
    log.seek(0)
    raise SystemExit(f"load_test: the server did not start (exit code {proc.poll()}): {log.read()[-1000:]}")


def level(url: str, model: str, image: tuple[str, bytes], clients: int, requests: int, seconds: float) -> dict:
    """``clients`` threads POSTing back to back until ``requests`` answers or ``seconds`` passed."""
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    lock = threading.Lock()
    started = time.perf_counter()
    deadline = started + seconds
    issued = [0]

    def client() -> None:
        with httpx.Client(base_url=url, timeout=max(seconds, 60)) as http:
            while time.perf_counter() < deadline:
                with lock:
                    if issued[0] >= requests:
                        return
                    issued[0] += 1
                t0 = time.perf_counter()
                response = http.post("v1/translate", params={"model": model}, files={"image": image})
                elapsed = time.perf_counter() - t0
                with lock:
                    statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
                    if response.status_code == 200:
                        latencies.append(elapsed)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    ms = np.array(latencies) * 1000
    return {"clients": clients, "completed": len(latencies), "wall_s": round(wall, 2),
            "requests_per_s": round(len(latencies) / wall, 2),
            "p50_ms": round(float(np.percentile(ms, 50)), 1) if len(ms) else None,
            "p99_ms": round(float(np.percentile(ms, 99)), 1) if len(ms) else None,
            "statuses": {str(k): v for k, v in sorted(statuses.items())}}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", help="what `translate serve` loads (e.g. facades-label2photo)")
    parser.add_argument("image", help="the image every request sends")
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 4, 16], help="client counts (default 1 4 16)")
    parser.add_argument("--requests", type=int, default=64, help="answers per level (default 64)")
    parser.add_argument("--seconds", type=float, default=60, help="time bound per level (default 60 s)")
    parser.add_argument("--device", default="cpu", help="the server's --device (default cpu)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    args = parser.parse_args()
    image = (Path(args.image).name, Path(args.image).read_bytes())
    machine = {"cpu": cpu_name(), "cores": os.cpu_count(), "load_before": [round(x, 2) for x in os.getloadavg()]}
    proc, url = start_server(args.model, args.device)
    try:
        name = httpx.get(url + "v1/models").json()["models"][0]["name"]
        warm = httpx.post(url + "v1/translate", params={"model": name}, files={"image": image}, timeout=120)
        if warm.status_code != 200:
            raise SystemExit(f"load_test: the warm-up request failed: {warm.status_code} {warm.text[:300]}")
        rows = [level(url, name, image, c, args.requests, args.seconds) for c in args.clients]
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
    machine["load_after"] = [round(x, 2) for x in os.getloadavg()]
    report = {"model": args.model, "image": args.image, "device": args.device, "machine": machine, "levels": rows}
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"{args.model} on {args.image} ({args.device}); {machine['cpu']}, {machine['cores']} cores, "
          f"load average {machine['load_before']} before, {machine['load_after']} after")
    print(f"{'clients':>7} {'done':>5} {'req/s':>7} {'p50 ms':>8} {'p99 ms':>8}  statuses")
    for r in rows:
        print(f"{r['clients']:>7} {r['completed']:>5} {r['requests_per_s']:>7} {r['p50_ms']!s:>8} {r['p99_ms']!s:>8}  "
              f"{r['statuses']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

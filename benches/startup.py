#!/usr/bin/env python3
"""Start-up time and idle memory of the server on embedded defaults.

Spawns `bwenge serve --port 0` in a fresh data dir, times process start -> first 200 from /readyz, then lets it
idle and reads its resident memory (VmRSS, and VmHWM as the peak). Repeats and prints the median.

    python3 benches/startup.py --binary target/release/bwenge [--runs 5] [--idle 3]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request


def rss_kib(pid, field):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def one_run(binary, idle):
    with tempfile.TemporaryDirectory() as data_dir:
        env = dict(os.environ, BWENGE__LOG__FORMAT="json", BWENGE__LOG__LEVEL="info")
        started = time.perf_counter()
        proc = subprocess.Popen([binary, "serve", "--port", "0", "--data-dir", data_dir],
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, text=True)
        port = None
        try:
            for line in proc.stdout:
                try:
                    fields = json.loads(line).get("fields", {})
                except ValueError:
                    continue
                if fields.get("message") == "bwenge listening":
                    port = fields["port"]
                    break
            if port is None:
                raise RuntimeError("server exited before listening")
            while True:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as response:
                        if response.status == 200:
                            break
                except OSError:
                    time.sleep(0.005)
            ready_ms = (time.perf_counter() - started) * 1000
            time.sleep(idle)
            return ready_ms, rss_kib(proc.pid, "VmRSS") / 1024, rss_kib(proc.pid, "VmHWM") / 1024
        finally:
            proc.terminate()
            proc.wait(timeout=15)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--binary", required=True)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--idle", type=float, default=3.0)
    args = parser.parse_args()
    runs = [one_run(args.binary, args.idle) for _ in range(args.runs)]
    for ready, rss, peak in runs:
        print(f"ready {ready:7.1f} ms   idle RSS {rss:6.1f} MiB   peak RSS {peak:6.1f} MiB")
    print(f"median: ready {statistics.median(r[0] for r in runs):.1f} ms, "
          f"idle RSS {statistics.median(r[1] for r in runs):.1f} MiB "
          f"(targets: < 1000 ms, < 60 MiB)")


if __name__ == "__main__":
    sys.exit(main())

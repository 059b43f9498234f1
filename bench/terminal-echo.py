#!/usr/bin/env python3
"""Keystroke echo round trip on an open remote terminal: one byte typed, its echo back (the remote terminal's line
discipline echoes it). Drives a client process through pipes: writes b'x', reads until the byte comes back, COUNT
times after WARMUP untimed ones, and prints the median and the 90th percentile in microseconds (tab separated).

    terminal-echo.py COUNT WARMUP -- CLIENT COMMAND...
"""
import os, subprocess, sys, time, select, statistics

def main():
    count, warmup = int(sys.argv[1]), int(sys.argv[2])
    argv = sys.argv[sys.argv.index("--") + 1:]
    if not 1 <= count <= 3000 or not 0 <= warmup <= 1000:
        sys.exit("COUNT 1-3000, WARMUP 0-1000 (a cooked terminal line holds 4095 characters)")
    client = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0)
    try:
        out = client.stdout.fileno()
        def echo(deadline_s=30.0):
            client.stdin.write(b"x")
            end = time.monotonic() + deadline_s
            while True:
                left = end - time.monotonic()
                if left <= 0 or not select.select([out], [], [], left)[0]:
                    raise SystemExit("no echo within %.0f s" % deadline_s)
                data = os.read(out, 4096)
                if not data:
                    raise SystemExit("the client ended")
                if b"x" in data:
                    return
        echo(60.0)  # the command is up
        for _ in range(warmup):
            echo()
        times = []
        for _ in range(count):
            t0 = time.perf_counter_ns()
            echo()
            times.append((time.perf_counter_ns() - t0) / 1000.0)
        times.sort()
        print("%.1f\t%.1f" % (statistics.median(times), times[int(len(times) * 0.9) - 1]))
    finally:
        client.kill()
        client.wait(timeout=10)

main()

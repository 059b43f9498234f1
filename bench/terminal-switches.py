#!/usr/bin/env python3
"""Context switches per keystroke on an open remote terminal: drives a client process through pipes as
bench/terminal-echo.py does (one byte typed, its echo awaited), and counts the context switches (voluntary +
involuntary, summed over every thread) of the server process and of the client process over COUNT keystrokes, after
WARMUP untimed ones. Threads are counted while they live, so the terminal's own threads, which start with the command,
are in both counts. Prints, tab separated, per keystroke: the server's switches (all, then voluntary only: the ones its
own design causes; involuntary ones are preemptions and grow with the machine's load), the client's likewise, and the
median echo in microseconds. Linux only (/proc).

    terminal-switches.py SERVER_PID COUNT WARMUP -- CLIENT COMMAND...
"""
import os, subprocess, sys, time, select, statistics

def switches(pid, voluntary_only=False):
    kinds = ("voluntary_ctxt_switches",) if voluntary_only else ("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")
    total = 0
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/status" % (pid, tid)) as f:
                for line in f:
                    if line.startswith(kinds):
                        total += int(line.split()[1])
        except FileNotFoundError:
            pass  # the thread ended meanwhile
    return total

def main():
    server, count, warmup = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
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
        echo(60.0)
        for _ in range(warmup):
            echo()
        s0, c0 = switches(server), switches(client.pid)
        sv0, cv0 = switches(server, True), switches(client.pid, True)
        times = []
        for _ in range(count):
            t0 = time.perf_counter_ns()
            echo()
            times.append((time.perf_counter_ns() - t0) / 1000.0)
        s1, c1 = switches(server), switches(client.pid)
        sv1, cv1 = switches(server, True), switches(client.pid, True)
        print("%.2f\t%.2f\t%.2f\t%.2f\t%.1f" % ((s1 - s0) / count, (sv1 - sv0) / count, (c1 - c0) / count, (cv1 - cv0) / count,
                                            statistics.median(times)))
    finally:
        client.kill()
        client.wait(timeout=10)

main()

#!/usr/bin/env bash
# Synchronization benchmark: `ferry sync` against rsync 3.x talking to an rsync daemon with the delta algorithm on
# (--no-whole-file), side by side, over two links that the script creates and removes itself:
#
#   lo       one private network namespace; client and both servers on its 127.0.0.1
#   shaped   two private network namespaces joined by a veth pair (10.231.7.1 <-> 10.231.7.2), both ends shaped
#            with `tc qdisc ... tbf rate RATE` (default 100mbit); servers in one namespace, clients in the other
#
# Wire bytes are the link's own counters (lo: tx_bytes of the namespace's lo; shaped: rx + tx of the client's veth
# end), so they count everything either tool sends: headers, framing, TCP/IP. Ferry runs its server with
# --insecure-no-auth and the client with --plain (no TLS), like rsync's daemon protocol (no encryption).
#
# Cases (each starts from the same destination state for both tools, rebuilt before every run):
#   insert     a SIZE file (default 1G) with 1 MiB inserted in the middle
#   scatter    the SIZE file with 164 scattered 64 KiB regions overwritten
#   append     the SIZE file appended by 1%
#   touch      the SIZE file with only its modification time changed
#   tree-same  a tree of TREE files (default 10000) of mixed sizes (1 KiB - 4 MiB, log-uniform, scaled down to
#              at most --tree-bytes in all, default 1 GiB), nothing changed
#   tree-1pct  the tree with 1% of its files edited, 1% added, 1% deleted, 1% renamed and 1% chmod-ed
#   tree-fresh the tree into an empty destination
#   small-fresh 1000 files of 4 KiB into an empty destination
#   small-pull the same 1000 files pulled from the server into an empty local folder (rsync from the daemon's module,
#              ferry sync :remote ./local)
#
# Every figure is the median of --runs runs (default 5); the tools alternate (rsync first on odd runs, ferry first on
# even ones). Before each timed run both servers are left to go idle (and 3 s pass after a ferry command, whose server
# may chunk a committed file in the background: that CPU is reported apart). Each run is timed as the client command's wall clock; CPU seconds (user + sys) are given for the
# client and for the server (the rsync daemon with its waited-for children; the ferry server process). After every
# run the destination is compared with the source (content with cmp, and type, mode, size, mtime and link target
# with find -printf); a difference aborts the benchmark.
#
#   bench/sync.sh                                  # everything, 5 runs (long: the 1 GiB cases dominate)
#   bench/sync.sh --runs 3 --size 64M --tree 2000  # quick
#   bench/sync.sh --cases insert,tree-1pct --links shaped
#
# Options: --runs N (1-50), --size SIZE (default 1G), --tree N (files, default 10000), --tree-bytes SIZE (the tree's
#          total is scaled down to this, default 1G), --links lo,shaped,
#          --rate RATE (tc rate, default 100mbit), --cases LIST (default all), --no-build, --raw FILE (every run as
#          TSV), --timeout SECONDS (per command, default 900), --tools rsync,ferry (one alone for a partial run),
#          --jit (measure the framework-dependent Release build rather than the native executable).
# Needs root (namespaces, tc), rsync, and a tmpfs with room (a private folder in /dev/shm or a mounted tmpfs).
# On exit it stops every process it started, deletes its namespaces and removes its files.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"

runs=5
size_arg=1G
tree_files=10000
tree_bytes_arg=1G
links_arg=lo,shaped
rate=100mbit
cases_arg=all
build=1
raw_file=
cmd_timeout=900
tmpfs_mode=auto
tools_arg=rsync,ferry
aot=1
all_cases=(insert scatter append touch tree-same tree-1pct tree-fresh small-fresh small-pull)

die() { echo "sync.sh: $*" >&2; exit 1; }
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; }

while (($#)); do
    case "$1" in
        --runs) runs="${2:?}"; shift 2 ;;
        --size) size_arg="${2:?}"; shift 2 ;;
        --tree) tree_files="${2:?}"; shift 2 ;;
        --tree-bytes) tree_bytes_arg="${2:?}"; shift 2 ;;
        --links) links_arg="${2:?}"; shift 2 ;;
        --rate) rate="${2:?}"; shift 2 ;;
        --cases) cases_arg="${2:?}"; shift 2 ;;
        --tools) tools_arg="${2:?}"; shift 2 ;;
        --no-build) build=0; shift ;;
        --jit) aot=0; shift ;;
        --raw) raw_file="${2:?}"; shift 2 ;;
        --timeout) cmd_timeout="${2:?}"; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        *) die "unknown argument '$1' (see --help)" ;;
    esac
done
[[ "$runs" =~ ^[0-9]+$ ]] && ((runs >= 1 && runs <= 50)) || die "--runs must be 1-50"
[[ "$tree_files" =~ ^[0-9]+$ ]] && ((tree_files >= 100 && tree_files <= 200000)) || die "--tree must be 100-200000"
[[ "$cmd_timeout" =~ ^[0-9]+$ ]] && ((cmd_timeout >= 1)) || die "--timeout must be whole seconds"
[[ "$rate" =~ ^[0-9]+[kmg]?bit$ ]] || die "--rate must look like 100mbit"
size="$(parse_size "$size_arg")" || die "--size: cannot read '$size_arg'"
((size >= 16 << 20)) || die "--size must be at least 16M"
IFS=, read -r -a tools <<<"$tools_arg"
for t in "${tools[@]}"; do [[ "$t" =~ ^(rsync|ferry)$ ]] || die "--tools: unknown tool '$t'"; done
IFS=, read -r -a links <<<"$links_arg"
for l in "${links[@]}"; do [[ "$l" =~ ^(lo|shaped)$ ]] || die "--links: unknown link '$l'"; done
if [[ "$cases_arg" == all ]]; then cases=("${all_cases[@]}"); else IFS=, read -r -a cases <<<"$cases_arg"; fi
for c in "${cases[@]}"; do [[ " ${all_cases[*]} " == *" $c "* ]] || die "--cases: unknown case '$c'"; done
((EUID == 0)) || die "needs root (network namespaces and tc)"
for tool in ip tc rsync timeout cmp numfmt awk python3; do command -v "$tool" >/dev/null || die "$tool is required"; done

# The ferry measured is the native executable the README ships (dotnet publish -p:PublishAot=true), which starts in
# milliseconds; --jit measures the framework-dependent Release build instead.
if ((aot)); then
    ferry="$repo/artifacts/bench-aot/ferry"
    if ((build)); then
        echo "publishing src/Ferry.Cli as a native executable..." >&2
        DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 dotnet publish src/Ferry.Cli -c Release -r linux-x64 -p:PublishAot=true \
            -o "$repo/artifacts/bench-aot" -nologo -v q -clp:ErrorsOnly >&2 || die "publish failed"
    fi
else
    ferry="$repo/src/Ferry.Cli/bin/Release/net10.0/ferry"
    if ((build)); then
        echo "building src/Ferry.Cli (Release)..." >&2
        DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 dotnet build -c Release src/Ferry.Cli -nologo -v q -clp:ErrorsOnly >&2 \
            || die "build failed"
    fi
fi
[[ " ${tools[*]} " != *" ferry "* ]] || [[ -x "$ferry" ]] || die "no build at $ferry (run without --no-build)"

# ---------------------------------------------------------------------------------------------------------------
# Cleanup: processes by PID, namespaces by name, files.
work= mounted=0 child_pid=
declare -a pids=() namespaces=()
cleanup() {
    local rc=$? pid ns
    trap - EXIT INT TERM
    set +e
    stop_pid "$child_pid"
    for pid in "${pids[@]}"; do stop_pid "$pid"; done
    for ns in "${namespaces[@]}"; do ip netns del "$ns" 2>/dev/null; done
    if [[ -n "$work" ]]; then
        if ((mounted)); then umount "$work" || umount -l "$work"; rmdir "$work"; else rm -rf -- "$work"; fi
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'echo "sync.sh: interrupted" >&2; exit 130' INT
trap 'echo "sync.sh: terminated" >&2; exit 143' TERM

# Files: the big file three times (source, two destinations) plus its basis, the tree likewise.
tree_cap="$(parse_size "$tree_bytes_arg")" || die "--tree-bytes: cannot read '$tree_bytes_arg'"
((tree_cap >= 1 << 20)) || die "--tree-bytes must be at least 1M"
need=$((6 * size + 6 * tree_cap + (512 << 20)))
make_work_folder ferry-sync-bench "$need" $((1 << 30))
echo "work folder: $tmpfs_desc" >&2

# ---------------------------------------------------------------------------------------------------------------
# Data. Positions and sizes come from fixed seeds; contents from /dev/urandom.
echo "making the data sets in $work..." >&2
mkdir -p "$work"/{base,src,rsync-dst,ferry-root,state,client,cases}
export FERRY_CONFIG_DIR="$work/client" XDG_CACHE_HOME="$work/client/cache"
chmod 700 "$FERRY_CONFIG_DIR"

python3 - "$work" "$size" "$tree_files" "$tree_cap" <<'PY'
import os, random, sys
work, size, tree_files, tree_cap = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
rng = random.Random(20261202)
def urandom_file(path, n):
    with open(path, "wb") as f:
        left = n
        while left:
            k = min(left, 8 << 20); f.write(os.urandom(k)); left -= k

cases = os.path.join(work, "cases")
# The big file: its basis, then each changed version.
big = os.path.join(cases, "big.bin")
urandom_file(big, size)
data_len = size
def copy_with(path, edit):
    with open(big, "rb") as s, open(path, "wb") as d:
        edit(s, d)
def insert(s, d):
    half = data_len // 2
    left = half
    while left:
        k = min(left, 8 << 20); d.write(s.read(k)); left -= k
    d.write(os.urandom(1 << 20))
    while True:
        b = s.read(8 << 20)
        if not b: break
        d.write(b)
copy_with(os.path.join(cases, "insert.bin"), insert)
def scatter(s, d):
    while True:
        b = s.read(8 << 20)
        if not b: break
        d.write(b)
copy_with(os.path.join(cases, "scatter.bin"), scatter)
with open(os.path.join(cases, "scatter.bin"), "r+b") as f:
    for off in sorted(rng.sample(range(0, (data_len - (64 << 10)) // 4096), 164)):
        f.seek(off * 4096); f.write(os.urandom(64 << 10))
copy_with(os.path.join(cases, "append.bin"), scatter)
with open(os.path.join(cases, "append.bin"), "ab") as f:
    f.write(os.urandom(data_len // 100))

# The tree: log-uniform sizes from 1 KiB to 4 MiB, scaled down so that the whole stays under tree_cap.
tree = os.path.join(cases, "tree")
sizes = [int(2 ** rng.uniform(10, 22)) for _ in range(tree_files)]
total = sum(sizes)
if total > tree_cap:
    sizes = [max(1024, s * tree_cap // total) for s in sizes]
names = []
for i, n in enumerate(sizes):
    rel = f"d{i % 50:02d}/s{(i // 50) % 20:02d}/f{i:06d}.dat"
    p = os.path.join(tree, rel)
    os.makedirs(os.path.dirname(p), exist_ok=True)
    with open(p, "wb") as f: f.write(os.urandom(n))
    names.append(rel)
with open(os.path.join(cases, "tree.names"), "w") as f:
    f.write("\n".join(names) + "\n")
# The small tree.
small = os.path.join(cases, "small")
for i in range(1000):
    p = os.path.join(small, f"g{i % 10}", f"s{i:04d}.txt")
    os.makedirs(os.path.dirname(p), exist_ok=True)
    with open(p, "wb") as f: f.write(os.urandom(4096))
PY

# tree-1pct's edits, applied to a copy of the tree (seeded: the same every run of the script).
make_tree_1pct() { # make_tree_1pct DIR
    python3 - "$1" "$work/cases/tree.names" <<'PY'
import os, random, sys
root, names = sys.argv[1], open(sys.argv[2]).read().split()
rng = random.Random(7)
k = max(1, len(names) // 100)
picked = rng.sample(names, 4 * k)
edit, delete, rename, chmod = picked[:k], picked[k:2*k], picked[2*k:3*k], picked[3*k:]
for rel in edit:           # a small overwrite plus a small insertion
    p = os.path.join(root, rel); b = open(p, "rb").read()
    at = len(b) // 2
    b = b[:at] + os.urandom(100) + b[at + 50:]
    open(p, "wb").write(b)
for rel in delete: os.remove(os.path.join(root, rel))
for rel in rename: os.rename(os.path.join(root, rel), os.path.join(root, rel + ".moved"))
for rel in chmod: os.chmod(os.path.join(root, rel), 0o600)
for i in range(k):         # new files
    p = os.path.join(root, f"new/n{i:05d}.dat")
    os.makedirs(os.path.dirname(p), exist_ok=True)
    open(p, "wb").write(os.urandom(rng.randint(1024, 256 << 10)))
PY
}

# case_source CASE DIR: the source tree of CASE; case_basis CASE DIR: what the destination holds before the run.
case_source() {
    local c="$1" d="$2"
    rm -rf "$d"; mkdir -p "$d"
    case "$c" in
        insert|scatter|append) cp -p "$work/cases/$c.bin" "$d/big.bin"; touch -d '2026-01-01 00:00:01' "$d/big.bin" ;;
        touch) cp -p "$work/cases/big.bin" "$d/big.bin"; touch -d '2026-01-02 00:00:00.5' "$d/big.bin" ;;
        tree-same|tree-fresh) cp -a "$work/cases/tree/." "$d/" ;;
        tree-1pct) cp -a "$work/cases/tree/." "$d/"; make_tree_1pct "$d" ;;
        small-fresh|small-pull) cp -a "$work/cases/small/." "$d/" ;;
    esac
}
case_basis() {
    local c="$1" d="$2"
    rm -rf "$d"; mkdir -p "$d"
    case "$c" in
        insert|scatter|append|touch) cp -p "$work/cases/big.bin" "$d/big.bin"; touch -d '2026-01-01 00:00:00' "$d/big.bin" ;;
        tree-same|tree-1pct) cp -a "$work/cases/tree/." "$d/" ;;
        tree-fresh|small-fresh|small-pull) ;;
    esac
}

# Same content, type, mode, size, link target and (files and links) mtime to the microsecond. Folder times are left
# out: rsync's daemon leaves some of them at the time of the run when --delete removed something inside.
describe() { (cd "$1" && find . -mindepth 1 \( -type d -printf '%P %y %m\n' \) -o -printf '%P %y %m %s %l %T@\n' | sed -E 's/(\.[0-9]{6})[0-9]*$/\1/' | LC_ALL=C sort); }
verify() { # verify SRC DST WHAT
    diff <(describe "$1") <(describe "$2") >"$work/verify.diff" || { head -20 "$work/verify.diff" >&2; die "$3: the destination's listing differs from the source"; }
    diff -r -q "$1" "$2" >/dev/null || die "$3: the destination's contents differ from the source"
}

# ---------------------------------------------------------------------------------------------------------------
# Links and servers.
tag="fsb$$"
setup_link() { # setup_link lo|shaped: sets cns (client ns), sns (server ns), ip, counter()
    local l="$1"
    if [[ "$l" == lo ]]; then
        cns="$tag-lo"; sns="$cns"; ip="127.0.0.1"
        ip netns add "$cns"; namespaces+=("$cns")
        ip netns exec "$cns" ip link set lo up
    else
        cns="$tag-a"; sns="$tag-b"; ip="10.231.7.2"
        ip netns add "$cns"; namespaces+=("$cns")
        ip netns add "$sns"; namespaces+=("$sns")
        ip link add "$tag-va" type veth peer name "$tag-vb"
        ip link set "$tag-va" netns "$cns"; ip link set "$tag-vb" netns "$sns"
        ip netns exec "$cns" ip addr add 10.231.7.1/24 dev "$tag-va"
        ip netns exec "$sns" ip addr add 10.231.7.2/24 dev "$tag-vb"
        for n in "$cns" "$sns"; do ip netns exec "$n" ip link set lo up; done
        ip netns exec "$cns" ip link set "$tag-va" up
        ip netns exec "$sns" ip link set "$tag-vb" up
        ip netns exec "$cns" tc qdisc add dev "$tag-va" root tbf rate "$rate" burst 256kb latency 50ms
        ip netns exec "$sns" tc qdisc add dev "$tag-vb" root tbf rate "$rate" burst 256kb latency 50ms
    fi
}
counter() { # bytes so far on the link, as the client's namespace counts them
    if [[ "$cns" == "$sns" ]]; then
        ip netns exec "$cns" cat /sys/class/net/lo/statistics/tx_bytes
    else
        echo $(( $(ip netns exec "$cns" cat "/sys/class/net/$tag-va/statistics/rx_bytes") + $(ip netns exec "$cns" cat "/sys/class/net/$tag-va/statistics/tx_bytes") ))
    fi
}
teardown_link() {
    stop_pid "$rsync_pid"; stop_pid "$ferry_pid"
    local ns; for ns in "$cns" "$sns"; do ip netns del "$ns" 2>/dev/null || true; done
    namespaces=()
}

rport=8873 fport=7447
start_servers() {
    cat >"$work/rsyncd.conf" <<EOF
pid file = $work/rsyncd.pid
use chroot = false
[dst]
    path = $work/rsync-dst
    read only = false
    uid = root
    gid = root
EOF
    rm -f "$work/rsyncd.pid"
    ip netns exec "$sns" rsync --daemon --no-detach --address="$ip" --port="$rport" --config="$work/rsyncd.conf" \
        >"$work/rsyncd.log" 2>&1 &
    rsync_pid=$!; pids+=("$rsync_pid")
    rm -rf "$work/state"; mkdir -p "$work/state"
    ferry_pid=
    if [[ " ${tools[*]} " == *" ferry "* ]]; then
        ip netns exec "$sns" "$ferry" serve --listen "$ip:$fport" --root "$work/ferry-root" --state-dir "$work/state" \
            --insecure-no-auth --log-level Warning >"$work/ferry-server.log" 2>&1 &
        ferry_pid=$!; pids+=("$ferry_pid"); ferry_cpu_after_run=
    fi
    local i
    for ((i = 0; i < 300; i++)); do
        listening() { ip netns exec "$sns" ss -Hltn "sport = :$1" | grep -q .; }
        if listening "$rport" && { [[ -z "$ferry_pid" ]] || listening "$fport"; }; then return 0; fi
        kill -0 "$rsync_pid" 2>/dev/null || { cat "$work/rsyncd.log" >&2; die "rsync daemon did not start"; }
        [[ -z "$ferry_pid" ]] || kill -0 "$ferry_pid" 2>/dev/null || { cat "$work/ferry-server.log" >&2; die "ferry server did not start"; }
        sleep 0.1
    done
    die "servers did not start listening"
}

clk_tck="$(getconf CLK_TCK)"
proc_cpu() { # proc_cpu PID: user + system seconds of the process and its waited-for children (0 without a process)
    [[ -n "$1" && -r "/proc/$1/stat" ]] || { echo 0; return; }
    awk -v t="$clk_tck" '{ sub(/^.*\) /, ""); printf "%.3f", ($12 + $13 + $14 + $15) / t }' "/proc/$1/stat"
}
now() { date +%s.%N; }
diff_s() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a - b }'; }

declare -A server_rss=() wall=() wire=() ccpu=() scpu=() crss=() bgcpu=()

# The ferry server chunks a file a delta put committed into its hash cache 2.5 s later (for the next sync of it), in
# the background. Before every timed run, wait until that can no longer happen during it: 3 s after the last ferry
# command ended, and both servers idle (under 10 ms of CPU in 250 ms), at most 30 s. The ferry server's CPU in that wait
# is its background work, reported apart from the runs'.
last_ferry_end=0 ferry_cpu_after_run=
settle() { # settle: waits, and prints the ferry server's CPU seconds used since the previous timed run ended
    local s0 a0 b0 a1 b1 waited=0
    s0="${ferry_cpu_after_run:-$(proc_cpu "$ferry_pid")}"
    while awk -v now="$(now)" -v last="$last_ferry_end" 'BEGIN { exit !(now - last < 3) }'; do sleep 0.2; done
    while ((waited < 120)); do
        a0="$(proc_cpu "$ferry_pid")"; b0="$(proc_cpu "$rsync_pid")"; sleep 0.25
        a1="$(proc_cpu "$ferry_pid")"; b1="$(proc_cpu "$rsync_pid")"
        awk -v a="$(diff_s "$a1" "$a0")" -v b="$(diff_s "$b1" "$b0")" 'BEGIN { exit !(a < 0.01 && b < 0.01) }' && break
        waited=$((waited + 1))
    done
    diff_s "$(proc_cpu "$ferry_pid")" "$s0"
}
[[ -n "$raw_file" ]] && printf 'link\tcase\ttool\trun\tseconds\twire_bytes\tclient_cpu\tserver_cpu\tclient_max_rss_kib\n' >"$raw_file"

# measure LINK CASE TOOL RUN
measure() {
    local l="$1" c="$2" tool="$3" r="$4" dst spid t0 t1 b0 b1 s0 s1 cmd=()
    if [[ "$c" == *-pull ]]; then
        # A pull: the source goes to the server's side first, the destination is a local folder.
        local remote
        if [[ "$tool" == rsync ]]; then remote="$work/rsync-dst/$c"; spid="$rsync_pid"; else remote="$work/ferry-root/$c"; spid="$ferry_pid"; fi
        rm -rf "$remote"; mkdir -p "$remote"; cp -a "$work/src/$c/." "$remote/"
        dst="$work/pull-dst/$c"
        if [[ "$tool" == rsync ]]; then
            cmd=(rsync -a --delete --no-whole-file "rsync://$ip:$rport/dst/$c/" "$dst/")
        else
            cmd=("$ferry" sync --plain --server "$ip:$fport" --delete -q ":$c" "$dst")
        fi
    elif [[ "$tool" == rsync ]]; then
        dst="$work/rsync-dst/$c"; spid="$rsync_pid"
        cmd=(rsync -a --delete --no-whole-file "$work/src/$c/" "rsync://$ip:$rport/dst/$c/")
    else
        dst="$work/ferry-root/$c"; spid="$ferry_pid"
        cmd=("$ferry" sync --plain --server "$ip:$fport" --delete -q "$work/src/$c" ":$c")
    fi
    case_basis "$c" "$dst"
    sync
    local background; background="$(settle)"
    b0="$(counter)"; s0="$(proc_cpu "$spid")"; t0="$(now)"
    timeout -k 5 "$cmd_timeout" /usr/bin/time -f '%U %S %M' -o "$work/time.txt" ip netns exec "$cns" "${cmd[@]}" \
        >"$work/client.log" 2>&1 || { tail -20 "$work/client.log" >&2; die "$l/$c: $tool failed"; }
    t1="$(now)"; b1="$(counter)"; s1="$(proc_cpu "$spid")"
    [[ "$tool" == ferry ]] && last_ferry_end="$t1"
    ferry_cpu_after_run="$(proc_cpu "$ferry_pid")"
    # What the ferry server did between the previous run and this one (its background chunking of committed files).
    bgcpu[$l|$c]+="$background "
    verify "$work/src/$c" "$dst" "$l/$c/$tool run $r"
    local k="$l|$c|$tool" secs ub sb rss
    secs="$(diff_s "$t1" "$t0")"
    read -r ub sb rss <"$work/time.txt"
    wall[$k]+="$secs "; wire[$k]+="$((b1 - b0)) "
    ccpu[$k]+="$(awk -v a="$ub" -v b="$sb" 'BEGIN { printf "%.3f", a + b }') "
    scpu[$k]+="$(diff_s "$s1" "$s0") "; crss[$k]+="$rss "
    [[ -n "$raw_file" ]] && printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$l" "$c" "$tool" "$r" "$secs" "$((b1 - b0))" \
        "$(awk -v a="$ub" -v b="$sb" 'BEGIN { printf "%.3f", a + b }')" "$(diff_s "$s1" "$s0")" "$rss" >>"$raw_file"
    return 0
}
median() { tr ' ' '\n' | { grep -v '^$' || true; } | LC_ALL=C sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "-"; else if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-") print "-"; else if (b > 0) printf "%.2f", a / b; else print "-" }'; }
mib() { awk -v a="$1" 'BEGIN { if (a == "-") print "-"; else printf "%.2f", a / 1048576 }'; }

for l in "${links[@]}"; do
    echo "link $l: setting up..." >&2
    setup_link "$l"
    start_servers
    for c in "${cases[@]}"; do
        case_source "$c" "$work/src/$c"
        for ((r = 1; r <= runs; r++)); do
            if ((r % 2)); then order=(rsync ferry); else order=(ferry rsync); fi
            for tool in "${order[@]}"; do
                [[ " ${tools[*]} " == *" $tool "* ]] || continue
                echo "  $l $c run $r: $tool" >&2
                measure "$l" "$c" "$tool" "$r"
            done
        done
        rm -rf "$work/rsync-dst/$c" "$work/ferry-root/$c" "$work/pull-dst/$c" "$work/src/$c"
    done
    [[ -n "$ferry_pid" ]] && server_rss[$l]="$(awk '/^VmHWM/ {print $2}' "/proc/$ferry_pid/status")"
    teardown_link
done

# ---------------------------------------------------------------------------------------------------------------
echo
echo "ferry sync vs rsync $(rsync --version | awk 'NR == 1 {print $3}') (daemon, --no-whole-file): medians of $runs runs; size $(numfmt --to=iec-i --suffix=B "$size"), tree $tree_files files; shaped = tbf $rate"
((runs >= 5)) || echo "(fewer than 5 runs: read the medians as rough)"
printf '| link | case | rsync s | ferry s | ferry/rsync time | rsync wire MiB | ferry wire MiB | ferry/rsync bytes | CPU s client rsync / ferry | CPU s server rsync / ferry | client max RSS MiB rsync / ferry |\n'
printf '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n'
for l in "${links[@]}"; do
    for c in "${cases[@]}"; do
        rk="$l|$c|rsync" fk="$l|$c|ferry"
        rw="$(median <<<"${wall[$rk]:-}")" fw="$(median <<<"${wall[$fk]:-}")"
        rb="$(median <<<"${wire[$rk]:-}")" fb="$(median <<<"${wire[$fk]:-}")"
        printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s / %s | %s / %s | %s / %s |\n' "$l" "$c" "$rw" "$fw" "$(ratio "$fw" "$rw")" \
            "$(mib "$rb")" "$(mib "$fb")" "$(ratio "$fb" "$rb")" \
            "$(median <<<"${ccpu[$rk]:-}")" "$(median <<<"${ccpu[$fk]:-}")" "$(median <<<"${scpu[$rk]:-}")" "$(median <<<"${scpu[$fk]:-}")" \
            "$(awk -v a="$(median <<<"${crss[$rk]:-}")" 'BEGIN { printf "%.0f", a / 1024 }')" "$(awk -v a="$(median <<<"${crss[$fk]:-}")" 'BEGIN { printf "%.0f", a / 1024 }')"
    done
done
for l in "${links[@]}"; do echo "ferry server peak RSS over link $l: $(awk -v a="${server_rss[$l]:-0}" 'BEGIN { printf "%.0f", a / 1024 }') MiB"; done
# Work the ferry server did between runs, not counted in the table: chunking the files its delta puts committed into its
# hash cache, for their next sync (the destination is rebuilt before every run, so here that work is never used).
for l in "${links[@]}"; do
    for c in "${cases[@]}"; do
        printf 'ferry server background CPU s between runs, %s %s: median %s\n' "$l" "$c" "$(median <<<"${bgcpu[$l|$c]:-}")"
    done
done

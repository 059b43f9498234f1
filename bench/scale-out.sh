#!/usr/bin/env bash
# Scale-out benchmark: Ferry on a NATS JetStream cluster (docs/scale-out.md), on loopback (127.0.0.1 only), against
# the same cluster used directly and against Ferry's local store.
#
# It starts, in a private temporary folder (on tmpfs, like bench/transfer.sh):
#   - a 3-node nats-server cluster with JetStream (configs as tests/Ferry.Testing/NatsCluster.cs writes them),
#   - two `ferry serve --store nats://... --nats-replicas R --plain` (A and B), and one user added with
#     `ferry user add --store`,
#   - one plain `ferry serve --plain` on a local folder (the local store), with its own user.
#
# Part 1, one large file (--size, default 1 GiB), medians of --runs runs (default 5), the modes alternating round by
# round, each timed as the whole command (process start included, as in transfer.sh):
#   nats put / nats get    ferry put through server A / ferry get through server B (the other server: nothing is on
#                          either server's disk, and B serves what A stored)
#   bare put / bare get    bench/Ferry.NatsBaseline: the same file into / out of one object in an object store of the
#                          same cluster with the same replicas, NATS.Net alone (the reference: what the cluster gives
#                          a client with no Ferry in between)
#   local put / local get  ferry put / ferry get against the local-store server
# Every download is compared with the source (cmp), and every local upload on the server's disk; a difference or a
# failed command aborts. Between rounds the file is removed and the data buckets are emptied (see
# Ferry.NatsBaseline's purge), so the cluster's disk use stays at one file x replicas.
# CPU seconds (user + sys): client = the client process; ferry = both Ferry servers (or the local one); nats = the
# three nats-server processes together; each a median over the runs.
#
# Part 2, --clients concurrent uploads of --client-size (default 1000 x 1 MiB): bench/Ferry.Load concurrent-put, two
# processes at the same moment, half the clients each, one per Ferry server on NATS (--baseline none, each client its
# own connection, login, file; nothing retried); then, as a reference, the same number against the local store in one
# process. Reports failures, the time from start to the last upload and the aggregate MB/s.
#
#   bench/scale-out.sh                                   # 5 runs of 1 GiB, 3 replicas, 1000 x 1 MiB
#   FERRY_BENCH_SIZE=256M FERRY_BENCH_RUNS=3 bench/scale-out.sh   # a quicker run (sizes: bytes or K/M/G, powers of 1024)
#   bench/scale-out.sh --size 64M --runs 3 --clients 200 # quick check
#
# Options: --size SIZE (or FERRY_BENCH_SIZE; default 1G), --runs N (or FERRY_BENCH_RUNS; 1-100, default 5),
#          --warmup N (untimed rounds first, default 1), --replicas N (1-3, default 3), --clients N (0 skips part 2;
#          default 1000), --client-size SIZE (default 1M), --no-transfers (part 2 only), --no-build (use the existing
#          builds), --raw FILE (every run as TSV), --timeout SECONDS (per command; default 120 + 120 per GiB),
#          --tmpfs auto|shm|mount (see transfer.sh).
#
# On exit (normal, error, Ctrl-C, SIGTERM) it stops by PID every process it started and removes the folder.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"

runs="${FERRY_BENCH_RUNS:-5}"
size_arg="${FERRY_BENCH_SIZE:-1G}"
warmup=1
replicas=3
clients=1000
client_size_arg=1M
build=1
transfers=1
raw_file=
timeout_arg=
tmpfs_mode=auto

die() { echo "scale-out.sh: $*" >&2; exit 1; }
note() { echo "$*" >&2; }
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; }

while (($#)); do
    case "$1" in
        --runs) runs="${2:?--runs needs a number}"; shift 2 ;;
        --size) size_arg="${2:?--size needs a size}"; shift 2 ;;
        --warmup) warmup="${2:?--warmup needs a number}"; shift 2 ;;
        --replicas) replicas="${2:?--replicas needs a number}"; shift 2 ;;
        --clients) clients="${2:?--clients needs a number}"; shift 2 ;;
        --client-size) client_size_arg="${2:?--client-size needs a size}"; shift 2 ;;
        --no-build) build=0; shift ;;
        --no-transfers) transfers=0; shift ;;
        --raw) raw_file="${2:?--raw needs a file}"; shift 2 ;;
        --timeout) timeout_arg="${2:?--timeout needs seconds}"; shift 2 ;;
        --tmpfs) tmpfs_mode="${2:?--tmpfs needs auto, shm or mount}"; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        *) die "unknown argument '$1' (see --help)" ;;
    esac
done

[[ "$runs" =~ ^[0-9]+$ ]] && ((runs >= 1 && runs <= 100)) || die "--runs must be 1-100"
[[ "$warmup" =~ ^[0-9]+$ ]] && ((warmup <= 10)) || die "--warmup must be 0-10"
[[ "$replicas" =~ ^[1-3]$ ]] || die "--replicas must be 1-3 (the cluster has three nodes)"
[[ "$clients" =~ ^[0-9]+$ ]] && ((clients <= 5000)) || die "--clients must be 0-5000"
[[ "$tmpfs_mode" =~ ^(auto|shm|mount)$ ]] || die "--tmpfs must be auto, shm or mount"
size="$(parse_size "$size_arg")" || die "--size: cannot read '$size_arg'"
((size >= 1 << 20)) || die "--size must be at least 1M"
client_size="$(parse_size "$client_size_arg")" || die "--client-size: cannot read '$client_size_arg'"
((client_size >= 1 && client_size <= 64 << 20)) || die "--client-size must be 1 byte to 64M"
size_h="$(numfmt --to=iec-i --suffix=B "$size")"
if [[ -n "$timeout_arg" ]]; then
    [[ "$timeout_arg" =~ ^[0-9]+$ ]] && ((timeout_arg >= 1)) || die "--timeout must be a whole number of seconds"
    cmd_timeout="$timeout_arg"
else
    cmd_timeout=$((120 + 120 * ((size + (1 << 30) - 1) >> 30)))
fi
nats_server="$(command -v nats-server || echo /usr/sbin/nats-server)"
[[ -x "$nats_server" ]] || die "nats-server is required (Debian: apt-get install nats-server)"
for tool in ss timeout cmp numfmt awk curl; do command -v "$tool" >/dev/null || die "$tool is required"; done

# ---------------------------------------------------------------------------------------------------------------
# Cleanup: everything started is recorded here and stopped by PID.
work=
mounted=0
declare -a pids=()
child_pid=
cleanup() {
    local rc=$? pid
    trap - EXIT INT TERM
    set +e
    stop_pid "$child_pid"
    for pid in "${load_pids[@]}"; do stop_pid "$pid"; done
    for pid in "${pids[@]}"; do stop_pid "$pid"; done
    if [[ -n "$work" ]]; then
        if ((mounted)); then umount "$work" || umount -l "$work"; rmdir "$work"; else rm -rf -- "$work"; fi
    fi
    exit "$rc"
}
declare -a load_pids=()
trap cleanup EXIT
trap 'echo "scale-out.sh: interrupted" >&2; exit 130' INT
trap 'echo "scale-out.sh: terminated" >&2; exit 143' TERM

# ---------------------------------------------------------------------------------------------------------------
# Builds: ferry published like bench/compare.sh does (native AOT when clang is there to link it, else ReadyToRun,
# which the project file turns on for a publish with a runtime), Ferry.NatsBaseline and Ferry.Load in Release.
dotnet_arch() { case "$(uname -m)" in x86_64) echo x64 ;; aarch64) echo arm64 ;; *) uname -m ;; esac; }
# With --no-build: the native build if there is one (compare.sh makes the same), else the ReadyToRun one.
if { ((build)) && command -v clang >/dev/null && [[ -e /usr/include/zlib.h ]]; } \
    || { ((!build)) && [[ -x "$repo/artifacts/bench/ferry/ferry" ]]; }; then
    ferry_dir="$repo/artifacts/bench/ferry" aot=(-p:PublishAot=true) ferry_kind="native AOT"
else
    ferry_dir="$repo/artifacts/bench/ferry-r2r" aot=() ferry_kind="ReadyToRun (no clang for native AOT)"
fi
ferry="$ferry_dir/ferry"
baseline_dir="$repo/bench/Ferry.NatsBaseline"
load_dir="$repo/bench/Ferry.Load"
if ((build)); then
    note "publishing src/Ferry.Cli (Release, $ferry_kind) to $ferry_dir..."
    DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 timeout 1200 dotnet publish -c Release src/Ferry.Cli \
        -r "linux-$(dotnet_arch)" "${aot[@]}" -o "$ferry_dir" -nologo -v q -clp:ErrorsOnly >&2 || die "publish of src/Ferry.Cli failed"
    for project in "$baseline_dir" "$load_dir"; do
        note "building ${project#"$repo"/} (Release)..."
        DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 timeout 900 \
            dotnet build -c Release "$project" -nologo -v q -clp:ErrorsOnly >&2 || die "build of $project failed"
    done
fi
[[ -x "$ferry" ]] || die "no published build at $ferry (run without --no-build)"
baseline="$baseline_dir/bin/Release/net10.0/ferry-nats-baseline"
load_bin="$load_dir/bin/Release/net10.0/ferry-load"
[[ -x "$baseline" ]] || die "no build at $baseline (run without --no-build)"
((clients == 0)) || [[ -x "$load_bin" ]] || die "no build at $load_bin (run without --no-build)"

# ---------------------------------------------------------------------------------------------------------------
# Work folder: source, one download, the local store's copy, and the cluster's copies (replicas x size; between
# rounds the data buckets are emptied). Asked for (4 + replicas) x size + 512 MiB + what part 2 stores (its files stay
# in the cluster: removed files wait for the sweep), (replicas + 1) x clients x client size.
need=$(((4 + replicas) * size + (512 << 20) + (replicas + 1) * clients * client_size))
make_work_folder ferry-scale "$need" $((1 << 30))
mkdir -p "$work/client" "$work/local/root" "$work/local/state" "$work/a" "$work/b"
export FERRY_CONFIG_DIR="$work/client"
chmod 700 "$FERRY_CONFIG_DIR"
src="$work/source.bin"
dl="$work/download.bin"
name="bench.bin"

# ---------------------------------------------------------------------------------------------------------------
# The NATS cluster: three nodes, client, cluster and monitoring ports on 127.0.0.1.
declare -a nats_pids=() client_ports=() cluster_ports=() monitor_ports=()
for i in 1 2 3; do
    pick_port np; client_ports+=("$np"); pick_port np; cluster_ports+=("$np"); pick_port np; monitor_ports+=("$np")
done
routes="$(printf 'nats-route://127.0.0.1:%s, ' "${cluster_ports[@]}")"; routes="${routes%, }"
node_store=$(((replicas + 1) * size + (1 << 30) + 2 * clients * client_size))
for i in 0 1 2; do
    node="n$((i + 1))"
    mkdir -p "$work/nats/$node"
    cat >"$work/nats/$node.conf" <<EOF
server_name: $node
listen: 127.0.0.1:${client_ports[$i]}
http: 127.0.0.1:${monitor_ports[$i]}
jetstream {
  store_dir: "$work/nats/$node"
  max_mem_store: 64MB
  max_file_store: $node_store
}
cluster {
  name: ferry-bench
  listen: 127.0.0.1:${cluster_ports[$i]}
  routes: [ $routes ]
}
EOF
    "$nats_server" -c "$work/nats/$node.conf" -l "$work/nats/$node.log" >/dev/null 2>&1 &
    nats_pids+=("$!"); pids+=("$!")
done
for i in 0 1 2; do
    for ((t = 0; t < 600; t++)); do
        curl -fs -o /dev/null "http://127.0.0.1:${monitor_ports[$i]}/healthz?js-enabled-only=true" && break
        kill -0 "${nats_pids[$i]}" 2>/dev/null || { tail -20 "$work/nats/n$((i + 1)).log" >&2; die "nats-server n$((i + 1)) exited"; }
        sleep 0.1
    done
    ((t < 600)) || { tail -20 "$work/nats/n$((i + 1)).log" >&2; die "nats-server n$((i + 1)) did not report JetStream up in 60 s"; }
done
# JetStream answers its API only once the nodes have elected a meta leader: wait for every node to name one.
for i in 0 1 2; do
    for ((t = 0; t < 600; t++)); do
        curl -fs "http://127.0.0.1:${monitor_ports[$i]}/jsz" 2>/dev/null | grep -q '"leader": *"n[123]"' && break
        sleep 0.1
    done
    ((t < 600)) || die "the NATS cluster elected no JetStream meta leader in 60 s (see $work/nats/*.log)"
done
url="nats://$(printf '127.0.0.1:%s,' "${client_ports[@]}")"; url="${url%,}"
nats_version="$("$nats_server" --version 2>/dev/null | awk '{print $NF}')"

# ---------------------------------------------------------------------------------------------------------------
# Ferry servers. The load limits are raised for part 2 (the defaults refuse 1000 connections of one user).
# (1000 clients logging in at once also exceed the defaults for connections not yet logged in, which shed the idlest,
# and one user's 1000 uploads the default of open uploads per user, an eighth of a quarter of the open-file limit).
limits=(--max-connections 20000 --max-connections-per-user 20000 --max-connections-per-address 20000
    --max-unauthenticated-connections 20000 --max-unauthenticated-connections-per-address 20000
    --max-open-uploads 5000 --max-open-uploads-per-user 5000)
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" || true
start_server() { # start_server DIR PORT ARGS...: sets server_pid
    local dir="$1" port="$2" attempt; shift 2
    # Up to three attempts: on a busy machine the cluster's API can miss the connect-time deadline ("No API response").
    for attempt in 1 2 3; do
        "$ferry" serve --listen "127.0.0.1:$port" --root "$dir/root" --state-dir "$dir/state" --plain --log-level Warning \
            "${limits[@]}" "$@" >"$dir/server.log" 2>&1 &
        server_pid=$!
        pids+=("$server_pid")
        wait_listening "$port" "$server_pid" && return 0
        note "the server in $dir did not start (attempt $attempt): $(tail -n 1 "$dir/server.log")"
        sleep 2
    done
    die "the server in $dir did not start"
}
run_timeout=60 run "$ferry" user add bench --allow read,write --key-file "$work/nats.key" --store "$url" --nats-replicas "$replicas" \
    >/dev/null || die "ferry user add --store failed"
run_timeout=60 run "$ferry" user add bench --allow read,write --key-file "$work/local.key" --state-dir "$work/local/state" \
    >/dev/null || die "ferry user add --state-dir failed"
pick_port port_a; pick_port port_b; pick_port port_local
start_server "$work/a" "$port_a" --store "$url" --nats-replicas "$replicas"; pid_a="$server_pid"
start_server "$work/b" "$port_b" --store "$url" --nats-replicas "$replicas"; pid_b="$server_pid"
start_server "$work/local" "$port_local"; pid_local="$server_pid"
nats_key="$(tr -d ' \n' <"$work/nats.key")"
local_key="$(tr -d ' \n' <"$work/local.key")"
export FERRY_USER=bench

note "writing $size_h of random data to $src..."
head -c "$size" /dev/urandom >"$src"
(($(stat -c %s "$src") == size)) || die "the source file has the wrong size"

# ---------------------------------------------------------------------------------------------------------------
# Measurements
clk_tck="$(getconf CLK_TCK)"
children_cpu() { # sets cpu_now: CPU seconds (user + sys) of all waited-for children of this shell so far
    times >"$work/times.txt"
    cpu_now="$(awk 'NR == 2 { n = split($0, f, " "); s = 0
        for (i = 1; i <= n; i++) { v = f[i]; sub(/s$/, "", v); split(v, p, "m"); s += p[1] * 60 + p[2] }
        printf "%.3f", s }' "$work/times.txt")"
}
procs_cpu() { # CPU seconds (user + sys) of live processes, summed
    local pid sum=0 one
    for pid in "$@"; do
        one="$(awk -v t="$clk_tck" '{ sub(/^.*\) /, ""); printf "%.3f", ($12 + $13) / t }' "/proc/$pid/stat")"
        sum="$(awk -v a="$sum" -v b="$one" 'BEGIN { printf "%.3f", a + b }')"
    done
    echo "$sum"
}
now() { date +%s.%N; }
diff_s() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a - b }'; }
verify() { cmp -s "$src" "$1" || die "$2: the transferred file differs from the source (or is missing): $1"; }
bl_opts=(--url "$url" --replicas "$replicas")

declare -A times_of=() ccpu_of=() fcpu_of=() ncpu_of=()
modes=(nats-put nats-get bare-put bare-get local-put local-get)
declare -A label=(
    [nats-put]="Ferry on NATS, put (A)" [nats-get]="Ferry on NATS, get (B)"
    [bare-put]="bare object store, put" [bare-get]="bare object store, get"
    [local-put]="Ferry local store, put" [local-get]="Ferry local store, get"
)

# measure MODE RECORD(0|1): one run; writes mode, seconds, client CPU, ferry CPU, nats CPU to $work/last.tsv
measure() {
    local mode="$1" record="$2" t0 t1 c0 c1 f0 f1 n0 n1 fpids=() cmd=()
    case "$mode" in
        nats-put) fpids=("$pid_a" "$pid_b"); cmd=(env FERRY_KEY="$nats_key" "$ferry" put "$src" "$name" --server "127.0.0.1:$port_a" --plain -q) ;;
        nats-get) fpids=("$pid_a" "$pid_b"); cmd=(env FERRY_KEY="$nats_key" "$ferry" get "$name" "$dl" --server "127.0.0.1:$port_b" --plain -q) ;;
        bare-put) cmd=("$baseline" put "${bl_opts[@]}" --bucket bench-bare --file "$src" --name "$name" --timeout "$cmd_timeout") ;;
        bare-get) cmd=("$baseline" get "${bl_opts[@]}" --bucket bench-bare --file "$dl" --name "$name" --timeout "$cmd_timeout") ;;
        local-put) fpids=("$pid_local"); cmd=(env FERRY_KEY="$local_key" "$ferry" put "$src" "$name" --server "127.0.0.1:$port_local" --plain -q) ;;
        local-get) fpids=("$pid_local"); cmd=(env FERRY_KEY="$local_key" "$ferry" get "$name" "$dl" --server "127.0.0.1:$port_local" --plain -q) ;;
    esac
    rm -f "$dl"
    f0="$(procs_cpu "${fpids[@]}")"; n0="$(procs_cpu "${nats_pids[@]}")"; children_cpu; c0="$cpu_now"; t0="$(now)"
    run "${cmd[@]}" >"$work/cmd.out" || { cat "$work/cmd.out" >&2; die "$mode failed"; }
    t1="$(now)"; children_cpu; c1="$cpu_now"; f1="$(procs_cpu "${fpids[@]}")"; n1="$(procs_cpu "${nats_pids[@]}")"
    case "$mode" in
        *-get) verify "$dl" "$mode"; rm -f "$dl" ;;
        local-put) verify "$work/local/root/bench/$name" "$mode" ;;
    esac
    # After each get, the file goes, and so does every object the data buckets hold (the parts of a removed file
    # otherwise stay until the partial_ttl sweep): the next round starts from the same empty cluster.
    case "$mode" in
        nats-get)
            run_timeout=60 run env FERRY_KEY="$nats_key" "$ferry" rm "$name" --server "127.0.0.1:$port_a" --plain >/dev/null || die "ferry rm failed"
            run_timeout=60 run "$baseline" purge "${bl_opts[@]}" --bucket ferry-data >/dev/null || die "purging ferry-data failed" ;;
        bare-get) run_timeout=60 run "$baseline" delete "${bl_opts[@]}" --bucket bench-bare --name "$name" >/dev/null || die "deleting the bare object failed" ;;
        local-get) run_timeout=60 run env FERRY_KEY="$local_key" "$ferry" rm "$name" --server "127.0.0.1:$port_local" --plain >/dev/null || die "ferry rm failed" ;;
    esac
    local secs ccpu fcpu ncpu
    secs="$(diff_s "$t1" "$t0")"; ccpu="$(diff_s "$c1" "$c0")"; fcpu="$(diff_s "$f1" "$f0")"; ncpu="$(diff_s "$n1" "$n0")"
    [[ "$mode" == local-* ]] && ncpu="-"
    [[ "$mode" == bare-* ]] && fcpu="-"
    if ((record)); then
        times_of[$mode]+="$secs "; ccpu_of[$mode]+="$ccpu "; fcpu_of[$mode]+="$fcpu "; ncpu_of[$mode]+="$ncpu "
    fi
    printf '%s\t%s\t%s\t%s\t%s\n' "$mode" "$secs" "$ccpu" "$fcpu" "$ncpu" >"$work/last.tsv"
}

median() { tr ' ' '\n' | awk 'NF && $1 != "-"' | sort -g | awk '{ v[NR] = $1 } END {
    if (NR == 0) { print "-"; exit }
    if (NR % 2) printf "%.3f", v[(NR + 1) / 2]; else printf "%.3f", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
minmax() { tr ' ' '\n' | awk 'NF' | sort -g | awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%.2f-%.2f", lo, hi }'; }

commit="$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)"
echo "== Ferry scale-out benchmark, $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
echo "   size $size_h ($size bytes), $runs runs per mode (+$warmup warm-up round(s), not counted), 127.0.0.1 only"
echo "   nats-server $nats_version, 3 nodes, $replicas replica(s), JetStream file storage; files and NATS stores on $tmpfs_desc"
echo "   ferry: $ferry ($ferry_kind, commit $commit), servers --plain with login"
echo "   nproc $(nproc), CPU '$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)', dotnet $(dotnet --version 2>/dev/null || echo '?')"
echo "   load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
((runs >= 5)) || echo "   NOTE: fewer than 5 runs per mode; medians are rough"
[[ -z "$raw_file" ]] || printf 'round\tmode\tseconds\tclient_cpu_s\tferry_cpu_s\tnats_cpu_s\n' >"$raw_file"

((transfers)) || runs=0 warmup=0
for ((round = 1; round <= warmup + runs; round++)); do
    if ((round <= warmup)); then tag="warm-up $round/$warmup"; rec=0; else tag="run $((round - warmup))/$runs"; rec=1; fi
    line="   $tag:"
    for mode in "${modes[@]}"; do
        measure "$mode" "$rec"
        IFS=$'\t' read -r m secs ccpu fcpu ncpu <"$work/last.tsv"
        line+=" $mode $secs"
        ((rec)) && [[ -n "$raw_file" ]] && printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$((round - warmup))" "$m" "$secs" "$ccpu" "$fcpu" "$ncpu" >>"$raw_file"
    done
    echo "$line"
done
if ((transfers)); then
echo "   load average after part 1: $(cut -d' ' -f1-3 /proc/loadavg)"

echo
printf '| %-26s | %8s | %11s | %7s | %13s | %10s | %9s | %9s |\n' mode "median s" "min-max s" "MB/s" "vs bare NATS" "client CPU" "ferry CPU" "nats CPU"
printf '|%s|---------:|------------:|--------:|--------------:|-----------:|----------:|----------:|\n' "$(printf -- '-%.0s' {1..28})"
for mode in "${modes[@]}"; do
    med="$(median <<<"${times_of[$mode]}")"
    case "$mode" in *-put) ref="$(median <<<"${times_of[bare-put]}")" ;; *) ref="$(median <<<"${times_of[bare-get]}")" ;; esac
    awk -v l="${label[$mode]}" -v m="$med" -v r="$(minmax <<<"${times_of[$mode]}")" -v s="$size" -v ref="$ref" \
        -v cc="$(median <<<"${ccpu_of[$mode]}")" -v fc="$(median <<<"${fcpu_of[$mode]}")" -v nc="$(median <<<"${ncpu_of[$mode]}")" 'BEGIN {
        printf "| %-26s | %8.2f | %11s | %7.0f | %11.2f x | %10s | %9s | %9s |\n", l, m, r, s / 1e6 / m, ref / m, cc, fc, nc }'
done
echo
echo "MB/s = $size bytes / 10^6 / median wall-clock seconds of the whole command. vs bare NATS = speed / the speed of"
echo "the bare object store in the same direction (1.00 x: as fast as NATS.Net alone). CPU = user+sys seconds, median:"
echo "client = the client process, ferry = Ferry servers A+B (or the local one), nats = the three nats-server processes."
fi

# ---------------------------------------------------------------------------------------------------------------
# Part 2: concurrent uploads.
((clients > 0)) || exit 0
half=$((clients / 2)) other=$((clients - clients / 2))
load_timeout=$((300 + clients / 2))
load_common=(concurrent-put --plain --size "$client_size" --baseline none --timeout "$load_timeout")
echo
echo "== $clients concurrent uploads of $(numfmt --to=iec-i --suffix=B "$client_size"), each its own connection and login, nothing retried"
n0="$(procs_cpu "${nats_pids[@]}")"; f0="$(procs_cpu "$pid_a" "$pid_b")"; t0="$(now)"
FERRY_KEY="$nats_key" timeout -k 5 $((load_timeout + 30)) "$load_bin" "${load_common[@]}" --server "127.0.0.1:$port_a" \
    --clients "$half" --server-pid "$pid_a" >"$work/load-a.json" 2>"$work/load-a.err" &
load_pids+=("$!")
FERRY_KEY="$nats_key" timeout -k 5 $((load_timeout + 30)) "$load_bin" "${load_common[@]}" --server "127.0.0.1:$port_b" \
    --clients "$other" --server-pid "$pid_b" >"$work/load-b.json" 2>"$work/load-b.err" &
load_pids+=("$!")
rc_a=0 rc_b=0
wait "${load_pids[0]}" || rc_a=$?
wait "${load_pids[1]}" || rc_b=$?
load_pids=()
t1="$(now)"; n1="$(procs_cpu "${nats_pids[@]}")"; f1="$(procs_cpu "$pid_a" "$pid_b")"
first_errors() { # first_errors SIDE: what ferry-load said about the failures (its stderr: the first 10 and a count by kind)
    echo "   errors ($1):"; grep -v '^{' "$work/load-$1.err" | tail -n 15 | cut -c1-240 | sed 's/^/     /'
}
field() { grep -o "\"$2\":[^,}]*" "$1" | head -n 1 | cut -d: -f2- | tr -d '"'; }
for side in a b; do
    f="$work/load-$side.json"
    echo "   server $side: exit $([[ $side == a ]] && echo $rc_a || echo $rc_b), clients $(field "$f" clients), failures $(field "$f" failures)," \
        "$(field "$f" total_seconds) s start to last upload, $(field "$f" aggregate_mb_s) MB/s, upload p50 $(field "$f" upload_median_ms) ms" \
        "p99 $(field "$f" upload_p99_ms) ms, server CPU $(field "$f" concurrent_server_cpu_seconds) s"
    [[ "$(field "$f" failures)" == 0 ]] || first_errors "$side"
done
awk -v a="$(field "$work/load-a.json" total_seconds)" -v b="$(field "$work/load-b.json" total_seconds)" \
    -v fa="$(field "$work/load-a.json" failures)" -v fb="$(field "$work/load-b.json" failures)" -v n="$clients" -v s="$client_size" \
    -v wall="$(diff_s "$t1" "$t0")" -v nc="$(diff_s "$n1" "$n0")" -v fc="$(diff_s "$f1" "$f0")" 'BEGIN {
    t = (a > b ? a : b); ok = n - fa - fb
    printf "   both: %d of %d stored, %d failed; %.2f s (the slower of the two, start signal to last upload): %.0f MB/s together\n", ok, n, fa + fb, t, ok * s / 1e6 / t
    printf "   whole run incl. process start, warm-up upload and clean-up: %.1f s; CPU: Ferry servers %.1f s, nats-servers %.1f s\n", wall, fc, nc }'

FERRY_KEY="$local_key" timeout -k 5 $((load_timeout + 30)) "$load_bin" "${load_common[@]}" --server "127.0.0.1:$port_local" \
    --clients "$clients" --server-pid "$pid_local" >"$work/load-local.json" 2>"$work/load-local.err" &
load_pids+=("$!")
rc_l=0
wait "${load_pids[0]}" || rc_l=$?
load_pids=()
f="$work/load-local.json"
echo "   local store, one server (reference): exit $rc_l, failures $(field "$f" failures), $(field "$f" total_seconds) s," \
    "$(field "$f" aggregate_mb_s) MB/s, upload p50 $(field "$f" upload_median_ms) ms p99 $(field "$f" upload_p99_ms) ms," \
    "server CPU $(field "$f" concurrent_server_cpu_seconds) s"
[[ "$(field "$f" failures)" == 0 ]] || first_errors local
echo "   load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
((rc_a == 0 && rc_b == 0 && rc_l == 0)) || exit 1

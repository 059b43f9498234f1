#!/usr/bin/env bash
# File-transfer benchmark: one large random file moved over loopback (127.0.0.1 only), tmpfs to tmpfs, by
#
#   socat              raw TCP reference: socat -u file -> TCP -> socat -u file, socat's default 8 KiB buffer
#   socat -b 1M        the same with a 1 MiB buffer (what plain TCP does with big reads and writes)
#   put / get          ferry put / ferry get, server --insecure-no-auth (plain TCP, no login), default xxh3-128
#   put/get sha256     the same with --checksum sha256
#   put/get TLS        server in its default mode (TLS + login), client logged in with 'ferry login'
#   put/get plain+MAC  server --plain (plain TCP + login, every frame carries a MAC)   [skip with --no-plain]
#
# Every figure is the median of --runs runs (default 5). Runs alternate the tools round by round
# (socat, socat -b 1M, put, get, put sha256, ...), each timed as the whole command, wall clock (date +%s.%N): a
# ferry run includes the process start (.NET runtime, JIT), connecting, login where there is one, the transfer
# and the end-to-end checksum. The socat time runs from starting the sender until the receiver has exited (file
# written and closed). Every run's output file is compared with the source (cmp) after the clock stops; a
# difference or a failed command aborts the benchmark. The table also gives the CPU seconds (user + system) of
# the client processes (both socat processes for socat) and of the ferry server, per run, median.
#
#   bench/transfer.sh                       # 5 runs of 1 GiB (about 4 minutes on 2 cores)
#   bench/transfer.sh --runs 9 --size 2G    # sizes: bytes, or with K/M/G (powers of 1024)
#   bench/transfer.sh --runs 3 --size 64M   # quick check (fewer than 5 runs is flagged in the output)
#
# Options: --runs N (1-100, default 5), --size SIZE (default 1G), --warmup N (untimed rounds first, default 1),
#          --no-plain, --no-build (use the existing Release build), --raw FILE (every run as TSV),
#          --timeout SECONDS (per command; default 120 + 120 per GiB), --tmpfs auto|shm|mount (default auto:
#          a private folder in /dev/shm when it has room, else a private tmpfs mounted under /tmp; needs root).
#
# It builds src/Ferry.Cli in Release (unless --no-build), creates its own server state, users and client config
# inside the tmpfs folder, and on exit (normal, error, Ctrl-C, SIGTERM) stops by PID every process it started and
# removes or unmounts the tmpfs folder. socat is installed with apt-get when missing.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"

runs=5
size_arg=1G
warmup=1
with_plain=1
build=1
raw_file=
timeout_arg=
tmpfs_mode=auto

die() { echo "transfer.sh: $*" >&2; exit 1; }
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; }

while (($#)); do
    case "$1" in
        --runs) runs="${2:?--runs needs a number}"; shift 2 ;;
        --runs=*) runs="${1#*=}"; shift ;;
        --size) size_arg="${2:?--size needs a size}"; shift 2 ;;
        --size=*) size_arg="${1#*=}"; shift ;;
        --warmup) warmup="${2:?--warmup needs a number}"; shift 2 ;;
        --warmup=*) warmup="${1#*=}"; shift ;;
        --no-plain) with_plain=0; shift ;;
        --no-build) build=0; shift ;;
        --raw) raw_file="${2:?--raw needs a file}"; shift 2 ;;
        --raw=*) raw_file="${1#*=}"; shift ;;
        --timeout) timeout_arg="${2:?--timeout needs seconds}"; shift 2 ;;
        --timeout=*) timeout_arg="${1#*=}"; shift ;;
        --tmpfs) tmpfs_mode="${2:?--tmpfs needs auto, shm or mount}"; shift 2 ;;
        --tmpfs=*) tmpfs_mode="${1#*=}"; shift ;;
        -h|--help) usage; exit 0 ;;
        *) die "unknown argument '$1' (see --help)" ;;
    esac
done

[[ "$runs" =~ ^[0-9]+$ ]] && ((runs >= 1 && runs <= 100)) || die "--runs must be 1-100"
[[ "$warmup" =~ ^[0-9]+$ ]] && ((warmup <= 10)) || die "--warmup must be 0-10"
[[ "$tmpfs_mode" =~ ^(auto|shm|mount)$ ]] || die "--tmpfs must be auto, shm or mount"

size="$(parse_size "$size_arg")" || die "--size: cannot read '$size_arg' (bytes, or a number with K, M or G)"
((size >= 1 << 20)) || die "--size must be at least 1M"
size_h="$(numfmt --to=iec-i --suffix=B "$size")"
if [[ -n "$timeout_arg" ]]; then
    [[ "$timeout_arg" =~ ^[0-9]+$ ]] && ((timeout_arg >= 1)) || die "--timeout must be a whole number of seconds"
    cmd_timeout="$timeout_arg"
else
    cmd_timeout=$((120 + 120 * ((size + (1 << 30) - 1) >> 30)))
fi

# ---------------------------------------------------------------------------------------------------------------
# Cleanup: everything started is recorded here and stopped by PID.
work=
mounted=0
declare -a pids=()        # long-lived background processes (servers)
child_pid=                # the process the script is currently waiting for (one at a time)
listener_pid=             # the socat receiver of the current socat run


cleanup() {
    local rc=$? pid
    trap - EXIT INT TERM
    set +e
    stop_pid "$child_pid"
    stop_pid "$listener_pid"
    for pid in "${pids[@]}"; do stop_pid "$pid"; done
    if [[ -n "$work" ]]; then
        if ((mounted)); then
            umount "$work" || umount -l "$work"
            rmdir "$work"
        else
            rm -rf -- "$work"
        fi
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'echo "transfer.sh: interrupted" >&2; exit 130' INT
trap 'echo "transfer.sh: terminated" >&2; exit 143' TERM

# run CMD...: runs a command in the background under `timeout` and waits for it, so that a signal reaches the
# trap at once and the cleanup can stop it by PID. Returns the command's exit status.

# ---------------------------------------------------------------------------------------------------------------
# Tools
if ! command -v socat >/dev/null; then
    echo "socat is missing; installing it with apt-get" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq socat >/dev/null \
        || die "could not install socat"
fi
for tool in ss timeout cmp numfmt awk; do command -v "$tool" >/dev/null || die "$tool is required"; done

ferry="$repo/src/Ferry.Cli/bin/Release/net10.0/ferry"
if ((build)); then
    echo "building src/Ferry.Cli (Release)..." >&2
    DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 \
        dotnet build -c Release src/Ferry.Cli -nologo -v q -clp:ErrorsOnly >&2 || die "build failed"
fi
[[ -x "$ferry" ]] || die "no Release build at $ferry (run without --no-build)"

# ---------------------------------------------------------------------------------------------------------------
# tmpfs work folder: source file, socat's target, the servers' roots and state, client config, downloads.
# Peak use: source + one server copy + one download = 3 x size; asked for 4 x size + 256 MiB.
need=$((4 * size + (256 << 20)))
make_work_folder ferry-bench "$need" $((1 << 30))
mkdir -p "$work/client" "$work/socat" "$work/open/root" "$work/tls/root" "$work/tls/state" \
    "$work/plain/root" "$work/plain/state"
export FERRY_CONFIG_DIR="$work/client"
chmod 700 "$FERRY_CONFIG_DIR"
src="$work/source.bin"
name="bench.bin"   # the remote name
dl="$work/download.bin"

# ---------------------------------------------------------------------------------------------------------------
# Ports and servers (127.0.0.1 only)


start_server() { # start_server DIR PORT EXTRA-ARGS...: server in the background; its PID goes to $pids
    local dir="$1" port="$2"; shift 2
    "$ferry" serve --listen "127.0.0.1:$port" --root "$dir/root" --state-dir "$dir/state" --log-level Warning \
        "$@" >"$dir/server.log" 2>&1 &
    local pid=$!
    pids+=("$pid")
    wait_listening "$port" "$pid" || { cat "$dir/server.log" >&2; die "server in $dir did not start"; }
    echo "$pid" >"$dir/pid"
}

new_key() { # new_key STATE-DIR: adds user 'bench' (before its server starts) and prints the key 'user add' showed
    local key
    key="$("$ferry" user add bench --state-dir "$1" | awk '/^Key/ {getline; gsub(/[ \t]/, ""); print; exit}')"
    [[ "$key" =~ ^[A-Za-z0-9+/]{43}=$ ]] || die "could not read the key printed by 'ferry user add'"
    echo "$key"
}

login() { # login PORT KEY [--plain]: stores the credentials in $FERRY_CONFIG_DIR (and pins the certificate)
    local port="$1" key="$2"
    shift 2
    printf '%s\n' "$key" | "$ferry" login --server "127.0.0.1:$port" --user bench --key-stdin "$@" >/dev/null \
        || die "ferry login to 127.0.0.1:$port failed"
}

pick_port port_socat
pick_port port_open
pick_port port_tls
start_server "$work/open" "$port_open" --insecure-no-auth
pid_open="$(cat "$work/open/pid")"
key="$(new_key "$work/tls/state")"
start_server "$work/tls" "$port_tls"
pid_tls="$(cat "$work/tls/pid")"
login "$port_tls" "$key"
port_plain= pid_plain=
if ((with_plain)); then
    pick_port port_plain
    key="$(new_key "$work/plain/state")"
    start_server "$work/plain" "$port_plain" --plain
    pid_plain="$(cat "$work/plain/pid")"
    login "$port_plain" "$key" --plain
fi
unset key

# ---------------------------------------------------------------------------------------------------------------
# Source file
echo "writing $size_h of random data to $src..." >&2
head -c "$size" /dev/urandom >"$src"
(($(stat -c %s "$src") == size)) || die "source file has the wrong size"

# ---------------------------------------------------------------------------------------------------------------
# Measurements
clk_tck="$(getconf CLK_TCK)"
children_cpu() { # sets cpu_now: CPU seconds (user + sys) of all waited-for children of this shell so far
    times >"$work/times.txt"   # must run in this shell, not in a $(...) subshell
    cpu_now="$(awk 'NR == 2 {
        n = split($0, f, " "); s = 0
        for (i = 1; i <= n; i++) { v = f[i]; sub(/s$/, "", v); split(v, p, "m"); s += p[1] * 60 + p[2] }
        printf "%.3f", s }' "$work/times.txt")"
}
proc_cpu() { # CPU seconds (user + sys) of a live process
    awk -v t="$clk_tck" '{ sub(/^.*\) /, ""); printf "%.3f", ($12 + $13) / t }' "/proc/$1/stat"
}
now() { date +%s.%N; }
diff_s() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a - b }'; }

declare -A times_of=() ccpu_of=() scpu_of=()
modes=(socat socat-1M put get put-sha256 get-sha256 put-tls get-tls)
((with_plain)) && modes+=(put-plain get-plain)
declare -A label=(
    [socat]="socat (8 KiB buffer)" [socat-1M]="socat -b 1M"
    [put]="ferry put" [get]="ferry get"
    [put-sha256]="ferry put --checksum sha256" [get-sha256]="ferry get --checksum sha256"
    [put-tls]="ferry put, TLS + login" [get-tls]="ferry get, TLS + login"
    [put-plain]="ferry put, --plain + login" [get-plain]="ferry get, --plain + login"
)

verify() { # verify FILE WHAT
    cmp -s "$src" "$1" || die "$2: the transferred file differs from the source (or is missing): $1"
}

# measure MODE RECORD(0|1): one run of MODE; writes mode, seconds, client CPU, server CPU to $work/last.tsv
# and records them when RECORD is 1
measure() {
    local mode="$1" record="$2" t0 t1 c0 c1 s0=0 s1=0 spid= out server_file flags=() port
    case "$mode" in
        socat|socat-1M)
            out="$work/socat/received.bin"
            local buf=()
            [[ "$mode" == socat-1M ]] && buf=(-b 1048576)
            rm -f "$out"
            timeout -k 5 "$cmd_timeout" socat -u "${buf[@]}" \
                "TCP-LISTEN:$port_socat,bind=127.0.0.1,reuseaddr" "OPEN:$out,creat,trunc" &
            listener_pid=$!
            wait_listening "$port_socat" "$listener_pid" || die "socat receiver did not start"
            children_cpu; c0="$cpu_now"; t0="$(now)"
            run socat -u "${buf[@]}" "OPEN:$src,rdonly" "TCP:127.0.0.1:$port_socat" || die "$mode: sender failed"
            local rc=0
            wait "$listener_pid" || rc=$?
            t1="$(now)"; children_cpu; c1="$cpu_now"
            listener_pid=
            ((rc == 0)) || die "$mode: receiver failed (exit $rc)"
            verify "$out" "$mode"
            rm -f "$out"
            ;;
        put*|get*)
            case "$mode" in
                *-tls) port="$port_tls"; spid="$pid_tls"; server_file="$work/tls/root/bench/$name" ;;
                *-plain) port="$port_plain"; spid="$pid_plain"; server_file="$work/plain/root/bench/$name"
                         flags=(--plain) ;;
                *) port="$port_open"; spid="$pid_open"; server_file="$work/open/root/$name"; flags=(--plain) ;;
            esac
            [[ "$mode" == *-sha256 ]] && flags+=(--checksum sha256)
            if [[ "$mode" == put* ]]; then
                rm -f "$server_file"
                s0="$(proc_cpu "$spid")"; children_cpu; c0="$cpu_now"; t0="$(now)"
                run "$ferry" put "$src" "$name" --server "127.0.0.1:$port" -q "${flags[@]}" || die "$mode: ferry put failed"
                t1="$(now)"; children_cpu; c1="$cpu_now"; s1="$(proc_cpu "$spid")"
                verify "$server_file" "$mode"
            else
                [[ -f "$server_file" ]] || die "$mode: no file on the server to download"
                rm -f "$dl"
                s0="$(proc_cpu "$spid")"; children_cpu; c0="$cpu_now"; t0="$(now)"
                run "$ferry" get "$name" "$dl" --server "127.0.0.1:$port" -q "${flags[@]}" || die "$mode: ferry get failed"
                t1="$(now)"; children_cpu; c1="$cpu_now"; s1="$(proc_cpu "$spid")"
                verify "$dl" "$mode"
                rm -f "$dl" "$server_file"
            fi
            ;;
    esac
    local secs ccpu scpu
    secs="$(diff_s "$t1" "$t0")"; ccpu="$(diff_s "$c1" "$c0")"; scpu="$(diff_s "$s1" "$s0")"
    if ((record)); then
        times_of[$mode]+="$secs "; ccpu_of[$mode]+="$ccpu "
        [[ -n "$spid" ]] && scpu_of[$mode]+="$scpu "
    fi
    printf '%s\t%s\t%s\t%s\n' "$mode" "$secs" "$ccpu" "${spid:+$scpu}" >"$work/last.tsv"
}

median() { tr ' ' '\n' | awk 'NF' | sort -g | awk '{ v[NR] = $1 } END {
    if (NR == 0) { print "-"; exit }
    if (NR % 2) printf "%.3f", v[(NR + 1) / 2]; else printf "%.3f", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
minmax() { tr ' ' '\n' | awk 'NF' | sort -g | awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%.2f-%.2f", lo, hi }'; }

commit="$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)"
src_changes="$(GIT_OPTIONAL_LOCKS=0 git -C "$repo" status --porcelain -- src 2>/dev/null | wc -l || echo '?')"
echo "== Ferry file-transfer benchmark, $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
echo "   size $size_h ($size bytes), $runs runs per mode (+$warmup warm-up round(s), not counted), 127.0.0.1 only"
echo "   files on $tmpfs_desc"
echo "   nproc $(nproc), CPU '$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)', dotnet $(dotnet --version 2>/dev/null || echo '?'), $(socat -V 2>/dev/null | awk '/socat version/ {print "socat " $3; exit}')"
echo "   ferry: $ferry (commit $commit, $src_changes changed path(s) under src/ in the working tree)"
echo "   load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
if ((runs < 5)); then echo "   NOTE: fewer than 5 runs per mode; medians are rough"; fi
if [[ -n "$raw_file" ]]; then printf 'round\tmode\tseconds\tclient_cpu_s\tserver_cpu_s\n' >"$raw_file"; fi

total_rounds=$((warmup + runs))

for ((round = 1; round <= total_rounds; round++)); do
    if ((round <= warmup)); then tag="warm-up $round/$warmup"; rec=0; else tag="run $((round - warmup))/$runs"; rec=1; fi
    line="   $tag:"
    for mode in "${modes[@]}"; do
        measure "$mode" "$rec"
        IFS=$'\t' read -r m secs ccpu scpu <"$work/last.tsv"
        line+=" $mode $secs"
        if ((rec)) && [[ -n "$raw_file" ]]; then
            printf '%s\t%s\t%s\t%s\t%s\n' "$((round - warmup))" "$m" "$secs" "$ccpu" "$scpu" >>"$raw_file"
        fi
    done
    echo "$line"
done
echo "   load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"

# ---------------------------------------------------------------------------------------------------------------
# Table
ref="$(median <<<"${times_of[socat]}")"
ref1m="$(median <<<"${times_of[socat-1M]}")"
echo
printf '| %-28s | %8s | %11s | %7s | %10s | %14s | %14s | %10s | %10s |\n' \
    mode "median s" "min-max s" "MB/s" "time/socat" "% socat speed" "% socat -b1M" "client CPU" "server CPU"
printf '|%s|%s|%s|%s|%s|%s|%s|%s|%s|\n' "$(printf -- '-%.0s' {1..30})" "---------:" "------------:" \
    "--------:" "-----------:" "---------------:" "---------------:" "-----------:" "-----------:"
for mode in "${modes[@]}"; do
    med="$(median <<<"${times_of[$mode]}")"
    range="$(minmax <<<"${times_of[$mode]}")"
    ccpu="$(median <<<"${ccpu_of[$mode]}")"
    scpu="$(median <<<"${scpu_of[$mode]:-}")"
    awk -v l="${label[$mode]}" -v m="$med" -v r="$range" -v s="$size" -v ref="$ref" -v ref1m="$ref1m" \
        -v cc="$ccpu" -v sc="$scpu" 'BEGIN {
        printf "| %-28s | %8.2f | %11s | %7.0f | %10.2f | %12.0f %% | %12.0f %% | %10s | %10s |\n",
            l, m, r, s / 1e6 / m, m / ref, 100 * ref / m, 100 * ref1m / m, cc, sc }'
done
echo
echo "MB/s = $size bytes / 10^6 / median. time/socat = median / socat median; % socat speed = socat median / median."
echo "client CPU = user+sys seconds of the client process(es) (for socat: sender and receiver); server CPU = the"
echo "ferry server's user+sys seconds during the run; both medians per run. 'min-max' = fastest and slowest run."

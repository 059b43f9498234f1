#!/usr/bin/env bash
# Side-by-side benchmark: ferry against raw TCP, scp/sftp, rsync and ssh, in one run, over loopback (127.0.0.1
# only), every file on tmpfs.
#
#   raw TCP      socat -u file -> TCP -> socat -u file (default 8 KiB buffer, and -b 1048576);
#                iperf3 -c 127.0.0.1 -t 5 (the socket alone, no files: the physical limit)
#   ferry        put / get of the big file, server --insecure-no-auth (plain TCP, client --plain) and default server
#                (TLS + login); put -r / get -r of a tree of small files (TLS + login); exec round trip of `true` on
#                an open connection and with a fresh connection per command (bench/Ferry.Load exec-rtt /
#                exec-fresh; against the default server, whose commands run in the bubblewrap sandbox, and against
#                one started with --exec-unconfined), and `ferry exec -- true` as a whole CLI process; 1000 concurrent clients uploading
#                1 MiB each (Ferry.Load concurrent-put) and server memory per idle authenticated connection with
#                5000 connections open (Ferry.Load idle, against a freshly started server every run)
#   OpenSSH      a private sshd on a loopback port (own sshd_config, host key, authorized_keys, fresh ed25519 client
#                key): scp with its default cipher (chacha20-poly1305@openssh.com) and with -c aes128-gcm@openssh.com,
#                sftp batch put/get, scp -r of the tree, `ssh true` with a new connection each time and through a
#                ControlMaster connection (ControlPersist)
#   terminals    keystroke echo round trip on an open remote terminal (bench/terminal-echo.py: one byte typed, its
#                echo back; median of --echo-count keystrokes after 100 untimed ones): `ferry exec -t -- cat` (TLS +
#                login, commands in the sandbox) against `ssh -tt ... cat` through the ControlMaster connection;
#                the same round trip through two socat relays (`socat - TCP:...` to `socat TCP-LISTEN:...
#                EXEC:cat,pty`, both with TCP_NODELAY) as the floor of a client process plus a server process in C on
#                this machine; and Ferry.Load term-echo, the ferry round trip timed inside the client process (no CLI
#                process, no pipes)
#   local spawn  the reference for exec on an open connection: a tiny C program (bench/spawn-true.c, compiled here
#                with cc) that posix_spawns /usr/bin/true and waits for it, --rtt-count times; its median per spawn
#   rsync        a private rsync daemon on a loopback port: rsync -a --whole-file rsync://127.0.0.1:PORT/bench/...
#                for the big file and for the tree
#
# Every figure is the median of --runs runs (default 5). Runs alternate the tools run by run: one round runs every
# mode once, in a fixed order; one untimed warm-up round comes first. Transfers are timed as the whole command,
# wall clock (bash's EPOCHREALTIME): process start, connecting, handshake/login, data, checksum. socat is timed
# from starting the sender until the receiver has exited. Latency modes give one median per run (Ferry.Load's own
# median of its --runs commands; for ssh, the median of the commands of that run, each timed from fork to exit),
# and the table gives the median of those run medians. Every big-file row also gives the CPU seconds (user + sys)
# per GiB of each side: the client command under /usr/bin/time, the server from /proc/PID/stat (its threads and the
# per-connection children it reaped: ferry serve, sshd, the rsync daemon) or, for socat, the receiver under
# /usr/bin/time. Every transferred file or tree is compared with its
# source (cmp / diff -r) after every run; a difference or a failed command aborts the benchmark.
#
#   bench/compare.sh                  # 5 runs, 1 GiB (about 9 minutes on 2 cores, after apt-get and the build)
#   bench/compare.sh --quick          # smoke test: 3 runs, 256 MiB
#   bench/compare.sh --runs 9 --size 2G --tsv /tmp/compare.tsv
#
# Options: --runs N (1-100, default 5), --size SIZE (default 1G; bytes or K/M/G, powers of 1024), --quick (runs 3,
#          size 256M), --warmup N (untimed rounds first, default 1), --files N (small files in the tree, default
#          1000), --file-size SIZE (default 4K), --clients N (concurrent-put, default 1000), --connections N (idle,
#          default 5000), --rtt-count N (commands per run on an open connection, default 200), --fresh-count N
#          (commands per run with a fresh connection, default 20), --iperf-time S (default 5), --no-load (skip the
#          Ferry.Load modes), --no-build, --no-install (no apt-get), --tsv FILE (also keep the medians TSV there),
#          --raw FILE (every run as TSV), --png FILE (chart; default docs/benchmarks-compare.png), --no-chart,
#          --timeout SECONDS (per transfer command; default 120 + 120 per GiB), --tmpfs auto|shm|mount,
#          --echo-count N (keystrokes per terminal echo run, 1-3000, default 1000), --only MODE[,MODE...] (run these
#          modes alone, e.g. --only term-echo,ssh-term-echo,socat-term-echo,term-echo-inproc; the table then has
#          only their rows; no chart).
#
# It installs what it lacks with apt-get (openssh-server, openssh-client, rsync, socat, iperf3, gnuplot-nox, jq,
# clang and zlib1g-dev for the native publish),
# publishes src/Ferry.Cli (native AOT) and builds bench/Ferry.Load in Release, raises `ulimit -n` to 65536 (to the hard limit where it
# cannot), and creates every server state, key, config and data file inside its tmpfs folder. On exit (normal,
# error, Ctrl-C, SIGTERM) it stops by PID everything it started (ferry servers, sshd, the ssh ControlMaster, the
# rsync daemon, the iperf3 server, socat, the command being timed) and removes its tmpfs folder or unmounts the
# tmpfs it mounted. Every transfer, tool and
# server runs under `timeout` (servers with a time-to-live of 6 hours), and every loop has a fixed count.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"

runs=5
size_arg=1G
warmup=1
files=1000
file_size_arg=4K
clients=1000
connections=5000
rtt_count=200
fresh_count=20
echo_count=1000
only=
iperf_time=5
with_load=1
build=1
install=1
tsv_out=
raw_file=
png_out="$repo/docs/benchmarks-compare.png"
chart=1
timeout_arg=
tmpfs_mode=auto
runs_set=0 size_set=0 quick=0

die() { echo "compare.sh: $*" >&2; exit 1; }
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
note() { echo "compare.sh: $*" >&2; }
usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; }

while (($#)); do
    case "$1" in
        --runs) runs="${2:?--runs needs a number}"; runs_set=1; shift 2 ;;
        --runs=*) runs="${1#*=}"; runs_set=1; shift ;;
        --size) size_arg="${2:?--size needs a size}"; size_set=1; shift 2 ;;
        --size=*) size_arg="${1#*=}"; size_set=1; shift ;;
        --quick) quick=1; shift ;;
        --warmup) warmup="${2:?--warmup needs a number}"; shift 2 ;;
        --warmup=*) warmup="${1#*=}"; shift ;;
        --files) files="${2:?--files needs a number}"; shift 2 ;;
        --files=*) files="${1#*=}"; shift ;;
        --file-size) file_size_arg="${2:?--file-size needs a size}"; shift 2 ;;
        --file-size=*) file_size_arg="${1#*=}"; shift ;;
        --clients) clients="${2:?--clients needs a number}"; shift 2 ;;
        --clients=*) clients="${1#*=}"; shift ;;
        --connections) connections="${2:?--connections needs a number}"; shift 2 ;;
        --connections=*) connections="${1#*=}"; shift ;;
        --rtt-count) rtt_count="${2:?--rtt-count needs a number}"; shift 2 ;;
        --rtt-count=*) rtt_count="${1#*=}"; shift ;;
        --fresh-count) fresh_count="${2:?--fresh-count needs a number}"; shift 2 ;;
        --fresh-count=*) fresh_count="${1#*=}"; shift ;;
        --echo-count) echo_count="${2:?--echo-count needs a number}"; shift 2 ;;
        --echo-count=*) echo_count="${1#*=}"; shift ;;
        --only) only="${2:?--only needs modes}"; shift 2 ;;
        --only=*) only="${1#*=}"; shift ;;
        --iperf-time) iperf_time="${2:?--iperf-time needs seconds}"; shift 2 ;;
        --iperf-time=*) iperf_time="${1#*=}"; shift ;;
        --no-load) with_load=0; shift ;;
        --no-build) build=0; shift ;;
        --no-install) install=0; shift ;;
        --tsv) tsv_out="${2:?--tsv needs a file}"; shift 2 ;;
        --tsv=*) tsv_out="${1#*=}"; shift ;;
        --raw) raw_file="${2:?--raw needs a file}"; shift 2 ;;
        --raw=*) raw_file="${1#*=}"; shift ;;
        --png) png_out="${2:?--png needs a file}"; shift 2 ;;
        --png=*) png_out="${1#*=}"; shift ;;
        --no-chart) chart=0; shift ;;
        --timeout) timeout_arg="${2:?--timeout needs seconds}"; shift 2 ;;
        --timeout=*) timeout_arg="${1#*=}"; shift ;;
        --tmpfs) tmpfs_mode="${2:?--tmpfs needs auto, shm or mount}"; shift 2 ;;
        --tmpfs=*) tmpfs_mode="${1#*=}"; shift ;;
        -h|--help) usage; exit 0 ;;
        *) die "unknown argument '$1' (see --help)" ;;
    esac
done
if ((quick)); then
    ((runs_set)) || runs=3
    ((size_set)) || size_arg=256M
fi

is_count() { [[ "$1" =~ ^[0-9]+$ ]] && (($1 >= $2 && $1 <= $3)); }
is_count "$runs" 1 100 || die "--runs must be 1-100"
is_count "$warmup" 0 10 || die "--warmup must be 0-10"
is_count "$files" 10 100000 || die "--files must be 10-100000"
is_count "$clients" 1 20000 || die "--clients must be 1-20000"
is_count "$connections" 1 20000 || die "--connections must be 1-20000"
is_count "$rtt_count" 1 100000 || die "--rtt-count must be 1-100000"
is_count "$fresh_count" 1 10000 || die "--fresh-count must be 1-10000"
is_count "$iperf_time" 1 60 || die "--iperf-time must be 1-60"
is_count "$echo_count" 1 3000 || die "--echo-count must be 1-3000 (a cooked terminal line holds 4095 characters)"
[[ "$tmpfs_mode" =~ ^(auto|shm|mount)$ ]] || die "--tmpfs must be auto, shm or mount"
((EUID == 0)) || die "run it as root (it installs packages, runs a private sshd and raises ulimit -n)"

size="$(parse_size "$size_arg")" || die "--size: cannot read '$size_arg' (bytes, or a number with K, M or G)"
((size >= 1 << 20)) || die "--size must be at least 1M"
file_size="$(parse_size "$file_size_arg")" || die "--file-size: cannot read '$file_size_arg'"
((file_size >= 1 && file_size <= 1 << 20)) || die "--file-size must be 1 byte to 1M"
size_h="$(numfmt --to=iec-i --suffix=B "$size")"
tree_bytes=$((files * file_size))
if [[ -n "$timeout_arg" ]]; then
    is_count "$timeout_arg" 1 86400 || die "--timeout must be a whole number of seconds"
    cmd_timeout="$timeout_arg"
else
    cmd_timeout=$((120 + 120 * ((size + (1 << 30) - 1) >> 30)))
fi
load_timeout=900          # one Ferry.Load run (thousands of TLS handshakes on 2 cores take a while)
lat_timeout=600           # one latency loop (a fixed number of ssh commands)
server_ttl=$((6 * 3600))  # upper bound on the life of every server, in case this script is killed with SIGKILL

# ---------------------------------------------------------------------------------------------------------------
# Cleanup: everything started is recorded here and stopped by PID.
work=
mounted=0
made_run_sshd=0
declare -a pids=()        # long-lived background processes (servers, each a `timeout` wrapping the real one)
child_pid=                # the process the script is currently waiting for (one at a time)
listener_pid=             # the socat receiver of the current socat run
idle_pid=                 # the idle-test ferry server of the current run
master_pid=               # the ssh ControlMaster (it daemonizes with -f; its PID comes from `ssh -O check`)


cleanup() {
    local rc=$? pid
    trap - EXIT INT TERM
    set +e
    stop_pid "$child_pid"
    stop_pid "$listener_pid"
    stop_pid "$idle_pid"
    if [[ -n "$master_pid" ]]; then
        timeout 10 ssh "${ssh_opts[@]}" -o ControlPath="$ssh_dir/ctl" -O exit "$ssh_target" >/dev/null 2>&1
        stop_pid "$master_pid"
    fi
    for pid in "${pids[@]}"; do stop_pid "$pid"; done
    if [[ -n "$work" ]]; then
        if ((mounted)); then
            umount "$work" || umount -l "$work"
            rmdir "$work"
        else
            rm -rf -- "$work"
        fi
    fi
    ((made_run_sshd)) && rmdir /run/sshd 2>/dev/null
    exit "$rc"
}
trap cleanup EXIT
trap 'echo "compare.sh: interrupted" >&2; exit 130' INT
trap 'echo "compare.sh: terminated" >&2; exit 143' TERM

# run CMD...: runs a command in the background under `timeout` and waits for it, so that a signal reaches the
# trap at once and the cleanup can stop it by PID. Returns the command's exit status. $run_timeout overrides the
# limit for one call.

# ---------------------------------------------------------------------------------------------------------------
# Tools
# Open files: 65536 asked; where the hard limit is lower and cannot be raised (no CAP_SYS_RESOURCE, as in some
# containers), the hard limit, as long as it leaves room for the idle connections (each end holds one per connection).
if ! ulimit -n 65536 2>/dev/null; then
    hard="$(ulimit -Hn)"
    note "cannot raise 'ulimit -n' to 65536 (hard limit $hard); using $hard"
    ulimit -n "$hard" || die "could not raise the open-file limit (ulimit -n $hard)"
fi
(($(ulimit -n) >= connections + clients + 1024)) || die "ulimit -n is $(ulimit -n): too low for $connections idle connections"
declare -A pkg_of=([sshd]=openssh-server [ssh]=openssh-client [scp]=openssh-client [sftp]=openssh-client
    [ssh-keygen]=openssh-client [rsync]=rsync [socat]=socat [iperf3]=iperf3 [gnuplot]=gnuplot-nox [jq]=jq)
missing=()
[[ -x /usr/bin/time ]] || missing+=(time)   # GNU time: the CPU time of each client command
for tool in sshd ssh scp sftp ssh-keygen rsync socat iperf3 gnuplot jq; do
    if ! command -v "$tool" >/dev/null && ! [[ -x "/usr/sbin/$tool" ]]; then missing+=("${pkg_of[$tool]}"); fi
done
[[ -x /usr/lib/openssh/sftp-server ]] || missing+=(openssh-sftp-server)
# The native (AOT) publish links with clang against zlib.
command -v clang >/dev/null || missing+=(clang)
[[ -e /usr/include/zlib.h ]] || missing+=(zlib1g-dev)
if ((${#missing[@]})); then
    mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
    ((install)) || die "missing: ${missing[*]} (run without --no-install, or apt-get install them)"
    note "installing ${missing[*]} with apt-get"
    timeout 600 apt-get update -qq >&2 || die "apt-get update failed"
    DEBIAN_FRONTEND=noninteractive timeout 900 apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
        || die "could not install ${missing[*]}"
fi
for tool in ss timeout cmp diff numfmt awk pgrep; do command -v "$tool" >/dev/null || die "$tool is required"; done
sshd_bin="$(command -v sshd || echo /usr/sbin/sshd)"

# Published as the native (ahead-of-time compiled) single-file executable that the README's `dotnet publish` makes:
# a command starts in milliseconds instead of spending ~0.2 s of CPU in the JIT and the runtime's start-up (a `put -r`
# of 1000 small files: client CPU 0.27 s with the JIT, 0.21 s ReadyToRun, 0.05 s native).
ferry_dir="$repo/artifacts/bench/ferry"
ferry="$ferry_dir/ferry"
load_dir="$repo/bench/Ferry.Load"
if ((with_load)) && ! [[ -d "$load_dir" ]]; then
    note "bench/Ferry.Load does not exist (yet): the exec, concurrent-put and idle modes are skipped"
    with_load=0
fi
dotnet_arch() { case "$(uname -m)" in x86_64) echo x64 ;; aarch64) echo arm64 ;; *) uname -m ;; esac; }
if ((build)); then
    note "publishing src/Ferry.Cli (Release, native AOT) to $ferry_dir..."
    DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 timeout 1200 \
        dotnet publish -c Release src/Ferry.Cli -r "linux-$(dotnet_arch)" -p:PublishAot=true \
        -o "$ferry_dir" -nologo -v q -clp:ErrorsOnly >&2 || die "publish of src/Ferry.Cli failed"
    if ((with_load)); then
        note "building bench/Ferry.Load (Release)..."
        DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 timeout 900 \
            dotnet build -c Release bench/Ferry.Load -nologo -v q -clp:ErrorsOnly >&2 || die "build of bench/Ferry.Load failed"
    fi
fi
[[ -x "$ferry" ]] || die "no published build at $ferry (run without --no-build)"
declare -a load_cmd=()
if ((with_load)); then
    # The built program itself, so that `timeout` and the cleanup signal the load tool and not a `dotnet run`
    # wrapper; `dotnet run --no-build` when no apphost is found.
    load_bin="$(find "$load_dir/bin/Release" -maxdepth 2 -type f -perm -u+x \( -name ferry-load -o -name Ferry.Load \) 2>/dev/null | head -n 1)"
    if [[ -n "$load_bin" ]]; then
        load_cmd=("$load_bin")
    else
        load_cmd=(dotnet run --no-build -c Release --project "$load_dir" --)
    fi
fi
# The local spawn reference, compiled every time (it takes a moment): cc, or the clang that the native publish needs.
spawn_bin="$repo/artifacts/bench/spawn-true"
with_spawn=0
spawn_cc="$(command -v cc || command -v clang || true)"
if [[ -n "$spawn_cc" ]] && mkdir -p "${spawn_bin%/*}" && timeout 120 "$spawn_cc" -O2 -o "$spawn_bin" "$repo/bench/spawn-true.c"; then
    with_spawn=1
else
    note "no C compiler (cc or clang) could build bench/spawn-true.c: the local spawn reference (spawn-true) is skipped"
fi

# ---------------------------------------------------------------------------------------------------------------
# tmpfs work folder. Peak: source + one uploaded copy + one download (3 x size), the concurrent uploads
# (clients x 1 MiB), trees; asked for 4 x size + clients MiB + 512 MiB.
need=$((4 * size + (clients << 20) + 4 * tree_bytes + (512 << 20)))
make_work_folder ferry-compare "$need" $((2 << 30))
mkdir -p "$work/client" "$work/socat" "$work/dl" "$work/ssh/in" "$work/rsync/root/in"
for s in open tls exec execu load idle; do mkdir -p "$work/$s/root" "$work/$s/state"; done
export FERRY_CONFIG_DIR="$work/client"
chmod 700 "$FERRY_CONFIG_DIR"
src="$work/source.bin"
tree="$work/tree"
dl="$work/dl/download.bin"
dl_tree="$work/dl/tree"

# ---------------------------------------------------------------------------------------------------------------
# Data: the big random file and the tree of small files (10 folders); the copies that the servers serve for
# downloads are hard links to the source (uploads always go to other names, and remove their target first).
note "writing $size_h of random data and $files files of $file_size bytes..."
timeout "$cmd_timeout" head -c "$size" /dev/urandom >"$src"
(($(stat -c %s "$src") == size)) || die "source file has the wrong size"
mkdir -p "$tree"
for ((d = 0; d < 10; d++)); do
    n=$((files / 10 + (d < files % 10 ? 1 : 0)))
    ((n > 0)) || continue
    mkdir -p "$tree/d$d"
    timeout 60 head -c $((n * file_size)) /dev/urandom >"$work/tree-part"
    (cd "$tree/d$d" && timeout 60 split -b "$file_size" -a 5 -d "$work/tree-part" f)
done
rm -f "$work/tree-part"
(($(find "$tree" -type f | wc -l) == files)) || die "the tree does not have $files files"

# ---------------------------------------------------------------------------------------------------------------
# Servers (127.0.0.1 only). Listening ports come from pick_port (bench/lib.sh), outside the kernel's ephemeral
# range: thousands of client connections (concurrent-put, idle) take ephemeral ports, and one of them on a listener's
# port would stop the socat receiver or the restarted idle server from binding it.

child_of() { # child_of PID: the PID of PID's only child (the server under its `timeout`), waiting up to 5 s
    local i c
    for ((i = 0; i < 50; i++)); do
        c="$(pgrep -P "$1" | head -n 1)"
        [[ -n "$c" ]] && { echo "$c"; return 0; }
        sleep 0.1
    done
    return 1
}

# start_bg LOG PORT CMD...: a server under `timeout $server_ttl`, in the background; waits until PORT listens.
# Sets bg_pid (the timeout process, which the cleanup stops) and bg_child (the server itself).
start_bg() {
    local log="$1" port="$2"; shift 2
    timeout -k 10 "$server_ttl" "$@" >"$log" 2>&1 &
    bg_pid=$!
    pids+=("$bg_pid")
    wait_listening "$port" "$bg_pid" || { cat "$log" >&2; die "$1 did not start listening on 127.0.0.1:$port"; }
    bg_child="$(child_of "$bg_pid")" || die "cannot find the process of $1"
}

start_ferry() { # start_ferry NAME PORT EXTRA-ARGS...: ferry server on 127.0.0.1:PORT; sets its pid in ferry_pid_NAME
    local name="$1" port="$2"; shift 2
    start_bg "$work/$name/server.log" "$port" "$ferry" serve --listen "127.0.0.1:$port" --root "$work/$name/root" \
        --state-dir "$work/$name/state" --log-level Warning "$@"
    printf -v "ferry_pid_$name" '%s' "$bg_child"
}

login() { # login PORT: stores the credentials in $FERRY_CONFIG_DIR (and pins the certificate)
    printf '%s\n' "$key" | timeout 60 "$ferry" login --server "127.0.0.1:$1" --user bench --key-stdin >/dev/null \
        || die "ferry login to 127.0.0.1:$1 failed"
}

# One user 'bench' (read, write, exec) with one key, the same users file in every authenticated server's state.
key="$(timeout 60 "$ferry" user add bench --allow read,write,exec --state-dir "$work/tls/state" \
    | awk '/^Key/ {getline; gsub(/[ \t]/, ""); print; exit}')"
[[ "$key" =~ ^[A-Za-z0-9+/]{43}=$ ]] || die "could not read the key printed by 'ferry user add'"
for s in exec execu load idle; do cp -p "$work/tls/state/users.json" "$work/$s/state/users.json"; done
big_limits=(--max-connections 20000 --max-connections-per-user 20000 --max-connections-per-address 20000)

pick_port port_open; pick_port port_tls; pick_port port_exec; pick_port port_execu; pick_port port_load; pick_port port_idle
pick_port port_socat; pick_port port_iperf; pick_port port_ssh; pick_port port_rsync; pick_port port_socat_pty

# What the downloads read: hard links to the source.
mkdir -p "$work/tls/root/bench"
ln "$src" "$work/open/root/bench.bin"
ln "$src" "$work/tls/root/bench/bench.bin"
ln "$src" "$work/rsync/root/source.bin"
cp -a "$tree" "$work/tls/root/bench/tree-src"
cp -a "$tree" "$work/rsync/root/tree-src"

start_ferry open "$port_open" --insecure-no-auth
start_ferry tls "$port_tls"
login "$port_tls"
start_ferry exec "$port_exec" --allow-exec   # exec-cli, exec-rtt, exec-fresh and term-echo
login "$port_exec"
start_ferry execu "$port_execu" --allow-exec --exec-unconfined   # exec-rtt-unconfined: the same without the sandbox
if ((with_load)); then
    start_ferry load "$port_load" "${big_limits[@]}"
    # The idle server is started afresh for every idle run. Ferry.Load logs in with FERRY_USER/FERRY_KEY and pins
    # certificates in a private folder of its own.
fi

# The keystroke echo floor: a C relay from TCP to a pty running cat (one forked socat per connection).
start_bg "$work/socat/pty.log" "$port_socat_pty" socat "TCP-LISTEN:$port_socat_pty,bind=127.0.0.1,reuseaddr,fork,nodelay" \
    EXEC:cat,pty,stderr

# iperf3 server
start_bg "$work/iperf3.log" "$port_iperf" iperf3 -s -B 127.0.0.1 -p "$port_iperf"

# Private sshd: own config, host key, authorized_keys; a fresh ed25519 client key.
ssh_dir="$work/ssh"
ssh_user="$(id -un)"
ssh_target="$ssh_user@127.0.0.1"
timeout 60 ssh-keygen -q -t ed25519 -N '' -C ferry-compare-host -f "$ssh_dir/host_ed25519"
timeout 60 ssh-keygen -q -t ed25519 -N '' -C ferry-compare-client -f "$ssh_dir/client_ed25519"
cp "$ssh_dir/client_ed25519.pub" "$ssh_dir/authorized_keys"
mkdir -p "$ssh_dir/home"   # HOME of the ssh sessions: empty, see SetEnv below
chmod 600 "$ssh_dir/authorized_keys"
cat >"$ssh_dir/sshd_config" <<EOF
Port $port_ssh
ListenAddress 127.0.0.1
HostKey $ssh_dir/host_ed25519
PidFile none
AuthorizedKeysFile $ssh_dir/authorized_keys
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
UseDNS no
X11Forwarding no
PrintMotd no
PrintLastLog no
MaxStartups 100:30:200
MaxSessions 100
LogLevel ERROR
Subsystem sftp /usr/lib/openssh/sftp-server
# The remote command runs through the login shell (SHELL -c CMD), and Debian's bash reads ~/.bashrc when started by sshd; an empty HOME
# keeps the login user's own start-up files (here root's, e.g. a pyenv init of ~150 ms) out of the ssh figures.
SetEnv HOME=$ssh_dir/home
EOF
if ! [[ -d /run/sshd ]]; then mkdir -p /run/sshd && chmod 755 /run/sshd && made_run_sshd=1; fi  # sshd's privsep dir
timeout 30 "$sshd_bin" -t -f "$ssh_dir/sshd_config" || die "sshd rejected its configuration"
start_bg "$ssh_dir/sshd.log" "$port_ssh" "$sshd_bin" -D -e -f "$ssh_dir/sshd_config"
sshd_pid="$bg_child"   # the listener: every connection's processes are its children, which it reaps
ssh_base=(-F /dev/null -i "$ssh_dir/client_ed25519" -o IdentitiesOnly=yes -o BatchMode=yes
    -o StrictHostKeyChecking=no -o UserKnownHostsFile="$ssh_dir/known_hosts" -o GlobalKnownHostsFile=/dev/null
    -o ConnectTimeout=10)
ssh_opts=("${ssh_base[@]}" -o LogLevel=ERROR)
timeout 30 ssh "${ssh_opts[@]}" -p "$port_ssh" "$ssh_target" true || { cat "$ssh_dir/sshd.log" >&2; die "ssh to the private sshd failed"; }
ssh_kex="$(timeout 30 ssh "${ssh_base[@]}" -v -p "$port_ssh" "$ssh_target" true 2>&1 \
    | awk '/kex: algorithm:/ {k = $NF} /kex: client->server cipher:/ {c = $(NF - 4)} END {print c " (kex " k ")"}')"
[[ "$(timeout 30 ssh "${ssh_opts[@]}" -p "$port_ssh" "$ssh_target" 'echo "$HOME"')" == "$ssh_dir/home" ]] \
    || note "the ssh sessions do not get the private HOME; the login user's shell start-up files count in the ssh figures"
# ControlMaster connection for the multiplexed `ssh true` (ControlPersist: it stays after its last client, up to
# 10 minutes idle; the cleanup ends it by PID in any case).
timeout 30 ssh "${ssh_opts[@]}" -p "$port_ssh" -o ControlMaster=yes -o ControlPath="$ssh_dir/ctl" \
    -o ControlPersist=600 -f -N "$ssh_target" || die "could not start the ssh ControlMaster"
master_pid="$(timeout 10 ssh "${ssh_opts[@]}" -o ControlPath="$ssh_dir/ctl" -O check "$ssh_target" 2>&1 \
    | sed -n 's/.*pid=\([0-9]*\).*/\1/p')"
[[ "$master_pid" =~ ^[0-9]+$ ]] || die "could not read the ControlMaster's pid"

# Private rsync daemon
cat >"$work/rsync/rsyncd.conf" <<EOF
use chroot = no
uid = 0
gid = 0
max connections = 4
log file = $work/rsync/rsyncd.log
[bench]
path = $work/rsync/root
read only = no
list = yes
EOF
start_bg "$work/rsync/daemon.log" "$port_rsync" rsync --daemon --no-detach --config="$work/rsync/rsyncd.conf" \
    --address=127.0.0.1 --port="$port_rsync"
rsyncd_pid="$bg_child"
rsync_url="rsync://127.0.0.1:$port_rsync/bench"

# ---------------------------------------------------------------------------------------------------------------
# Modes. kind: xfer (the big file, seconds), rate (MB/s reported by the tool), tree (seconds for the tree),
# lat (milliseconds per command), mem (KiB per connection).
modes=(socat socat-1M socat-sha256 iperf3
    put-plain get-plain put-sha256 get-sha256 put-tls get-tls
    scp-put scp-get scp-aes-put scp-aes-get sftp-put sftp-get rsync-put rsync-get
    tree-put tree-get scp-r-put scp-r-get rsync-r-put rsync-r-get
    ssh-cm ssh-true term-echo ssh-term-echo socat-term-echo)
((with_spawn)) && modes+=(spawn-true)
((with_load)) && modes+=(term-echo-inproc exec-rtt exec-rtt-unconfined exec-fresh exec-cli concurrent-put idle)
rows=("${modes[@]}")      # the table's rows: the modes, and the single-stream baseline that concurrent-put measures
((with_load)) && rows=("${modes[@]:0:${#modes[@]}-2}" single-stream concurrent-put idle)
if [[ -n "$only" ]]; then
    IFS=, read -r -a wanted <<<"$only"
    for m in "${wanted[@]}"; do [[ " ${modes[*]} " == *" $m "* ]] || die "--only: no mode '$m' (modes: ${modes[*]})"; done
    keep() { local m; for m in "${wanted[@]}"; do [[ "$1" == "$m" ]] && return 0; done; [[ "$1" == single-stream ]] && keep concurrent-put; }
    kept=(); for m in "${modes[@]}"; do keep "$m" && kept+=("$m"); done; modes=("${kept[@]}")
    kept=(); for m in "${rows[@]}"; do keep "$m" && kept+=("$m"); done; rows=("${kept[@]}")
    chart=0
fi
declare -A label=(
    [socat]="socat (8 KiB buffer)" [socat-1M]="socat -b 1048576" [socat-sha256]="socat + sha256sum at both ends" [iperf3]="iperf3 -t $iperf_time (socket only)"
    [put-plain]="ferry put, plain (no auth)" [get-plain]="ferry get, plain (no auth)"
    [put-sha256]="ferry put --checksum sha256, plain" [get-sha256]="ferry get --checksum sha256, plain"
    [put-tls]="ferry put, TLS + login" [get-tls]="ferry get, TLS + login"
    [scp-put]="scp put (chacha20-poly1305)" [scp-get]="scp get (chacha20-poly1305)"
    [scp-aes-put]="scp put (aes128-gcm)" [scp-aes-get]="scp get (aes128-gcm)"
    [sftp-put]="sftp put (batch)" [sftp-get]="sftp get (batch)"
    [rsync-put]="rsync put (daemon)" [rsync-get]="rsync get (daemon)"
    [tree-put]="ferry put -r, TLS + login" [tree-get]="ferry get -r, TLS + login"
    [scp-r-put]="scp -r put" [scp-r-get]="scp -r get"
    [rsync-r-put]="rsync -a put (daemon)" [rsync-r-get]="rsync -a get (daemon)"
    [exec-rtt]="ferry exec, open connection" [exec-rtt-unconfined]="ferry exec, open connection, --exec-unconfined"
    [spawn-true]="local posix_spawn of true (reference)" [exec-fresh]="ferry exec, new connection"
    [exec-cli]="ferry exec -- true (CLI)"
    [ssh-cm]="ssh true, ControlMaster" [ssh-true]="ssh true, new connection"
    [term-echo]="ferry exec -t, keystroke echo" [ssh-term-echo]="ssh -tt, keystroke echo, ControlMaster"
    [socat-term-echo]="socat to socat EXEC:cat,pty, keystroke echo (C relay floor)"
    [term-echo-inproc]="ferry keystroke echo, in-process client (Ferry.Load)"
    [single-stream]="ferry $clients x 1 MiB put, one connection" [concurrent-put]="ferry $clients clients x 1 MiB put, at once"
    [idle]="ferry idle connection, server memory"
)
declare -A kind=()
for m in socat socat-1M socat-sha256 put-plain get-plain put-sha256 get-sha256 put-tls get-tls scp-put scp-get scp-aes-put scp-aes-get sftp-put \
    sftp-get rsync-put rsync-get; do kind[$m]=xfer; done
for m in tree-put tree-get scp-r-put scp-r-get rsync-r-put rsync-r-get; do kind[$m]=tree; done
for m in spawn-true exec-rtt exec-rtt-unconfined exec-fresh exec-cli ssh-cm ssh-true term-echo ssh-term-echo socat-term-echo term-echo-inproc; do kind[$m]=lat; done
kind[iperf3]=rate; kind[single-stream]=rate; kind[concurrent-put]=rate; kind[idle]=mem

declare -A vals=()        # mode -> the recorded values of the runs, space separated
declare -A extra=()       # mode -> more recorded figures (failures, ...), space separated
declare -A cpu_c=() cpu_s=()  # xfer modes -> client / server CPU seconds (user + sys) of the runs, space separated
now() { echo "$EPOCHREALTIME"; }
diff_s() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.4f", a - b }'; }

# CPU time (user + sys) of each side of a transfer, in seconds.
# Client side: the command runs under /usr/bin/time, whose figure is the rusage of the whole process tree that it
# waited for (wait4). Server side: for a server started once (ferry serve, sshd, the rsync daemon), the difference
# in /proc/PID/stat of utime + stime (all its threads) + cutime + cstime (every per-connection child that it, or a
# child of it, has reaped) before and after the transfer, read once the connection's children are gone (reaped);
# for socat, the receiver runs under /usr/bin/time like the client.
clk_tck="$(getconf CLK_TCK)"
client_time="$work/client.time"
server_time="$work/server.time"
timed=(/usr/bin/time -f '%U %S' -o "$client_time")            # prefix for the client command
proc_cpu() { awk -v hz="$clk_tck" '{ sub(/^.*\) /, ""); printf "%.2f", ($12 + $13 + $14 + $15) / hz }' "/proc/$1/stat"; }
time_cpu() { awk 'NF == 2 && $1 ~ /^[0-9.]+$/ { t = $1 + $2 } END { if (t != "") printf "%.2f", t }' "$1"; }
srv_pid= srv_kids= srv_t0=
server_mark() { # server_mark PID: the server's CPU time and its children before a transfer
    srv_pid="$1"
    srv_kids=" $(pgrep -P "$1" | tr '\n' ' ' || true)"
    srv_t0="$(proc_cpu "$1")"
}
server_cpu() { # prints the server's CPU seconds since server_mark, once the children it had not then are reaped (up to 10 s)
    local i k left
    for ((i = 0; i < 100; i++)); do
        left=0
        for k in $(pgrep -P "$srv_pid" || true); do [[ "$srv_kids" == *" $k "* ]] || left=1; done
        ((left)) || break
        sleep 0.1
    done
    ((left)) && note "the per-connection processes of $srv_pid did not exit within 10 s; their CPU time is not counted"
    calc "printf \"%.2f\", $(proc_cpu "$srv_pid") - $srv_t0"
}

verify_file() { cmp -s "$src" "$1" || die "$2: the transferred file differs from the source (or is missing): $1"; }
verify_tree() { diff -r -q "$tree" "$1" >/dev/null 2>&1 || die "$2: the transferred tree differs from the source: $1"; }

# Latency loop for whole commands: COUNT runs of CMD, each timed from fork to exit with EPOCHREALTIME inside one
# bash under `timeout`; prints one millisecond figure a line.
lat_loop() {
    local count="$1"; shift
    run_timeout="$lat_timeout" run bash -c '
        n="$1"; shift
        for ((i = 0; i < n; i++)); do
            t0=$EPOCHREALTIME
            "$@" </dev/null >/dev/null || { echo "command failed: $*" >&2; exit 1; }
            t1=$EPOCHREALTIME
            echo "$t0 $t1"
        done' lat_loop "$count" "$@" >"$work/lat.txt" || return 1
    awk '{ printf "%.3f\n", ($2 - $1) * 1000 }' "$work/lat.txt" >"$work/lat.ms"
}

# Ferry.Load: one JSON line on stdout (also when a run fails: exit status 1, "ok": false, "error", and the figures
# gathered). load_run MODE ARGS... -> $work/load.json; returns 1 (after noting the error) when the run failed.
declare -a load_errors=()
load_run() {
    local mode="$1" rc=0; shift
    FERRY_USER=bench FERRY_KEY="$key" run_timeout="$load_timeout" run "${load_cmd[@]}" "$mode" "$@" \
        --timeout $((load_timeout - 60)) >"$work/load.out" 2>"$work/load.err" || rc=$?
    grep -E '^[[:space:]]*\{' "$work/load.out" | tail -n 1 >"$work/load.json" || true
    if ! jq -e . "$work/load.json" >/dev/null 2>&1; then
        tail -n 20 "$work/load.err" >&2
        die "Ferry.Load $mode exited with status $rc and printed no JSON line: $(tail -c 400 "$work/load.out")"
    fi
    if ((rc != 0)) || [[ "$(jq -r '.ok' "$work/load.json")" != true ]]; then
        load_errors+=("$mode (round $round, exit $rc): $(jq -r '.error // "no error text"' "$work/load.json")")
        note "Ferry.Load $mode failed (exit $rc): $(jq -r '.error // "no error text"' "$work/load.json")"
        cp "$work/load.err" "$work/load-failed-$mode-$round.err"
        return 1
    fi
    return 0
}
# load_num JQ-EXPRESSION: a number from $work/load.json, or nothing when it is missing or null
load_num() {
    local v
    v="$(jq -r "$1 // empty" "$work/load.json")"
    [[ "$v" =~ ^-?[0-9.]+([eE][-+]?[0-9]+)?$ ]] && echo "$v"
    return 0
}

calc() { awk "BEGIN { $1 }"; }
median_of() { awk 'NF' | sort -g | awk '{ v[NR] = $1 } END {
    if (NR == 0) { print "-"; exit }
    if (NR % 2) printf "%.4f", v[(NR + 1) / 2]; else printf "%.4f", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# measure MODE RECORD(0|1): one run of MODE; the value goes to $work/last (and to vals[MODE] when RECORD is 1)
measure() {
    local mode="$1" record="$2" t0 t1 v= x= s= flags=() target cc= sc=
    rm -f "$client_time" "$server_time"
    case "$mode" in
        socat|socat-1M)
            local out="$work/socat/received.bin" buf=() rc=0
            [[ "$mode" == socat-1M ]] && buf=(-b 1048576)
            rm -f "$out"
            timeout -k 5 "$cmd_timeout" /usr/bin/time -f '%U %S' -o "$server_time" socat -u "${buf[@]}" \
                "TCP-LISTEN:$port_socat,bind=127.0.0.1,reuseaddr" "OPEN:$out,creat,trunc" &
            listener_pid=$!
            wait_listening "$port_socat" "$listener_pid" || die "socat receiver did not start on 127.0.0.1:$port_socat"
            t0="$(now)"
            run "${timed[@]}" socat -u "${buf[@]}" "OPEN:$src,rdonly" "TCP:127.0.0.1:$port_socat" || die "$mode: sender failed"
            wait "$listener_pid" || rc=$?
            t1="$(now)"
            listener_pid=
            ((rc == 0)) || die "$mode: receiver failed (exit $rc)"
            v="$(diff_s "$t1" "$t0")"
            sc="$(time_cpu "$server_time")"
            verify_file "$out" "$mode"; rm -f "$out"
            ;;
        socat-sha256)
            # The limit for a SHA-256-verified copy: socat moves the bytes while sha256sum hashes them at both ends
            # at the same time (tee into a FIFO on each side); timed until both digests exist.
            local out="$work/socat/received.bin" rc=0 sent_sum="$work/socat/sent.sum" got_sum="$work/socat/received.sum"
            rm -f "$out" "$sent_sum" "$got_sum" "$work/socat/send.fifo" "$work/socat/recv.fifo"
            mkfifo "$work/socat/send.fifo" "$work/socat/recv.fifo"
            timeout -k 5 "$cmd_timeout" /usr/bin/time -f '%U %S' -o "$server_time" bash -c 'sha256sum <"$1" >"$2" & h=$!
                socat -u "TCP-LISTEN:$3,bind=127.0.0.1,reuseaddr" - | tee "$1" >"$4"; r=$?; wait $h && exit $r' \
                _ "$work/socat/recv.fifo" "$got_sum" "$port_socat" "$out" &
            listener_pid=$!
            wait_listening "$port_socat" "$listener_pid" || die "socat receiver did not start on 127.0.0.1:$port_socat"
            t0="$(now)"
            run "${timed[@]}" bash -c 'sha256sum <"$1" >"$2" & h=$!
                tee "$1" <"$3" | socat -u - "TCP:127.0.0.1:$4"; r=$?; wait $h && exit $r' \
                _ "$work/socat/send.fifo" "$sent_sum" "$src" "$port_socat" || die "$mode: sender failed"
            wait "$listener_pid" || rc=$?
            t1="$(now)"
            listener_pid=
            ((rc == 0)) || die "$mode: receiver failed (exit $rc)"
            [[ "$(cut -d' ' -f1 "$sent_sum")" == "$(cut -d' ' -f1 "$got_sum")" ]] || die "$mode: the two SHA-256 digests differ"
            v="$(diff_s "$t1" "$t0")"
            sc="$(time_cpu "$server_time")"
            verify_file "$out" "$mode"; rm -f "$out" "$work/socat/send.fifo" "$work/socat/recv.fifo"
            ;;
        iperf3)
            run iperf3 -c 127.0.0.1 -p "$port_iperf" -t "$iperf_time" -J >"$work/iperf3.json" \
                || die "iperf3 client failed: $(tail -c 400 "$work/iperf3.json")"
            v="$(jq -r '.end.sum_received.bits_per_second / 8 / 1e6 * 1000 | round / 1000' "$work/iperf3.json")"
            ;;
        put-plain|put-sha256|put-tls)
            local port="$port_tls" server_file="$work/tls/root/bench/up.bin"
            [[ "$mode" == put-plain ]] && { port="$port_open"; server_file="$work/open/root/up.bin"; flags=(--plain); }
            [[ "$mode" == put-sha256 ]] && { port="$port_open"; server_file="$work/open/root/up.bin"; flags=(--plain --checksum sha256); }
            rm -f "$server_file"
            server_mark "$([[ "$port" == "$port_open" ]] && echo "$ferry_pid_open" || echo "$ferry_pid_tls")"
            t0="$(now)"
            run "${timed[@]}" "$ferry" put "$src" up.bin --server "127.0.0.1:$port" -q "${flags[@]}" || die "$mode: ferry put failed"
            t1="$(now)"
            v="$(diff_s "$t1" "$t0")"
            sc="$(server_cpu)"
            verify_file "$server_file" "$mode"; rm -f "$server_file"
            ;;
        get-plain|get-sha256|get-tls)
            local port="$port_tls"
            [[ "$mode" == get-plain ]] && { port="$port_open"; flags=(--plain); }
            [[ "$mode" == get-sha256 ]] && { port="$port_open"; flags=(--plain --checksum sha256); }
            rm -f "$dl"
            server_mark "$([[ "$port" == "$port_open" ]] && echo "$ferry_pid_open" || echo "$ferry_pid_tls")"
            t0="$(now)"
            run "${timed[@]}" "$ferry" get bench.bin "$dl" --server "127.0.0.1:$port" -q "${flags[@]}" || die "$mode: ferry get failed"
            t1="$(now)"
            v="$(diff_s "$t1" "$t0")"
            sc="$(server_cpu)"
            verify_file "$dl" "$mode"; rm -f "$dl"
            ;;
        scp-put|scp-aes-put|sftp-put|rsync-put)
            target="$ssh_dir/in/up.bin"
            [[ "$mode" == rsync-put ]] && target="$work/rsync/root/in/up.bin"
            rm -f "$target"
            server_mark "$([[ "$mode" == rsync-put ]] && echo "$rsyncd_pid" || echo "$sshd_pid")"
            t0="$(now)"
            case "$mode" in
                scp-put) run "${timed[@]}" scp -q "${ssh_opts[@]}" -P "$port_ssh" "$src" "$ssh_target:$target" ;;
                scp-aes-put) run "${timed[@]}" scp -q "${ssh_opts[@]}" -c aes128-gcm@openssh.com -P "$port_ssh" "$src" "$ssh_target:$target" ;;
                sftp-put) printf 'put %s %s\n' "$src" "$target" >"$work/sftp.batch"
                          run "${timed[@]}" sftp -q -b "$work/sftp.batch" "${ssh_opts[@]}" -P "$port_ssh" "$ssh_target" >/dev/null ;;
                rsync-put) run "${timed[@]}" rsync -a --whole-file "$src" "$rsync_url/in/up.bin" ;;
            esac || die "$mode failed"
            t1="$(now)"
            v="$(diff_s "$t1" "$t0")"
            sc="$(server_cpu)"
            verify_file "$target" "$mode"; rm -f "$target"
            ;;
        scp-get|scp-aes-get|sftp-get|rsync-get)
            rm -f "$dl"
            server_mark "$([[ "$mode" == rsync-get ]] && echo "$rsyncd_pid" || echo "$sshd_pid")"
            t0="$(now)"
            case "$mode" in
                scp-get) run "${timed[@]}" scp -q "${ssh_opts[@]}" -P "$port_ssh" "$ssh_target:$src" "$dl" ;;
                scp-aes-get) run "${timed[@]}" scp -q "${ssh_opts[@]}" -c aes128-gcm@openssh.com -P "$port_ssh" "$ssh_target:$src" "$dl" ;;
                sftp-get) printf 'get %s %s\n' "$src" "$dl" >"$work/sftp.batch"
                          run "${timed[@]}" sftp -q -b "$work/sftp.batch" "${ssh_opts[@]}" -P "$port_ssh" "$ssh_target" >/dev/null ;;
                rsync-get) run "${timed[@]}" rsync -a --whole-file "$rsync_url/source.bin" "$dl" ;;
            esac || die "$mode failed"
            t1="$(now)"
            v="$(diff_s "$t1" "$t0")"
            sc="$(server_cpu)"
            verify_file "$dl" "$mode"; rm -f "$dl"
            ;;
        tree-put|scp-r-put|rsync-r-put)
            case "$mode" in
                tree-put) target="$work/tls/root/bench/tree-up" ;;
                scp-r-put) target="$ssh_dir/in/tree-up" ;;
                rsync-r-put) target="$work/rsync/root/in/tree-up" ;;
            esac
            rm -rf "$target"
            t0="$(now)"
            case "$mode" in
                tree-put) run "$ferry" put -r -q "$tree" tree-up --server "127.0.0.1:$port_tls" ;;
                scp-r-put) run scp -q -r "${ssh_opts[@]}" -P "$port_ssh" "$tree" "$ssh_target:$target" ;;
                rsync-r-put) run rsync -a --whole-file "$tree/" "$rsync_url/in/tree-up/" ;;
            esac || die "$mode failed"
            t1="$(now)"
            v="$(diff_s "$t1" "$t0")"
            verify_tree "$target" "$mode"; rm -rf "$target"
            ;;
        tree-get|scp-r-get|rsync-r-get)
            rm -rf "$dl_tree"
            t0="$(now)"
            case "$mode" in
                tree-get) run "$ferry" get -r -q tree-src "$dl_tree" --server "127.0.0.1:$port_tls" ;;
                scp-r-get) run scp -q -r "${ssh_opts[@]}" -P "$port_ssh" "$ssh_target:$tree" "$dl_tree" ;;
                rsync-r-get) run rsync -a --whole-file "$rsync_url/tree-src/" "$dl_tree/" ;;
            esac || die "$mode failed"
            t1="$(now)"
            v="$(diff_s "$t1" "$t0")"
            verify_tree "$dl_tree" "$mode"; rm -rf "$dl_tree"
            ;;
        ssh-true)
            lat_loop "$fresh_count" ssh "${ssh_opts[@]}" -p "$port_ssh" -o ControlPath=none "$ssh_target" true \
                || die "$mode: ssh true failed"
            v="$(median_of <"$work/lat.ms")"
            ;;
        ssh-cm)
            lat_loop "$rtt_count" ssh "${ssh_opts[@]}" -p "$port_ssh" -o ControlMaster=no -o ControlPath="$ssh_dir/ctl" \
                "$ssh_target" true || die "$mode: ssh true through the ControlMaster failed"
            v="$(median_of <"$work/lat.ms")"
            ;;
        term-echo|ssh-term-echo|socat-term-echo)
            # One open terminal per run, `cat` on it: the connection and the command are up before the timing starts.
            local client=("$ferry" exec -t --server "127.0.0.1:$port_exec" -- cat)
            [[ "$mode" == ssh-term-echo ]] && client=(ssh "${ssh_opts[@]}" -p "$port_ssh" -o ControlMaster=no \
                -o ControlPath="$ssh_dir/ctl" -tt "$ssh_target" cat)
            [[ "$mode" == socat-term-echo ]] && client=(socat - "TCP:127.0.0.1:$port_socat_pty,nodelay")
            run_timeout="$lat_timeout" run python3 "$repo/bench/terminal-echo.py" "$echo_count" 100 -- "${client[@]}" \
                >"$work/echo.txt" || die "$mode: the keystroke echo run failed: $(tail -c 400 "$work/echo.txt")"
            v="$(awk -F'\t' 'NR == 1 && $1 ~ /^[0-9.]+$/ { printf "%.4f", $1 / 1000 }' "$work/echo.txt")"
            [[ -n "$v" ]] || die "$mode: no figure from bench/terminal-echo.py: $(tail -c 400 "$work/echo.txt")"
            ;;
        exec-cli)
            lat_loop "$(( fresh_count < 5 ? fresh_count : 5 ))" "$ferry" exec -n --server "127.0.0.1:$port_exec" -- true \
                || die "$mode: ferry exec -- true failed"
            v="$(median_of <"$work/lat.ms")"
            ;;
        term-echo-inproc)
            if load_run term-echo --server "127.0.0.1:$port_exec" --count "$echo_count" --warmup 100; then
                v="$(load_num .median_ms)"; x=0
            else
                x=1
            fi
            ;;
        spawn-true)
            run "$spawn_bin" "$rtt_count" >"$work/spawn.txt" || die "$mode: $spawn_bin failed"
            v="$(awk 'NR == 1 && $1 ~ /^[0-9.]+$/ { printf "%.4f", $1 / 1000 }' "$work/spawn.txt")"
            [[ -n "$v" ]] || die "$mode: no figure from $spawn_bin: $(head -c 200 "$work/spawn.txt")"
            ;;
        exec-rtt|exec-rtt-unconfined|exec-fresh)
            local n="$rtt_count" port="$port_exec" load_mode="$mode"
            [[ "$mode" == exec-fresh ]] && n="$fresh_count"
            [[ "$mode" == exec-rtt-unconfined ]] && { port="$port_execu"; load_mode=exec-rtt; }
            if load_run "$load_mode" --server "127.0.0.1:$port" --runs "$n"; then
                v="$(load_num .median_ms)"; x=0
            else
                x=1   # a failed run: no figure, counted as a failure
            fi
            ;;
        concurrent-put)
            rm -rf "$work/load/root/bench"
            load_run concurrent-put --server "127.0.0.1:$port_load" --clients "$clients" --size 1MiB || true
            v="$(load_num .aggregate_mb_s)"
            x="$(load_num .failures)"; x="${x:-$clients}"
            s="$(load_num .single_stream_mb_s)"
            [[ -n "$s" ]] && ((record)) && vals[single-stream]+="$s "
            rm -rf "$work/load/root/bench"
            ;;
        idle)
            start_ferry idle "$port_idle" "${big_limits[@]}"
            idle_pid="$bg_pid"; unset 'pids[-1]'
            load_run idle --server "127.0.0.1:$port_idle" --server-pid "$ferry_pid_idle" --connections "$connections" || true
            v="$(load_num '.per_connection_bytes / 1024')"
            x="$(load_num .failures)"; x="${x:-$connections}"
            stop_pid "$idle_pid"; idle_pid=
            ;;
        *) die "unknown mode $mode" ;;
    esac
    [[ -n "$v" ]] && v="$(calc "printf \"%.4f\", $v")"
    [[ "${kind[$mode]}" == xfer ]] && cc="$(time_cpu "$client_time")"
    if ((record)); then
        vals[$mode]+="$v "
        [[ -n "$x" ]] && extra[$mode]+="$x "
        cpu_c[$mode]+="$cc "
        cpu_s[$mode]+="$sc "
    fi
    printf '%s\t%s\t%s\t%s\t%s\n' "$mode" "$v" "$x" "$cc" "$sc" >"$work/last"
}

# ---------------------------------------------------------------------------------------------------------------
# Runs
commit="$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)"
src_changes="$(GIT_OPTIONAL_LOCKS=0 git -C "$repo" status --porcelain -- src bench/Ferry.Load 2>/dev/null | wc -l || echo '?')"
runtime="$(dotnet --list-runtimes 2>/dev/null | awk '/Microsoft.NETCore.App/ {v = $2} END {print v}')"
echo "== Ferry side-by-side benchmark, $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
echo "   big file $size_h ($size bytes); tree of $files files x $file_size bytes in 10 folders; 127.0.0.1 only"
echo "   $runs runs per mode (+$warmup warm-up round(s), not counted), tools alternating run by run; files on $tmpfs_desc"
echo "   CPU '$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)', nproc $(nproc), kernel $(uname -r), $(awk '/^MemTotal:/ {printf "%.0f GiB RAM", $2 / 1048576}' /proc/meminfo)"
echo "   dotnet $(dotnet --version 2>/dev/null || echo '?') (runtime ${runtime:-?}), $(ssh -V 2>&1), rsync $(rsync --version | awk 'NR == 1 {print $3}'), $(socat -V 2>/dev/null | awk '/socat version/ {print "socat " $3; exit}'), $(iperf3 --version | awk 'NR == 1 {print "iperf3 " $2}')"
echo "   ssh cipher negotiated by default: ${ssh_kex:-?}; scp uses the SFTP protocol (OpenSSH >= 9.0 default)"
echo "   ferry: $ferry (commit $commit, $src_changes changed path(s) under src/ and bench/Ferry.Load in the working tree)"
if ((with_load)); then
    echo "   Ferry.Load: ${load_cmd[*]}; exec: $rtt_count commands per run on an open connection, $fresh_count with a new connection each"
else
    echo "   Ferry.Load: not run (exec, concurrent-put and idle modes skipped)"
fi
echo "   ssh true: $fresh_count per run (new connection), $rtt_count per run (ControlMaster); keystroke echo: $echo_count per run; ulimit -n $(ulimit -n)"
[[ -n "$only" ]] && echo "   only: ${modes[*]}"
echo "   load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
((runs < 5)) && echo "   NOTE: fewer than 5 runs per mode; medians are rough"
[[ -n "$raw_file" ]] && printf 'round\tmode\tvalue\textra\tclient_cpu_s\tserver_cpu_s\n' >"$raw_file"

total_rounds=$((warmup + runs))
for ((round = 1; round <= total_rounds; round++)); do
    if ((round <= warmup)); then tag="warm-up $round/$warmup"; rec=0; else tag="run $((round - warmup))/$runs"; rec=1; fi
    line="   $tag:"
    for mode in "${modes[@]}"; do
        measure "$mode" "$rec"
        IFS=$'\t' read -r m v x c_cpu s_cpu <"$work/last"
        if [[ -n "$v" ]]; then line+=" $mode $(calc "printf \"%.3g\", $v")"; else line+=" $mode FAILED"; fi
        if ((rec)) && [[ -n "$raw_file" ]]; then
            printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$((round - warmup))" "$m" "$v" "$x" "$c_cpu" "$s_cpu" >>"$raw_file"
        fi
    done
    echo "$line"
done
echo "   load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"

# ---------------------------------------------------------------------------------------------------------------
# Figures. speed: MB/s (10^6 bytes/s) for transfers, files/s for trees, 1/ms for latencies, 1/KiB for memory,
# so that speed(a) / speed(b) says how many times better a is than b. "-" where a mode has no figure.
declare -A med=() lo=() hi=() fig=() spd=() unit=() nruns=() nfail=() cpg_c=() cpg_s=()
gib="$(calc "printf \"%.6f\", $size / 1073741824")"
cpu_per_gib() { # cpu_per_gib "SECONDS...": the median of the runs' CPU seconds, per GiB moved; "-" when none
    local m
    m="$(tr ' ' '\n' <<<"$1" | median_of)"
    if [[ "$m" == "-" ]]; then echo "-"; else calc "printf \"%.2f\", $m / $gib"; fi
}
for mode in "${rows[@]}"; do
    cpg_c[$mode]="$(cpu_per_gib "${cpu_c[$mode]:-}")"
    cpg_s[$mode]="$(cpu_per_gib "${cpu_s[$mode]:-}")"
    list="$(tr ' ' '\n' <<<"${vals[$mode]:-}" | awk 'NF')"
    nruns[$mode]="$(awk 'NF' <<<"$list" | wc -l)"
    nfail[$mode]="$(tr ' ' '\n' <<<"${extra[$mode]:-}" | awk 'NF { s += $1 } END { print s + 0 }')"
    case "${kind[$mode]}" in xfer|rate) unit[$mode]="MB/s" ;; tree) unit[$mode]="s" ;; lat) unit[$mode]="ms" ;; mem) unit[$mode]="KiB" ;; esac
    if ((nruns[$mode] == 0)); then
        med[$mode]="-" lo[$mode]="-" hi[$mode]="-" fig[$mode]="-" spd[$mode]="-"
        continue
    fi
    med[$mode]="$(median_of <<<"$list")"
    lo[$mode]="$(sort -g <<<"$list" | head -n 1)"
    hi[$mode]="$(sort -g <<<"$list" | tail -n 1)"
    m="${med[$mode]}"
    case "${kind[$mode]}" in
        xfer) fig[$mode]="$(calc "printf \"%.1f\", $size / 1e6 / $m")"; spd[$mode]="${fig[$mode]}" ;;
        rate) fig[$mode]="$(calc "printf \"%.1f\", $m")"; spd[$mode]="${fig[$mode]}" ;;
        tree) fig[$mode]="$(calc "printf \"%.3f\", $m")"; spd[$mode]="$(calc "printf \"%.2f\", $files / $m")" ;;
        lat)  fig[$mode]="$(calc "printf \"%.3f\", $m")"; spd[$mode]="$(calc "printf \"%.6f\", 1 / $m")" ;;
        mem)  fig[$mode]="$(calc "printf \"%.1f\", $m")"; spd[$mode]="$(calc "printf \"%.6f\", 1 / $m")" ;;
    esac
done
has() { [[ -n "${spd[$1]:-}" && "${spd[$1]}" != "-" ]]; }
ratio() { if has "$1" && has "$2"; then calc "printf \"%.2f\", ${spd[$1]} / ${spd[$2]}"; else echo "-"; fi; }
pct() { if has "$1" && has "$2"; then calc "printf \"%.0f\", 100 * ${spd[$1]} / ${spd[$2]}"; else echo "-"; fi; }

range_of() { # the run range in the unit shown
    local m="$1"
    has "$m" || { echo "-"; return; }
    case "${kind[$m]}" in
        xfer) calc "printf \"%.0f-%.0f MB/s\", $size / 1e6 / ${hi[$m]}, $size / 1e6 / ${lo[$m]}" ;;
        rate) calc "printf \"%.0f-%.0f MB/s\", ${lo[$m]}, ${hi[$m]}" ;;
        tree) calc "printf \"%.2f-%.2f s\", ${lo[$m]}, ${hi[$m]}" ;;
        lat)  calc "printf \"%.3g-%.3g ms\", ${lo[$m]}, ${hi[$m]}" ;;
        mem)  calc "printf \"%.1f-%.1f KiB\", ${lo[$m]}, ${hi[$m]}" ;;
    esac
}
figure_of() {
    local m="$1"
    has "$m" || { echo "no figure"; return; }
    case "${kind[$m]}" in
        xfer|rate) calc "printf \"%.0f MB/s\", ${fig[$m]}" ;;
        tree) calc "printf \"%.2f s (%.0f files/s)\", ${fig[$m]}, ${spd[$m]}" ;;
        lat) calc "printf \"%.3g ms\", ${fig[$m]}" ;;
        mem) calc "printf \"%.1f KiB\", ${fig[$m]}" ;;
    esac
}
times_better() { printf '%sx %s' "$(ratio "$1" "$2")" "$3"; }   # times_better A B NAME: "2.10x NAME"
peers_of() {
    case "$1" in
        put-plain) times_better put-plain rsync-put "rsync" ;;
        get-plain) times_better get-plain rsync-get "rsync" ;;
        put-tls) printf '%s; %s; %s' "$(times_better put-tls scp-put "scp chacha")" \
            "$(times_better put-tls scp-aes-put "scp aes128-gcm")" "$(times_better put-tls sftp-put sftp)" ;;
        get-tls) printf '%s; %s; %s' "$(times_better get-tls scp-get "scp chacha")" \
            "$(times_better get-tls scp-aes-get "scp aes128-gcm")" "$(times_better get-tls sftp-get sftp)" ;;
        socat|socat-1M) printf '%s %% of iperf3' "$(pct "$1" iperf3)" ;;
        put-sha256|get-sha256) printf '%s %% of socat + sha256sum' "$(pct "$1" socat-sha256)" ;;
        tree-put) printf '%s; %s' "$(times_better tree-put scp-r-put "scp -r")" "$(times_better tree-put rsync-r-put rsync)" ;;
        tree-get) printf '%s; %s' "$(times_better tree-get scp-r-get "scp -r")" "$(times_better tree-get rsync-r-get rsync)" ;;
        exec-rtt|exec-rtt-unconfined) printf '%s; %s x the local spawn' "$(times_better "$1" ssh-cm "ssh ControlMaster")" "$(ratio spawn-true "$1")" ;;
        exec-fresh) times_better exec-fresh ssh-true "ssh true" ;;
        exec-cli) printf '%s; %s' "$(times_better exec-cli ssh-true "ssh true")" "$(times_better exec-cli ssh-cm "ssh ControlMaster")" ;;
        term-echo) printf '%s; %s' "$(times_better term-echo ssh-term-echo "ssh -tt ControlMaster")" \
            "$(times_better term-echo socat-term-echo "the socat relay floor")" ;;
        term-echo-inproc) printf '%s; %s' "$(times_better term-echo-inproc ssh-term-echo "ssh -tt ControlMaster")" \
            "$(times_better term-echo-inproc socat-term-echo "the socat relay floor")" ;;
        ssh-term-echo) times_better ssh-term-echo socat-term-echo "the socat relay floor" ;;
        single-stream) printf '%s %% of ferry put TLS (%s, one process)' "$(pct single-stream put-tls)" "$size_h" ;;
        concurrent-put) printf '%s %% of one connection; %s %% of ferry put TLS; failed uploads: %s' \
            "$(pct concurrent-put single-stream)" "$(pct concurrent-put put-tls)" "${nfail[concurrent-put]}" ;;
        idle) printf 'failed connections: %s' "${nfail[idle]}" ;;
        *) printf '' ;;
    esac
}

echo
echo "| mode | median | runs: n, min-max | CPU s/GiB client | CPU s/GiB server | vs socat | vs socat -b 1M | vs peers (Nx = N times faster) |"
echo "|---|---:|---:|---:|---:|---:|---:|---|"
for mode in "${rows[@]}"; do
    vs1="-" vs2="-"
    if [[ "${kind[$mode]}" == xfer || "$mode" == iperf3 ]]; then vs1="$(pct "$mode" socat) %"; vs2="$(pct "$mode" socat-1M) %"; fi
    n="${nruns[$mode]}"
    [[ "${kind[$mode]}" == lat ]] && ((nfail[$mode] > 0)) && n+=" (+${nfail[$mode]} failed)"
    printf '| %s | %s | %s, %s | %s | %s | %s | %s | %s |\n' "${label[$mode]}" "$(figure_of "$mode")" "$n" "$(range_of "$mode")" \
        "${cpg_c[$mode]}" "${cpg_s[$mode]}" "$vs1" "$vs2" "$(peers_of "$mode")"
done
echo
echo "median: of the runs. MB/s: 10^6 bytes/s; for the $size_h file, its size / the time of the whole command. Tree rows:"
echo "seconds for all $files files. exec rows: median of the runs' own medians; Ferry.Load (open/new connection) times"
echo "inside its process, the ssh rows and 'ferry exec -- true (CLI)' time whole processes from fork to exit."
echo "keystroke echo rows: median of the runs' medians of $echo_count keystrokes, one byte to the remote terminal and its"
echo "echo back, through an open client (bench/terminal-echo.py; the in-process row: Ferry.Load term-echo's own clock)."
echo "The socat row is two C relays (client process, server process) over the same loopback TCP to a pty: what any"
echo "client/server pair of processes pays here, so no remote terminal can beat ssh by more than ssh's margin over it."
echo "CPU s/GiB: median over the runs of the CPU seconds (user + sys) per GiB moved, of each side's whole process tree:"
echo "client = the command (for socat, the sender) under /usr/bin/time; server = the server process and every"
echo "per-connection child it reaped (ferry serve, sshd, rsync daemon: /proc/PID/stat utime+stime+cutime+cstime before"
echo "and after; for socat, the receiver under /usr/bin/time). Both sides share the same 2 cores."
echo "vs socat: speed as a percentage of socat's. vs peers: how many times faster (shorter) than the named tool."
echo "'$clients x 1 MiB put, one connection': Ferry.Load's single-stream baseline (the same $clients files one after"
echo "another over one connection); 'at once': $clients clients connecting and uploading together (successful bytes)."

# ---------------------------------------------------------------------------------------------------------------
# Performance targets
verdict() { # verdict EXPRESSION: MET / NOT MET / (no figure)
    [[ " $1 " == *" - "* ]] && { echo "(no figure)"; return; }
    if calc "exit !($1)"; then echo MET; else echo "NOT MET"; fi
}
if [[ -n "$only" ]]; then
    echo
    echo "Targets: not checked (--only)"
else
echo
echo "Targets (medians of $runs runs):"
for d in put get; do
    a="$(pct "$d-plain" socat)"; b="$(pct "$d-plain" socat-1M)"
    echo "- plain $d >= 85 % of socat: $a % of socat with its default 8 KiB buffer $(verdict "$a >= 85"); $b % of socat -b 1048576 $(verdict "$b >= 85")"
done
for d in put get; do
    a="$(pct "$d-sha256" socat-sha256)"
    echo "- plain $d --checksum sha256 >= 90 % of socat + sha256sum at both ends: ${fig[$d-sha256]} MB/s vs ${fig[socat-sha256]} MB/s: $a % $(verdict "$a >= 90")"
done
a="$(ratio get-plain put-plain)"
echo "- plain get >= plain put: ${fig[get-plain]} MB/s vs ${fig[put-plain]} MB/s: ${a}x $(verdict "$a >= 1")"
cpu_vs() { # cpu_vs MODE REF FACTOR: "client X vs Y VERDICT, server X vs Y VERDICT" (CPU s/GiB, X <= FACTOR * Y)
    local side out="" a b
    for side in c s; do
        local -n t="cpg_$side"
        a="${t[$1]:--}" b="${t[$2]:--}"
        out+="$([[ $side == c ]] && echo client || echo server) $a vs $b $(verdict "$a <= $3 * $b")"
        [[ $side == c ]] && out+=", "
    done
    echo "$out"
}
for d in put get; do
    echo "- plain $d CPU s/GiB per side <= 1.5x socat -b 1M's: $(cpu_vs "$d-plain" socat-1M 1.5)"
done
for d in put get; do
    a="$(ratio "$d-tls" "scp-$d")"; b="$(ratio "$d-tls" "scp-aes-$d")"
    echo "- TLS $d >= 3x scp chacha20-poly1305 and >= 2x scp aes128-gcm: ${fig[$d-tls]} MB/s vs ${fig[scp-$d]} and ${fig[scp-aes-$d]} MB/s: ${a}x $(verdict "$a >= 3"), ${b}x $(verdict "$b >= 2")"
    echo "- TLS $d CPU s/GiB per side <= scp aes128-gcm's: $(cpu_vs "$d-tls" "scp-aes-$d" 1)"
done
for d in put get; do
    a="$(ratio "tree-$d" "scp-r-$d")"; b="$(ratio "tree-$d" "rsync-r-$d")"
    echo "- $files files, $d -r >= 3x faster than scp -r and faster than rsync: ${fig[tree-$d]} s vs ${fig[scp-r-$d]} s and ${fig[rsync-r-$d]} s: ${a}x $(verdict "$a >= 3"), ${b}x $(verdict "$b > 1")"
done
if ((with_load)); then
    echo "- exec on an open connection, median < 1 ms: ${fig[exec-rtt]} ms $(verdict "${fig[exec-rtt]} < 1")"
    a="$(ratio spawn-true exec-rtt)"; b="$(ratio spawn-true exec-rtt-unconfined)"
    echo "- exec on an open connection <= 1.3x a local posix_spawn of true (${fig[spawn-true]:--} ms): sandboxed ${fig[exec-rtt]} ms = ${a}x $(verdict "$a <= 1.3"); --exec-unconfined ${fig[exec-rtt-unconfined]} ms = ${b}x $(verdict "$b <= 1.3")"
    echo "- exec with a new connection faster than ssh true: ${fig[exec-fresh]} ms vs ${fig[ssh-true]} ms $(verdict "${fig[exec-fresh]} < ${fig[ssh-true]}")"
    has exec-cli && has ssh-cm && a="$(calc "printf \"%.3g\", ${fig[exec-cli]} / ${fig[ssh-cm]}")" || a="-"
    echo "- ferry exec -- true as a whole CLI process <= 0.5x ssh ControlMaster's time: ${fig[exec-cli]} ms vs ${fig[ssh-cm]} ms = ${a}x its time $(verdict "$a <= 0.5")"
    p="$(pct concurrent-put single-stream)"
    echo "- $clients concurrent clients, zero failures: ${nfail[concurrent-put]} failed uploads in $runs runs $(verdict "${nfail[concurrent-put]} == 0")"
    echo "- $clients concurrent clients, aggregate >= 80 % of a single stream: ${fig[concurrent-put]} MB/s = $p % of ${fig[single-stream]} MB/s (one connection) $(verdict "$p >= 80"); $(pct concurrent-put put-tls) % of ferry put TLS, ${fig[put-tls]} MB/s"
    echo "- server memory per idle connection < 48 KiB ($connections connections): ${fig[idle]} KiB $(verdict "${fig[idle]} < 48") (failed connections: ${nfail[idle]})"
else
    echo "- exec, concurrency and idle-memory targets: not measured (no bench/Ferry.Load)"
fi
fi
# The keystroke echo target is checked whenever its rows ran, --only included.
if has term-echo && has ssh-term-echo; then
    a="$(ratio term-echo ssh-term-echo)"
    echo "- keystroke echo >= 5x faster than ssh -tt ControlMaster: ${fig[term-echo]} ms vs ${fig[ssh-term-echo]} ms: ${a}x $(verdict "$a >= 5")"
    if has socat-term-echo; then
        echo "  (the socat relay floor: ${fig[socat-term-echo]} ms; ssh runs at $(ratio ssh-term-echo socat-term-echo)x its speed, so 5x ssh needs $(calc "printf \"%.3g\", ${fig[ssh-term-echo]} / 5") ms)"
    fi
fi
if ((${#load_errors[@]})); then
    echo
    echo "Ferry.Load runs that failed:"
    printf -- '- %s\n' "${load_errors[@]}"
fi

# ---------------------------------------------------------------------------------------------------------------
# TSV of the medians, and the chart
tsv="$work/medians.tsv"
{
    printf 'mode\tlabel\tkind\tunit\tfigure\tmedian_raw\tmin_raw\tmax_raw\truns\tfailures\tspeed\tclient_cpu_s_per_gib\tserver_cpu_s_per_gib\n'
    for mode in "${rows[@]}"; do
        printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$mode" "${label[$mode]}" "${kind[$mode]}" "${unit[$mode]}" \
            "${fig[$mode]}" "${med[$mode]}" "${lo[$mode]}" "${hi[$mode]}" "${nruns[$mode]}" "${nfail[$mode]}" "${spd[$mode]}" \
            "${cpg_c[$mode]}" "${cpg_s[$mode]}"
    done
} >"$tsv"
echo
echo "Medians as TSV (figure in unit; *_raw: seconds for xfer and tree, MB/s for rate, ms for lat, KiB for mem):"
cat "$tsv"
if [[ -n "$tsv_out" ]]; then cp "$tsv" "$tsv_out" && echo "(also written to $tsv_out)"; fi

if ((chart)); then
    cdata="$work/chart.dat"
    v() { echo "${fig[$1]:--}"; }
    {
        printf '# big file: tool\tupload MB/s\tdownload MB/s\n'
        printf 'socat\t%s\t-\n' "$(v socat)"
        printf 'socat -b 1M\t%s\t-\n' "$(v socat-1M)"
        printf 'iperf3 (socket)\t%s\t-\n' "$(v iperf3)"
        printf 'ferry plain\t%s\t%s\n' "$(v put-plain)" "$(v get-plain)"
        printf 'socat+sha256sum\t%s\t-\n' "$(v socat-sha256)"
        printf 'ferry sha256\t%s\t%s\n' "$(v put-sha256)" "$(v get-sha256)"
        printf 'rsync daemon\t%s\t%s\n' "$(v rsync-put)" "$(v rsync-get)"
        printf 'ferry TLS\t%s\t%s\n' "$(v put-tls)" "$(v get-tls)"
        printf 'scp chacha20\t%s\t%s\n' "$(v scp-put)" "$(v scp-get)"
        printf 'scp aes128-gcm\t%s\t%s\n' "$(v scp-aes-put)" "$(v scp-aes-get)"
        printf 'sftp\t%s\t%s\n' "$(v sftp-put)" "$(v sftp-get)"
        printf '\n\n# tree: tool\tput files/s\tget files/s\n'
        printf 'ferry TLS\t%s\t%s\n' "${spd[tree-put]}" "${spd[tree-get]}"
        printf 'scp -r\t%s\t%s\n' "${spd[scp-r-put]}" "${spd[scp-r-get]}"
        printf 'rsync -a\t%s\t%s\n' "${spd[rsync-r-put]}" "${spd[rsync-r-get]}"
        printf '\n\n# exec latency: what\tferry ms\tssh ms\n'
        printf 'open connection\t%s\t%s\n' "$(v exec-rtt)" "$(v ssh-cm)"
        printf 'new connection\t%s\t%s\n' "$(v exec-fresh)" "$(v ssh-true)"
        printf 'whole CLI process\t%s\t%s\n' "$(v exec-cli)" "$(v ssh-true)"
        printf 'keystroke echo (terminal)\t%s\t%s\n' "$(v term-echo)" "$(v ssh-term-echo)"
        printf '\n\n# concurrency: what\tMB/s\n'
        printf 'ferry put TLS, %s\t%s\n' "$size_h" "$(v put-tls)"
        printf '%s x 1 MiB, one connection\t%s\n' "$clients" "$(v single-stream)"
        printf '%s clients x 1 MiB at once\t%s\n' "$clients" "$(v concurrent-put)"
        printf '\n\n# CPU seconds per GiB: tool\tclient\tserver\n'
        for m in socat socat-1M put-plain get-plain put-tls get-tls scp-put scp-get scp-aes-put scp-aes-get sftp-put sftp-get \
            rsync-put rsync-get; do
            printf '%s\t%s\t%s\n' "${label[$m]}" "${cpg_c[$m]:--}" "${cpg_s[$m]:--}"
        done
    } >"$cdata"
    subtitle="$size_h file, $files x $file_size_arg tree, medians of $runs runs; 127.0.0.1, tmpfs, $(nproc) cores (shared VM); $(date -u '+%Y-%m-%d')"
    idle_note=""
    ((with_load)) && idle_note="server memory per idle connection ($connections open): ${fig[idle]} KiB"
    mkdir -p "$(dirname "$png_out")"
    timeout 120 gnuplot -e "datafile='$cdata'; outfile='$png_out'; subtitle='$subtitle'; idlenote='$idle_note'" \
        "$repo/bench/chart.gnuplot" || die "gnuplot failed"
    echo "chart: $png_out"
fi

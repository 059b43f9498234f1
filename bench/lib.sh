# Shared by bench/compare.sh and bench/transfer.sh (sourced): sizes, ports, processes. Expects die() and, for run(),
# cmd_timeout (or run_timeout) and child_pid to be defined by the script.

parse_size() { # 1073741824, 1G, 1GiB, 512M, 64K -> bytes (K/M/G/T are powers of 1024)
    local s="${1%iB}"; s="${s%B}"
    [[ "$s" =~ ^([0-9]+)([KkMmGgTt]?)$ ]] || return 1
    local n="${BASH_REMATCH[1]}" u="${BASH_REMATCH[2]^^}"
    case "$u" in
        K) n=$((n << 10)) ;; M) n=$((n << 20)) ;; G) n=$((n << 30)) ;; T) n=$((n << 40)) ;;
    esac
    echo "$n"
}

stop_pid() { # stop_pid PID: SIGTERM, up to 10 s, then SIGKILL
    local pid="$1" i
    [[ -n "$pid" ]] || return 0
    kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null || true
}

run() {
    timeout -k 5 "${run_timeout:-$cmd_timeout}" "$@" &
    child_pid=$!
    local rc=0
    wait "$child_pid" || rc=$?
    child_pid=
    return "$rc"
}

# Private ports: outside the kernel's ephemeral range, so that no outgoing connection can take one mid-run.
declare -a used_ports=()
read -r eph_lo eph_hi </proc/sys/net/ipv4/ip_local_port_range
if ((eph_lo > 11024)); then port_lo=10000 port_span=$((eph_lo - 10000)); else port_lo=$((eph_hi + 1)) port_span=$((65535 - eph_hi)); fi
((port_span >= 100)) || die "no room for private ports outside the ephemeral range $eph_lo-$eph_hi"
pick_port() { # pick_port VAR: sets VAR to a free port that this script has not used yet
    local i p q taken
    for ((i = 0; i < 200; i++)); do
        p=$((port_lo + (RANDOM * 32768 + RANDOM) % port_span))
        taken=0
        for q in "${used_ports[@]}"; do [[ "$q" == "$p" ]] && taken=1; done
        ((taken)) && continue
        if [[ -z "$(ss -Htan "( sport = :$p or dport = :$p )" 2>/dev/null)" ]]; then
            used_ports+=("$p"); printf -v "$1" '%s' "$p"; return 0
        fi
    done
    die "no free port found"
}

wait_listening() { # wait_listening PORT PID: up to 30 s for PORT to listen, while PID lives
    local port="$1" pid="$2" i
    for ((i = 0; i < 300; i++)); do
        [[ -n "$(ss -Hltn "sport = :$port" 2>/dev/null)" ]] && return 0
        kill -0 "$pid" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}

# make_work_folder NAME NEED HEADROOM: a private folder for the run's files on tmpfs, in /dev/shm when it has NEED bytes
# free (or when --tmpfs shm asks for it), else a tmpfs of NEED bytes mounted under /tmp (root only). Refuses when
# free memory is below NEED + HEADROOM. Sets work, mounted and tmpfs_desc; reads tmpfs_mode (auto|shm|mount).
make_work_folder() {
    local name="$1" need="$2" headroom="$3" avail_kib shm_free=0
    avail_kib="$(awk '/^MemAvailable:/ {print $2}' /proc/meminfo)"
    ((avail_kib * 1024 > need + headroom)) || die "not enough free memory for the files on tmpfs ($((avail_kib >> 10)) MiB available, $((need >> 20)) MiB needed + $((headroom >> 20)) MiB)"
    if [[ -d /dev/shm ]] && [[ "$(stat -f -c %T /dev/shm 2>/dev/null)" == tmpfs ]]; then
        shm_free=$(($(df -P -k /dev/shm | awk 'NR == 2 {print $4}') * 1024))
    fi
    if [[ "$tmpfs_mode" == shm ]] || { [[ "$tmpfs_mode" == auto ]] && ((shm_free >= need)); }; then
        ((shm_free >= need)) || die "/dev/shm has $((shm_free >> 20)) MiB free, $((need >> 20)) MiB needed"
        work="$(mktemp -d "/dev/shm/$name.XXXXXX")"
        tmpfs_desc="private folder in /dev/shm (tmpfs)"
    else
        ((EUID == 0)) || die "/dev/shm is too small and mounting a tmpfs needs root"
        work="$(mktemp -d "/tmp/$name.XXXXXX")"
        mount -t tmpfs -o "size=$need,mode=0700" "$name" "$work" || die "could not mount a tmpfs on $work"
        mounted=1
        tmpfs_desc="private tmpfs mounted on $work ($((need >> 20)) MiB)"
    fi
    chmod 700 "$work"
}

#!/usr/bin/env bash
# Keystroke echo round trip on an open remote terminal (one byte to the remote terminal, its echo back), median and
# 90th percentile of --count keystrokes: `ferry exec -t -- cat` against a ferry server on loopback (plain TCP,
# --insecure-no-auth, commands in the sandbox), and, when sshd is installed, `ssh -tt host cat` through a ControlMaster
# connection to a private sshd on loopback, in the same run. Both clients are driven the same way, through pipes,
# by bench/terminal-echo.py; the connection is open before timing starts.
#
#   bench/terminal-echo.sh [--count N] [--warmup N] [--ferry PATH-TO-ferry.dll]
#
# Everything it starts (ferry server, sshd, ControlMaster) is stopped by PID on exit, and its files live in a
# temporary folder removed on exit. Needs root or an existing exec account for `--allow-exec` (see docs/security.md).
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$repo/bench/lib.sh"
die() { echo "terminal-echo.sh: $*" >&2; exit 1; }
port_lo=20000
port_span=30000
used_ports=()
count=1000
warmup=100
ferry_dll="$repo/src/Ferry.Cli/bin/Release/net10.0/ferry.dll"
while (($#)); do
    case "$1" in
        --count) count="$2"; shift 2 ;;
        --warmup) warmup="$2"; shift 2 ;;
        --ferry) ferry_dll="$2"; shift 2 ;;
        *) echo "usage: $0 [--count N] [--warmup N] [--ferry ferry.dll]" >&2; exit 2 ;;
    esac
done
[[ -f "$ferry_dll" ]] || ferry_dll="$repo/src/Ferry.Cli/bin/Debug/net10.0/ferry.dll"
[[ -f "$ferry_dll" ]] || { echo "build src/Ferry.Cli first (dotnet build -c Release src/Ferry.Cli)" >&2; exit 1; }

work="$(mktemp -d /tmp/ferry-echo.XXXXXX)"
pids=()
cleanup() {
    for pid in "${pids[@]}"; do stop_pid "$pid" || true; done
    rm -rf "$work"
}
trap cleanup EXIT INT TERM

mkdir -p "$work/root" "$work/state"
pick_port port_ferry
timeout 3600 dotnet "$ferry_dll" serve --listen "127.0.0.1:$port_ferry" --root "$work/root" --state-dir "$work/state" \
    --insecure-no-auth --allow-exec >"$work/ferry.log" 2>&1 &
pids+=($!)
wait_listening "$port_ferry" "${pids[-1]}"

printf 'mode\tmedian_us\tp90_us\n'
printf 'ferry exec -t\t%s\n' "$(timeout 600 python3 "$repo/bench/terminal-echo.py" "$count" "$warmup" -- \
    dotnet "$ferry_dll" exec -t --plain --server "127.0.0.1:$port_ferry" -- cat)"

sshd_bin="$(command -v sshd || echo /usr/sbin/sshd)"
if [[ ! -x "$sshd_bin" ]]; then
    echo "ssh -tt (ControlMaster)	-	-	(sshd not installed: apt-get install openssh-server)"
    exit 0
fi
pick_port port_ssh
ssh_dir="$work/ssh"
mkdir -p "$ssh_dir/home"
timeout 60 ssh-keygen -q -t ed25519 -N '' -f "$ssh_dir/host_ed25519"
timeout 60 ssh-keygen -q -t ed25519 -N '' -f "$ssh_dir/client_ed25519"
cp "$ssh_dir/client_ed25519.pub" "$ssh_dir/authorized_keys"
chmod 600 "$ssh_dir/authorized_keys"
cat >"$ssh_dir/sshd_config" <<CONF
Port $port_ssh
ListenAddress 127.0.0.1
HostKey $ssh_dir/host_ed25519
PidFile none
AuthorizedKeysFile $ssh_dir/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
UseDNS no
PrintMotd no
PrintLastLog no
LogLevel ERROR
SetEnv HOME=$ssh_dir/home
CONF
mkdir -p /run/sshd
timeout 3600 "$sshd_bin" -D -e -f "$ssh_dir/sshd_config" >"$ssh_dir/sshd.log" 2>&1 &
pids+=($!)
wait_listening "$port_ssh" "${pids[-1]}"
ssh_opts=(-F /dev/null -i "$ssh_dir/client_ed25519" -o IdentitiesOnly=yes -o BatchMode=yes -o StrictHostKeyChecking=no
    -o UserKnownHostsFile="$ssh_dir/known_hosts" -o LogLevel=ERROR -p "$port_ssh" -o ControlPath="$ssh_dir/ctl")
timeout 30 ssh "${ssh_opts[@]}" -o ControlMaster=yes -o ControlPersist=600 -f -N "$(id -un)@127.0.0.1"
master_pid="$(timeout 10 ssh "${ssh_opts[@]}" -O check "$(id -un)@127.0.0.1" 2>&1 | sed -n 's/.*pid=\([0-9]*\).*/\1/p')"
[[ "$master_pid" =~ ^[0-9]+$ ]] && pids+=("$master_pid")
printf 'ssh -tt (ControlMaster)\t%s\n' "$(timeout 600 python3 "$repo/bench/terminal-echo.py" "$count" "$warmup" -- \
    ssh "${ssh_opts[@]}" -o ControlMaster=no -tt "$(id -un)@127.0.0.1" cat)"

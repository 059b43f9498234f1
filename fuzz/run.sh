#!/usr/bin/env bash
# Coverage-guided fuzzing of Ferry's parsers with AFL++ and SharpFuzz (docs/fuzzing.md).
#   fuzz/run.sh TARGET SECONDS    TARGET: frame, path, handshake, datagram, or all (the four at once)
# Installs afl++ (apt) and the sharpfuzz tool (into fuzz/.tools) when missing, builds the harness in Release,
# instruments Ferry.Protocol.dll and Ferry.Server.dll, and runs afl-fuzz for SECONDS under nice -n 19.
# Findings land in fuzz/out/TARGET/default/{crashes,hangs}; a previous fuzz/out/TARGET is kept under a dated name.
set -euo pipefail

usage() { echo "usage: $0 {frame|path|handshake|datagram|all} SECONDS" >&2; exit 2; }
[[ $# -eq 2 ]] || usage
target=$1
seconds=$2
[[ $seconds =~ ^[0-9]+$ ]] || usage
case $target in
    frame|path|handshake|datagram) targets=("$target") ;;
    all) targets=(frame path handshake datagram) ;;
    *) usage ;;
esac

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
sharpfuzz_version=2.3.0
tools=$here/.tools
out=$here/out
build=$out/build-$target

if ! command -v afl-fuzz >/dev/null; then
    apt-get update
    apt-get install -y afl++
fi
if [[ ! -x $tools/sharpfuzz ]]; then
    dotnet tool install SharpFuzz.CommandLine --version "$sharpfuzz_version" --tool-path "$tools"
fi

rm -rf "$build"
mkdir -p "$build"
nice -n 15 dotnet build "$here/Ferry.Fuzz/Ferry.Fuzz.csproj" -c Release -o "$build" -nologo -v quiet
# Only Ferry's own assemblies report coverage; the BCL and SharpFuzz itself are left as they are.
for assembly in Ferry.Protocol.dll Ferry.Server.dll; do
    "$tools/sharpfuzz" "$build/$assembly"
done

dictionary() {
    case $1 in
        path) echo "$here/dict/path.dict" ;;
        datagram) echo "$here/dict/datagram.dict" ;;
        *) echo "$here/dict/json.dict" ;;
    esac
}

# In a container: no CPU governor to check, cores may be piped elsewhere, and three instances share two cores.
export AFL_SKIP_BIN_CHECK=1 AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_NO_AFFINITY=1 AFL_NO_UI=1
export AFL_FORKSRV_INIT_TMOUT=60000
export DOTNET_CLI_TELEMETRY_OPTOUT=1

pids=()
for t in "${targets[@]}"; do
    if [[ -d $out/$t ]]; then
        mv "$out/$t" "$out/$t.$(date -u +%Y%m%dT%H%M%SZ)"
    fi
    echo "fuzzing $t for $seconds s: $out/$t (log $out/$t.log)"
    # The target is killed, not stopped, at the end: its temporary files (the path jail) go where this script removes them.
    mkdir -p "$out/$t.tmp"
    TMPDIR=$out/$t.tmp nice -n 19 afl-fuzz -i "$here/corpus/$t" -o "$out/$t" -x "$(dictionary "$t")" -t 2000 -V "$seconds" \
        -- dotnet "$build/Ferry.Fuzz.dll" "$t" >"$out/$t.log" 2>&1 &
    pids+=($!)
done

status=0
for pid in "${pids[@]}"; do
    wait "$pid" || status=$?
done
for t in "${targets[@]}"; do
    rm -rf "$out/$t.tmp"
done

for t in "${targets[@]}"; do
    stats=$out/$t/default/fuzzer_stats
    if [[ -f $stats ]]; then
        echo "== $t"
        grep -E '^(run_time|execs_done|execs_per_sec|corpus_count|bitmap_cvg|saved_crashes|saved_hangs) ' "$stats"
    else
        echo "== $t: no fuzzer_stats; see $out/$t.log" >&2
        status=1
    fi
done
exit $status

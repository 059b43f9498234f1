#!/usr/bin/env bash
# Runs the Ferry benchmarks (BenchmarkDotNet, Release build) and leaves the reports in
# bench/BenchmarkDotNet.Artifacts/results (*-report-github.md, *.csv, *.html).
#
#   bench/run.sh                          # everything, about 4-5 minutes on 2 cores (the chunker class adds ~1, estimated)
#   bench/run.sh --filter '*Decode*'      # one class (any BenchmarkDotNet argument passes through)
#   bench/run.sh --job short              # quicker and noisier
#   bench/run.sh --list flat              # list the benchmarks without running them
#
# The defaults below keep the whole run under ~10 minutes on a 2-core machine: one launch per benchmark,
# 6 warmup and 20 measured iterations of ~250 ms each. An option given on the command line replaces its default
# (and --job replaces all the count defaults). Only 127.0.0.1 is used (the echo benchmark's in-process server).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"

has() { # has OPTION... : true if any of the options is among the user's arguments
    local arg opt
    for arg in "${user_args[@]}"; do
        for opt in "$@"; do
            [[ "$arg" == "$opt" || "$arg" == "$opt="* ]] && return 0
        done
    done
    return 1
}

user_args=("$@")
defaults=()
has --filter -f || defaults+=(--filter '*')
if ! has --job -j; then
    has --launchCount || defaults+=(--launchCount 1)
    has --warmupCount || defaults+=(--warmupCount 6)
    has --iterationCount || defaults+=(--iterationCount 20)
    has --iterationTime || defaults+=(--iterationTime 250)
fi
has --artifacts -a || defaults+=(--artifacts "$repo/bench/BenchmarkDotNet.Artifacts")

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
set -x
exec dotnet run -c Release --project bench/Ferry.Benchmarks -- "${defaults[@]}" "${user_args[@]}"

#!/usr/bin/env bash
# Small-frame echo over loopback, 100 connections: a server on Ferry.Protocol's public framing API (written as
# samples/KeyValue's server is) against a DotNetty 0.7.6 server with LengthFieldBasedFrameDecoder and
# LengthFieldPrepender. Each server runs in its own process; the same raw-socket client drives both with the same
# bytes (Ferry: prefix = header length, then body; DotNetty: prefix = header + body length), one request in flight per
# connection. Prints, per run, requests/s and the server's allocated bytes per frame (GC.GetTotalAllocatedBytes).
#
#   bench/framing.sh                      # 3 runs of 10 s, 100 connections, 32-byte bodies
#   bench/framing.sh --runs 5 --seconds 20 --connections 200 --body 512
set -euo pipefail
cd "$(dirname "$0")/.."
export DOTNET_NOLOGO=1 DOTNET_CLI_TELEMETRY_OPTOUT=1
runs=3 seconds=10 connections=100 body=32
while [ $# -gt 0 ]; do
  case $1 in
    --runs) runs=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    --connections) connections=$2; shift 2 ;;
    --body) body=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
dotnet build -c Release bench/Ferry.FramingCompare -nologo -v quiet >/dev/null
echo "$(date -u '+%Y-%m-%d %H:%M:%S UTC'), load average $(cut -d' ' -f1-3 /proc/loadavg)"
for run in $(seq "$runs"); do
  echo "run $run of $runs"
  timeout $((seconds * 2 + 120)) dotnet bench/Ferry.FramingCompare/bin/Release/net10.0/Ferry.FramingCompare.dll run "$connections" "$seconds" "$body"
done

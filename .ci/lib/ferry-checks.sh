# Helpers for the scripts in .ci/checks (sourced, not run). Every server they start listens on 127.0.0.1 only.

# Prints a step before running it, so a failing check shows what it was doing.
step() {
  echo "+ $*"
  "$@"
}

# start_server DIR LOG FERRY... : starts "FERRY... serve --listen 127.0.0.1:0 --insecure-no-auth" in DIR, in the
# background and in its own process group, waits for its "Listening on" line and sets SERVER_PID and SERVER_ADDRESS.
start_server() {
  local dir=$1 log=$2
  shift 2
  echo "+ (in $dir) $* serve --listen 127.0.0.1:0 --insecure-no-auth"
  mkdir -p "$dir"
  (cd "$dir" && exec setsid "$@" serve --listen 127.0.0.1:0 --insecure-no-auth) >"$log" 2>&1 &
  SERVER_PID=$!
  local i
  for i in $(seq 300); do
    SERVER_ADDRESS=$(sed -n 's/.*Listening on \(127\.0\.0\.1:[0-9][0-9]*\).*/\1/p' "$log" | head -n 1)
    if [ -n "$SERVER_ADDRESS" ]; then
      echo "server (pid $SERVER_PID) listening on $SERVER_ADDRESS"
      return 0
    fi
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
      echo "the server exited before listening:"
      cat "$log"
      return 1
    fi
    sleep 0.1
  done
  echo "the server did not report listening within 30 s:"
  cat "$log"
  return 1
}

# Stops the server started by start_server (its whole process group), if it still runs.
stop_server() {
  if [ -n "${SERVER_PID:-}" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM -- "-$SERVER_PID" 2>/dev/null || true
    local i
    for i in $(seq 100); do
      kill -0 "$SERVER_PID" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL -- "-$SERVER_PID" 2>/dev/null || true
  fi
  SERVER_PID=
}

# put_get_roundtrip DIR FERRY... : uploads a file of random bytes to SERVER_ADDRESS, downloads it again and compares.
put_get_roundtrip() {
  local dir=$1
  shift
  mkdir -p "$dir"
  head -c 3000000 /dev/urandom >"$dir/sent.bin"
  step "$@" put --plain --server "$SERVER_ADDRESS" "$dir/sent.bin" sent.bin
  step "$@" get --plain --server "$SERVER_ADDRESS" sent.bin "$dir/received.bin"
  step cmp "$dir/sent.bin" "$dir/received.bin"
  echo "put/get: 3000000 bytes came back identical"
}

# The version the project builds (Directory.Build.props).
project_version() {
  sed -n 's:.*<Version>\(.*\)</Version>.*:\1:p' Directory.Build.props | head -n 1
}

# The native (AOT) publish links with clang against zlib: install them when missing.
need_native_toolchain() {
  local missing=()
  command -v clang >/dev/null 2>&1 || missing+=(clang)
  [ -e /usr/include/zlib.h ] || missing+=(zlib1g-dev)
  if [ ${#missing[@]} -gt 0 ]; then
    echo "+ apt-get install ${missing[*]}"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}") >/dev/null
  fi
}

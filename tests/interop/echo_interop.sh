#!/usr/bin/env bash
# The echo samples against the seed's Python originals (echo_server.py, echo_client.py here), both
# ways: the C# server with the Python client, then the Python server with the C# client. Each pair
# runs twice, with the seed's message and with one that needs Python's quoting rules. Every line
# both programs print is checked against the lines the Python originals print (with the peer's
# ephemeral port matched as a number). Skips (exit 0) when python3 is absent.
#
# Usage: tests/interop/echo_interop.sh      (from anywhere; builds the samples first)
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
if ! command -v python3 >/dev/null 2>&1; then
    echo "echo_interop: python3 not found, skipping"
    exit 0
fi

dotnet build "$root/samples/EchoServer" -nologo -v quiet >/dev/null
dotnet build "$root/samples/EchoClient" -nologo -v quiet >/dev/null
server_dll="$(dotnet msbuild "$root/samples/EchoServer" -getProperty:TargetPath)"
client_dll="$(dotnet msbuild "$root/samples/EchoClient" -getProperty:TargetPath)"

work="$(mktemp -d)"
server_pid=""
cleanup() {
    if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then
        kill -TERM "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Python's repr of a string, the reference for every quoted line.
py_repr() {
    python3 -c 'import sys; print(repr(sys.argv[1]))' "$1"
}

failures=0

# expect FILE LINE-REGEX...: FILE holds exactly these lines, in order.
expect() {
    local file="$1"
    shift
    local -a lines=()
    mapfile -t lines <"$file"
    if [[ ${#lines[@]} -ne $# ]]; then
        echo "  FAIL $(basename "$file"): expected $# lines, got ${#lines[@]}:"
        sed 's/^/    | /' "$file"
        failures=$((failures + 1))
        return
    fi
    local i=0
    for pattern in "$@"; do
        if [[ ! "${lines[$i]}" =~ ^${pattern}$ ]]; then
            echo "  FAIL $(basename "$file") line $((i + 1)): '${lines[$i]}' does not match '$pattern'"
            failures=$((failures + 1))
        fi
        i=$((i + 1))
    done
}

# Escapes a literal for use inside a bash regex.
literal() {
    printf '%s' "$1" | sed -e 's/[][\.*^$?+(){}|/]/\\&/g'
}

run_pair() {
    local label="$1" server_kind="$2" client_kind="$3" message="$4"
    local port
    port="$(free_port)"
    echo "== $label: message $(py_repr "$message"), port $port"
    : >"$work/server.out"
    if [[ "$server_kind" == csharp ]]; then
        dotnet "$server_dll" --port "$port" >"$work/server.out" 2>"$work/server.err" &
    else
        python3 -u "$here/echo_server.py" --port "$port" >"$work/server.out" 2>"$work/server.err" &
    fi
    server_pid=$!
    for _ in $(seq 300); do
        grep -q '^Serving on' "$work/server.out" && break
        kill -0 "$server_pid" 2>/dev/null || break
        sleep 0.1
    done

    if [[ "$client_kind" == csharp ]]; then
        timeout 60 dotnet "$client_dll" --port "$port" "$message" >"$work/client.out" 2>"$work/client.err" || echo "  client exit code $?"
    else
        timeout 60 python3 -u "$here/echo_client.py" --port "$port" "$message" >"$work/client.out" 2>"$work/client.err" || echo "  client exit code $?"
    fi

    # The server prints its last line after the client read the echo; wait for it, then stop the server.
    for _ in $(seq 300); do
        grep -q '^Close the client socket' "$work/server.out" && break
        sleep 0.1
    done
    kill -TERM "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    server_pid=""

    local quoted
    quoted="$(literal "$(py_repr "$message")")"
    expect "$work/server.out" \
        "$(literal "Serving on ('127.0.0.1', $port)")" \
        "Received $quoted from \('127\.0\.0\.1', [0-9]+\)" \
        "Send: $quoted" \
        "Close the client socket"
    expect "$work/client.out" \
        "Send: $quoted" \
        "Received: $quoted" \
        "Close the socket"
    sed 's/^/  server: /' "$work/server.out"
    sed 's/^/  client: /' "$work/client.out"
}

for message in 'Hello World!' "it's" "It's \"quoted\", tab	and é"; do
    run_pair "C# server, Python client" csharp python "$message"
    run_pair "Python server, C# client" python csharp "$message"
done

if [[ $failures -ne 0 ]]; then
    echo "echo_interop: $failures check(s) failed"
    exit 1
fi
echo "echo_interop: all checks passed"

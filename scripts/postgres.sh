#!/usr/bin/env bash
# A PostgreSQL server for release-train's tests and CI: the state backend `postgres://` that a
# team shares (Pulumi's DIY backend keeps every stack's checkpoint, history and locks in one
# table of it).
#
#   scripts/postgres.sh start    start the server (initdb first when needed); prints its URL
#   scripts/postgres.sh url      print the URL of the running server (exit 1 when stopped)
#   scripts/postgres.sh status   say whether it runs, and its URL (exit 3 when stopped)
#   scripts/postgres.sh stop     stop it (the data folder stays; `start` reuses it)
#
# Debian's PostgreSQL 15 (/usr/lib/postgresql/15/bin), installed with apt-get where missing.
# The cluster lives in ${RELEASE_TRAIN_PG_DIR:-/tmp/release-train-pg-<uid>}: data/ (initdb),
# run/ (the unix socket and server.log), and the role's password (mode 0600, the caller's). It
# listens on 127.0.0.1 only, on a port that was free when it started, with password
# (scram-sha-256) authentication; nothing else on the machine reaches it without the password.
# Started as root, the server runs as the unprivileged `postgres` user (created by Debian's
# package; the system user `release-train-pg` is created when there is none).
# `start` on a running server only prints the URL (a few milliseconds).
set -euo pipefail

PG_BIN="${RELEASE_TRAIN_PG_BIN:-/usr/lib/postgresql/15/bin}"
DIR="${RELEASE_TRAIN_PG_DIR:-${TMPDIR:-/tmp}/release-train-pg-$(id -u)}"
DB=release_train
ROLE=release_train

die() { printf 'postgres.sh: error: %s\n' "$*" >&2; exit 1; }
say() { printf '==> %s\n' "$*" >&2; }

usage() { sed -n '5,9s/^#   //p' "$0" >&2; exit 2; }

server_user() { # the user the server runs as
    if [ "$(id -u)" != 0 ]; then id -un; return; fi
    if [ -n "${RELEASE_TRAIN_PG_USER:-}" ]; then echo "$RELEASE_TRAIN_PG_USER"; return; fi
    if id -u postgres >/dev/null 2>&1; then echo postgres; return; fi
    if ! id -u release-train-pg >/dev/null 2>&1; then
        useradd --system --no-create-home --shell /usr/sbin/nologin release-train-pg ||
            die "could not create the system user release-train-pg"
    fi
    echo release-train-pg
}

as_server() { # run a command as the server's user
    if [ "$(id -u)" = 0 ] && [ "$PGUSER_OS" != root ]; then
        runuser -u "$PGUSER_OS" -- "$@"
    else
        "$@"
    fi
}

ensure_binaries() {
    [ -x "$PG_BIN/initdb" ] && [ -x "$PG_BIN/pg_ctl" ] && return 0
    [ "$(id -u)" = 0 ] || die "PostgreSQL 15 is not installed ($PG_BIN/initdb is missing);
  install Debian's package: sudo apt-get install -y postgresql-15"
    say "installing PostgreSQL 15 (Debian's postgresql-15)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2 || die "apt-get update failed"
    apt-get install -y -qq postgresql-15 >&2 || die "apt-get install postgresql-15 failed"
    [ -x "$PG_BIN/initdb" ] || die "postgresql-15 is installed but $PG_BIN/initdb is missing"
}

running() { # whether the cluster's postmaster is alive
    [ -f "$DIR/data/postmaster.pid" ] || return 1
    local pid
    pid="$(head -n1 "$DIR/data/postmaster.pid" 2>/dev/null)" || return 1
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null
}

url() {
    printf 'postgres://%s:%s@127.0.0.1:%s/%s?sslmode=disable\n' \
        "$ROLE" "$(cat "$DIR/password")" "$(cat "$DIR/port")" "$DB"
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

port_free() {
    python3 -c 'import socket, sys; s = socket.socket(); s.bind(("127.0.0.1", int(sys.argv[1])))' "$1" 2>/dev/null
}

sql() { # run SQL as the cluster's superuser, over the unix socket
    as_server "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$DIR/run" -p "$(cat "$DIR/port")" \
        -d postgres -c "$1" >/dev/null
}

init_cluster() {
    say "initdb in $DIR/data (server user: $PGUSER_OS)"
    rm -rf "$DIR/data" "$DIR/run"
    mkdir -p "$DIR/data" "$DIR/run"
    if [ ! -s "$DIR/password" ]; then
        (umask 077 && python3 -c 'import secrets; print(secrets.token_hex(16))' >"$DIR/password.tmp")
        mv "$DIR/password.tmp" "$DIR/password"
    fi
    if [ "$(id -u)" = 0 ]; then
        chown "$PGUSER_OS" "$DIR/data" "$DIR/run"
    fi
    chmod 700 "$DIR/data"
    as_server "$PG_BIN/initdb" -D "$DIR/data" --auth-local=peer --auth-host=scram-sha-256 \
        --encoding=UTF8 --locale=C.UTF-8 --no-instructions >"$DIR/initdb.log" 2>&1 ||
        { cat "$DIR/initdb.log" >&2; die "initdb failed (log above)"; }
    # Loopback only; small, as a test server can be.
    cat >>"$DIR/data/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
unix_socket_directories = '$DIR/run'
max_connections = 200
shared_buffers = 64MB
fsync = on
EOF
    touch "$DIR/.fresh"
}

start() {
    ensure_binaries
    mkdir -p "$DIR"
    chmod 711 "$DIR" # the server's user walks through to data/ and run/
    exec 9>"$DIR/.lock"
    flock 9 # one start at a time (parallel test sessions)
    if running && [ -s "$DIR/port" ]; then
        url
        return 0
    fi
    PGUSER_OS="$(server_user)"
    [ -f "$DIR/data/PG_VERSION" ] || init_cluster
    local port
    port="$(cat "$DIR/port" 2>/dev/null || true)"
    if [ -z "$port" ] || ! port_free "$port"; then
        port="$(free_port)"
        echo "$port" >"$DIR/port"
    fi
    rm -f "$DIR/data/postmaster.pid"
    as_server "$PG_BIN/pg_ctl" -D "$DIR/data" -l "$DIR/run/server.log" -o "-p $port" -w -t 60 start 9>&- \
        >/dev/null || { tail -n 20 "$DIR/run/server.log" >&2 || true; die "the server did not start (log: $DIR/run/server.log)"; }
    if [ -f "$DIR/.fresh" ]; then
        sql "CREATE ROLE $ROLE LOGIN PASSWORD '$(cat "$DIR/password")'"
        sql "CREATE DATABASE $DB OWNER $ROLE"
        rm -f "$DIR/.fresh"
    fi
    say "PostgreSQL $("$PG_BIN/postgres" --version | awk '{print $3}') on 127.0.0.1:$port, data in $DIR/data"
    url
}

stop() {
    [ -d "$DIR/data" ] || return 0
    running || { say "not running"; return 0; }
    PGUSER_OS="$(server_user)"
    as_server "$PG_BIN/pg_ctl" -D "$DIR/data" -m fast -w -t 60 stop >/dev/null
    say "stopped"
}

case "${1:-}" in
start) start ;;
stop) stop ;;
url)
    if ! running || [ ! -s "$DIR/port" ]; then
        die "not running; run: $0 start"
    fi
    url
    ;;
status)
    if running && [ -s "$DIR/port" ]; then
        echo "running (data in $DIR/data): $(url)"
    else
        echo "stopped (data folder: $DIR)"
        exit 3
    fi
    ;;
*) usage ;;
esac

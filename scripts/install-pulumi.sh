#!/usr/bin/env bash
# Installs the Pulumi engine release-train runs: the CLI, the Python language host, the
# dynamic-provider launcher and the `command` resource plugin.
#
#   scripts/install-pulumi.sh                  install (or reuse) and print where it is
#   scripts/install-pulumi.sh --print-bin-dir  print the bin directory to put on PATH; builds nothing
#
# Where the engine comes from, first match wins:
#   1. a `pulumi` already on PATH at a version at least the pinned Python SDK's (requirements.txt);
#   2. the official installer, when its download site answers (it does not on the project's
#      machines and CI, so it gets a short timeout);
#   3. a build from the Go module proxy with the tools module in tools/pulumi.
# Builds go to ${RELEASE_TRAIN_CACHE:-$HOME/.cache/release-train}/pulumi-<cli version>/bin, outside
# the clone, so every clone and CI run on the machine reuses them.
#
# Why the CLI is v3.274.1 while the Python SDK is 3.272.0: the CLI must be at least the SDK's
# version, and the Go module proxy serves github.com/pulumi/pulumi/pkg/v3 at v3.274.1 but not at
# v3.272.0 or v3.273.x. The proxy serves neither the Python language host's module nor the command
# provider's, so those two come from tools/pulumi (languagehost/, commandprovider/), built here.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="$ROOT/tools/pulumi"
CACHE="${RELEASE_TRAIN_CACHE:-$HOME/.cache/release-train}"

pinned() { # pinned PACKAGE -> the version requirements.txt pins it at
    sed -n "s/^$1==\([0-9][0-9.]*\).*/\1/p" "$ROOT/requirements.txt" | head -n1
}
SDK_VERSION="$(pinned pulumi)"
COMMAND_VERSION="$(pinned pulumi-command)"
CLI_VERSION="$(sed -n 's#^[[:space:]]*github.com/pulumi/pulumi/pkg/v3 v\([0-9.]*\).*#\1#p; s#^require github.com/pulumi/pulumi/pkg/v3 v\([0-9.]*\).*#\1#p' "$TOOLS/go.mod" | head -n1)"
BUILD_DIR="$CACHE/pulumi-$CLI_VERSION/bin"
OFFICIAL_DIR="$CACHE/pulumi-official-$SDK_VERSION/bin"

say() { printf '==> %s\n' "$*" >&2; }
die() { printf 'install-pulumi: error: %s\n' "$*" >&2; exit 1; }

[ -n "$SDK_VERSION" ] || die "requirements.txt pins no pulumi version"
[ -n "$COMMAND_VERSION" ] || die "requirements.txt pins no pulumi-command version"
[ -n "$CLI_VERSION" ] || die "tools/pulumi/go.mod requires no github.com/pulumi/pulumi/pkg/v3 version"

version_at_least() { # version_at_least HAVE WANT
    [ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n1)" = "$2" ]
}

# The fingerprint of what a build is made of: versions and the tools module's sources. A build
# whose stamp differs is redone (the CLI itself only when its version changed).
fingerprint() {
    {
        echo "cli=$CLI_VERSION command=$COMMAND_VERSION"
        (cd "$TOOLS" && find . -type f ! -name '*.swp' | LC_ALL=C sort | xargs sha256sum)
    } | sha256sum | cut -d' ' -f1
}

build_is_current() {
    [ -x "$BUILD_DIR/pulumi" ] && [ -f "$BUILD_DIR/.stamp" ] && [ "$(cat "$BUILD_DIR/.stamp")" = "$(fingerprint)" ]
}

# A pulumi on PATH that is not one of ours and is recent enough, or nothing.
usable_pulumi_on_path() {
    local exe have
    exe="$(command -v pulumi 2>/dev/null)" || return 1
    case "$exe" in "$CACHE"/*) return 1 ;; esac
    have="$("$exe" version 2>/dev/null | sed 's/^v//')" || return 1
    [ -n "$have" ] && version_at_least "$have" "$SDK_VERSION" || return 1
    printf '%s\n' "$exe"
}

bin_dir() {
    local exe
    if build_is_current; then
        echo "$BUILD_DIR"
    elif exe="$(usable_pulumi_on_path)"; then
        dirname "$exe"
    elif [ -x "$OFFICIAL_DIR/pulumi" ]; then
        echo "$OFFICIAL_DIR"
    else
        echo "$BUILD_DIR"
    fi
}

if [ "${1:-}" = "--print-bin-dir" ]; then
    bin_dir
    exit 0
fi
[ $# -eq 0 ] || die "unknown argument: $1 (usage: $0 [--print-bin-dir])"

# Registers the command plugin with the engine, so `pulumi plugin ls` lists it and stacks find it
# at the version the Python package asks for, without downloading anything.
register_command_plugin() {
    local bin="$1"
    [ -x "$bin/pulumi-resource-command" ] || return 0
    PULUMI_SKIP_UPDATE_CHECK=true "$bin/pulumi" plugin install resource command "$COMMAND_VERSION" \
        --file "$bin/pulumi-resource-command" >/dev/null 2>&1 ||
        die "could not register the command plugin with $bin/pulumi"
}

report() {
    local bin="$1"
    say "Pulumi $("$bin/pulumi" version) ready in $bin"
    echo "$bin"
}

if build_is_current; then
    register_command_plugin "$BUILD_DIR"
    report "$BUILD_DIR"
    exit 0
fi

if exe="$(usable_pulumi_on_path)"; then
    say "using $exe ($("$exe" version)), at least the Python SDK's $SDK_VERSION"
    dirname "$exe"
    exit 0
fi

if [ -x "$OFFICIAL_DIR/pulumi" ]; then
    report "$OFFICIAL_DIR"
    exit 0
fi

say "trying the official installer for Pulumi $SDK_VERSION"
if installer="$(curl -fsSL --connect-timeout 5 --max-time 20 https://get.pulumi.com 2>/dev/null)" &&
    sh -c "$installer" pulumi-installer --version "$SDK_VERSION" --install-root "$(dirname "$OFFICIAL_DIR")" \
        --no-edit-path >&2; then
    report "$OFFICIAL_DIR"
    exit 0
fi
say "the official installer cannot be reached; building from the Go module proxy instead"

GO="$(command -v go || true)"
[ -n "$GO" ] || { [ -x /usr/local/go/bin/go ] && GO=/usr/local/go/bin/go; }
[ -n "$GO" ] || die "Go is not installed, and the Pulumi CLI has to be built with it here.
  Install Go $(sed -n 's/^go \([0-9.]*\)$/\1/p' "$TOOLS/go.mod") or newer (https://go.dev/dl/, or Debian's golang-go
  package if recent enough) and run 'make pulumi' again."

export GOPROXY="${RELEASE_TRAIN_GOPROXY:-https://proxy.golang.org}"
# go.sum is committed and every download is checked against it (-mod=readonly fails on anything
# go.sum does not list); the checksum database itself is out of reach here.
export GOSUMDB=off
export GOFLAGS="-mod=readonly"

STAGE="$(mktemp -d "$CACHE/.pulumi-build.XXXXXX" 2>/dev/null || { mkdir -p "$CACHE" && mktemp -d "$CACHE/.pulumi-build.XXXXXX"; })"
trap 'rm -rf "$STAGE"' EXIT

# Runs a long command in the background and prints a line every 30 seconds while it works.
with_progress() {
    local label="$1" start pid rc=0
    shift
    start=$(date +%s)
    "$@" >"$STAGE/step.log" 2>&1 &
    pid=$!
    while kill -0 "$pid" 2>/dev/null; do
        sleep 5
        if kill -0 "$pid" 2>/dev/null && [ $(( ($(date +%s) - start) % 30 )) -lt 5 ]; then
            say "  ... $label, $(( $(date +%s) - start ))s"
        fi
    done
    wait "$pid" || rc=$?
    if [ "$rc" -ne 0 ]; then
        cat "$STAGE/step.log" >&2
        die "$label failed (exit $rc)"
    fi
    say "  $label: done in $(( $(date +%s) - start ))s"
}

cd "$TOOLS"
started=$(date +%s)
mkdir -p "$STAGE/bin"
say "[1/4] downloading modules ($("$GO" version | cut -d' ' -f3), proxy $GOPROXY)"
with_progress "module download" "$GO" mod download

if [ -x "$BUILD_DIR/pulumi" ] && [ "$("$BUILD_DIR/pulumi" version 2>/dev/null)" = "v$CLI_VERSION" ]; then
    say "[2/4] the pulumi CLI v$CLI_VERSION is already built; keeping it"
    cp "$BUILD_DIR/pulumi" "$STAGE/bin/pulumi"
else
    say "[2/4] building the pulumi CLI v$CLI_VERSION (a first build takes about 10 minutes on 2 cores)"
    with_progress "pulumi CLI build" env GOBIN="$STAGE/bin" "$GO" install \
        -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$CLI_VERSION" \
        github.com/pulumi/pulumi/pkg/v3/cmd/pulumi
fi

say "[3/4] building the Python language host and the command plugin $COMMAND_VERSION"
with_progress "language host build" "$GO" build -ldflags "-s -w -X main.version=$CLI_VERSION" \
    -o "$STAGE/bin/pulumi-language-python" ./languagehost
with_progress "command plugin build" "$GO" build -ldflags "-s -w -X main.version=$COMMAND_VERSION" \
    -o "$STAGE/bin/pulumi-resource-command" ./commandprovider

say "[4/4] adding the Python program runner and the dynamic-provider launcher"
SDK_DIR="$("$GO" list -m -f '{{.Dir}}' github.com/pulumi/pulumi/sdk/v3)"
install -m 0755 "$SDK_DIR/python/cmd/pulumi-language-python-exec" "$STAGE/bin/pulumi-language-python-exec"
install -m 0755 "$TOOLS/launcher/pulumi-resource-pulumi-python" "$STAGE/bin/pulumi-resource-pulumi-python"
fingerprint >"$STAGE/bin/.stamp"

mkdir -p "$(dirname "$BUILD_DIR")"
rm -rf "$BUILD_DIR.old"
[ -d "$BUILD_DIR" ] && mv "$BUILD_DIR" "$BUILD_DIR.old"
mv "$STAGE/bin" "$BUILD_DIR"
rm -rf "$BUILD_DIR.old"

register_command_plugin "$BUILD_DIR"
say "built in $(( $(date +%s) - started ))s"
report "$BUILD_DIR"

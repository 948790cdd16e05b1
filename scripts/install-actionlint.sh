#!/usr/bin/env bash
# Install actionlint, the linter the test suite runs on .github/workflows/release-train.yml,
# into the per-machine cache, outside the clone. It is built from source with
# `go install` through the Go module proxy (the PyPI wrapper would download a prebuilt
# binary from a host this machine cannot reach).
#
# actionlint checks the shell of every `run:` block with shellcheck, but only when it
# finds the shellcheck binary on PATH: without it, it skips those checks silently. So this
# script also makes sure shellcheck is there, from Debian's package (`apt-get install shellcheck`, as
# root), and fails with the command to run when it cannot install it.
#
#   scripts/install-actionlint.sh               install (quick no-op when already there)
#   scripts/install-actionlint.sh --print-path  print the path of the actionlint binary
set -euo pipefail

ACTIONLINT_VERSION="1.7.12"
MODULE="github.com/rhysd/actionlint/cmd/actionlint"
CACHE="${RELEASE_TRAIN_CACHE:-$HOME/.cache/release-train}"
DEST="$CACHE/actionlint-$ACTIONLINT_VERSION"
BINARY="$DEST/actionlint"

case "${1:-}" in
--print-path)
    echo "$BINARY"
    exit 0
    ;;
"") ;;
*)
    echo "usage: $0 [--print-path]" >&2
    exit 2
    ;;
esac

ensure_shellcheck() {
    if command -v shellcheck >/dev/null; then
        return 0
    fi
    if [[ "$(id -u)" -ne 0 ]]; then
        echo "error: shellcheck is not installed; actionlint needs it to check the workflow's" >&2
        echo "       run: blocks. Install Debian's package as root, then run 'make actionlint':" >&2
        echo "         sudo apt-get install -y shellcheck" >&2
        exit 1
    fi
    echo "installing shellcheck (Debian package) for actionlint" >&2
    if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q shellcheck >&2; then
        apt-get update -q >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q shellcheck >&2
    fi
    if ! command -v shellcheck >/dev/null; then
        echo "error: apt-get install shellcheck did not put shellcheck on PATH" >&2
        exit 1
    fi
}

ensure_shellcheck

if [[ -x "$BINARY" ]] && "$BINARY" -version 2>/dev/null | grep -q "$ACTIONLINT_VERSION"; then
    exit 0
fi

GO="$(command -v go || true)"
if [[ -z "$GO" && -x /usr/local/go/bin/go ]]; then
    GO=/usr/local/go/bin/go
fi
if [[ -z "$GO" ]]; then
    echo "error: go is not installed; it is needed to build actionlint $ACTIONLINT_VERSION." >&2
    echo "       Install Go (e.g. 'apt-get install golang-go'), then run 'make actionlint'." >&2
    exit 1
fi

# Build into a temporary directory next to the destination and move it into place at the
# end, so an interrupted build never leaves a half-written binary behind.
mkdir -p "$CACHE"
TMP="$(mktemp -d "$CACHE/.actionlint-install.XXXXXX")"
trap 'rm -rf "$TMP"' EXIT
echo "building actionlint $ACTIONLINT_VERSION into $DEST" >&2
# Outside any module, so the project's own files never influence the build; with the
# version spelled out so the module proxy pins exactly this release.
(cd "$TMP" && GOBIN="$TMP/bin" GOFLAGS=-mod=mod "$GO" install "$MODULE@v$ACTIONLINT_VERSION")
if [[ ! -x "$TMP/bin/actionlint" ]]; then
    echo "error: go install did not produce an actionlint binary" >&2
    exit 1
fi
"$TMP/bin/actionlint" -version >&2
rm -rf "$DEST"
mkdir -p "$DEST"
mv "$TMP/bin/actionlint" "$BINARY"
echo "$BINARY" >&2

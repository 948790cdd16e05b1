#!/usr/bin/env bash
# Install GitHub's published OpenAPI description (npm package @octokit/openapi) into the
# per-machine cache, outside the clone. The sandbox contract test validates every response
# the sandbox serves against it.
#
#   scripts/install-openapi.sh               install (quick no-op when already there)
#   scripts/install-openapi.sh --print-path  print the path of the api.github.com description
set -euo pipefail

OPENAPI_VERSION="23.0.2"
PACKAGE="@octokit/openapi"
CACHE="${RELEASE_TRAIN_CACHE:-$HOME/.cache/release-train}"
DEST="$CACHE/openapi/$OPENAPI_VERSION"
DESCRIPTION="$DEST/node_modules/@octokit/openapi/generated/api.github.com.json"

case "${1:-}" in
--print-path)
    echo "$DESCRIPTION"
    exit 0
    ;;
"") ;;
*)
    echo "usage: $0 [--print-path]" >&2
    exit 2
    ;;
esac

if [[ -s "$DESCRIPTION" ]]; then
    exit 0
fi

if ! command -v npm >/dev/null 2>&1; then
    echo "error: npm is not installed; it is needed to fetch $PACKAGE@$OPENAPI_VERSION." >&2
    echo "       Install Node.js and npm (e.g. 'apt-get install npm'), then run 'make openapi'." >&2
    exit 1
fi

# Install into a temporary directory next to the destination and move it into place at the
# end, so an interrupted install never leaves a half-written description behind.
mkdir -p "$CACHE/openapi"
TMP="$(mktemp -d "$CACHE/openapi/.install.XXXXXX")"
trap 'rm -rf "$TMP"' EXIT
echo "installing $PACKAGE@$OPENAPI_VERSION into $DEST" >&2
npm install --prefix "$TMP" --no-save --no-audit --no-fund --loglevel=error \
    "$PACKAGE@$OPENAPI_VERSION" >&2
if [[ ! -s "$TMP/node_modules/@octokit/openapi/generated/api.github.com.json" ]]; then
    echo "error: $PACKAGE@$OPENAPI_VERSION did not ship generated/api.github.com.json" >&2
    exit 1
fi
rm -rf "$DEST"
mv "$TMP" "$DEST"
trap - EXIT
echo "$DESCRIPTION" >&2

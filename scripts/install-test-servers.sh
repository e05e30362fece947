#!/usr/bin/env bash
# Install the test servers that do not come from PyPI: Azurite 3.35.0 (Azure Blob emulator)
# from npm, into a project-local folder (default .test-servers/, override with
# FELDERA_NB_TEST_SERVERS).  Idempotent: returns at once when that version is installed.
# Azurite >= 3.36 needs node >= 22; 3.35.0 runs on node 20.
# Without node/npm it warns and exits 0 (the Azure tests then skip), except under CI=true,
# where the Azure tests must run and a missing node is an error.
set -euo pipefail

VERSION=3.35.0
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
DEST="${FELDERA_NB_TEST_SERVERS:-$ROOT/.test-servers}"
PKG="$DEST/node_modules/azurite/package.json"

installed_version() {
    [ -f "$PKG" ] && sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' "$PKG" | head -n1
}

if [ "$(installed_version || true)" = "$VERSION" ]; then
    exit 0
fi

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    echo "install-test-servers: node/npm not found; Azure (Azurite) tests will be skipped" >&2
    if [ "${CI:-}" = "true" ]; then
        exit 1
    fi
    exit 0
fi

echo "install-test-servers: installing azurite@$VERSION into $DEST" >&2
mkdir -p "$DEST"
npm install --prefix "$DEST" --no-save --no-package-lock --no-audit --no-fund \
    --loglevel=error "azurite@$VERSION" >&2

if [ "$(installed_version || true)" != "$VERSION" ]; then
    echo "install-test-servers: azurite@$VERSION did not install" >&2
    exit 1
fi

#!/usr/bin/env bash
# Install what the notebook tests need (tests/notebook, tests/browser): Debian's chromium (never
# Playwright's own browser download, which is not reachable), the `notebook` and `test` extras
# (ipykernel, ipywidgets, nbval, jupyterlab, playwright) into the venv, and turn off
# JupyterLab's news pop-up so screenshots show only the notebook.
# Idempotent: every step is skipped when its result is already there.
# Without root (and without chromium) it warns and exits 0 (the browser test then skips),
# except under CI=true, where the browser test must run and a missing chromium is an error.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BIN="${VENV_BIN:-$ROOT/.venv/bin}"

if ! command -v chromium >/dev/null 2>&1; then
    if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
        echo "install-browser-test: installing chromium (Debian)" >&2
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq >&2
        apt-get install -y -qq --no-install-recommends chromium >&2
    else
        echo "install-browser-test: chromium not found and cannot apt-get it; the browser" \
             "test will be skipped" >&2
        if [ "${CI:-}" = "true" ]; then
            exit 1
        fi
    fi
fi

# The extras pin the versions (pyproject.toml); pip returns quickly when they are installed.
if ! "$BIN/python" -c "import ipykernel, ipywidgets, nbval, jupyterlab, playwright" 2>/dev/null
then
    echo "install-browser-test: installing the notebook and test extras" >&2
    "$BIN/pip" install -q -e "$ROOT[notebook,test]" >&2
fi

# `labextension disable` writes the venv's etc/jupyter/labconfig/page_config.json.
PAGE_CONFIG="$("$BIN/python" -c 'import sys; print(sys.prefix)')/etc/jupyter/labconfig/page_config.json"
if ! grep -q "apputils-extension:announcements" "$PAGE_CONFIG" 2>/dev/null; then
    "$BIN/jupyter" labextension disable "@jupyterlab/apputils-extension:announcements" >&2
fi

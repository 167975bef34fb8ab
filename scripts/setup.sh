#!/usr/bin/env bash
# Prepares everything alexnet-tui needs to build and run, once; later calls return in a moment.
#
#  1. libtorch: a Python virtual environment with torch==2.9.0 (the version tch 0.22 expects),
#     kept outside the clone in ~/.cache/alexnet-tui/torch-2.9.0 and reused by every build.
#     Set LIBTORCH=/path/to/libtorch (or ALEXNET_TORCH_VENV=/path/to/venv) to use your own instead.
#  2. Fashion-MNIST: Debian's dataset-fashion-mnist package when apt-get can install it. The program
#     never requires it: it also looks in its cache and can download the files itself.
#
# Then it links what it found into .torch/ in the clone (git-ignored): .torch/libtorch and
# .torch/venv, which .cargo/config.toml hands to cargo, so plain `cargo build` works too.
set -euo pipefail

TORCH_VERSION=2.9.0
CACHE_DIR="${XDG_CACHE_HOME:-$HOME/.cache}/alexnet-tui"
VENV="${ALEXNET_TORCH_VENV:-$CACHE_DIR/torch-$TORCH_VERSION}"

log() { printf 'setup: %s\n' "$*" >&2; }

find_python() {
    for candidate in python3 python3.12 python3.11 python3.10 python; do
        if command -v "$candidate" >/dev/null 2>&1; then
            echo "$candidate"
            return 0
        fi
    done
    return 1
}

venv_has_torch() {
    [ -x "$VENV/bin/python3" ] &&
        [ "$("$VENV/bin/python3" -c 'import torch; print(torch.__version__.split("+")[0])' 2>/dev/null)" = "$TORCH_VERSION" ]
}

setup_torch() {
    if [ -n "${LIBTORCH:-}" ]; then
        if [ ! -d "$LIBTORCH/lib" ]; then
            log "LIBTORCH=$LIBTORCH has no lib/ folder; point it at an unpacked libtorch $TORCH_VERSION."
            exit 1
        fi
        log "using libtorch from LIBTORCH=$LIBTORCH"
        return 0
    fi
    if venv_has_torch; then
        return 0
    fi
    local python
    if ! python=$(find_python); then
        log "no python3 found: install Python 3 (apt-get install python3 python3-venv) and run again."
        exit 1
    fi
    log "first-time setup: a Python environment with torch==$TORCH_VERSION in $VENV"
    log "(a one-time download of about 3.5 GB, a few minutes; then a first build of about 6 minutes."
    log " Later runs reuse both and start in seconds.)"
    mkdir -p "$(dirname "$VENV")"
    local staging="$VENV.partial"
    rm -rf "$staging"
    if ! "$python" -m venv "$staging" 2>/dev/null; then
        # Debian ships the venv module separately; install it where we may.
        if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
            log "installing python3-venv"
            { apt-get install -y -q python3-venv >/dev/null 2>&1 ||
                { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q python3-venv >/dev/null 2>&1; }; } || true
        fi
        rm -rf "$staging"
        if ! "$python" -m venv "$staging"; then
            log "'$python -m venv' failed: install the venv module (apt-get install python3-venv) and run again."
            exit 1
        fi
    fi
    "$staging/bin/python3" -m pip install --quiet --disable-pip-version-check --upgrade pip >&2
    # Not --quiet: pip's own progress (a bar on a terminal, a line per file elsewhere) is the only
    # sign of life during the download.
    "$staging/bin/python3" -m pip install --disable-pip-version-check --progress-bar on \
        "torch==$TORCH_VERSION" numpy safetensors >&2
    # A venv records its own path in its scripts; move it into place only once it is complete, so
    # an interrupted install never leaves an environment that looks usable.
    rm -rf "$VENV"
    mv "$staging" "$VENV"
    # Only the activate and pip scripts name the folder; everything here runs bin/python3 directly.
    sed -i "s#$staging#$VENV#g" "$VENV/bin/activate" "$VENV"/bin/pip* 2>/dev/null || true
    if ! venv_has_torch; then
        log "torch $TORCH_VERSION did not import from $VENV; remove that folder and run again."
        exit 1
    fi
}

setup_data() {
    [ -f /usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz ] && return 0
    [ "$(id -u)" = 0 ] || command -v sudo >/dev/null 2>&1 || return 0
    command -v apt-get >/dev/null 2>&1 || return 0
    local sudo=""
    [ "$(id -u)" = 0 ] || sudo="sudo -n"
    log "installing Debian's dataset-fashion-mnist (optional: the program can also download the data)"
    if ! { $sudo apt-get install -y -q dataset-fashion-mnist >/dev/null 2>&1 ||
        { $sudo apt-get update -q >/dev/null 2>&1 &&
            $sudo apt-get install -y -q dataset-fashion-mnist >/dev/null 2>&1; }; }; then
        log "could not install dataset-fashion-mnist; the program will look in its cache or download instead"
    fi
}

# Links the libtorch and the Python in use into .torch/ of this clone, for .cargo/config.toml:
# .torch/libtorch (torch's folder: include/ and lib/) and .torch/venv (bin/python3 imports torch).
link_torch() {
    local repo links
    repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
    links="$repo/.torch"
    mkdir -p "$links"
    if [ -n "${LIBTORCH:-}" ]; then
        ln -sfn "$LIBTORCH" "$links/libtorch"
        # No environment of ours: the tests and `bench --pytorch` use python3 from PATH.
        rm -rf "$links/venv"
        mkdir -p "$links/venv/bin"
        ln -sfn "$(command -v python3 || echo /usr/bin/python3)" "$links/venv/bin/python3"
    else
        ln -sfn "$("$VENV/bin/python3" -c 'import os, torch; print(os.path.dirname(torch.__file__))')" "$links/libtorch"
        # The environment's folder, not its python3: a venv's Python finds its packages through
        # the path it is started by.
        rm -rf "$links/venv"
        ln -sfn "$VENV" "$links/venv"
    fi
}

setup_torch
setup_data
link_torch

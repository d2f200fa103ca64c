#!/usr/bin/env bash
# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
#
# Set up the development environment of blastnet_ros; `make demo` and `make test` run it.
# Idempotent, and a second run takes seconds: each step runs only when its inputs changed.
#   1. Python >= 3.10 is there.
#   2. .venv exists.
#   3. pip install -r requirements.txt   (when requirements.txt changed: stamp in .venv)
#   4. pip install -e . (no deps)         (when setup.py/setup.cfg changed: .venv/bin/blastnet)
#   5. colcon build into build/ install/  (when a source, config or launch file changed):
#      install/blastnet_ros/lib/blastnet_ros/{camera_input,audio_input,executor,blastnet}
# Environment: PYTHON (interpreter that makes the venv, default python3),
#   BLASTNET_TORCH_INDEX (extra pip index for the CPU build of torch; '' = none).
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO_ROOT"

VENV="$REPO_ROOT/.venv"
VENV_PYTHON="$VENV/bin/python"
REQUIREMENTS_STAMP="$VENV/.blastnet_requirements.sha256"
EDITABLE_STAMP="$VENV/.blastnet_editable.sha256"
BUILD_STAMP="$REPO_ROOT/install/.blastnet_build_stamp"
BUILD_LOG="$REPO_ROOT/log/blastnet_colcon_build.log"
TORCH_CPU_INDEX="${BLASTNET_TORCH_INDEX-https://download.pytorch.org/whl/cpu}"

say() { echo "[setup] $*"; }
die() { echo "[setup] error: $*" >&2; exit 1; }
now_s() { date +%s.%N; }
since() { awk -v start="$1" -v end="$(now_s)" 'BEGIN { printf "%.1f s", end - start }'; }

# pip prints one 'WARNING: Location ... is ignored' per package a configured local index
# lacks; they say nothing about our install.
quiet_pip() {
    "$VENV_PYTHON" -m pip "$@" 2>&1 | { grep -v -E '^WARNING: Location .* is ignored' || true; }
}

checksum() { cat "$@" | sha256sum | cut -d' ' -f1; }

# 1. Python ------------------------------------------------------------------------------
PYTHON="${PYTHON:-python3}"
if ! command -v "$PYTHON" > /dev/null 2>&1; then
    die "$PYTHON not found. Install Python >= 3.10 with venv (Debian/Ubuntu:" \
        "sudo apt-get install python3 python3-venv) or set PYTHON=/path/to/python3.10+."
fi
if ! "$PYTHON" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)'; then
    die "$("$PYTHON" --version 2>&1) is too old: blastnet_ros needs Python >= 3.10." \
        "Install a newer one (Ubuntu 22.04+ / Debian 12 ship it: sudo apt-get install" \
        "python3 python3-venv; elsewhere pyenv or deadsnakes) and run again, or set" \
        "PYTHON=/path/to/python3.10+."
fi

# 2. venv --------------------------------------------------------------------------------
if [ ! -x "$VENV_PYTHON" ]; then
    say "creating .venv with $("$PYTHON" --version 2>&1)"
    if ! "$PYTHON" -m venv "$VENV"; then
        rm -rf "$VENV"
        die "could not create .venv: install the venv module (Debian/Ubuntu:" \
            "sudo apt-get install python3-venv) and run again."
    fi
    # colcon must not crawl into the venv (ROS wheels put package.xml files under share/).
    touch "$VENV/COLCON_IGNORE"
else
    "$VENV_PYTHON" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)' \
        || die ".venv has $("$VENV_PYTHON" --version 2>&1), older than 3.10: rm -rf .venv" \
               "and run again with PYTHON=/path/to/python3.10+."
    touch "$VENV/COLCON_IGNORE"
    say "venv ready (cached)"
fi

# 3. requirements ------------------------------------------------------------------------
requirements_sum="$(checksum requirements.txt)-$("$VENV_PYTHON" -c 'import sys; print(sys.version_info[:2])')"
if [ ! -f "$REQUIREMENTS_STAMP" ] || [ "$(cat "$REQUIREMENTS_STAMP")" != "$requirements_sum" ]; then
    say "installing requirements.txt into .venv (first time: a few minutes)"
    start="$(now_s)"
    rm -f "$REQUIREMENTS_STAMP"
    pip_index_args=()
    # The CPU build of torch: from the PyTorch index where it can be reached (PyPI's
    # torch 2.13.0 on Linux x86_64 brings several GB of CUDA libraries). Not needed where
    # torch 2.13.0 is installed already or a local wheel is configured for pip.
    if [ -n "$TORCH_CPU_INDEX" ] \
        && ! "$VENV_PYTHON" -c 'import importlib.metadata as m, sys
sys.exit(0 if m.version("torch").startswith("2.13.0") else 1)' > /dev/null 2>&1 \
        && "$VENV_PYTHON" - "$TORCH_CPU_INDEX" <<'EOF'
import socket
import sys
from urllib.parse import urlparse

socket.setdefaulttimeout(5)
try:
    socket.getaddrinfo(urlparse(sys.argv[1]).hostname, 443)
except OSError:
    sys.exit(1)
EOF
    then
        pip_index_args=(--extra-index-url "$TORCH_CPU_INDEX")
    fi
    quiet_pip install --disable-pip-version-check --quiet \
        ${pip_index_args[@]+"${pip_index_args[@]}"} \
        -r requirements.txt || die "pip install -r requirements.txt failed (see above)"
    echo "$requirements_sum" > "$REQUIREMENTS_STAMP"
    say "requirements installed ($(since "$start"))"
else
    say "requirements ready (cached)"
fi

# 4. editable install: .venv/bin/blastnet and `import blastnet_ros` from the source tree ---
editable_sum="$(checksum setup.py setup.cfg)"
if [ ! -x "$VENV/bin/blastnet" ] || [ ! -f "$EDITABLE_STAMP" ] \
        || [ "$(cat "$EDITABLE_STAMP")" != "$editable_sum" ]; then
    start="$(now_s)"
    rm -f "$EDITABLE_STAMP"
    if ! editable_output="$(quiet_pip install --disable-pip-version-check --quiet --no-deps \
            --no-build-isolation -e .)"; then
        echo "$editable_output" >&2
        die "pip install -e . failed (see above)"
    fi
    echo "$editable_sum" > "$EDITABLE_STAMP"
    say "editable install of blastnet_ros done ($(since "$start"))"
else
    say "editable install ready (cached)"
fi

# 5. colcon build ------------------------------------------------------------------------
executables=(camera_input audio_input executor blastnet)
needs_build=""
for executable in "${executables[@]}"; do
    [ -x "install/blastnet_ros/lib/blastnet_ros/$executable" ] || needs_build="missing $executable"
done
if [ -z "$needs_build" ] && [ ! -f "$BUILD_STAMP" ]; then
    needs_build="no build stamp"
fi
if [ -z "$needs_build" ]; then
    # A changed file, or a folder whose entries changed (a file added or removed).
    newer="$(find package.xml setup.py setup.cfg resource blastnet_ros launch config \
        -name __pycache__ -prune -o -newer "$BUILD_STAMP" ! -name '*.pyc' -print -quit \
        2>/dev/null || true)"
    [ -n "$newer" ] && needs_build="$newer changed"
fi
if [ -n "$needs_build" ]; then
    say "colcon build ($needs_build)"
    start="$(now_s)"
    mkdir -p "$(dirname "$BUILD_LOG")" install
    touch "$BUILD_STAMP.new"   # files changed while colcon runs trigger the next build
    if ! "$VENV/bin/colcon" build --paths . --build-base build --install-base install \
            --event-handlers console_direct+ > "$BUILD_LOG" 2>&1; then
        tail -n 40 "$BUILD_LOG" >&2
        die "colcon build failed; the whole output is in ${BUILD_LOG#"$REPO_ROOT"/}"
    fi
    for executable in "${executables[@]}"; do
        [ -x "install/blastnet_ros/lib/blastnet_ros/$executable" ] \
            || die "colcon build installed no lib/blastnet_ros/$executable (see $BUILD_LOG)"
    done
    mv "$BUILD_STAMP.new" "$BUILD_STAMP"
    say "colcon build done ($(since "$start"))"
else
    say "colcon build ready (cached)"
fi

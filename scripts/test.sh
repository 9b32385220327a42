#!/usr/bin/env bash
# Run lavad's tests: install what they need, then pytest (arguments go to pytest).
#
# lavad is installed into ./.venv as a "compat" editable install: the source
# tree is used directly and twistd still finds twisted/plugins/lavad_plugin.py
# (pip's default PEP 660 editable install hides it from twistd).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! python3 -c 'import venv, ensurepip' 2>/dev/null; then
    if [ "$(id -u)" -eq 0 ]; then
        apt-get update
        DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends python3-venv
    else
        echo "test.sh: python3 cannot create virtual environments;" \
             "install python3-venv (sudo apt-get install python3-venv) and run again." >&2
        exit 1
    fi
fi

# System packages the end-to-end tests need (lava-dispatcher, sshd, LAVA's templates, ngircd).
if [ "$(id -u)" -eq 0 ]; then
    ./scripts/ci-system-deps.sh
fi

if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
.venv/bin/pip install --quiet -e '.[test]' --config-settings editable_mode=compat

exec .venv/bin/python -m pytest -q "$@"

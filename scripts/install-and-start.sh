#!/usr/bin/env bash
# Install lavad on a Debian 12 machine and start it in the foreground.
#
# Installs the system packages it needs (with sudo unless run as root), creates
# ./.venv, installs lavad into it (a regular install, so twistd finds the lavad
# plugin), then runs `twistd -n lavad` with its data in ./lavad-data.  Extra
# arguments go to lavad, e.g. `--http tcp:8080 --config lavad.yml`.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=
if [ "$(id -u)" -ne 0 ]; then
    SUDO=sudo
fi

packages=(python3 python3-venv python3-pip git)
case "$(uname -m)" in
    x86_64 | aarch64) ;;  # pyzmq, cryptography and cffi come as wheels
    *) packages+=(build-essential python3-dev libzmq3-dev libffi-dev libssl-dev) ;;
esac
missing=()
for package in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$package")
    fi
done
if [ "${#missing[@]}" -gt 0 ]; then
    $SUDO apt-get update
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
fi

if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
.venv/bin/pip install --quiet .

mkdir -p lavad-data
exec .venv/bin/twistd -n --pidfile lavad-data/twistd.pid lavad --data-dir ./lavad-data "$@"

#!/bin/bash
# Installs the Debian packages lavad's end-to-end tests need, and nothing else:
#   - lava-dispatcher 2023.01 (the real lava-worker and lava-run) with openssh-server and
#     openssh-client: the e2e test runs real `ssh` jobs against a private sshd on loopback;
#   - ngircd: the IRC server the notification tests deliver through;
#   - chromium: the headless browser the live event page (/events/) is tested in;
#   - LAVA's device-type templates, unpacked (not installed) from the lava-server package into
#     /opt/lava-server-templates/usr/share/lava-server/device-types.
# Idempotent: a second run installs nothing and downloads nothing. Run as root (CI runs as root).
#   usage: scripts/ci-system-deps.sh        (LAVAD_TEMPLATES_ROOT overrides /opt/lava-server-templates)
set -euo pipefail

TEMPLATES_ROOT=${LAVAD_TEMPLATES_ROOT:-/opt/lava-server-templates}
TEMPLATES_DIR=$TEMPLATES_ROOT/usr/share/lava-server/device-types
PACKAGES=(lava-dispatcher openssh-server openssh-client ngircd chromium)

if [ "$(id -u)" != 0 ]; then
    echo "ci-system-deps.sh: run as root (apt-get and dpkg need it)" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive

missing=()
for pkg in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" \
        || missing+=("$pkg")
done
updated=no
if [ ${#missing[@]} -gt 0 ] || [ ! -f "$TEMPLATES_DIR/ssh.jinja2" ]; then
    apt-get update -q
    updated=yes
fi
if [ ${#missing[@]} -gt 0 ]; then
    # No recommends: lava-dispatcher's hard dependencies alone are ~600 MB; the recommends
    # (lxc, nfs, tftpd...) are not needed for ssh jobs.
    apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

if [ ! -f "$TEMPLATES_DIR/ssh.jinja2" ]; then
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
    # _apt cannot write into a private mktemp dir: let apt download as root.
    (cd "$work" && apt-get download -q -o APT::Sandbox::User=root lava-server)
    rm -rf "$TEMPLATES_ROOT.partial"
    dpkg -x "$work"/lava-server_*.deb "$TEMPLATES_ROOT.partial"
    test -f "$TEMPLATES_ROOT.partial/usr/share/lava-server/device-types/ssh.jinja2"
    rm -rf "$TEMPLATES_ROOT"
    mv "$TEMPLATES_ROOT.partial" "$TEMPLATES_ROOT"
fi

# sshd refuses to start without its privilege separation directory (/run is a tmpfs).
mkdir -p /run/sshd

echo "ci-system-deps: lava-worker $(dpkg-query -W -f='${Version}' lava-dispatcher)," \
     "$(ls "$TEMPLATES_DIR" | wc -l) device-type templates in $TEMPLATES_DIR" \
     "(apt-get update: $updated)"

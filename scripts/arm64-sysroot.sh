#!/usr/bin/env bash
# Builds a Debian arm64 sysroot (python3, nodejs and the libraries they load)
# for load checks of the aarch64 artifacts under qemu-user, without touching
# the host's apt state: apt runs with its own lists, cache and an empty dpkg
# status in DIR, the packages are unpacked with `dpkg -x` (no maintainer scripts).
# Usage: scripts/arm64-sysroot.sh DIR   (DIR/root is the sysroot; done once)
set -euo pipefail
DIR=$(realpath -m "$1")
[ -f "$DIR/.done" ] && exit 0
rm -rf "$DIR" && mkdir -p "$DIR"/{state/lists/partial,cache/archives/partial,root}
: > "$DIR/status"
apt_arm64() {
  apt-get -qq -o APT::Architecture=arm64 -o APT::Architectures::=arm64 \
    -o Dir::State="$DIR/state" -o Dir::State::status="$DIR/status" -o Dir::Cache="$DIR/cache" \
    -o APT::Sandbox::User=root -o APT::Install-Recommends=false "$@"
}
apt_arm64 update
apt_arm64 install --download-only -y python3.11-minimal libpython3.11-stdlib nodejs >/dev/null
for deb in "$DIR"/cache/archives/*.deb; do dpkg -x "$deb" "$DIR/root"; done
rm -rf "$DIR/cache" "$DIR/state"
touch "$DIR/.done"

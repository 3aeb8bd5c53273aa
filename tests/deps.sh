#!/usr/bin/env bash
# Install what the build and the tests need, when missing. Idempotent and
# silent when everything is there.
#
# Usage: tests/deps.sh [--build-only | --build-check]
#   --build-only   only the C build deps (for make and make demo)
#   --build-check  only list the missing C build deps and fail, never
#                  install (for pip install, which should not run apt-get)
#
# As root, missing Debian packages are installed with apt-get; as another
# user, the missing ones are listed with the command to install them.
# Then (not with --build-only) a venv at build/venv, made from Debian's
# /usr/bin/python3 (its sqlite3 can load extensions; a pyenv python may
# not), gets tests/requirements.txt.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV=$ROOT/build/venv
REQS=$ROOT/tests/requirements.txt

BUILD_PKGS=(build-essential pkg-config libsqlite3-dev sqlite3 librdkafka-dev
  libcjson-dev
  libavro-dev libcurl4-openssl-dev  # the Schema Registry formats
  libprotobuf-dev libprotoc-dev     # ext/codec/protobuf.cc
  libmsgpack-dev)                   # value = 'msgpack'
TEST_PKGS=(kcat time openjdk-17-jre-headless maven unzip python3 python3-venv valgrind openssl
  protobuf-compiler  # tests/test_protobuf*.py: protoc makes test messages and Python classes
  clang libclang-rt-14-dev
  chromium chromium-driver  # headless, with Selenium, for the Datasette tests only
  python3-setuptools python3-wheel)  # tests/test_package.py: pip install --no-build-isolation

missing_pkgs() {
  local p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
      echo "$p"
  done
}

# apt-get update, bounded (a mirror that stops answering would hang CI) and
# tried APT_UPDATE_TRIES times, APT_UPDATE_SECONDS each.
apt_update() {
  local try tries=${APT_UPDATE_TRIES:-3} seconds=${APT_UPDATE_SECONDS:-300}
  for ((try = 1; try <= tries; try++)); do
    timeout "$seconds" apt-get update -qq -o Acquire::Retries=3 </dev/null >/dev/null && return 0
    echo "deps.sh: apt-get update failed or took over ${seconds}s (try $try of $tries)" >&2
    [ "$try" -lt "$tries" ] && sleep "$try"
  done
  echo "deps.sh: apt-get update did not succeed in $tries tries" >&2
  return 1
}

# CHECK_ONLY=1: list what is missing, never install.
install_pkgs() {
  local missing
  mapfile -t missing < <(missing_pkgs "$@")
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" -ne 0 ] || [ "${CHECK_ONLY:-0}" = 1 ]; then
    echo "deps.sh: missing Debian packages: ${missing[*]}" >&2
    echo "deps.sh: install them with: sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
  echo "deps.sh: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt_update
  apt-get install -y -qq --no-install-recommends "${missing[@]}" \
    </dev/null >/dev/null
}

# pip runs only when requirements.txt changed since the last install, so a
# repeated run is fast and needs no network.
setup_venv() {
  if [ ! -x "$VENV/bin/python" ]; then
    /usr/bin/python3 -m venv "$VENV"
  fi
  local stamp=$VENV/.requirements.sha256 want
  want=$(sha256sum "$REQS" | cut -d' ' -f1)
  [ "$(cat "$stamp" 2>/dev/null)" = "$want" ] && return 0
  echo "deps.sh: installing $(basename "$REQS") into $VENV" >&2
  "$VENV/bin/pip" install -q --disable-pip-version-check -r "$REQS" </dev/null
  echo "$want" >"$stamp"
}

main() {
  case ${1:-} in
    --build-only) install_pkgs "${BUILD_PKGS[@]}" ;;
    --build-check) CHECK_ONLY=1 install_pkgs "${BUILD_PKGS[@]}" ;;
    "") install_pkgs "${BUILD_PKGS[@]}" "${TEST_PKGS[@]}"
        setup_venv ;;
    *) echo "usage: tests/deps.sh [--build-only | --build-check]" >&2; exit 2 ;;
  esac
}

main "$@"

#!/usr/bin/env bash
# What the test suite needs on a Debian machine, beyond Python: the PostgreSQL server, the
# Mosquitto broker and its command-line clients, kcat, a Java runtime and Maven, Chromium for
# the console's browser tests (Playwright drives Debian's, never a downloaded one), Node.js and
# npm to build the console's page if missing, then the Apache Kafka jars (scripts/fetch-kafka.sh). Run it as root (CI does: .ci/run); it is
# idempotent, and fast once everything is there. The tests start their own servers from these
# binaries, on free loopback ports: nothing is started or enabled here.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

packages=(postgresql mosquitto mosquitto-clients kcat chromium)
command -v npm >/dev/null || packages+=(nodejs npm)
command -v java >/dev/null || packages+=(default-jre-headless)
command -v mvn >/dev/null || packages+=(maven)

missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" \
    || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "install-test-deps: needs root to install ${missing[*]}: sudo $0" >&2
    exit 1
  fi
  echo "install-test-deps: apt-get install ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # A package's own service must not start: the tests run their own servers.
  policy=/usr/sbin/policy-rc.d
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' > "$policy" && chmod +x "$policy"
    trap 'rm -f "$policy"' EXIT
  fi
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
scripts/fetch-kafka.sh >/dev/null
echo "install-test-deps: PostgreSQL, Mosquitto, kcat, Chromium, Java and Apache Kafka are ready"

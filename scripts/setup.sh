#!/usr/bin/env bash
# Brings a machine to what Goutong needs; idempotent and quick when nothing is missing.
#   scripts/setup.sh start  pnpm 12.4.2 and the workspace's dependencies (enough to run the server)
#   scripts/setup.sh test   also the Debian packages of the end-to-end tests (Chromium, CJK fonts, the
#                           real protocol peers), and a running PostgreSQL (trust on 127.0.0.1, database
#                           `test`) and Redis on 127.0.0.1, installed with apt when the machine has none.
# `npm start` / `npm test` (package.json) call it, so a fresh Debian machine with only Node 20 needs no
# other step.
set -euo pipefail
cd "$(dirname "$0")/.."
export npm_config_nodedir=/usr DEBIAN_FRONTEND=noninteractive
mode="${1:-test}"
case "$mode" in start|test) ;; *) echo "usage: scripts/setup.sh start|test" >&2; exit 2 ;; esac
if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi

apt_install() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "setup: installing ${missing[*]}"
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# Native addons (better-sqlite3) compile from source against Node's headers (npm_config_nodedir).
if ! command -v make >/dev/null || ! command -v g++ >/dev/null || ! command -v python3 >/dev/null; then
  apt_install build-essential python3
fi

if [ "$mode" = test ]; then
  # Chromium and CJK fonts for browser tests and screenshots; the real protocol peers.
  PEERS=(dovecot-imapd dovecot-lmtpd postfix kannel kannel-extras kamailio kamailio-websocket-modules kamailio-utils-modules kamailio-json-modules sip-tester rtpengine-daemon espeak-ng sox pocketsphinx pocketsphinx-en-us)
  had_peers=1
  for p in "${PEERS[@]}"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || had_peers=0; done
  apt_install chromium fonts-noto-cjk xvfb "${PEERS[@]}"
  if [ "$had_peers" -eq 0 ]; then
    # The tests start the peers themselves, on loopback; keep the system daemons out of the way.
    for svc in dovecot postfix kannel kamailio rtpengine-daemon; do $SUDO service "$svc" stop >/dev/null 2>&1 || true; done
  fi
  # PostgreSQL (the PostgreSQL path's tests) and Redis (scale-out).
  if ! command -v pg_ctlcluster >/dev/null && ! pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then apt_install postgresql; fi
  if ! command -v redis-server >/dev/null; then apt_install redis-server; fi
fi

# pnpm, exactly 12.4.2 (newer releases fail against this registry).
if [ "$(pnpm --version 2>/dev/null || true)" != "12.4.2" ]; then
  $SUDO npm install -g pnpm@12.4.2 >/dev/null
fi
pnpm install --frozen-lockfile --reporter=silent

if [ "$mode" = test ]; then
  if ! pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null && command -v pg_ctlcluster >/dev/null; then
    ver="$(ls /etc/postgresql | sort -n | tail -1)"
    hba="/etc/postgresql/$ver/main/pg_hba.conf"
    # The tests connect as postgres without a password, on loopback only.
    if ! grep -qE '^host\s+all\s+all\s+127\.0\.0\.1/32\s+trust' "$hba"; then
      $SUDO sed -i '1i host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust' "$hba"
    fi
    $SUDO pg_ctlcluster --skip-systemctl-redirect "$ver" main start || true
    for _ in $(seq 1 30); do pg_isready -h 127.0.0.1 -p 5432 -q && break; sleep 1; done
  fi
  if pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then
    psql -h 127.0.0.1 -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname = 'test'" postgres 2>/dev/null | grep -q 1 \
      || psql -h 127.0.0.1 -U postgres -qc 'CREATE DATABASE test' postgres >/dev/null 2>&1 || true
  fi
  if command -v redis-cli >/dev/null && ! redis-cli -h 127.0.0.1 ping >/dev/null 2>&1; then
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no >/dev/null || true
  fi
fi
echo "setup ($mode): done"

#!/usr/bin/env bash
# One-time set-up of a fresh machine (idempotent; .ci/run calls it too):
# system packages for the end-to-end tests, pnpm 12.4.2, the workspace's dependencies, and the
# local PostgreSQL/Redis the tests talk to.
set -euo pipefail
cd "$(dirname "$0")/.."
export npm_config_nodedir=/usr DEBIAN_FRONTEND=noninteractive

# Debian packages: Chromium and CJK fonts for browser tests and screenshots; real protocol peers.
APT_PACKAGES=(chromium fonts-noto-cjk xvfb dovecot-imapd dovecot-lmtpd postfix kannel kannel-extras kamailio kamailio-websocket-modules sip-tester)
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi
  echo "setup: installing ${missing[*]}"
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # The peers are started by the tests themselves, on loopback; keep the system daemons out of the way.
  for svc in dovecot postfix kannel kamailio; do $SUDO service "$svc" stop >/dev/null 2>&1 || true; done
fi

# pnpm, exactly 12.4.2 (newer releases fail against this registry).
if [ "$(pnpm --version 2>/dev/null || true)" != "12.4.2" ]; then
  npm install -g pnpm@12.4.2 >/dev/null
fi
pnpm install --frozen-lockfile

# The machine's PostgreSQL and Redis (the tests of the PostgreSQL and scale-out paths need them).
if ! pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then
  if command -v pg_ctlcluster >/dev/null; then
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start || true
  fi
fi
if command -v redis-cli >/dev/null && ! redis-cli -h 127.0.0.1 ping >/dev/null 2>&1; then
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no >/dev/null || true
fi
echo "setup: done"

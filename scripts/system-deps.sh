#!/usr/bin/env bash
# What the test suite needs besides Node.js and npm, checked before `npm test` (pretest) and
# installed by CI (.ci/run):
#   - nats-server (Debian package nats-server): the NATS tests start servers of their own;
#   - Chromium (Debian packages chromium and chromium-driver): the browser test; never a download;
#   - a RabbitMQ >= 3.9 at HERALD_AMQP_URL (default amqp://guest:guest@127.0.0.1:5672): the AMQP
#     tests use it and never stop it.
#
#   scripts/system-deps.sh check     say what is missing and how to get it; exit 1 if anything is
#   scripts/system-deps.sh install   apt-get install the missing Debian packages (root), then check
set -euo pipefail

mode="${1:-check}"

nats_server_found() {
  [ -n "${NATS_SERVER_BIN:-}" ] && [ -x "$NATS_SERVER_BIN" ] && return 0
  command -v nats-server >/dev/null 2>&1 && return 0
  [ -x /usr/sbin/nats-server ] || [ -x /usr/local/bin/nats-server ]
}

# The Debian packages that are missing, one per line.
missing_packages() {
  nats_server_found || echo nats-server
  [ -x /usr/bin/chromium ] || echo chromium
  [ -x /usr/bin/chromedriver ] || echo chromium-driver
}

# host:port of HERALD_AMQP_URL.
amqp_address() {
  node -e '
    const url = new URL(process.env.HERALD_AMQP_URL || "amqp://guest:guest@127.0.0.1:5672");
    console.log(`${url.hostname}:${url.port || (url.protocol === "amqps:" ? 5671 : 5672)}`);
  '
}

rabbitmq_answers() {
  local address host port
  address="$(amqp_address)"
  host="${address%:*}"
  port="${address##*:}"
  timeout 3 bash -c "exec 3<>/dev/tcp/$host/$port" 2>/dev/null
}

if [ "$mode" = install ]; then
  mapfile -t packages < <(missing_packages)
  if [ ${#packages[@]} -gt 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${packages[@]}"
  fi
elif [ "$mode" != check ]; then
  echo "usage: $0 [check|install]" >&2
  exit 64
fi

problems=0
mapfile -t packages < <(missing_packages)
if [ ${#packages[@]} -gt 0 ]; then
  echo "npm test needs the Debian packages: ${packages[*]}" >&2
  echo "  install them:  sudo scripts/system-deps.sh install   (apt-get install ${packages[*]})" >&2
  echo "  or put nats-server on PATH / set NATS_SERVER_BIN; Chromium must be /usr/bin/chromium" >&2
  problems=1
fi
if ! rabbitmq_answers; then
  echo "npm test needs a RabbitMQ >= 3.9 at $(amqp_address) (HERALD_AMQP_URL), and nothing answers there:" >&2
  echo "  sudo apt-get install rabbitmq-server   (Debian; the service starts with it, user guest/guest)" >&2
  echo "  or: docker run -d -p 5672:5672 rabbitmq:3.13   or set HERALD_AMQP_URL to a broker you run" >&2
  problems=1
fi
exit "$problems"

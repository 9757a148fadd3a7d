# Sourced by scripts/test, scripts/demo and scripts/bench: the pinned moto
# server (the AWS emulator) in a git-ignored venv, installed when missing,
# and started on a free loopback port for as long as the calling script runs.

MOTO_VERSION=5.2.5

moto_install() {
  if ! .venv/bin/python -c "import moto, sys; sys.exit(moto.__version__ != '$MOTO_VERSION')" 2>/dev/null; then
    echo "installing moto $MOTO_VERSION into .venv (once)…" >&2
    python3 -m venv .venv
    .venv/bin/pip install --quiet "moto[server]==$MOTO_VERSION"
  fi
}

# Sets MOTO_URL and MOTO_PID; the server stops when the calling shell exits.
moto_start() {
  moto_install
  local port
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  # Every ECS service reports two running tasks (moto starts none); the
  # test harness starts its server the same way.
  MOTO_ECS_SERVICE_RUNNING=2 .venv/bin/moto_server -H 127.0.0.1 -p "$port" >"${MOTO_LOG:-/dev/null}" 2>&1 &
  MOTO_PID=$!
  trap 'kill "$MOTO_PID" 2>/dev/null || true' EXIT
  MOTO_URL=http://127.0.0.1:$port
  .venv/bin/python - "$MOTO_URL" <<'PY'
import sys, time, urllib.request
for _ in range(300):
    try:
        urllib.request.urlopen(sys.argv[1] + "/moto-api/", timeout=1)
        sys.exit(0)
    except OSError:
        time.sleep(0.1)
sys.exit("moto did not start within 30 s")
PY
}

# The environment that points the AWS SDK (litops's and boto3's) at moto.
moto_env() {
  export AWS_ENDPOINT_URL=$MOTO_URL AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test
  export AWS_REGION=${AWS_REGION:-eu-west-1} AWS_MAX_ATTEMPTS=1
  export AWS_DEFAULT_REGION=$AWS_REGION  # boto3 reads this one
  unset AWS_PROFILE AWS_SESSION_TOKEN
}

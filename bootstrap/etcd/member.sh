#!/bin/bash
# Bootstrap one etcd member (Debian's etcd-server) with TLS for clients and peers.
# Rendered by stdlib/kengine/bootstrap/etcd.lua with kengine.template and run by an
# ssh_script as root on the member; its output goes to <state dir>/logs/<address>.log.
#
# Idempotent: a member that already has data and runs with the same certificates and flags is
# only checked; otherwise etcd is (re)started. A member without data joins the cluster:
#   - if one of the other members ($ETCD_PEERS, client URLs, space-separated) answers, it runs
#     `etcdctl member add` (unless it is already listed, unstarted) and starts with
#     --initial-cluster-state existing and the members' list;
#   - if none answers, it starts a new cluster of itself (the others join it one by one:
#     kengine runs the members in order, each after the previous one is healthy).
# A stale entry for this address (a member re-created without its data) is removed first.
# Docs: https://etcd.io/docs/v3.4/op-guide/runtime-configuration/ (member add, then start)
#       https://etcd.io/docs/v3.4/op-guide/security/ (--client-cert-auth, --peer-client-cert-auth)
set -euo pipefail

NAME="{{ name }}"
ADDRESS="{{ address }}"
DATA_DIR="{{ data_dir }}"
HEALTH_TIMEOUT="{{ health_timeout }}"
CLUSTER_TOKEN="{{ cluster_token }}"
PEERS=${ETCD_PEERS:-}

PKI=/etc/kengine/etcd
LOG=/var/log/kengine/etcd.log
PIDFILE=$PKI/etcd.pid
CONFIG_SUM=$PKI/config.sha256
CLIENT_URL="https://$ADDRESS:2379"
PEER_URL="https://$ADDRESS:2380"

log() { echo "[etcd $NAME] $*"; }

ctl() {
  ETCDCTL_API=3 etcdctl --cacert "$PKI/ca.pem" --cert "$PKI/client.pem" --key "$PKI/client-key.pem" \
    --dial-timeout 2s --command-timeout 15s "$@"
}

# The pid of this member's etcd if it runs.
etcd_pid() {
  local pid
  pid=$(cat "$PIDFILE" 2>/dev/null) || return 1
  [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = etcd ] && echo "$pid"
}

stop_etcd() {
  local pid i
  pid=$(etcd_pid) || return 0
  log "stopping etcd (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  for i in $(seq 1 100); do
    [ -d "/proc/$pid" ] || break
    sleep 0.1
    if [ "$i" = 100 ]; then kill -KILL "$pid" 2>/dev/null || true; fi
  done
  rm -f "$PIDFILE"
}

# The first of the other members whose client endpoint is healthy.
healthy_peer() {
  local url hostport
  for url in $PEERS; do
    hostport=${url#https://}
    # A closed port or a missing machine is skipped at once, without etcdctl's timeouts.
    timeout 2 bash -c "exec 3<>/dev/tcp/${hostport%:*}/${hostport##*:}" 2>/dev/null || continue
    if ctl --endpoints "$url" --command-timeout 5s endpoint health >/dev/null 2>&1; then
      echo "$url"
      return 0
    fi
  done
  return 1
}

# What the running etcd depends on: certificates and flags.
config_sum() {
  cat "$PKI/ca.pem" "$PKI/server.pem" "$PKI/server-key.pem" "$PKI/peer.pem" "$PKI/peer-key.pem" | sha256sum | cut -d' ' -f1
  echo "$NAME $ADDRESS $DATA_DIR $CLUSTER_TOKEN"
}

start_etcd() {
  local state=$1 initial=$2
  log "starting etcd: --initial-cluster-state $state --initial-cluster $initial"
  mkdir -p "$DATA_DIR" /var/log/kengine
  chmod 700 "$DATA_DIR"
  # setsid: its own session, so it outlives this SSH command; all descriptors redirected.
  setsid nohup /usr/bin/etcd \
    --name "$NAME" --data-dir "$DATA_DIR" \
    --listen-client-urls "$CLIENT_URL,https://127.0.0.1:2379" --advertise-client-urls "$CLIENT_URL" \
    --listen-peer-urls "$PEER_URL" --initial-advertise-peer-urls "$PEER_URL" \
    --initial-cluster "$initial" --initial-cluster-state "$state" --initial-cluster-token "$CLUSTER_TOKEN" \
    --client-cert-auth --trusted-ca-file "$PKI/ca.pem" \
    --cert-file "$PKI/server.pem" --key-file "$PKI/server-key.pem" \
    --peer-client-cert-auth --peer-trusted-ca-file "$PKI/ca.pem" \
    --peer-cert-file "$PKI/peer.pem" --peer-key-file "$PKI/peer-key.pem" \
    >>"$LOG" 2>&1 </dev/null &
  echo $! >"$PIDFILE"
  config_sum >"$CONFIG_SUM"
}

wait_healthy() {
  local deadline=$((SECONDS + HEALTH_TIMEOUT)) pid
  while true; do
    if ctl --endpoints "$CLIENT_URL" endpoint health >/dev/null 2>&1; then
      log "healthy at $CLIENT_URL"
      return 0
    fi
    if ! pid=$(etcd_pid); then
      echo "etcd $NAME exited; last lines of $LOG:" >&2
      tail -n 20 "$LOG" >&2 || true
      return 1
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      echo "etcd $NAME (pid $pid) is not healthy after $HEALTH_TIMEOUT s; last lines of $LOG:" >&2
      tail -n 20 "$LOG" >&2 || true
      return 1
    fi
    sleep 0.5
  done
}

# ---- an initialised member: restart only when something changed ------------------------------
if [ -d "$DATA_DIR/member" ]; then
  if etcd_pid >/dev/null && [ "$(config_sum)" = "$(cat "$CONFIG_SUM" 2>/dev/null)" ]; then
    log "already running with this configuration"
  else
    stop_etcd
    start_etcd existing "$NAME=$PEER_URL"
  fi
  wait_healthy
  exit 0
fi

# ---- a new member ----------------------------------------------------------------------------
stop_etcd
if ! peer=$(healthy_peer); then
  log "no other member answers: starting a new cluster"
  start_etcd new "$NAME=$PEER_URL"
  wait_healthy
  exit 0
fi

log "joining the cluster through $peer"
# "<id>, <status>, <name>, <peer urls>, <client urls>, <is learner>" (etcdctl -w simple)
members=$(ctl --endpoints "$peer" member list -w simple)
entry=$(awk -F', ' -v u="$PEER_URL" '$4 == u { print $1 " " $2 }' <<<"$members")
if [ -n "$entry" ] && [ "${entry#* }" = started ]; then
  log "removing the stale member ${entry%% *} of this address (its data is gone)"
  ctl --endpoints "$peer" member remove "${entry%% *}"
  entry=""
fi
if [ -z "$entry" ]; then
  # etcd refuses to add a voting member until the leader has been connected to every member
  # for 5 s ("unhealthy cluster", --strict-reconfig-check): retry for a while.
  deadline=$((SECONDS + HEALTH_TIMEOUT))
  until added=$(ctl --endpoints "$peer" member add "$NAME" --peer-urls="$PEER_URL" 2>&1); do
    if [ "$SECONDS" -ge "$deadline" ]; then
      echo "etcdctl member add $NAME failed: $added" >&2
      exit 1
    fi
    log "member add: ${added##*Error: }; retrying"
    sleep 2
  done
  echo "$added"
  initial=$(sed -n 's/^ETCD_INITIAL_CLUSTER="\(.*\)"$/\1/p' <<<"$added")
else
  # Added by an earlier attempt that did not start: the list comes from the members.
  initial=$(awk -F', ' -v n="$NAME" -v u="$PEER_URL" \
    '{ name = ($4 == u) ? n : $3; printf "%s%s=%s", sep, name, $4; sep = "," }' <<<"$members")
fi
if [ -z "$initial" ]; then
  echo "cannot determine the initial cluster of $NAME from: $added" >&2
  exit 1
fi
start_etcd existing "$initial"
wait_healthy

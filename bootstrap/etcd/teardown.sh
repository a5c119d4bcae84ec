#!/bin/bash
# Remove one etcd member from its cluster, then stop it (run by the member's ssh_script when
# it is deleted: scale down or destroy, before the machine goes). Rendered by
# stdlib/kengine/bootstrap/etcd.lua with kengine.template.
# The removal goes through the other members (`etcdctl member remove <id>`,
# https://etcd.io/docs/v3.4/op-guide/runtime-configuration/#remove-a-member); the last member
# of a cluster is only stopped. The data folder is emptied, so a later member of this name
# joins afresh.
set -uo pipefail

NAME="{{ name }}"
ADDRESS="{{ address }}"
DATA_DIR="{{ data_dir }}"
PEERS=${ETCD_PEERS:-}

PKI=/etc/kengine/etcd
PIDFILE=$PKI/etcd.pid
CLIENT_URL="https://$ADDRESS:2379"
PEER_URL="https://$ADDRESS:2380"

log() { echo "[etcd $NAME] $*"; }

ctl() {
  ETCDCTL_API=3 etcdctl --cacert "$PKI/ca.pem" --cert "$PKI/client.pem" --key "$PKI/client-key.pem" \
    --dial-timeout 2s --command-timeout 15s "$@"
}

# The member list, from this member or else from any other that answers.
members=""
for url in "$CLIENT_URL" $PEERS; do
  hostport=${url#https://}
  # A closed port or a missing machine is skipped at once, without etcdctl's timeouts.
  timeout 2 bash -c "exec 3<>/dev/tcp/${hostport%:*}/${hostport##*:}" 2>/dev/null || continue
  if members=$(ctl --endpoints "$url" --command-timeout 5s member list -w simple 2>/dev/null) && [ -n "$members" ]; then break; fi
  members=""
done

if [ -n "$members" ]; then
  id=$(awk -F', ' -v u="$PEER_URL" '$4 == u { print $1 }' <<<"$members")
  others=$(awk -F', ' -v u="$PEER_URL" '$4 != u && $5 != "" { printf "%s%s", sep, $5; sep = "," }' <<<"$members")
  if [ -n "$id" ] && [ -n "$others" ]; then
    log "removing member $id through $others"
    removed=false
    for _ in 1 2 3 4 5; do
      if ctl --endpoints "$others" member remove "$id"; then removed=true; break; fi
      sleep 2
    done
    if [ "$removed" != true ]; then
      echo "cannot remove etcd member $NAME ($id) from the cluster" >&2
      exit 1
    fi
  elif [ -n "$id" ]; then
    log "last member of the cluster: nothing to remove it from"
  fi
else
  log "no member answers: nothing to remove"
fi

if pid=$(cat "$PIDFILE" 2>/dev/null) && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = etcd ]; then
  log "stopping etcd (pid $pid)"
  kill -TERM "$pid"
  for _ in $(seq 1 100); do
    [ -d "/proc/$pid" ] || break
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
fi
rm -f "$PIDFILE" "$PKI/config.sha256"
rm -rf "${DATA_DIR:?}/member"

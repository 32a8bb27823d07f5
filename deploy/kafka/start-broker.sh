#!/bin/bash
# The secured broker of deploy/docker-compose.yml (docs/security.md, item 6): renders broker.properties
# beside this script, formats the storage the first time with the SCRAM-SHA-512 users (the release
# principal `admin` and one per service), and runs the broker in the foreground.
#
#   KAFKA_ADMIN_PASSWORD, KAFKA_CRM_PASSWORD, KAFKA_EOMS_BRIDGE_PASSWORD, KAFKA_SLA_PASSWORD,
#   KAFKA_NOTIFY_PASSWORD, KAFKA_STATS_PASSWORD   required; letters, digits, '-', '_', '.', at least 16 characters
#   KAFKA_HOME              the Kafka distribution (/opt/kafka in the apache/kafka image)
#   KAFKA_DATA_DIR, KAFKA_PORT, KAFKA_CONTROLLER_PORT, KAFKA_INTERNAL_PORT, KAFKA_LISTEN_HOST,
#   KAFKA_ADVERTISED_HOST   where it listens (defaults: the compose network's kafka:9092)
#
# A user added or a password changed after the first start is applied with kafka-configs.sh as admin
# (docs/operations.md, "Kafka credentials"); the format step only runs on an empty data directory.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
home="${KAFKA_HOME:-/opt/kafka}"
data="${KAFKA_DATA_DIR:-/var/lib/kafka/data}"
declare -A vars=(
  [PORT]="${KAFKA_PORT:-9092}" [CONTROLLER_PORT]="${KAFKA_CONTROLLER_PORT:-9093}"
  [INTERNAL_PORT]="${KAFKA_INTERNAL_PORT:-9094}" [LISTEN_HOST]="${KAFKA_LISTEN_HOST:-}"
  [ADVERTISED_HOST]="${KAFKA_ADVERTISED_HOST:-kafka}" [DATA_DIR]="$data"
)
declare -A users=(
  [admin]="${KAFKA_ADMIN_PASSWORD:-}" [crm]="${KAFKA_CRM_PASSWORD:-}" [eoms-bridge]="${KAFKA_EOMS_BRIDGE_PASSWORD:-}"
  [sla]="${KAFKA_SLA_PASSWORD:-}" [notify]="${KAFKA_NOTIFY_PASSWORD:-}" [stats]="${KAFKA_STATS_PASSWORD:-}"
)
scram=()
for user in "${!users[@]}"; do
  password="${users[$user]}"
  if [[ ! "$password" =~ ^[A-Za-z0-9._-]{16,}$ ]]; then
    echo "start-broker: the password of Kafka user $user is unset or not 16+ of [A-Za-z0-9._-]" >&2
    exit 2
  fi
  scram+=(--add-scram "SCRAM-SHA-512=[name=$user,password=$password]")
done
props="${KAFKA_PROPERTIES:-/tmp/groupsuite-broker.properties}"
: > "$props"
while IFS= read -r line || [[ -n "$line" ]]; do
  for name in "${!vars[@]}"; do line="${line//\$\{$name\}/${vars[$name]}}"; done
  printf '%s\n' "$line" >> "$props"
done < "$here/broker.properties"
mkdir -p "$data"
if [[ ! -f "$data/meta.properties" ]]; then
  "$home/bin/kafka-storage.sh" format --ignore-formatted -t "$("$home/bin/kafka-storage.sh" random-uuid)" \
    -c "$props" "${scram[@]}"
fi
exec "$home/bin/kafka-server-start.sh" "$props"

#!/usr/bin/env bash
# The official postgres image's entrypoint, reduced to what the platform uses: as root, own PGDATA and drop
# to `postgres`; on an empty PGDATA, initdb with POSTGRES_USER / POSTGRES_PASSWORD (scram-sha-256 over TCP,
# trust on the local socket) and create POSTGRES_DB; then exec the command (`postgres ...`).
set -Eeuo pipefail

export PGDATA="${PGDATA:-/var/lib/postgresql/data}" PGPORT="${PGPORT:-5432}"
if [[ "${1:-}" == -* ]]; then
  set -- postgres "$@"
fi

if [[ "${1:-}" == postgres && "$(id -u)" == 0 ]]; then
  mkdir -p "$PGDATA" /var/run/postgresql
  chown -R postgres:postgres "$PGDATA" /var/run/postgresql
  chmod 700 "$PGDATA"
  exec setpriv --reuid=postgres --regid=postgres --init-groups "${BASH_SOURCE[0]}" "$@"
fi

if [[ "${1:-}" == postgres && ! -s "$PGDATA/PG_VERSION" ]]; then
  if [[ -z "${POSTGRES_PASSWORD:-}" ]]; then
    echo "postgres: POSTGRES_PASSWORD is required to initialise an empty database" >&2
    exit 1
  fi
  user="${POSTGRES_USER:-postgres}"
  database="${POSTGRES_DB:-$user}"
  password_file="$(mktemp)"
  printf '%s' "$POSTGRES_PASSWORD" >"$password_file"
  initdb --username="$user" --pwfile="$password_file" --auth-local=trust --auth-host=scram-sha-256 \
    --encoding=UTF8 --locale=C.UTF-8 >/dev/null
  rm -f "$password_file"
  if [[ "$database" != postgres ]]; then
    # On the socket alone while the database is made: nothing reaches a half-initialised cluster.
    pg_ctl --pgdata="$PGDATA" --wait --silent -o "-c listen_addresses='' -p $PGPORT" start
    createdb --username="$user" --port="$PGPORT" --host=/var/run/postgresql "$database"
    pg_ctl --pgdata="$PGDATA" --wait --silent --mode=fast stop
  fi
  echo "postgres: initialised $PGDATA (user $user, database $database)"
fi

exec "$@"

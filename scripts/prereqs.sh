#!/usr/bin/env bash
# Installs what a fresh machine needs to build and test airbyte-rs (idempotent, quick when done):
# ccache (DuckDB's C++ is compiled once per machine) and a running PostgreSQL on 127.0.0.1:5432.
set -euo pipefail
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
apt_updated=0
apt_install() {
  [ "$apt_updated" = 1 ] || { $SUDO apt-get update -qq >/dev/null; apt_updated=1; }
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$@" >/dev/null
}
command -v ccache >/dev/null 2>&1 || { echo "prereqs: installing ccache" >&2; apt_install ccache; }
command -v python3 >/dev/null 2>&1 || { echo "prereqs: installing python3" >&2; apt_install python3 python3-venv python3-pip; }

# PostgreSQL: the Postgres cache's tests use the local server (user postgres, trust auth).
if command -v pg_isready >/dev/null 2>&1 && pg_isready -q -h 127.0.0.1 -p 5432; then
  :
else
  if ! ls /etc/postgresql/*/main >/dev/null 2>&1; then
    echo "prereqs: installing postgresql" >&2
    apt_install postgresql
    v=$(ls /etc/postgresql | sort -V | tail -1)
    sed -i 's/^\(host\|local\).*/# &/' "/etc/postgresql/$v/main/pg_hba.conf"
    printf 'local all all trust\nhost all all 127.0.0.1/32 trust\nhost all all ::1/128 trust\n' \
      >>"/etc/postgresql/$v/main/pg_hba.conf"
  fi
  v=$(ls /etc/postgresql | sort -V | tail -1)
  $SUDO pg_ctlcluster --skip-systemctl-redirect "$v" main start 2>/dev/null || true
  for _ in $(seq 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
  psql -h 127.0.0.1 -U postgres -tAc "select 1 from pg_database where datname='test'" 2>/dev/null | grep -q 1 \
    || psql -h 127.0.0.1 -U postgres -c "create database test" >/dev/null 2>&1 || true
fi

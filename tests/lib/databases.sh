# Shared by tests/run.sh and bench/run.sh: install, start and prepare MariaDB and
# PostgreSQL on a Debian machine (root or sudo). Sourced, not run.
#
# A server counts as running when it answers on its TCP port (127.0.0.1), never because
# a process of that name exists: a process seen from another PID namespace or container
# may be a server this machine cannot reach. Set-up talks to each server as its
# administrator over the local socket: `mariadb -uroot` through sudo (Debian's
# unix_socket authentication admits the OS root only) and `psql` as the OS user
# `postgres`.
#
#   SQLCOURIER_TEST_DB          the test database's name (default sqlcourier_test)
#   SQLCOURIER_TEST_MYSQL_PORT  MariaDB's TCP port (default 3306)
#   SQLCOURIER_TEST_PG_PORT     PostgreSQL's TCP port (default 5432)
#
# Another port lets a second machine root that shares this host's network (a chroot,
# a container without its own network) start its own servers next to the host's.
# shellcheck shell=bash

log() { printf '\n== %s\n' "$*"; }
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
as_postgres() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else sudo -u postgres "$@"; fi; }

apt_updated=0
apt_install() {
  if [ "$apt_updated" -eq 0 ]; then
    as_root apt-get update -qq
    apt_updated=1
  fi
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# The test database's name; set SQLCOURIER_TEST_DB to give a parallel run of the suite
# (another worktree, another developer on the same machine) its own database.
TEST_DB=${SQLCOURIER_TEST_DB:-sqlcourier_test}
case "$TEST_DB" in *[!a-z0-9_]*|"") echo "SQLCOURIER_TEST_DB: lower-case letters, digits and _ only" >&2; return 1 ;; esac
MYSQL_PORT=${SQLCOURIER_TEST_MYSQL_PORT:-3306}
PG_PORT=${SQLCOURIER_TEST_PG_PORT:-5432}
case "$MYSQL_PORT$PG_PORT" in *[!0-9]*) echo "SQLCOURIER_TEST_MYSQL_PORT / SQLCOURIER_TEST_PG_PORT: digits only" >&2; return 1 ;; esac

# ---------------------------------------------------------------- MariaDB
# `ping` exits 0 whenever a server answers, even when it refuses the (absent) login.
mariadb_answers() {
  mariadb-admin --protocol=tcp -h 127.0.0.1 -P "$MYSQL_PORT" --connect-timeout=2 ping >/dev/null 2>&1
}

start_mariadb() {
  if ! command -v mariadbd >/dev/null 2>&1 && [ ! -x /usr/sbin/mariadbd ]; then
    log "installing MariaDB"
    apt_install mariadb-server mariadb-client
  fi
  if mariadb_answers; then
    return 0
  fi
  log "starting MariaDB on 127.0.0.1:$MYSQL_PORT"
  as_root install -d -o mysql -g mysql /run/mysqld
  as_root start-stop-daemon --start --background --chuid mysql \
    --exec /usr/sbin/mariadbd -- --port="$MYSQL_PORT" --bind-address=127.0.0.1
  for _ in $(seq 1 60); do
    mariadb_answers && return 0
    sleep 0.5
  done
  echo "MariaDB did not start on 127.0.0.1:$MYSQL_PORT (see /var/log/mysql/ or journalctl)" >&2
  return 1
}

setup_mariadb() {
  # root over the socket, as the OS root: an empty password here, unix_socket auth on a
  # fresh install. The tests use their own users over TCP.
  as_root mariadb --protocol=socket -uroot <<SQL
CREATE DATABASE IF NOT EXISTS $TEST_DB;
CREATE USER IF NOT EXISTS 'sqlcourier_admin'@'127.0.0.1' IDENTIFIED BY 'sqlcourier_admin';
CREATE USER IF NOT EXISTS 'sqlcourier_admin'@'localhost' IDENTIFIED BY 'sqlcourier_admin';
GRANT ALL ON $TEST_DB.* TO 'sqlcourier_admin'@'127.0.0.1';
GRANT ALL ON $TEST_DB.* TO 'sqlcourier_admin'@'localhost';
-- tests/it/shadowing.rs: stored functions that shadow built-ins, in a database of their own
CREATE DATABASE IF NOT EXISTS ${TEST_DB}_shadow;
GRANT ALL ON ${TEST_DB}_shadow.* TO 'sqlcourier_admin'@'127.0.0.1';
GRANT PROCESS, CONNECTION ADMIN ON *.* TO 'sqlcourier_admin'@'127.0.0.1';
-- tests/it/guard.rs: the general log (what the server received; DROP is TRUNCATE, which
-- the first reader does) and hostile global modes
GRANT SUPER ON *.* TO 'sqlcourier_admin'@'127.0.0.1';
GRANT SELECT, DROP ON mysql.general_log TO 'sqlcourier_admin'@'127.0.0.1';
-- the same for @localhost: a server that resolves names (Debian's default, no
-- skip-name-resolve) may match a TCP connection from 127.0.0.1 to the @localhost user
GRANT ALL ON ${TEST_DB}_shadow.* TO 'sqlcourier_admin'@'localhost';
GRANT PROCESS, CONNECTION ADMIN, SUPER ON *.* TO 'sqlcourier_admin'@'localhost';
GRANT SELECT, DROP ON mysql.general_log TO 'sqlcourier_admin'@'localhost';
CREATE USER IF NOT EXISTS 'sqlcourier_ro'@'127.0.0.1' IDENTIFIED BY 'sqlcourier_ro';
CREATE USER IF NOT EXISTS 'sqlcourier_ro'@'localhost' IDENTIFIED BY 'sqlcourier_ro';
GRANT SELECT ON $TEST_DB.* TO 'sqlcourier_ro'@'127.0.0.1';
GRANT SELECT ON $TEST_DB.* TO 'sqlcourier_ro'@'localhost';
-- a second read-only user, only for tests/it/guard.rs's look at the general log
CREATE USER IF NOT EXISTS 'sqlcourier_ro_guard'@'127.0.0.1' IDENTIFIED BY 'sqlcourier_ro_guard';
GRANT SELECT ON $TEST_DB.* TO 'sqlcourier_ro_guard'@'127.0.0.1';
CREATE USER IF NOT EXISTS 'sqlcourier_ro_guard'@'localhost' IDENTIFIED BY 'sqlcourier_ro_guard';
GRANT SELECT ON $TEST_DB.* TO 'sqlcourier_ro_guard'@'localhost';
FLUSH PRIVILEGES;
SQL
  # the socket may belong to another server than the one on the port (another root)
  if ! mariadb --protocol=tcp -h 127.0.0.1 -P "$MYSQL_PORT" -usqlcourier_admin -psqlcourier_admin \
      -e "SELECT 1" "$TEST_DB" >/dev/null 2>&1; then
    echo "MariaDB on 127.0.0.1:$MYSQL_PORT does not accept the test user; its socket (/run/mysqld) belongs to another server. Set SQLCOURIER_TEST_MYSQL_PORT to a free port." >&2
    return 1
  fi
}

# ---------------------------------------------------------------- PostgreSQL
postgres_answers() { pg_isready -q -h 127.0.0.1 -p "$PG_PORT" -t 2; }

pg_version() { find /etc/postgresql -mindepth 1 -maxdepth 1 -printf '%f\n' | sort -V | tail -n 1; }

start_postgres() {
  if ! command -v pg_ctlcluster >/dev/null 2>&1; then
    log "installing PostgreSQL"
    apt_install postgresql postgresql-client
  fi
  if postgres_answers; then
    return 0
  fi
  log "starting PostgreSQL on 127.0.0.1:$PG_PORT"
  local v
  v=$(pg_version)
  if [ "$PG_PORT" != 5432 ]; then
    as_root pg_conftool "$v" main set port "$PG_PORT"
  fi
  # listen on 127.0.0.1 whatever the cluster's listen_addresses says: its default,
  # localhost, fails the start on a machine whose /etc/hosts has no localhost line
  as_root pg_ctlcluster --skip-systemctl-redirect "$v" main start -- -o "-c listen_addresses=127.0.0.1"
  for _ in $(seq 1 60); do
    postgres_answers && return 0
    sleep 0.5
  done
  echo "PostgreSQL did not start on 127.0.0.1:$PG_PORT (see /var/log/postgresql/)" >&2
  return 1
}

setup_postgres() {
  local psql=(as_postgres psql -v ON_ERROR_STOP=1 -q -p "$PG_PORT" -d postgres)
  "${psql[@]}" <<'SQL'
DO $$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'sqlcourier_admin') THEN
    CREATE ROLE sqlcourier_admin LOGIN SUPERUSER PASSWORD 'sqlcourier_admin';
  END IF;
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'sqlcourier_ro') THEN
    CREATE ROLE sqlcourier_ro LOGIN PASSWORD 'sqlcourier_ro';
  END IF;
  -- a second read-only user, only for tests/it/guard.rs's look at the server log
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'sqlcourier_ro_guard') THEN
    CREATE ROLE sqlcourier_ro_guard LOGIN PASSWORD 'sqlcourier_ro_guard';
  END IF;
END $$;
SQL
  if ! "${psql[@]}" -tAc "SELECT 1 FROM pg_database WHERE datname = '$TEST_DB'" | grep -q 1; then
    "${psql[@]}" -c "CREATE DATABASE $TEST_DB OWNER sqlcourier_admin"
  fi
  # the read-only user of runner-ami/README.md: reads every table the admin creates
  # (the tests run the binary as this user; sqlcourier refuses a user that can write)
  local psql_db=(as_postgres psql -v ON_ERROR_STOP=1 -q -p "$PG_PORT" -d "$TEST_DB")
  "${psql_db[@]}" <<SQL
GRANT CONNECT ON DATABASE $TEST_DB TO sqlcourier_ro, sqlcourier_ro_guard;
GRANT USAGE ON SCHEMA public TO sqlcourier_ro, sqlcourier_ro_guard;
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT SELECT ON ALL TABLES IN SCHEMA public TO sqlcourier_ro, sqlcourier_ro_guard;
ALTER DEFAULT PRIVILEGES FOR ROLE sqlcourier_admin IN SCHEMA public GRANT SELECT ON TABLES TO sqlcourier_ro, sqlcourier_ro_guard;
SQL
}

export SQLCOURIER_TEST_MYSQL_URL="mysql://sqlcourier_admin:sqlcourier_admin@127.0.0.1:$MYSQL_PORT/$TEST_DB"
export SQLCOURIER_TEST_MYSQL_RO_URL="mysql://sqlcourier_ro:sqlcourier_ro@127.0.0.1:$MYSQL_PORT/$TEST_DB"
export SQLCOURIER_TEST_PG_URL="postgres://sqlcourier_admin:sqlcourier_admin@127.0.0.1:$PG_PORT/$TEST_DB"
export SQLCOURIER_TEST_PG_RO_URL="postgres://sqlcourier_ro:sqlcourier_ro@127.0.0.1:$PG_PORT/$TEST_DB"

# The tests read the PostgreSQL server log (what the server received, tests/it/guard.rs
# and shadowing.rs); Debian writes it postgres:adm 0640. A user who is not root gets
# read access to that one file (an ACL), not to the adm group.
pg_log_readable() {
  local f
  f="/var/log/postgresql/postgresql-$(pg_version)-main.log"
  if [ "$(id -u)" -eq 0 ] || [ ! -e "$f" ] || [ -r "$f" ]; then
    return 0
  fi
  command -v setfacl >/dev/null 2>&1 || apt_install acl
  as_root setfacl -m "u:$(id -un):r" "$f"
}

databases_up() {
  log "databases"
  start_mariadb
  setup_mariadb
  start_postgres
  setup_postgres
  pg_log_readable
}

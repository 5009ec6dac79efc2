#!/usr/bin/env bash
# Export benchmark: sqlcourier against the databases' own CSV exporters, in one run,
# alternating the tools, median of RUNS runs each. Prints a Markdown table for
# docs/benchmarks.md.
#
#   bench/run.sh                 2,000,000 rows, 3 runs
#   ROWS=10000000 bench/run.sh   the flat-memory check at 10M rows
#   RUNS=5 bench/run.sh
set -euo pipefail
cd "$(dirname "$0")/.."

ROWS=${ROWS:-2000000}
db=${SQLCOURIER_TEST_DB:-sqlcourier_test}
RUNS=${RUNS:-3}

# shellcheck source=tests/lib/databases.sh
. tests/lib/databases.sh
databases_up
command -v /usr/bin/time >/dev/null 2>&1 || apt_install time

log "release build"
cargo build --release --quiet
bin=$PWD/target/release/sqlcourier

work=$(mktemp -d /tmp/sqlcourier-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
chmod 777 "$work"

log "loading $ROWS rows into MariaDB and PostgreSQL"
sed "s/@ROWS@/$ROWS/" bench/load.sql.mariadb | as_root mariadb --protocol=socket -uroot "$db"
sed "s/@ROWS@/$ROWS/" bench/load.sql.postgres | psql -q -v ON_ERROR_STOP=1 "$SQLCOURIER_TEST_PG_URL" >/dev/null

# a repository with one query per case
repo=$work/repo
mkdir -p "$repo/queries"
cat >"$repo/sqlcourier.yaml" <<EOF
defaults: {timezone: Asia/Tokyo, encoding: utf-8}
databases:
  my: {driver: mysql, url_env: BENCH_MY}
  pg: {driver: postgres, url_env: BENCH_PG}
destinations:
  out: {type: local, path: $work/out}
EOF
allow='pii_allowed: {email: "benchmark data", phone: "benchmark data", name: "benchmark data"}'
mask='mask: {email: hash, phone: last4, name: redact}'
query() { # name database extra-front-matter
  printf '/*---\ntitle: bench %s\ndatabase: %s\ndestination: out\noutput: {file: %s.csv%s}\n%s\n---*/\nSELECT * FROM orders\n' \
    "$1" "$2" "$1" "$4" "$3" >"$repo/queries/$1.sql"
}
query pg pg "$allow" ""
query my my "$allow" ""
query my_masked my "$mask" ""
query pg_masked pg "$mask" ""
query my_gzip my "$allow" ", gzip: true"

# the start-up case: a tiny query on the SQLite demo database
"$bin" demo --out "$work/demo" --members 2000 --orders 10000 >/dev/null 2>&1
sed -i "s|^databases:|databases:\n  demo: {driver: sqlite, url_env: BENCH_DEMO}|" "$repo/sqlcourier.yaml"
printf '/*---\ntitle: tiny\ndatabase: demo\ndestination: out\noutput: {file: tiny.csv}\n---*/\nSELECT prefecture, COUNT(*) AS members FROM members GROUP BY prefecture\n' >"$repo/queries/tiny.sql"
export BENCH_DEMO="sqlite://$work/demo/demo.sqlite"

# the same repository with the sniff window of earlier versions (first 1,000 rows):
# full sniffing of every row is measured against it in the same run
sed 's/^destinations:/masking: {sniff_rows: 1000}\ndestinations:/' "$repo/sqlcourier.yaml" >"$repo/window.yaml"

# the read-only users: sqlcourier refuses a user that can write (README "Safety")
export BENCH_MY=$SQLCOURIER_TEST_MYSQL_RO_URL BENCH_PG=$SQLCOURIER_TEST_PG_RO_URL
export SQLCOURIER_MASK_KEY=benchmark-key-0123456789abcdef SQLCOURIER_LOG=warn

sudo=()
[ "$(id -u)" -eq 0 ] || sudo=(sudo)
results=$work/results.tsv
measure() { # case command...
  local name=$1
  shift
  local t0 t1 secs kib
  t0=$(date +%s%N)
  /usr/bin/time -f "%M" -o "$work/time" "$@" >"$work/out.txt" 2>"$work/err" || {
    cat "$work/out.txt" >&2
    cat "$work/err" >&2
    return 1
  }
  t1=$(date +%s%N)
  secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')
  read -r kib <"$work/time"
  printf '%s\t%s\t%s\n' "$name" "$secs" "$kib" >>"$results"
  printf '  %-28s %6ss %7s KiB\n' "$name" "$secs" "$kib"
}

for run in $(seq 1 "$RUNS"); do
  log "run $run of $RUNS"
  rm -f "$work"/out/* "$work"/*.csv
  measure "pg: sqlcourier" "$bin" --config "$repo/sqlcourier.yaml" run "$repo/queries/pg.sql"
  measure "pg: sqlcourier, sniff 1,000 rows" "$bin" --config "$repo/window.yaml" run "$repo/queries/pg.sql"
  measure "pg: psql \\copy" psql "$SQLCOURIER_TEST_PG_URL" -c "\\copy (SELECT * FROM orders) to '$work/psql.csv' with (format csv, header)"
  measure "my: sqlcourier" "$bin" --config "$repo/sqlcourier.yaml" run "$repo/queries/my.sql"
  measure "my: sqlcourier, sniff 1,000 rows" "$bin" --config "$repo/window.yaml" run "$repo/queries/my.sql"
  rm -f "$work/outfile.csv"
  measure "my: INTO OUTFILE" "${sudo[@]}" mariadb --protocol=socket -uroot "$db" -e \
    "SELECT * INTO OUTFILE '$work/outfile.csv' FIELDS TERMINATED BY ',' OPTIONALLY ENCLOSED BY '\"' LINES TERMINATED BY '\\r\\n' FROM orders"
  measure "my: mariadb --batch --quick" bash -c "mariadb --batch --quick -h127.0.0.1 -usqlcourier_admin -psqlcourier_admin $db -e 'SELECT * FROM orders' > '$work/batch.tsv'"
  measure "my: sqlcourier, 3 masked" "$bin" --config "$repo/sqlcourier.yaml" run "$repo/queries/my_masked.sql"
  measure "pg: sqlcourier, 3 masked" "$bin" --config "$repo/sqlcourier.yaml" run "$repo/queries/pg_masked.sql"
  measure "my: sqlcourier, gzip" "$bin" --config "$repo/sqlcourier.yaml" run "$repo/queries/my_gzip.sql"
  for _ in 1 2 3; do
    measure "sqlite: tiny query, start to file" "$bin" --config "$repo/sqlcourier.yaml" run "$repo/queries/tiny.sql"
  done
done
log "output sizes"
find "$work/out" -type f -printf '  %f %s bytes\n'

log "sanity: row counts"
for f in pg my; do
  lines=$(($(wc -l <"$work/out/$f.csv") - 1))
  echo "  $f.csv: $lines rows"
  [ "$lines" -eq "$ROWS" ] || { echo "row count mismatch" >&2; exit 1; }
done

log "results ($ROWS rows, median of $RUNS)"
python3 - "$results" "$ROWS" <<'PY'
import statistics, sys
rows = {}
for line in open(sys.argv[1], encoding="utf-8"):
    name, secs, kib = line.rstrip("\n").split("\t")
    rows.setdefault(name, []).append((float(secs), int(kib)))
med = {k: (statistics.median(s for s, _ in v), max(m for _, m in v)) for k, v in rows.items()}
def ratio(a, b):
    return med[a][0] / med[b][0]
print(f"| case | wall time (median) | peak RSS | rows/s |")
print(f"|---|---:|---:|---:|")
for k, (s, m) in med.items():
    rate = "—" if k.startswith("sqlite") else f"{int(sys.argv[2]) / s:,.0f}"
    print(f"| {k} | {s:.3f} s | {m / 1024:.0f} MiB | {rate} |")
print()
print("| target | measured | met |")
print("|---|---:|---|")
checks = [
    ("PostgreSQL: sqlcourier ≤ 1.10 × psql \\copy", ratio("pg: sqlcourier", "pg: psql \\copy"), 1.10),
    ("MariaDB: sqlcourier ≤ 1.25 × INTO OUTFILE", ratio("my: sqlcourier", "my: INTO OUTFILE"), 1.25),
    ("MariaDB: sqlcourier vs mariadb --batch --quick (≤ 1.0)", ratio("my: sqlcourier", "my: mariadb --batch --quick"), 1.0),
    ("3 masked columns: time ≤ 1.25 × unmasked (MariaDB; = throughput ≥ 0.8×)", ratio("my: sqlcourier, 3 masked", "my: sqlcourier"), 1.25),
    ("3 masked columns: time ≤ 1.25 × unmasked (PostgreSQL)", ratio("pg: sqlcourier, 3 masked", "pg: sqlcourier"), 1.25),
    ("full sniffing: time ≤ 1.11 × 1,000-row window (PostgreSQL; = throughput ≥ 0.9×)", ratio("pg: sqlcourier", "pg: sqlcourier, sniff 1,000 rows"), 1.11),
    ("full sniffing: time ≤ 1.11 × 1,000-row window (MariaDB)", ratio("my: sqlcourier", "my: sqlcourier, sniff 1,000 rows"), 1.11),
    ("gzip: time ≤ 1.3 × uncompressed (MariaDB)", ratio("my: sqlcourier, gzip", "my: sqlcourier"), 1.3),
]
for name, r, limit in checks:
    print(f"| {name} | {r:.2f} × | {'yes' if r <= limit else 'NO'} |")
peak = max(m for k, (s, m) in med.items() if "sqlcourier" in k) / 1024
print(f"| peak RSS of sqlcourier ≤ 64 MiB | {peak:.0f} MiB | {'yes' if peak <= 64 else 'NO'} |")
tiny = med["sqlite: tiny query, start to file"][0]
print(f"| tiny SQLite query, process start to file written ≤ 150 ms | {tiny * 1000:.0f} ms | {'yes' if tiny <= 0.150 else 'NO'} |")
PY

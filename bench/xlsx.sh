#!/usr/bin/env bash
# xlsx benchmark (issue #15): `SELECT * FROM orders` to xlsx vs the same to CSV (both
# sqlcourier) vs a reference writer — Python XlsxWriter in constant_memory mode writing
# the same typed cells from the CSV file (writer only: it does not even pay for reading
# the database, so the comparison favours the reference). MariaDB and PostgreSQL, in
# one run, median of RUNS runs; then peak memory at SMALL rows to show it is flat.
# Prints Markdown tables for docs/benchmarks.md.
#
#   bench/xlsx.sh                     1,000,000 rows, 3 runs, memory check at 10,000
#   ROWS=200000 RUNS=1 bench/xlsx.sh  a quick look
set -euo pipefail
cd "$(dirname "$0")/.."

ROWS=${ROWS:-1000000}
SMALL=${SMALL:-10000}
RUNS=${RUNS:-3}

# shellcheck source=tests/lib/databases.sh
. tests/lib/databases.sh
databases_up
command -v /usr/bin/time >/dev/null 2>&1 || apt_install time
/usr/bin/python3 -c 'import xlsxwriter' 2>/dev/null || apt_install python3-xlsxwriter

log "release build"
cargo build --release --quiet --bin sqlcourier
bin=$PWD/target/release/sqlcourier

work=$(mktemp -d /tmp/sqlcourier-xlsx-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT

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
for db in my pg; do
  for fmt in csv xlsx; do
    printf '/*---\ntitle: bench\ndatabase: %s\ndestination: out\noutput: {file: %s.%s, format: %s}\n%s\n---*/\nSELECT * FROM orders\n' \
      "$db" "$db" "$fmt" "$fmt" "$allow" >"$repo/queries/${db}_$fmt.sql"
  done
done
# the read-only users: sqlcourier refuses a user that can write (README "Safety")
export BENCH_MY=$SQLCOURIER_TEST_MYSQL_RO_URL BENCH_PG=$SQLCOURIER_TEST_PG_RO_URL SQLCOURIER_LOG=warn

# the reference: XlsxWriter constant_memory, typed like sqlcourier (ints, 2-decimal
# amounts, date-times, text), bold frozen header
cat >"$work/reference.py" <<'PY'
import csv, datetime, sys
import xlsxwriter
src, dst = sys.argv[1], sys.argv[2]
wb = xlsxwriter.Workbook(dst, {"constant_memory": True})
ws = wb.add_worksheet("orders")
bold = wb.add_format({"bold": True})
fint = wb.add_format({"num_format": "0"})
fdec = wb.add_format({"num_format": "0.00"})
fdt = wb.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
ftxt = wb.add_format({"num_format": "@"})
with open(src, newline="", encoding="utf-8") as f:
    r = csv.reader(f)
    ws.write_row(0, 0, next(r), bold)
    ws.freeze_panes(1, 0)
    for i, row in enumerate(r, start=1):
        ws.write_number(i, 0, int(row[0]), fint)
        ws.write_number(i, 1, int(row[1]), fint)
        ws.write_string(i, 2, row[2], ftxt)
        ws.write_string(i, 3, row[3], ftxt)
        ws.write_string(i, 4, row[4], ftxt)
        ws.write_number(i, 5, float(row[5]), fdec)
        ws.write_string(i, 6, row[6], ftxt)
        ws.write_datetime(i, 7, datetime.datetime.fromisoformat(row[7]), fdt)
        if row[8]:
            ws.write_string(i, 8, row[8], ftxt)
wb.close()
PY

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
  printf '  %-34s %7ss %7s KiB\n' "$name" "$secs" "$kib"
}
# sqlcourier's command line for a query (an array: /usr/bin/time runs programs, not functions)
sq=("$bin" --config "$repo/sqlcourier.yaml" run --work-dir "$work/tmp")

load() { # rows
  sed "s/@ROWS@/$1/" bench/load.sql.mariadb | as_root mariadb --protocol=socket -uroot "$TEST_DB"
  sed "s/@ROWS@/$1/" bench/load.sql.postgres | psql -q -v ON_ERROR_STOP=1 "$SQLCOURIER_TEST_PG_URL" >/dev/null
}

log "loading $ROWS rows into MariaDB and PostgreSQL ($TEST_DB)"
load "$ROWS"
for r in $(seq 1 "$RUNS"); do
  log "run $r of $RUNS"
  rm -rf "$work/out"
  measure "my: sqlcourier xlsx" "${sq[@]}" "$repo/queries/my_xlsx.sql"
  measure "my: sqlcourier csv" "${sq[@]}" "$repo/queries/my_csv.sql"
  measure "pg: sqlcourier xlsx" "${sq[@]}" "$repo/queries/pg_xlsx.sql"
  measure "pg: sqlcourier csv" "${sq[@]}" "$repo/queries/pg_csv.sql"
  measure "reference: XlsxWriter constant_memory" /usr/bin/python3 "$work/reference.py" "$work/out/my.csv" "$work/ref.xlsx"
done
log "output sizes"
find "$work/out" "$work/ref.xlsx" -type f -printf '  %f %s bytes\n'

log "peak memory at $SMALL rows"
load "$SMALL"
measure "small my: sqlcourier xlsx" "${sq[@]}" "$repo/queries/my_xlsx.sql"
measure "small pg: sqlcourier xlsx" "${sq[@]}" "$repo/queries/pg_xlsx.sql"

log "results ($ROWS rows, median of $RUNS)"
python3 - "$results" "$ROWS" "$SMALL" <<'PY'
import statistics, sys
rows = {}
for line in open(sys.argv[1], encoding="utf-8"):
    name, secs, kib = line.rstrip("\n").split("\t")
    rows.setdefault(name, []).append((float(secs), int(kib)))
med = {k: (statistics.median(s for s, _ in v), max(m for _, m in v)) for k, v in rows.items()}
print("| case | wall time (median) | peak RSS | rows/s |")
print("|---|---:|---:|---:|")
for k, (s, m) in med.items():
    n = int(sys.argv[3] if k.startswith("small") else sys.argv[2])
    print(f"| {k} | {s:.3f} s | {m / 1024:.0f} MiB | {n / s:,.0f} |")
ref = med["reference: XlsxWriter constant_memory"][0]
print()
print("| target | measured | met |")
print("|---|---:|---|")
for db in ("my", "pg"):
    x = med[f"{db}: sqlcourier xlsx"][0]
    print(f"| {db}: xlsx ≥ 2 × faster than the reference | {ref / x:.1f} × | {'yes' if ref / x >= 2 else 'NO'} |")
    print(f"| {db}: xlsx time vs csv | {x / med[f'{db}: sqlcourier csv'][0]:.1f} × | — |")
    big, small = med[f"{db}: sqlcourier xlsx"][1], med[f"small {db}: sqlcourier xlsx"][1]
    print(f"| {db}: peak RSS flat ({sys.argv[3]} → {sys.argv[2]} rows) | {small / 1024:.0f} → {big / 1024:.0f} MiB | {'yes' if big <= small * 1.5 + 8192 else 'NO'} |")
PY

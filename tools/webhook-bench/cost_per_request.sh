#!/usr/bin/env bash
# What each target's own process spends per request, counted by valgrind (callgrind with its cache
# model): instructions, first-level instruction and data cache misses, last-level misses. These
# are counts, not times: the same for the same binary and requests whatever else the machine is
# doing, so they compare the service with the floors where wrk's req/s cannot (on a 2-core
# machine wrk shares the cores with the target, and another tenant's load moves req/s by 2x).
# What they leave out: the kernel's share (the same syscalls per request for every target here:
# one recvfrom and one sendto, about a quarter of an epoll_wait) and Redis's own work.
#
#   tools/webhook-bench/cost_per_request.sh PROJECT_DIR [SCENARIO ...]   > costs.tsv
#   (default scenarios post_plain_new post_aes_new; TARGETS="floor ... svc_pg_redis"; SECS=20)
#
# Each target starts under valgrind (about 50x slower: a few hundred requests a second), warms up
# on the repeating twin of the scenario, has its counters zeroed, takes SECS seconds of wrk -c8
# (every MsgId new), and is dumped; the counts are divided by the requests wrk saw answered.
set -euo pipefail
B=$(cd "$(dirname "$0")" && pwd); P=$(cd "${1:?project dir}" && pwd); shift
SCENARIOS=("$@"); [ ${#SCENARIOS[@]} -gt 0 ] || SCENARIOS=(post_plain_new post_aes_new)
BIN=$P/target/release/birthcert; F=$B/actix-floor/target/release/actix-floor
for x in "$BIN" "$F"; do [ -x "$x" ] || { echo "no $x (cargo build --release)" >&2; exit 2; }; done
command -v valgrind >/dev/null && command -v callgrind_control >/dev/null || { echo "needs valgrind" >&2; exit 2; }
set -a; . "$B/config.env"; set +a
SECS=${SECS:-20}; W=$(mktemp -d); RP=6393; db=cpr_$$; port=18740
redis-server --daemonize yes --bind 127.0.0.1 --port $RP --save "" --appendonly no --pidfile "$W/redis.pid" >/dev/null
psql -h 127.0.0.1 -U postgres -qc "create database $db" >/dev/null
cleanup() { pkill -f "callgrind-out-file=$W/" 2>/dev/null || true; kill "$(cat "$W/redis.pid")" 2>/dev/null || true
  sleep 1; psql -h 127.0.0.1 -U postgres -qc "drop database if exists $db with (force)" >/dev/null; rm -rf "$W"; }
trap cleanup EXIT

. "$B/service_env.sh"
svc_env=("${SVC_ENV[@]}" BIRTHCERT__SERVER__PORT=$port BIRTHCERT__MOCK__PORT=$((port + 1)))
start() { # TARGET OUTFILE
  local vg=(valgrind --tool=callgrind --cache-sim=yes --dump-instr=no --callgrind-out-file="$2")
  case $1 in
    floor*) env $(FLOOR_REDIS=redis://127.0.0.1:$RP floor_env "$1") "${vg[@]}" "$F" $port ;;
    svc_sqlite) mkdir -p "$W/sqlite" && cp -r "$P/config" "$W/sqlite/" && cd "$W/sqlite" && env "${svc_env[@]}" "${vg[@]}" "$BIN" serve ;;
    svc_pg_redis) mkdir -p "$W/pg" && cp -r "$P/config" "$W/pg/" && cd "$W/pg" && env "${svc_env[@]}" \
      BIRTHCERT__DATABASE__URL=postgres://postgres@127.0.0.1:5432/$db BIRTHCERT__REDIS__URL=redis://127.0.0.1:$RP \
      "${vg[@]}" "$BIN" serve ;;
    *) echo "unknown target $1" >&2; exit 2 ;;
  esac
}

printf 'scenario\ttarget\trequests\tinstructions\tI1_misses\tD1_read_misses\tD1_write_misses\tLL_misses\t(per request)\n'
for s in "${SCENARIOS[@]}"; do
  pool=$W/pool.lua
  SCENARIOS=$s N_UNIQUE=$((SECS * 2000)) "$B/.venv/bin/python" "$B/wrk/gen_wrk_data.py" --out "$pool" --path /wechat >/dev/null
  for t in ${TARGETS:-floor floor_memory_reply floor_redis svc_sqlite svc_pg_redis}; do
    out=$W/$t.$s.out; path=/wechat; [[ $t == svc* ]] && path=/wechat/callback
    redis-cli -p $RP flushall >/dev/null
    (start "$t" "$out" >"$W/$t.log" 2>&1 &)
    for _ in $(seq 480); do curl -s -o /dev/null "http://127.0.0.1:$port$path" && break; sleep 0.5; done
    export WRK_DATA=$pool WRK_PATH=$path
    wrk -t1 -c8 -d5s --timeout 10s -s "$B/wrk/${s%_new}.lua" "http://127.0.0.1:$port" >/dev/null
    vpid=$(pgrep -f "callgrind-out-file=$out" | head -1)
    callgrind_control -z "$vpid" >/dev/null
    n=$(wrk -t1 -c8 -d"${SECS}s" --timeout 10s -s "$B/wrk/$s.lua" "http://127.0.0.1:$port" |
      sed -n 's/^WRKJSON //p' | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["requests"] if d["non2xx"] == 0 else 0)')
    callgrind_control -d "$vpid" >/dev/null; sleep 1
    pkill -f "callgrind-out-file=$out" || true
    for _ in $(seq 20); do curl -s -o /dev/null "http://127.0.0.1:$port$path" || break; sleep 0.5; done
    [ "$n" -gt 0 ] || { echo "$t $s: errors or no requests; see $W/$t.log" >&2; exit 1; }
    # events: Ir Dr Dw I1mr D1mr D1mw ILmr DLmr DLmw
    awk -v n="$n" -v s="$s" -v t="$t" '/^summary:/ {
      printf "%s\t%s\t%d\t%.0f\t%.0f\t%.0f\t%.0f\t%.1f\n", s, t, n, $2/n, $5/n, $6/n, $7/n, ($8+$9+$10)/n }' "$out.1"
  done
done

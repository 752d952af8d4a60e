#!/usr/bin/env bash
# What each target's process spends per request in CPU time, at full speed: user and kernel time
# (from /proc/PID/stat), context switches (all its threads) and page faults, over one wrk run
# of SECS seconds at 64 connections after a 2 s warm-up on the repeating twin of the scenario,
# each target from an empty store. Where cost_per_request.sh counts instructions and cache
# misses (exact, but a model), this reads what the kernel charged: the two together tell whether
# a target is slower because it does more or because it does it with more misses. CPU per
# request falls when the machine is busy (more requests per wake-up and per segment), so compare
# targets only within one sitting, and run it twice.
#
#   tools/webhook-bench/cpu_per_request.sh PROJECT_DIR [SCENARIO]   > cpu.tsv
#   (default scenario post_plain_new; TARGETS among floor floor_memory_reply[_sharded] svc_sqlite; SECS=8)
set -euo pipefail
B=$(cd "$(dirname "$0")" && pwd); P=$(cd "${1:?project dir}" && pwd); S=${2:-post_plain_new}
BIN=$P/target/release/birthcert; F=$B/actix-floor/target/release/actix-floor
for x in "$BIN" "$F"; do [ -x "$x" ] || { echo "no $x (cargo build --release)" >&2; exit 2; }; done
set -a; . "$B/config.env"; set +a
. "$B/service_env.sh"
SECS=${SECS:-8}; W=$(mktemp -d); port=18750; HZ=$(getconf CLK_TCK)
trap 'rm -rf "$W"' EXIT
pool=$W/pool.lua
SCENARIOS=$S N_UNIQUE=${N_UNIQUE:-500000} "$B/.venv/bin/python" "$B/wrk/gen_wrk_data.py" --out "$pool" --path /wechat >/dev/null
# utime stime minflt of the process, and the context switches of all its threads.
sample() { echo "$(awk '{print $14, $15, $10}' "/proc/$1/stat") $(cat /proc/"$1"/task/*/status | awk '/ctxt_switches/ {n += $2} END {print n}')"; }
printf 'scenario\ttarget\trequests\treq_s\tcpu_us\tuser_us\tsys_us\tcontext_switches\tpage_faults\t(per request)\n'
for t in ${TARGETS:-floor floor_memory_reply svc_sqlite}; do
  path=/wechat; [[ $t == svc* ]] && path=/wechat/callback
  case $t in
    floor*) env $(floor_env $t) "$F" $port >/dev/null 2>&1 & pid=$! ;;
    svc_sqlite) mkdir -p "$W/s" && cp -r "$P/config" "$W/s/" && cd "$W/s" &&
      { env "${SVC_ENV[@]}" BIRTHCERT__SERVER__PORT=$port BIRTHCERT__MOCK__PORT=$((port + 1)) "$BIN" serve >"$W/svc.log" 2>&1 & pid=$!; } && cd - >/dev/null ;;
    *) echo "unknown target $t" >&2; exit 2 ;;
  esac
  for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$port$path" && break; sleep 0.3; done
  export WRK_DATA=$pool WRK_PATH=$path
  wrk -t1 -c64 -d2s -s "$B/wrk/${S%_new}.lua" "http://127.0.0.1:$port" >/dev/null
  read -r u0 s0 f0 c0 < <(sample $pid)
  read -r n bad < <(wrk -t1 -c64 -d"${SECS}s" -s "$B/wrk/$S.lua" "http://127.0.0.1:$port" | sed -n 's/^WRKJSON //p' |
    python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["requests"], d["non2xx"])')
  read -r u1 s1 f1 c1 < <(sample $pid)
  kill $pid; wait $pid 2>/dev/null || true; sleep 0.5
  [ "$bad" -eq 0 ] && [ "$n" -gt 0 ] || { echo "$t: $bad non-2xx answers" >&2; exit 1; }
  awk -v s="$S" -v t="$t" -v n="$n" -v d="$SECS" -v hz="$HZ" -v u=$((u1 - u0)) -v k=$((s1 - s0)) -v c=$((c1 - c0)) -v f=$((f1 - f0)) \
    'BEGIN { us = 1e6 / hz / n; printf "%s\t%s\t%d\t%.0f\t%.2f\t%.2f\t%.2f\t%.3f\t%.3f\n", s, t, n, n / d, (u + k) * us, u * us, k * us, c / n, f / n }'
done

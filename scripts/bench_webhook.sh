#!/usr/bin/env bash
# The official-account callback under load, next to a bare actix-web endpoint in the same
# sitting (the "floor" of tools/webhook-bench). Protocol first: check_webhook.py --strict must pass.
#
#   scripts/bench_webhook.sh                     # 3 interleaved rounds, -t2 -c64 -d10s
#   ROUNDS=1 DURATION=5s scripts/bench_webhook.sh
#   BENCH_REDIS_URL=redis://127.0.0.1:6379 scripts/bench_webhook.sh   # dedupe in Redis
#
# Needs wrk (apt-get install wrk), python3 and the shared harness (BENCH_DIR, default
# tools/webhook-bench), which is copied to a scratch directory because it builds and writes there.
# The service runs with wechat.echo_unknown_text=true so the checker and the wrk scenarios can
# compare replies with the peers (which echo); everything else is the production code path.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SRC="${BENCH_DIR:-$ROOT/tools/webhook-bench}"
WORK="${WORK:-/tmp/birthcert-bench}"
ROUNDS="${ROUNDS:-3}"
PORT="${PORT:-8090}"
export THREADS="${THREADS:-2}" CONNS="${CONNS:-64}" DURATION="${DURATION:-10s}" WARMUP="${WARMUP:-3s}"

command -v wrk >/dev/null || { echo "wrk missing: apt-get update && apt-get install -y wrk" >&2; exit 2; }
mkdir -p "$WORK"
[ -f "$WORK/load.sh" ] || { cp -r "$SRC/." "$WORK/"; chmod -R u+w "$WORK"; }
cd "$WORK"
if [ ! -x .venv/bin/python ] || ! .venv/bin/python -c 'import wechatpy' 2>/dev/null; then
  python3 -m venv .venv && .venv/bin/pip install -q -r py-peer/requirements.txt
fi
[ -x actix-floor/target/release/actix-floor ] || (cd actix-floor && cargo build --release -q)
set -a; . ./config.env; set +a

(cd "$ROOT" && cargo build --release -q --bin birthcert)
DATA="$(mktemp -d)"
OUT="${OUT:-$WORK/results/$(date +%Y%m%d-%H%M%S)}"
mkdir -p "$OUT" run

SERVICE_ENV=(
  BIRTHCERT_CONFIG_DIR="$ROOT/config"
  BIRTHCERT__SERVER__PORT="$PORT" BIRTHCERT__SERVER__WORKERS=2 BIRTHCERT__MOCK__PORT=$((PORT + 1))
  BIRTHCERT__DATABASE__URL="sqlite://$DATA/bench.db?mode=rwc" BIRTHCERT__BLOBS__DIR="$DATA/blobs"
  BIRTHCERT__WECHAT__TOKEN="$WX_TOKEN" BIRTHCERT__WECHAT__APP_ID="$WX_APPID"
  BIRTHCERT__WECHAT__ENCODING_AES_KEY="$WX_AES_KEY" BIRTHCERT__WECHAT__ORIGINAL_ID=gh_bench00000001
  BIRTHCERT__WECHAT__ECHO_UNKNOWN_TEXT=true BIRTHCERT__SEED__DEMO_ACCOUNTS=false BIRTHCERT__WORKERS__OUTBOX=false
  RUST_LOG=warn
)
[ -n "${BENCH_REDIS_URL:-}" ] && SERVICE_ENV+=(BIRTHCERT__REDIS__URL="$BENCH_REDIS_URL")
env "${SERVICE_ENV[@]}" "$ROOT/target/release/birthcert" > "$OUT/birthcert.log" 2>&1 &
SVC=$!
./run_peers.sh start floor 8083 >/dev/null
cleanup() { kill "$SVC" 2>/dev/null || true; ./run_peers.sh stop floor 8083 >/dev/null 2>&1 || true; rm -rf "$DATA"; }
trap cleanup EXIT
for _ in $(seq 1 100); do curl -s -o /dev/null "http://127.0.0.1:$PORT/healthz" && break; sleep 0.1; done

declare -A URL=([floor]="http://127.0.0.1:8083/wechat" [birthcert]="http://127.0.0.1:$PORT/wechat/callback")
echo "== protocol check (--strict)"
.venv/bin/python check_webhook.py --url "${URL[birthcert]}" --strict | tee "$OUT/check_birthcert.txt" | tail -1
PEERS=(floor birthcert)
for r in $(seq 1 "$ROUNDS"); do
  echo "== round $r"
  for s in get_verify post_plain post_aes; do
    for i in 0 1; do
      p="${PEERS[$(( (i + r - 1) % 2 ))]}"
      path="${URL[$p]#http://*/}"
      WRK_DATA="$WORK/run/pool_$p.lua"
      .venv/bin/python wrk/gen_wrk_data.py --out "$WRK_DATA" --path "/$path" >/dev/null
      WRK_DATA="$WRK_DATA" LABEL="$p" ROUND="$r" OUT="$OUT" ./load.sh "${URL[$p]}" "$s" | tail -1
    done
  done
done
python3 summarize.py "$OUT/results.tsv" --ref floor | tee "$OUT/summary.md"
echo "raw output in $OUT"

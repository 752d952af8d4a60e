# How the harness's scripts run birthcert (sourced after config.env): the bench's token, AppID and
# key, unknown text echoed as the peers do, no demo accounts, no outbox worker, a quiet log.
# A pool is signed once, and on a loaded machine (or under valgrind) it is used more than the
# default 300 s later: the service would refuse its tail as replays (403), which no floor checks.
SVC_ENV=(BIRTHCERT__SERVER__WORKERS=2 BIRTHCERT__WECHAT__TOKEN=$WX_TOKEN BIRTHCERT__WECHAT__APP_ID=$WX_APPID
  BIRTHCERT__WECHAT__ENCODING_AES_KEY=$WX_AES_KEY BIRTHCERT__WECHAT__ECHO_UNKNOWN_TEXT=true
  BIRTHCERT__SEED__DEMO_ACCOUNTS=false BIRTHCERT__WORKERS__OUTBOX=false RUST_LOG=warn
  BIRTHCERT__WECHAT__CALLBACK_MAX_AGE_SECS=3600)
# Each named floor is the one actix-floor binary with this environment (FLOOR_REDIS: the Redis
# URL for floor_redis). Every script that runs floors takes them from here.
floor_env() { # TARGET
  case $1 in
    floor) echo WORKERS=2 ;;
    floor_memory) echo WORKERS=2 FLOOR_MEMORY_DEDUPE=1 ;;
    floor_memory_reply) echo WORKERS=2 FLOOR_MEMORY_DEDUPE=reply ;;
    floor_memory_reply_sharded) echo WORKERS=2 FLOOR_MEMORY_DEDUPE=reply FLOOR_MEMORY_SHARDS=32 ;;
    floor_redis) echo WORKERS=2 "FLOOR_REDIS_URL=${FLOOR_REDIS:?set FLOOR_REDIS for floor_redis}" ;;
    *) echo "unknown floor $1" >&2; return 1 ;;
  esac
}

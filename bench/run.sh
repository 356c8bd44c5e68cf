#!/usr/bin/env bash
# The benchmark run (scripts/bench builds first, then calls this). Starts the test OP and
# one nginx per setup, each on free 127.0.0.1 ports, gets a session and tokens from the
# real OP, then runs alternating rounds of wrk against every setup and writes a table
# (stdout) and bench/results/latest.json. Everything it starts is stopped on exit.
#
# Setups (bench/conf/<X>.conf, one nginx each, 1 worker, keep-alive, upstream a second
# server block in the same nginx that answers 200 "ok" over keep-alive connections):
#   A        plain proxy_pass, no auth_oidc
#   A+cookie, A+bearer
#            plain proxy_pass, but every request carries B's cookie / C's token: what the
#            bigger request costs by itself, without the module
#   B        auth_oidc, a valid session cookie from a real login
#   C        auth_oidc_bearer only, one valid JWT from a real client_credentials grant (cached)
#   D-RS256  bearer JWTs never seen before: a pool of distinct RS256 tokens from the OP,
#            token_cache_ttl 0, so every request verifies a signature
#   D-ES256  the same with ES256 tokens (signed with the OP's ec-1 key, see tokens.mjs)
#   E_zone   B with session_store zone: the cookie (from a real login through this nginx)
#            is a sealed reference, the session lives in the shared zone
#   E_redis  B with session_store redis://: the session lives in the bench's own
#            redis-server (Debian's, free port, random password, --save '', stopped by PID)
set -euo pipefail
BENCH=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$BENCH")

usage() {
    cat <<'EOF'
usage: bench/run.sh [options]
  --rounds N          rounds of every setup, alternating (default 3)
  --duration S        seconds per timed run (default 10)
  --threads N         wrk threads (default 2)
  --connections N     wrk connections (default 32)
  --setups "A B .."   setups to run (default "A A+cookie A+bearer B C D-RS256 D-ES256 E_zone E_redis")
  --pool N            distinct tokens per D pool (default 4000)
  --no-slow-op        skip the slow-OP check (B with and without logins against a slow OP)
  --slow-op-logins N  concurrent logins of the side load (default 4)
  --soak S            also run B and C for S seconds each, sampling the worker's RSS
  --soak-setups ".."  setups of the soak run (default "B C")
  --callgrind S       also count instructions per request of every setup: S seconds of
                      wrk -t1 -c4 against nginx (master_process off) under valgrind's callgrind;
                      repeatable whatever else the machine does; profiles kept in
                      bench/results/callgrind/<setup>.out (callgrind_annotate)
  --out FILE          JSON results (default bench/results/latest.json)
  --keep              keep the run directory (configs, logs, wrk outputs)
EOF
}

ROUNDS=3 DURATION=10 THREADS=2 CONNECTIONS=32 POOL=4000
SETUPS="A A+cookie A+bearer B C D-RS256 D-ES256 E_zone E_redis" SLOW_OP=1 SLOW_LOGINS=4 SOAK=0 SOAK_SETUPS="B C" CALLGRIND=0
OUT="$BENCH/results/latest.json" KEEP=0
while [ $# -gt 0 ]; do
    case "$1" in
        --rounds) ROUNDS=$2; shift ;;
        --duration) DURATION=${2%s}; shift ;;
        --threads) THREADS=$2; shift ;;
        --connections) CONNECTIONS=$2; shift ;;
        --setups) SETUPS=$2; shift ;;
        --pool) POOL=$2; shift ;;
        --no-slow-op) SLOW_OP=0 ;;
        --slow-op-logins) SLOW_LOGINS=$2; shift ;;
        --soak) SOAK=${2%s}; shift ;;
        --soak-setups) SOAK_SETUPS=$2; shift ;;
        --callgrind) CALLGRIND=${2%s}; shift ;;
        --out) OUT=$2; shift ;;
        --keep) KEEP=1 ;;
        -h|--help) usage; exit 0 ;;
        *) echo "bench: unknown option $1" >&2; usage >&2; exit 2 ;;
    esac
    shift
done

NGINX=${BENCH_NGINX:-$ROOT/target/release/nginx}
MODULE=${BENCH_MODULE:-$ROOT/target/release/libngx_http_auth_oidc_module.so}
for f in "$NGINX" "$MODULE"; do
    [ -e "$f" ] || { echo "bench: $f is missing (cargo build --release)" >&2; exit 1; }
done
needs="wrk node python3 curl"
[ "$CALLGRIND" -gt 0 ] && needs+=" valgrind callgrind_control"
for c in $needs; do
    command -v $c >/dev/null || { echo "bench: $c is missing (scripts/bench installs it)" >&2; exit 1; }
done

RUN=$(mktemp -d "${TMPDIR:-/tmp}/oidc-bench-XXXXXX")
RAW=$RUN/raw.jsonl
: >"$RAW"
log() { echo "bench: $*" >&2; }

### Processes: everything started is recorded and stopped on exit

declare -A NGINX_PID WORKER PORT SKIP
OP_PID="" SIDE_PID="" SAMPLER_PID="" REDIS_PID=""

cleanup() {
    local rc=$?
    set +e
    for pid in $SAMPLER_PID $SIDE_PID; do kill "$pid" 2>/dev/null; done
    for s in "${!NGINX_PID[@]}"; do kill -QUIT "${NGINX_PID[$s]}" 2>/dev/null; done
    [ -n "$OP_PID" ] && kill "$OP_PID" 2>/dev/null
    [ -n "$REDIS_PID" ] && kill "$REDIS_PID" 2>/dev/null
    for pid in "${NGINX_PID[@]}" $OP_PID $SIDE_PID $SAMPLER_PID $REDIS_PID; do
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || continue 2; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null
    done
    wait 2>/dev/null
    if [ "$KEEP" = 1 ] || [ $rc -ne 0 ]; then log "run directory kept: $RUN"; else rm -rf "$RUN"; fi
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# N distinct free ports on 127.0.0.1 (all bound at once, then released).
free_ports() {
    python3 -c '
import socket, sys
socks = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in socks: s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))' "$1"
}

wait_port() {    # port, pid of the process that should listen on it, [tries of 50 ms]
    for _ in $(seq "${3:-200}"); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        kill -0 "$2" 2>/dev/null || return 1
        sleep 0.05
    done
    return 1
}

### Ports: the OP, and per nginx instance its port and its upstream server block's port

# The nginx instance a setup runs on (both D pools share the D nginx).
# (A+cookie and A+bearer: plain proxy_pass, but requests carry B's cookie / C's token, so
# the cost of the bigger request itself is told apart from the module's.)
instance() { case $1 in D-*) echo D ;; A+*) echo A ;; *) echo "$1" ;; esac; }
INSTANCES=$(for s in $SETUPS; do instance "$s"; done | awk '!seen[$0]++' | tr '\n' ' ')
if [ "$SOAK" -gt 0 ]; then
    for s in $SOAK_SETUPS; do case " $INSTANCES " in *" $(instance "$s") "*) ;; *) INSTANCES+="$(instance "$s") " ;; esac; done
fi
if [ "$SLOW_OP" = 1 ]; then case " $INSTANCES " in *" B "*) ;; *) INSTANCES+="B " ;; esac; fi

read -r OP_PORT REDIS_PORT rest <<<"$(free_ports $((2 + 2 * $(wc -w <<<"$INSTANCES"))))"
OP=http://127.0.0.1:$OP_PORT
i=0
read -ra ports <<<"$rest"
for s in $INSTANCES; do PORT[$s]=${ports[$i]}; PORT[$s.up]=${ports[$((i + 1))]}; i=$((i + 2)); done

# The instances where a browser logs in (a session cookie per setup).
is_login() { case $1 in B|E_*) return 0 ;; *) return 1 ;; esac; }

### The OP: the real test OP, JWT access tokens, the callback of every login instance registered

log "run directory $RUN"
redirects=()
for s in $INSTANCES; do is_login "$s" && redirects+=(--redirect-uri "http://127.0.0.1:${PORT[$s]}/oidc_callback"); done
[ ${#redirects[@]} -gt 0 ] || redirects=(--redirect-uri "http://127.0.0.1:1/oidc_callback")
(cd "$ROOT/t" && exec node op/server.js --port "$OP_PORT" --access-token-format jwt "${redirects[@]}") \
    >"$RUN/op.log" 2>&1 &
OP_PID=$!
for _ in $(seq 200); do grep -q '^READY' "$RUN/op.log" && break; sleep 0.1; done
grep -q '^READY' "$RUN/op.log" || { cat "$RUN/op.log" >&2; log "the test OP did not start"; exit 1; }
op_control() { curl -sf "$OP/__control/$1" >/dev/null; }

### Redis for E_redis: Debian's redis-server, a free port, a random password, no persistence

REDIS_PASSWORD=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
REDIS_URL="redis://:$REDIS_PASSWORD@127.0.0.1:$REDIS_PORT"
redis() { REDISCLI_AUTH=$REDIS_PASSWORD redis-cli -p "$REDIS_PORT" --no-auth-warning "$@"; }
if [[ " $INSTANCES " == *" E_redis "* ]]; then
    if ! command -v redis-server >/dev/null || ! command -v redis-cli >/dev/null; then
        SKIP[E_redis]="redis-server/redis-cli missing (scripts/install-deps installs them)"
    else
        mkdir -p "$RUN/redis"
        redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --requirepass "$REDIS_PASSWORD" --save '' \
            --appendonly no --dir "$RUN/redis" --daemonize no --logfile "$RUN/redis.log" >/dev/null 2>&1 &
        REDIS_PID=$!
        for _ in $(seq 100); do [ "$(redis PING 2>/dev/null)" = PONG ] && break; sleep 0.05; done
        [ "$(redis PING 2>/dev/null)" = PONG ] || { cat "$RUN/redis.log" >&2; log "redis-server did not start"; exit 1; }
    fi
fi
# Commands Redis has processed so far (E_redis runs record how many a request costs).
redis_commands() { redis INFO stats | tr -d '\r' | sed -n 's/^total_commands_processed://p'; }

### nginx, one per setup

# The setup's config and the .inc files it includes, placeholders filled in.
render() {    # setup, file -> stdout
    sed -e "s|@CONF@|$RUN/conf/$1|g" -e "s|@RUN@|$RUN|g" -e "s|@SETUP@|$1|g" -e "s|@MODULE@|$MODULE|g" \
        -e "s|@PORT@|${PORT[$1]}|g" -e "s|@UPSTREAM_PORT@|${PORT[$1.up]}|g" -e "s|@OP@|$OP|g" \
        -e "s|@REDIS_URL@|$REDIS_URL|g" "$2"
}

start_nginx() {
    local s=$1 conf=$RUN/conf/$1/nginx.conf f
    [ -n "${SKIP[$s]:-}" ] && return
    [ -f "$BENCH/conf/$s.conf" ] || { SKIP[$s]="no such setup (bench/conf/$s.conf)"; return; }
    mkdir -p "$RUN/conf/$s"
    for f in "$BENCH"/conf/*.inc; do render "$s" "$f" >"$RUN/conf/$s/$(basename "$f")"; done
    render "$s" "$BENCH/conf/$s.conf" >"$conf"
    if ! "$NGINX" -p "$RUN/" -e "$RUN/$s.test.log" -c "$conf" -t >"$RUN/$s.test.out" 2>&1; then
        SKIP[$s]="nginx -t fails: $(sed -n 's/.*\[emerg\] //p' "$RUN/$s.test.out" | head -1)"
        return
    fi
    "$NGINX" -p "$RUN/" -e "$RUN/$s.error.log" -c "$conf" >"$RUN/$s.stderr" 2>&1 &
    NGINX_PID[$s]=$!
    wait_port "${PORT[$s]}" "${NGINX_PID[$s]}" || { cat "$RUN/$s.stderr" "$RUN/$s.error.log" >&2; exit 1; }
    for _ in $(seq 100); do
        WORKER[$s]=$(pgrep -P "${NGINX_PID[$s]}" | head -1 || true)
        [ -n "${WORKER[$s]}" ] && break
        sleep 0.05
    done
    [ -n "${WORKER[$s]}" ] || { log "$s: no worker process"; exit 1; }
}

for s in $INSTANCES; do start_nginx "$s"; done
if [ -n "${SKIP[A]:-}" ]; then log "A, the baseline, does not start: ${SKIP[A]}"; exit 1; fi

### What the requests carry (a header file per setup, one value a line)

C_TOKEN_AT=0 D_POOL_AT=0
HEADER_NAME() { case $1 in A) ;; B|A+cookie|E_*) echo Cookie ;; *) echo Authorization ;; esac; }

# A real browser login through the setup's own nginx (B by default); its cookie header.
get_session() {
    local s=${1:-B}
    python3 "$BENCH/login.py" "http://127.0.0.1:${PORT[$s]}/" >"$RUN/$s.values" || return 1
    [ "$s" = B ] && cp "$RUN/B.values" "$RUN/A+cookie.values"
    return 0
}
# A server-side session's cookie is one sealed reference (84 bytes with its name), not the
# session itself (B's cookie from the same login: about 170 bytes); and with Redis the
# session must be there. Prints why not, if not.
check_reference() {
    local s=$1 v
    v=$(head -1 "$RUN/$s.values")
    case $v in *";"*) echo "more than one session cookie: the session is in the cookie"; return 1 ;; esac
    [ ${#v} -lt 120 ] || { echo "the session cookie has ${#v} bytes: not a reference"; return 1; }
    if [ "$s" = E_redis ] && [ "$(redis --scan --pattern 'oidc:s:*' | wc -l)" -lt 1 ]; then
        echo "no oidc:s:* key in Redis after the login"; return 1
    fi
    local b=""
    [ -f "$RUN/B.values" ] && b=$(head -1 "$RUN/B.values") && b=" (B's: ${#b} bytes)"
    echo "$s: session cookie of ${#v} bytes$b" >>"$RUN/cookies"
}
get_c_token() {
    node "$BENCH/tokens.mjs" --op "$OP" --count 1 --out "$RUN/C.tokens" >/dev/null
    sed 's/^/Bearer /' "$RUN/C.tokens" >"$RUN/C.values"
    cp "$RUN/C.values" "$RUN/A+bearer.values"
    C_TOKEN_AT=$SECONDS
}
get_d_pools() {
    local alg
    for alg in RS256 ES256; do
        node "$BENCH/tokens.mjs" --op "$OP" --count "$POOL" --alg $alg --out "$RUN/D-$alg.tokens" \
            >"$RUN/D-$alg.how"
        sed 's/^/Bearer /' "$RUN/D-$alg.tokens" >"$RUN/D-$alg.values"
    done
    D_POOL_AT=$SECONDS
}
# The OP's access tokens live 600 s: get new ones well before they expire.
refresh_tokens() {
    case $1 in
        C) [ $((SECONDS - C_TOKEN_AT)) -lt "${2:-300}" ] || { get_c_token; check "$1" >/dev/null; } ;;
        D-*) [ $((SECONDS - D_POOL_AT)) -lt 300 ] || get_d_pools ;;
    esac
}

# One request as the load will send it; prints the answer when it is not 200 "ok".
check() {
    local s=$1 i header
    i=$(instance "$s")
    header=$(HEADER_NAME "$s")
    local args=(-s -o "$RUN/check.body" -w '%{http_code}' --max-time 10)
    [ -n "$header" ] && args+=(-H "$header: $(head -1 "$RUN/$s.values")")
    local code
    code=$(curl "${args[@]}" "http://127.0.0.1:${PORT[$i]}/" || echo 000)
    if [ "$code" != 200 ] || [ "$(cat "$RUN/check.body")" != ok ]; then
        echo "$code $(head -c 160 "$RUN/check.body" | tr -d '\n')"
        return 1
    fi
}

prepare() {
    local s=$1 i
    i=$(instance "$s")
    [ -n "${SKIP[$i]:-}" ] && { SKIP[$s]=${SKIP[$i]}; return; }
    case $s in
        B) get_session || { SKIP[$s]="the login failed"; return; } ;;
        E_*) get_session "$s" || { SKIP[$s]="the login failed"; return; }
             local why
             why=$(check_reference "$s") || { SKIP[$s]="not a server-side session: $why"; return; } ;;
        A+cookie) if [ -z "${PORT[B]:-}" ] || [ -n "${SKIP[B]:-}" ]; then SKIP[$s]="needs B"; return; fi
                  [ -f "$RUN/B.values" ] || get_session || { SKIP[$s]="the login failed"; return; } ;;
        C|A+bearer) [ -f "$RUN/C.values" ] || get_c_token ;;
        D-*) [ -f "$RUN/$s.values" ] || get_d_pools ;;
    esac
    local answer
    if ! answer=$(check "$s"); then SKIP[$s]="the first request is refused: $answer"; fi
}

### A timed run

proc_cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }          # utime+stime, clock ticks
proc_ns() { awk '{print $1}' "/proc/$1/schedstat"; }             # time on CPU, ns
proc_rss() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }      # kB
CLK_TCK=$(getconf CLK_TCK)

# run_wrk SETUP KIND LABEL DURATION [extra JSON]: one wrk run, one line in raw.jsonl
run_wrk() {
    local s=$1 kind=$2 label=$3 dur=$4 extra=${5:-}
    local i w header
    i=$(instance "$s") w=${WORKER[$(instance "$s")]}
    header=$(HEADER_NAME "$s")
    local args=(-t"$THREADS" -c"$CONNECTIONS" -d"${dur}s" --latency -s "$BENCH/wrk/check.lua"
        "http://127.0.0.1:${PORT[$i]}/")
    if [ -n "$header" ]; then
        args+=(-- "$header" "$RUN/$s.values")
        case $s in D-*) args+=(rotate) ;; esac
    fi
    local out=$RUN/wrk.$kind.$label.$s.out
    local cpu0 ns0 rss0 cpu1 ns1 rss1 rc0=""
    [ "$s" = E_redis ] && rc0=$(redis_commands)
    cpu0=$(proc_cpu "$w") ns0=$(proc_ns "$w") rss0=$(proc_rss "$w")
    wrk "${args[@]}" >"$out" 2>&1 || { cat "$out" >&2; log "wrk failed"; exit 1; }
    if ! kill -0 "$w" 2>/dev/null; then
        grep -E '\[(alert|crit|emerg)\]' "$RUN/$i.error.log" >&2
        log "$s: the nginx worker $w died during the run"; exit 1
    fi
    cpu1=$(proc_cpu "$w") ns1=$(proc_ns "$w") rss1=$(proc_rss "$w")
    # Commands Redis processed during the run, less the counting itself (the first INFO and
    # the second redis-cli's AUTH).
    [ -n "$rc0" ] && extra+=",\"redis_commands\":$(($(redis_commands) - rc0 - 2))"
    local result
    result=$(sed -n 's/^BENCH_RESULT //p' "$out")
    [ -n "$result" ] || { cat "$out" >&2; log "no result from wrk"; exit 1; }
    printf '{"kind":"%s","label":"%s","setup":"%s","wrk":%s,"cpu_ticks":%d,"clk_tck":%d,"sched_ns":%d,"rss_kb_before":%d,"rss_kb_after":%d%s}\n' \
        "$kind" "$label" "$s" "$result" $((cpu1 - cpu0)) "$CLK_TCK" $((ns1 - ns0)) "$rss0" "$rss1" "$extra" >>"$RAW"
    python3 "$BENCH/report.py" line "$RAW" >&2
}

### Go

for s in $SETUPS; do
    prepare "$s"
    [ -n "${SKIP[$s]:-}" ] && log "$s: skipped (${SKIP[$s]})"
done
RUNNABLE=$(for s in $SETUPS; do if [ -z "${SKIP[$s]:-}" ]; then echo "$s"; fi; done | tr '\n' ' ')

log "warm-up: 1 s of each setup (not counted)"
for s in $RUNNABLE; do run_wrk "$s" warmup 0 1; done

log "rounds: $ROUNDS x [$RUNNABLE], wrk -t$THREADS -c$CONNECTIONS -d${DURATION}s"
n=$(wc -w <<<"$RUNNABLE")
for r in $(seq "$ROUNDS"); do
    # Each round starts one setup later, so no setup always runs first or last.
    read -ra order <<<"$RUNNABLE"
    for k in $(seq 0 $((n - 1))); do
        s=${order[$(((k + r - 1) % n))]}
        refresh_tokens "$s"
        run_wrk "$s" round "$r" "$DURATION"
    done
done

if [ "$SLOW_OP" = 1 ] && [ -z "${SKIP[B]:-}" ]; then
    [ -f "$RUN/B.values" ] || get_session
    log "slow OP: B alone, then B while $SLOW_LOGINS logins at a time wait 2 s for the OP's token endpoint"
    for r in $(seq "$ROUNDS"); do
        run_wrk B slowop "quiet-$r" "$DURATION"
        op_control 'delay?path=/token&ms=2000'
        python3 "$BENCH/login.py" --loop "$SLOW_LOGINS" "http://127.0.0.1:${PORT[B]}/" >"$RUN/side.$r.out" 2>&1 &
        SIDE_PID=$!
        sleep 1
        curl -s "$OP/__control/stats" >"$RUN/side.$r.stats0"
        run_wrk B slowop "loaded-$r" "$DURATION"
        curl -s "$OP/__control/stats" >"$RUN/side.$r.stats1"
        kill "$SIDE_PID"; wait "$SIDE_PID" 2>/dev/null || true; SIDE_PID=""
        op_control 'delay?path=/token&ms=0'
        python3 "$BENCH/report.py" side-load "$RAW" "$RUN/side.$r.out" "$RUN/side.$r.stats0" "$RUN/side.$r.stats1"
    done
fi

if [ "$SOAK" -gt 0 ]; then
    every=$((SOAK / 30 > 1 ? SOAK / 30 : 1))
    for s in $SOAK_SETUPS; do
        if [ -n "${SKIP[$s]:-}" ] || [ -z "${WORKER[$(instance "$s")]:-}" ]; then log "soak $s: skipped"; continue; fi
        case $s in
            B|E_*) [ -f "$RUN/$s.values" ] || get_session "$s" ;;
            C) get_c_token; check C >/dev/null       # a fresh token, cached: it must outlive the run
               if [ "$SOAK" -gt 540 ]; then log "soak C: the OP's tokens live 600 s; a longer run sees 401s"; fi ;;
            D-*) get_d_pools ;;
        esac
        w=${WORKER[$(instance "$s")]}
        log "soak $s: ${SOAK}s, worker RSS every ${every}s"
        (t0=$SECONDS; while kill -0 "$w" 2>/dev/null; do
            echo "$((SECONDS - t0)) $(proc_rss "$w")"; sleep "$every"; done) >"$RUN/soak.$s.rss" &
        SAMPLER_PID=$!
        run_wrk "$s" soak "$SOAK" "$SOAK" ',"rss_samples_file":"'"$RUN/soak.$s.rss"'"'
        kill "$SAMPLER_PID"; wait "$SAMPLER_PID" 2>/dev/null || true; SAMPLER_PID=""
        echo "$SOAK $(proc_rss "$w")" >>"$RUN/soak.$s.rss"
    done
fi

# Crashed workers log an alert; a new worker pid means the one measured died.
for s in "${!NGINX_PID[@]}"; do
    now=$(pgrep -P "${NGINX_PID[$s]}" | head -1 || true)
    [ "$now" = "${WORKER[$s]}" ] || echo "$s: the worker changed (${WORKER[$s]} -> ${now:-none}): it crashed"
    if grep -qE '\[(alert|crit|emerg)\]' "$RUN/$s.error.log"; then
        echo "$s: the error log has: $(grep -m1 -E '\[(alert|crit|emerg)\]' "$RUN/$s.error.log")"
    fi
done >"$RUN/warnings"

WRK_DESC="-t$THREADS -c$CONNECTIONS -d${DURATION}s"

### Instructions per request under callgrind (optional)

# Per setup, its instance is restarted as one process (master_process off) under
# callgrind with instrumentation off: a warm-up, instrumentation on, wrk, one dump.
# (A fresh process per setup: later dumps of one process get a broken summary line.)
if [ "$CALLGRIND" -gt 0 ]; then
    CG_DIR=$BENCH/results/callgrind
    mkdir -p "$CG_DIR"
    THREADS=1 CONNECTIONS=4
    for s in $RUNNABLE; do
        i=$(instance "$s")
        if [ -n "${NGINX_PID[$i]:-}" ]; then
            kill -QUIT "${NGINX_PID[$i]}"
            wait "${NGINX_PID[$i]}" 2>/dev/null || true
            unset "NGINX_PID[$i]"
        fi
        sed -i 's/^master_process on;/master_process off;/' "$RUN/conf/$i/main.inc"
        rm -f "$RUN/cg.out"*
        valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$RUN/cg.out" \
            "$NGINX" -p "$RUN/" -e "$RUN/$i.error.log" -c "$RUN/conf/$i/nginx.conf" >"$RUN/$s.valgrind.log" 2>&1 &
        NGINX_PID[$i]=$! WORKER[$i]=$!
        wait_port "${PORT[$i]}" "${NGINX_PID[$i]}" 1200 || { cat "$RUN/$s.valgrind.log" >&2; exit 1; }
        refresh_tokens "$s" 120
        check "$s" >/dev/null || true
        run_wrk "$s" cgwarmup 0 1
        callgrind_control -i on "${NGINX_PID[$i]}" >/dev/null 2>&1
        run_wrk "$s" callgrind "$CALLGRIND" "$CALLGRIND"
        callgrind_control -d "${NGINX_PID[$i]}" >/dev/null 2>&1
        mv "$RUN/cg.out.1" "$CG_DIR/$s.out"
        python3 "$BENCH/report.py" annotate "$RAW" \
            "{\"instructions\": $(sed -n 's/^totals: //p' "$CG_DIR/$s.out"), \"profile\": \"$CG_DIR/$s.out\"}"
        kill -QUIT "${NGINX_PID[$i]}"
        wait "${NGINX_PID[$i]}" 2>/dev/null || true
        unset "NGINX_PID[$i]"
    done
    rm -f "$RUN/cg.out"*
fi

# What was skipped, how the tokens were made and what went wrong, for the report.
{
    for s in $SETUPS; do if [ -n "${SKIP[$s]:-}" ]; then printf '%s\t%s\n' "$s" "${SKIP[$s]}"; fi; done
} >"$RUN/skipped.tsv"
cat "$RUN/cookies" "$RUN"/D-*.how "$RUN/warnings" 2>/dev/null >"$RUN/notes" || true

mkdir -p "$(dirname "$OUT")"
python3 "$BENCH/report.py" final "$RAW" --out "$OUT" --skipped "$RUN/skipped.tsv" --notes "$RUN/notes" \
    --setups "$SETUPS" --nginx "$NGINX" --module "$MODULE" --root "$ROOT" \
    --wrk "$WRK_DESC" --rounds "$ROUNDS"

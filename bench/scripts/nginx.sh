#!/usr/bin/env bash
# Debian's nginx as a plain reverse proxy in front of the fake upstream: the benchmark's reference for
# what a proxy costs. Everything lives in one temp dir; nginx runs in the foreground (daemon off) as a
# child of this script's caller, listening on 127.0.0.1 only.
#
#   nginx.sh start DIR LISTEN_PORT UPSTREAM_PORT [WORKERS] [CPUS]   # prints the master pid
#   nginx.sh stop DIR
#
# WORKERS defaults to 1; CPUS (a taskset list, e.g. "1") pins master and workers.
# Choices, all in the conf below: access_log off (the gateway writes no access log either); proxy_buffering
# off (each upstream read is written to the client at once, as the gateway does); HTTP/1.1 with keep-alive
# to the upstream (keepalive 64 idle connections per worker, Connection "" so it is not closed); and
# keepalive_requests raised on both sides so nginx never closes a benchmark connection after 1000 requests.
set -euo pipefail

cmd="${1:-}"
dir="${2:-}"
[ -n "$cmd" ] && [ -n "$dir" ] || { echo "usage: nginx.sh start DIR LISTEN_PORT UPSTREAM_PORT [WORKERS] [CPUS] | stop DIR" >&2; exit 2; }

case "$cmd" in
  start)
    port="$3"; upstream="$4"; workers="${5:-1}"; cpus="${6:-}"
    command -v nginx >/dev/null || { echo "nginx.sh: nginx is not installed (apt-get install -y nginx-light)" >&2; exit 1; }
    mkdir -p "$dir/tmp"
    cat > "$dir/nginx.conf" <<EOF
worker_processes $workers;
daemon off;
master_process on;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events {
    worker_connections 4096;
}
http {
    access_log off;
    client_body_temp_path $dir/tmp/body;
    proxy_temp_path $dir/tmp/proxy;
    fastcgi_temp_path $dir/tmp/fastcgi;
    uwsgi_temp_path $dir/tmp/uwsgi;
    scgi_temp_path $dir/tmp/scgi;
    keepalive_timeout 75s;
    keepalive_requests 1000000;
    upstream fake {
        server 127.0.0.1:$upstream;
        keepalive 64;
        keepalive_requests 1000000;
        keepalive_timeout 60s;
    }
    server {
        listen 127.0.0.1:$port;
        location / {
            proxy_pass http://fake;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_buffering off;
        }
    }
}
EOF
    nginx -t -q -c "$dir/nginx.conf" -p "$dir" 2> "$dir/test.log" || { cat "$dir/test.log" >&2; exit 1; }
    if [ -n "$cpus" ]; then
      taskset -c "$cpus" nginx -c "$dir/nginx.conf" -p "$dir" >> "$dir/stdout.log" 2>&1 < /dev/null &
    else
      nginx -c "$dir/nginx.conf" -p "$dir" >> "$dir/stdout.log" 2>&1 < /dev/null &
    fi
    pid=$!
    for _ in $(seq 1 100); do
      if [ -s "$dir/nginx.pid" ] && (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then cat "$dir/nginx.pid"; exit 0; fi
      kill -0 "$pid" 2>/dev/null || { echo "nginx.sh: nginx exited:" >&2; cat "$dir/error.log" "$dir/stdout.log" >&2 2>/dev/null; exit 1; }
      sleep 0.05
    done
    echo "nginx.sh: nginx did not listen on 127.0.0.1:$port" >&2
    exit 1
    ;;
  stop)
    [ -f "$dir/nginx.pid" ] || exit 0
    pid="$(cat "$dir/nginx.pid")"
    kill -QUIT "$pid" 2>/dev/null || exit 0
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || exit 0; sleep 0.05; done
    kill -TERM "$pid" 2>/dev/null || true
    ;;
  *)
    echo "nginx.sh: unknown command $cmd" >&2; exit 2 ;;
esac

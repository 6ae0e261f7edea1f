# Sourced by the bench scripts: the gateway's configuration for a bench, one provider on the fake upstream.
# bench_gateway_config FILE LISTEN_PORT UPSTREAM_PORT
bench_gateway_config() {
  cat > "$1" <<EOF
listen: 127.0.0.1:$2
limits: {keepalive: 15s}
providers:
  up:
    type: openai
    base_url: http://127.0.0.1:$3/v1
    api_key: x
models:
  - name: fast
    deployments: [{provider: up, model: fast}]
  - name: paced
    deployments: [{provider: up, model: paced}]
EOF
}

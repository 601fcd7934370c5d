#!/usr/bin/env bash
# make demo: the coordinator with its embedded NATS server on loopback, plus
# K separate expert processes, solving configs/demo.yaml. Every process is
# stopped at the end, on Ctrl-C too.
set -euo pipefail
cd "$(dirname "$0")/.."

K=${K:-4}
PORT=${PORT:-$(( 20000 + RANDOM % 20000 ))}
CONFIG=${CONFIG:-configs/demo.yaml}
OUT=${OUT:-out/demo}

go build -o bin/coordinator ./cmd/coordinator
go build -o bin/expert ./cmd/expert

pids=()
cleanup() {
	for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$OUT"
for i in $(seq 1 "$K"); do
	# The experts retry until the coordinator's embedded server is up.
	bin/expert -nats "nats://127.0.0.1:$PORT" -id "demo-$i" -json-logs 2>"$OUT/expert-$i.log" &
	pids+=($!)
done

start=$(date +%s.%N)
bin/coordinator solve -config "$CONFIG" -listen "$PORT" -experts 0 -min-experts "$K" -out "$OUT" >"$OUT/result.json"
end=$(date +%s.%N)

python3 - "$OUT/metrics.json" <<'PY' 2>/dev/null || cat "$OUT/metrics.json"
import json, sys
m = json.load(open(sys.argv[1]))
print(f"pde {m['pde']}  split {m['split']}  coupling {m['coupling']}  N {m['basis_functions']}")
print(f"rel_l2 {m['rel_l2']:.3e}  residual_rms {m['residual_rms']:.3e}  sweeps {m['sweeps']}  interface mismatch {m['interface_mismatch']:.2e}")
for e in m["experts"]:
    print(f"  expert {e['index']} on {e['instance']}: {e['status']} in {e['iterations']} iterations, {e['rows']} rows, {e['seconds']:.3f} s")
print(f"coordinator wall {m['wall_seconds']:.2f} s")
PY
printf 'demo wall time (build excluded): %.2f s; outputs in %s\n' "$(awk -v a="$start" -v b="$end" 'BEGIN{print b-a}')" "$OUT"

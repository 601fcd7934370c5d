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
printf 'solve wall time (build excluded): %.2f s; outputs in %s\n' "$(awk -v a="$start" -v b="$end" 'BEGIN{print b-a}')" "$OUT"

# Then train on diffusion-sorption-small through the same expert processes:
# PI-HC first, then PI-HC-MoE fine-tuned from it (train.init), and evaluate
# the mixture on unseen instances.
DATA=out/ds-small
mkdir -p "$DATA"
bin/coordinator gen -config configs/diffusion-sorption-small.yaml -out "$DATA/train.npz" -n 32 -seed 1 >/dev/null
bin/coordinator gen -config configs/diffusion-sorption-small.yaml -out "$DATA/test.npz" -n 8 -seed 2 >/dev/null
join=(-listen "$PORT" -experts 0 -min-experts "$K")
start=$(date +%s.%N)
bin/coordinator train -config configs/diffusion-sorption-small-hc.yaml "${join[@]}" -out "$DATA/hc" >/dev/null
bin/coordinator train -config configs/diffusion-sorption-small-ft.yaml "${join[@]}" -out "$DATA/ft" >/dev/null
bin/coordinator eval -config configs/diffusion-sorption-small-ft.yaml -checkpoint "$DATA/ft/checkpoint.npz" "${join[@]}" -out "$DATA/ft-eval" >/dev/null
end=$(date +%s.%N)
python3 - "$DATA/ft-eval/metrics.json" "$DATA/hc/train.jsonl" "$DATA/ft/train.jsonl" <<'PY' 2>/dev/null || cat "$DATA/ft-eval/metrics.json"
import json, sys
m = json.load(open(sys.argv[1]))
for name, path in (("PI-HC", sys.argv[2]), ("PI-HC-MoE fine-tuning", sys.argv[3])):
    log = [json.loads(l) for l in open(path)]
    print(f"{name}: {len(log)} steps, loss {log[0]['loss']:.3e} -> {log[-1]['loss']:.3e}")
print(f"PI-HC-MoE test rel L2 {100*m['rel_l2_mean']:.2f} ± {100*m['rel_l2_std']:.2f} % over {m['instances']} instances, residual_rms {m['residual_rms']:.2e}")
PY
printf 'train + eval wall time: %.2f s\n' "$(awk -v a="$start" -v b="$end" 'BEGIN{print b-a}')"

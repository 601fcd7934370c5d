package job

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/hcmoe/hcmoe/config"
	"github.com/hcmoe/hcmoe/model"
)

const tinyTrain = `
seed: 3
pde: {name: diffusion-sorption, ic: {kind: constant}}
mesh: {t: {min: 0, max: 50, n: 6}, x: {min: 0.03125, max: 0.96875, n: 16}}
experts: {split: [1, 2], points: 40, ic_bc: replicate}
solver: {ridge: 1.0e-8, max_iter: 60}
basis: {kind: chebyshev, degrees: [2, 2]}
transport: {local_experts: 2, timeout: 20s}
train:
  mode: MODE
  network: {kind: mlp, hidden: [8], out: 4}
  data: DATA
  test: DATA
  steps: 3
  batch: 2
  lr: 1.0e-3
  checkpoint_every: 1
`

func tinyConfig(t *testing.T, mode string) (*config.Config, string) {
	t.Helper()
	dir := t.TempDir()
	data := filepath.Join(dir, "data.npz")
	text := strings.NewReplacer("MODE", mode, "DATA", data).Replace(tinyTrain)
	cfg, err := config.Parse([]byte(text), "tiny.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := Gen(context.Background(), cfg, []byte(text), data, 3, 1, nil); err != nil {
		t.Fatal(err)
	}
	return cfg, dir
}

func params(t *testing.T, path string) [][]float64 {
	t.Helper()
	c, err := model.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	var out [][]float64
	for _, p := range c.Params {
		out = append(out, p.Value)
	}
	return out
}

// Three steps straight and two steps plus a resumed third give the same
// parameters bit for bit; eval reads the checkpoint; a soft step runs.
func TestTrainResumeEval(t *testing.T) {
	for _, mode := range []string{"hard", "soft"} {
		t.Run(mode, func(t *testing.T) {
			cfg, dir := tinyConfig(t, mode)
			ctx := context.Background()
			straight := Env{Experts: -1, Out: filepath.Join(dir, "straight"), Log: zerolog.Nop()}
			if err := Train(ctx, cfg, straight, false); err != nil {
				t.Fatal(err)
			}
			resumed := Env{Experts: -1, Out: filepath.Join(dir, "resumed"), Log: zerolog.Nop()}
			two := *cfg
			two.Train.Steps = 2
			if err := Train(ctx, &two, resumed, false); err != nil {
				t.Fatal(err)
			}
			// A step logged after the last checkpoint is logged again on
			// resume, not twice.
			logPath := filepath.Join(resumed.Out, "train.jsonl")
			f, err := os.OpenFile(logPath, os.O_WRONLY|os.O_APPEND, 0)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.WriteString(`{"step":3,"loss":1}` + "\n"); err != nil {
				t.Fatal(err)
			}
			f.Close()
			if err := Train(ctx, cfg, resumed, true); err != nil {
				t.Fatal(err)
			}
			// A fresh run in a used directory starts a new log.
			if err := Train(ctx, cfg, straight, false); err != nil {
				t.Fatal(err)
			}
			a := params(t, filepath.Join(straight.Out, "checkpoint.npz"))
			b := params(t, filepath.Join(resumed.Out, "checkpoint.npz"))
			for i := range a {
				for j := range a[i] {
					if a[i][j] != b[i][j] {
						t.Fatalf("param %d[%d]: %v straight, %v resumed", i, j, a[i][j], b[i][j])
					}
				}
			}
			for _, out := range []string{resumed.Out, straight.Out} {
				log, err := os.ReadFile(filepath.Join(out, "train.jsonl"))
				if err != nil || strings.Count(string(log), "\n") != 3 || !strings.Contains(string(log), `"step":3,"loss":`) ||
					strings.Contains(string(log), `"step":3,"loss":1}`) {
					t.Fatalf("%s/train.jsonl: %q, %v", out, log, err)
				}
			}
			m, err := Eval(ctx, cfg, Env{Experts: -1, Out: filepath.Join(dir, "eval"), Log: zerolog.Nop()}, filepath.Join(straight.Out, "checkpoint.npz"))
			if err != nil {
				t.Fatal(err)
			}
			if m.Instances != 3 || len(m.RelL2) != 3 || !(m.RelL2Mean > 0) {
				t.Fatalf("eval metrics %+v", m)
			}
			for _, f := range []string{"metrics.json", "median-prediction.png", "worst-error.png"} {
				if _, err := os.Stat(filepath.Join(dir, "eval", f)); err != nil {
					t.Fatal(err)
				}
			}
			// solve -checkpoint: one instance with the trained basis.
			one := *cfg
			c := 0.1
			one.PDE.IC.C = &c
			sm, err := Solve(ctx, &one, Env{Experts: -1, Out: filepath.Join(dir, "solve"), Log: zerolog.Nop(),
				Checkpoint: filepath.Join(straight.Out, "checkpoint.npz")}, "")
			if mode == "soft" {
				if err == nil {
					t.Fatal("solve with a soft network's checkpoint accepted")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if sm.N != 4 || !(float64(sm.RelL2) > 0) {
				t.Fatalf("solve -checkpoint: %+v", sm)
			}
		})
	}
}

// train.init starts from a checkpoint's parameters with a fresh optimizer:
// Adam's first step, m̂/√v̂ = g/|g|, then moves every parameter by the
// learning rate (less only where |g| is near Adam's ε); a restored
// optimizer would not. A checkpoint of another network is refused.
func TestTrainInit(t *testing.T) {
	cfg, dir := tinyConfig(t, "hard")
	ctx := context.Background()
	first := Env{Experts: -1, Out: filepath.Join(dir, "first"), Log: zerolog.Nop()}
	if err := Train(ctx, cfg, first, false); err != nil {
		t.Fatal(err)
	}
	init := filepath.Join(first.Out, "checkpoint.npz")
	next := *cfg
	next.Train.Init, next.Train.Steps = init, 1
	out := Env{Experts: -1, Out: filepath.Join(dir, "next"), Log: zerolog.Nop()}
	if err := Train(ctx, &next, out, false); err != nil {
		t.Fatal(err)
	}
	a, b := params(t, init), params(t, filepath.Join(out.Out, "checkpoint.npz"))
	lr := cfg.Train.LR
	moved, total := 0, 0
	for i := range a {
		for j := range a[i] {
			d := math.Abs(b[i][j] - a[i][j])
			if d > lr*(1+1e-9) {
				t.Fatalf("param %d[%d] moved %g, more than the learning rate %g", i, j, d, lr)
			}
			if d > 0.99*lr {
				moved++
			}
			total++
		}
	}
	if moved < total*9/10 {
		t.Fatalf("%d of %d parameters moved by the learning rate", moved, total)
	}
	other := next
	other.Train.Network.Hidden = []int{5}
	err := Train(ctx, &other, Env{Experts: -1, Out: filepath.Join(dir, "other"), Log: zerolog.Nop()}, false)
	if err == nil || !strings.Contains(err.Error(), "train.init") {
		t.Fatalf("a checkpoint of another network: %v", err)
	}
}

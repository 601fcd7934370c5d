package job

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"

	"github.com/hcmoe/hcmoe/config"
	"github.com/hcmoe/hcmoe/dataset"
	"github.com/hcmoe/hcmoe/model"
	"github.com/hcmoe/hcmoe/train"
)

// LoadDataset reads a gen file for training or evaluation: trajectories on
// the config's grid and their initial values.
func LoadDataset(path string, cfg *config.Config) (*dataset.Dataset, error) {
	g, err := cfg.Grid()
	if err != nil {
		return nil, err
	}
	d, err := dataset.Read(path, g)
	if err != nil {
		return nil, err
	}
	if d.U0 == nil {
		return nil, fmt.Errorf("dataset %s: no initial values u0 (written by coordinator gen)", path)
	}
	return d, nil
}

// newNetwork builds the configured basis network.
func newNetwork(cfg *config.Config, rng *rand.Rand) (model.Network, error) {
	nw := cfg.Train.Network
	g, err := cfg.Grid()
	if err != nil {
		return nil, err
	}
	in := g.Dims() + 1
	out := nw.Out
	if cfg.Train.Mode == "soft" {
		out = 1
	}
	switch nw.Kind {
	case "mlp":
		sizes := append(append([]int{in}, nw.Hidden...), out)
		return model.NewMLP(sizes, model.ActGELU, rng)
	default:
		return newFNO(cfg, in, out, rng)
	}
}

// openLog opens train.jsonl for appending. A fresh run starts it empty; a
// resumed one keeps the lines up to the checkpoint's step and drops those
// of steps the checkpoint does not hold, which the resumed run logs again.
func openLog(path string, resume bool, step int) (*os.File, error) {
	if !resume {
		return os.Create(path)
	}
	old, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	var kept []byte
	for line := range bytes.Lines(old) {
		var l StepLog
		if json.Unmarshal(line, &l) == nil && l.Step <= step {
			kept = append(kept, line...)
		}
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if _, err := f.Write(kept); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// StepLog is one line of train.jsonl.
type StepLog struct {
	Step        int         `json:"step"`
	Loss        float64     `json:"loss"`
	Parts       train.Parts `json:"parts"`
	GradNorm    float64     `json:"grad_norm"`
	LR          float64     `json:"lr"`
	Iterations  int         `json:"solver_iterations"`
	Unconverged int         `json:"unconverged_experts"`
	Seconds     float64     `json:"seconds"`
}

// Train runs `coordinator train`: it writes out/train.jsonl (a line per
// step), out/checkpoint.npz every train.checkpoint_every steps, at the end
// and when ctx is cancelled (SIGINT, SIGTERM), and continues from that
// checkpoint with resume. Batches are drawn from a generator seeded by
// (seed, step), and nothing else is random, so a resumed run continues the
// same run bit for bit.
func Train(ctx context.Context, cfg *config.Config, env Env, resume bool) (err error) {
	tc := cfg.Train
	if tc.Data == "" {
		return errors.New("train.data: required: a training set written by coordinator gen")
	}
	data, err := LoadDataset(tc.Data, cfg)
	if err != nil {
		return err
	}
	var net model.Network
	if tc.Init != "" && !resume {
		net, err = loadNetwork(cfg, tc.Init)
		if err != nil {
			err = fmt.Errorf("train.init: %w", err)
		}
	} else {
		net, err = newNetwork(cfg, rand.New(rand.NewPCG(cfg.Seed, 0x6e6574)))
	}
	if err != nil {
		return err
	}
	opt, err := newOptimizer(tc)
	if err != nil {
		return err
	}
	sched := newSchedule(tc)
	if err := os.MkdirAll(env.Out, 0o755); err != nil {
		return err
	}
	ckpt := filepath.Join(env.Out, "checkpoint.npz")
	start := 0
	if resume {
		c, err := model.Load(ckpt)
		if err != nil {
			return fmt.Errorf("resume: %w", err)
		}
		if err := c.Restore(net.Params()); err != nil {
			return fmt.Errorf("resume: %w", err)
		}
		if err := c.RestoreOptimizer(opt, net.Params()); err != nil {
			return fmt.Errorf("resume: %w", err)
		}
		start = c.Step
	}
	tr, closeExperts, err := newTrainer(ctx, cfg, env, net)
	if err != nil {
		return err
	}
	defer closeExperts()
	tr.SkipUnconverged = tc.Unconverged == "skip"
	logf, err := openLog(filepath.Join(env.Out, "train.jsonl"), resume, start)
	if err != nil {
		return err
	}
	defer logf.Close()
	enc := json.NewEncoder(logf)
	save := func(step int) error {
		c, err := model.NewCheckpoint(step, net.Params(), opt, nil, map[string]string{"config": tc.Data, "version": Version})
		if err != nil {
			return err
		}
		return model.Save(ckpt, c)
	}
	progress := ProgressWriter()
	began := time.Now()
	for step := start; step < tc.Steps; step++ {
		if ctx.Err() != nil {
			if err := save(step); err != nil {
				return err
			}
			return fmt.Errorf("train: interrupted at step %d, checkpoint saved: %w", step, ctx.Err())
		}
		t0 := time.Now()
		model.ZeroGrad(net.Params())
		rng := rand.New(rand.NewPCG(cfg.Seed, uint64(step)))
		line := StepLog{Step: step + 1, LR: sched.LR(step)}
		for b := range tc.Batch {
			i := rng.IntN(data.N)
			st, _, err := tr.Gradient(ctx, data.Initial(i), 1/float64(tc.Batch), fmt.Sprintf("train/%d", b) /* reused each step: the backward has run before the next forward, and the experts keep one state per slot instead of filling their caches */)
			if err != nil {
				if ctx.Err() != nil {
					continue // the top of the loop saves
				}
				return fmt.Errorf("train: step %d: %w", step+1, err)
			}
			w := 1 / float64(tc.Batch)
			line.Parts.Residual += w * st.Loss.Residual
			line.Parts.Initial += w * st.Loss.Initial
			line.Parts.Boundary += w * st.Loss.Boundary
			line.Iterations += st.Iterations
			line.Unconverged += st.Unconverged
		}
		if ctx.Err() != nil {
			step--
			continue
		}
		line.Loss = line.Parts.Total()
		line.GradNorm = model.ClipGlobalNorm(net.Params(), tc.Clip)
		if err := opt.Step(net.Params(), line.LR); err != nil {
			return fmt.Errorf("train: step %d: %w", step+1, err)
		}
		line.Seconds = time.Since(t0).Seconds()
		if err := enc.Encode(line); err != nil {
			return err
		}
		if progress != nil {
			el := time.Since(began)
			done := step + 1 - start
			eta := time.Duration(float64(el) / float64(done) * float64(tc.Steps-step-1))
			fmt.Fprintf(progress, "\rtrain step %d/%d loss %.4g |g| %.3g lr %.2g ETA %s   ", step+1, tc.Steps, line.Loss, line.GradNorm, line.LR, eta.Round(time.Second))
		}
		if (step+1)%tc.CheckpointEvery == 0 {
			if err := save(step + 1); err != nil {
				return err
			}
		}
		if math.IsNaN(line.Loss) {
			return fmt.Errorf("train: step %d: loss is NaN", step+1)
		}
	}
	if progress != nil {
		fmt.Fprintln(progress)
	}
	return save(tc.Steps)
}

func newOptimizer(tc config.Train) (model.Optimizer, error) {
	switch tc.Optimizer {
	case "adamw":
		return model.NewAdamW(tc.WeightDecay), nil
	case "lion":
		return model.NewLion(tc.WeightDecay), nil
	case "adam":
		return model.NewAdam(), nil
	}
	return nil, fmt.Errorf("train.optimizer: unknown %q", tc.Optimizer)
}

func newSchedule(tc config.Train) model.Schedule {
	var s model.Schedule
	switch tc.Schedule {
	case "constant":
		s = model.Constant{Base: tc.LR}
	case "exponential":
		s = model.Exponential{Base: tc.LR, Final: tc.FinalLR, Steps: tc.Steps}
	case "linear":
		s = model.Linear{Base: tc.LR, Final: tc.FinalLR, Steps: tc.Steps}
	default:
		s = model.Step{Base: tc.LR, Factor: tc.DecayFactor, Every: tc.DecayEvery, Floor: tc.FinalLR}
	}
	if tc.Warmup > 0 {
		s = model.Warmup{Steps: tc.Warmup, Then: s}
	}
	return s
}

// loadNetwork builds the configured network with the parameters of a
// checkpoint.
func loadNetwork(cfg *config.Config, checkpoint string) (model.Network, error) {
	net, err := newNetwork(cfg, rand.New(rand.NewPCG(cfg.Seed, 0x6e6574)))
	if err != nil {
		return nil, err
	}
	c, err := model.Load(checkpoint)
	if err != nil {
		return nil, err
	}
	if err := c.Restore(net.Params()); err != nil {
		return nil, fmt.Errorf("checkpoint %s: %w", checkpoint, err)
	}
	return net, nil
}

// newFNO builds the configured Fourier neural operator on the config's grid.
func newFNO(cfg *config.Config, in, out int, rng *rand.Rand) (model.Network, error) {
	g, err := cfg.Grid()
	if err != nil {
		return nil, err
	}
	nw := cfg.Train.Network
	return model.NewFNO(model.FNOConfig{Grid: g.Shape(), In: in, Width: nw.Width, Layers: nw.Layers, Modes: nw.Modes,
		Hidden: nw.Projection, Out: out, ActivateLast: cfg.Train.Mode == "hard"}, rng)
}

// newTrainer builds the trainer of a config around net: in hard mode the
// layout, the plans and the experts (whose cluster the returned function
// closes).
func newTrainer(ctx context.Context, cfg *config.Config, env Env, net model.Network) (*train.Trainer, func(), error) {
	g, err := cfg.Grid()
	if err != nil {
		return nil, nil, err
	}
	eq, err := cfg.Equation()
	if err != nil {
		return nil, nil, err
	}
	scheme, err := cfg.Scheme()
	if err != nil {
		return nil, nil, err
	}
	tr := &train.Trainer{Net: net, Grid: g, Eq: eq, Scheme: scheme, N: cfg.Train.Network.Out,
		Ridge: cfg.Solver.Ridge, ResidualWeight: cfg.Solver.ResidualWeight, Backward: cfg.BackwardSettings(),
		LossNorms: cfg.Train.Loss == "norms"}
	if cfg.Train.Mode == "soft" {
		tr.Mode = train.Soft
		return tr, func() {}, nil
	}
	if tr.Layout, tr.Plans, err = layout(cfg, g, eq); err != nil {
		return nil, nil, err
	}
	cl, err := Connect(ctx, cfg, env)
	if err != nil {
		return nil, nil, err
	}
	tr.Router = cl.Router
	tr.Options = runOptions(cfg)
	return tr, cl.Close, nil
}

package job

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/hcmoe/hcmoe/config"
	"github.com/hcmoe/hcmoe/report"
)

// EvalMetrics is metrics.json of `coordinator eval`.
type EvalMetrics struct {
	Mode               string    `json:"mode"`
	Split              []int     `json:"split"`
	Instances          int       `json:"instances"`
	RelL2Mean          float64   `json:"rel_l2_mean"`
	RelL2Std           float64   `json:"rel_l2_std"`
	RelL2              []float64 `json:"rel_l2"`
	ResidualRMS        float64   `json:"residual_rms"` // mean over instances of the RMS PDE residual on all interior points
	SecondsPerInstance float64   `json:"seconds_per_instance"`
	Unconverged        int       `json:"unconverged_experts"`
}

// Eval runs `coordinator eval`: the network of checkpoint ckpt on every
// instance of train.test (each solved through the experts in hard mode),
// against the references. It writes metrics.json and PNGs of the median and
// the worst instance (prediction, reference, error) to env.Out.
func Eval(ctx context.Context, cfg *config.Config, env Env, ckpt string) (*EvalMetrics, error) {
	tc := cfg.Train
	if tc.Test == "" {
		return nil, fmt.Errorf("train.test: required: a test set written by coordinator gen")
	}
	data, err := LoadDataset(tc.Test, cfg)
	if err != nil {
		return nil, err
	}
	g, err := cfg.Grid()
	if err != nil {
		return nil, err
	}
	eq, err := cfg.Equation()
	if err != nil {
		return nil, err
	}
	scheme, err := cfg.Scheme()
	if err != nil {
		return nil, err
	}
	net, err := loadNetwork(cfg, ckpt)
	if err != nil {
		return nil, err
	}
	tr, closeExperts, err := newTrainer(ctx, cfg, env, net)
	if err != nil {
		return nil, err
	}
	defer closeExperts()
	m := &EvalMetrics{Mode: tc.Mode, Split: cfg.Experts.Split, Instances: data.N}
	preds := make([][]float64, data.N)
	start := time.Now()
	for i := range data.N {
		st, u, err := tr.Predict(ctx, data.Initial(i))
		if err != nil {
			return nil, fmt.Errorf("eval: instance %d: %w", i, err)
		}
		m.Unconverged += st.Unconverged
		preds[i] = u
		m.RelL2 = append(m.RelL2, relL2(u, data.Reference(i)))
		rms, _, err := Residual(g, eq, scheme, u)
		if err != nil {
			return nil, err
		}
		m.ResidualRMS += rms / float64(data.N)
	}
	m.SecondsPerInstance = time.Since(start).Seconds() / float64(data.N)
	for _, e := range m.RelL2 {
		m.RelL2Mean += e / float64(data.N)
	}
	for _, e := range m.RelL2 {
		m.RelL2Std += (e - m.RelL2Mean) * (e - m.RelL2Mean) / float64(data.N)
	}
	m.RelL2Std = math.Sqrt(m.RelL2Std)
	if err := os.MkdirAll(env.Out, 0o755); err != nil {
		return nil, err
	}
	order := make([]int, data.N)
	for i := range order {
		order[i] = i
	}
	sort.Slice(order, func(a, b int) bool { return m.RelL2[order[a]] < m.RelL2[order[b]] })
	for _, pick := range []struct {
		name string
		i    int
	}{{"median", order[data.N/2]}, {"worst", order[data.N-1]}} {
		u, ref := preds[pick.i], data.Reference(pick.i)
		diff := make([]float64, len(u))
		for j := range u {
			diff[j] = u[j] - ref[j]
		}
		for _, f := range []struct {
			suffix string
			v      []float64
		}{{"prediction", u}, {"reference", ref}, {"error", diff}} {
			title := fmt.Sprintf("%s instance %d: %s (rel L2 %.3g)", pick.name, pick.i, f.suffix, m.RelL2[pick.i])
			if err := report.HeatMap(filepath.Join(env.Out, pick.name+"-"+f.suffix+".png"), title, g, f.v); err != nil {
				return nil, err
			}
		}
	}
	return m, report.WriteJSON(filepath.Join(env.Out, "metrics.json"), m)
}

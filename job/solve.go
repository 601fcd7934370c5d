package job

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"time"

	"github.com/hcmoe/hcmoe/config"
	"github.com/hcmoe/hcmoe/constraint"
	"github.com/hcmoe/hcmoe/mesh"
	"github.com/hcmoe/hcmoe/moe"
	"github.com/hcmoe/hcmoe/pde"
	"github.com/hcmoe/hcmoe/report"
)

// ExpertMetrics describes one expert's last solve in metrics.json.
type ExpertMetrics struct {
	Index           int           `json:"index"`
	Instance        string        `json:"instance"`
	Status          string        `json:"status"`
	Iterations      int           `json:"iterations"`
	InnerIterations int           `json:"inner_iterations"`
	GradNorm        report.Number `json:"grad_norm"`
	Cost            report.Number `json:"cost"`
	Seconds         float64       `json:"seconds"`
	Rows            int           `json:"rows"`
}

// Metrics is metrics.json of a solve (DESIGN.md §4.3).
type Metrics struct {
	PDE         string          `json:"pde"`
	Split       []int           `json:"split"`
	Coupling    string          `json:"coupling"`
	N           int             `json:"basis_functions"`
	RelL2       report.Number   `json:"rel_l2"` // null without a reference
	ResidualRMS report.Number   `json:"residual_rms"`
	ResidualMax report.Number   `json:"residual_max"`
	Sweeps      int             `json:"sweeps"`
	Mismatch    report.Number   `json:"interface_mismatch"`
	Stalled     bool            `json:"interface_stalled,omitempty"`
	Converged   int             `json:"experts_converged"`
	Experts     []ExpertMetrics `json:"experts"`
	NATS        string          `json:"nats"`
	Embedded    bool            `json:"embedded_server"`
	WallSeconds float64         `json:"wall_seconds"`
}

// Solve runs `coordinator solve`: the experts solve their problems (with
// Schwarz sweeps when configured), the coordinator assembles u, and the
// metrics, solution and plots go to env.Out. dump, when not empty, receives
// every expert's last problem as an .npz file.
func Solve(ctx context.Context, cfg *config.Config, env Env, dump string) (*Metrics, error) {
	start := time.Now()
	s, cl, err := prepare(ctx, cfg, env)
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	out, err := moe.Run(ctx, cl.Router, s.Layout, s.Plans, s.Basis, s.Inputs(), s.options())
	if err != nil {
		return nil, err
	}
	m := &Metrics{PDE: cfg.PDE.Name, Split: cfg.Experts.Split, Coupling: cfg.Experts.Coupling, N: s.N,
		Sweeps: out.Sweeps, Mismatch: report.Number(out.Mismatch), Stalled: out.Stalled,
		NATS: cl.URL, Embedded: cl.Embedded, RelL2: report.Number(math.NaN())}
	if cfg.Experts.Coupling != "schwarz" {
		m.Mismatch = report.Number(math.NaN())
	}
	if s.Ref != nil {
		m.RelL2 = report.Number(relL2(out.U, s.Ref))
	}
	rms, mx, err := Residual(s.Grid, s.Eq, s.Scheme, out.U)
	if err != nil {
		return nil, err
	}
	m.ResidualRMS, m.ResidualMax = report.Number(rms), report.Number(mx)
	for k, f := range out.Forwards {
		r := f.Reply.Result
		if r.Status.Converged() {
			m.Converged++
		}
		m.Experts = append(m.Experts, ExpertMetrics{Index: k, Instance: f.Reply.Expert, Status: r.Status.String(),
			Iterations: r.Iterations, InnerIterations: r.InnerIterations, GradNorm: report.Number(r.GradNorm),
			Cost: report.Number(r.Cost), Seconds: r.Seconds, Rows: f.Request.Problem.Rows()})
	}
	if dump != "" {
		if err := os.MkdirAll(dump, 0o755); err != nil {
			return nil, err
		}
		for k, f := range out.Forwards {
			if err := constraint.WriteProblem(filepath.Join(dump, fmt.Sprintf("expert-%d.npz", k)), f.Request.Problem, true); err != nil {
				return nil, err
			}
		}
	}
	m.WallSeconds = time.Since(start).Seconds()
	if err := writeOutputs(env.Out, s, out.U, m); err != nil {
		return nil, err
	}
	return m, nil
}

// prepare builds the setup and brings up the experts.
func prepare(ctx context.Context, cfg *config.Config, env Env) (*Setup, *Cluster, error) {
	s, err := NewSetup(cfg, env.Checkpoint)
	if err != nil {
		return nil, nil, err
	}
	cl, err := Connect(ctx, cfg, env)
	if err != nil {
		return nil, nil, err
	}
	return s, cl, nil
}

func (s *Setup) options() moe.Options {
	o := runOptions(s.Cfg)
	o.KeyPrefix = fmt.Sprintf("solve-%d", time.Now().UnixNano())
	return o
}

func writeOutputs(dir string, s *Setup, u []float64, m *Metrics) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("-out %s: %w", dir, err)
	}
	if err := report.WriteSolution(filepath.Join(dir, "solution.npz"), s.Grid, u, s.Ref); err != nil {
		return err
	}
	if err := report.HeatMap(filepath.Join(dir, "prediction.png"), "prediction u", s.Grid, u); err != nil {
		return err
	}
	if s.Ref != nil {
		if err := report.HeatMap(filepath.Join(dir, "reference.png"), "reference", s.Grid, s.Ref); err != nil {
			return err
		}
		diff := make([]float64, len(u))
		for i := range u {
			diff[i] = u[i] - s.Ref[i]
		}
		if err := report.HeatMap(filepath.Join(dir, "error.png"), "error u − u_ref", s.Grid, diff); err != nil {
			return err
		}
	}
	return report.WriteJSON(filepath.Join(dir, "metrics.json"), m)
}

func relL2(u, ref []float64) float64 {
	var num, den float64
	for i := range u {
		num += (u[i] - ref[i]) * (u[i] - ref[i])
		den += ref[i] * ref[i]
	}
	if den == 0 {
		return math.Sqrt(num)
	}
	return math.Sqrt(num / den)
}

// Residual returns the RMS and the largest magnitude of the PDE's interior
// residual of u at every interior grid point (not only the sampled ones):
// the terms of u are computed with the run's stencils on the whole grid.
func Residual(g mesh.Grid, eq pde.Equation, scheme mesh.Scheme, u []float64) (rms, mx float64, err error) {
	r := eq.Interior()
	terms, err := moe.ComputeTerms(g, u, 1, scheme, r.Terms())
	if err != nil {
		return 0, 0, err
	}
	whole := mesh.Block{Lo: make([]int, g.Dims()), Hi: g.Shape()}
	pts := mesh.InteriorPoints(g, whole)
	z := make([]float64, len(r.Terms()))
	sum := 0.0
	for _, p := range pts {
		for k, t := range r.Terms() {
			z[k] = terms.Fields[t][p]
		}
		v := r.Eval(z, nil, nil, nil)
		sum += v * v
		mx = math.Max(mx, math.Abs(v))
	}
	if len(pts) == 0 {
		return 0, 0, nil
	}
	return math.Sqrt(sum / float64(len(pts))), mx, nil
}

// GradCheck runs `coordinator gradcheck`: the implicit backward through the
// experts against central differences along random directions of the basis.
func GradCheck(ctx context.Context, cfg *config.Config, env Env, dirs int, step float64) (*moe.GradCheck, error) {
	s, cl, err := prepare(ctx, cfg, env)
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	return moe.CheckGradient(ctx, cl.Router, s.Layout, s.Plans, s.Basis, s.Inputs(), s.Scheme, s.options(),
		cfg.BackwardSettings(), dirs, step, cfg.Seed)
}

// Package job runs the coordinator's commands: it turns a config into a
// grid, a basis, expert plans and a cluster of experts (an embedded NATS
// server with in-process experts, or an external server), runs the work and
// writes the outputs. cmd/coordinator only parses flags.
package job

import (
	"context"
	"fmt"
	"math"

	"github.com/hcmoe/hcmoe/basis"
	"github.com/hcmoe/hcmoe/config"
	"github.com/hcmoe/hcmoe/mesh"
	"github.com/hcmoe/hcmoe/moe"
	"github.com/hcmoe/hcmoe/pde"
	"github.com/hcmoe/hcmoe/pde/reference"
	"github.com/hcmoe/hcmoe/train"
)

// Setup is everything a solve needs, built from a config.
type Setup struct {
	Cfg    *config.Config
	Grid   mesh.Grid
	Eq     pde.Equation
	Scheme mesh.Scheme
	Layout *moe.Layout
	Plans  []moe.Plan
	Basis  []float64 // Size×N
	N      int
	Terms  *moe.Terms
	Hold   []float64 // the initial value held constant in time
	Ref    []float64 // the exact or reference solution; nil when unknown
}

// NewSetup builds a Setup from a validated config. With a checkpoint the
// basis is the trained network's output for this instance instead of the
// config's analytic basis.
func NewSetup(cfg *config.Config, checkpoint string) (*Setup, error) {
	s := &Setup{Cfg: cfg}
	var err error
	if s.Grid, err = cfg.Grid(); err != nil {
		return nil, err
	}
	if s.Eq, err = cfg.Equation(); err != nil {
		return nil, err
	}
	if s.Scheme, err = cfg.Scheme(); err != nil {
		return nil, err
	}
	if s.Layout, s.Plans, err = layout(cfg, s.Grid, s.Eq); err != nil {
		return nil, err
	}
	if s.Hold, s.Ref, err = initialAndReference(cfg, s.Grid); err != nil {
		return nil, err
	}
	switch b := cfg.Basis; {
	case checkpoint != "":
		s.N = cfg.Train.Network.Out
		s.Basis, err = trainedBasis(cfg, s.Grid, s.Hold, checkpoint)
	case b.Kind == "chebyshev":
		s.Basis, s.N, err = basis.Chebyshev(s.Grid, b.Degrees)
	case b.Kind == "random-features":
		s.N = b.Features
		s.Basis, err = basis.RandomFeatures(s.Grid, b.Features, b.Scale, b.Seed)
	case b.Kind == "pod":
		s.N = b.N
		s.Basis, err = basis.POD(s.Grid, b.Data, b.N)
	default:
		err = fmt.Errorf("basis.kind: %s is not implemented yet", b.Kind)
	}
	if err != nil {
		return nil, err
	}
	if s.Terms, err = moe.ComputeTerms(s.Grid, s.Basis, s.N, s.Scheme, moe.NeededTerms(s.Eq)); err != nil {
		return nil, err
	}
	return s, nil
}

// trainedBasis evaluates the network of a checkpoint on one instance, whose
// initial value is the first time slice of hold.
func trainedBasis(cfg *config.Config, g mesh.Grid, hold []float64, checkpoint string) ([]float64, error) {
	if cfg.Train.Mode == "soft" {
		return nil, fmt.Errorf("solve -checkpoint: a soft-constraint network outputs u, not a basis")
	}
	net, err := loadNetwork(cfg, checkpoint)
	if err != nil {
		return nil, err
	}
	nx := g.Size() / g.Axes[0].N
	return net.Forward(train.Features(g, hold[:nx]))
}

// layout shares the grid among the configured experts: Schwarz coupling
// extends each region by the overlap, otherwise the overlap is ignored.
func layout(cfg *config.Config, g mesh.Grid, eq pde.Equation) (*moe.Layout, []moe.Plan, error) {
	part, err := cfg.Partition()
	if err != nil {
		return nil, nil, err
	}
	e := cfg.Experts
	l := &moe.Layout{Grid: g, Partition: part, Equation: eq, Points: e.Points,
		Replicate: e.ICBC == "replicate", Overlap: e.Overlap, Seed: cfg.Seed}
	if e.Coupling != "schwarz" {
		l.Overlap = 0
	}
	plans, err := l.Plans()
	if err != nil {
		return nil, nil, err
	}
	return l, plans, nil
}

// runOptions are the moe options of the configured experts.
func runOptions(cfg *config.Config) moe.Options {
	e := cfg.Experts
	return moe.Options{Settings: cfg.SolverSettings(), Schwarz: e.Coupling == "schwarz", Sweeps: e.Sweeps, Tol: e.InterfaceTol}
}

// Inputs returns the fields the experts' problems are built from.
func (s *Setup) Inputs() moe.Inputs {
	return moe.Inputs{Terms: s.Terms, Hold: s.Hold, Ridge: s.Cfg.Solver.Ridge, InteriorWeight: s.Cfg.Solver.ResidualWeight}
}

// initialAndReference returns the initial value held constant in time and
// the reference solution on the grid: exact for heat, Cole–Hopf for Burgers,
// the finite-volume solver for diffusion-sorption; nil where none exists.
func initialAndReference(cfg *config.Config, g mesh.Grid) (hold, ref []float64, err error) {
	if g.Dims() != 2 {
		return nil, nil, fmt.Errorf("mesh: %s needs a (t, x) grid", cfg.PDE.Name)
	}
	eq, err := cfg.Equation()
	if err != nil {
		return nil, nil, err
	}
	p := eq.Params()
	t, x := g.Axes[0].Points(), g.Axes[1].Points()
	ic := cfg.PDE.IC
	var u0 func(x float64) float64
	switch cfg.PDE.Name {
	case "heat":
		a, k := ic.Amplitude, ic.K
		u0 = func(x float64) float64 { return a * math.Sin(k*math.Pi*x) }
		// A e^{−κk²π²t} sin(kπx) solves the problem on x ∈ [0, 1] (zero at
		// both ends for integer k).
		if ax := g.Axes[1]; ax.Min == 0 && ax.Max == 1 && k == math.Trunc(k) {
			ref = reference.Heat(t, x, p["kappa"], a, k)
		}
	case "burgers":
		u0 = func(x float64) float64 { return -math.Sin(math.Pi * x) }
		if ax := g.Axes[1]; ax.Min == -1 && ax.Max == 1 {
			if ref, err = reference.Burgers(t, x, p["nu"]); err != nil {
				return nil, nil, err
			}
		}
	case "allen-cahn":
		u0 = func(x float64) float64 { return math.Sin(math.Pi * x) }
	case "diffusion-sorption":
		c, err := cfg.InitialConstant()
		if err != nil {
			return nil, nil, err
		}
		u0 = func(float64) float64 { return c }
		// The reference lives on PDEBench's cell centres; on other grids
		// there is none.
		if opts, err := sorptionOptions(g, p); err == nil {
			if ref, _, _, _, err = reference.DiffusionSorption(context.Background(), c, opts); err != nil {
				return nil, nil, err
			}
		}
	default:
		return nil, nil, fmt.Errorf("pde.name: no initial value for %q", cfg.PDE.Name)
	}
	hold = make([]float64, g.Size())
	nx := len(x)
	for i := range t {
		for j, xx := range x {
			hold[i*nx+j] = u0(xx)
		}
	}
	return hold, ref, nil
}

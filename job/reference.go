package job

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/hcmoe/hcmoe/config"
	"github.com/hcmoe/hcmoe/mesh"
	"github.com/hcmoe/hcmoe/pde"
	"github.com/hcmoe/hcmoe/pde/reference"
)

// referenceSolver returns the instance solver of a family whose reference
// is computed numerically.
func referenceSolver(cfg *config.Config, g mesh.Grid, p map[string]float64) ([]string, string, instanceFunc, error) {
	t, x := g.Axes[0].Points(), g.Axes[1].Points()
	switch cfg.PDE.Name {
	case "burgers":
		return []string{"nu"}, "Cole–Hopf by quadrature", func(context.Context, int, *rand.Rand) (instance, error) {
			u, err := reference.Burgers(t, x, p["nu"])
			return instance{u: u, params: []float64{p["nu"]}}, err
		}, nil
	case "diffusion-sorption":
		opts, err := sorptionOptions(g, p)
		if err != nil {
			return nil, "", nil, err
		}
		fixed := cfg.PDE.IC.C
		names := []string{"c", "D", "porosity", "rho_s", "k_f", "n_f"}
		return names, "finite volume (PDEBench cells), implicit Newton with the tridiagonal Jacobian",
			func(ctx context.Context, _ int, rng *rand.Rand) (instance, error) {
				// The paper's family: a constant initial value c ~ U(0, 0.2)
				// unless the config fixes it.
				c := 0.2 * rng.Float64()
				if fixed != nil {
					c = *fixed
				}
				u, _, _, _, err := reference.DiffusionSorption(ctx, c, opts)
				return instance{u: u, params: []float64{c, p["D"], p["porosity"], p["rho_s"], p["k_f"], p["n_f"]}}, err
			}, nil
	case "navier-stokes-2d":
		return navierStokesSolver(cfg, g, p)
	}
	return nil, "", nil, fmt.Errorf("gen: no reference solver for %s", cfg.PDE.Name)
}

// sorptionOptions maps a (t, x) grid to the finite-volume solver: the x
// points must be the cell centres (i+½)/n of n cells on [0, 1], as in
// PDEBench, and t must start at 0.
func sorptionOptions(g mesh.Grid, p map[string]float64) (reference.SorptionOptions, error) {
	tx, xx := g.Axes[0], g.Axes[1]
	n := xx.N
	h := 1 / float64(n)
	if math.Abs(xx.Min-h/2) > 1e-9 || math.Abs(xx.Max-(1-h/2)) > 1e-9 {
		return reference.SorptionOptions{}, fmt.Errorf("mesh.x: diffusion-sorption references live on cell centres: want min %.10g, max %.10g for n = %d (got %g, %g)", h/2, 1-h/2, n, xx.Min, xx.Max)
	}
	if tx.Min != 0 {
		return reference.SorptionOptions{}, fmt.Errorf("mesh.t: diffusion-sorption references start at t = 0 (got %g)", tx.Min)
	}
	ds := pde.DiffusionSorption{D: p["D"], Porosity: p["porosity"], RhoS: p["rho_s"], Kf: p["k_f"], Nf: p["n_f"], Eps: p["eps"]}
	return reference.SorptionOptions{Cells: n, T: tx.Max, Snapshots: tx.N, Params: ds}, nil
}

// navierStokesSolver solves vorticity trajectories on the periodic unit
// square from a Gaussian random field (one per instance) or a Taylor–Green
// vortex.
func navierStokesSolver(cfg *config.Config, g mesh.Grid, p map[string]float64) ([]string, string, instanceFunc, error) {
	tx, xx, yy := g.Axes[0], g.Axes[1], g.Axes[2]
	n := xx.N
	for _, ax := range []mesh.Axis{xx, yy} {
		if !ax.Periodic || ax.Min != 0 || ax.Max != 1 || ax.N != n {
			return nil, "", nil, fmt.Errorf("mesh: navier-stokes-2d needs x and y periodic on [0, 1) with equal n (got x %+v, y %+v)", xx, yy)
		}
	}
	if tx.Min != 0 {
		return nil, "", nil, fmt.Errorf("mesh.t: navier-stokes-2d trajectories start at t = 0 (got %g)", tx.Min)
	}
	opts := reference.NSOptions{Nu: p["nu"], T: tx.Max, Snapshots: tx.N}
	ic := cfg.PDE.IC
	solver := "pseudo-spectral, Crank–Nicolson + Heun, 2/3 dealiasing"
	switch ic.Kind {
	case "taylor-green":
		k := int(ic.K)
		return []string{"nu", "k"}, solver, func(ctx context.Context, _ int, _ *rand.Rand) (instance, error) {
			u, err := reference.NavierStokes(ctx, reference.TaylorGreen(n, k), n, opts)
			return instance{u: u, params: []float64{p["nu"], float64(k)}}, err
		}, nil
	default: // grf
		ls := ic.LengthScale
		return []string{"nu", "length_scale"}, solver, func(ctx context.Context, _ int, rng *rand.Rand) (instance, error) {
			u, err := reference.NavierStokes(ctx, reference.GRF(n, ls, rng), n, opts)
			return instance{u: u, params: []float64{p["nu"], ls}}, err
		}, nil
	}
}

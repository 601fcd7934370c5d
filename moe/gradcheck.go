package moe

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/hcmoe/hcmoe/constraint"
	"github.com/hcmoe/hcmoe/mesh"
	"github.com/hcmoe/hcmoe/pde"
)

// GradCheck is the outcome of CheckGradient.
type GradCheck struct {
	Step       float64     `json:"step"`
	Directions []Direction `json:"directions"`
	MaxRelErr  float64     `json:"max_rel_err"`
}

// Direction compares the gradient along one random direction; RelErr is
// |a − n| / max(|a|, |n|).
type Direction struct {
	Analytic float64 `json:"analytic"`
	Numeric  float64 `json:"numeric"`
	RelErr   float64 `json:"rel_err"`
}

// smoothDirection returns a random perturbation of a Size×n basis whose
// every column is a random combination of products of cos(kπ s) over each
// axis (k < 4, s the coordinate scaled to [0, 1]). A perturbation that is
// rough on the grid would be amplified by 1/h² in the second-derivative
// terms and make the central difference's truncation error dominate at any
// step the solver's accuracy allows; a smooth one exercises the same code.
func smoothDirection(g mesh.Grid, n int, rng *rand.Rand) []float64 {
	const modes = 4
	dims := g.Dims()
	combos := 1
	for range dims {
		combos *= modes
	}
	coef := make([]float64, n*combos)
	for i := range coef {
		coef[i] = rng.NormFloat64()
	}
	d := make([]float64, g.Size()*n)
	idx := make([]int, dims)
	cosv := make([][]float64, dims)
	for a := range cosv {
		cosv[a] = make([]float64, modes)
	}
	for p := range g.Size() {
		g.Coords(p, idx)
		for a, ax := range g.Axes {
			s := (ax.Point(idx[a]) - ax.Min) / (ax.Max - ax.Min)
			for k := range modes {
				cosv[a][k] = math.Cos(float64(k) * math.Pi * s)
			}
		}
		for c := range combos {
			prod, rest := 1.0, c
			for a := range dims {
				prod *= cosv[a][rest%modes]
				rest /= modes
			}
			for j := range n {
				d[p*n+j] += coef[j*combos+c] * prod
			}
		}
	}
	return d
}

// GradSettings are the solver settings of a gradient check: forward solves
// tight enough that central differences measure the derivative and not the
// solver's tolerance.
func GradSettings(s constraint.Settings) constraint.Settings {
	s.GradTol, s.StepTol, s.CostTol = 1e-14, 1e-15, 1e-16
	s.MaxIter = max(s.MaxIter, 400)
	return s
}

// CheckGradient checks Backward end to end, through the router's experts,
// against central differences of L(u) = ½‖u − y‖² (y a fixed random field)
// along random directions of the basis. Each perturbed evaluation recomputes
// the terms, re-solves every expert's last-sweep problem warm from its ω*
// (with the interface data of that sweep held fixed, as Backward assumes)
// and reassembles u.
func CheckGradient(ctx context.Context, r *Router, l *Layout, plans []Plan, basis []float64, in Inputs, scheme mesh.Scheme, opt Options, bs constraint.BackwardSettings, dirs int, step float64, seed uint64) (*GradCheck, error) {
	g := l.Grid
	n := in.Terms.N
	opt.Settings = GradSettings(opt.Settings)
	opt.Keep = true
	if opt.KeyPrefix == "" {
		opt.KeyPrefix = "gradcheck"
	}
	out, err := Run(ctx, r, l, plans, basis, in, opt)
	if err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewPCG(seed, 0x67726164))
	y := make([]float64, g.Size())
	scale := 0.0
	for _, v := range out.U {
		scale = math.Max(scale, math.Abs(v))
	}
	if scale == 0 {
		scale = 1
	}
	for i := range y {
		y[i] = out.U[i] + 0.1*scale*rng.NormFloat64()
	}
	ubar := make([]float64, g.Size())
	for i := range ubar {
		ubar[i] = out.U[i] - y[i]
	}
	bbar, err := Backward(ctx, r, plans, basis, in, out, ubar, bs, nil)
	if err != nil {
		return nil, err
	}
	needed := make([]pde.Term, 0, len(in.Terms.Fields))
	for t := range in.Terms.Fields {
		needed = append(needed, t)
	}
	solved := func(b []float64) ([]float64, error) {
		terms, err := ComputeTerms(g, b, n, scheme, needed)
		if err != nil {
			return nil, err
		}
		pin := in
		pin.Terms = terms
		omegas := make([][]float64, len(plans))
		for k := range plans {
			p, _, err := plans[k].Problem(l.Equation, pin, out.Iterate)
			if err != nil {
				return nil, err
			}
			res, err := constraint.Solve(ctx, p, opt.Settings, out.Omegas[k])
			if err != nil {
				return nil, err
			}
			if !res.Status.Converged() {
				return nil, fmt.Errorf("moe: gradcheck: perturbed solve of expert %d: %v", k, res.Status)
			}
			omegas[k] = res.Omega
		}
		return Assemble(g, b, n, plans, omegas), nil
	}
	gc := &GradCheck{Step: step}
	bp := make([]float64, len(basis))
	for range dirs {
		d := smoothDirection(g, n, rng)
		an := 0.0
		for i := range d {
			an += bbar[i] * d[i]
		}
		// Central differences at h and h/2 combined by Richardson
		// extrapolation: the O(h²) truncation cancels, so h can be large
		// enough that the solves' rounding (ε·cond(J) in ω, divided by h)
		// stays far below the tolerance.
		central := func(h float64) (float64, error) {
			var us [2][]float64
			for si, sgn := range []float64{1, -1} {
				for i := range bp {
					bp[i] = basis[i] + sgn*h*d[i]
				}
				if us[si], err = solved(bp); err != nil {
					return 0, err
				}
			}
			// L(u₊) − L(u₋) = Σ (u₊ − u₋)((u₊ + u₋)/2 − y), formed from
			// the difference of the fields: differencing two values of L
			// would lose ε·L/h to rounding.
			dl := 0.0
			for i, up := range us[0] {
				um := us[1][i]
				dl += (up - um) * (0.5*(up+um) - y[i])
			}
			return dl / (2 * h), nil
		}
		n1, err := central(step)
		if err != nil {
			return nil, err
		}
		n2, err := central(step / 2)
		if err != nil {
			return nil, err
		}
		num := (4*n2 - n1) / 3
		rel := math.Abs(an-num) / math.Max(math.Max(math.Abs(an), math.Abs(num)), 1e-300)
		gc.Directions = append(gc.Directions, Direction{Analytic: an, Numeric: num, RelErr: rel})
		gc.MaxRelErr = math.Max(gc.MaxRelErr, rel)
	}
	return gc, nil
}

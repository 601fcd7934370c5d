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

// Direction compares the gradient along one random direction.
type Direction struct {
	Analytic float64 `json:"analytic"`
	Numeric  float64 `json:"numeric"`
	RelErr   float64 `json:"rel_err"`
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
	bbar, err := Backward(ctx, r, plans, basis, in, out, ubar, bs)
	if err != nil {
		return nil, err
	}
	needed := make([]pde.Term, 0, len(in.Terms.Fields))
	for t := range in.Terms.Fields {
		needed = append(needed, t)
	}
	loss := func(b []float64) (float64, error) {
		terms, err := ComputeTerms(g, b, n, scheme, needed)
		if err != nil {
			return 0, err
		}
		pin := in
		pin.Terms = terms
		omegas := make([][]float64, len(plans))
		for k := range plans {
			p, _, err := plans[k].Problem(l.Equation, pin, out.Iterate)
			if err != nil {
				return 0, err
			}
			res, err := constraint.Solve(ctx, p, opt.Settings, out.Omegas[k])
			if err != nil {
				return 0, err
			}
			if !res.Status.Converged() {
				return 0, fmt.Errorf("moe: gradcheck: perturbed solve of expert %d: %v", k, res.Status)
			}
			omegas[k] = res.Omega
		}
		u := Assemble(g, b, n, plans, omegas)
		s := 0.0
		for i := range u {
			d := u[i] - y[i]
			s += d * d
		}
		return 0.5 * s, nil
	}
	gc := &GradCheck{Step: step}
	d := make([]float64, len(basis))
	bp := make([]float64, len(basis))
	for range dirs {
		an := 0.0
		for i := range d {
			d[i] = rng.NormFloat64()
			an += bbar[i] * d[i]
		}
		var lv [2]float64
		for si, sgn := range []float64{1, -1} {
			for i := range bp {
				bp[i] = basis[i] + sgn*step*d[i]
			}
			if lv[si], err = loss(bp); err != nil {
				return nil, err
			}
		}
		num := (lv[0] - lv[1]) / (2 * step)
		rel := math.Abs(an-num) / math.Max(math.Max(math.Abs(an), math.Abs(num)), 1e-300)
		gc.Directions = append(gc.Directions, Direction{Analytic: an, Numeric: num, RelErr: rel})
		gc.MaxRelErr = math.Max(gc.MaxRelErr, rel)
	}
	return gc, nil
}

package pde

import (
	"fmt"
	"math"
	"sort"
	"strings"
)

// NewResidual rebuilds a residual from its Name and Params, as stored in a
// problem file. Missing parameters take their defaults.
func NewResidual(name string, params map[string]float64) (Residual, error) {
	var spec []Param
	var build func(p map[string]float64) Residual
	switch name {
	case "data":
		build = func(map[string]float64) Residual { return Data{} }
	case "robin-x", "robin-y":
		spec = robinParams
		term := TermUX
		if name == "robin-y" {
			term = TermUY
		}
		build = func(p map[string]float64) Residual { return Robin{A: p["a"], B: p["b"], Deriv: term} }
	default:
		s, ok := Default().Spec(name)
		if !ok {
			return nil, fmt.Errorf("pde: unknown residual %q (known: %s)", name, strings.Join(ResidualNames(), ", "))
		}
		full, err := fillParams(name, s.Params, params)
		if err != nil {
			return nil, err
		}
		eq, err := s.New(full)
		if err != nil {
			return nil, err
		}
		return eq.Interior(), nil
	}
	full, err := fillParams(name, spec, params)
	if err != nil {
		return nil, err
	}
	return build(full), nil
}

// ResidualNames lists the names NewResidual accepts.
func ResidualNames() []string {
	names := append([]string{"data", "robin-x", "robin-y"}, Default().Names()...)
	sort.Strings(names)
	return names
}

// Data is the residual u − g with the target g as the one aux value per row.
// It serves initial values, Dirichlet boundaries and interface data.
type Data struct{}

func (Data) Name() string               { return "data" }
func (Data) Terms() []Term              { return []Term{TermU} }
func (Data) NumAux() int                { return 1 }
func (Data) Params() map[string]float64 { return map[string]float64{} }

func (Data) Eval(z, aux, grad, hess []float64) float64 {
	if grad != nil {
		grad[0] = 1
	}
	if hess != nil {
		hess[0] = 0
	}
	return z[0] - aux[0]
}

var robinParams = []Param{
	{Name: "a", Default: 1, Doc: "coefficient of u"},
	{Name: "b", Default: 0, Doc: "coefficient of the normal derivative term"},
}

// Robin is the residual A·u + B·∂u − g, where ∂u is the derivative term
// Deriv (u_x or u_y) and g is the one aux value per row.
type Robin struct {
	A, B  float64
	Deriv Term
}

func (r Robin) Name() string {
	if r.Deriv == TermUY {
		return "robin-y"
	}
	return "robin-x"
}
func (r Robin) Terms() []Term              { return []Term{TermU, r.Deriv} }
func (Robin) NumAux() int                  { return 1 }
func (r Robin) Params() map[string]float64 { return map[string]float64{"a": r.A, "b": r.B} }

func (r Robin) Eval(z, aux, grad, hess []float64) float64 {
	if grad != nil {
		grad[0], grad[1] = r.A, r.B
	}
	if hess != nil {
		clear(hess[:4])
	}
	return r.A*z[0] + r.B*z[1] - aux[0]
}

// Heat is the interior residual u_t − κ u_xx.
type Heat struct{ Kappa float64 }

func (Heat) Name() string                 { return "heat" }
func (Heat) Terms() []Term                { return []Term{TermUT, TermUXX} }
func (Heat) NumAux() int                  { return 0 }
func (h Heat) Params() map[string]float64 { return map[string]float64{"kappa": h.Kappa} }

func (h Heat) Eval(z, _, grad, hess []float64) float64 {
	if grad != nil {
		grad[0], grad[1] = 1, -h.Kappa
	}
	if hess != nil {
		clear(hess[:4])
	}
	return z[0] - h.Kappa*z[1]
}

// Burgers is the interior residual u_t + u u_x − ν u_xx.
type Burgers struct{ Nu float64 }

func (Burgers) Name() string                 { return "burgers" }
func (Burgers) Terms() []Term                { return []Term{TermU, TermUT, TermUX, TermUXX} }
func (Burgers) NumAux() int                  { return 0 }
func (b Burgers) Params() map[string]float64 { return map[string]float64{"nu": b.Nu} }

func (b Burgers) Eval(z, _, grad, hess []float64) float64 {
	u, ut, ux, uxx := z[0], z[1], z[2], z[3]
	if grad != nil {
		grad[0], grad[1], grad[2], grad[3] = ux, 1, u, -b.Nu
	}
	if hess != nil {
		clear(hess[:16])
		hess[0*4+2], hess[2*4+0] = 1, 1
	}
	return ut + u*ux - b.Nu*uxx
}

// AllenCahn is the interior residual u_t − ε² u_xx − u + u³.
type AllenCahn struct{ Epsilon float64 }

func (AllenCahn) Name() string                 { return "allen-cahn" }
func (AllenCahn) Terms() []Term                { return []Term{TermU, TermUT, TermUXX} }
func (AllenCahn) NumAux() int                  { return 0 }
func (a AllenCahn) Params() map[string]float64 { return map[string]float64{"epsilon": a.Epsilon} }

func (a AllenCahn) Eval(z, _, grad, hess []float64) float64 {
	u, ut, uxx := z[0], z[1], z[2]
	e2 := a.Epsilon * a.Epsilon
	if grad != nil {
		grad[0], grad[1], grad[2] = 3*u*u-1, 1, -e2
	}
	if hess != nil {
		clear(hess[:9])
		hess[0] = 6 * u
	}
	return ut - e2*uxx - u + u*u*u
}

// DiffusionSorption is the interior residual u_t − D/R(u)·u_xx of the
// PDEBench diffusion-sorption problem, with the Freundlich retardation
//
//	R(u) = 1 + (1−φ)/φ · ρs · kf · nf · q(u)^(nf−1).
//
// R is singular at u = 0 because nf < 1. Rather than clamping u (which
// leaves a kink the Newton solver and the implicit backward would trip on)
// q is the smooth positive floor
//
//	q(u) = (u + √(u² + ε²)) / 2,
//
// which equals u up to O(ε²/u) for u ≫ ε, stays positive for every finite u
// and is infinitely differentiable. So R(u) is finite and ≥ 1 everywhere,
// D/R(u) ∈ (0, D], and the residual, its gradient and Hessian are finite for
// u ≤ 0 too. The paper's code shifts u by 1e-6 instead; ε = Eps plays that
// role here.
type DiffusionSorption struct {
	D, Porosity, RhoS, Kf, Nf, Eps float64
}

func (DiffusionSorption) Name() string  { return "diffusion-sorption" }
func (DiffusionSorption) Terms() []Term { return []Term{TermU, TermUT, TermUXX} }
func (DiffusionSorption) NumAux() int   { return 0 }
func (d DiffusionSorption) Params() map[string]float64 {
	return map[string]float64{"D": d.D, "porosity": d.Porosity, "rho_s": d.RhoS, "k_f": d.Kf, "n_f": d.Nf, "eps": d.Eps}
}

// Retardation returns R(u) and its first two derivatives.
func (d DiffusionSorption) Retardation(u float64) (r, dr, d2r float64) {
	e2 := d.Eps * d.Eps
	s := math.Sqrt(u*u + e2)
	if math.Abs(u) > 1e150 {
		s = math.Hypot(u, d.Eps) // u² would overflow
	}
	var q float64
	if u >= 0 {
		q = (u + s) / 2
	} else {
		q = e2 / (2 * (s - u)) // the same value without cancellation
	}
	q = math.Max(q, math.SmallestNonzeroFloat64)
	// q' = q/s and q'' = ε²/(2s³); the ratios q'/q and q''/q are formed
	// directly so that nothing overflows for |u| near the float64 range.
	d2qq := (e2 / q) / (2 * s) / s / s
	c := (1 - d.Porosity) / d.Porosity * d.RhoS * d.Kf * d.Nf
	a := d.Nf - 1
	pa := math.Exp(a * math.Log(q)) // q > 0: Pow's special cases are not needed
	r = 1 + c*pa
	dr = c * a * pa / s
	d2r = c * a * pa * ((a-1)/(s*s) + d2qq)
	return r, dr, d2r
}

func (d DiffusionSorption) Eval(z, _, grad, hess []float64) float64 {
	u, ut, uxx := z[0], z[1], z[2]
	r, dr, d2r := d.Retardation(u)
	h := 1 / r                       // D/R = D·h
	dh := -dr * h * h                // h'
	d2h := (2*dr*dr*h - d2r) * h * h // h''
	if grad != nil {
		grad[0], grad[1], grad[2] = -d.D*uxx*dh, 1, -d.D*h
	}
	if hess != nil {
		clear(hess[:9])
		hess[0] = -d.D * uxx * d2h
		hess[0*3+2], hess[2*3+0] = -d.D*dh, -d.D*dh
	}
	return ut - d.D*h*uxx
}

// NavierStokes2D is the vorticity-form interior residual
// ω_t + a ω_x + b ω_y − ν(ω_xx + ω_yy), where u holds the vorticity ω and
// (a, b) = (vel_x, vel_y) is the velocity it induces.
type NavierStokes2D struct{ Nu float64 }

func (NavierStokes2D) Name() string { return "navier-stokes-2d" }
func (NavierStokes2D) Terms() []Term {
	return []Term{TermVelX, TermVelY, TermUT, TermUX, TermUY, TermUXX, TermUYY}
}
func (NavierStokes2D) NumAux() int                  { return 0 }
func (n NavierStokes2D) Params() map[string]float64 { return map[string]float64{"nu": n.Nu} }

func (n NavierStokes2D) Eval(z, _, grad, hess []float64) float64 {
	a, b, wt, wx, wy, wxx, wyy := z[0], z[1], z[2], z[3], z[4], z[5], z[6]
	if grad != nil {
		grad[0], grad[1], grad[2], grad[3], grad[4], grad[5], grad[6] = wx, wy, 1, a, b, -n.Nu, -n.Nu
	}
	if hess != nil {
		clear(hess[:49])
		hess[0*7+3], hess[3*7+0] = 1, 1
		hess[1*7+4], hess[4*7+1] = 1, 1
	}
	return wt + a*wx + b*wy - n.Nu*(wxx+wyy)
}

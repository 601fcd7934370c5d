package pde

import "fmt"

// equation is the Equation shared by the 1-D problems of this package: an
// interior residual, data rows for the initial value, and one condition per
// end of the x axis.
type equation struct {
	name         string
	params       map[string]float64
	interior     Residual
	lower, upper Condition
}

func (e *equation) Name() string { return e.name }
func (e *equation) Params() map[string]float64 {
	p := make(map[string]float64, len(e.params))
	for k, v := range e.params {
		p[k] = v
	}
	return p
}
func (e *equation) SpaceDims() int     { return 1 }
func (e *equation) Interior() Residual { return e.interior }
func (e *equation) Initial() Residual  { return Data{} }

func (e *equation) Boundary(axis int, side Side) (Condition, bool) {
	if axis != 1 {
		return Condition{}, false
	}
	if side == Lower {
		return e.lower, true
	}
	return e.upper, true
}

func dirichlet(g float64) Condition { return Condition{Residual: Data{}, Value: g} }

func positive(owner string, p map[string]float64, names ...string) error {
	for _, n := range names {
		if !(p[n] > 0) {
			return fmt.Errorf("pde: %s: parameter %q must be positive, got %v", owner, n, p[n])
		}
	}
	return nil
}

func heatSpec() Spec {
	return Spec{
		Name:   "heat",
		Doc:    "u_t = κ u_xx with u = 0 at both ends of x",
		Params: []Param{{Name: "kappa", Default: 0.1, Doc: "diffusivity κ"}},
		New: func(p map[string]float64) (Equation, error) {
			if err := positive("heat", p, "kappa"); err != nil {
				return nil, err
			}
			return &equation{name: "heat", params: p, interior: Heat{Kappa: p["kappa"]},
				lower: dirichlet(0), upper: dirichlet(0)}, nil
		},
	}
}

func burgersSpec() Spec {
	return Spec{
		Name:   "burgers",
		Doc:    "u_t + u u_x = ν u_xx with u = 0 at both ends of x",
		Params: []Param{{Name: "nu", Default: 0.01 / 3.141592653589793, Doc: "viscosity ν"}},
		New: func(p map[string]float64) (Equation, error) {
			if err := positive("burgers", p, "nu"); err != nil {
				return nil, err
			}
			return &equation{name: "burgers", params: p, interior: Burgers{Nu: p["nu"]},
				lower: dirichlet(0), upper: dirichlet(0)}, nil
		},
	}
}

func allenCahnSpec() Spec {
	return Spec{
		Name:   "allen-cahn",
		Doc:    "u_t = ε² u_xx + u − u³ with u = 0 at both ends of x",
		Params: []Param{{Name: "epsilon", Default: 0.1, Doc: "interface width ε"}},
		New: func(p map[string]float64) (Equation, error) {
			if err := positive("allen-cahn", p, "epsilon"); err != nil {
				return nil, err
			}
			return &equation{name: "allen-cahn", params: p, interior: AllenCahn{Epsilon: p["epsilon"]},
				lower: dirichlet(0), upper: dirichlet(0)}, nil
		},
	}
}

func diffusionSorptionSpec() Spec {
	return Spec{
		Name: "diffusion-sorption",
		Doc:  "u_t = D/R(u) u_xx with u(t,0) = 1 and u(t,1) = D u_x(t,1) (PDEBench)",
		Params: []Param{
			{Name: "D", Default: 5e-4, Doc: "effective diffusion coefficient"},
			{Name: "porosity", Default: 0.29, Doc: "porosity φ"},
			{Name: "rho_s", Default: 2880, Doc: "bulk density ρs"},
			{Name: "k_f", Default: 3.5e-4, Doc: "Freundlich coefficient kf"},
			{Name: "n_f", Default: 0.874, Doc: "Freundlich exponent nf"},
			{Name: "eps", Default: 1e-6, Doc: "smoothing width of the positive floor of u in R(u)"},
		},
		New: func(p map[string]float64) (Equation, error) {
			if err := positive("diffusion-sorption", p, "D", "rho_s", "k_f", "n_f", "eps"); err != nil {
				return nil, err
			}
			if !(p["porosity"] > 0 && p["porosity"] < 1) {
				return nil, fmt.Errorf("pde: diffusion-sorption: parameter \"porosity\" must lie in (0, 1), got %v", p["porosity"])
			}
			ds := DiffusionSorption{D: p["D"], Porosity: p["porosity"], RhoS: p["rho_s"], Kf: p["k_f"], Nf: p["n_f"], Eps: p["eps"]}
			return &equation{name: "diffusion-sorption", params: p, interior: ds,
				lower: dirichlet(1),
				upper: Condition{Residual: Robin{A: 1, B: -ds.D, Deriv: TermUX}, Value: 0}}, nil
		},
	}
}

// periodic2D is an equation on the periodic unit square: no boundary rows.
type periodic2D struct {
	name     string
	params   map[string]float64
	interior Residual
}

func (e *periodic2D) Name() string { return e.name }
func (e *periodic2D) Params() map[string]float64 {
	p := make(map[string]float64, len(e.params))
	for k, v := range e.params {
		p[k] = v
	}
	return p
}
func (e *periodic2D) SpaceDims() int                       { return 2 }
func (e *periodic2D) Interior() Residual                   { return e.interior }
func (e *periodic2D) Initial() Residual                    { return Data{} }
func (e *periodic2D) Boundary(int, Side) (Condition, bool) { return Condition{}, false }

func navierStokesSpec() Spec {
	return Spec{
		Name:   "navier-stokes-2d",
		Doc:    "vorticity form ω_t + u·∇ω = ν Δω on the periodic unit square; u holds the vorticity",
		Params: []Param{{Name: "nu", Default: 1e-4, Doc: "viscosity ν (the paper's Re = 1e4)"}},
		New: func(p map[string]float64) (Equation, error) {
			if err := positive("navier-stokes-2d", p, "nu"); err != nil {
				return nil, err
			}
			return &periodic2D{name: "navier-stokes-2d", params: p, interior: NavierStokes2D{Nu: p["nu"]}}, nil
		},
	}
}

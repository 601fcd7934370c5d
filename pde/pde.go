// Package pde describes partial differential equations as pointwise residual
// blocks.
//
// A hard-constraint solve never sees a PDE as a differential operator. It sees
// rows: at row i the linear terms z_k = B_k[i,:]·ω of the candidate solution
// (u, u_t, u_x, u_xx, ...) are fed to a pointwise function ρ(z; aux_i), and the
// least-squares solver needs ρ, its gradient ∂ρ/∂z and its Hessian ∂²ρ/∂z².
// A Residual is that pointwise function. An Equation bundles the interior
// residual of a PDE with its boundary conditions; a Registry finds equations
// by name and fills in their documented parameter defaults.
package pde

import (
	"fmt"
	"math"
	"sort"
	"strings"
)

// Term names a linear functional of the solution field that a residual reads.
// Terms are computed on the grid by finite-difference or spectral operators
// (package mesh); a residual only refers to them by name.
type Term string

// The terms used by the equations in this package. Names follow the usual
// subscript notation: TermUXX is ∂²u/∂x².
const (
	TermU   Term = "u"
	TermUT  Term = "u_t"
	TermUX  Term = "u_x"
	TermUXX Term = "u_xx"
	TermUY  Term = "u_y"
	TermUYY Term = "u_yy"
	// TermVelX and TermVelY are the velocity components recovered from a
	// vorticity field u = ω (through the stream function, −Δψ = ω,
	// velocity ∇^⊥ψ): nonlocal terms, computed spectrally.
	TermVelX Term = "vel_x"
	TermVelY Term = "vel_y"
)

// Residual is a pointwise residual function ρ(z; aux) of K term values.
//
// Implementations must be safe for concurrent use: a solver evaluates rows
// from several goroutines.
type Residual interface {
	// Name identifies the residual kind, e.g. "heat" or "data". It is used in
	// problem files to rebuild the residual, together with Params.
	Name() string

	// Terms lists the K terms that z holds, in order.
	Terms() []Term

	// NumAux is the number of per-row auxiliary values (for example the target
	// value g of a data row). Zero when the residual needs none.
	NumAux() int

	// Params returns the parameters the residual was built with, so that it
	// can be rebuilt by New from a problem file.
	Params() map[string]float64

	// Eval returns ρ(z; aux). When grad is not nil it receives ∂ρ/∂z (length
	// K); when hess is not nil it receives ∂²ρ/∂z² as a K×K row-major matrix.
	// Eval does not allocate.
	Eval(z, aux, grad, hess []float64) float64
}

// Side is the lower or upper end of an axis.
type Side int

const (
	Lower Side = iota
	Upper
)

func (s Side) String() string {
	if s == Lower {
		return "lower"
	}
	return "upper"
}

// Condition is a boundary (or initial) condition: rows where Residual(z; g)
// must vanish, with g = Value unless the caller supplies its own per-row
// targets.
type Condition struct {
	Residual Residual
	Value    float64
}

// Equation is a PDE on a space-time grid with axes (t, x[, y]).
type Equation interface {
	// Name is the registry name, e.g. "diffusion-sorption".
	Name() string

	// Params returns every parameter, defaults filled in.
	Params() map[string]float64

	// SpaceDims is the number of space axes (1 or 2).
	SpaceDims() int

	// Interior is the residual enforced at interior points. It takes no aux.
	Interior() Residual

	// Initial is the residual of the initial-value rows at t = t_min. Its one
	// aux value per row is the initial value u0.
	Initial() Residual

	// Boundary returns the condition on one face of space axis a (1 = x,
	// 2 = y; axis 0 is time). ok is false when the axis is periodic and has
	// no boundary rows.
	Boundary(axis int, side Side) (c Condition, ok bool)
}

// Param documents one named parameter of an equation.
type Param struct {
	Name    string
	Default float64
	Doc     string
}

// Spec describes an equation kind in the registry.
type Spec struct {
	Name   string
	Doc    string
	Params []Param
	// New builds the equation from a complete parameter set (defaults
	// already filled in and validated by the Registry).
	New func(p map[string]float64) (Equation, error)
}

// Registry maps equation names to their specs. The zero value is empty;
// Default returns one that holds every equation of this package.
type Registry struct {
	specs map[string]Spec
}

// Register adds s; a second spec with the same name is an error.
func (r *Registry) Register(s Spec) error {
	if r.specs == nil {
		r.specs = make(map[string]Spec)
	}
	if _, dup := r.specs[s.Name]; dup {
		return fmt.Errorf("pde: %q registered twice", s.Name)
	}
	r.specs[s.Name] = s
	return nil
}

// Names lists the registered equation names in sorted order.
func (r *Registry) Names() []string {
	names := make([]string, 0, len(r.specs))
	for n := range r.specs {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Spec returns the spec registered under name.
func (r *Registry) Spec(name string) (Spec, bool) {
	s, ok := r.specs[name]
	return s, ok
}

// New builds the named equation. Parameters missing from params take their
// defaults; an unknown parameter name or a non-finite value is an error.
func (r *Registry) New(name string, params map[string]float64) (Equation, error) {
	s, ok := r.specs[name]
	if !ok {
		return nil, fmt.Errorf("pde: unknown equation %q (known: %s)", name, strings.Join(r.Names(), ", "))
	}
	full, err := fillParams(s.Name, s.Params, params)
	if err != nil {
		return nil, err
	}
	return s.New(full)
}

func fillParams(owner string, spec []Param, given map[string]float64) (map[string]float64, error) {
	full := make(map[string]float64, len(spec))
	known := make(map[string]bool, len(spec))
	for _, p := range spec {
		full[p.Name] = p.Default
		known[p.Name] = true
	}
	for k, v := range given {
		if !known[k] {
			names := make([]string, 0, len(spec))
			for _, p := range spec {
				names = append(names, p.Name)
			}
			return nil, fmt.Errorf("pde: %s: unknown parameter %q (known: %s)", owner, k, strings.Join(names, ", "))
		}
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("pde: %s: parameter %q is %v", owner, k, v)
		}
		full[k] = v
	}
	return full, nil
}

// Default returns a registry holding heat, burgers, allen-cahn,
// diffusion-sorption and navier-stokes-2d.
func Default() *Registry {
	var r Registry
	for _, s := range []Spec{heatSpec(), burgersSpec(), allenCahnSpec(), diffusionSorptionSpec(), navierStokesSpec()} {
		if err := r.Register(s); err != nil {
			panic(err) // the built-in names are distinct
		}
	}
	return &r
}

// Package train trains basis networks through the experts' hard-constraint
// solves (PI-HC-MoE, PI-HC) or directly (PI-SC), and evaluates them.
package train

import (
	"fmt"
	"math"

	"github.com/hcmoe/hcmoe/mesh"
	"github.com/hcmoe/hcmoe/moe"
	"github.com/hcmoe/hcmoe/pde"
)

// Loss is the physics loss of DESIGN.md §1.3 on an assembled field u: the
// mean of ½ρ² of the PDE residual over every interior grid point, plus the
// mean of ½(u − u0)² over the initial slice and the mean of ½ρ² of each
// boundary condition over its face. No reference data enters.
type Loss struct {
	Grid   mesh.Grid
	Eq     pde.Equation
	Scheme mesh.Scheme
	// Initial holds u0 on the initial slice's points (Initial[i] for the
	// i-th point of mesh.InitialPoints over the whole grid).
	Initial []float64
	// ResidualWeight scales the PDE residual (0 means 1), as the experts'
	// interior rows are scaled.
	ResidualWeight float64
	// Norms makes each term its root mean square instead of its mean
	// square, as the paper's code sums norms. The minimiser of each term
	// is the same; its gradient is divided by its size, so one large term
	// (the interface jumps of independent experts) cannot drown the
	// others.
	Norms bool

	interior, initial []int
	faces             []face
}

type face struct {
	name   string
	points []int
	cond   pde.Condition
}

// NewLoss prepares the point sets of the loss.
func NewLoss(g mesh.Grid, eq pde.Equation, scheme mesh.Scheme, u0 []float64) (*Loss, error) {
	whole := mesh.Block{Lo: make([]int, g.Dims()), Hi: g.Shape()}
	l := &Loss{Grid: g, Eq: eq, Scheme: scheme, Initial: u0,
		interior: mesh.InteriorPoints(g, whole), initial: mesh.InitialPoints(g, whole)}
	if len(u0) != len(l.initial) {
		return nil, fmt.Errorf("train: loss: %d initial values for %d initial points", len(u0), len(l.initial))
	}
	for axis := 1; axis < g.Dims(); axis++ {
		for _, side := range []pde.Side{pde.Lower, pde.Upper} {
			if c, ok := eq.Boundary(axis, side); ok {
				l.faces = append(l.faces, face{name: fmt.Sprintf("boundary-%d-%v", axis, side),
					points: mesh.FacePoints(g, whole, axis, side == pde.Upper), cond: c})
			}
		}
	}
	return l, nil
}

// Parts are the loss terms of one field.
type Parts struct {
	Residual float64 `json:"residual"`
	Initial  float64 `json:"initial"`
	Boundary float64 `json:"boundary"`
}

// Total is the loss.
func (p Parts) Total() float64 { return p.Residual + p.Initial + p.Boundary }

// Eval returns the loss of u and, when grad is not nil, adds ∂L/∂u to it.
func (l *Loss) Eval(u, grad []float64) (Parts, error) {
	var parts Parts
	w := l.ResidualWeight
	if w == 0 {
		w = 1
	}
	var err error
	if parts.Residual, err = l.term(grad, func(g []float64) (float64, error) {
		return l.rows(u, g, l.Eq.Interior(), l.interior, nil, w)
	}); err != nil {
		return parts, err
	}
	parts.Initial, _ = l.term(grad, func(g []float64) (float64, error) {
		n := float64(len(l.initial))
		sum := 0.0
		for i, p := range l.initial {
			d := u[p] - l.Initial[i]
			sum += 0.5 * d * d / n
			if g != nil {
				g[p] += d / n
			}
		}
		return sum, nil
	})
	if parts.Boundary, err = l.term(grad, func(g []float64) (float64, error) {
		sum := 0.0
		for _, f := range l.faces {
			v := f.cond.Value
			b, err := l.rows(u, g, f.cond.Residual, f.points, func(int) float64 { return v }, 1)
			if err != nil {
				return 0, fmt.Errorf("%s: %w", f.name, err)
			}
			sum += b
		}
		return sum, nil
	}); err != nil {
		return parts, err
	}
	if math.IsNaN(parts.Total()) || math.IsInf(parts.Total(), 0) {
		return parts, fmt.Errorf("train: loss is %v (residual %v, initial %v, boundary %v)", parts.Total(), parts.Residual, parts.Initial, parts.Boundary)
	}
	return parts, nil
}

// term evaluates one mean-square term, which adds its gradient to the
// slice it is given, and turns it into a root mean square under Norms.
func (l *Loss) term(grad []float64, eval func(g []float64) (float64, error)) (float64, error) {
	if !l.Norms {
		return eval(grad)
	}
	var g []float64
	if grad != nil {
		g = make([]float64, len(grad))
	}
	ms, err := eval(g)
	if err != nil || ms == 0 {
		return 0, err
	}
	rms := math.Sqrt(2 * ms)
	for i, v := range g {
		grad[i] += v / rms
	}
	return rms, nil
}

// rows returns mean ½ρ² of residual r over pts and adds its gradient: the
// terms of u are grid operators applied to u, so ∂L/∂u = Σ_k Op_kᵀ z̄_k.
func (l *Loss) rows(u, grad []float64, r pde.Residual, pts []int, aux func(int) float64, w float64) (float64, error) {
	if len(pts) == 0 {
		return 0, nil
	}
	terms, err := moe.ComputeTerms(l.Grid, u, 1, l.Scheme, r.Terms())
	if err != nil {
		return 0, err
	}
	k := len(r.Terms())
	z, g := make([]float64, k), make([]float64, k)
	a := make([]float64, r.NumAux())
	var zbar [][]float64
	if grad != nil {
		zbar = make([][]float64, k)
		for t := range zbar {
			zbar[t] = make([]float64, len(u))
		}
	}
	n := float64(len(pts))
	sum := 0.0
	for i, p := range pts {
		for t, term := range r.Terms() {
			z[t] = terms.Fields[term][p]
		}
		if len(a) > 0 {
			a[0] = aux(i)
		}
		v := w * r.Eval(z, a, g, nil)
		sum += 0.5 * v * v / n
		if grad != nil {
			for t := range k {
				zbar[t][p] += v * w * g[t] / n
			}
		}
	}
	if grad != nil {
		for t, term := range r.Terms() {
			if err := terms.AccumulateBasis(grad, term, zbar[t]); err != nil {
				return 0, err
			}
		}
	}
	return sum, nil
}

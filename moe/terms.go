package moe

import (
	"fmt"

	"github.com/hcmoe/hcmoe/mesh"
	"github.com/hcmoe/hcmoe/pde"
)

// Terms holds term fields of a basis on the whole grid: for each term a
// Size×N row-major matrix, the term applied to every basis function.
// Computing them globally and restricting afterwards means stencils at
// subdomain interfaces use true neighbours, as in the paper.
type Terms struct {
	Grid   mesh.Grid
	N      int
	Fields map[pde.Term][]float64
	ops    map[pde.Term]mesh.Operator
}

// termOperator returns the grid operator of a term.
func termOperator(g mesh.Grid, t pde.Term, scheme mesh.Scheme) (mesh.Operator, error) {
	var axis, order int
	switch t {
	case pde.TermU:
		return mesh.Identity(g), nil
	case pde.TermUT:
		axis, order = 0, 1
	case pde.TermUX:
		axis, order = 1, 1
	case pde.TermUXX:
		axis, order = 1, 2
	case pde.TermUY:
		axis, order = 2, 1
	case pde.TermUYY:
		axis, order = 2, 2
	default:
		return nil, fmt.Errorf("moe: no grid operator for term %q", t)
	}
	if axis >= g.Dims() {
		return nil, fmt.Errorf("moe: term %q needs axis %d on a %d-axis grid", t, axis, g.Dims())
	}
	return mesh.Derivative(g, axis, order, scheme)
}

// ComputeTerms applies the operator of every needed term to basis (Size×n).
func ComputeTerms(g mesh.Grid, basis []float64, n int, scheme mesh.Scheme, needed []pde.Term) (*Terms, error) {
	if n < 1 || len(basis) != g.Size()*n {
		return nil, fmt.Errorf("moe: basis has %d values, want %d grid points × N=%d", len(basis), g.Size(), n)
	}
	t := &Terms{Grid: g, N: n, Fields: make(map[pde.Term][]float64), ops: make(map[pde.Term]mesh.Operator)}
	for _, term := range needed {
		if _, done := t.Fields[term]; done {
			continue
		}
		op, err := termOperator(g, term, scheme)
		if err != nil {
			return nil, err
		}
		f := make([]float64, len(basis))
		op.Apply(f, basis, n)
		t.Fields[term] = f
		t.ops[term] = op
	}
	return t, nil
}

// Rows gathers the rows idx (global grid indices) of a term field.
func (t *Terms) Rows(term pde.Term, idx []int) ([]float64, error) {
	f, ok := t.Fields[term]
	if !ok {
		return nil, fmt.Errorf("moe: term %q was not computed", term)
	}
	n := t.N
	out := make([]float64, len(idx)*n)
	for r, p := range idx {
		copy(out[r*n:(r+1)*n], f[p*n:(p+1)*n])
	}
	return out, nil
}

// AccumulateBasis adds the pull-back of a term-field cotangent to the basis
// cotangent: bbar += Opᵀ fbar, both Size×N.
func (t *Terms) AccumulateBasis(bbar []float64, term pde.Term, fbar []float64) error {
	op, ok := t.ops[term]
	if !ok {
		return fmt.Errorf("moe: term %q was not computed", term)
	}
	tmp := make([]float64, len(fbar))
	op.ApplyTranspose(tmp, fbar, t.N)
	for i, v := range tmp {
		bbar[i] += v
	}
	return nil
}

// NeededTerms lists the terms of every residual an expert may get for eq,
// with u first (the assembly and the fitted start read it).
func NeededTerms(eq pde.Equation) []pde.Term {
	terms := []pde.Term{pde.TermU}
	add := func(r pde.Residual) { terms = append(terms, r.Terms()...) }
	add(eq.Interior())
	add(eq.Initial())
	for axis := 1; axis <= eq.SpaceDims(); axis++ {
		for _, side := range []pde.Side{pde.Lower, pde.Upper} {
			if c, ok := eq.Boundary(axis, side); ok {
				add(c.Residual)
			}
		}
	}
	return terms
}

package moe

import (
	"context"
	"fmt"
	"maps"
	"slices"

	"github.com/hcmoe/hcmoe/constraint"
	"github.com/hcmoe/hcmoe/pde"
	"github.com/hcmoe/hcmoe/transport"
)

// Backward returns ∂L/∂basis (Size×N) for a loss L(u) of the assembled
// solution of a forward run, given ubar = ∂L/∂u on the whole grid.
//
// The gradient has two parts: u = b|Ω_k ω_k reads the basis directly, and
// through every ω_k = ω*_k(B_k). The second comes from each expert's implicit
// backward as rank-two cotangents of its term matrices, which are scattered to
// the rows' grid points and pulled back through the term operators' adjoints.
// With Schwarz coupling only the last sweep is differentiated: the interface
// data it imposed is treated as given, not as a function of the basis.
//
// skip, when not nil, names experts whose implicit part is left out (for
// example because their forward did not converge): their coefficients are
// then treated as constants and only the direct part reaches the basis.
func Backward(ctx context.Context, r *Router, plans []Plan, basis []float64, in Inputs, out *Outcome, ubar []float64, s constraint.BackwardSettings, skip func(k int) bool) ([]float64, error) {
	t := in.Terms
	n := t.N
	g := t.Grid
	if len(ubar) != g.Size() || len(basis) != g.Size()*n {
		return nil, fmt.Errorf("moe: backward: cotangent has %d values and basis %d, want %d grid points × N=%d", len(ubar), len(basis), g.Size(), n)
	}
	bbar := make([]float64, len(basis))
	var reqs []*transport.BackwardRequest
	var fwd []Forward
	var which []int
	for k, pl := range plans {
		w := out.Omegas[k]
		wbar := make([]float64, n)
		for _, p := range pl.Core.Indices(g) {
			if ubar[p] == 0 {
				continue
			}
			row := basis[p*n : (p+1)*n]
			brow := bbar[p*n : (p+1)*n]
			for j := range n {
				brow[j] += ubar[p] * w[j]
				wbar[j] += ubar[p] * row[j]
			}
		}
		if skip != nil && skip(k) {
			continue
		}
		reqs = append(reqs, &transport.BackwardRequest{Key: out.Forwards[k].Request.Key, OmegaBar: wbar, Settings: s})
		fwd = append(fwd, out.Forwards[k])
		which = append(which, k)
	}
	reps, err := r.BackwardAll(ctx, fwd, reqs)
	if err != nil {
		return nil, err
	}
	fbar := make(map[pde.Term][]float64)
	for i, rep := range reps {
		k := which[i]
		cot := &rep.Cotangents
		prob := out.Forwards[k].Request.Problem
		if len(cot.Blocks) != len(prob.Blocks) {
			return nil, fmt.Errorf("moe: backward: expert %d returned %d blocks for %d", k, len(cot.Blocks), len(prob.Blocks))
		}
		w := out.Omegas[k]
		for bi, bc := range cot.Blocks {
			terms := prob.Blocks[bi].Residual.Terms()
			pts := out.Points[k][bi]
			for ti, term := range terms {
				f, ok := fbar[term]
				if !ok {
					f = make([]float64, len(basis))
					fbar[term] = f
				}
				alpha, beta := bc.Alpha[ti], bc.Beta[ti]
				if len(alpha) != len(pts) || len(beta) != len(pts) {
					return nil, fmt.Errorf("moe: backward: expert %d block %d: %d cotangent rows for %d points", k, bi, len(alpha), len(pts))
				}
				for i, p := range pts {
					row := f[p*n : (p+1)*n]
					a, b := alpha[i], beta[i]
					for j := range n {
						row[j] += a*w[j] + b*cot.V[j]
					}
				}
			}
		}
	}
	// Sorted, so that the sum is the same bits on every run.
	for _, term := range slices.Sorted(maps.Keys(fbar)) {
		if err := t.AccumulateBasis(bbar, term, fbar[term]); err != nil {
			return nil, err
		}
	}
	return bbar, nil
}

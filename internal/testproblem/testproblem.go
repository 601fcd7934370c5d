// Package testproblem builds the reproducible local problems that the
// benchmarks, the peer comparisons in bench/ and the tests share.
package testproblem

import (
	"math/rand/v2"

	"github.com/hcmoe/hcmoe/constraint"
	"github.com/hcmoe/hcmoe/pde"
)

// chebyshev returns T_k(s), T_k'(s), T_k”(s) for s ∈ [−1, 1] by the
// three-term recurrences.
func chebyshev(k int, s float64) (v, d1, d2 float64) {
	t0, t1 := 1.0, s
	p0, p1 := 0.0, 1.0 // T'
	q0, q1 := 0.0, 0.0 // T''
	if k == 0 {
		return 1, 0, 0
	}
	for j := 1; j < k; j++ {
		t0, t1 = t1, 2*s*t1-t0
		p0, p1 = p1, 2*t0+2*s*p1-p0
		q0, q1 = q1, 4*p0+2*s*q1-q0
	}
	return t1, p1, q1
}

// DiffusionSorption builds a diffusion-sorption problem shaped like one expert's of
// the paper: interior rows at sampled points of the 101×1024 grid on
// t ∈ [0, 500], x ∈ [0, 1], initial rows on the whole x axis and 100 rows on
// each boundary, with a tensor Chebyshev basis of n = dt·dx functions and a
// start fitted to the initial value held constant in time.
func DiffusionSorption(interior, dt, dx int, seed uint64) *constraint.Problem {
	rng := rand.New(rand.NewPCG(seed, 1))
	eq, err := pde.Default().New("diffusion-sorption", nil)
	if err != nil {
		panic(err)
	}
	const nt, nx, tmax, u0 = 101, 1024, 500.0, 0.1
	n := dt * dx
	// basis returns u, u_t, u_x, u_xx of every basis function at (t, x).
	basis := func(t, x float64, u, ut, ux, uxx []float64) {
		st, sx := 2*t/tmax-1, 2*x-1
		for a := range dt {
			ta, tda, _ := chebyshev(a, st)
			for b := range dx {
				xb, xdb, xddb := chebyshev(b, sx)
				j := a*dx + b
				u[j] = ta * xb
				ut[j] = tda * 2 / tmax * xb
				ux[j] = ta * xdb * 2
				uxx[j] = ta * xddb * 4
			}
		}
	}
	row := make([][]float64, 4)
	for i := range row {
		row[i] = make([]float64, n)
	}
	tAt := func(i int) float64 { return tmax * float64(i) / (nt - 1) }
	xAt := func(i int) float64 { return (float64(i) + 0.5) / nx }

	in := constraint.Block{Name: "interior", Residual: eq.Interior(), Terms: make([][]float64, 3)}
	start := &constraint.Fit{}
	seen := map[int]bool{}
	for len(seen) < interior {
		ti, xi := 1+rng.IntN(nt-1), rng.IntN(nx)
		if seen[ti*nx+xi] {
			continue
		}
		seen[ti*nx+xi] = true
		basis(tAt(ti), xAt(xi), row[0], row[1], row[2], row[3])
		in.Terms[0] = append(in.Terms[0], row[0]...)
		in.Terms[1] = append(in.Terms[1], row[1]...)
		in.Terms[2] = append(in.Terms[2], row[3]...)
		start.Basis = append(start.Basis, row[0]...)
		start.Target = append(start.Target, u0)
	}
	ic := constraint.Block{Name: "initial", Residual: eq.Initial(), Terms: make([][]float64, 1)}
	for xi := range nx {
		basis(0, xAt(xi), row[0], row[1], row[2], row[3])
		ic.Terms[0] = append(ic.Terms[0], row[0]...)
		ic.Aux = append(ic.Aux, u0)
		ic.Weights = append(ic.Weights, 1/u0) // the paper's relative IC rows
		start.Basis = append(start.Basis, row[0]...)
		start.Target = append(start.Target, u0)
	}
	lc, _ := eq.Boundary(1, pde.Lower)
	uc, _ := eq.Boundary(1, pde.Upper)
	left := constraint.Block{Name: "left", Residual: lc.Residual, Terms: make([][]float64, 1)}
	right := constraint.Block{Name: "right", Residual: uc.Residual, Terms: make([][]float64, 2)}
	for ti := 1; ti < nt; ti++ {
		basis(tAt(ti), 0, row[0], row[1], row[2], row[3])
		left.Terms[0] = append(left.Terms[0], row[0]...)
		left.Aux = append(left.Aux, lc.Value)
		basis(tAt(ti), 1, row[0], row[1], row[2], row[3])
		right.Terms[0] = append(right.Terms[0], row[0]...)
		right.Terms[1] = append(right.Terms[1], row[2]...)
		right.Aux = append(right.Aux, uc.Value)
	}
	return &constraint.Problem{N: n, Ridge: 1e-8, Blocks: []constraint.Block{in, ic, left, right}, Start: start}
}

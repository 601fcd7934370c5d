package krylov

import (
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/mat"
)

// shiftedRandom returns c·I + R/√n with R Gaussian: by the circular law
// its eigenvalues fill the disk of radius ≈1 about c, so for c = 3 GMRES
// converges steadily while A is far from symmetric.
func shiftedRandom(c float64, n int) func(*rand.Rand) *mat.Dense {
	return func(rnd *rand.Rand) *mat.Dense {
		a := randMat(rnd, n, n)
		a.Scale(1/math.Sqrt(float64(n)), a)
		for i := 0; i < n; i++ {
			a.Set(i, i, a.At(i, i)+c)
		}
		return a
	}
}

// columnScaled returns shiftedRandom(c, n)·D with D spanning 10^0…10^dhi:
// a right preconditioner that undoes the column scaling restores the easy
// problem, which is what right preconditioning is designed for.
func columnScaled(c, dhi float64, n int) func(*rand.Rand) *mat.Dense {
	return func(rnd *rand.Rand) *mat.Dense {
		a := shiftedRandom(c, n)(rnd)
		d := logspace(0, dhi, n)
		a.Apply(func(_, j int, v float64) float64 { return v * d[j] }, a)
		return a
	}
}

func TestGMRES(t *testing.T) {
	const n = 60
	for _, c := range []squareCase{
		{name: "restart=10", seed: 21, a: shiftedRandom(3, n), s: Settings{RelTol: 1e-10, Restart: 10}},
		{name: "restart=default", seed: 22, a: shiftedRandom(3, n), s: Settings{RelTol: 1e-10}},
		{name: "restart>n", seed: 23, a: shiftedRandom(3, n), s: Settings{RelTol: 1e-10, Restart: 2 * n}},
		{name: "restart=10/x0", seed: 24, a: shiftedRandom(3, n), x0: true, s: Settings{RelTol: 1e-10, Restart: 10}},
		{name: "column-scaled/jacobi/restart=10", seed: 25, a: columnScaled(3, 3, n), precond: jacobiOp,
			s: Settings{RelTol: 1e-10, Restart: 10}},
		{name: "column-scaled/jacobi/restart=10/x0", seed: 26, a: columnScaled(3, 3, n), precond: jacobiOp, x0: true,
			s: Settings{RelTol: 1e-10, Restart: 10}},
		// Restarted GMRES can stagnate on indefinite problems, so this
		// case uses full GMRES.
		{name: "indefinite symmetric/full", seed: 27, a: symIndefinite(0, 2, n), s: Settings{RelTol: 1e-10, Restart: n}},
		{name: "AbsTol", seed: 28, a: shiftedRandom(3, n), s: Settings{AbsTol: 1e-6, Restart: 10}},
	} {
		t.Run(c.name, func(t *testing.T) {
			a, b, x, xstar, res := runSquareCase(t, c, GMRES)
			// GMRES recomputes the true residual before reporting
			// convergence, so ResidualNorm meets the test exactly; the
			// test's own b − A x differs by the rounding of forming it,
			// at most n·ε·‖A‖‖x‖ ≤ n·ε·κ·‖b‖, doubled for safety.
			tol := math.Max(c.s.RelTol*norm(b), c.s.AbsTol)
			if res.ResidualNorm > tol {
				t.Errorf("ResidualNorm = %.3g exceeds tolerance %.3g", res.ResidualNorm, tol)
			}
			kappa := mat.Cond(a, 2)
			checkSquareSolution(t, a, b, x, xstar, tol/norm(b)+2*n*eps*kappa)
		})
	}
}

// TestGMRESRightPrecond checks that right preconditioning that exactly
// undoes a column scaling reduces the iteration count to that of the
// unscaled problem (up to the few steps the non-constant diagonal adds),
// while plain GMRES(10) struggles with κ ≈ 10³·κ₀.
func TestGMRESRightPrecond(t *testing.T) {
	const n = 60
	iters := make(map[bool]int)
	for _, pre := range []bool{false, true} {
		c := squareCase{seed: 25, a: columnScaled(3, 3, n), s: Settings{RelTol: 1e-10, Restart: 10, MaxIter: 100 * n}}
		if pre {
			c.precond = jacobiOp
		}
		_, _, _, _, res := runSquareCase(t, c, GMRES)
		iters[pre] = res.Iterations
	}
	if iters[true] >= iters[false] {
		t.Errorf("preconditioned GMRES took %d iterations, plain %d; want fewer", iters[true], iters[false])
	}
}

func TestGMRESBreakdown(t *testing.T) {
	const n = 5
	// shift is the nilpotent Jordan block: A e₀ = 0, A e_{i} = e_{i−1}.
	shift := mat.NewDense(n, n, nil)
	for i := 0; i+1 < n; i++ {
		shift.Set(i, i+1, 1)
	}
	eN := make([]float64, n)
	eN[n-1] = 1
	singular := mat.NewDiagDense(n, []float64{0, 1, 2, 3, 4})
	for _, c := range []struct {
		name  string
		a     mat.Matrix
		b     []float64
		want  Reason
		iters int
	}{
		{name: "zero matrix", a: mat.NewDense(n, n, nil), b: []float64{1, 2, 3, 4, 5}, want: Breakdown, iters: 1},
		// K(A, e_{n−1}) = span{e_{n−1}, …, e₀} is invariant after n
		// steps, but e_{n−1} ∉ range(A): no solution exists.
		{name: "Jordan block", a: shift, b: eN, want: Breakdown, iters: n},
		// With b = e₀ the system is solvable (x = e₁), but K(A, b) =
		// span{e₀} is mapped to 0: the solution lies outside every Krylov
		// subspace, a genuine breakdown that must not pass for success.
		{name: "Jordan block/b=e0", a: shift, b: []float64{1, 0, 0, 0, 0}, want: Breakdown, iters: 1},
		{name: "singular/consistent", a: singular, b: []float64{0, 1, 1, 1, 1}, want: Converged, iters: 4},
		{name: "singular/inconsistent", a: singular, b: []float64{1, 1, 1, 1, 1}, want: Breakdown, iters: 5},
	} {
		t.Run(c.name, func(t *testing.T) {
			x := make([]float64, n)
			res, err := GMRES(NewDense(mat.DenseCopyOf(c.a)), c.b, x, Settings{})
			if err != nil {
				t.Fatal(err)
			}
			if res.Reason != c.want || res.Iterations != c.iters {
				t.Errorf("got %v after %d iterations, want %v after %d", res.Reason, res.Iterations, c.want, c.iters)
			}
			if !allFinite(x) {
				t.Errorf("non-finite x = %v", x)
			}
			// Whatever the outcome, GMRES minimizes the residual, so it
			// can never be worse than the starting residual ‖b‖.
			if r := norm(sub(c.b, mulVec(c.a, x))); r > norm(c.b)*(1+1e-12) {
				t.Errorf("residual %.3g grew beyond ‖b‖ = %.3g", r, floats.Norm(c.b, 2))
			}
		})
	}
}

// TestGMRESMatchesMINRES cross-checks two independent implementations:
// for symmetric A, full GMRES and MINRES both return the minimizer of
// ‖b − A x‖₂ over the same Krylov subspace K_k(A, b), so their residuals
// after k steps must agree. The Krylov basis of this well-conditioned
// (κ = 100) problem stays orthogonal to about 1e-13 over 15 steps, so a
// relative difference of 1e-9 leaves ample room.
func TestGMRESMatchesMINRES(t *testing.T) {
	const n = 40
	rnd := newRand(29)
	a := symFromEigs(rnd, indefiniteEigs(rnd, 0, 2, n))
	b := randVec(rnd, n)
	for k := 1; k <= 15; k++ {
		xg, xm := make([]float64, n), make([]float64, n)
		s := Settings{RelTol: 1e-14, MaxIter: k, Restart: n}
		if _, err := GMRES(NewDense(a), b, xg, s); err != nil {
			t.Fatal(err)
		}
		if _, err := MINRES(NewDense(a), b, xm, s); err != nil {
			t.Fatal(err)
		}
		rg, rm := norm(sub(b, mulVec(a, xg))), norm(sub(b, mulVec(a, xm)))
		if math.Abs(rg-rm) > 1e-9*rm {
			t.Errorf("k=%d: GMRES residual %.15g, MINRES residual %.15g", k, rg, rm)
		}
	}
}

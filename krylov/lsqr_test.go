package krylov

import (
	"math"
	"testing"

	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/mat"
)

// denseLeastSquares returns the reference solution of
// min ‖A x − b‖² + d²‖x‖² computed densely: the minimum-norm
// least-squares solution A⁺b from a thin SVD when d = 0, and the solution
// of the regularized normal equations (AᵀA + d²I) x = Aᵀb by Cholesky when
// d > 0 (safe to square here: AᵀA + d²I has κ ≤ (σ₁² + d²)/d²).
func denseLeastSquares(t *testing.T, a *mat.Dense, b []float64, d float64) []float64 {
	t.Helper()
	_, n := a.Dims()
	bv := mat.NewVecDense(len(b), b)
	x := mat.NewVecDense(n, nil)
	if d == 0 {
		var svd mat.SVD
		if !svd.Factorize(a, mat.SVDThin) {
			t.Fatal("SVD failed")
		}
		// Singular values of the test matrices are either ≥ 1e-2·σ₁ or
		// exact zeros perturbed by rounding (~1e-16·σ₁), so any rcond in
		// between finds the true rank.
		svd.SolveVecTo(x, bv, svd.Rank(1e-10))
		return x.RawVector().Data
	}
	var ata mat.SymDense
	ata.SymOuterK(1, a.T())
	for i := 0; i < n; i++ {
		ata.SetSym(i, i, ata.At(i, i)+d*d)
	}
	var chol mat.Cholesky
	if !chol.Factorize(&ata) {
		t.Fatal("Cholesky failed")
	}
	atb := mat.NewVecDense(n, nil)
	atb.MulVec(a.T(), bv)
	if err := chol.SolveVecTo(x, atb); err != nil {
		t.Fatal(err)
	}
	return x.RawVector().Data
}

func TestLSQR(t *testing.T) {
	for _, c := range []struct {
		name       string
		m, n, rank int
		consistent bool    // b ∈ range(A)
		damp       float64 // Settings.Damp
		x0         bool    // random initial guess
		funcs      bool    // hide Dims behind Funcs
	}{
		{name: "overdetermined/consistent", m: 100, n: 20, rank: 20, consistent: true},
		{name: "overdetermined/inconsistent", m: 100, n: 20, rank: 20},
		{name: "overdetermined/inconsistent/x0", m: 100, n: 20, rank: 20, x0: true},
		{name: "overdetermined/inconsistent/funcs", m: 100, n: 20, rank: 20, funcs: true},
		{name: "underdetermined/min-norm", m: 20, n: 60, rank: 20, consistent: true},
		{name: "rank-deficient/min-norm", m: 60, n: 30, rank: 20},
		{name: "square", m: 40, n: 40, rank: 40, consistent: true},
		{name: "damped/overdetermined", m: 100, n: 20, rank: 20, damp: 0.5},
		{name: "damped/underdetermined", m: 20, n: 60, rank: 20, damp: 0.5},
		{name: "damped/rank-deficient", m: 60, n: 30, rank: 20, damp: 0.1},
		{name: "damped/overdetermined/x0", m: 100, n: 20, rank: 20, damp: 0.5, x0: true},
		{name: "damped/underdetermined/x0", m: 20, n: 60, rank: 20, damp: 2, x0: true},
	} {
		t.Run(c.name, func(t *testing.T) {
			const relTol = 1e-10
			rnd := newRand(31)
			// Singular values in [1, 100]: κ = 100 on range(Aᵀ).
			sv := logspace(0, 2, c.rank)
			a := matFromSVD(rnd, c.m, c.n, sv)
			var b []float64
			if c.consistent {
				b = mulVec(a, randVec(rnd, c.n))
			} else {
				b = randVec(rnd, c.m)
			}
			x := make([]float64, c.n)
			if c.x0 {
				x = randVec(rnd, c.n)
			}
			x0 := append([]float64(nil), x...)
			var op TransposeOperator = NewDense(a)
			if c.funcs {
				d := NewDense(a)
				op = Funcs{Forward: d.Apply, Transpose: d.ApplyTranspose}
			}

			res, err := LSQR(op, b, x, Settings{RelTol: relTol, Damp: c.damp})
			if err != nil {
				t.Fatal(err)
			}
			if res.Reason != Converged {
				t.Fatalf("Reason = %v after %d iterations, want Converged", res.Reason, res.Iterations)
			}

			// True augmented residual and gradient of the objective.
			r := sub(b, mulVec(a, x))
			g := mulVec(a.T(), r)
			floats.AddScaled(g, -c.damp*c.damp, x)
			aug := math.Hypot(norm(r), c.damp*norm(x))
			gnorm := norm(g)
			abarF := math.Hypot(mat.Norm(a, 2) /* Frobenius for matrices */, c.damp*math.Sqrt(float64(c.n)))

			// One of the Paige–Saunders tests must hold for the true
			// quantities. LSQR applies them to its estimate ‖B_k‖_F ≤
			// ‖Ā‖_F and to recurrence estimates of ‖r̄‖ and ‖Āᵀr̄‖, which
			// drift from the truth by rounding; allow a factor 10.
			test1 := aug <= 10*relTol*(norm(b)+abarF*norm(sub(x, x0)))
			test2 := gnorm <= 10*relTol*abarF*aug
			if !test1 && !test2 {
				t.Errorf("neither stopping test holds: ‖r̄‖=%.3g, ‖Āᵀr̄‖=%.3g", aug, gnorm)
			}
			if d := math.Abs(res.ResidualNorm - aug); d > 1e-8*norm(b) {
				t.Errorf("ResidualNorm = %.10g, true ‖r̄‖ = %.10g", res.ResidualNorm, aug)
			}
			if d := math.Abs(res.NormalResidualNorm - gnorm); d > 1e-6*abarF*aug+1e-12 {
				t.Errorf("NormalResidualNorm = %.3g, true ‖Āᵀr̄‖ = %.3g", res.NormalResidualNorm, gnorm)
			}

			// Forward error. The gradient is g = (AᵀA + d²I)(x̂ − x) for
			// the reference x̂. The smallest eigenvalue of AᵀA + d²I is
			// σ_r² + d² on range(Aᵀ), and x − x̂ lies there: LSQR iterates
			// from 0 never leave it, and the cases with x₀ ≠ 0 have d > 0
			// or full column rank, where the bound holds on all of Rⁿ.
			// Hence ‖x − x̂‖ ≤ ‖g‖/(σ_r² + d²). The slack covers rounding
			// in the test's own g and in the dense reference, both of
			// order m·ε·κ²·(‖b‖/σ₁ + ‖x̂‖).
			xref := denseLeastSquares(t, a, b, c.damp)
			smin, smax := sv[0], sv[len(sv)-1]
			kappa := smax / smin
			slop := float64(c.m) * eps * kappa * kappa * (norm(b)/smax + norm(xref))
			bound := gnorm/(smin*smin+c.damp*c.damp) + slop
			e := norm(sub(x, xref))
			t.Logf("%d iterations, ‖x − x_ref‖ = %.2g, bound %.2g", res.Iterations, e, bound)
			if e > bound {
				t.Errorf("‖x − x_ref‖ = %.3g exceeds bound %.3g (‖x_ref‖ = %.3g)", e, bound, norm(xref))
			}
		})
	}
}

// TestLSQRZeroOperator checks the degenerate A = 0: Aᵀb = 0, so x = 0 is
// the minimum-norm least-squares solution and LSQR must say so at once.
func TestLSQRZeroOperator(t *testing.T) {
	a := NewDense(mat.NewDense(4, 3, nil))
	b := []float64{1, 2, 3, 4}
	x := make([]float64, 3)
	res, err := LSQR(a, b, x, Settings{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Reason != Converged || res.Iterations != 0 || !allZero(x) {
		t.Errorf("got %v after %d iterations with x = %v, want Converged after 0 with x = 0", res.Reason, res.Iterations, x)
	}
	if res.ResidualNorm != norm(b) || res.NormalResidualNorm != 0 {
		t.Errorf("ResidualNorm = %v, NormalResidualNorm = %v, want %v, 0", res.ResidualNorm, res.NormalResidualNorm, norm(b))
	}
}

package krylov

import (
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/mat"
)

// indefiniteEigs returns n eigenvalues with |λ| log-spaced in
// [10^lo, 10^hi] and random signs, so κ = 10^(hi−lo) exactly.
func indefiniteEigs(rnd *rand.Rand, lo, hi float64, n int) []float64 {
	e := logspace(lo, hi, n)
	for i := range e {
		if rnd.IntN(2) == 0 {
			e[i] = -e[i]
		}
	}
	// Pin both signs so the matrix is indefinite whatever the draws.
	e[0], e[n-1] = -math.Abs(e[0]), math.Abs(e[n-1])
	return e
}

func symIndefinite(lo, hi float64, n int) func(*rand.Rand) *mat.Dense {
	return func(rnd *rand.Rand) *mat.Dense { return symFromEigs(rnd, indefiniteEigs(rnd, lo, hi, n)) }
}

// scaledIndefinite is D A D for an indefinite A with κ = 10^hi and D
// spanning 10^0…10^dhi.
func scaledIndefinite(hi, dhi float64, n int) func(*rand.Rand) *mat.Dense {
	return func(rnd *rand.Rand) *mat.Dense {
		return scaleSym(symFromEigs(rnd, indefiniteEigs(rnd, 0, hi, n)), logspace(0, dhi, n))
	}
}

// inverseScalingPrecond returns M⁻¹ = D⁻² for the D of scaledIndefinite,
// an SPD preconditioner under which the preconditioned operator
// M^{-1/2}(DAD)M^{-1/2} = A is the unscaled matrix.
func inverseScalingPrecond(dhi float64, n int) func(*mat.Dense) Operator {
	return func(*mat.Dense) Operator {
		d := logspace(0, dhi, n)
		for i := range d {
			d[i] = 1 / (d[i] * d[i])
		}
		return diagPrecond(d)
	}
}

func TestMINRES(t *testing.T) {
	const n = 50
	const dhi = 1.0
	for _, c := range []struct {
		squareCase
		kappaM float64 // κ(M) of the preconditioner, 1 without one
	}{
		{squareCase{name: "indefinite/κ=1e2", seed: 11, a: symIndefinite(0, 2, n), s: Settings{RelTol: 1e-10}}, 1},
		{squareCase{name: "indefinite/κ=1e2/x0", seed: 12, a: symIndefinite(0, 2, n), x0: true, s: Settings{RelTol: 1e-10}}, 1},
		{squareCase{name: "SPD/κ=1e3", seed: 13, a: spdEigs(0, 3, n), s: Settings{RelTol: 1e-10}}, 1},
		{squareCase{name: "SPD/jacobi", seed: 14, a: scaledSPD(2, 1.5, n), precond: jacobiOp, s: Settings{RelTol: 1e-10}}, 0},
		{squareCase{name: "indefinite/scaled/precond", seed: 15, a: scaledIndefinite(2, dhi, n),
			precond: inverseScalingPrecond(dhi, n), s: Settings{RelTol: 1e-10}}, math.Pow(10, 2*dhi)},
		{squareCase{name: "indefinite/scaled/precond/x0", seed: 16, a: scaledIndefinite(2, dhi, n),
			precond: inverseScalingPrecond(dhi, n), x0: true, s: Settings{RelTol: 1e-10}}, math.Pow(10, 2*dhi)},
	} {
		t.Run(c.name, func(t *testing.T) {
			a, b, x, xstar, res := runSquareCase(t, c.squareCase, MINRES)
			kappaM := c.kappaM
			if kappaM == 0 {
				// Jacobi: κ(M) is the spread of the diagonal of A.
				d := make([]float64, n)
				for i := range d {
					d[i] = a.At(i, i)
				}
				kappaM = floats.Max(d) / floats.Min(d)
			}
			// MINRES stops on ‖r‖_{M⁻¹} ≤ RelTol·‖b‖_{M⁻¹}. Converting both
			// norms to the 2-norm costs at most a factor √κ(M). As in
			// CG, the recurrence estimate drifts from the true residual by
			// about k·ε·κ(A) relative to ‖b‖; allow 10 times that.
			kappa := mat.Cond(a, 2)
			bound := math.Sqrt(kappaM) * (c.s.RelTol + 10*float64(res.Iterations)*eps*kappa)
			checkSquareSolution(t, a, b, x, xstar, bound)
		})
	}
}

// TestMINRESSingular checks symmetric singular systems: from x₀ = 0 the
// iterates stay in range(A), so a consistent system converges to the
// minimum-norm solution A⁺b, and an inconsistent one must stop with
// Breakdown at a least-squares solution rather than return garbage or spin
// until MaxIter.
func TestMINRESSingular(t *testing.T) {
	const n = 40
	for _, c := range []struct {
		name       string
		consistent bool
		want       Reason
	}{
		{"consistent", true, Converged},
		{"inconsistent", false, Breakdown},
	} {
		t.Run(c.name, func(t *testing.T) {
			rnd := newRand(17)
			// Four distinct nonzero eigenvalues and a 4-dimensional null
			// space: the Krylov space is exhausted after at most 5 steps.
			eigs := make([]float64, n)
			nonzero := []float64{-2, 1, 3, 5}
			for i := range eigs {
				if i%10 != 0 {
					eigs[i] = nonzero[i%len(nonzero)]
				}
			}
			a, q := symFromEigsQ(rnd, eigs)
			// b = Q c; A⁺b = Q diag(1/λ or 0) c, and the least-squares
			// residual is the null-space part of b.
			coef := randVec(rnd, n)
			xdag := make([]float64, n)
			var nullNorm2 float64
			for i, e := range eigs {
				switch {
				case e != 0:
					xdag[i] = coef[i] / e
				case c.consistent:
					coef[i] = 0
				default:
					nullNorm2 += coef[i] * coef[i]
				}
			}
			b := mulVec(q, coef)
			xdag = mulVec(q, xdag)
			x := make([]float64, n)
			res, err := MINRES(NewDense(a), b, x, Settings{RelTol: 1e-10})
			if err != nil {
				t.Fatal(err)
			}
			if res.Reason != c.want {
				t.Fatalf("Reason = %v after %d iterations, want %v", res.Reason, res.Iterations, c.want)
			}
			t.Logf("%v after %d iterations", res.Reason, res.Iterations)
			// All nonzero |λ| ≥ 1 and ≤ 5, so errors on range(A) are at
			// most 5× the residual error; 1e-8 leaves two orders of
			// magnitude over RelTol for the recurrence drift.
			if c.consistent {
				if d := norm(sub(x, xdag)) / norm(xdag); d > 1e-8 {
					t.Errorf("‖x − A⁺b‖/‖A⁺b‖ = %.3g, want ≤ 1e-8", d)
				}
			} else {
				// Plain MINRES picks up null-space components from b (only
				// MINRES-QLP returns A⁺b), so x is a least-squares
				// solution but not the minimum-norm one: compare A x with
				// the projection A A⁺b of b onto range(A).
				if d := norm(sub(mulVec(a, x), mulVec(a, xdag))) / norm(b); d > 1e-8 {
					t.Errorf("‖A x − A A⁺b‖/‖b‖ = %.3g, want ≤ 1e-8", d)
				}
			}
			if want := math.Sqrt(nullNorm2); math.Abs(res.ResidualNorm-want) > 1e-8*norm(b) {
				t.Errorf("ResidualNorm = %.10g, want the least-squares residual %.10g", res.ResidualNorm, want)
			}
		})
	}
}

func TestMINRESBreakdown(t *testing.T) {
	for _, c := range []struct {
		name    string
		diag    []float64
		precond Operator
		want    Reason
	}{
		{name: "zero matrix", diag: []float64{0, 0, 0}, want: Breakdown},
		{name: "b in null space", diag: []float64{0, 0, 3}, want: Breakdown},
		{name: "indefinite preconditioner", diag: []float64{1, -2, 3},
			precond: diagPrecond([]float64{1, -1, 1}), want: Indefinite},
	} {
		t.Run(c.name, func(t *testing.T) {
			a := NewDense(mat.DenseCopyOf(mat.NewDiagDense(len(c.diag), c.diag)))
			b := []float64{1, 1, 0}
			x := make([]float64, len(b))
			res, err := MINRES(a, b, x, Settings{Precond: c.precond})
			if err != nil {
				t.Fatal(err)
			}
			if res.Reason != c.want {
				t.Errorf("Reason = %v after %d iterations, want %v", res.Reason, res.Iterations, c.want)
			}
			if !allFinite(x) {
				t.Errorf("non-finite x = %v", x)
			}
		})
	}
}

package krylov

import (
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"
)

// squareCase is one known-solution problem A x* = b for a square solver.
type squareCase struct {
	name    string
	seed    uint64
	a       func(rnd *rand.Rand) *mat.Dense
	precond func(a *mat.Dense) Operator // nil: no preconditioner
	x0      bool                        // start from a random guess instead of 0
	s       Settings
}

// runSquareCase solves c with solve and returns the matrix, the data, the
// result and the true solution for the caller's checks.
func runSquareCase(t *testing.T, c squareCase, solve func(Operator, []float64, []float64, Settings) (Result, error)) (a *mat.Dense, b, x, xstar []float64, res Result) {
	t.Helper()
	rnd := newRand(c.seed)
	a = c.a(rnd)
	n, _ := a.Dims()
	xstar = randVec(rnd, n)
	b = mulVec(a, xstar)
	x = make([]float64, n)
	if c.x0 {
		x = randVec(rnd, n)
	}
	s := c.s
	if c.precond != nil {
		s.Precond = c.precond(a)
	}
	res, err := solve(NewDense(a), b, x, s)
	if err != nil {
		t.Fatalf("unexpected error: %v", err)
	}
	if res.Reason != Converged {
		t.Fatalf("Reason = %v after %d iterations (residual %.3g), want Converged", res.Reason, res.Iterations, res.ResidualNorm)
	}
	return a, b, x, xstar, res
}

func spdEigs(lo, hi float64, n int) func(*rand.Rand) *mat.Dense {
	return func(rnd *rand.Rand) *mat.Dense { return symFromEigs(rnd, logspace(lo, hi, n)) }
}

// scaledSPD is an SPD matrix with κ = 10^hi, badly scaled by a diagonal
// spanning 10^0…10^dhi, the situation a Jacobi preconditioner is for.
func scaledSPD(hi, dhi float64, n int) func(*rand.Rand) *mat.Dense {
	return func(rnd *rand.Rand) *mat.Dense {
		return scaleSym(symFromEigs(rnd, logspace(0, hi, n)), logspace(0, dhi, n))
	}
}

func jacobiOp(a *mat.Dense) Operator { return jacobi(a) }

func TestCG(t *testing.T) {
	const n = 50
	for _, c := range []squareCase{
		{name: "QDQt/κ=1e3", seed: 1, a: spdEigs(0, 3, n), s: Settings{RelTol: 1e-10}},
		{name: "QDQt/κ=1e3/x0", seed: 2, a: spdEigs(0, 3, n), x0: true, s: Settings{RelTol: 1e-10}},
		{name: "AtA+I", seed: 3, a: func(rnd *rand.Rand) *mat.Dense {
			j := randMat(rnd, 80, n)
			var a mat.Dense
			a.Mul(j.T(), j)
			for i := 0; i < n; i++ {
				a.Set(i, i, a.At(i, i)+1)
			}
			return &a
		}, s: Settings{RelTol: 1e-10}},
		{name: "scaled/plain", seed: 4, a: scaledSPD(2, 1.5, n), s: Settings{RelTol: 1e-10, MaxIter: 20 * n}},
		{name: "scaled/jacobi", seed: 4, a: scaledSPD(2, 1.5, n), precond: jacobiOp, s: Settings{RelTol: 1e-10}},
		{name: "default tolerance", seed: 5, a: spdEigs(0, 2, n)},
	} {
		t.Run(c.name, func(t *testing.T) {
			a, b, x, xstar, res := runSquareCase(t, c, CG)
			relTol := c.s.RelTol
			if relTol == 0 {
				relTol = DefaultRelTol
			}
			if res.ResidualNorm > relTol*norm(b) {
				t.Errorf("reported residual %.3g exceeds RelTol·‖b‖ = %.3g", res.ResidualNorm, relTol*norm(b))
			}
			// The CG recurrence residual drifts from b − A x by rounding
			// of order k·ε·‖A‖·max‖x_j‖ ≤ k·ε·κ·‖b‖ after k steps
			// (Greenbaum 1997); allow 10 times that on top of RelTol.
			kappa := mat.Cond(a, 2)
			bound := relTol + 10*float64(res.Iterations)*eps*kappa
			checkSquareSolution(t, a, b, x, xstar, bound)
		})
	}
}

// TestCGJacobi checks that the Jacobi preconditioner pays off on a badly
// scaled matrix, evidence that Precond is applied as M⁻¹ and not as M.
func TestCGJacobi(t *testing.T) {
	const n = 50
	iters := make(map[bool]int)
	for _, pre := range []bool{false, true} {
		c := squareCase{seed: 4, a: scaledSPD(2, 1.5, n), s: Settings{RelTol: 1e-10, MaxIter: 20 * n}}
		if pre {
			c.precond = jacobiOp
		}
		_, _, _, _, res := runSquareCase(t, c, CG)
		iters[pre] = res.Iterations
	}
	if iters[true] >= iters[false] {
		t.Errorf("Jacobi-preconditioned CG took %d iterations, plain CG %d; want fewer", iters[true], iters[false])
	}
}

// TestDistinctEigenvalues checks the exact-arithmetic property that a
// Krylov method on a diagonalizable A with k distinct eigenvalues finds
// the solution in at most k steps, because the minimal polynomial of A
// has degree k. In floating point the k-th residual is at the rounding
// level ε·κ ≈ 1e-14 here, far below RelTol = 1e-10, so at most one extra
// step of slack is allowed.
func TestDistinctEigenvalues(t *testing.T) {
	const n = 60
	for _, c := range []struct {
		name string
		eigs []float64
	}{
		{"k=1", []float64{3}},
		{"k=3", []float64{1, 4, 9}},
		{"k=5", []float64{1, 2, 4, 8, 16}},
		{"k=5/indefinite", []float64{-8, -1, 1, 3, 10}},
	} {
		indefinite := c.eigs[0] < 0
		for _, solver := range squareSolvers() {
			if indefinite && solver.name == "CG" {
				continue
			}
			t.Run(c.name+"/"+solver.name, func(t *testing.T) {
				rnd := newRand(6)
				full := make([]float64, n)
				for i := range full {
					full[i] = c.eigs[i%len(c.eigs)]
				}
				var a *mat.Dense
				if solver.name == "GMRES" {
					// Non-normal but diagonalizable: S D S⁻¹ with a
					// well-conditioned S.
					sm := randMat(rnd, n, n)
					sm.Scale(0.3/math.Sqrt(n), sm)
					for i := 0; i < n; i++ {
						sm.Set(i, i, sm.At(i, i)+1)
					}
					var sinv, sd mat.Dense
					if err := sinv.Inverse(sm); err != nil {
						t.Fatal(err)
					}
					sd.Mul(sm, mat.NewDiagDense(n, full))
					a = new(mat.Dense)
					a.Mul(&sd, &sinv)
				} else {
					a = symFromEigs(rnd, full)
				}
				b := randVec(rnd, n)
				x := make([]float64, n)
				res, err := solver.solve(NewDense(a), b, x, Settings{RelTol: 1e-10})
				if err != nil {
					t.Fatal(err)
				}
				if k := len(c.eigs); res.Reason != Converged || res.Iterations > k+1 {
					t.Errorf("got %v after %d iterations, want Converged within %d", res.Reason, res.Iterations, k+1)
				}
			})
		}
	}
}

func TestCGBreakdown(t *testing.T) {
	for _, c := range []struct {
		name    string
		diag    []float64
		b       []float64
		precond Operator
		want    Reason
		iters   int
	}{
		// p₀ = b has p₀ᵀAp₀ = 1 − 3 < 0 at once.
		{name: "negative curvature", diag: []float64{1, -3}, b: []float64{1, 1}, want: Indefinite, iters: 0},
		// A = diag(1, 0) and b ∉ range(A): the first step is fine, the
		// second direction p = (0, 2) lies in the null space.
		{name: "singular inconsistent", diag: []float64{1, 0}, b: []float64{1, 1}, want: Breakdown, iters: 1},
		{name: "zero matrix", diag: []float64{0, 0, 0}, b: []float64{1, 2, 3}, want: Breakdown, iters: 0},
		{name: "negative preconditioner", diag: []float64{1, 2}, b: []float64{1, 1},
			precond: Func(func(dst, x []float64) {
				for i := range dst {
					dst[i] = -x[i]
				}
			}), want: Indefinite, iters: 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			a := NewDense(mat.DenseCopyOf(mat.NewDiagDense(len(c.diag), c.diag)))
			x := make([]float64, len(c.b))
			res, err := CG(a, c.b, x, Settings{Precond: c.precond})
			if err != nil {
				t.Fatal(err)
			}
			if res.Reason != c.want || res.Iterations != c.iters {
				t.Errorf("got %v after %d iterations, want %v after %d", res.Reason, res.Iterations, c.want, c.iters)
			}
			if !allFinite(x) || !isFinite(res.ResidualNorm) {
				t.Errorf("non-finite output x=%v, residual=%v", x, res.ResidualNorm)
			}
		})
	}
}

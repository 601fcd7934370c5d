package krylov

import (
	"errors"
	"math"
	"slices"
	"testing"

	"gonum.org/v1/gonum/mat"
)

// spdOperator returns a small well-conditioned SPD test problem shared by
// the method-agnostic tests; SPD suits all four methods.
func spdOperator(n int, seed uint64) (*mat.Dense, []float64) {
	rnd := newRand(seed)
	a := symFromEigs(rnd, logspace(0, 2, n))
	return a, randVec(rnd, n)
}

func TestInvalidInput(t *testing.T) {
	const n = 4
	a, b := spdOperator(n, 41)
	op := NewDense(a)
	nan, inf := math.NaN(), math.Inf(1)
	withNaN := func(v []float64, at int, bad float64) []float64 {
		v = slices.Clone(v)
		v[at] = bad
		return v
	}
	for _, solver := range allSolvers() {
		for _, c := range []struct {
			name string
			op   TransposeOperator
			b, x []float64
			s    Settings
			want error
		}{
			{name: "nil operator", op: nil, b: b, x: make([]float64, n), want: ErrNilOperator},
			{name: "nil Funcs", op: Funcs{}, b: b, x: make([]float64, n), want: ErrNilOperator},
			{name: "nil Funcs.Forward", op: Funcs{Transpose: op.ApplyTranspose}, b: b, x: make([]float64, n), want: ErrNilOperator},
			{name: "short x", op: op, b: b, x: make([]float64, n-1), want: ErrDimension},
			{name: "long b", op: op, b: append(slices.Clone(b), 1), x: make([]float64, n), want: ErrDimension},
			{name: "NaN in b", op: op, b: withNaN(b, 1, nan), x: make([]float64, n), want: ErrNonFinite},
			{name: "Inf in b", op: op, b: withNaN(b, 0, -inf), x: make([]float64, n), want: ErrNonFinite},
			{name: "NaN in x", op: op, b: b, x: withNaN(make([]float64, n), 2, nan), want: ErrNonFinite},
			{name: "Inf in x", op: op, b: b, x: withNaN(make([]float64, n), 3, inf), want: ErrNonFinite},
			{name: "negative RelTol", op: op, b: b, x: make([]float64, n), s: Settings{RelTol: -1e-8}, want: ErrSettings},
			{name: "NaN RelTol", op: op, b: b, x: make([]float64, n), s: Settings{RelTol: nan}, want: ErrSettings},
			{name: "negative AbsTol", op: op, b: b, x: make([]float64, n), s: Settings{AbsTol: -1}, want: ErrSettings},
			{name: "Inf AbsTol", op: op, b: b, x: make([]float64, n), s: Settings{AbsTol: inf}, want: ErrSettings},
			{name: "negative MaxIter", op: op, b: b, x: make([]float64, n), s: Settings{MaxIter: -1}, want: ErrSettings},
			{name: "negative Restart", op: op, b: b, x: make([]float64, n), s: Settings{Restart: -1}, want: ErrSettings},
			{name: "negative Damp", op: op, b: b, x: make([]float64, n), s: Settings{Damp: -0.5}, want: ErrSettings},
			{name: "nil Func Precond", op: op, b: b, x: make([]float64, n), s: Settings{Precond: Func(nil)}, want: ErrNilOperator},
		} {
			if solver.name == "LSQR" && c.name == "nil Func Precond" {
				// LSQR rejects any Precond; tested below.
				continue
			}
			t.Run(solver.name+"/"+c.name, func(t *testing.T) {
				x := slices.Clone(c.x)
				res, err := solver.solve(c.op, c.b, x, c.s)
				if !errors.Is(err, c.want) {
					t.Fatalf("error = %v, want %v", err, c.want)
				}
				if res != (Result{}) {
					t.Errorf("Result = %+v, want zero value with an error", res)
				}
				if !slices.Equal(x, c.x) && !slices.ContainsFunc(c.x, math.IsNaN) {
					t.Errorf("x modified on invalid input: %v", x)
				}
			})
		}
	}

	// Options that a method cannot honor are rejected rather than
	// silently ignored.
	x := make([]float64, n)
	for _, solver := range squareSolvers() {
		if _, err := solver.solve(op, b, x, Settings{Damp: 1}); !errors.Is(err, ErrSettings) {
			t.Errorf("%s with Damp: error = %v, want ErrSettings", solver.name, err)
		}
	}
	if _, err := LSQR(op, b, x, Settings{Precond: jacobi(a)}); !errors.Is(err, ErrSettings) {
		t.Errorf("LSQR with Precond: error = %v, want ErrSettings", err)
	}
	if _, err := LSQR(Funcs{Forward: op.Apply}, b, x, Settings{}); !errors.Is(err, ErrNilOperator) {
		t.Errorf("LSQR with nil Funcs.Transpose: error = %v, want ErrNilOperator", err)
	}
	// A square method accepts Funcs without a transpose.
	if _, err := CG(Funcs{Forward: op.Apply}, b, x, Settings{}); err != nil {
		t.Errorf("CG with Funcs lacking Transpose: unexpected error %v", err)
	}
	// Errors carry context beyond the sentinel.
	_, err := GMRES(op, b, make([]float64, n+1), Settings{})
	if err == nil || err.Error() == ErrDimension.Error() {
		t.Errorf("error %q lacks context", err)
	}
}

// TestZeroRHS checks that b = 0 returns x = 0 at once whatever the
// initial guess: x = 0 solves A x = 0 exactly, and is the minimum-norm
// least-squares solution for LSQR.
func TestZeroRHS(t *testing.T) {
	const n = 6
	a, x0 := spdOperator(n, 42)
	for _, solver := range allSolvers() {
		for _, damp := range []float64{0, 0.5} {
			if damp != 0 && solver.name != "LSQR" {
				continue
			}
			x := slices.Clone(x0)
			res, err := solver.solve(NewDense(a), make([]float64, n), x, Settings{Damp: damp})
			if err != nil {
				t.Fatalf("%s: %v", solver.name, err)
			}
			if want := (Result{Reason: Converged}); res != want || !allZero(x) {
				t.Errorf("%s damp=%v: got %+v, x=%v; want %+v, x=0", solver.name, damp, res, x, want)
			}
		}
	}
}

// TestExactInitialGuess checks that a solver given the solution returns
// it unchanged after zero iterations: the initial residual is at rounding
// level, ε·κ ≈ 1e-14 relative, far below the default tolerance.
func TestExactInitialGuess(t *testing.T) {
	const n = 10
	a, xstar := spdOperator(n, 43)
	b := mulVec(a, xstar)
	for _, solver := range allSolvers() {
		x := slices.Clone(xstar)
		res, err := solver.solve(NewDense(a), b, x, Settings{})
		if err != nil {
			t.Fatalf("%s: %v", solver.name, err)
		}
		if res.Reason != Converged || res.Iterations != 0 || !slices.Equal(x, xstar) {
			t.Errorf("%s: got %v after %d iterations, want Converged after 0 with x unchanged",
				solver.name, res.Reason, res.Iterations)
		}
	}
}

// TestMaxIterations checks that a solve cut short reports MaxIterations
// with exactly MaxIter iterations, and that the partial x is still an
// improvement: every method here reduces a residual norm monotonically
// (CG the A-norm of the error, which bounds the residual only loosely, so
// for CG only finiteness is checked).
func TestMaxIterations(t *testing.T) {
	const n = 50
	rnd := newRand(44)
	a := symFromEigs(rnd, logspace(0, 3, n))
	b := randVec(rnd, n)
	for _, solver := range allSolvers() {
		for _, c := range []struct {
			maxIter, restart int
		}{{1, 0}, {3, 0}, {7, 2}} {
			if c.restart != 0 && solver.name != "GMRES" {
				continue
			}
			x := make([]float64, n)
			res, err := solver.solve(NewDense(a), b, x, Settings{RelTol: 1e-12, MaxIter: c.maxIter, Restart: c.restart})
			if err != nil {
				t.Fatalf("%s: %v", solver.name, err)
			}
			if res.Reason != MaxIterations || res.Iterations != c.maxIter {
				t.Errorf("%s MaxIter=%d Restart=%d: got %v after %d iterations, want MaxIterations after %d",
					solver.name, c.maxIter, c.restart, res.Reason, res.Iterations, c.maxIter)
			}
			r := norm(sub(b, mulVec(a, x)))
			if !allFinite(x) || (solver.name != "CG" && r >= norm(b)) {
				t.Errorf("%s MaxIter=%d: residual %.3g not below ‖b‖ = %.3g", solver.name, c.maxIter, r, norm(b))
			}
		}
	}
}

// TestNonFiniteOperator checks that a NaN from the operator stops the
// iteration with NonFinite and leaves x at the last finite iterate: the
// result must equal, bit for bit, that of the same solve stopped by
// MaxIter just before the failing application.
func TestNonFiniteOperator(t *testing.T) {
	const n = 40
	rnd := newRand(45)
	a := symFromEigs(rnd, logspace(0, 2, n))
	b := randVec(rnd, n)
	for _, solver := range allSolvers() {
		for _, nanAt := range []int{1, 4} {
			// From x = 0 no method applies A before its first iteration,
			// so a NaN on call k arrives during iteration k.
			op := &countingOp{op: NewDense(a), nanAt: nanAt}
			x := make([]float64, n)
			res, err := solver.solve(op, b, x, Settings{Restart: 10})
			if err != nil {
				t.Fatalf("%s: %v", solver.name, err)
			}
			if res.Reason != NonFinite || res.Iterations != nanAt-1 {
				t.Errorf("%s NaN at call %d: got %v after %d iterations, want NonFinite after %d",
					solver.name, nanAt, res.Reason, res.Iterations, nanAt-1)
			}
			if op.calls != nanAt {
				t.Errorf("%s: operator applied %d times, want to stop at the NaN (call %d)", solver.name, op.calls, nanAt)
			}
			if !allFinite(x) || !isFinite(res.ResidualNorm) {
				t.Fatalf("%s: non-finite output x=%v, residual=%v", solver.name, x, res.ResidualNorm)
			}
			want := make([]float64, n)
			if nanAt > 1 {
				if _, err := solver.solve(NewDense(a), b, want, Settings{Restart: 10, MaxIter: nanAt - 1}); err != nil {
					t.Fatal(err)
				}
			}
			if !slices.Equal(x, want) {
				t.Errorf("%s NaN at call %d: x is not the last finite iterate", solver.name, nanAt)
			}
		}
	}
}

// TestNonFinitePrecond checks that a preconditioner producing Inf is
// caught like a failing operator.
func TestNonFinitePrecond(t *testing.T) {
	const n = 20
	a, b := spdOperator(n, 46)
	for _, solver := range squareSolvers() {
		calls := 0
		bad := Func(func(dst, x []float64) {
			calls++
			copy(dst, x)
			if calls >= 3 {
				dst[n-1] = math.Inf(-1)
			}
		})
		x := make([]float64, n)
		res, err := solver.solve(NewDense(a), b, x, Settings{Precond: bad})
		if err != nil {
			t.Fatalf("%s: %v", solver.name, err)
		}
		if res.Reason != NonFinite || !allFinite(x) {
			t.Errorf("%s: got %v with finite x = %v, want NonFinite with finite x", solver.name, res.Reason, allFinite(x))
		}
	}
}

// TestAllocations checks that work vectors are allocated once per call:
// the allocation count must not grow with the number of iterations.
func TestAllocations(t *testing.T) {
	const n = 60
	a, b := spdOperator(n, 47)
	op := NewDense(a)
	x := make([]float64, n)
	for _, solver := range allSolvers() {
		allocs := func(maxIter int) float64 {
			return testing.AllocsPerRun(10, func() {
				clear(x)
				if _, err := solver.solve(op, b, x, Settings{RelTol: 1e-14, MaxIter: maxIter, Restart: 5}); err != nil {
					t.Fatal(err)
				}
			})
		}
		few, many := allocs(2), allocs(40)
		if many != few {
			t.Errorf("%s: %v allocations for 40 iterations but %v for 2; want no allocation per iteration", solver.name, many, few)
		}
		// A handful of work-array allocations, plus the interface
		// conversions of the test harness.
		if many > 6 {
			t.Errorf("%s: %v allocations per solve, want ≤ 6", solver.name, many)
		}
	}
}

func TestReasonString(t *testing.T) {
	for r, want := range map[Reason]string{
		Converged:     "Converged",
		MaxIterations: "MaxIterations",
		Breakdown:     "Breakdown",
		Indefinite:    "Indefinite",
		NonFinite:     "NonFinite",
		0:             "Reason(0)",
		42:            "Reason(42)",
	} {
		if got := r.String(); got != want {
			t.Errorf("Reason(%d).String() = %q, want %q", int(r), got, want)
		}
	}
}

func TestDense(t *testing.T) {
	rnd := newRand(48)
	a := randMat(rnd, 7, 3)
	d := NewDense(a)
	if r, c := d.Dims(); r != 7 || c != 3 {
		t.Errorf("Dims = %d×%d, want 7×3", r, c)
	}
	x, y := randVec(rnd, 3), randVec(rnd, 7)
	ax, aty := make([]float64, 7), make([]float64, 3)
	d.Apply(ax, x)
	d.ApplyTranspose(aty, y)
	// Gemv and mat's MulVec use the same BLAS kernel in a different
	// association order at most; 1e-14 is ~50ε relative to entries of size
	// O(1) summed over ≤ 7 terms.
	if e := norm(sub(ax, mulVec(a, x))); e > 1e-14*norm(ax) {
		t.Errorf("Apply error %.3g", e)
	}
	if e := norm(sub(aty, mulVec(a.T(), y))); e > 1e-14*norm(aty) {
		t.Errorf("ApplyTranspose error %.3g", e)
	}
	// Views with a stride larger than the width must work too.
	view := a.Slice(1, 5, 1, 3).(*mat.Dense)
	dv := NewDense(view)
	vx := make([]float64, 4)
	dv.Apply(vx, x[:2])
	if e := norm(sub(vx, mulVec(view, x[:2]))); e > 1e-14*norm(vx) {
		t.Errorf("Apply on a view: error %.3g", e)
	}
	defer func() {
		if recover() == nil {
			t.Error("Apply with wrong lengths did not panic")
		}
	}()
	d.Apply(make([]float64, 3), x)
}

package krylov

import (
	"testing"

	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/mat"
)

// The benchmarks model the Levenberg–Marquardt use: a dense 1000×64
// Jacobian J with singular values log-spaced in [1, 10^1.5], so that
// JᵀJ has eigenvalues in [1, 1000].
const benchRows, benchCols = 1000, 64

func benchJacobian() (Dense, []float64) {
	rnd := newRand(99)
	j := matFromSVD(rnd, benchRows, benchCols, logspace(0, 1.5, benchCols))
	return NewDense(j), randVec(rnd, benchRows)
}

// shiftedNormal applies JᵀJ + shift·I matrix-free, plus, if skew ≠ 0, the
// skew-symmetric tridiagonal part skew·(x[i+1] − x[i−1]) that makes it
// non-symmetric for GMRES.
type shiftedNormal struct {
	j     Dense
	shift float64
	skew  float64
	tmp   []float64
}

func (o *shiftedNormal) Apply(dst, x []float64) {
	o.j.Apply(o.tmp, x)
	o.j.ApplyTranspose(dst, o.tmp)
	floats.AddScaled(dst, o.shift, x)
	if o.skew != 0 {
		n := len(x)
		for i := range dst {
			var d float64
			if i+1 < n {
				d += x[i+1]
			}
			if i > 0 {
				d -= x[i-1]
			}
			dst[i] += o.skew * d
		}
	}
}

func benchSquare(b *testing.B, solve func(Operator, []float64, []float64, Settings) (Result, error), shift, skew float64, s Settings) {
	j, y := benchJacobian()
	op := &shiftedNormal{j: j, shift: shift, skew: skew, tmp: make([]float64, benchRows)}
	// Right-hand side −g = Jᵀy, as in an LM step.
	rhs := make([]float64, benchCols)
	j.ApplyTranspose(rhs, y)
	x := make([]float64, benchCols)
	var res Result
	b.ReportAllocs()
	for b.Loop() {
		clear(x)
		var err error
		res, err = solve(op, rhs, x, s)
		if err != nil {
			b.Fatal(err)
		}
	}
	if res.Reason != Converged {
		b.Fatalf("Reason = %v", res.Reason)
	}
	b.ReportMetric(float64(res.Iterations), "iters")
}

// BenchmarkCG solves the damped normal equations (JᵀJ + μI) p = Jᵀy.
func BenchmarkCG(b *testing.B) {
	benchSquare(b, CG, 1e-2, 0, Settings{RelTol: 1e-10})
}

// BenchmarkMINRES solves the indefinite system (JᵀJ − 10.5·I) x = Jᵀy.
func BenchmarkMINRES(b *testing.B) {
	benchSquare(b, MINRES, -10.5, 0, Settings{RelTol: 1e-10})
}

// BenchmarkGMRES solves a non-symmetric perturbation of the damped normal
// equations with GMRES(30).
func BenchmarkGMRES(b *testing.B) {
	benchSquare(b, GMRES, 1e-2, 5, Settings{RelTol: 1e-10})
}

// BenchmarkLSQR solves min ‖J p − y‖² + μ‖p‖², the same problem as
// BenchmarkCG, without forming the normal equations.
func BenchmarkLSQR(b *testing.B) {
	j, y := benchJacobian()
	x := make([]float64, benchCols)
	var res Result
	b.ReportAllocs()
	for b.Loop() {
		clear(x)
		var err error
		res, err = LSQR(j, y, x, Settings{RelTol: 1e-10, Damp: 0.1})
		if err != nil {
			b.Fatal(err)
		}
	}
	if res.Reason != Converged {
		b.Fatalf("Reason = %v", res.Reason)
	}
	b.ReportMetric(float64(res.Iterations), "iters")
}

// BenchmarkDenseQR is the dense baseline for BenchmarkLSQR with μ = 0: a
// Householder QR least-squares solve of the same 1000×64 system.
func BenchmarkDenseQR(b *testing.B) {
	rnd := newRand(99)
	j := matFromSVD(rnd, benchRows, benchCols, logspace(0, 1.5, benchCols))
	y := mat.NewVecDense(benchRows, randVec(rnd, benchRows))
	var x mat.VecDense
	b.ReportAllocs()
	for b.Loop() {
		var qr mat.QR
		qr.Factorize(j)
		if err := qr.SolveVecTo(&x, false, y); err != nil {
			b.Fatal(err)
		}
	}
}

package krylov

import (
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/mat"
)

// eps is the float64 machine epsilon, used to state rounding slack.
const eps = 0x1p-52

// newRand returns a deterministic generator so that every test problem,
// and hence every iteration count asserted below, is reproducible.
func newRand(seed uint64) *rand.Rand {
	return rand.New(rand.NewPCG(seed, 0x853c49e6748fea9b))
}

func randVec(rnd *rand.Rand, n int) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = rnd.NormFloat64()
	}
	return v
}

func randMat(rnd *rand.Rand, r, c int) *mat.Dense {
	return mat.NewDense(r, c, randVec(rnd, r*c))
}

// randOrthonormal returns an r×c matrix (r ≥ c) with orthonormal columns,
// the Q factor of a Gaussian matrix.
func randOrthonormal(rnd *rand.Rand, r, c int) *mat.Dense {
	var qr mat.QR
	qr.Factorize(randMat(rnd, r, c))
	var q mat.Dense
	qr.QTo(&q)
	return mat.DenseCopyOf(q.Slice(0, r, 0, c))
}

// symFromEigs returns Q diag(eigs) Qᵀ for a random orthogonal Q, so the
// spectrum, and with it the condition number, is known exactly.
func symFromEigs(rnd *rand.Rand, eigs []float64) *mat.Dense {
	a, _ := symFromEigsQ(rnd, eigs)
	return a
}

// symFromEigsQ is symFromEigs that also returns the eigenvectors Q.
func symFromEigsQ(rnd *rand.Rand, eigs []float64) (*mat.Dense, *mat.Dense) {
	n := len(eigs)
	q := randOrthonormal(rnd, n, n)
	var qd, a mat.Dense
	qd.Mul(q, mat.NewDiagDense(n, eigs))
	a.Mul(&qd, q.T())
	// Symmetrize exactly: CG and MINRES assume symmetry to the last bit
	// only through their recurrences, but exact symmetry removes one
	// source of test noise.
	for i := 0; i < n; i++ {
		for j := 0; j < i; j++ {
			v := 0.5 * (a.At(i, j) + a.At(j, i))
			a.Set(i, j, v)
			a.Set(j, i, v)
		}
	}
	return &a, q
}

// matFromSVD returns U diag(sv) Vᵀ, an r×c matrix of rank len(sv) with
// the given singular values.
func matFromSVD(rnd *rand.Rand, r, c int, sv []float64) *mat.Dense {
	k := len(sv)
	u := randOrthonormal(rnd, r, k)
	v := randOrthonormal(rnd, c, k)
	var us, a mat.Dense
	us.Mul(u, mat.NewDiagDense(k, sv))
	a.Mul(&us, v.T())
	return &a
}

// logspace returns n values from 10^lo to 10^hi evenly spaced in log.
func logspace(lo, hi float64, n int) []float64 {
	return floats.LogSpan(make([]float64, n), math.Pow(10, lo), math.Pow(10, hi))
}

// scaleSym returns D A D for D = diag(d).
func scaleSym(a *mat.Dense, d []float64) *mat.Dense {
	r, c := a.Dims()
	s := mat.NewDense(r, c, nil)
	s.Apply(func(i, j int, v float64) float64 { return d[i] * v * d[j] }, a)
	return s
}

func mulVec(a mat.Matrix, x []float64) []float64 {
	r, _ := a.Dims()
	dst := mat.NewVecDense(r, nil)
	dst.MulVec(a, mat.NewVecDense(len(x), x))
	return dst.RawVector().Data
}

func sub(x, y []float64) []float64 { return floats.SubTo(make([]float64, len(x)), x, y) }

func norm(x []float64) float64 { return floats.Norm(x, 2) }

// diagPrecond returns the operator dst = diag(d) x.
func diagPrecond(d []float64) Func {
	return func(dst, x []float64) {
		for i := range dst {
			dst[i] = d[i] * x[i]
		}
	}
}

// jacobi returns the Jacobi preconditioner M⁻¹ = diag(A)⁻¹.
func jacobi(a *mat.Dense) Func {
	n, _ := a.Dims()
	d := make([]float64, n)
	for i := range d {
		d[i] = 1 / a.At(i, i)
	}
	return diagPrecond(d)
}

// checkSquareSolution asserts the residual and forward-error guarantees
// that follow from a converged square solve:
//
//   - the true relative residual ρ = ‖b − A x‖/‖b‖ is at most resBound;
//   - the forward error obeys ‖x − x*‖/‖x*‖ ≤ κ(A)·ρ, which holds exactly
//     for any x because x − x* = −A⁻¹(b − A x) and ‖x*‖ ≥ ‖b‖/‖A‖. The
//     only slack added is n·ε·κ, the rounding error of forming b − A x in
//     the test itself.
func checkSquareSolution(t *testing.T, a *mat.Dense, b, x, xstar []float64, resBound float64) {
	t.Helper()
	n := len(b)
	kappa := mat.Cond(a, 2)
	rho := norm(sub(b, mulVec(a, x))) / norm(b)
	if rho > resBound {
		t.Errorf("true relative residual %.3g exceeds bound %.3g", rho, resBound)
	}
	fwd := norm(sub(x, xstar)) / norm(xstar)
	if bound := kappa*rho + float64(n)*eps*kappa; fwd > bound {
		t.Errorf("forward error %.3g exceeds κ·ρ bound %.3g (κ=%.3g, ρ=%.3g)", fwd, bound, kappa, rho)
	}
}

// countingOp wraps an operator, counts its applications and, from call
// nanAt on (1-based; 0 disables), writes NaN into the output to simulate
// a failing user operator such as a Jacobian evaluated outside its domain.
type countingOp struct {
	op     TransposeOperator
	calls  int
	tcalls int
	nanAt  int
}

func (c *countingOp) Apply(dst, x []float64) {
	c.calls++
	c.op.Apply(dst, x)
	if c.nanAt > 0 && c.calls >= c.nanAt {
		dst[0] = math.NaN()
	}
}

func (c *countingOp) ApplyTranspose(dst, y []float64) {
	c.tcalls++
	c.op.ApplyTranspose(dst, y)
}

// squareSolver names the three square methods for table-driven tests.
type squareSolver struct {
	name  string
	solve func(Operator, []float64, []float64, Settings) (Result, error)
}

func squareSolvers() []squareSolver {
	return []squareSolver{
		{"CG", CG},
		{"MINRES", MINRES},
		{"GMRES", GMRES},
	}
}

// anySolver is any of the four methods behind one signature.
type anySolver struct {
	name  string
	solve func(TransposeOperator, []float64, []float64, Settings) (Result, error)
}

func allSolvers() []anySolver {
	return []anySolver{
		{"CG", func(a TransposeOperator, b, x []float64, s Settings) (Result, error) { return CG(a, b, x, s) }},
		{"MINRES", func(a TransposeOperator, b, x []float64, s Settings) (Result, error) { return MINRES(a, b, x, s) }},
		{"GMRES", func(a TransposeOperator, b, x []float64, s Settings) (Result, error) { return GMRES(a, b, x, s) }},
		{"LSQR", LSQR},
	}
}

package krylov

import (
	"errors"
	"fmt"
	"math"
	"strconv"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/mat"
)

// Operator is a linear map applied matrix-free.
//
// Apply computes dst = A x, where len(dst) is the number of rows of A and
// len(x) the number of columns. The solvers never pass aliased dst and x,
// and Apply must not retain either slice after it returns.
//
// If an Operator also has a method Dims() (r, c int), as mat.Matrix does,
// the solvers use it to check the lengths of b and x; otherwise the
// lengths are trusted.
type Operator interface {
	Apply(dst, x []float64)
}

// TransposeOperator is an Operator that can also apply its transpose.
//
// ApplyTranspose computes dst = Aᵀ y, where len(dst) is the number of
// columns of A and len(y) the number of rows. The same aliasing and
// retention rules as for Apply hold.
type TransposeOperator interface {
	Operator
	ApplyTranspose(dst, y []float64)
}

// Func adapts a function to the Operator interface.
type Func func(dst, x []float64)

// Apply calls f(dst, x).
func (f Func) Apply(dst, x []float64) { f(dst, x) }

// Funcs adapts a pair of functions, one applying A and one applying Aᵀ, to
// the TransposeOperator interface.
type Funcs struct {
	Forward   func(dst, x []float64) // dst = A x
	Transpose func(dst, y []float64) // dst = Aᵀ y
}

// Apply calls f.Forward(dst, x).
func (f Funcs) Apply(dst, x []float64) { f.Forward(dst, x) }

// ApplyTranspose calls f.Transpose(dst, y).
func (f Funcs) ApplyTranspose(dst, y []float64) { f.Transpose(dst, y) }

// Dense is a TransposeOperator backed by a dense matrix. It applies A and Aᵀ
// with BLAS Gemv and does not allocate.
type Dense struct {
	m blas64.General
}

// NewDense returns a Dense operator that shares the backing data of m, so
// later changes to m are seen by the operator.
func NewDense(m *mat.Dense) Dense {
	if m.IsEmpty() {
		return Dense{}
	}
	return Dense{m: m.RawMatrix()}
}

// Dims returns the number of rows and columns of the operator.
func (d Dense) Dims() (r, c int) { return d.m.Rows, d.m.Cols }

// Apply computes dst = A x. It panics if the lengths do not match the
// dimensions of A.
func (d Dense) Apply(dst, x []float64) {
	d.gemv(blas.NoTrans, dst, x, d.m.Rows, d.m.Cols)
}

// ApplyTranspose computes dst = Aᵀ y. It panics if the lengths do not match
// the dimensions of A.
func (d Dense) ApplyTranspose(dst, y []float64) {
	d.gemv(blas.Trans, dst, y, d.m.Cols, d.m.Rows)
}

func (d Dense) gemv(t blas.Transpose, dst, x []float64, rows, cols int) {
	if len(dst) != rows || len(x) != cols {
		panic(fmt.Sprintf("krylov: Dense operator of shape %d×%d applied with len(dst)=%d, len(x)=%d",
			rows, cols, len(dst), len(x)))
	}
	if rows == 0 {
		return
	}
	blas64.Gemv(t, 1, d.m,
		blas64.Vector{N: len(x), Data: x, Inc: 1}, 0,
		blas64.Vector{N: len(dst), Data: dst, Inc: 1})
}

// Reason is the reason an iteration stopped.
type Reason int

const (
	// Converged means the stopping test of the method was met; see the
	// method's documentation for which test that is.
	Converged Reason = iota + 1
	// MaxIterations means Settings.MaxIter iterations were done without
	// meeting the stopping test. Result.Iterations then equals MaxIter.
	MaxIterations
	// Breakdown means the iteration cannot continue meaningfully: a
	// Krylov subspace became invariant while the residual was still above
	// tolerance (A is singular and b is not in its range), CG met a
	// direction of numerically zero curvature, or the problem is
	// ill-conditioned beyond working precision. x holds the best iterate
	// found before the breakdown.
	Breakdown
	// Indefinite is the kind of breakdown that happens when an operator
	// that must be positive definite is not: CG met a direction of negative
	// curvature pᵀAp < 0, or the preconditioner of CG or MINRES gave
	// rᵀM⁻¹r ≤ 0 for r ≠ 0. x holds the iterate before that direction.
	Indefinite
	// NonFinite means a NaN or Inf appeared during the iteration, either
	// from the operator or preconditioner or by overflow. The iteration
	// stops at once and x holds the last iterate computed from finite
	// values.
	NonFinite
)

// String returns the name of the reason.
func (r Reason) String() string {
	switch r {
	case Converged:
		return "Converged"
	case MaxIterations:
		return "MaxIterations"
	case Breakdown:
		return "Breakdown"
	case Indefinite:
		return "Indefinite"
	case NonFinite:
		return "NonFinite"
	default:
		return "Reason(" + strconv.Itoa(int(r)) + ")"
	}
}

// DefaultRelTol is the relative tolerance used when both Settings.RelTol
// and Settings.AbsTol are zero. It is about √ε: tight enough for Newton-type
// outer iterations, loose enough to be reachable for moderately
// ill-conditioned problems.
const DefaultRelTol = 1e-8

// DefaultMaxIterFactor times the number of unknowns n is the iteration
// limit used when Settings.MaxIter is zero. In exact arithmetic CG, MINRES
// and LSQR finish in at most n steps and full GMRES in n, but rounding
// makes the Krylov basis lose orthogonality, which delays convergence
// well beyond n for spread-out spectra (CG on a 50×50 matrix with
// κ = 10³ and logarithmically spaced eigenvalues needs about 2n), and
// restarted GMRES needs more still.
const DefaultMaxIterFactor = 10

// DefaultRestart is the GMRES restart length used when Settings.Restart is
// zero.
const DefaultRestart = 30

// Settings controls a Krylov solve. The zero value is usable and selects
// the documented defaults.
type Settings struct {
	// RelTol and AbsTol set the stopping tolerance. A square solver stops
	// when ‖r‖ ≤ max(RelTol·‖b‖, AbsTol), where the norm is the one stated
	// by each method; LSQR uses RelTol in its Paige–Saunders tests as
	// described there. Both must be finite and non-negative; if both are
	// zero, RelTol is DefaultRelTol.
	RelTol, AbsTol float64

	// MaxIter is the maximum number of iterations, each of which applies A
	// once (LSQR: A and Aᵀ once each). Zero selects DefaultMaxIterFactor·n
	// where n is the number of columns of A. It must not be negative.
	MaxIter int

	// Precond, if not nil, applies the inverse of a preconditioner,
	// dst = M⁻¹ x. For CG and MINRES, M must be symmetric positive
	// definite; GMRES uses M as a right preconditioner and only needs it
	// to be nonsingular. LSQR does not accept a preconditioner: fold a
	// right preconditioner into the operator instead.
	Precond Operator

	// Restart is the GMRES restart length m. Zero selects DefaultRestart.
	// It must not be negative. Other methods ignore it.
	Restart int

	// Damp is the LSQR damping parameter d of min ‖Ax−b‖² + d²‖x‖². It
	// must be finite and non-negative, and zero for the other methods
	// since they cannot honor it.
	Damp float64
}

// Result describes the outcome of a solve.
type Result struct {
	// Iterations is the number of completed iterations, that is, the
	// number whose update was applied to x.
	Iterations int

	// Reason is why the iteration stopped.
	Reason Reason

	// ResidualNorm is the final residual norm in the norm the method's
	// stopping test uses (see each method). It is an estimate maintained
	// by the recurrences except where a method documents that it
	// recomputes it.
	ResidualNorm float64

	// NormalResidualNorm is, for LSQR only, an estimate of
	// ‖Aᵀ(b−Ax) − d²x‖, the gradient of the damped least-squares
	// objective; it is zero for the other methods.
	NormalResidualNorm float64
}

// Sentinel errors returned, wrapped with context, for invalid input. Test
// for them with errors.Is.
var (
	// ErrNilOperator is returned when the operator is nil or is an adapter
	// holding a nil function.
	ErrNilOperator = errors.New("krylov: nil operator")
	// ErrDimension is returned when the lengths of b and x do not agree
	// with each other or with the operator's Dims.
	ErrDimension = errors.New("krylov: dimension mismatch")
	// ErrNonFinite is returned when b or the initial x holds a NaN or Inf.
	ErrNonFinite = errors.New("krylov: non-finite input")
	// ErrSettings is returned when a Settings field is out of range or not
	// supported by the method.
	ErrSettings = errors.New("krylov: invalid settings")
)

// isNilOperator reports whether op cannot be applied. Typed nil pointers of
// arbitrary operator types cannot be detected without reflection and are
// left to panic on use.
func isNilOperator(op Operator, transpose bool) bool {
	switch op := op.(type) {
	case nil:
		return true
	case Func:
		return op == nil
	case Funcs:
		return op.Forward == nil || (transpose && op.Transpose == nil)
	}
	return false
}

// config holds validated settings with defaults applied.
type config struct {
	relTol, absTol float64
	maxIter        int
	restart        int
	precond        Operator
	damp           float64
}

// tol returns the residual-norm threshold max(relTol·bnorm, absTol).
func (c *config) tol(bnorm float64) float64 {
	return math.Max(c.relTol*bnorm, c.absTol)
}

// epsilon is the machine epsilon of float64, the spacing of floats near 1.
const epsilon = 0x1p-52

func isFinite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

func allFinite(s []float64) bool {
	for _, v := range s {
		if !isFinite(v) {
			return false
		}
	}
	return true
}

func allZero(s []float64) bool {
	for _, v := range s {
		if v != 0 {
			return false
		}
	}
	return true
}

// validate checks the arguments common to all methods and returns the
// settings with defaults applied. rows and cols are the expected lengths of
// b and x; square methods pass len(b) and len(x) and rely on the equality
// check.
func validate(method string, a Operator, transpose bool, b, x []float64, s Settings, square bool) (config, error) {
	if isNilOperator(a, transpose) {
		return config{}, fmt.Errorf("%w: %s", ErrNilOperator, method)
	}
	if square && len(b) != len(x) {
		return config{}, fmt.Errorf("%w: %s needs a square operator but len(b)=%d, len(x)=%d",
			ErrDimension, method, len(b), len(x))
	}
	if d, ok := a.(interface{ Dims() (r, c int) }); ok {
		r, c := d.Dims()
		if r != len(b) || c != len(x) {
			return config{}, fmt.Errorf("%w: %s with a %d×%d operator but len(b)=%d, len(x)=%d",
				ErrDimension, method, r, c, len(b), len(x))
		}
	}
	if !allFinite(b) {
		return config{}, fmt.Errorf("%w: %s: b holds NaN or Inf", ErrNonFinite, method)
	}
	if !allFinite(x) {
		return config{}, fmt.Errorf("%w: %s: initial x holds NaN or Inf", ErrNonFinite, method)
	}
	for _, t := range []struct {
		name string
		v    float64
	}{{"RelTol", s.RelTol}, {"AbsTol", s.AbsTol}, {"Damp", s.Damp}} {
		if !isFinite(t.v) || t.v < 0 {
			return config{}, fmt.Errorf("%w: %s: %s=%v must be finite and non-negative",
				ErrSettings, method, t.name, t.v)
		}
	}
	if s.MaxIter < 0 {
		return config{}, fmt.Errorf("%w: %s: MaxIter=%d is negative", ErrSettings, method, s.MaxIter)
	}
	if s.Restart < 0 {
		return config{}, fmt.Errorf("%w: %s: Restart=%d is negative", ErrSettings, method, s.Restart)
	}
	// Silently ignoring a damping term or a preconditioner would return the
	// solution of a different problem, or a slower solve, without notice.
	if s.Damp != 0 && !transpose {
		return config{}, fmt.Errorf("%w: %s does not support Damp (got %v); add the shift to the operator",
			ErrSettings, method, s.Damp)
	}
	if s.Precond != nil && transpose {
		return config{}, fmt.Errorf("%w: %s does not support Precond; fold it into the operator",
			ErrSettings, method)
	}
	if s.Precond != nil && isNilOperator(s.Precond, false) {
		return config{}, fmt.Errorf("%w: %s: Precond holds a nil function", ErrNilOperator, method)
	}

	c := config{
		relTol:  s.RelTol,
		absTol:  s.AbsTol,
		maxIter: s.MaxIter,
		restart: s.Restart,
		precond: s.Precond,
		damp:    s.Damp,
	}
	if c.relTol == 0 && c.absTol == 0 {
		c.relTol = DefaultRelTol
	}
	if c.maxIter == 0 {
		c.maxIter = DefaultMaxIterFactor * len(x)
	}
	if c.restart == 0 {
		c.restart = DefaultRestart
	}
	return c, nil
}

// zeroRHS handles b = 0, for which x = 0 is the exact (and, for LSQR, the
// minimum-norm least-squares) solution whatever the initial guess.
func zeroRHS(x []float64) Result {
	for i := range x {
		x[i] = 0
	}
	return Result{Reason: Converged}
}

// nrm2 is the Euclidean norm, computed with scaling so that it neither
// overflows nor underflows for representable inputs.
func nrm2(s []float64) float64 { return floats.Norm(s, 2) }

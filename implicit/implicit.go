// Package implicit differentiates the solution of a root-finding problem.
//
// Let x*(θ) solve G(x, θ) = 0, with ∂G/∂x invertible at the root. By the
// implicit function theorem ∂x*/∂θ = −(∂G/∂x)⁻¹ ∂G/∂θ, so for a cotangent
// x̄ = ∂L/∂x* the reverse-mode product is
//
//	θ̄ = −(∂G/∂θ)ᵀ v,  where (∂G/∂x)ᵀ v = x̄.
//
// The caller states G only through its vector–Jacobian products; the solver
// that found the root is never differentiated. This is the generic form. The
// least-squares problems of package constraint have a structured, faster
// backward of their own, checked against this one in its tests.
package implicit

import (
	"errors"
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"

	"github.com/hcmoe/hcmoe/krylov"
)

// Root describes G at a root x* through vector–Jacobian products.
type Root struct {
	// N is len(x), P is len(θ).
	N, P int
	// VJPx sets dst = (∂G/∂x)ᵀ w (both of length N).
	VJPx func(dst, w []float64)
	// VJPTheta sets dst = (∂G/∂θ)ᵀ w (dst of length P, w of length N).
	VJPTheta func(dst, w []float64)
	// Symmetric declares ∂G/∂x symmetric, as for the gradient of an
	// objective; the Krylov path then uses MINRES instead of GMRES.
	Symmetric bool
}

// Method selects how (∂G/∂x)ᵀ v = x̄ is solved.
type Method int

const (
	// Dense builds (∂G/∂x)ᵀ with N products and solves it by LU.
	Dense Method = iota
	// Krylov runs MINRES (Symmetric) or GMRES matrix-free.
	Krylov
)

// Settings controls VJP. Zero values take the documented defaults.
type Settings struct {
	Method  Method
	Tol     float64 // Krylov relative tolerance; default 1e-12
	MaxIter int     // Krylov iteration bound; default 10·N
	Restart int     // GMRES restart; default min(N, 50)
}

// Stats reports the linear solve.
type Stats struct {
	Iterations int
	Reason     krylov.Reason // Krylov path only
}

// ErrSingular is returned when ∂G/∂x cannot be inverted at the root.
var ErrSingular = errors.New("implicit: ∂G/∂x is singular at the root")

// VJP returns θ̄ = −(∂G/∂θ)ᵀ v with (∂G/∂x)ᵀ v = x̄.
func VJP(r Root, xbar []float64, s Settings) ([]float64, Stats, error) {
	var st Stats
	if r.N <= 0 || r.P < 0 || r.VJPx == nil || r.VJPTheta == nil {
		return nil, st, fmt.Errorf("implicit: incomplete root (N=%d, P=%d, VJPx set %t, VJPTheta set %t)", r.N, r.P, r.VJPx != nil, r.VJPTheta != nil)
	}
	if len(xbar) != r.N {
		return nil, st, fmt.Errorf("implicit: cotangent has %d values, want N=%d", len(xbar), r.N)
	}
	for i, v := range xbar {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, st, fmt.Errorf("implicit: cotangent[%d] is %v", i, v)
		}
	}
	v := make([]float64, r.N)
	switch s.Method {
	case Dense:
		a := mat.NewDense(r.N, r.N, nil)
		e := make([]float64, r.N)
		col := make([]float64, r.N)
		for j := range r.N {
			clear(e)
			e[j] = 1
			r.VJPx(col, e)
			a.SetCol(j, col)
		}
		var lu mat.LU
		lu.Factorize(a)
		if err := lu.SolveVecTo(mat.NewVecDense(r.N, v), false, mat.NewVecDense(r.N, xbar)); err != nil {
			return nil, st, fmt.Errorf("%w: %v", ErrSingular, err)
		}
	case Krylov:
		if s.Tol == 0 {
			s.Tol = 1e-12
		}
		if s.MaxIter == 0 {
			s.MaxIter = 10 * r.N
		}
		if s.Restart == 0 {
			s.Restart = min(r.N, 50)
		}
		op := krylov.Func(r.VJPx)
		set := krylov.Settings{RelTol: s.Tol, MaxIter: s.MaxIter, Restart: s.Restart}
		var res krylov.Result
		var err error
		if r.Symmetric {
			res, err = krylov.MINRES(op, xbar, v, set)
		} else {
			res, err = krylov.GMRES(op, xbar, v, set)
		}
		st.Iterations, st.Reason = res.Iterations, res.Reason
		if err != nil {
			return nil, st, fmt.Errorf("implicit: %w", err)
		}
		if res.Reason != krylov.Converged {
			return nil, st, fmt.Errorf("implicit: linear solve stopped on %v after %d iterations (residual %.3g)", res.Reason, res.Iterations, res.ResidualNorm)
		}
	default:
		return nil, st, fmt.Errorf("implicit: unknown method %d", s.Method)
	}
	theta := make([]float64, r.P)
	r.VJPTheta(theta, v)
	for i := range theta {
		theta[i] = -theta[i]
	}
	return theta, st, nil
}

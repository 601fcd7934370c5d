package krylov

import (
	"math"

	"gonum.org/v1/gonum/floats"
)

// CG solves A x = b for symmetric positive definite A by the preconditioned
// conjugate gradient method. x holds the initial guess on entry and the
// solution on return.
//
// The stopping test is ‖r‖₂ ≤ max(RelTol·‖b‖₂, AbsTol) on the residual
// r = b − A x as updated by the CG recurrence, which equals the true
// residual up to rounding errors of order ε‖A‖‖x‖. The test uses the
// unpreconditioned residual whether or not Precond is set, so the
// tolerance means the same with and without preconditioning. A zero initial
// x saves one application of A.
//
// CG stops with Indefinite if it meets a direction of negative curvature,
// pᵀAp < 0, or if the preconditioner gives rᵀM⁻¹r ≤ 0, and with Breakdown
// if pᵀAp is zero to working precision relative to the largest curvature
// seen so far, as happens for a singular positive semidefinite A with b
// outside its range. In both cases x is the last iterate, not updated along
// the offending direction.
//
// The returned Result.ResidualNorm is the recurrence ‖r‖₂.
func CG(a Operator, b, x []float64, s Settings) (Result, error) {
	c, err := validate("CG", a, false, b, x, s, true)
	if err != nil {
		return Result{}, err
	}
	bnorm := nrm2(b)
	if bnorm == 0 {
		return zeroRHS(x), nil
	}
	n := len(b)
	tol := c.tol(bnorm)
	// Computing pᵀAp in floating point has an error of about nε‖A‖‖p‖²,
	// so curvature below that level is indistinguishable from zero.
	zeroCurv := float64(n) * epsilon

	work := make([]float64, 4*n)
	r, p, q, z := work[:n], work[n:2*n], work[2*n:3*n], work[3*n:]
	if c.precond == nil {
		// Without a preconditioner z = r; aliasing them avoids a copy per
		// iteration.
		z = r
	}

	// r = b − A x.
	if allZero(x) {
		copy(r, b)
	} else {
		a.Apply(q, x)
		floats.SubTo(r, b, q)
	}
	rnorm := nrm2(r)
	if !isFinite(rnorm) {
		return Result{Reason: NonFinite, ResidualNorm: rnorm}, nil
	}
	if rnorm <= tol {
		return Result{Reason: Converged, ResidualNorm: rnorm}, nil
	}
	if c.precond != nil {
		c.precond.Apply(z, r)
	}
	rz := floats.Dot(r, z)
	if !isFinite(rz) {
		return Result{Reason: NonFinite, ResidualNorm: rnorm}, nil
	}
	if rz <= 0 {
		return Result{Reason: Indefinite, ResidualNorm: rnorm}, nil
	}
	copy(p, z)

	// maxCurv is the largest Rayleigh quotient pᵀAp/pᵀp seen, an
	// underestimate of ‖A‖ used to decide when curvature is zero to
	// working precision.
	var maxCurv float64
	for k := 0; k < c.maxIter; k++ {
		a.Apply(q, p)
		pq := floats.Dot(p, q)
		pp := floats.Dot(p, p)
		if !isFinite(pq) || !isFinite(pp) {
			return Result{Iterations: k, Reason: NonFinite, ResidualNorm: rnorm}, nil
		}
		maxCurv = math.Max(maxCurv, pq/pp)
		if pq <= zeroCurv*maxCurv*pp {
			reason := Breakdown
			if pq < -zeroCurv*maxCurv*pp {
				reason = Indefinite
			}
			return Result{Iterations: k, Reason: reason, ResidualNorm: rnorm}, nil
		}
		alpha := rz / pq

		// Update r before x so that a non-finite residual leaves x at the
		// previous iterate.
		floats.AddScaled(r, -alpha, q)
		rnormNew := nrm2(r)
		if !isFinite(alpha) || !isFinite(rnormNew) {
			return Result{Iterations: k, Reason: NonFinite, ResidualNorm: rnorm}, nil
		}
		floats.AddScaled(x, alpha, p)
		rnorm = rnormNew
		if rnorm <= tol {
			return Result{Iterations: k + 1, Reason: Converged, ResidualNorm: rnorm}, nil
		}

		if c.precond != nil {
			c.precond.Apply(z, r)
		}
		rzNew := floats.Dot(r, z)
		if !isFinite(rzNew) {
			return Result{Iterations: k + 1, Reason: NonFinite, ResidualNorm: rnorm}, nil
		}
		if rzNew <= 0 {
			return Result{Iterations: k + 1, Reason: Indefinite, ResidualNorm: rnorm}, nil
		}
		beta := rzNew / rz
		rz = rzNew
		// p = z + β p.
		floats.Scale(beta, p)
		floats.Add(p, z)
	}
	return Result{Iterations: c.maxIter, Reason: MaxIterations, ResidualNorm: rnorm}, nil
}

package krylov

import (
	"math"

	"gonum.org/v1/gonum/floats"
)

// MINRES solves A x = b for symmetric, possibly indefinite or singular, A
// by the preconditioned minimum residual method of Paige and Saunders. x
// holds the initial guess on entry and the solution on return.
//
// MINRES minimizes the residual r = b − A x over a Krylov subspace in the
// norm ‖r‖_{M⁻¹} = √(rᵀM⁻¹r), where M⁻¹ is Settings.Precond; without a
// preconditioner this is the Euclidean norm. The stopping test is
// ‖r‖_{M⁻¹} ≤ max(RelTol·‖b‖_{M⁻¹}, AbsTol) on the residual norm estimate
// maintained by the recurrence, which costs nothing extra; with a
// preconditioner and a nonzero initial x, computing ‖b‖_{M⁻¹} costs one
// extra preconditioner application.
//
// When the Lanczos process finds an invariant subspace (a happy
// breakdown), MINRES recomputes the true residual with one extra
// application of A and reports Converged if it meets the tolerance. It
// reports Breakdown if instead A is found singular with b outside its
// range: either the subspace is invariant but the residual is still large,
// or ‖A r‖ has fallen to working precision relative to ‖A‖‖r‖ so that x
// is already a least-squares solution and the residual cannot decrease.
// It reports Indefinite if the preconditioner is not positive definite.
//
// The returned Result.ResidualNorm is the estimate of ‖r‖_{M⁻¹}, or the
// recomputed value after a happy breakdown.
func MINRES(a Operator, b, x []float64, s Settings) (Result, error) {
	c, err := validate("MINRES", a, false, b, x, s, true)
	if err != nil {
		return Result{}, err
	}
	if nrm2(b) == 0 {
		return zeroRHS(x), nil
	}
	n := len(b)
	m := c.precond

	work := make([]float64, 8*n)
	r1, r2, t, y := work[:n], work[n:2*n], work[2*n:3*n], work[3*n:4*n]
	v, w, w1, w2 := work[4*n:5*n], work[5*n:6*n], work[6*n:7*n], work[7*n:]

	// mnorm returns ‖r‖_{M⁻¹} using y as scratch, NaN if that is not
	// finite, or a negative value if the preconditioner is not positive
	// definite on r.
	mnorm := func(r []float64) float64 {
		if m == nil {
			return nrm2(r)
		}
		m.Apply(y, r)
		rr := floats.Dot(r, y)
		if !isFinite(rr) {
			return math.NaN()
		}
		if rr < 0 || (rr == 0 && !allZero(r)) {
			return -1
		}
		return math.Sqrt(rr)
	}

	// r2 = b − A x.
	x0zero := allZero(x)
	if x0zero {
		copy(r2, b)
	} else {
		a.Apply(t, x)
		floats.SubTo(r2, b, t)
	}
	var bnorm float64
	if m != nil && !x0zero {
		bnorm = mnorm(b)
		if !isFinite(bnorm) {
			return Result{Reason: NonFinite}, nil
		}
		if bnorm < 0 {
			return Result{Reason: Indefinite}, nil
		}
	}
	// beta1 = ‖r₀‖_{M⁻¹}; with a preconditioner mnorm leaves y = M⁻¹r₀.
	beta1 := mnorm(r2)
	if !isFinite(beta1) {
		return Result{Reason: NonFinite, ResidualNorm: beta1}, nil
	}
	if beta1 < 0 {
		return Result{Reason: Indefinite}, nil
	}
	if x0zero {
		bnorm = beta1
	} else if m == nil {
		bnorm = nrm2(b)
	}
	tol := c.tol(bnorm)
	if beta1 <= tol {
		return Result{Reason: Converged, ResidualNorm: beta1}, nil
	}
	// Breakdown thresholds: quantities below nε‖A‖ are indistinguishable
	// from rounding errors in applying A.
	zeroTol := float64(n) * epsilon

	// The Lanczos vectors are v_k = M⁻¹r_k/β_k with r1, r2 the two most
	// recent unpreconditioned vectors r_{k−1}, r_k; without a
	// preconditioner y would equal r2, so it is not formed.
	copy(r1, r2)
	var (
		oldb, beta   = 0.0, beta1
		dbar, epsln  = 0.0, 0.0
		phibar       = beta1
		cs, sn       = -1.0, 0.0
		tnorm2       = 0.0 // ‖T_k‖_F², an estimate of ‖A‖² from below
		lanczosInput = y
	)
	if m == nil {
		lanczosInput = r2
	}
	for k := 0; k < c.maxIter; k++ {
		floats.ScaleTo(v, 1/beta, lanczosInput)
		a.Apply(t, v)
		if k > 0 {
			floats.AddScaled(t, -beta/oldb, r1)
		}
		alfa := floats.Dot(v, t)
		if !isFinite(alfa) {
			return Result{Iterations: k, Reason: NonFinite, ResidualNorm: phibar}, nil
		}
		floats.AddScaled(t, -alfa/beta, r2)
		r1, r2, t = r2, t, r1
		if m == nil {
			lanczosInput = r2
		}
		oldb = beta
		beta = mnorm(r2)
		if !isFinite(beta) {
			return Result{Iterations: k, Reason: NonFinite, ResidualNorm: phibar}, nil
		}
		if beta < 0 {
			return Result{Iterations: k, Reason: Indefinite, ResidualNorm: phibar}, nil
		}
		tnorm2 += alfa*alfa + oldb*oldb + beta*beta
		anorm := math.Sqrt(tnorm2)

		// Apply the previous Givens rotation to the new column of T_k.
		oldeps := epsln
		delta := cs*dbar + sn*alfa
		gbar := sn*dbar - cs*alfa
		epsln = sn * beta
		dbar = -cs * beta

		// hypot(gbar, dbar) = ‖A r_{k−1}‖/‖r_{k−1}‖ in exact arithmetic; if
		// it is zero to working precision, r_{k−1} is orthogonal to the
		// range of A and no Krylov step can reduce it.
		if math.Hypot(gbar, dbar) <= zeroTol*anorm {
			return Result{Iterations: k, Reason: Breakdown, ResidualNorm: phibar}, nil
		}

		// Compute the next Givens rotation.
		gamma := math.Hypot(gbar, beta)
		if gamma <= zeroTol*anorm {
			// The projected tridiagonal system is singular; x_{k−1}
			// remains the best iterate.
			return Result{Iterations: k, Reason: Breakdown, ResidualNorm: phibar}, nil
		}
		cs = gbar / gamma
		sn = beta / gamma
		phi := cs * phibar
		phibarNew := sn * phibar

		// w_k = (v_k − ε_k w_{k−2} − δ_k w_{k−1})/γ_k.
		w1, w2, w = w2, w, w1
		for i := range w {
			w[i] = (v[i] - oldeps*w1[i] - delta*w2[i]) / gamma
		}
		if !isFinite(phi) || !isFinite(nrm2(w)) {
			return Result{Iterations: k, Reason: NonFinite, ResidualNorm: phibar}, nil
		}
		floats.AddScaled(x, phi, w)
		phibar = phibarNew

		if phibar <= tol {
			return Result{Iterations: k + 1, Reason: Converged, ResidualNorm: phibar}, nil
		}
		if beta <= zeroTol*anorm {
			// Happy breakdown: the Krylov subspace is invariant, so x is
			// the exact minimizer over it and the estimate phibar may be
			// unreliable. Decide on the true residual.
			a.Apply(t, x)
			floats.SubTo(t, b, t)
			rnorm := mnorm(t)
			switch {
			case !isFinite(rnorm):
				return Result{Iterations: k + 1, Reason: NonFinite, ResidualNorm: phibar}, nil
			case rnorm < 0:
				return Result{Iterations: k + 1, Reason: Indefinite, ResidualNorm: phibar}, nil
			case rnorm <= tol:
				return Result{Iterations: k + 1, Reason: Converged, ResidualNorm: rnorm}, nil
			default:
				return Result{Iterations: k + 1, Reason: Breakdown, ResidualNorm: rnorm}, nil
			}
		}
	}
	return Result{Iterations: c.maxIter, Reason: MaxIterations, ResidualNorm: phibar}, nil
}

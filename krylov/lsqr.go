package krylov

import (
	"math"

	"gonum.org/v1/gonum/floats"
)

// LSQR solves the damped linear least-squares problem
//
//	min ‖A x − b‖₂² + d²‖x‖₂²,  d = Settings.Damp,
//
// for A of any shape and rank by the method of Paige and Saunders, which
// is equivalent in exact arithmetic to CG on the normal equations
// (AᵀA + d²I) x = Aᵀb but numerically more reliable. x holds the initial
// guess on entry and the solution on return. Started from x = 0, LSQR
// converges to the minimum-norm solution when d = 0 and the problem is
// rank deficient or underdetermined.
//
// LSQR works with the augmented residual r̄ = [b − A x; −d x], whose norm
// ‖r̄‖ = (‖b − A x‖² + d²‖x‖²)^½ is the square root of the objective, and
// with the gradient norm ‖Āᵀr̄‖ = ‖Aᵀ(b − A x) − d²x‖; both are estimated
// by the recurrences at no extra cost and returned in
// Result.ResidualNorm and Result.NormalResidualNorm. With d = 0 they are
// ‖b − A x‖ and ‖Aᵀ(b − A x)‖. LSQR reports Converged when any of the
// Paige–Saunders tests holds, with atol = btol = RelTol:
//
//  1. ‖r̄‖ ≤ RelTol·(‖b‖ + ‖Ā‖‖Δx‖) or ‖r̄‖ ≤ AbsTol: the system is
//     compatible and x solves it to tolerance;
//  2. ‖Āᵀr̄‖ ≤ RelTol·‖Ā‖‖r̄‖: x is a least-squares solution to tolerance;
//  3. tests 1 or 2 hold with RelTol replaced by machine epsilon, so x is as
//     accurate as working precision allows even if RelTol is smaller.
//
// Here ‖Ā‖ is the running Frobenius-norm estimate of [A; dI] from the
// bidiagonalization and Δx is the change from the initial guess. LSQR
// reports Breakdown when the estimated condition number of Ā exceeds 1/ε,
// beyond which further iterations cannot improve x. Each iteration
// applies A and Aᵀ once.
//
// With d > 0 and a nonzero initial x, LSQR iterates on the explicitly
// augmented system [A; dI] x ≈ [b; 0] so that the damping applies to x
// itself rather than to the correction from the initial guess; this costs
// one extra vector of length n. Precond is not supported.
func LSQR(a TransposeOperator, b, x []float64, s Settings) (Result, error) {
	c, err := validate("LSQR", a, true, b, x, s, false)
	if err != nil {
		return Result{}, err
	}
	bnorm := nrm2(b)
	if bnorm == 0 {
		return zeroRHS(x), nil
	}
	m, n := len(b), len(x)
	x0zero := allZero(x)
	// The Paige–Saunders damping rotations solve for the correction from
	// the initial guess, so they are exact only when that guess is zero.
	// Otherwise the damping rows dI become part of the operator, with u2
	// the lower block of the left Lanczos vector.
	aug := c.damp != 0 && !x0zero
	damp := c.damp
	if aug {
		damp = 0
	}

	work := make([]float64, 2*m+3*n)
	u, um := work[:m], work[m:2*m]
	v, vn, w := work[2*m:2*m+n], work[2*m+n:2*m+2*n], work[2*m+2*n:]
	var u2 []float64
	if aug {
		u2 = make([]float64, n)
		floats.ScaleTo(u2, -c.damp, x)
	}

	// β₁u₁ = b − A x₀ (augmented: [b − A x₀; −d x₀]); α₁v₁ = Āᵀu₁.
	if x0zero {
		copy(u, b)
	} else {
		a.Apply(um, x)
		floats.SubTo(u, b, um)
	}
	beta := math.Hypot(nrm2(u), nrm2(u2))
	if !isFinite(beta) {
		return Result{Reason: NonFinite, ResidualNorm: beta}, nil
	}
	var alfa float64
	if beta > 0 {
		floats.Scale(1/beta, u)
		floats.Scale(1/beta, u2)
		a.ApplyTranspose(v, u)
		if aug {
			floats.AddScaled(v, c.damp, u2)
		}
		alfa = nrm2(v)
		if !isFinite(alfa) {
			return Result{Reason: NonFinite, ResidualNorm: beta}, nil
		}
		if alfa > 0 {
			floats.Scale(1/alfa, v)
		}
	}
	copy(w, v)

	var (
		rhobar = alfa
		phibar = beta
		rnorm  = beta
		arnorm = alfa * beta

		anorm, ddnorm, res2 float64
		xnorm, xxnorm, z    float64
		cs2, sn2            = -1.0, 0.0
	)
	if rnorm <= c.absTol || rnorm <= c.relTol*bnorm || arnorm == 0 {
		return Result{Reason: Converged, ResidualNorm: rnorm, NormalResidualNorm: arnorm}, nil
	}

	for k := 0; k < c.maxIter; k++ {
		// Continue the bidiagonalization:
		//  β u = Ā v − α u,  α v = Āᵀu − β v.
		a.Apply(um, v)
		floats.AddScaledTo(u, um, -alfa, u)
		if aug {
			floats.Scale(-alfa, u2)
			floats.AddScaled(u2, c.damp, v)
		}
		beta = math.Hypot(nrm2(u), nrm2(u2))
		if !isFinite(beta) {
			return Result{Iterations: k, Reason: NonFinite, ResidualNorm: rnorm, NormalResidualNorm: arnorm}, nil
		}
		// ‖B_k‖_F grows by the new entries α, β and the damping; it is
		// updated even when β = 0 so that it stays positive for test 2.
		anorm = math.Hypot(math.Hypot(anorm, alfa), math.Hypot(beta, damp))
		if beta > 0 {
			floats.Scale(1/beta, u)
			floats.Scale(1/beta, u2)
			a.ApplyTranspose(vn, u)
			if aug {
				floats.AddScaled(vn, c.damp, u2)
			}
			floats.AddScaledTo(v, vn, -beta, v)
			alfa = nrm2(v)
			if !isFinite(alfa) {
				return Result{Iterations: k, Reason: NonFinite, ResidualNorm: rnorm, NormalResidualNorm: arnorm}, nil
			}
			if alfa > 0 {
				floats.Scale(1/alfa, v)
			}
		}

		// Eliminate the damping parameter from the lower bidiagonal
		// system; psi is the part of the residual it absorbs.
		rhobar1, psi := rhobar, 0.0
		if damp > 0 {
			rhobar1 = math.Hypot(rhobar, damp)
			cs1, sn1 := rhobar/rhobar1, damp/rhobar1
			psi = sn1 * phibar
			phibar *= cs1
		}

		// Eliminate the subdiagonal β with a plane rotation.
		rho := math.Hypot(rhobar1, beta)
		if rho == 0 {
			// Only possible once α = 0, which test 2 catches first.
			return Result{Iterations: k, Reason: Breakdown, ResidualNorm: rnorm, NormalResidualNorm: arnorm}, nil
		}
		cs, sn := rhobar1/rho, beta/rho
		theta := sn * alfa
		rhobar = -cs * alfa
		phi := cs * phibar
		phibar *= sn
		tau := sn * phi

		// Update x and the search direction w.
		t1, t2 := phi/rho, -theta/rho
		wnorm := nrm2(w) / rho
		if !isFinite(t1) || !isFinite(t2) || !isFinite(wnorm) {
			return Result{Iterations: k, Reason: NonFinite, ResidualNorm: rnorm, NormalResidualNorm: arnorm}, nil
		}
		ddnorm += wnorm * wnorm
		floats.AddScaled(x, t1, w)
		floats.AddScaledTo(w, v, t2, w)

		// Estimate ‖Δx‖ by applying a rotation on the right that makes
		// the bidiagonal factor lower triangular.
		delta := sn2 * rho
		gambar := -cs2 * rho
		rhs := phi - delta*z
		if zbar := rhs / gambar; isFinite(zbar) {
			xnorm = math.Sqrt(xxnorm + zbar*zbar)
		} else {
			xnorm = math.Sqrt(xxnorm)
		}
		if gamma := math.Hypot(gambar, theta); gamma > 0 {
			cs2, sn2 = gambar/gamma, theta/gamma
			z = rhs / gamma
			xxnorm += z * z
		}

		res2 += psi * psi
		rnorm = math.Sqrt(phibar*phibar + res2)
		arnorm = alfa * math.Abs(tau)
		acond := anorm * math.Sqrt(ddnorm)

		res := Result{Iterations: k + 1, Reason: Converged, ResidualNorm: rnorm, NormalResidualNorm: arnorm}
		test1 := rnorm / bnorm
		scale := 1 + anorm*xnorm/bnorm
		if rnorm <= c.absTol || test1 <= c.relTol*scale || test1/scale <= epsilon {
			return res, nil
		}
		// rnorm > 0 here, else test 1 would have held.
		test2 := arnorm / (anorm * rnorm)
		if test2 <= c.relTol || test2 <= epsilon {
			return res, nil
		}
		if acond*epsilon >= 1 {
			res.Reason = Breakdown
			return res, nil
		}
	}
	return Result{Iterations: c.maxIter, Reason: MaxIterations, ResidualNorm: rnorm, NormalResidualNorm: arnorm}, nil
}

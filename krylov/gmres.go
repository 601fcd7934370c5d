package krylov

import (
	"math"

	"gonum.org/v1/gonum/floats"
)

// reorthFactor is the Kahan–Parlett "twice is enough" threshold: if
// Gram–Schmidt shrinks a vector below this fraction of its length, its
// computed orthogonal part has lost accuracy to cancellation and one more
// pass restores orthogonality to working precision.
const reorthFactor = 0.7071067811865476 // 1/√2

// GMRES solves A x = b for general square A by the restarted generalized
// minimum residual method GMRES(m), m = Settings.Restart. x holds the
// initial guess on entry and the solution on return.
//
// A preconditioner M⁻¹ is applied on the right: GMRES minimizes
// ‖b − A M⁻¹u‖₂ and sets x = M⁻¹u. Right preconditioning was chosen
// because the minimized residual is then the true residual b − A x, so the
// stopping test and Result.ResidualNorm mean the same with and without a
// preconditioner, and M need not be symmetric or positive definite.
//
// The stopping test is ‖b − A x‖₂ ≤ max(RelTol·‖b‖₂, AbsTol). Inside a
// cycle the residual norm is tracked by the Givens-rotation estimate at no
// cost; when the estimate meets the tolerance, or at the end of each cycle,
// x is updated and the true residual is recomputed with one application of
// A (skipped on the first cycle if x is zero), and the solve stops only if
// that true residual meets the tolerance. Result.Iterations counts Arnoldi
// steps, each applying A and the preconditioner once, and excludes these
// residual computations. The Arnoldi basis is orthogonalized by modified
// Gram–Schmidt with one selective reorthogonalization and takes (m+1)·n
// floats of memory; m is capped at n and at MaxIter.
//
// If the Krylov subspace becomes invariant (a happy breakdown), x is the
// exact minimizer over it and GMRES reports Converged if the true residual
// meets the tolerance. If instead A M⁻¹ is singular on that subspace, no
// Krylov method can make progress and GMRES reports Breakdown; this
// happens when A is singular and b is not in its range, and for some
// singular consistent systems whose solution lies outside every Krylov
// subspace.
func GMRES(a Operator, b, x []float64, s Settings) (Result, error) {
	c, err := validate("GMRES", a, false, b, x, s, true)
	if err != nil {
		return Result{}, err
	}
	bnorm := nrm2(b)
	if bnorm == 0 {
		return zeroRHS(x), nil
	}
	n := len(b)
	tol := c.tol(bnorm)
	m := min(c.restart, n, c.maxIter)
	zeroTol := float64(n) * epsilon

	// Vectors: the Arnoldi basis v_0…v_m, then u = V y and z = M⁻¹ v_j or
	// M⁻¹ u. Small dense data: the Hessenberg matrix H, (m+1)×m stored by
	// columns and reduced in place to upper triangular R by Givens
	// rotations (cs, sn), the rotated right-hand side g and the
	// least-squares solution y.
	vecs := make([]float64, (m+3)*n)
	basis := vecs[:(m+1)*n]
	u, z := vecs[(m+1)*n:(m+2)*n], vecs[(m+2)*n:]
	small := make([]float64, (m+1)*m+4*m+1)
	h := small[:(m+1)*m]
	cs := small[(m+1)*m : (m+2)*m]
	sn := small[(m+2)*m : (m+3)*m]
	g := small[(m+3)*m : (m+4)*m+1]
	y := small[(m+4)*m+1:]
	vec := func(j int) []float64 { return basis[j*n : (j+1)*n] }
	col := func(j int) []float64 { return h[j*(m+1) : (j+1)*(m+1)] }

	var (
		iters    int
		anorm    float64 // max ‖A M⁻¹ v_j‖, a lower bound on ‖A M⁻¹‖
		singular bool    // a happy breakdown found A M⁻¹ singular on the Krylov subspace
		estNorm  = bnorm
	)
	for cycle := 0; ; cycle++ {
		// r = b − A x, stored as v_0 before normalization.
		r := vec(0)
		if cycle == 0 && allZero(x) {
			copy(r, b)
		} else {
			a.Apply(r, x)
			floats.SubTo(r, b, r)
		}
		rnorm := nrm2(r)
		switch {
		case !isFinite(rnorm):
			return Result{Iterations: iters, Reason: NonFinite, ResidualNorm: estNorm}, nil
		case rnorm <= tol:
			return Result{Iterations: iters, Reason: Converged, ResidualNorm: rnorm}, nil
		case singular:
			return Result{Iterations: iters, Reason: Breakdown, ResidualNorm: rnorm}, nil
		case iters >= c.maxIter:
			return Result{Iterations: iters, Reason: MaxIterations, ResidualNorm: rnorm}, nil
		}
		floats.Scale(1/rnorm, r)
		for i := range g {
			g[i] = 0
		}
		g[0] = rnorm

		// Arnoldi process; k counts the completed steps of this cycle.
		k := 0
		start := iters
		steps := min(m, c.maxIter-iters)
		nonFinite, happy := false, false
		for j := 0; j < steps; j++ {
			src := vec(j)
			if c.precond != nil {
				c.precond.Apply(z, src)
				src = z
			}
			w := vec(j + 1)
			a.Apply(w, src)
			wnorm := nrm2(w)
			if !isFinite(wnorm) {
				nonFinite = true
				break
			}
			anorm = math.Max(anorm, wnorm)

			hj := col(j)
			for i := 0; i <= j; i++ {
				hj[i] = floats.Dot(vec(i), w)
				floats.AddScaled(w, -hj[i], vec(i))
			}
			hnorm := nrm2(w)
			if hnorm < reorthFactor*wnorm {
				for i := 0; i <= j; i++ {
					d := floats.Dot(vec(i), w)
					hj[i] += d
					floats.AddScaled(w, -d, vec(i))
				}
				hnorm = nrm2(w)
			}
			hj[j+1] = hnorm

			// Reduce the new column of H with the previous rotations and
			// annihilate its subdiagonal with a new one.
			for i := 0; i < j; i++ {
				hj[i], hj[i+1] = cs[i]*hj[i]+sn[i]*hj[i+1], -sn[i]*hj[i]+cs[i]*hj[i+1]
			}
			cs[j], sn[j], hj[j] = givens(hj[j], hj[j+1])
			hj[j+1] = 0
			g[j+1] = -sn[j] * g[j]
			g[j] *= cs[j]
			k = j + 1
			iters++
			estNorm = math.Abs(g[j+1])

			if hnorm <= zeroTol*wnorm {
				happy = true
				break
			}
			floats.Scale(1/hnorm, w)
			if estNorm <= tol {
				break
			}
		}

		// A zero pivot can only occur in the last column after a happy
		// breakdown with singular A; dropping that column gives the
		// minimizer over the remaining subspace. If the pivot is nonzero,
		// the subspace holds the exact solution and any excess of the true
		// residual over the tolerance is rounding, which a restart can
		// still reduce.
		if happy && k > 0 && math.Abs(col(k - 1)[k-1]) <= zeroTol*anorm {
			k--
			singular = true
		}
		// Back substitution R y = g, then x += M⁻¹ V y.
		for i := k - 1; i >= 0; i-- {
			sum := g[i]
			for l := i + 1; l < k; l++ {
				sum -= col(l)[i] * y[l]
			}
			y[i] = sum / col(i)[i]
		}
		for i := range u {
			u[i] = 0
		}
		for i := 0; i < k; i++ {
			floats.AddScaled(u, y[i], vec(i))
		}
		upd := u
		if c.precond != nil && k > 0 {
			c.precond.Apply(z, u)
			upd = z
		}
		if !isFinite(nrm2(upd)) {
			// Discard the whole cycle: its steps were not applied to x.
			iters = start
			return Result{Iterations: iters, Reason: NonFinite, ResidualNorm: rnorm}, nil
		}
		floats.Add(x, upd)
		if nonFinite {
			return Result{Iterations: iters, Reason: NonFinite, ResidualNorm: math.Abs(g[k])}, nil
		}
	}
}

// givens returns c, s and r such that [c s; −s c]·[a; b] = [r; 0].
func givens(a, b float64) (c, s, r float64) {
	if b == 0 {
		return 1, 0, a
	}
	r = math.Hypot(a, b)
	return a / r, b / r, r
}

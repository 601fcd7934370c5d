package constraint

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/lapack/lapack64"
	"gonum.org/v1/gonum/mat"

	"github.com/hcmoe/hcmoe/krylov"
)

// Method selects how the Levenberg–Marquardt steps are computed.
type Method int

const (
	// Auto uses Dense when N ≤ Settings.DenseMaxN and Krylov otherwise.
	Auto Method = iota
	// Dense forms JᵀJ and solves each damped system by Cholesky.
	Dense
	// Krylov never forms JᵀJ: each damped system is solved iteratively with
	// products by J and Jᵀ only.
	Krylov
)

func methodNames() []string { return []string{"auto", "dense", "krylov"} }

func (m Method) String() string { return enumName(methodNames(), int(m), "Method") }

// ParseMethod maps "auto", "dense" or "krylov" to a Method.
func ParseMethod(s string) (Method, error) {
	return parseEnum[Method](methodNames(), s, "method")
}

// Inner selects the Krylov method of the Krylov path.
type Inner int

const (
	// CG runs preconditioned conjugate gradients on (JᵀJ + (λ+μ)I) h = −g.
	CG Inner = iota
	// LSQR runs LSQR on the damped least-squares form of the same step,
	// which never squares the condition number of J.
	LSQR
)

func innerNames() []string { return []string{"cg", "lsqr"} }

func (m Inner) String() string { return enumName(innerNames(), int(m), "Inner") }

// ParseInner maps "cg" or "lsqr" to an Inner.
func ParseInner(s string) (Inner, error) {
	return parseEnum[Inner](innerNames(), s, "krylov method")
}

// Scaling selects the damping matrix of the Levenberg–Marquardt step.
type Scaling int

const (
	// ScaleMarquardt damps each coefficient by the largest diagonal entry of
	// JᵀJ + λI seen in its column, as MINPACK does.
	ScaleMarquardt Scaling = iota
	// ScaleIdentity damps every coefficient alike, by μ·max diag(JᵀJ + λI).
	ScaleIdentity
)

// Model is the matrix of the quadratic model behind each step.
type Model int

const (
	// Hybrid starts with Gauss–Newton steps, robust far from a minimum, and
	// switches to Newton steps once an accepted step fails to halve ‖g‖:
	// Gauss–Newton converges only linearly where residuals stay large at
	// the minimum, Newton quadratically.
	Hybrid Model = iota
	// GaussNewtonSteps uses JᵀJ + λI throughout.
	GaussNewtonSteps
	// Newton uses the exact Hessian JᵀJ + λI + Σ r_i ∇²r_i throughout.
	Newton
)

func modelNames() []string { return []string{"hybrid", "gauss-newton", "newton"} }

func (m Model) String() string { return enumName(modelNames(), int(m), "Model") }

// ParseModel maps "hybrid", "gauss-newton" or "newton" to a Model.
func ParseModel(s string) (Model, error) {
	return parseEnum[Model](modelNames(), s, "step model")
}

// hybridSlow is how many consecutive slow Gauss–Newton steps make Hybrid
// switch to Newton steps.
const hybridSlow = 3

// Settings controls Solve. Zero fields take the defaults documented on each.
type Settings struct {
	Method Method

	// GradTol: converged when the gradient g = Jᵀr + λω is orthogonal to
	// the residual to this cosine: max_j |g_j| / (‖[J; √λI]_j‖ ‖[r; √λω]‖)
	// ≤ GradTol (MINPACK's gtol test). It is invariant to the scale of each
	// basis function and of the residual, and unlike a test relative to the
	// first gradient it means the same from a warm start. Default 1e-10.
	GradTol float64
	// StepTol: converged when an accepted step has
	// ‖h‖₂ ≤ StepTol·(StepTol + ‖ω‖₂). Default 1e-12.
	StepTol float64
	// CostTol: converged when an accepted step lowers F by less than
	// CostTol·F while the model agrees (gain ratio > 0.25). Default 1e-14.
	CostTol float64
	// MaxIter bounds the number of LM steps tried, accepted or not.
	// Default 100.
	MaxIter int
	// Damping is the first μ, relative to the scale D (see Scaling).
	// Default 1e-8.
	Damping float64
	// Scaling selects the damping matrix D of the step (JᵀJ + λI + μD)h = −g.
	Scaling Scaling
	// DenseMaxN is the largest N for which Auto picks Dense. Default 256.
	DenseMaxN int

	// Model selects the quadratic model of the steps. The LSQR path is
	// always Gauss–Newton.
	Model Model

	Krylov KrylovSettings

	// Monitor, when set, is called after every step tried, from the
	// solving goroutine.
	Monitor func(Step)
}

// Step describes one tried step to a Settings.Monitor. Cost, GradNorm and
// Damping are those after the step: at the new point when it was accepted,
// at the old one (with the μ that failed) when not.
type Step struct {
	Iteration int
	Cost      float64
	GradNorm  float64
	Damping   float64
	Accepted  bool
	Newton    bool // the step used the exact Hessian
}

// KrylovSettings controls the inner solves of the Krylov path.
type KrylovSettings struct {
	Method Inner
	// Tol is the floor of the Eisenstat–Walker forcing term: the inner
	// relative tolerance never drops below it. Default 1e-12.
	Tol float64
	// MaxForcing caps the forcing term, and is the first one. Default 1e-4:
	// an inner iteration costs two products by J, an outer one a new J, so
	// accurate early steps pay.
	MaxForcing float64
	// MaxIter bounds the iterations of one inner solve. Default 10·N.
	MaxIter int
}

func (s Settings) withDefaults(n int) Settings {
	def := func(v *float64, d float64) {
		if *v == 0 {
			*v = d
		}
	}
	def(&s.GradTol, 1e-10)
	def(&s.StepTol, 1e-12)
	def(&s.CostTol, 1e-14)
	def(&s.Damping, 1e-8)
	def(&s.Krylov.Tol, 1e-12)
	def(&s.Krylov.MaxForcing, 1e-4)
	if s.MaxIter == 0 {
		s.MaxIter = 100
	}
	if s.DenseMaxN == 0 {
		s.DenseMaxN = 256
	}
	if s.Krylov.MaxIter == 0 {
		s.Krylov.MaxIter = 10 * n
	}
	return s
}

func (s Settings) validate() error {
	for _, f := range []struct {
		name string
		v    float64
	}{{"tol", s.GradTol}, {"step_tol", s.StepTol}, {"cost_tol", s.CostTol}, {"damping", s.Damping},
		{"krylov.tol", s.Krylov.Tol}, {"krylov.max_forcing", s.Krylov.MaxForcing}} {
		if !(f.v >= 0) || math.IsInf(f.v, 0) {
			return fmt.Errorf("constraint: setting %s = %v: must be finite and non-negative", f.name, f.v)
		}
	}
	if s.MaxIter < 0 || s.Krylov.MaxIter < 0 || s.DenseMaxN < 0 {
		return fmt.Errorf("constraint: negative iteration limit (max_iter %d, krylov.max_iter %d, dense_max_n %d)", s.MaxIter, s.Krylov.MaxIter, s.DenseMaxN)
	}
	if s.Method < Auto || s.Method > Krylov {
		return fmt.Errorf("constraint: unknown method %v", s.Method)
	}
	return nil
}

// Status says why a solve stopped.
type Status int

const (
	ConvergedGradient Status = iota
	ConvergedStep
	ConvergedCost
	MaxIterations
	Stalled
	NonFinite
	LinearSolveFailed
)

func statusNames() []string {
	return []string{"converged-gradient", "converged-step", "converged-cost", "max-iterations", "stalled", "non-finite", "linear-solve-failed"}
}

func (s Status) String() string { return enumName(statusNames(), int(s), "Status") }

// Converged reports whether s is one of the converged statuses.
func (s Status) Converged() bool { return s <= ConvergedCost }

// ParseStatus is the inverse of Status.String.
func ParseStatus(name string) (Status, error) {
	return parseEnum[Status](statusNames(), name, "status")
}

// Result is the outcome of Solve.
type Result struct {
	Omega           []float64 // the last accepted iterate: ω* when converged
	Status          Status
	Method          Method // Dense or Krylov, never Auto
	Iterations      int    // LM steps tried, accepted or not
	InnerIterations int    // Krylov iterations summed over all steps
	Cost            float64
	GradNorm        float64 // ‖Jᵀr + λω‖₂ at Omega
	Damping         float64 // the final μ
	Seconds         float64
}

// Solve minimises ½‖r(ω)‖² + ½λ‖ω‖² from warm (when not nil), else from the
// problem's Start fit, else from ω = 0.
//
// The error is non-nil only for invalid input or a cancelled context; a solve
// that fails to converge returns a Result whose Status says why, with Omega
// the last finite accepted iterate.
func Solve(ctx context.Context, p *Problem, s Settings, warm []float64) (*Result, error) {
	start := time.Now()
	if err := p.Validate(); err != nil {
		return nil, err
	}
	s = s.withDefaults(p.N)
	if err := s.validate(); err != nil {
		return nil, err
	}
	omega := make([]float64, p.N)
	switch {
	case warm != nil:
		if len(warm) != p.N {
			return nil, fmt.Errorf("constraint: warm start: %w: %d values for N=%d", ErrShape, len(warm), p.N)
		}
		if err := finite("warm start", warm); err != nil {
			return nil, fmt.Errorf("constraint: %w", err)
		}
		copy(omega, warm)
	case p.Start != nil:
		if err := fitStart(omega, p); err != nil {
			return nil, err
		}
	}
	method := s.Method
	if method == Auto {
		method = Dense
		if p.N > s.DenseMaxN {
			method = Krylov
		}
	}
	lm := newLM(p, s, method)
	res, err := lm.run(ctx, omega)
	if res != nil {
		res.Seconds = time.Since(start).Seconds()
	}
	return res, err
}

// StartPoint returns the point Solve starts from when it gets no warm
// start: the problem's Start fit, or zero.
func StartPoint(p *Problem) ([]float64, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	omega := make([]float64, p.N)
	if p.Start != nil {
		if err := fitStart(omega, p); err != nil {
			return nil, err
		}
	}
	return omega, nil
}

// fitStart sets omega to argmin ‖Sω − y‖² + λ'‖ω‖², λ' the ridge raised to a
// tiny multiple of the Gram diagonal so that a rank-deficient S still gives
// the minimum-norm-like fit rather than a failed factorisation.
func fitStart(omega []float64, p *Problem) error {
	n := p.N
	rows := len(p.Start.Target)
	sm := mat.NewDense(rows, n, p.Start.Basis)
	var g mat.SymDense
	g.SymOuterK(1, sm.T())
	maxd := 0.0
	for i := range n {
		maxd = math.Max(maxd, g.At(i, i))
	}
	reg := math.Max(p.Ridge, 1e-12*maxd)
	if reg == 0 {
		reg = 1e-300
	}
	for i := range n {
		g.SetSym(i, i, g.At(i, i)+reg)
	}
	var rhs mat.VecDense
	rhs.MulVec(sm.T(), mat.NewVecDense(rows, p.Start.Target))
	var ch mat.Cholesky
	if !ch.Factorize(&g) {
		return fmt.Errorf("constraint: start fit: Gram matrix not positive definite")
	}
	x := mat.NewVecDense(n, omega)
	if err := ch.SolveVecTo(x, &rhs); err != nil {
		return fmt.Errorf("constraint: start fit: %w", err)
	}
	return nil
}

// lm holds the state of one Levenberg–Marquardt run.
type lm struct {
	p      *Problem
	s      Settings
	method Method
	sys    *system
	n      int

	g, h, trial []float64
	rTrial      []float64 // residuals at the trial point, swapped with sys.r
	gTrial      []float64 // gradient at the trial point (noise-floor mode)
	d           []float64 // damping scale D
	hx          []float64 // second-order product scratch
	cn          []float64 // squared column norms of J

	qa, tau, work []float64 // QR workspace: [J r] factored in place
	rfac, qtr     []float64 // R (N×N) and the first N entries of Qᵀr

	what     int         // what eval computes at accepted points
	exact    bool        // steps use the exact Hessian (Newton) rather than JᵀJ
	gram     []float64   // N×N upper triangle of JᵀJ (dense path)
	diag     []float64   // diag(JᵀJ) (Krylov preconditioner)
	scratch  [][]float64 // per-slab buffers: N×N (dense) or N (Krylov)
	scratchN [][]float64 // per-slab N-vectors, sharing scratch
	mv       []float64   // M-vector for J products
}

func newLM(p *Problem, s Settings, method Method) *lm {
	n := p.N
	l := &lm{p: p, s: s, method: method, sys: newSystem(p), n: n,
		g: make([]float64, n), h: make([]float64, n), trial: make([]float64, n)}
	l.rTrial = make([]float64, l.sys.m)
	l.gTrial = make([]float64, n)
	l.d = make([]float64, n)
	l.hx = make([]float64, n)
	l.cn = make([]float64, n)
	l.what = withJacobian
	if s.Model != GaussNewtonSteps && !(method == Krylov && s.Krylov.Method == LSQR) {
		l.what |= withHessian
	}
	l.exact = s.Model == Newton && l.what&withHessian != 0
	l.diag = make([]float64, n)
	if method == Dense {
		l.gram = make([]float64, n*n)
		l.scratch = l.sys.newScratch(n * n)
	} else {
		l.scratch = l.sys.newScratch(n)
		l.mv = make([]float64, l.sys.m)
	}
	l.scratchN = make([][]float64, len(l.scratch))
	for i := range l.scratch {
		l.scratchN[i] = l.scratch[i][:n]
	}
	return l
}

// gradient sets l.g = Jᵀr + λω and returns its 2-norm.
func (l *lm) gradient(omega []float64) float64 {
	l.sys.jtv(l.g, l.sys.r, l.scratchN)
	floats.AddScaled(l.g, l.p.Ridge, omega)
	return floats.Norm(l.g, 2)
}

func (l *lm) run(ctx context.Context, omega []float64) (*Result, error) {
	res := &Result{Method: l.method, Omega: omega}
	sys := l.sys
	n := l.n
	cost := sys.eval(omega, l.what)
	if !isFinite(cost) {
		res.Status, res.Cost, res.GradNorm = NonFinite, cost, math.NaN()
		return res, nil
	}
	gnorm := l.gradient(omega)
	cost0 := cost
	mu := -1.0
	nu := 2.0
	slow := 0          // consecutive accepted steps that did not halve ‖g‖
	newtonOff := false // Hybrid met negative curvature and stays Gauss–Newton
	eta := l.s.Krylov.MaxForcing
	prevG := gnorm
	var a *mat.SymDense
	if l.method == Dense {
		a = mat.NewSymDense(n, nil)
	}
	var ch mat.Cholesky
outer:
	for {
		res.Cost, res.GradNorm, res.Damping = cost, gnorm, mu
		if l.stationary(cost) {
			res.Status = ConvergedGradient
			return res, nil
		}
		if res.Iterations >= l.s.MaxIter {
			res.Status = MaxIterations
			return res, nil
		}
		if err := ctx.Err(); err != nil {
			return res, fmt.Errorf("constraint: solve cancelled after %d iterations: %w", res.Iterations, err)
		}
		// Products by the model matrix of this Jacobian: the Gram matrix
		// JᵀJ + λI on the dense path, only the column norms on the Krylov
		// path. Dense steps switch to a QR factorisation of [J r] when the
		// damped Gram matrix is too ill-conditioned to factor accurately
		// (see below).
		useQR := false
		if l.method == Dense {
			sys.gram(l.gram, l.scratch)
			for i := range n {
				l.gram[i*n+i] += l.p.Ridge
				l.diag[i] = l.gram[i*n+i]
			}
		} else {
			sys.colNorms(l.diag, l.scratchN)
			for j := range l.diag {
				l.diag[j] += l.p.Ridge
			}
		}
		maxd := 0.0
		for _, v := range l.diag {
			maxd = math.Max(maxd, v)
		}
		if maxd == 0 {
			maxd = 1
		}
		l.updateScale(maxd)
		if l.exact && l.method == Dense {
			sys.addSecondOrder(l.gram)
		}
		if mu < 0 {
			mu = l.s.Damping
		}
		// Eisenstat–Walker (choice 2) forcing for the inner tolerance.
		if res.Iterations > 0 {
			e := 0.9 * (gnorm / prevG) * (gnorm / prevG)
			if safe := 0.9 * eta * eta; safe > 0.1 {
				e = math.Max(e, safe)
			}
			eta = math.Min(l.s.Krylov.MaxForcing, math.Max(e, l.s.Krylov.Tol))
		}
		prevG = gnorm

		// Try steps until one lowers F, raising μ after each failure.
		accepted := false
		for !accepted {
			if res.Iterations >= l.s.MaxIter {
				res.Status = MaxIterations
				return res, nil
			}
			if mu > 1e16 || math.IsInf(nu, 0) {
				res.Status = Stalled
				return res, nil
			}
			res.Iterations++
			ok := true
			if useQR {
				ok = l.qrStep(omega, mu)
			} else if l.method == Dense {
				for i := range n {
					for j := i; j < n; j++ {
						a.SetSym(i, j, l.gram[i*n+j])
					}
					a.SetSym(i, i, l.gram[i*n+i]+mu*l.d[i])
				}
				factored := ch.Factorize(a)
				if !l.exact && sys.m > n && (!factored || ch.Cond() > maxGramCond) {
					// The normal equations would lose ε·cond² of the
					// step; QR of [J r] keeps ε·cond(J). Bases reach
					// cond(J) ~ 1e11, where Cholesky steps stall.
					l.factorQR()
					useQR = true
					ok = l.qrStep(omega, mu)
				} else if factored {
					for i := range n {
						l.trial[i] = -l.g[i]
					}
					x := mat.NewVecDense(n, l.h)
					if err := ch.SolveVecTo(x, mat.NewVecDense(n, l.trial)); err != nil {
						ok = false
					}
				} else {
					ok = false
				}
			} else {
				it, err := l.krylovStep(omega, mu, eta, gnorm)
				res.InnerIterations += it
				if errors.Is(err, errIndefinite) {
					ok = false
				} else if err != nil {
					res.Status = LinearSolveFailed
					return res, nil
				}
			}
			if !ok && l.exact && l.s.Model == Hybrid {
				// Negative curvature of the exact Hessian: the residuals
				// are too large for Newton steps to be reliable here, and
				// Gauss–Newton, always positive semi-definite, takes over
				// for the rest of the solve.
				l.exact, newtonOff = false, true
				l.report(res.Iterations, cost, gnorm, mu, false)
				continue outer
			}
			if ok && !allFinite(l.h) {
				res.Status = LinearSolveFailed
				return res, nil
			}
			if !ok {
				l.report(res.Iterations, cost, gnorm, mu, false)
				mu *= nu
				nu *= 2
				continue
			}
			// Predicted reduction of the Gauss–Newton model,
			// −gᵀh − ½(‖Jh‖² + λ‖h‖²). For an exact step (A+μD)h = −g it
			// equals ½(μ hᵀDh − gᵀh), a sum of positive terms free of
			// cancellation.
			var pred float64
			if l.method == Dense {
				dh := 0.0
				for i, v := range l.h {
					dh += l.d[i] * v * v
				}
				pred = 0.5 * (mu*dh - floats.Dot(l.g, l.h))
			} else {
				pred = -floats.Dot(l.g, l.h) - 0.5*l.curvature(l.h)
			}
			hnorm := floats.Norm(l.h, 2)
			wnorm := floats.Norm(omega, 2)
			for i := range n {
				l.trial[i] = omega[i] + l.h[i]
			}
			if pred < noiseFloor*cost {
				// The model predicts a drop in F below what F can resolve,
				// so comparing costs is noise. Take the step if it lowers
				// ‖g‖ instead, which near a minimum is a Newton-like test
				// that still converges.
				cTrial, gTrial := l.gradientAt(l.trial)
				if isFinite(gTrial) && gTrial < gnorm {
					// sys and l.gTrial already hold the new point.
					accepted = true
					copy(omega, l.trial)
					copy(l.g, l.gTrial)
					cost, gnorm = cTrial, gTrial
					if st, done := l.accepted(res, cost, gnorm, mu, hnorm, wnorm); done {
						res.Status = st
						return res, nil
					}
					continue
				}
				// Restore J at ω for the next trial step.
				sys.eval(omega, l.what)
				l.gradient(omega)
				if hnorm <= l.s.StepTol*(l.s.StepTol+wnorm) {
					res.Status = ConvergedStep
					return res, nil
				}
				l.report(res.Iterations, cost, gnorm, mu, false)
				mu *= nu
				nu *= 2
				continue
			}
			sys.r, l.rTrial = l.rTrial, sys.r
			newCost := sys.eval(l.trial, 0)
			drop := l.reduction(omega)
			rho := drop / pred
			if !isFinite(newCost) || !(pred > 0) || !(rho > 0) {
				sys.r, l.rTrial = l.rTrial, sys.r
				if !isFinite(newCost) && mu > 1e12 {
					res.Status = NonFinite
					return res, nil
				}
				if hnorm <= l.s.StepTol*(l.s.StepTol+wnorm) {
					res.Status = ConvergedStep
					return res, nil
				}
				l.report(res.Iterations, cost, gnorm, mu, false)
				mu *= nu
				nu *= 2
				continue
			}
			accepted = true
			copy(omega, l.trial)
			// Nielsen's update, except that a model agreeing with F to 1 %
			// (a locally linear problem) drops μ tenfold: on ill-conditioned
			// bases each step with a needless μ converges only the large
			// singular directions, and a factor three costs a step per
			// decade of conditioning.
			if rho > 0.99 && rho < 1.01 {
				mu /= 10
			} else {
				mu *= math.Max(1.0/3, 1-math.Pow(2*rho-1, 3))
			}
			nu = 2
			cost = sys.eval(omega, l.what)
			gOld := gnorm
			gnorm = l.gradient(omega)
			if st, done := l.accepted(res, cost, gnorm, mu, hnorm, wnorm); done {
				res.Status = st
				return res, nil
			}
			if l.s.Model == Hybrid && !l.exact && !newtonOff && l.what&withHessian != 0 {
				if gnorm > 0.5*gOld {
					slow++
				} else {
					slow = 0
				}
				l.exact = slow >= hybridSlow
			}
			// A consistent problem has no stationary cosine to test; its
			// residual falling to rounding level relative to the start is
			// convergence too.
			if drop <= l.s.CostTol*cost && rho > 0.25 || cost <= 1e-28*cost0 {
				res.Status = ConvergedCost
				return res, nil
			}
		}
	}
}

// noiseFloor is the relative size of a predicted decrease of F below which
// the decrease cannot be measured in floating point: the sum of squared
// residuals carries rounding errors of a few ε per row.
const noiseFloor = 1e-13

// gradientAt returns F and ‖g‖ at w, leaving sys.r, sys.jac and l.gTrial
// at w.
func (l *lm) gradientAt(w []float64) (cost, gnorm float64) {
	if cost = l.sys.eval(w, l.what); !isFinite(cost) {
		return cost, math.Inf(1)
	}
	l.sys.jtv(l.gTrial, l.sys.r, l.scratchN)
	floats.AddScaled(l.gTrial, l.p.Ridge, w)
	return cost, floats.Norm(l.gTrial, 2)
}

// accepted records an accepted step (sys and l.g at the new point) and
// applies the gradient and step tests.
func (l *lm) accepted(res *Result, cost, gnorm, mu, hnorm, wnorm float64) (Status, bool) {
	res.Cost, res.GradNorm, res.Damping = cost, gnorm, mu
	l.report(res.Iterations, cost, gnorm, mu, true)
	if l.stationary(cost) {
		return ConvergedGradient, true
	}
	if hnorm <= l.s.StepTol*(l.s.StepTol+wnorm) {
		return ConvergedStep, true
	}
	return 0, false
}

// stationary applies the gradient test of Settings.GradTol at the current
// point: l.g and sys.jac must be those of the point whose cost is given.
func (l *lm) stationary(cost float64) bool {
	if cost <= 0 {
		return true
	}
	l.sys.colNorms(l.cn, l.scratchN)
	rn := math.Sqrt(2 * cost)
	worst := 0.0
	for j, g := range l.g {
		d := math.Sqrt(l.cn[j] + l.p.Ridge)
		if d == 0 {
			continue // a column that is zero everywhere cannot move
		}
		worst = math.Max(worst, math.Abs(g)/(d*rn))
	}
	return worst <= l.s.GradTol
}

// report passes one step to the monitor, if any.
func (l *lm) report(it int, cost, gnorm, mu float64, accepted bool) {
	if l.s.Monitor != nil {
		l.s.Monitor(Step{Iteration: it, Cost: cost, GradNorm: gnorm, Damping: mu, Accepted: accepted, Newton: l.exact})
	}
}

// reduction returns F(ω) − F(ω+h) from the residuals at both points (sys.r
// holds the trial's, l.rTrial the current ones) as Σ (r−r')(r+r')/2 plus the
// ridge part −λ(ωᵀh + ½‖h‖²). Differencing residuals instead of costs keeps
// the gain ratio meaningful down to rounding level, where F itself no longer
// changes in its leading digits and an LM would otherwise reject every step
// and stop early on a falsely small step.
func (l *lm) reduction(omega []float64) float64 {
	d := 0.0
	for i, a := range l.rTrial {
		b := l.sys.r[i]
		d += (a - b) * (a + b)
	}
	return 0.5*d - l.p.Ridge*(floats.Dot(omega, l.h)+0.5*floats.Dot(l.h, l.h))
}

// curvature returns hᵀAh for the model matrix A of the Krylov path:
// ‖Jh‖² + λ‖h‖², plus hᵀ(Σ r_i ∇²r_i)h on exact-Hessian steps.
func (l *lm) curvature(h []float64) float64 {
	l.sys.jv(l.mv, h)
	q := floats.Dot(l.mv, l.mv) + l.p.Ridge*floats.Dot(h, h)
	if l.exact {
		l.sys.secondOrderProduct(l.hx, h, l.scratch)
		q += floats.Dot(h, l.hx)
	}
	return q
}

// krylovStep solves the damped step iteratively into l.h and returns the
// inner iteration count. Non-convergence within the inner limit is not an
// error: an inexact step is still a descent direction and the gain ratio
// decides whether it is taken.
func (l *lm) krylovStep(omega []float64, mu, eta, gnorm float64) (int, error) {
	sys := l.sys
	lam := l.p.Ridge
	clear(l.h)
	set := krylov.Settings{RelTol: eta, MaxIter: l.s.Krylov.MaxIter}
	var r krylov.Result
	var err error
	switch l.s.Krylov.Method {
	case LSQR:
		// With y = D^{1/2} h the step minimises
		//   ‖J D^{-1/2} y + r‖² + λ‖D^{-1/2} y + ω‖² + μ‖y‖²,
		// a damped least-squares problem in the stacked operator
		// [J; √λ I] D^{-1/2} with LSQR's own damping √μ.
		op := &scaledJacobian{l: l, sqrtLam: math.Sqrt(lam)}
		b := make([]float64, sys.m+l.n)
		floats.ScaleTo(b[:sys.m], -1, sys.r)
		floats.ScaleTo(b[sys.m:], -op.sqrtLam, omega)
		set.Damp = math.Sqrt(mu)
		// LSQR measures its normal residual against ‖Ā‖‖r̄‖, not against
		// ‖g‖ as the forcing term means; rescale so that the step solves
		// the normal equations to about η‖g‖.
		anorm := 0.0
		for i, v := range l.diag {
			anorm += v / l.d[i]
		}
		anorm = math.Sqrt(anorm + float64(l.n)*mu)
		if rn := floats.Norm(b, 2); anorm > 0 && rn > 0 {
			set.RelTol = eta * gnorm / (anorm * rn)
		}
		y := make([]float64, l.n)
		r, err = krylov.LSQR(op, b, y, set)
		for i := range y {
			l.h[i] = y[i] / math.Sqrt(l.d[i])
		}
	default:
		op := krylov.Func(func(dst, x []float64) {
			sys.jv(l.mv, x)
			sys.jtv(dst, l.mv, l.scratch)
			for i := range dst {
				dst[i] += (lam + mu*l.d[i]) * x[i]
			}
			if l.exact {
				sys.secondOrderProduct(l.hx, x, l.scratch)
				floats.Add(dst, l.hx)
			}
		})
		set.Precond = krylov.Func(func(dst, x []float64) {
			for i := range dst {
				dst[i] = x[i] / (l.diag[i] + mu*l.d[i])
			}
		})
		b := make([]float64, l.n)
		floats.ScaleTo(b, -1, l.g)
		r, err = krylov.CG(op, b, l.h, set)
	}
	if err != nil {
		return r.Iterations, err
	}
	switch r.Reason {
	case krylov.Indefinite:
		return r.Iterations, errIndefinite
	case krylov.NonFinite, krylov.Breakdown:
		return r.Iterations, fmt.Errorf("inner %v: %v", l.s.Krylov.Method, r.Reason)
	}
	return r.Iterations, nil
}

// errIndefinite reports negative curvature met by an inner CG solve.
var errIndefinite = errors.New("indefinite step matrix")

// maxGramCond is the condition number of JᵀJ + λI + μD above which dense
// Gauss–Newton steps use QR: beyond it a Cholesky step keeps fewer than
// six correct digits.
const maxGramCond = 1e10

// factorQR computes the QR factorisation of [J r] in place of a copy and
// keeps R (N×N upper triangular) and c (the first N entries of Qᵀr), so that
// ‖J h + r‖² = ‖R h + c‖² + const; l.diag gets the squared column norms of J
// (those of R) plus λ.
func (l *lm) factorQR() {
	n, m := l.n, l.sys.m
	w := n + 1
	if l.qa == nil {
		l.qa = make([]float64, m*w)
		l.tau = make([]float64, w)
		l.rfac = make([]float64, n*n)
		l.qtr = make([]float64, n)
	}
	for i := range m {
		copy(l.qa[i*w:i*w+n], l.sys.jac[i*n:(i+1)*n])
		l.qa[i*w+n] = l.sys.r[i]
	}
	a := blas64.General{Rows: m, Cols: w, Stride: w, Data: l.qa}
	if l.work == nil {
		q := []float64{0}
		lapack64.Geqrf(a, l.tau, q, -1)
		l.work = make([]float64, int(q[0]))
	}
	lapack64.Geqrf(a, l.tau, l.work, len(l.work))
	clear(l.rfac)
	clear(l.diag)
	for i := range n {
		for j := i; j < n; j++ {
			v := l.qa[i*w+j]
			l.rfac[i*n+j] = v
			l.diag[j] += v * v
		}
		l.qtr[i] = l.qa[i*w+n]
	}
	for j := range l.diag {
		l.diag[j] += l.p.Ridge
	}
}

// qrStep solves the damped Gauss–Newton step from the QR factors: the least
// squares problem [R; diag(√(λ+μD))] h ≈ [−c; −λω/√(λ+μD)], whose normal
// equations are (JᵀJ + λI + μD) h = −g. It reports false when the small
// system is singular, which μ then cures.
func (l *lm) qrStep(omega []float64, mu float64) bool {
	n := l.n
	a := mat.NewDense(2*n, n, nil)
	b := mat.NewVecDense(2*n, nil)
	for i := range n {
		for j := i; j < n; j++ {
			a.Set(i, j, l.rfac[i*n+j])
		}
		b.SetVec(i, -l.qtr[i])
		s := math.Sqrt(l.p.Ridge + mu*l.d[i])
		a.Set(n+i, i, s)
		if s > 0 {
			b.SetVec(n+i, -l.p.Ridge*omega[i]/s)
		}
	}
	var qr mat.QR
	qr.Factorize(a)
	return qr.SolveVecTo(mat.NewVecDense(n, l.h), false, b) == nil
}

// updateScale sets the damping scale D. With Marquardt scaling D_j is the
// largest diagonal entry of JᵀJ + λI seen so far in column j (MINPACK's
// choice: invariant to the scale of each basis function, and never
// shrinking, so that the trust region cannot collapse along a column that
// momentarily flattens). Without it D = max diag·I.
func (l *lm) updateScale(maxd float64) {
	diag := l.diag
	for i := range l.d {
		if l.s.Scaling == ScaleIdentity {
			l.d[i] = maxd
			continue
		}
		v := diag[i]
		if v == 0 {
			v = maxd
		}
		l.d[i] = math.Max(l.d[i], v)
	}
}

// scaledJacobian is [J; √λ I] D^{-1/2} as a krylov.TransposeOperator with
// M+N rows.
type scaledJacobian struct {
	l       *lm
	sqrtLam float64
	tmp     []float64
}

func (o *scaledJacobian) Apply(dst, y []float64) {
	l := o.l
	if o.tmp == nil {
		o.tmp = make([]float64, l.n)
	}
	for i := range y {
		o.tmp[i] = y[i] / math.Sqrt(l.d[i])
	}
	m := l.sys.m
	l.sys.jv(dst[:m], o.tmp)
	floats.ScaleTo(dst[m:], o.sqrtLam, o.tmp)
}

func (o *scaledJacobian) ApplyTranspose(dst, v []float64) {
	l := o.l
	m := l.sys.m
	l.sys.jtv(dst, v[:m], l.scratch)
	floats.AddScaled(dst, o.sqrtLam, v[m:])
	for i := range dst {
		dst[i] /= math.Sqrt(l.d[i])
	}
}

func allFinite(v []float64) bool {
	for _, x := range v {
		if !isFinite(x) {
			return false
		}
	}
	return true
}

package reference

import (
	"context"
	"errors"
	"fmt"
	"math"

	"gonum.org/v1/gonum/lapack/gonum"

	"github.com/hcmoe/hcmoe/pde"
)

// SorptionBoundary selects the ghost-cell values through which the finite
// volume scheme of DiffusionSorption imposes its boundary conditions.
type SorptionBoundary int

const (
	// GhostPDEBench uses the ghost values of PDEBench's sim_diff_sorp.py,
	// so that the trajectories match the published data set:
	//
	//	c₋₁ = 1,  c_N = D·(c_{N−2} − c_{N−1})/dx.
	//
	// Each ghost value sits at a ghost cell centre, half a cell outside the
	// domain, so the scheme converges to its limit problem, u(t, 0) = 1 and
	// u(t, 1) = −D·u_x(t, 1), at first order in dx only. Note the sign: as
	// dx → 0 the right ghost tends to −D·u_x(t, 1), not to the +D·u_x of the
	// PDEBench and hard-constraint papers (and of package pde).
	GhostPDEBench SorptionBoundary = iota

	// GhostFace imposes the same limit conditions on the faces x = 0 and
	// x = 1, where they belong, by linear interpolation between the last
	// cell and its ghost:
	//
	//	c₋₁ = 2 − c₀,  c_N = c_{N−1}·(D/dx − ½)/(D/dx + ½).
	//
	// The scheme is then second order in dx. It exists to verify the
	// interior discretisation and to give the limit problem's solution; it
	// does not reproduce PDEBench's data.
	GhostFace
)

func (b SorptionBoundary) String() string {
	switch b {
	case GhostPDEBench:
		return "pdebench"
	case GhostFace:
		return "face"
	}
	return fmt.Sprintf("SorptionBoundary(%d)", int(b))
}

// Defaults of SorptionOptions: PDEBench's grid and the tolerances that make
// the time error small next to the first-order boundary error of
// GhostPDEBench at 1024 cells (about 1e-4).
const (
	DefaultSorptionCells     = 1024
	DefaultSorptionT         = 500.0
	DefaultSorptionSnapshots = 101
	DefaultSorptionRTol      = 1e-7
	DefaultSorptionATol      = 1e-9
	DefaultSorptionNewtonTol = 1e-10
	DefaultSorptionMaxNewton = 8
)

// SorptionOptions configures DiffusionSorption. The zero value asks for
// PDEBench's setting: 1024 cells, 101 snapshots on [0, 500], its physical
// parameters and its ghost cells.
type SorptionOptions struct {
	// Cells is the number N of finite volumes; 0 means
	// DefaultSorptionCells. At least 3.
	Cells int

	// T and Snapshots place the snapshots at Snapshots evenly spaced
	// times on [0, T], both ends included; 0 means DefaultSorptionT and
	// DefaultSorptionSnapshots. Times, when not nil, replaces both: the
	// snapshot times, finite, ≥ 0 and strictly increasing.
	T         float64
	Snapshots int
	Times     []float64

	// DT caps the step size; 0 means no cap besides the snapshot times.
	// With Fixed set, every step is DT (shortened only to land on a
	// snapshot time) and no error control takes place.
	DT    float64
	Fixed bool

	// RTol and ATol bound the estimated local error of each step in the
	// max norm: |err_i| ≤ ATol + RTol·|u_i| in every cell. 0 means
	// DefaultSorptionRTol and DefaultSorptionATol.
	RTol, ATol float64

	// NewtonTol stops Newton's method once the last update satisfies
	// |δ_i| ≤ NewtonTol·(1 + |u_i|) in every cell; because the iteration
	// converges quadratically the error left is about the square of that.
	// MaxNewton caps the iterations per step. 0 means
	// DefaultSorptionNewtonTol and DefaultSorptionMaxNewton.
	NewtonTol float64
	MaxNewton int

	// Params are the physical parameters and the smoothing width of R(u).
	// The zero value means the defaults of package pde, which are
	// PDEBench's (D = 5e-4, φ = 0.29, ρs = 2880, kf = 3.5e-4, nf = 0.874)
	// with ε = 1e-6.
	Params pde.DiffusionSorption

	// Boundary selects the ghost cells; the zero value is GhostPDEBench.
	Boundary SorptionBoundary
}

// SorptionStats reports the work of a DiffusionSorption run.
type SorptionStats struct {
	Steps          int     // accepted time steps
	Rejected       int     // steps rejected by the error control
	NewtonFailures int     // steps retried with a quarter of the step after Newton failed
	NewtonIters    int     // Newton iterations, one tridiagonal solve each
	MinStep        float64 // smallest accepted step
	MaxStep        float64 // largest accepted step
}

// DiffusionSorption solves PDEBench's diffusion-sorption problem
//
//	u_t = D/R(u)·u_xx,  x ∈ (0, 1), t ∈ (0, T],  u(0, x) = c,
//
// from the constant initial value c (PDEBench draws c ~ U(0, 0.2)). R(u) is
// pde.DiffusionSorption.Retardation of o.Params, the same smooth-floored
// retardation that the hard-constraint residual uses, so a reference
// trajectory and the constraint agree on the equation. (PDEBench itself
// uses (u + 1e-6)^(nf−1), which differs from it by O(1e-6/u) relative in
// the sorption term.)
//
// Space is discretised as in PDEBench's sim_diff_sorp.py: N cells of width
// dx = 1/N with centres x_i = (i + ½)·dx, and for each cell the ODE
//
//	dc_i/dt = D/R(c_i) · (c_{i−1} − 2c_i + c_{i+1}) / dx²,  i = 0, …, N−1,
//
// where c₋₁ and c_N are ghost values fixed by o.Boundary (GhostPDEBench by
// default: c₋₁ = 1, c_N = D·(c_{N−2} − c_{N−1})/dx).
//
// Time is integrated by the variable-step BDF2 method, started by one
// implicit Euler step, with local error control. BDF2 because the system
// is stiff (its largest eigenvalue is about 4D/dx² ≈ 2000/s at N = 1024,
// which is why PDEBench's explicit RK45 takes about a minute) and BDF2 is
// L-stable, so it damps the stiff modes whatever the step, yet second
// order. Adaptive steps because the initial value jumps from c to 1 at the
// left boundary: that layer needs steps of microseconds, while the smooth
// late solution is resolved by steps of seconds. The local error is
// estimated from a third divided difference of the computed solution
// (using u_t(0) at the start), and steps grow at most twofold so that
// variable-step BDF2 stays zero-stable (it is for ratios below 1 + √2).
// Steps are shortened to land exactly on the snapshot times.
//
// Each step's nonlinear system u − γh·f(u) = ψ is solved by Newton's
// method with the exact Jacobian. The stencil has three points, so the
// Jacobian is tridiagonal: it is exact, costs O(N) to form and to factor,
// and a Newton step needs one solve instead of the many matrix-vector
// products (and the preconditioner) of a Jacobian-free Krylov method. The
// factorisation is Gaussian elimination with partial pivoting (LAPACK's
// dgtsv, the Thomas algorithm with row interchanges): the matrix need not
// be diagonally dominant, because R'(u)·u_xx makes ∂f_i/∂c_i positive
// where the profile is convex and u is small. When Newton fails to
// converge, the step is retried with a quarter of its size; in fixed-step
// mode, or once the step is negligible, that is an error naming the time
// and the residual.
//
// The result u holds the snapshots row-major with time slowest,
// u[k*N+i] ≈ u(t[k], x[i]); x are the cell centres and t the snapshot
// times. Cancelling ctx stops the run with ctx's error.
func DiffusionSorption(ctx context.Context, c float64, o SorptionOptions) (u, x, t []float64, stats SorptionStats, err error) {
	s, err := newSorptionSolver(c, o)
	if err != nil {
		return nil, nil, nil, SorptionStats{}, err
	}
	u, err = s.run(ctx)
	if err != nil {
		return nil, nil, nil, s.stats, err
	}
	return u, s.centres(), s.times, s.stats, nil
}

// sorptionSolver holds one run's settings, state and scratch space.
type sorptionSolver struct {
	p         pde.DiffusionSorption
	n         int
	dx        float64
	c         float64
	times     []float64
	dt        float64
	fixed     bool
	rtol      float64
	atol      float64
	newtonTol float64
	maxNewton int
	boundary  SorptionBoundary

	stats SorptionStats

	// Work arrays of length n (dl, du: n−1 used).
	f, g, delta, r, dr []float64
	dl, d, du          []float64
}

func newSorptionSolver(c float64, o SorptionOptions) (*sorptionSolver, error) {
	if math.IsNaN(c) || math.IsInf(c, 0) {
		return nil, fmt.Errorf("reference: DiffusionSorption: initial value c = %v is not finite", c)
	}
	s := &sorptionSolver{
		c: c, n: o.Cells, dt: o.DT, fixed: o.Fixed, rtol: o.RTol, atol: o.ATol,
		newtonTol: o.NewtonTol, maxNewton: o.MaxNewton, boundary: o.Boundary,
	}
	if s.n == 0 {
		s.n = DefaultSorptionCells
	}
	if s.n < 3 {
		return nil, fmt.Errorf("reference: DiffusionSorption: %d cells, want at least 3", s.n)
	}
	s.dx = 1 / float64(s.n)

	times, err := sorptionTimes(o)
	if err != nil {
		return nil, err
	}
	s.times = times

	switch {
	case !(s.dt >= 0) || math.IsInf(s.dt, 1):
		return nil, fmt.Errorf("reference: DiffusionSorption: DT = %v, want a finite step ≥ 0", s.dt)
	case s.fixed && s.dt == 0:
		return nil, errors.New("reference: DiffusionSorption: fixed steps need DT > 0")
	}
	for _, v := range []struct {
		name string
		val  *float64
		def  float64
	}{
		{"RTol", &s.rtol, DefaultSorptionRTol},
		{"ATol", &s.atol, DefaultSorptionATol},
		{"NewtonTol", &s.newtonTol, DefaultSorptionNewtonTol},
	} {
		if *v.val == 0 {
			*v.val = v.def
		}
		if !(*v.val > 0) || math.IsInf(*v.val, 1) {
			return nil, fmt.Errorf("reference: DiffusionSorption: %s = %v, want a finite tolerance > 0", v.name, *v.val)
		}
	}
	if s.maxNewton == 0 {
		s.maxNewton = DefaultSorptionMaxNewton
	}
	if s.maxNewton < 1 {
		return nil, fmt.Errorf("reference: DiffusionSorption: MaxNewton = %d, want at least 1", s.maxNewton)
	}
	if s.boundary != GhostPDEBench && s.boundary != GhostFace {
		return nil, fmt.Errorf("reference: DiffusionSorption: unknown boundary %v", s.boundary)
	}

	// The registry owns the defaults and the validity rules of the
	// parameters; going through it keeps them in one place.
	var params map[string]float64
	if o.Params != (pde.DiffusionSorption{}) {
		params = o.Params.Params()
	}
	eq, err := pde.Default().New("diffusion-sorption", params)
	if err != nil {
		return nil, fmt.Errorf("reference: DiffusionSorption: %w", err)
	}
	p, ok := eq.Interior().(pde.DiffusionSorption)
	if !ok {
		return nil, fmt.Errorf("reference: DiffusionSorption: interior residual is %T, not pde.DiffusionSorption", eq.Interior())
	}
	s.p = p

	n := s.n
	s.f = make([]float64, n)
	s.g = make([]float64, n)
	s.delta = make([]float64, n)
	s.r = make([]float64, n)
	s.dr = make([]float64, n)
	s.dl = make([]float64, n)
	s.d = make([]float64, n)
	s.du = make([]float64, n)
	return s, nil
}

func sorptionTimes(o SorptionOptions) ([]float64, error) {
	if o.Times != nil {
		if len(o.Times) == 0 {
			return nil, errors.New("reference: DiffusionSorption: Times is empty")
		}
		for k, v := range o.Times {
			if !(v >= 0) || math.IsInf(v, 1) {
				return nil, fmt.Errorf("reference: DiffusionSorption: Times[%d] = %v, want a finite time ≥ 0", k, v)
			}
			if k > 0 && !(v > o.Times[k-1]) {
				return nil, fmt.Errorf("reference: DiffusionSorption: Times[%d] = %v does not exceed Times[%d] = %v", k, v, k-1, o.Times[k-1])
			}
		}
		return append([]float64(nil), o.Times...), nil
	}
	T, m := o.T, o.Snapshots
	if T == 0 {
		T = DefaultSorptionT
	}
	if m == 0 {
		m = DefaultSorptionSnapshots
	}
	if !(T > 0) || math.IsInf(T, 1) {
		return nil, fmt.Errorf("reference: DiffusionSorption: T = %v, want a finite time > 0", T)
	}
	if m < 2 {
		return nil, fmt.Errorf("reference: DiffusionSorption: %d snapshots, want at least 2 (t = 0 and t = T)", m)
	}
	times := make([]float64, m)
	for k := range times {
		times[k] = T * float64(k) / float64(m-1)
	}
	return times, nil
}

func (s *sorptionSolver) centres() []float64 {
	x := make([]float64, s.n)
	for i := range x {
		x[i] = (float64(i) + 0.5) * s.dx
	}
	return x
}

// ghosts returns the ghost values c₋₁ and c_N of y and their derivatives
// with respect to the neighbouring cells: dL = ∂c₋₁/∂c₀,
// dR1 = ∂c_N/∂c_{N−1} and dR2 = ∂c_N/∂c_{N−2}.
func (s *sorptionSolver) ghosts(y []float64) (left, right, dL, dR1, dR2 float64) {
	n := s.n
	k := s.p.D / s.dx
	if s.boundary == GhostFace {
		beta := (k - 0.5) / (k + 0.5)
		return 2 - y[0], beta * y[n-1], -1, beta, 0
	}
	return 1, k * (y[n-2] - y[n-1]), 0, -k, k
}

// rhs stores f(y) in s.f and, for the Jacobian, R(y_i) and R'(y_i) in s.r
// and s.dr.
func (s *sorptionSolver) rhs(y []float64) {
	n := s.n
	left, right, _, _, _ := s.ghosts(y)
	inv := s.p.D / (s.dx * s.dx)
	for i := range n {
		lo, hi := left, right
		if i > 0 {
			lo = y[i-1]
		}
		if i < n-1 {
			hi = y[i+1]
		}
		r, dr, _ := s.p.Retardation(y[i])
		s.r[i], s.dr[i] = r, dr
		s.f[i] = inv / r * (lo - 2*y[i] + hi)
	}
}

// newtonMatrix fills s.dl, s.d, s.du with I − γh·∂f/∂y at y, from the
// R and R' that the last rhs(y) stored.
func (s *sorptionSolver) newtonMatrix(y []float64, gh float64) {
	n := s.n
	_, _, dL, dR1, dR2 := s.ghosts(y)
	inv := s.p.D / (s.dx * s.dx)
	for i := range n {
		k := inv / s.r[i] // ∂f_i/∂c_{i±1}
		// f_i = k·lap_i, so ∂f_i/∂c_i = k·∂lap_i/∂c_i − (R'/R)·f_i.
		dlap := -2.0
		switch {
		case i == 0 && i == n-1:
			dlap += dL + dR1
		case i == 0:
			dlap += dL
		case i == n-1:
			dlap += dR1
		}
		s.d[i] = 1 - gh*(k*dlap-s.dr[i]/s.r[i]*s.f[i])
		if i > 0 {
			sub := k
			if i == n-1 {
				sub += k * dR2
			}
			s.dl[i-1] = -gh * sub
		}
		if i < n-1 {
			s.du[i] = -gh * k
		}
	}
}

// newton solves y − gh·f(y) = psi for y, starting from the guess in y. It
// returns the iterations used, whether they converged, and the max-norm of
// the residual at the last iterate.
func (s *sorptionSolver) newton(y, psi []float64, gh float64) (iters int, ok bool, res float64) {
	impl := gonum.Implementation{}
	prev := math.Inf(1)
	for iters = 1; iters <= s.maxNewton; iters++ {
		s.rhs(y)
		res = 0
		for i := range y {
			s.g[i] = y[i] - gh*s.f[i] - psi[i]
			res = math.Max(res, math.Abs(s.g[i]))
		}
		if math.IsNaN(res) || math.IsInf(res, 0) {
			return iters, false, res
		}
		s.newtonMatrix(y, gh)
		copy(s.delta, s.g)
		if !impl.Dgtsv(s.n, 1, s.dl[:s.n-1], s.d, s.du[:s.n-1], s.delta, 1) {
			return iters, false, res // singular Newton matrix
		}
		var step float64
		for i := range y {
			y[i] -= s.delta[i]
			step = math.Max(step, math.Abs(s.delta[i])/(1+math.Abs(y[i])))
		}
		s.stats.NewtonIters++
		if step <= s.newtonTol {
			return iters, true, res
		}
		// Exact Newton converges quadratically near the root; an update
		// that grows after the first is divergence, not slow convergence.
		if iters > 1 && step > prev {
			break
		}
		prev = step
	}
	return s.maxNewton, false, res
}

func (s *sorptionSolver) run(ctx context.Context) ([]float64, error) {
	n := s.n
	out := make([]float64, len(s.times)*n)
	next := 0 // index of the next snapshot to record

	// State: y at t, y1 at t − h1 and y2 at t − h1 − h2, as far as they
	// exist (have1, have2). f0 = f(u(0)) stands in for the missing
	// history in the divided differences as a repeated node.
	y := make([]float64, n)
	for i := range y {
		y[i] = s.c
	}
	y1 := make([]float64, n)
	y2 := make([]float64, n)
	f0 := make([]float64, n)
	yNew := make([]float64, n)
	psi := make([]float64, n)
	var h1, h2 float64
	var have1, have2 bool

	t := 0.0
	tEnd := s.times[len(s.times)-1]
	if s.times[0] == 0 {
		copy(out, y)
		next = 1
	}
	s.rhs(y)
	copy(f0, s.f)

	h := s.dt
	if !s.fixed {
		// A first step over which f0 changes u by a thousandth of the
		// absolute tolerance: the initial layer at x = 0 (f0 ≈ D/(R dx²)
		// in cell 0) is then resolved from its start, and the controller
		// grows the step from there at up to 2× per step.
		var fmax float64
		for _, v := range f0 {
			fmax = math.Max(fmax, math.Abs(v))
		}
		h = tEnd
		if fmax > 0 {
			h = math.Min(h, 1e-3*s.atol/fmax)
		}
		if s.dt > 0 {
			h = math.Min(h, s.dt)
		}
	}
	hmin := 1e-14 * math.Max(1, tEnd)
	s.stats.MinStep = math.Inf(1)

	for next < len(s.times) {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("reference: DiffusionSorption: stopped at t = %g: %w", t, err)
		}
		target := s.times[next]
		// Land on the target: take the remainder when it fits in one
		// step, split it into two equal steps when it fits in two, so
		// that no step is a sliver and no step ratio exceeds 2.
		land := false
		switch rem := target - t; {
		case rem <= h*(1+1e-12):
			h, land = rem, true
		case rem < 2*h:
			h = rem / 2
		}

		// BDF2 with step ratio w = h/h1, or implicit Euler at the start:
		// y_new − γh·f(y_new) = ψ.
		var gh float64
		if have1 {
			w := h / h1
			gh = h * (1 + w) / (1 + 2*w)
			a, b := (1+w)*(1+w)/(1+2*w), w*w/(1+2*w)
			for i := range psi {
				psi[i] = a*y[i] - b*y1[i]
			}
		} else {
			gh = h
			copy(psi, y)
		}
		predict(yNew, y, y1, y2, h, h1, h2, have1, have2)

		iters, ok, res := s.newton(yNew, psi, gh)
		if !ok {
			if s.fixed || h/4 < hmin {
				return nil, fmt.Errorf("reference: DiffusionSorption: Newton did not converge at t = %g (step %g, %d iterations, residual max-norm %.3g)",
					t+h, h, iters, res)
			}
			s.stats.NewtonFailures++
			h /= 4
			continue
		}

		grow := 2.0
		if !s.fixed {
			e := s.errorNorm(yNew, y, y1, y2, f0, h, h1, h2, gh, have1, have2)
			if math.IsNaN(e) {
				return nil, fmt.Errorf("reference: DiffusionSorption: local error estimate is NaN at t = %g (step %g)", t+h, h)
			}
			// The local error is O(h³) for BDF2 and O(h²) for the Euler
			// start; 0.9 is the usual safety factor.
			p := 3.0
			if !have1 {
				p = 2
			}
			fac := 0.9 * math.Pow(math.Max(e, 1e-12), -1/p)
			if e > 1 {
				s.stats.Rejected++
				h *= math.Max(0.2, math.Min(fac, 0.9))
				if h < hmin {
					return nil, fmt.Errorf("reference: DiffusionSorption: step %g below the minimum at t = %g (error estimate %.3g times the tolerance)",
						h, t, e)
				}
				continue
			}
			grow = math.Max(0.2, math.Min(fac, 2))
		}

		s.stats.Steps++
		s.stats.MinStep = math.Min(s.stats.MinStep, h)
		s.stats.MaxStep = math.Max(s.stats.MaxStep, h)
		y, y1, y2 = y2, y, y1 // rotate the buffers; y is then overwritten
		copy(y, yNew)
		h1, h2 = h, h1
		have1, have2 = true, have1
		if land {
			t = target // exactly, so that rounding does not accumulate
			copy(out[next*n:(next+1)*n], y)
			next++
		} else {
			t += h
		}
		if s.fixed {
			h = s.dt
			continue
		}
		h *= grow
		if s.dt > 0 {
			h = math.Min(h, s.dt)
		}
	}
	return out, nil
}

// predict extrapolates the last (up to) three solutions to t + h, the
// starting guess of Newton's method: quadratic with two steps of history,
// linear with one, constant at the start.
func predict(dst, y, y1, y2 []float64, h, h1, h2 float64, have1, have2 bool) {
	switch {
	case have2:
		for i := range dst {
			d1 := (y[i] - y1[i]) / h1
			d2 := (d1 - (y1[i]-y2[i])/h2) / (h1 + h2)
			dst[i] = y[i] + h*d1 + h*(h+h1)*d2
		}
	case have1:
		for i := range dst {
			dst[i] = y[i] + h*(y[i]-y1[i])/h1
		}
	default:
		copy(dst, y)
	}
}

// errorNorm estimates the local error of the step from t to t + h that
// produced yNew and returns its max-norm relative to ATol + RTol·|u|.
//
// For implicit Euler the local error is h²/2·u'' ≈ (yNew − y − h·f0)/2.
// For variable-step BDF2 it is γh·h·(h + h1)·u'''/6, where γh is the
// coefficient of f in the step; u'''/6 is estimated by the third divided
// difference of the solution over t + h, t, t − h1, t − h1 − h2, with f0
// as the derivative at a repeated node t − h1 = 0 on the first BDF2 step.
func (s *sorptionSolver) errorNorm(yNew, y, y1, y2, f0 []float64, h, h1, h2, gh float64, have1, have2 bool) float64 {
	var norm float64
	for i := range yNew {
		var e float64
		if !have1 {
			e = (yNew[i] - y[i] - h*f0[i]) / 2
		} else {
			a := (yNew[i] - y[i]) / h
			b := (y[i] - y1[i]) / h1
			var c, span float64
			if have2 {
				c, span = (y1[i]-y2[i])/h2, h1+h2
			} else {
				c, span = f0[i], h1
			}
			d3 := ((a-b)/(h+h1) - (b-c)/span) / (h + span)
			e = gh * h * (h + h1) * d3
		}
		w := s.atol + s.rtol*math.Max(math.Abs(yNew[i]), math.Abs(y[i]))
		norm = math.Max(norm, math.Abs(e)/w)
	}
	return norm
}

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

// Defaults of SorptionOptions. The grid and times are PDEBench's. At the
// default tolerances the time error of a 1024-cell trajectory is about
// 5e-9 in the max norm (measured against an RTol 1e-12 run, which agrees
// with SciPy's BDF at rtol 1e-10 to 3e-10), negligible next to the space
// error of GhostPDEBench at 1024 cells, about 1e-3, and at a cost of about
// 0.08 s.
const (
	DefaultSorptionCells     = 1024
	DefaultSorptionT         = 500.0
	DefaultSorptionSnapshots = 101
	DefaultSorptionRTol      = 1e-8
	DefaultSorptionATol      = 1e-10
	DefaultSorptionNewtonTol = 1e-3
	DefaultSorptionMaxNewton = 4
	// MaxSorptionOrder is the highest order of the NDF family used.
	MaxSorptionOrder = 5
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

	// DT caps the step size; 0 means no cap. With Fixed set every step is
	// DT (the last one shortened to end at the last snapshot time), the
	// order rises from 1 to MaxOrder as the history allows, and no error
	// control takes place: that mode exists to measure convergence orders.
	DT    float64
	Fixed bool

	// MaxOrder caps the order of the NDF formulas, 1 to MaxSorptionOrder;
	// 0 means MaxSorptionOrder.
	MaxOrder int

	// RTol and ATol bound the estimated local error of each step in the
	// max norm: |err_i| ≤ ATol + RTol·|u_i| in every cell. 0 means
	// DefaultSorptionRTol and DefaultSorptionATol.
	RTol, ATol float64

	// NewtonTol stops Newton's method once the last update δ satisfies
	// |δ_i| ≤ NewtonTol·(ATol + RTol·|u_i|) in every cell, so it is a
	// fraction of the local error tolerance; as the iteration converges
	// quadratically, the error left is far smaller still. MaxNewton caps
	// the iterations per step. 0 means DefaultSorptionNewtonTol and
	// DefaultSorptionMaxNewton.
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
	NewtonFailures int     // steps retried with half the step after Newton failed
	NewtonIters    int     // Newton iterations, one residual and one tridiagonal solve each
	MinStep        float64 // smallest accepted step
	MaxStep        float64 // largest accepted step
	// StepsByOrder counts the accepted steps taken at each order 1…5
	// (index 0 is unused).
	StepsByOrder [MaxSorptionOrder + 1]int
}

// DiffusionSorption solves PDEBench's diffusion-sorption problem
//
//	u_t = D/R(u)·u_xx,  x ∈ (0, 1), t ∈ (0, T],  u(0, x) = c,
//
// from the constant initial value c (PDEBench draws c ~ U(0, 0.2); any
// finite c is accepted, but c < 0 crosses the ε-wide floor of R and needs
// very small steps). R(u) is pde.DiffusionSorption.Retardation of o.Params,
// the same smooth-floored retardation that the hard-constraint residual
// uses, so a reference trajectory and the constraint agree on the
// equation. (PDEBench itself uses (u + 1e-6)^(nf−1), which differs from it
// by O(1e-6/u) relative in the sorption term.)
//
// Space is discretised as in PDEBench's sim_diff_sorp.py: N cells of width
// dx = 1/N with centres x_i = (i + ½)·dx, and for each cell the ODE
//
//	dc_i/dt = D/R(c_i) · (c_{i−1} − 2c_i + c_{i+1}) / dx²,  i = 0, …, N−1,
//
// where c₋₁ and c_N are ghost values fixed by o.Boundary (GhostPDEBench by
// default: c₋₁ = 1, c_N = D·(c_{N−2} − c_{N−1})/dx).
//
// The system is stiff: its eigenvalues reach about −4D/(R·dx²), with
// 4D/dx² ≈ 2100/s at N = 1024, which is why PDEBench's explicit RK45 takes about a minute per
// trajectory. Time is therefore integrated implicitly, by the numerical
// differentiation formulas (NDFs) of orders 1 to 5 with variable step and
// variable order, in the quasi-constant step-size form of Shampine and
// Reichelt (The MATLAB ODE Suite, SIAM J. Sci. Comput. 18, 1997), the
// method of MATLAB's ode15s and of SciPy's solve_ivp(method="BDF"). Not a
// fixed-step BDF2: the initial value jumps from c to 1 at the left
// boundary, a layer that needs steps of nanoseconds, while the smooth late
// solution is resolved by steps of many seconds, so the step must adapt.
// Nor an adaptive BDF2: once the solution is smooth the higher orders take
// far fewer steps for the same accuracy. Measured at 1024 cells, an
// adaptive BDF2 version of this solver needed 9300 Newton iterations
// (0.6 s) for a max error of 2e-7, where the NDFs need 630 (0.04 s).
// The local error is estimated from the Newton correction, in the max norm
// rather than SciPy's RMS norm, because the early layer lives in a few of
// the N cells and an RMS would let their error be √N times the
// tolerance. Snapshots between steps come from the formulas' interpolating
// polynomial, which is as accurate as the steps themselves.
//
// Each step's nonlinear system is solved by Newton's method with the exact
// Jacobian, re-formed at every iteration. The stencil has three points, so
// the Jacobian is tridiagonal: it is exact, costs O(N) to form and to
// factor, and a Newton step needs one solve instead of the many
// matrix-vector products (and the preconditioner) of a Jacobian-free
// Krylov method, or the 3 extra residuals of SciPy's grouped finite
// differences. The factorisation is Gaussian elimination with partial
// pivoting (LAPACK's dgtsv, the Thomas algorithm with row interchanges):
// the matrix need not be diagonally dominant, because R'(u)·u_xx makes
// ∂f_i/∂c_i positive where the profile is convex and u is small. When
// Newton fails to converge the step is retried at half the size; in
// fixed-step mode, or once the step is negligible, that is an error naming
// the time and the residual.
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
	maxOrder  int
	rtol      float64
	atol      float64
	newtonTol float64
	maxNewton int
	boundary  SorptionBoundary

	stats SorptionStats

	// Work arrays of length n (dl, du: n−1 used).
	f, r, dr, dy []float64
	dl, d, du    []float64
	scale, e     []float64
}

func newSorptionSolver(c float64, o SorptionOptions) (*sorptionSolver, error) {
	if math.IsNaN(c) || math.IsInf(c, 0) {
		return nil, fmt.Errorf("reference: DiffusionSorption: initial value c = %v is not finite", c)
	}
	s := &sorptionSolver{
		c: c, n: o.Cells, dt: o.DT, fixed: o.Fixed, maxOrder: o.MaxOrder, rtol: o.RTol, atol: o.ATol,
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
	if s.maxOrder == 0 {
		s.maxOrder = MaxSorptionOrder
	}
	if s.maxOrder < 1 || s.maxOrder > MaxSorptionOrder {
		return nil, fmt.Errorf("reference: DiffusionSorption: MaxOrder = %d, want 1 to %d", s.maxOrder, MaxSorptionOrder)
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
	for _, v := range []*[]float64{&s.f, &s.r, &s.dr, &s.dy, &s.dl, &s.d, &s.du, &s.scale, &s.e} {
		*v = make([]float64, n)
	}
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

// newtonMatrix fills s.dl, s.d, s.du with I − c·∂f/∂y at y, from the R and
// R' that the last rhs(y) stored.
func (s *sorptionSolver) newtonMatrix(y []float64, c float64) {
	n := s.n
	_, _, dL, dR1, dR2 := s.ghosts(y)
	inv := s.p.D / (s.dx * s.dx)
	for i := range n {
		k := inv / s.r[i] // ∂f_i/∂c_{i±1}
		// f_i = k·lap_i with k = D/(R(c_i)·dx²), so
		// ∂f_i/∂c_i = k·∂lap_i/∂c_i − (R'/R)·f_i.
		dlap := -2.0
		if i == 0 {
			dlap += dL
		}
		if i == n-1 {
			dlap += dR1
		}
		s.d[i] = 1 - c*(k*dlap-s.dr[i]/s.r[i]*s.f[i])
		if i > 0 {
			sub := k
			if i == n-1 {
				sub += k * dR2
			}
			s.dl[i-1] = -c * sub
		}
		if i < n-1 {
			s.du[i] = -c * k
		}
	}
}

// sorptionNDF holds the coefficients of the NDFs of orders
// 0…MaxSorptionOrder in the notation of Shampine and Reichelt: γ_k = Σ_{j≤k} 1/j,
// α_k = (1 − κ_k)·γ_k, and the error constants κ_k·γ_k + 1/(k+1).
type sorptionNDF struct {
	gamma, alpha, errConst [MaxSorptionOrder + 1]float64
}

func newSorptionNDF() sorptionNDF {
	// Klopfenstein's κ, chosen by Shampine and Reichelt to lengthen the
	// step at orders 1–4 by about 26% for a small loss of stability angle;
	// order 5 is plain BDF5.
	kappa := [MaxSorptionOrder + 1]float64{0, -0.1850, -1.0 / 9, -0.0823, -0.0415, 0}
	var c sorptionNDF
	for k := 1; k <= MaxSorptionOrder; k++ {
		c.gamma[k] = c.gamma[k-1] + 1/float64(k)
	}
	for k := range c.alpha {
		c.alpha[k] = (1 - kappa[k]) * c.gamma[k]
		c.errConst[k] = kappa[k]*c.gamma[k] + 1/float64(k+1)
	}
	return c
}

// newton solves the NDF system c·f(y) − ψ − (y − yPred) = 0 for y, starting
// from y = yPred (held in y on entry). It accumulates the correction
// d = y − yPred, whose size is the local error estimate. It returns the
// iterations used, whether they converged, and the max-norm of the residual
// c·f − ψ − d at the last iterate.
func (s *sorptionSolver) newton(y, d, psi []float64, c float64) (iters int, ok bool, res float64) {
	impl := gonum.Implementation{}
	clear(d)
	prev := math.Inf(1)
	for iters = 1; iters <= s.maxNewton; iters++ {
		s.rhs(y)
		res = 0
		for i := range y {
			s.dy[i] = c*s.f[i] - psi[i] - d[i]
			res = max(res, math.Abs(s.dy[i]))
		}
		if math.IsNaN(res) || math.IsInf(res, 0) {
			return iters, false, res
		}
		s.newtonMatrix(y, c)
		if !impl.Dgtsv(s.n, 1, s.dl[:s.n-1], s.d, s.du[:s.n-1], s.dy, 1) {
			return iters, false, res // singular Newton matrix
		}
		var norm float64
		for i := range y {
			y[i] += s.dy[i]
			d[i] += s.dy[i]
			norm = max(norm, math.Abs(s.dy[i])/s.scale[i])
		}
		s.stats.NewtonIters++
		if norm <= s.newtonTol {
			return iters, true, res
		}
		// Exact Newton converges quadratically near the root; an update
		// that does not shrink is divergence, not slow convergence.
		if norm >= prev {
			break
		}
		prev = norm
	}
	return min(iters, s.maxNewton), false, res
}

// sorptionDiffs is the array of modified backward differences
// D⁰y … D^{k+2}y of the quasi-constant step-size NDF formulation, one row
// of n values each.
type sorptionDiffs struct {
	n    int
	rows []float64 // (MaxSorptionOrder+3) × n
	tmp  []float64 // (MaxSorptionOrder+1) × n, for rescaling
}

func (D *sorptionDiffs) row(j int) []float64 { return D.rows[j*D.n : (j+1)*D.n] }

// rescale changes the step of the differences of an order-k formula by
// factor: the interpolating polynomial stays the same, re-expressed on the
// grid of the new step (Shampine and Reichelt's R·U transformation).
func (D *sorptionDiffs) rescale(order int, factor float64) {
	if factor == 1 {
		return // R(1)·U = U² = I
	}
	var r, u, ru [MaxSorptionOrder + 1][MaxSorptionOrder + 1]float64
	sorptionStepMatrix(&r, order, factor)
	sorptionStepMatrix(&u, order, 1)
	for i := 0; i <= order; i++ {
		for j := 0; j <= order; j++ {
			var v float64
			for m := 0; m <= order; m++ {
				v += r[i][m] * u[m][j]
			}
			ru[i][j] = v
		}
	}
	// New row j = Σ_i RU[i][j]·row i.
	tmp := D.tmp[:(order+1)*D.n]
	clear(tmp)
	for j := 0; j <= order; j++ {
		dst := tmp[j*D.n : (j+1)*D.n]
		for i := 0; i <= order; i++ {
			w := ru[i][j]
			if w == 0 {
				continue
			}
			for x, v := range D.row(i) {
				dst[x] += w * v
			}
		}
	}
	copy(D.rows, tmp)
}

// sorptionStepMatrix fills m[0:order+1][0:order+1] with the cumulative products
// R_ij = Π_{l≤i} M_lj, M_0j = 1, M_lj = (l − 1 − factor·j)/l.
func sorptionStepMatrix(m *[MaxSorptionOrder + 1][MaxSorptionOrder + 1]float64, order int, factor float64) {
	for j := 0; j <= order; j++ {
		m[0][j] = 1
	}
	for i := 1; i <= order; i++ {
		for j := 0; j <= order; j++ {
			m[i][j] = m[i-1][j] * (float64(i) - 1 - factor*float64(j)) / float64(i)
		}
	}
}

// interpolate writes the order-k interpolant through the last step, ending
// at tNew with step h, at time at into dst.
func (D *sorptionDiffs) interpolate(dst []float64, order int, tNew, h, at float64) {
	copy(dst, D.row(0))
	p := 1.0
	for j := 1; j <= order; j++ {
		p *= (at - (tNew - h*float64(j-1))) / (h * float64(j))
		for i, v := range D.row(j) {
			dst[i] += p * v
		}
	}
}

// norm returns max_i |v_i|/scale_i.
func (s *sorptionSolver) norm(v []float64) float64 {
	var m float64
	for i, x := range v {
		m = max(m, math.Abs(x)/s.scale[i])
	}
	return m
}

func (s *sorptionSolver) run(ctx context.Context) ([]float64, error) {
	const (
		minFactor = 0.2 // the step never shrinks by more than this at once…
		maxFactor = 10  // …nor grows by more (Shampine and Reichelt's bounds)
	)
	n := s.n
	coef := newSorptionNDF()
	out := make([]float64, len(s.times)*n)
	next := 0 // index of the next snapshot to record
	tEnd := s.times[len(s.times)-1]

	y := make([]float64, n)
	for i := range y {
		y[i] = s.c
	}
	for next < len(s.times) && s.times[next] == 0 {
		copy(out[next*n:], y)
		next++
	}
	if next == len(s.times) {
		return out, nil
	}

	D := sorptionDiffs{n: n, rows: make([]float64, (MaxSorptionOrder+3)*n), tmp: make([]float64, (MaxSorptionOrder+1)*n)}
	copy(D.row(0), y)
	s.rhs(y)
	h := s.dt
	if !s.fixed {
		h = s.initialStep(y)
	}
	for i, v := range s.f {
		D.row(1)[i] = h * v
	}
	order := 1
	equal := 0 // steps taken since the last change of step or order

	yNew := make([]float64, n)
	corr := make([]float64, n)
	psi := make([]float64, n)
	t := 0.0
	s.stats.MinStep = math.Inf(1)

	for next < len(s.times) {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("reference: DiffusionSorption: stopped at t = %g: %w", t, err)
		}
		minStep := 10 * (math.Nextafter(t, math.Inf(1)) - t)
		if s.dt > 0 && h > s.dt*(1+1e-12) {
			D.rescale(order, s.dt/h)
			h, equal = s.dt, 0
		}
		tNew := t + h
		if tNew >= tEnd {
			// The last step ends on tEnd exactly, so that no work is spent
			// beyond the last snapshot.
			if tNew > tEnd {
				D.rescale(order, (tEnd-t)/h)
				equal = 0
			}
			tNew, h = tEnd, tEnd-t
		}
		if h < minStep {
			return nil, fmt.Errorf("reference: DiffusionSorption: step %g below the minimum at t = %g", h, t)
		}

		// Predictor, the scale of the tolerance, and the NDF system
		// c·f(y) − ψ − (y − yPred) = 0 with c = h/α_k.
		copy(yNew, D.row(0))
		for j := 1; j <= order; j++ {
			sorptionAdd(yNew, D.row(j))
		}
		for i, v := range yNew {
			s.scale[i] = s.atol + s.rtol*math.Abs(v)
		}
		clear(psi)
		for j := 1; j <= order; j++ {
			g := coef.gamma[j] / coef.alpha[order]
			for i, v := range D.row(j) {
				psi[i] += g * v
			}
		}
		c := h / coef.alpha[order]

		iters, ok, res := s.newton(yNew, corr, psi, c)
		if !ok {
			if s.fixed || h/2 < minStep {
				return nil, fmt.Errorf("reference: DiffusionSorption: Newton did not converge at t = %g (step %g, order %d, %d iterations, residual max-norm %.3g)",
					tNew, h, order, iters, res)
			}
			s.stats.NewtonFailures++
			D.rescale(order, 0.5)
			h, equal = h/2, 0
			continue
		}

		// SciPy's safety factor: smaller when Newton needed more work.
		safety := 0.9 * float64(2*s.maxNewton+1) / float64(2*s.maxNewton+iters)
		for i, v := range yNew {
			s.scale[i] = s.atol + s.rtol*math.Abs(v)
		}
		var errNorm float64
		if !s.fixed {
			for i, v := range corr {
				s.e[i] = coef.errConst[order] * v
			}
			errNorm = s.norm(s.e)
			if math.IsNaN(errNorm) {
				return nil, fmt.Errorf("reference: DiffusionSorption: local error estimate is NaN at t = %g (step %g)", tNew, h)
			}
			if errNorm > 1 {
				s.stats.Rejected++
				factor := max(minFactor, safety*math.Pow(errNorm, -1/float64(order+1)))
				D.rescale(order, factor)
				h, equal = h*factor, 0
				continue
			}
		}

		// Accept: update the differences. With d = ∇^{k+1}y_new,
		// ∇^{j+1}y_new = ∇^j y_new − ∇^j y_old gives these three lines.
		s.stats.Steps++
		s.stats.StepsByOrder[order]++
		s.stats.MinStep = min(s.stats.MinStep, h)
		s.stats.MaxStep = max(s.stats.MaxStep, h)
		top := D.row(order + 2)
		for i, v := range corr {
			top[i] = v - D.row(order + 1)[i]
		}
		copy(D.row(order+1), corr)
		for j := order; j >= 0; j-- {
			sorptionAdd(D.row(j), D.row(j+1))
		}
		t = tNew
		equal++

		for next < len(s.times) && s.times[next] <= t {
			dst := out[next*n : (next+1)*n]
			if s.times[next] == t {
				copy(dst, D.row(0))
			} else {
				D.interpolate(dst, order, t, h, s.times[next])
			}
			next++
		}

		if equal < order+1 {
			continue
		}
		if s.fixed {
			if order < s.maxOrder {
				order++
				equal = 0
			}
			continue
		}
		// Order and step selection from the error estimates of the
		// neighbouring orders, as Shampine and Reichelt (and SciPy).
		errM, errP := math.Inf(1), math.Inf(1)
		if order > 1 {
			for i, v := range D.row(order) {
				s.e[i] = coef.errConst[order-1] * v
			}
			errM = s.norm(s.e)
		}
		if order < s.maxOrder {
			for i, v := range D.row(order + 2) {
				s.e[i] = coef.errConst[order+1] * v
			}
			errP = s.norm(s.e)
		}
		best, delta := math.Pow(errNorm, -1/float64(order+1)), 0
		if f := math.Pow(errM, -1/float64(order)); f > best {
			best, delta = f, -1
		}
		if f := math.Pow(errP, -1/float64(order+2)); f > best {
			best, delta = f, 1
		}
		order += delta
		factor := min(maxFactor, safety*best)
		D.rescale(order, factor)
		h, equal = h*factor, 0
	}
	return out, nil
}

// initialStep chooses the first step as Hairer, Nørsett and Wanner
// (Solving ODEs I, II.4) and SciPy do, in our scaled max norm: h0 changes
// y by about 1% of its size at the initial slope, and h1 makes the local
// error of the order-1 formula, estimated from the change of f over h0,
// about 1% of the tolerance; the first step is the smaller of 100·h0 and
// h1. The error control corrects a poor guess within a few steps, so the
// guess only needs to be safe. s.f holds f(y) on entry and on return.
func (s *sorptionSolver) initialStep(y []float64) float64 {
	tEnd := s.times[len(s.times)-1]
	for i, v := range y {
		s.scale[i] = s.atol + s.rtol*math.Abs(v)
	}
	d0 := s.norm(y)
	d1 := s.norm(s.f)
	h0 := 1e-6
	if d0 >= 1e-5 && d1 >= 1e-5 {
		h0 = 0.01 * d0 / d1
	}
	h0 = min(h0, tEnd)
	f0 := append([]float64(nil), s.f...)
	y1 := make([]float64, len(y))
	for i := range y {
		y1[i] = y[i] + h0*f0[i]
	}
	s.rhs(y1)
	for i := range s.e {
		s.e[i] = s.f[i] - f0[i]
	}
	d2 := s.norm(s.e) / h0
	h1 := max(1e-6, h0*1e-3)
	if m := max(d1, d2); m > 1e-15 {
		h1 = math.Sqrt(0.01 / m)
	}
	h := min(min(100*h0, h1), tEnd)
	if s.dt > 0 {
		h = min(h, s.dt)
	}
	copy(s.f, f0)
	return h
}

// sorptionAdd adds src to dst elementwise.
func sorptionAdd(dst, src []float64) {
	for i, v := range src {
		dst[i] += v
	}
}

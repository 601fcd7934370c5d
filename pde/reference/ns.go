package reference

import (
	"context"
	"fmt"
	"math"

	"github.com/hcmoe/hcmoe/fft"
)

// Defaults of NSOptions.
const (
	DefaultNSNu = 1e-4
	DefaultNSDT = 1e-3
)

// NSOptions configures NavierStokes. A zero field selects its default where
// one is stated.
type NSOptions struct {
	// Nu is the kinematic viscosity ν > 0. Zero selects DefaultNSNu; the
	// inviscid limit ν = 0 is not supported.
	Nu float64

	// DT is the largest time step. Zero selects DefaultNSDT. Steps are
	// shortened so that every snapshot time is hit exactly: with CFL zero
	// each of the Snapshots−1 intervals is cut into ⌈interval/DT⌉ equal
	// steps.
	DT float64

	// CFL, when positive, makes the step adaptive: each step is
	// min(DT, CFL·h/(max|u|+max|v|)) with h = 1/n the grid spacing and the
	// maxima taken at the start of the step, and the last step before a
	// snapshot is shortened to land on it. Only advection limits the step,
	// as diffusion is implicit. Values of 0.2 to 0.5 are typical: Heun's
	// method is not strictly stable for pure advection, and viscosity must
	// absorb its weak growth at the highest kept modes, which rises as the
	// fourth power of the step. Zero keeps the fixed step of DT.
	CFL float64

	// T is the final time, T > 0.
	T float64

	// Snapshots is the number of states returned, at the equally spaced
	// times t_s = s·T/(Snapshots−1), s = 0, …, Snapshots−1, so that the
	// first is the initial state and the last the state at T. It must be at
	// least 2; zero selects 2.
	Snapshots int

	// Forcing is the time-independent forcing f on the n×n grid, laid out
	// as the vorticity (see NavierStokes), or nil for none. Its mean and
	// the modes beyond the dealiasing cut are removed, as for the initial
	// vorticity. NSForcing returns the forcing of Li et al.
	Forcing []float64

	// Workers is the number of goroutines each FFT may use. Zero selects 1:
	// datasets are made of many trajectories, and running those in parallel
	// scales better than splitting each small transform.
	Workers int
}

// NavierStokes solves the two-dimensional incompressible Navier–Stokes
// equations in vorticity form on the periodic unit square [0, 1)²,
//
//	w_t + u·∇w = ν Δw + f,   u = (u, v) = (ψ_y, −ψ_x),   −Δψ = w,
//
// from the initial vorticity w0, and returns o.Snapshots states of the
// vorticity at equally spaced times in [0, T] (see NSOptions), each an n×n
// array, in one slice of length Snapshots·n·n with the snapshot index
// slowest.
//
// Grids are row-major with x slowest: w[i*n+j] = w(x_i, y_j) with
// x_i = i/n and y_j = j/n, as in the meshgrid(indexing="ij") layout of the
// FNO data of Li et al. (2021). n must be at least 4.
//
// The method is pseudo-spectral: the vorticity is held as Fourier
// coefficients, derivatives are exact, and the advection term u·∇w is
// formed on the grid and transformed back. It is dealiased by the 2/3 rule:
// only the modes with 3|k_x| < n and 3|k_y| < n are kept, which makes the
// quadratic term exact for the kept modes, so the semi-discrete system is
// the Galerkin truncation of the equations and, without forcing and
// viscosity, conserves energy and enstrophy. The mean vorticity is held at
// zero, since a periodic vorticity has zero integral. The initial state is
// projected onto the kept zero-mean modes before the first snapshot is
// stored; it is unchanged, up to rounding, if it already lies in them.
//
// In time, diffusion is treated by Crank–Nicolson and advection and
// forcing by Heun's method (the explicit trapezoidal rule):
//
//	ŵ* = [(1 − ½τνλ) ŵⁿ + τ(f̂ − N̂(ŵⁿ))] / (1 + ½τνλ),
//	ŵⁿ⁺¹ = [(1 − ½τνλ) ŵⁿ + τ(f̂ − ½N̂(ŵⁿ) − ½N̂(ŵ*))] / (1 + ½τνλ),
//
// where τ is the step, λ = 4π²|k|² the symbol of −Δ and N̂ the transform of
// the dealiased advection term. The scheme is second order in τ. Its
// diffusion part is unconditionally stable; its advection part needs the
// usual CFL condition, which the default step meets comfortably for
// velocities of order one on grids up to a few hundred points.
//
// NavierStokes returns an error, wrapped with context, if an argument is
// invalid, if the solution stops being finite, or if ctx is done, which it
// checks before every step.
func NavierStokes(ctx context.Context, w0 []float64, n int, o NSOptions) ([]float64, error) {
	o, err := o.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("reference: NavierStokes: %w", err)
	}
	if n < 4 {
		return nil, fmt.Errorf("reference: NavierStokes: grid size %d, want at least 4", n)
	}
	if len(w0) != n*n {
		return nil, fmt.Errorf("reference: NavierStokes: initial vorticity has %d values, want n² = %d", len(w0), n*n)
	}
	if i := nsNonFinite(w0); i >= 0 {
		return nil, fmt.Errorf("reference: NavierStokes: initial vorticity is %v at index %d", w0[i], i)
	}
	if o.Forcing != nil {
		if len(o.Forcing) != n*n {
			return nil, fmt.Errorf("reference: NavierStokes: forcing has %d values, want n² = %d", len(o.Forcing), n*n)
		}
		if i := nsNonFinite(o.Forcing); i >= 0 {
			return nil, fmt.Errorf("reference: NavierStokes: forcing is %v at index %d", o.Forcing[i], i)
		}
	}

	s, err := newNSSolver(n, o)
	if err != nil {
		return nil, fmt.Errorf("reference: NavierStokes: %w", err)
	}
	w := make([]complex128, s.plan.SpectrumLen())
	s.plan.Forward(w, w0)
	s.project(w)

	nn := n * n
	out := make([]float64, o.Snapshots*nn)
	s.plan.Inverse(out[:nn], w)

	interval := o.T / float64(o.Snapshots-1)
	// Steps per interval for a fixed step. The relative slack keeps an
	// interval that is a whole number of steps in exact arithmetic, but not
	// in floating point, from taking one more.
	steps := max(1, int(math.Ceil(interval/o.DT*(1-1e-12))))
	for snap := 1; snap < o.Snapshots; snap++ {
		t0 := float64(snap-1) * interval
		if o.CFL == 0 {
			dt := interval / float64(steps)
			for i := range steps {
				if err := ctx.Err(); err != nil {
					return nil, fmt.Errorf("reference: NavierStokes: stopped at t = %g: %w", t0+float64(i)*dt, err)
				}
				if _, err := s.step(w, dt); err != nil {
					return nil, fmt.Errorf("reference: NavierStokes: at t = %g: %w", t0+float64(i)*dt, err)
				}
			}
		} else {
			// The remaining time falls to exactly zero: the last step is
			// given the remainder itself, not a difference of times.
			for left := interval; left > 0; {
				t := t0 + interval - left
				if err := ctx.Err(); err != nil {
					return nil, fmt.Errorf("reference: NavierStokes: stopped at t = %g: %w", t, err)
				}
				dt, err := s.step(w, min(o.DT, left))
				if err != nil {
					return nil, fmt.Errorf("reference: NavierStokes: at t = %g: %w", t, err)
				}
				left -= dt
			}
		}
		snapshot := out[snap*nn : (snap+1)*nn]
		s.plan.Inverse(snapshot, w)
		if i := nsNonFinite(snapshot); i >= 0 {
			return nil, fmt.Errorf("reference: NavierStokes: vorticity is %v at index %d at t = %g: unstable, reduce DT or set CFL",
				snapshot[i], i, float64(snap)*interval)
		}
	}
	return out, nil
}

// withDefaults returns o with its defaults filled in, or an error if a field
// is out of range.
func (o NSOptions) withDefaults() (NSOptions, error) {
	if o.Nu == 0 {
		o.Nu = DefaultNSNu
	}
	if o.DT == 0 {
		o.DT = DefaultNSDT
	}
	if o.Snapshots == 0 {
		o.Snapshots = 2
	}
	switch {
	case !(o.Nu > 0) || math.IsInf(o.Nu, 1):
		return o, fmt.Errorf("viscosity ν = %v, want a finite positive value", o.Nu)
	case !(o.DT > 0) || math.IsInf(o.DT, 1):
		return o, fmt.Errorf("time step %v, want a finite positive value", o.DT)
	case !(o.T > 0) || math.IsInf(o.T, 1):
		return o, fmt.Errorf("final time %v, want a finite positive value", o.T)
	case !(o.CFL >= 0) || math.IsInf(o.CFL, 1):
		return o, fmt.Errorf("CFL number %v, want a finite value ≥ 0", o.CFL)
	case o.Snapshots < 2:
		return o, fmt.Errorf("%d snapshots, want at least 2", o.Snapshots)
	case o.Workers < 0:
		return o, fmt.Errorf("%d workers, want at least 0", o.Workers)
	}
	return o, nil
}

// nsNonFinite returns the index of the first NaN or infinity in x, or −1.
func nsNonFinite(x []float64) int {
	for i, v := range x {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return i
		}
	}
	return -1
}

// nsSolver holds the operators and scratch space of one NavierStokes call.
// Spectra are n×(n/2+1) half spectra: row p holds the x wavenumber
// k_x = p (p ≤ n/2) or p − n, column q the y wavenumber k_y = q.
type nsSolver struct {
	n    int
	plan *fft.Plan
	nu   float64
	cfl  float64

	kx, ky []float64 // 2π·k_x per row, 2π·k_y per column
	lap    []float64 // λ = 4π²|k|², the symbol of −Δ
	invLap []float64 // 1/λ, and 0 for the mean mode
	keep   []float64 // 1 for the modes kept by dealiasing, else 0
	force  []complex128

	// Crank–Nicolson factors 1 − ½τνλ and 1/(1 + ½τνλ) for the step τ of
	// the last call; the fixed-step solve reuses them.
	dt       float64
	num, den []float64

	spec       []complex128 // a derivative on its way to the grid
	n0, n1, ws []complex128 // N̂(ŵⁿ), N̂(ŵ*), ŵ*
	a, b, prod []float64    // grid values
}

func newNSSolver(n int, o NSOptions) (*nsSolver, error) {
	plan, err := fft.NewPlanWorkers(max(o.Workers, 1), n, n)
	if err != nil {
		return nil, err
	}
	m := n/2 + 1
	ns := n * m
	s := &nsSolver{
		n: n, plan: plan, nu: o.Nu, cfl: o.CFL,
		kx: make([]float64, n), ky: make([]float64, m),
		lap: make([]float64, ns), invLap: make([]float64, ns), keep: make([]float64, ns),
		num: make([]float64, ns), den: make([]float64, ns),
		spec: make([]complex128, ns), n0: make([]complex128, ns), n1: make([]complex128, ns), ws: make([]complex128, ns),
		a: make([]float64, n*n), b: make([]float64, n*n), prod: make([]float64, n*n),
	}
	for p := range n {
		k := p
		if p > n/2 {
			k = p - n
		}
		s.kx[p] = 2 * math.Pi * float64(k)
	}
	for q := range m {
		s.ky[q] = 2 * math.Pi * float64(q)
	}
	for p := range n {
		kp := min(p, n-p) // |k_x|
		for q := range m {
			i := p*m + q
			s.lap[i] = s.kx[p]*s.kx[p] + s.ky[q]*s.ky[q]
			if i != 0 {
				s.invLap[i] = 1 / s.lap[i]
			}
			// Modes up to K with 3K < n: the product of two such modes
			// reaches 2K, whose alias 2K − n < −K misses every kept mode.
			if i != 0 && 3*kp < n && 3*q < n {
				s.keep[i] = 1
			}
		}
	}
	if o.Forcing != nil {
		s.force = make([]complex128, ns)
		plan.Forward(s.force, o.Forcing)
		s.project(s.force)
	}
	return s, nil
}

// project removes from the spectrum w the mean and the modes beyond the
// dealiasing cut.
func (s *nsSolver) project(w []complex128) {
	for i, k := range s.keep {
		w[i] *= complex(k, 0)
	}
}

// nsIK returns i·k·z.
func nsIK(k float64, z complex128) complex128 {
	return complex(-k*imag(z), k*real(z))
}

// advection stores in dst the dealiased spectrum of u·∇w for the vorticity
// spectrum w, and returns max|u| + max|v| on the grid.
func (s *nsSolver) advection(dst, w []complex128) float64 {
	m := s.n/2 + 1
	// u·w_x, with u = ψ_y and ψ̂ = ŵ/λ.
	for p := range s.kx {
		for q, ky := range s.ky {
			i := p*m + q
			s.spec[i] = nsIK(ky, w[i]*complex(s.invLap[i], 0))
		}
	}
	s.plan.Inverse(s.a, s.spec)
	for p, kx := range s.kx {
		for q := range s.ky {
			i := p*m + q
			s.spec[i] = nsIK(kx, w[i])
		}
	}
	s.plan.Inverse(s.b, s.spec)
	var umax, vmax float64
	for i, u := range s.a {
		s.prod[i] = u * s.b[i]
		umax = max(umax, math.Abs(u))
	}
	// v·w_y, with v = −ψ_x.
	for p, kx := range s.kx {
		for q := range s.ky {
			i := p*m + q
			s.spec[i] = nsIK(-kx, w[i]*complex(s.invLap[i], 0))
		}
	}
	s.plan.Inverse(s.a, s.spec)
	for p := range s.kx {
		for q, ky := range s.ky {
			i := p*m + q
			s.spec[i] = nsIK(ky, w[i])
		}
	}
	s.plan.Inverse(s.b, s.spec)
	for i, v := range s.a {
		s.prod[i] += v * s.b[i]
		vmax = max(vmax, math.Abs(v))
	}
	s.plan.Forward(dst, s.prod)
	s.project(dst)
	return umax + vmax
}

// factors sets the Crank–Nicolson factors for the step dt.
func (s *nsSolver) factors(dt float64) {
	if dt == s.dt {
		return
	}
	s.dt = dt
	for i, l := range s.lap {
		h := 0.5 * dt * s.nu * l
		s.num[i] = 1 - h
		s.den[i] = 1 / (1 + h)
	}
}

// step advances the spectrum w in place by one step of at most dtMax, which
// the CFL condition may shorten, and returns the step taken.
func (s *nsSolver) step(w []complex128, dtMax float64) (float64, error) {
	speed := s.advection(s.n0, w)
	if math.IsNaN(speed) || math.IsInf(speed, 0) {
		return 0, fmt.Errorf("velocity is not finite: unstable, reduce DT or set CFL")
	}
	dt := dtMax
	if s.cfl > 0 && speed > 0 {
		dt = min(dt, s.cfl/(float64(s.n)*speed))
	}
	s.factors(dt)
	cdt := complex(dt, 0)
	for i := range w {
		r := -s.n0[i]
		if s.force != nil {
			r += s.force[i]
		}
		s.ws[i] = (complex(s.num[i], 0)*w[i] + cdt*r) * complex(s.den[i], 0)
	}
	s.advection(s.n1, s.ws)
	for i := range w {
		r := -0.5 * (s.n0[i] + s.n1[i])
		if s.force != nil {
			r += s.force[i]
		}
		w[i] = (complex(s.num[i], 0)*w[i] + cdt*r) * complex(s.den[i], 0)
	}
	return dt, nil
}

// TaylorGreen returns the Taylor–Green vorticity
//
//	w(x, y) = 2κ cos(κx) cos(κy),   κ = 2πk,
//
// on the n×n grid laid out as in NavierStokes. Its stream function is
// ψ = cos(κx) cos(κy)/κ and its velocity u = −cos(κx) sin(κy),
// v = sin(κx) cos(κy), of unit amplitude. Because w is a multiple of ψ the
// advection term u·∇w vanishes identically, so without forcing the vortex
// only diffuses, and
//
//	w(t) = w(0)·exp(−2νκ²t) = w(0)·exp(−8νπ²k²t)
//
// solves the Navier–Stokes equations exactly. NavierStokes keeps the mode
// when 3k < n. TaylorGreen panics if n or k is not positive.
func TaylorGreen(n, k int) []float64 {
	if n <= 0 || k <= 0 {
		panic(fmt.Sprintf("reference: TaylorGreen: n = %d and k = %d must be positive", n, k))
	}
	kappa := 2 * math.Pi * float64(k)
	c := make([]float64, n)
	for i := range c {
		// The phase is reduced before scaling so that large k·i keep a
		// small, exact angle.
		c[i] = math.Cos(2 * math.Pi * float64(k*i%n) / float64(n))
	}
	w := make([]float64, n*n)
	for i := range n {
		for j := range n {
			w[i*n+j] = 2 * kappa * c[i] * c[j]
		}
	}
	return w
}

// NSForcing returns the forcing f(x, y) = 0.1·(sin 2π(x+y) + cos 2π(x+y))
// of the Navier–Stokes benchmark of Li et al. (2021), "Fourier Neural
// Operator for Parametric Partial Differential Equations", on the n×n grid
// laid out as in NavierStokes. NSForcing panics if n is not positive.
func NSForcing(n int) []float64 {
	if n <= 0 {
		panic(fmt.Sprintf("reference: NSForcing: n = %d must be positive", n))
	}
	f := make([]float64, n*n)
	for i := range n {
		for j := range n {
			a := 2 * math.Pi * float64((i+j)%n) / float64(n)
			f[i*n+j] = 0.1 * (math.Sin(a) + math.Cos(a))
		}
	}
	return f
}

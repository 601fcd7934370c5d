package reference

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/hcmoe/hcmoe/fft"
)

// nsMaxAbs returns max|x|.
func nsMaxAbs(x []float64) float64 {
	var m float64
	for _, v := range x {
		m = max(m, math.Abs(v))
	}
	return m
}

// nsMaxDiff returns max|x − y|.
func nsMaxDiff(x, y []float64) float64 {
	var m float64
	for i := range x {
		m = max(m, math.Abs(x[i]-y[i]))
	}
	return m
}

// nsScaled returns a·x.
func nsScaled(a float64, x []float64) []float64 {
	y := make([]float64, len(x))
	for i, v := range x {
		y[i] = a * v
	}
	return y
}

// nsEnergies returns the kinetic energy E = ½⟨|u|²⟩ and the enstrophy
// Z = ½⟨w²⟩ of the vorticity w on the n×n grid, ⟨·⟩ the mean over the unit
// square. They are computed from the spectrum, where |û|² + |v̂|² = |ŵ|²/λ.
func nsEnergies(t *testing.T, w []float64, n int) (energy, enstrophy float64) {
	t.Helper()
	p, err := fft.NewPlan(n, n)
	if err != nil {
		t.Fatal(err)
	}
	spec := make([]complex128, p.SpectrumLen())
	p.Forward(spec, w)
	m := n/2 + 1
	for i, v := range spec {
		kp, q := i/m, i%m
		kx := float64(min(kp, n-kp))
		lambda := 4 * math.Pi * math.Pi * (kx*kx + float64(q*q))
		// Columns other than q = 0 and the Nyquist column stand for
		// themselves and their mirror images.
		weight := 2.0
		if q == 0 || 2*q == n {
			weight = 1
		}
		a := weight * (real(v)*real(v) + imag(v)*imag(v))
		enstrophy += a
		if lambda > 0 {
			energy += a / lambda
		}
	}
	norm := 0.5 / float64(n*n*n*n)
	return energy * norm, enstrophy * norm
}

// TestTaylorGreen checks the decay of Taylor–Green vortices.
//
// The vortex is a steady solution of the advection term (see TaylorGreen),
// and the pseudo-spectral advection of it is zero up to rounding, so the
// only error is that of Crank–Nicolson on the linear mode equation
// ŵ' = −νλŵ, λ = 2κ²: with a = ½τνλ each step multiplies by
// g = (1 − a)/(1 + a) = exp(−2a)·(1 − ⅔a³ + O(a⁴)) instead of exp(−2a). After
// N = T/τ steps the relative error is |g^N·exp(νλT) − 1| ≈ T(νλ)³τ²/12:
// second order in τ, 1.0e-8 for k = 1, ν = 1e-2, T = 1, τ = 5e-4. For fixed
// steps the test predicts it exactly and allows only rounding on top (1e-11
// relative: a few ulps per step for 2000 steps, with room); for adaptive
// steps it bounds it by the formula at the largest step taken.
func TestTaylorGreen(t *testing.T) {
	for _, tc := range []struct {
		name    string
		n, k    int
		o       NSOptions
		maxRel  float64 // the error budget the case documents
		predict bool    // the step is fixed, so the error is known exactly
	}{
		{"k=1", 32, 1, NSOptions{Nu: 1e-2, DT: 5e-4, T: 1, Snapshots: 2}, 1.1e-8, true},
		{"k=1 snapshots", 16, 1, NSOptions{Nu: 1e-2, DT: 5e-4, T: 1, Snapshots: 5}, 1.1e-8, true},
		{"k=2", 16, 2, NSOptions{Nu: 1e-2, DT: 5e-4, T: 1, Snapshots: 2}, 7e-7, true},
		{"k=3 n=16", 16, 3, NSOptions{Nu: 1e-3, DT: 1e-3, T: 1, Snapshots: 2}, 2e-7, true},
		// max|u| + max|v| = 2 at t = 0, so the CFL step starts at
		// 0.016/(2·16) = 5e-4, and it grows to 1.1e-3 as the vortex decays.
		{"k=1 CFL", 16, 1, NSOptions{Nu: 1e-2, DT: 1, CFL: 0.016, T: 1, Snapshots: 3}, 5e-8, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w0 := TaylorGreen(tc.n, tc.k)
			out, err := NavierStokes(context.Background(), w0, tc.n, tc.o)
			if err != nil {
				t.Fatal(err)
			}
			nn := tc.n * tc.n
			if len(out) != tc.o.Snapshots*nn {
				t.Fatalf("got %d values, want %d", len(out), tc.o.Snapshots*nn)
			}
			if d := nsMaxDiff(out[:nn], w0) / nsMaxAbs(w0); d > 1e-14 {
				t.Errorf("first snapshot differs from w0 by %.3g relative", d)
			}
			kappa := 2 * math.Pi * float64(tc.k)
			rate := tc.o.Nu * 2 * kappa * kappa
			interval := tc.o.T / float64(tc.o.Snapshots-1)
			steps := math.Ceil(interval / tc.o.DT)
			tau := interval / steps
			a := 0.5 * tau * rate
			for s := 1; s < tc.o.Snapshots; s++ {
				ts := float64(s) * interval
				decay := math.Exp(-rate * ts)
				rel := nsMaxDiff(out[s*nn:(s+1)*nn], nsScaled(decay, w0)) / (decay * nsMaxAbs(w0))
				if tc.predict {
					want := math.Abs(math.Pow((1-a)/(1+a), float64(s)*steps)/decay - 1)
					if math.Abs(rel-want) > 1e-11 {
						t.Errorf("t = %g: relative error %.6g, Crank–Nicolson predicts %.6g", ts, rel, want)
					}
					if s == tc.o.Snapshots-1 {
						t.Logf("t = %g: error minus Crank–Nicolson prediction %.2g", ts, rel-want)
					}
				} else {
					// The speed max|u| + max|v| is 2·decay at time t, so the
					// CFL step grows as the vortex decays and is largest at
					// the end.
					tauMax := tc.o.CFL / (float64(tc.n) * 2 * decay)
					if bound := ts * math.Pow(rate, 3) * tauMax * tauMax / 12; rel > bound+1e-11 {
						t.Errorf("t = %g: relative error %.6g > %.6g", ts, rel, bound)
					}
				}
				if rel > tc.maxRel {
					t.Errorf("t = %g: relative error %.6g > %.3g", ts, rel, tc.maxRel)
				}
				if s == tc.o.Snapshots-1 {
					t.Logf("relative error at T = %g: %.3g", ts, rel)
				}
			}
		})
	}
}

// TestNSForcing starts from rest under the forcing of NSForcing. The forcing
// is a plane wave in x + y, and so is the solution, whose advection term
// vanishes (ψ and w depend on x + y only, so u·∇w = ψ_y w_x − ψ_x w_y = 0):
// w(t) = f·(1 − exp(−νλt))/(νλ), λ = 8π². Crank–Nicolson with a constant
// source gives f·(1 − g^N)/(νλ) exactly (g as in TestTaylorGreen), so the
// test predicts the error and allows rounding on top.
func TestNSForcing(t *testing.T) {
	const n, nu, T = 16, 1e-2, 1.0
	f := NSForcing(n)
	out, err := NavierStokes(context.Background(), make([]float64, n*n), n,
		NSOptions{Nu: nu, DT: 1e-3, T: T, Forcing: f})
	if err != nil {
		t.Fatal(err)
	}
	rate := nu * 8 * math.Pi * math.Pi
	a := 0.5 * 1e-3 * rate
	exact := (1 - math.Exp(-rate*T)) / rate
	cn := (1 - math.Pow((1-a)/(1+a), 1000)) / rate
	got := nsMaxDiff(out[n*n:], nsScaled(exact, f)) / nsMaxAbs(f)
	if want := math.Abs(cn - exact); math.Abs(got-want) > 1e-13 {
		t.Errorf("max error %.6g, Crank–Nicolson predicts %.6g", got, want)
	}
	t.Logf("max error %.3g relative to a solution of size %.3g", got, exact)
}

// TestNSAdvection compares the pseudo-spectral advection term with u·∇w
// computed by hand for a stream function of three plane waves. Their
// wavenumbers are at most 2 per axis, so their products reach 4 and the
// 2/3 rule keeps them all at n = 16 (3·4 < 16): the discrete term must then
// equal the exact one up to rounding, which fixes the signs and the axis
// conventions u = ψ_y, v = −ψ_x, x slowest.
func TestNSAdvection(t *testing.T) {
	const n = 16
	type wave struct{ amp, a, b, phase float64 } // amp·cos(2π(ax + by) + phase)
	waves := []wave{{1, 1, 2, -math.Pi / 2}, {0.5, 1, 1, 0}, {0.3, 2, -1, 0.7}}

	w0 := make([]float64, n*n)
	want := make([]float64, n*n)
	for i := range n {
		for j := range n {
			x, y := float64(i)/n, float64(j)/n
			var u, v, w, wx, wy float64
			for _, m := range waves {
				s, c := math.Sincos(2*math.Pi*(m.a*x+m.b*y) + m.phase)
				lambda := 4 * math.Pi * math.Pi * (m.a*m.a + m.b*m.b)
				// ψ = amp·cos θ, so ψ_x = −amp·2πa·sin θ and w = λψ.
				u += -m.amp * 2 * math.Pi * m.b * s
				v -= -m.amp * 2 * math.Pi * m.a * s
				w += lambda * m.amp * c
				wx += -lambda * m.amp * 2 * math.Pi * m.a * s
				wy += -lambda * m.amp * 2 * math.Pi * m.b * s
			}
			w0[i*n+j] = w
			want[i*n+j] = u*wx + v*wy
		}
	}
	s, err := newNSSolver(n, NSOptions{Nu: 1e-3, Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	spec := make([]complex128, s.plan.SpectrumLen())
	s.plan.Forward(spec, w0)
	adv := make([]complex128, len(spec))
	s.advection(adv, spec)
	got := make([]float64, n*n)
	s.plan.Inverse(got, adv)
	if d := nsMaxDiff(got, want) / nsMaxAbs(want); d > 1e-13 {
		t.Errorf("advection term off by %.3g relative", d)
	}
}

// TestNSEnergyEnstrophy checks that without forcing neither energy nor
// enstrophy grows, and that energy follows its budget dE/dt = −2νZ.
//
// The 2/3 rule makes the advection term conserve both quantities exactly in
// the semi-discrete system, so only viscosity changes them and both must
// decrease. Heun's method adds a growth of order (ωτ)⁴ per step for
// advective frequencies ω, here below 1e-6 of the viscous decay, so any
// growth beyond rounding (1e-13 relative) is a bug. The budget integrates
// −2νZ over the snapshots by the trapezoidal rule, whose error, O(Δt²)
// relative, is about 1e-5 here with 21 snapshots; we allow 1e-3. An
// advection term that did not conserve energy would show in the budget at
// order one.
func TestNSEnergyEnstrophy(t *testing.T) {
	const n, nu, T, snaps = 64, 1e-3, 1.0, 21
	// An amplitude of 10 gives velocities of order one, so that advection
	// transfers energy between modes during the run.
	w0 := nsScaled(10, GRF(n, 0.8, rand.New(rand.NewPCG(1, 2))))
	out, err := NavierStokes(context.Background(), w0, n, NSOptions{Nu: nu, T: T, Snapshots: snaps})
	if err != nil {
		t.Fatal(err)
	}
	nn := n * n
	e := make([]float64, snaps)
	z := make([]float64, snaps)
	for s := range snaps {
		e[s], z[s] = nsEnergies(t, out[s*nn:(s+1)*nn], n)
	}
	for s := 1; s < snaps; s++ {
		if e[s] > e[s-1]*(1+1e-13) {
			t.Errorf("energy grows from %.17g to %.17g at snapshot %d", e[s-1], e[s], s)
		}
		if z[s] > z[s-1]*(1+1e-13) {
			t.Errorf("enstrophy grows from %.17g to %.17g at snapshot %d", z[s-1], z[s], s)
		}
	}
	var dissipated float64
	dt := T / (snaps - 1)
	for s := 1; s < snaps; s++ {
		dissipated += 2 * nu * 0.5 * (z[s-1] + z[s]) * dt
	}
	loss := e[0] - e[snaps-1]
	if rel := math.Abs(loss-dissipated) / dissipated; rel > 1e-3 {
		t.Errorf("energy lost %.6g, viscous dissipation %.6g: relative mismatch %.3g", loss, dissipated, rel)
	}
	t.Logf("E: %.6g → %.6g, Z: %.6g → %.6g, ∫2νZ dt = %.6g, loss %.6g",
		e[0], e[snaps-1], z[0], z[snaps-1], dissipated, loss)
}

// TestNSOrder checks that the full nonlinear scheme converges at second
// order in time: the difference between solutions at steps τ and τ/2 must
// shrink four-fold from τ to τ/2. A ratio within [3.5, 4.5] allows for the
// higher-order terms at these steps.
func TestNSOrder(t *testing.T) {
	const n = 32
	w0 := nsScaled(10, GRF(n, 0.8, rand.New(rand.NewPCG(3, 4))))
	var sols [][]float64
	for _, dt := range []float64{4e-3, 2e-3, 1e-3} {
		out, err := NavierStokes(context.Background(), w0, n, NSOptions{Nu: 1e-3, DT: dt, T: 0.5})
		if err != nil {
			t.Fatal(err)
		}
		sols = append(sols, out[n*n:])
	}
	d1 := nsMaxDiff(sols[0], sols[1])
	d2 := nsMaxDiff(sols[1], sols[2])
	if r := d1 / d2; r < 3.5 || r > 4.5 {
		t.Errorf("differences %.3g and %.3g: ratio %.3g, want about 4", d1, d2, r)
	}
	t.Logf("differences %.3g, %.3g, ratio %.3g (max|w| = %.3g)", d1, d2, d1/d2, nsMaxAbs(sols[2]))
}

// TestNSWorkers checks that splitting the transforms between goroutines does
// not change a bit of the result, on a grid large enough for the split.
func TestNSWorkers(t *testing.T) {
	const n = 128
	w0 := GRF(n, 0.8, rand.New(rand.NewPCG(5, 6)))
	o := NSOptions{T: 0.005, Forcing: NSForcing(n), Workers: 1}
	want, err := NavierStokes(context.Background(), w0, n, o)
	if err != nil {
		t.Fatal(err)
	}
	o.Workers = 3
	got, err := NavierStokes(context.Background(), w0, n, o)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want) {
		t.Error("3 workers give a different result from 1")
	}
}

func TestNSErrors(t *testing.T) {
	const n = 8
	good := TaylorGreen(n, 1)
	withNaN := slices.Clone(good)
	withNaN[5] = math.NaN()
	badForcing := NSForcing(n)
	badForcing[3] = math.Inf(1)
	for _, tc := range []struct {
		name string
		w0   []float64
		n    int
		o    NSOptions
	}{
		{"w0 length", good, n + 1, NSOptions{T: 1}},
		{"short w0", good[:n*n-1], n, NSOptions{T: 1}},
		{"tiny grid", make([]float64, 9), 3, NSOptions{T: 1}},
		{"NaN in w0", withNaN, n, NSOptions{T: 1}},
		{"negative nu", good, n, NSOptions{Nu: -1e-3, T: 1}},
		{"NaN nu", good, n, NSOptions{Nu: math.NaN(), T: 1}},
		{"infinite nu", good, n, NSOptions{Nu: math.Inf(1), T: 1}},
		{"negative dt", good, n, NSOptions{DT: -1e-3, T: 1}},
		{"NaN dt", good, n, NSOptions{DT: math.NaN(), T: 1}},
		{"zero T", good, n, NSOptions{}},
		{"negative T", good, n, NSOptions{T: -1}},
		{"infinite T", good, n, NSOptions{T: math.Inf(1)}},
		{"negative CFL", good, n, NSOptions{T: 1, CFL: -0.5}},
		{"one snapshot", good, n, NSOptions{T: 1, Snapshots: 1}},
		{"negative snapshots", good, n, NSOptions{T: 1, Snapshots: -3}},
		{"negative workers", good, n, NSOptions{T: 1, Workers: -1}},
		{"forcing length", good, n, NSOptions{T: 1, Forcing: make([]float64, n)}},
		{"infinite forcing", good, n, NSOptions{T: 1, Forcing: badForcing}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := NavierStokes(context.Background(), tc.w0, tc.n, tc.o)
			if err == nil {
				t.Fatalf("no error; got %d values", len(out))
			}
			t.Log(err)
		})
	}
}

// TestNSUnstable checks that a run whose step is far too long for its
// velocities fails with an error instead of returning NaNs.
func TestNSUnstable(t *testing.T) {
	const n = 32
	w0 := nsScaled(1e4, GRF(n, 0.8, rand.New(rand.NewPCG(7, 8))))
	_, err := NavierStokes(context.Background(), w0, n, NSOptions{Nu: 1e-6, DT: 0.05, T: 50})
	if err == nil {
		t.Fatal("no error")
	}
	t.Log(err)
}

func TestNSContext(t *testing.T) {
	const n = 16
	w0 := TaylorGreen(n, 1)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := NavierStokes(ctx, w0, n, NSOptions{T: 1}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: error %v, want context.Canceled", err)
	}

	// About a minute of work, stopped after 20 ms.
	ctx, cancel = context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := NavierStokes(ctx, w0, n, NSOptions{T: 1e4})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("expired context: error %v, want context.DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v to stop", d)
	}
}

func TestTaylorGreenPanics(t *testing.T) {
	for _, tc := range []struct{ n, k int }{{0, 1}, {8, 0}, {-1, 1}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("TaylorGreen(%d, %d) did not panic", tc.n, tc.k)
				}
			}()
			TaylorGreen(tc.n, tc.k)
		}()
	}
}

// BenchmarkNavierStokes times one trajectory of the dataset setting: 64×64,
// ν = 1e-4, T = 5 at steps of 1e-3 (5040 steps: 80 per snapshot interval),
// 64 snapshots, the forcing of NSForcing, one worker.
func BenchmarkNavierStokes(b *testing.B) {
	const n = 64
	w0 := GRF(n, 0.8, rand.New(rand.NewPCG(1, 1)))
	o := NSOptions{Nu: 1e-4, DT: 1e-3, T: 5, Snapshots: 64, Forcing: NSForcing(n)}
	for b.Loop() {
		if _, err := NavierStokes(context.Background(), w0, n, o); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/trajectory")
}

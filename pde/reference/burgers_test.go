package reference

import (
	"fmt"
	"math"
	"testing"
)

// burgersRaissiNu is the viscosity of the Burgers benchmark of Raissi et al. and of
// Basdevant et al. (1986), whose steep front tests the quadrature hardest.
const burgersRaissiNu = 0.01 / math.Pi

func burgersLinspace(lo, hi float64, n int) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = lo + (hi-lo)*float64(i)/float64(n-1)
	}
	return v
}

func TestBurgersInitialAndBoundary(t *testing.T) {
	x := burgersLinspace(-1, 1, 41)
	for _, nu := range []float64{burgersRaissiNu, 0.1} {
		// t = 0 is the initial value itself.
		u, err := Burgers([]float64{0}, x, nu)
		if err != nil {
			t.Fatal(err)
		}
		for j, xj := range x {
			if want := -math.Sin(math.Pi * xj); u[j] != want {
				t.Errorf("ν = %.4g: u(0, %v) = %v, want %v", nu, xj, u[j], want)
			}
		}
		// Just after t = 0 the quadrature (kernel width √(4ντ) ≈ 1e-4)
		// must agree with the initial value up to τ·max|u_t(0)|, and
		// |u_t(0)| = |ν u0'' − u0 u0'| ≤ νπ² + π/2.
		const tau = 1e-6
		u, err = Burgers([]float64{tau}, x, nu)
		if err != nil {
			t.Fatal(err)
		}
		bound := 1.1 * tau * (nu*math.Pi*math.Pi + math.Pi/2)
		for j, xj := range x {
			if d := math.Abs(u[j] + math.Sin(math.Pi*xj)); d > bound {
				t.Errorf("ν = %.4g: |u(%g, %v) − u0| = %.3g, want ≤ %.3g", nu, tau, xj, d, bound)
			}
		}
		// The boundary values vanish by the odd symmetry of the
		// numerator's integrand; the quadrature keeps that to rounding.
		ts := []float64{0.01, 0.3, 1 / math.Pi, 1, 5}
		u, err = Burgers(ts, []float64{-1, 1}, nu)
		if err != nil {
			t.Fatal(err)
		}
		for i, ti := range ts {
			if math.Abs(u[2*i]) > 1e-14 || math.Abs(u[2*i+1]) > 1e-14 {
				t.Errorf("ν = %.4g, t = %v: u(−1) = %.3g, u(1) = %.3g, want 0", nu, ti, u[2*i], u[2*i+1])
			}
		}
	}
}

// TestBurgersSymmetryAndBound checks two exact properties: u(t, −x) =
// −u(t, x) (the initial value is odd) and |u| ≤ 1 (maximum principle), at
// a viscosity far below the others, where the exponent spans ±1600 and an
// unshifted exp would overflow.
func TestBurgersSymmetryAndBound(t *testing.T) {
	x := burgersLinspace(-1, 1, 33)
	ts := []float64{0.05, 0.3, 0.6, 1}
	for _, nu := range []float64{1e-4, burgersRaissiNu, 0.1} {
		u, err := Burgers(ts, x, nu)
		if err != nil {
			t.Fatal(err)
		}
		// Rounding of exp(E) grows with |E| ≤ 1/(2πν) + cut.
		tol := 1e-15 * (1 + 1/(2*math.Pi*nu))
		for i := range ts {
			row := u[i*len(x) : (i+1)*len(x)]
			for j := range row {
				if v := row[j]; math.IsNaN(v) || math.Abs(v) > 1+tol {
					t.Errorf("ν = %.4g: u(%v, %v) = %v, want |u| ≤ 1", nu, ts[i], x[j], v)
				}
				if d := math.Abs(row[j] + row[len(row)-1-j]); d > tol {
					t.Errorf("ν = %.4g: u(%v, %v) + u(%v, %v) = %.3g, want 0", nu, ts[i], x[j], ts[i], -x[j], d)
				}
			}
		}
	}
}

// TestBurgersResidual checks that the quadrature solves the PDE: the central
// difference residual u_t + u u_x − ν u_xx at interior points shrinks at
// the second order of the differences.
func TestBurgersResidual(t *testing.T) {
	for _, tc := range []struct {
		nu, t float64
		xs    []float64
		hs    []float64
	}{
		// Smooth, strongly viscous.
		{0.1, 0.5, []float64{-0.7, -0.2, 0.4, 0.9}, []float64{8e-3, 4e-3, 2e-3}},
		// The steepening front before it forms (|u_x| up to about 9);
		// even the smallest h keeps the truncation (≈ 70·h²) far above
		// the rounding of u_xx (≈ 5e-14/h² = 5e-8).
		{burgersRaissiNu, 0.2, []float64{-0.5, -0.1, 0.3, 0.8}, []float64{4e-3, 2e-3, 1e-3}},
	} {
		t.Run(fmt.Sprintf("nu=%.4g", tc.nu), func(t *testing.T) {
			res := func(h float64) float64 {
				var worst float64
				for _, x0 := range tc.xs {
					u, err := Burgers([]float64{tc.t - h, tc.t, tc.t + h}, []float64{x0 - h, x0, x0 + h}, tc.nu)
					if err != nil {
						t.Fatal(err)
					}
					ut := (u[2*3+1] - u[1]) / (2 * h)
					ux := (u[1*3+2] - u[1*3+0]) / (2 * h)
					uxx := (u[1*3+0] - 2*u[1*3+1] + u[1*3+2]) / (h * h)
					worst = math.Max(worst, math.Abs(ut+u[4]*ux-tc.nu*uxx))
				}
				return worst
			}
			prev := res(tc.hs[0])
			for _, h := range tc.hs[1:] {
				r := res(h)
				p := math.Log2(prev / r)
				t.Logf("h = %g: residual %.3g, observed order %.3f", h, r, p)
				if math.Abs(p-2) > 0.1 {
					t.Errorf("h = %g: observed order %.3f, want 2", h, p)
				}
				prev = r
			}
		})
	}
}

// TestBurgersQuadratureConverged compares the default quadrature with one
// of twice the nodes per panel, a tolerance 100× tighter and a wider cut:
// if the default were not converged, the two would differ.
func TestBurgersQuadratureConverged(t *testing.T) {
	fine := defaultBurgersQuadrature()
	fine.order *= 2
	fine.rtol /= 100
	fine.cut = 80
	x := burgersLinspace(-1, 1, 41)
	ts := []float64{1e-4, 0.01, 0.3, 1 / math.Pi, 1.6037 / math.Pi, 1}
	for _, nu := range []float64{1e-3, burgersRaissiNu, 0.1} {
		a, err := Burgers(ts, x, nu)
		if err != nil {
			t.Fatal(err)
		}
		b, err := fine.grid(ts, x, nu)
		if err != nil {
			t.Fatal(err)
		}
		var worst float64
		for i := range a {
			worst = math.Max(worst, math.Abs(a[i]-b[i]))
		}
		t.Logf("ν = %.4g: max |default − fine| = %.3g", nu, worst)
		if worst > 1e-12 {
			t.Errorf("ν = %.4g: default and finer quadrature differ by %.3g, want ≤ 1e-12", nu, worst)
		}
	}
}

// TestBurgersBasdevantSlope checks the classic figure of Basdevant et al.
// (1986, Computers & Fluids 14, 23–41): for ν = 0.01/π the steepest slope
// |u_x(0, t)| is 152.00516, reached at t = 1.6037/π. The slope is taken by
// Richardson-extrapolated central differences with h = 5e-5 and 1e-5
// (remaining truncation about h⁴·u⁽⁵⁾ ≈ 1e-7, rounding about
// 1e-13/1e-5 = 1e-8); 1e-5 covers the eighth digit the paper gives.
func TestBurgersBasdevantSlope(t *testing.T) {
	t0 := 1.6037 / math.Pi
	slope := func(h float64) float64 {
		u, err := Burgers([]float64{t0}, []float64{-h, h}, burgersRaissiNu)
		if err != nil {
			t.Fatal(err)
		}
		return (u[1] - u[0]) / (2 * h)
	}
	s1, s2 := slope(5e-5), slope(1e-5)
	got := s2 + (s2-s1)/24
	t.Logf("u_x(0, 1.6037/π) = %.8f", got)
	if math.Abs(got+152.00516) > 1e-5 {
		t.Errorf("u_x(0, 1.6037/π) = %.8f, want −152.00516", got)
	}
}

// TestBurgersFourierBessel compares with an independent form of the same
// solution: the Fourier series of the Cole–Hopf φ,
//
//	φ = I₀(a) + 2 Σ (−1)ⁿ Iₙ(a) e^{−νn²π²t} cos(nπx),  a = 1/(2πν),
//
// from e^{−a cos θ} = I₀(a) + 2 Σ (−1)ⁿ Iₙ(a) cos(nθ), and u = −2νφ_x/φ.
// The series cancels catastrophically when a is large (φ spans e^{±a}), so
// the comparison is at ν = 0.1, where it loses about e^{2a} ≈ 24 ulps.
func TestBurgersFourierBessel(t *testing.T) {
	const nu = 0.1
	a := 1 / (2 * math.Pi * nu)
	in := burgersBesselI(a, 60)
	series := func(x, t float64) float64 {
		num, den := 0.0, in[0]
		sign := -1.0
		for n := 1; n < len(in); n++ {
			w := sign * in[n] * math.Exp(-nu*float64(n*n)*math.Pi*math.Pi*t)
			num += w * float64(n) * math.Sin(float64(n)*math.Pi*x)
			den += 2 * w * math.Cos(float64(n)*math.Pi*x)
			sign = -sign
		}
		return 4 * nu * math.Pi * num / den
	}
	ts := []float64{0.001, 0.05, 0.3, 1, 3}
	xs := []float64{-0.9, -0.3, 0.05, 0.5, 0.99}
	u, err := Burgers(ts, xs, nu)
	if err != nil {
		t.Fatal(err)
	}
	var worst float64
	for i, ti := range ts {
		for j, xj := range xs {
			d := math.Abs(u[i*len(xs)+j] - series(xj, ti))
			worst = math.Max(worst, d)
			if d > 1e-13 {
				t.Errorf("u(%v, %v): quadrature %v, series %v", ti, xj, u[i*len(xs)+j], series(xj, ti))
			}
		}
	}
	t.Logf("max |quadrature − series| = %.3g", worst)
}

// burgersBesselI returns e^{−a}·Iₙ(a) for n = 0…nmax by Miller's backward
// recurrence I_{n−1} = (2n/a)·Iₙ + I_{n+1}, normalised with
// e^{a} = I₀ + 2 Σ_{n≥1} Iₙ. Starting far above nmax makes the arbitrary
// start value's error negligible.
func burgersBesselI(a float64, nmax int) []float64 {
	start := 2 * (nmax + int(a) + 30)
	v := make([]float64, start+2)
	v[start] = 1e-280
	for n := start; n >= 1; n-- {
		v[n-1] = 2*float64(n)/a*v[n] + v[n+1]
		if v[n-1] > 1e250 { // rescale to stay in range; only ratios matter
			for k := n - 1; k <= start; k++ {
				v[k] *= 1e-250
			}
		}
	}
	sum := v[0]
	for n := 1; n <= start; n++ {
		sum += 2 * v[n]
	}
	out := make([]float64, nmax+1)
	for n := range out {
		out[n] = v[n] / sum
	}
	return out
}

func TestBurgersErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		t, x []float64
		nu   float64
	}{
		{"zero viscosity", []float64{0.1}, []float64{0}, 0},
		{"negative viscosity", []float64{0.1}, []float64{0}, -1},
		{"NaN viscosity", []float64{0.1}, []float64{0}, math.NaN()},
		{"infinite viscosity", []float64{0.1}, []float64{0}, math.Inf(1)},
		{"negative time", []float64{0.1, -0.1}, []float64{0}, 0.1},
		{"NaN time", []float64{math.NaN()}, []float64{0}, 0.1},
		{"infinite time", []float64{math.Inf(1)}, []float64{0}, 0.1},
		{"x beyond 1", []float64{0.1}, []float64{0, 1.5}, 0.1},
		{"NaN x", []float64{0.1}, []float64{math.NaN()}, 0.1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if u, err := Burgers(tc.t, tc.x, tc.nu); err == nil {
				t.Errorf("Burgers(%v, %v, %v) = %v, want an error", tc.t, tc.x, tc.nu, u)
			}
		})
	}
	if u, err := Burgers(nil, []float64{0}, 0.1); err != nil || len(u) != 0 {
		t.Errorf("no times: %v, %v, want an empty result", u, err)
	}
}

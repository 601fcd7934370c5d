package reference

import (
	"math"
	"testing"
)

func TestHeatValues(t *testing.T) {
	// Values written out by hand from the closed form; the tolerance is a
	// few ulps of the result, all that exp and sin may differ by.
	for _, tc := range []struct {
		name             string
		t, x             float64
		kappa, amp, k, u float64
	}{
		{"initial", 0, 0.5, 0.1, 2, 1, 2},
		{"decayed", 1, 0.5, 0.1, 1, 1, math.Exp(-0.1 * math.Pi * math.Pi)},
		{"second mode", 0.5, 0.25, 0.2, 3, 2, 3 * math.Exp(-0.2*4*math.Pi*math.Pi*0.5)},
		{"left end", 2, 0, 0.1, 1, 5, 0},
		{"zero amplitude", 1, 0.3, 0.1, 0, 1, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Heat([]float64{tc.t}, []float64{tc.x}, tc.kappa, tc.amp, tc.k)
			if len(got) != 1 {
				t.Fatalf("len = %d, want 1", len(got))
			}
			if math.Abs(got[0]-tc.u) > 4e-16*math.Max(1, math.Abs(tc.u)) {
				t.Errorf("u(%v, %v) = %v, want %v", tc.t, tc.x, got[0], tc.u)
			}
		})
	}
}

func TestHeatLayout(t *testing.T) {
	ts := []float64{0, 0.1, 0.7}
	xs := []float64{0, 0.2, 0.5, 1}
	u := Heat(ts, xs, 0.3, 1.5, 2)
	if len(u) != len(ts)*len(xs) {
		t.Fatalf("len = %d, want %d", len(u), len(ts)*len(xs))
	}
	for i, ti := range ts {
		for j, xj := range xs {
			want := 1.5 * math.Exp(-0.3*4*math.Pi*math.Pi*ti) * math.Sin(2*math.Pi*xj)
			if got := u[i*len(xs)+j]; math.Abs(got-want) > 1e-15 {
				t.Errorf("u[%d*%d+%d] = %v, want u(%v, %v) = %v", i, len(xs), j, got, ti, xj, want)
			}
		}
	}
	// Integer k: both ends vanish to rounding (sin(kπ) ≈ k·1.2e-16).
	for i := range ts {
		if l, r := u[i*len(xs)], u[i*len(xs)+len(xs)-1]; math.Abs(l) > 1e-15 || math.Abs(r) > 1e-15 {
			t.Errorf("t = %v: boundary values %v, %v, want 0", ts[i], l, r)
		}
	}
}

// TestHeatResidual checks that Heat solves u_t = κ u_xx: the central
// difference residual shrinks at the second order of the differences.
func TestHeatResidual(t *testing.T) {
	const kappa, amp, k = 0.1, 1.3, 2
	t0, x0 := 0.3, 0.37
	res := func(h float64) float64 {
		u := Heat([]float64{t0 - h, t0, t0 + h}, []float64{x0 - h, x0, x0 + h}, kappa, amp, k)
		ut := (u[2*3+1] - u[0*3+1]) / (2 * h)
		uxx := (u[1*3+0] - 2*u[1*3+1] + u[1*3+2]) / (h * h)
		return math.Abs(ut - kappa*uxx)
	}
	// Steps where the O(h²) truncation (≈ 7·h², i.e. ≥ 4e-5) dominates
	// the rounding of u_xx (≈ 1e-16/h² ≤ 2e-11) by six orders.
	hs := []float64{1e-2, 5e-3, 2.5e-3}
	for i := 1; i < len(hs); i++ {
		p := math.Log2(res(hs[i-1]) / res(hs[i]))
		t.Logf("h = %g: residual %.3g, observed order %.3f", hs[i], res(hs[i]), p)
		if math.Abs(p-2) > 0.05 {
			t.Errorf("observed order %.3f between h = %g and %g, want 2", p, hs[i-1], hs[i])
		}
	}
}

func TestHeatEmpty(t *testing.T) {
	if u := Heat(nil, []float64{1, 2}, 1, 1, 1); len(u) != 0 {
		t.Errorf("no times: len = %d, want 0", len(u))
	}
}

package model

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// spectralCase is a small grid with the kept modes chosen to exercise the
// bins that the real FFT treats specially.
type spectralCase struct {
	name    string
	grid    []int
	modes   []int
	in, out int
}

func spectralCases() []spectralCase {
	return []spectralCase{
		// Last axis interior only: k = 0..3 of 0..6.
		{"2d-interior", []int{8, 12}, []int{3, 4}, 2, 3},
		// Both corners meet on axis 0 and the last axis keeps its Nyquist bin.
		{"2d-nyquist", []int{8, 12}, []int{4, 7}, 3, 2},
		// Odd extents: the last bin of the half spectrum is not a Nyquist bin.
		{"2d-odd", []int{7, 9}, []int{3, 5}, 2, 2},
		{"3d-interior", []int{6, 8, 8}, []int{2, 3, 3}, 2, 3},
		{"3d-nyquist", []int{6, 8, 8}, []int{3, 4, 5}, 2, 2},
		{"1d", []int{16}, []int{9}, 2, 3},
	}
}

func (c spectralCase) points() int {
	n := 1
	for _, v := range c.grid {
		n *= v
	}
	return n
}

func specRandVec(rng *rand.Rand, n int) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = rng.NormFloat64()
	}
	return v
}

func specDot(a, b []float64) float64 {
	var s float64
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}

func specNorm(a []float64) float64 { return math.Sqrt(specDot(a, a)) }

// specNaiveForward evaluates the spectral convolution by direct summation,
// from the definitions on SpectralConv and independently of the fft
// package: X_c[f] = Σ_j x_c[j] e^{−iθ_f·j} for each kept frequency f, and
// y_o[j] = (1/N) Σ_f c_f Re(Z_o[f] e^{+iθ_f·j}).
func specNaiveForward(s *SpectralConv, x []float64) []float64 {
	grid, modes := s.grid, s.modes
	d := len(grid)
	n := s.n
	// Kept frequencies per axis, in the order of the weight's mode axes.
	freqs := make([][]int, d)
	for a := range d {
		if a < d-1 {
			for k := range modes[a] {
				freqs[a] = append(freqs[a], k)
			}
			for k := grid[a] - modes[a]; k < grid[a]; k++ {
				freqs[a] = append(freqs[a], k)
			}
		} else {
			for k := range modes[a] {
				freqs[a] = append(freqs[a], k)
			}
		}
	}
	// phase returns θ_f·j / 2π reduced mod 1 per axis, so that no angle is
	// large and inexact.
	phase := func(f, j []int) float64 {
		var t float64
		for a := range d {
			t += float64(f[a]*j[a]%grid[a]) / float64(grid[a])
		}
		return 2 * math.Pi * t
	}
	unravel := func(p int, shape []int) []int {
		idx := make([]int, len(shape))
		for a := len(shape) - 1; a >= 0; a-- {
			idx[a] = p % shape[a]
			p /= shape[a]
		}
		return idx
	}
	kshape := make([]int, d)
	nm := 1
	for a := range d {
		kshape[a] = len(freqs[a])
		nm *= kshape[a]
	}
	y := make([]float64, n*s.Out)
	for m := range nm {
		mi := unravel(m, kshape)
		f := make([]int, d)
		for a := range d {
			f[a] = freqs[a][mi[a]]
		}
		X := make([]complex128, s.In)
		for p := range n {
			th := phase(f, unravel(p, grid))
			e := complex(math.Cos(th), -math.Sin(th))
			for c := range s.In {
				X[c] += complex(x[p*s.In+c], 0) * e
			}
		}
		cf := 2.0
		if k := f[d-1]; k == 0 || (grid[d-1]%2 == 0 && k == grid[d-1]/2) {
			cf = 1
		}
		for o := range s.Out {
			var z complex128
			for c := range s.In {
				i := ((m*s.In+c)*s.Out + o) * 2
				z += complex(s.Weight.Value[i], s.Weight.Value[i+1]) * X[c]
			}
			for p := range n {
				th := phase(f, unravel(p, grid))
				y[p*s.Out+o] += cf / float64(n) * real(z*complex(math.Cos(th), math.Sin(th)))
			}
		}
	}
	return y
}

func TestSpectralConvForwardMatchesDFT(t *testing.T) {
	for i, tc := range spectralCases() {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, uint64(i)))
			s, err := NewSpectralConv("k", tc.grid, tc.in, tc.out, tc.modes, rng)
			if err != nil {
				t.Fatal(err)
			}
			x := specRandVec(rng, tc.points()*tc.in)
			y, err := s.Forward(x)
			if err != nil {
				t.Fatal(err)
			}
			want := specNaiveForward(s, x)
			var maxErr, maxAbs float64
			for j := range y {
				maxErr = max(maxErr, math.Abs(y[j]-want[j]))
				maxAbs = max(maxAbs, math.Abs(want[j]))
			}
			// Both sides sum O(N) terms of O(1); 1e-12 leaves room for the
			// FFT's O(log N) rounding and the direct sum's O(N).
			if rel := maxErr / maxAbs; rel > 1e-12 {
				t.Errorf("max |FFT − direct DFT| / max|y| = %.3g, want ≤ 1e-12", rel)
			} else {
				t.Logf("max |FFT − direct DFT| / max|y| = %.3g", rel)
			}
		})
	}
}

// TestSpectralConvAdjoint checks ⟨A x, y⟩ = ⟨x, Aᵀ y⟩ for the input
// cotangent that Backward returns.
func TestSpectralConvAdjoint(t *testing.T) {
	for i, tc := range spectralCases() {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(2, uint64(i)))
			s, err := NewSpectralConv("k", tc.grid, tc.in, tc.out, tc.modes, rng)
			if err != nil {
				t.Fatal(err)
			}
			x := specRandVec(rng, tc.points()*tc.in)
			dy := specRandVec(rng, tc.points()*tc.out)
			ax, err := s.Forward(x)
			if err != nil {
				t.Fatal(err)
			}
			aty, err := s.Backward(dy)
			if err != nil {
				t.Fatal(err)
			}
			lhs, rhs := specDot(ax, dy), specDot(x, aty)
			// Relative to the Cauchy–Schwarz bound, which is what the
			// rounding of either inner product scales with.
			rel := math.Abs(lhs-rhs) / (specNorm(ax) * specNorm(dy))
			if rel > 1e-12 {
				t.Errorf("⟨Ax,y⟩ = %.17g, ⟨x,Aᵀy⟩ = %.17g: relative gap %.3g, want ≤ 1e-12", lhs, rhs, rel)
			} else {
				t.Logf("⟨Ax,y⟩ − ⟨x,Aᵀy⟩ relative to ‖Ax‖‖y‖: %.3g", rel)
			}
		})
	}
}

// TestSpectralConvGradients checks the weight and input gradients of the
// scalar loss ⟨c, y⟩ against central differences. The loss is linear in
// both, so the differences are exact but for rounding, of order
// ε|L|/h ≈ 1e-11 with h = 1e-4; the tolerance 1e-7 is on
// |fd − an| / max(1, |an|), the gradients being O(1).
func TestSpectralConvGradients(t *testing.T) {
	const (
		h   = 1e-4
		tol = 1e-7
	)
	for i, tc := range spectralCases() {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(3, uint64(i)))
			s, err := NewSpectralConv("k", tc.grid, tc.in, tc.out, tc.modes, rng)
			if err != nil {
				t.Fatal(err)
			}
			x := specRandVec(rng, tc.points()*tc.in)
			c := specRandVec(rng, tc.points()*tc.out)
			loss := func() float64 {
				y, err := s.Forward(x)
				if err != nil {
					t.Fatal(err)
				}
				return specDot(c, y)
			}
			loss()
			ZeroGrad(s.Params())
			dx, err := s.Backward(c)
			if err != nil {
				t.Fatal(err)
			}
			gw := append([]float64(nil), s.Weight.Grad...)

			worst := func(v []float64, an []float64) float64 {
				var w float64
				for j := range v {
					old := v[j]
					v[j] = old + h
					lp := loss()
					v[j] = old - h
					lm := loss()
					v[j] = old
					fd := (lp - lm) / (2 * h)
					w = max(w, math.Abs(fd-an[j])/max(1, math.Abs(an[j])))
				}
				return w
			}
			if e := worst(s.Weight.Value, gw); e > tol {
				t.Errorf("weight gradient: max relative error %.3g, want ≤ %g", e, tol)
			} else {
				t.Logf("weight gradient: max relative error %.3g over %d entries", e, len(gw))
			}
			if e := worst(x, dx); e > tol {
				t.Errorf("input gradient: max relative error %.3g, want ≤ %g", e, tol)
			} else {
				t.Logf("input gradient: max relative error %.3g over %d entries", e, len(dx))
			}

			// Backward accumulates: a second call adds the same gradient.
			loss()
			if _, err := s.Backward(c); err != nil {
				t.Fatal(err)
			}
			for j, g := range s.Weight.Grad {
				if math.Abs(g-2*gw[j]) > 1e-12*max(1, math.Abs(g)) {
					t.Fatalf("gradient %d after two backward passes is %g, want 2×%g", j, g, gw[j])
				}
			}
		})
	}
}

func TestSpectralConvErrors(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 0))
	for _, tc := range []struct {
		name    string
		grid    []int
		modes   []int
		in, out int
		want    string
	}{
		{"no axes", nil, nil, 1, 1, "0 grid axes"},
		{"four axes", []int{4, 4, 4, 4}, []int{1, 1, 1, 1}, 1, 1, "4 grid axes"},
		{"mode count", []int{8, 12}, []int{2}, 1, 1, "1 mode counts for 2 grid axes"},
		{"zero channels", []int{8, 12}, []int{2, 2}, 0, 1, "channels 0→1"},
		{"bad extent", []int{8, 0}, []int{2, 1}, 1, 1, "grid extent 0"},
		{"corners overlap", []int{8, 12}, []int{5, 2}, 1, 1, "5 modes on axis 0"},
		{"zero modes", []int{8, 12}, []int{0, 2}, 1, 1, "0 modes on axis 0"},
		{"past nyquist", []int{8, 12}, []int{2, 8}, 1, 1, "8 modes on last axis"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewSpectralConv("k", tc.grid, tc.in, tc.out, tc.modes, rng)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
	if _, err := NewSpectralConv("k", []int{8, 12}, 1, 1, []int{2, 2}, nil); err == nil {
		t.Error("nil random source accepted")
	}

	s, err := NewSpectralConv("k", []int{8, 12}, 2, 3, []int{2, 2}, rng)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Backward(make([]float64, 96*3)); err == nil || !strings.Contains(err.Error(), "no forward pass") {
		t.Errorf("backward before forward: error %v", err)
	}
	if _, err := s.Forward(make([]float64, 96*3)); err == nil || !strings.Contains(err.Error(), "input length 288, want 192") {
		t.Errorf("forward with wrong length: error %v", err)
	}
	if _, err := s.Forward(make([]float64, 96*2)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Backward(make([]float64, 96*2)); err == nil || !strings.Contains(err.Error(), "cotangent length 192, want 288") {
		t.Errorf("backward with wrong length: error %v", err)
	}
}

// BenchmarkSpectralConv times one forward and backward pass of one Fourier
// layer's spectral convolution on a DS expert's 101×256 grid, width 32.
func BenchmarkSpectralConv(b *testing.B) {
	grid := []int{101, 256}
	rng := rand.New(rand.NewPCG(5, 0))
	s, err := NewSpectralConv("k", grid, 32, 32, []int{8, 8}, rng)
	if err != nil {
		b.Fatal(err)
	}
	x := specRandVec(rng, 101*256*32)
	for b.Loop() {
		y, err := s.Forward(x)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := s.Backward(y); err != nil {
			b.Fatal(err)
		}
	}
}

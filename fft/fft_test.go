package fft

import (
	"fmt"
	"math"
	"math/cmplx"
	"math/rand/v2"
	"slices"
	"testing"
)

// eps is the unit roundoff of float64.
const eps = 0x1p-53

// testShapes returns odd and even shapes of every supported rank.
func testShapes() [][]int {
	return [][]int{
		{1}, {2}, {7}, {16}, {30}, {31},
		{1, 6}, {6, 1}, {4, 6}, {5, 7}, {8, 9}, {9, 8},
		{2, 3, 1}, {3, 4, 5}, {4, 4, 4}, {5, 6, 7},
		{64, 64}, {16, 16, 16},
	}
}

func shapeName(s []int) string {
	return fmt.Sprint(s)
}

func randArray(rng *rand.Rand, n int) []float64 {
	x := make([]float64, n)
	for i := range x {
		x[i] = rng.NormFloat64()
	}
	return x
}

// naiveDFT returns the half spectrum of x by direct summation over all N
// points for each of the SpectrumLen() frequencies. Each twiddle factor is the
// product of one factor per axis, taken from a table indexed by k·j mod n, so
// that no phase is ever computed from a large, inexact angle.
func naiveDFT(shape []int, x []float64) []complex128 {
	d := len(shape)
	tw := make([][]complex128, d)
	for a, n := range shape {
		tw[a] = make([]complex128, n)
		for m := range n {
			s, c := math.Sincos(-2 * math.Pi * float64(m) / float64(n))
			tw[a][m] = complex(c, s)
		}
	}
	spec := slices.Clone(shape)
	spec[d-1] = shape[d-1]/2 + 1
	k := make([]int, d)
	j := make([]int, d)
	var out []complex128
	for {
		var sum complex128
		clear(j)
		for _, v := range x {
			w := complex(1, 0)
			for a := range d {
				w *= tw[a][k[a]*j[a]%shape[a]]
			}
			sum += complex(v, 0) * w
			next(j, shape)
		}
		out = append(out, sum)
		if !next(k, spec) {
			return out
		}
	}
}

// next advances the row-major multi-index i within shape and reports whether
// it did not wrap around to zero.
func next(i, shape []int) bool {
	for a := len(i) - 1; a >= 0; a-- {
		i[a]++
		if i[a] < shape[a] {
			return true
		}
		i[a] = 0
	}
	return false
}

func maxAbsDiff(a, b []complex128) float64 {
	var m float64
	for i := range a {
		m = max(m, cmplx.Abs(a[i]-b[i]))
	}
	return m
}

func sumAbs(x []float64) float64 {
	var s float64
	for _, v := range x {
		s += math.Abs(v)
	}
	return s
}

// factorSum returns the sum of the prime factors, with multiplicity, of all
// extents of shape, plus one so that it is positive for extents of 1.
func factorSum(shape []int) int {
	s := 1
	for _, n := range shape {
		for p := 2; n > 1; {
			if n%p == 0 {
				s += p
				n /= p
			} else {
				p++
			}
		}
	}
	return s
}

// mustPlan returns a plan that splits every pass of more than one line
// between its workers, however small the array, so that the tests exercise
// the parallel path on arrays small enough to check against a direct DFT.
func mustPlan(t testing.TB, workers int, shape ...int) *Plan {
	t.Helper()
	p, err := NewPlanWorkers(workers, shape...)
	if err != nil {
		t.Fatal(err)
	}
	p.minParallel = 0
	return p
}

// TestForwardNaive compares Forward with the O(N²) definition on random data.
//
// Tolerance: the naive sum is the less accurate of the two. Each of its N
// terms is a product of d+1 rounded factors, and recursive summation of N
// terms adds at most (N−1)·ε relative to Σ|terms|, so its error is bounded by
// about (N+d+1)·ε·Σ_j|x_j|. The FFT's own error is O(ε·log N·‖x‖), far
// smaller. We allow twice the naive bound; the typical error is two to three
// orders of magnitude below it (errors add like a random walk, not linearly).
func TestForwardNaive(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, shape := range testShapes() {
		t.Run(shapeName(shape), func(t *testing.T) {
			p := mustPlan(t, 3, shape...)
			x := randArray(rng, p.Len())
			got := make([]complex128, p.SpectrumLen())
			p.Forward(got, x)
			want := naiveDFT(shape, x)
			if len(want) != len(got) {
				t.Fatalf("naive spectrum has %d elements, plan %d", len(want), len(got))
			}
			err := maxAbsDiff(got, want)
			tol := 2 * float64(p.Len()+len(shape)+1) * eps * sumAbs(x)
			if err > tol {
				t.Errorf("max |FFT − DFT| = %.3g > tolerance %.3g", err, tol)
			}
			t.Logf("max |FFT − DFT| = %.3g = %.2g of the tolerance", err, err/tol)
		})
	}
}

// TestRoundTrip checks Inverse(Forward(x)) = x and that Inverse leaves its
// source untouched.
//
// Tolerance: a mixed-radix FFT applies one stage per prime factor p of each
// extent, and a radix-p stage is a small direct DFT whose rounding error is
// O(p·ε) relative to its input; so the error of a transform is O(ε·S·max|x|)
// with S the sum of the prime factors of all extents (the familiar ε·log₂ N
// when all factors are 2). The round trip does two transforms; we allow
// 8·ε·S·max|x|. The measured error is typically a few ε·max|x|, and largest
// for prime extents, where the single stage is a full direct DFT.
func TestRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, shape := range testShapes() {
		t.Run(shapeName(shape), func(t *testing.T) {
			p := mustPlan(t, 3, shape...)
			x := randArray(rng, p.Len())
			spec := make([]complex128, p.SpectrumLen())
			p.Forward(spec, x)
			saved := slices.Clone(spec)
			y := make([]float64, p.Len())
			p.Inverse(y, spec)
			if !slices.Equal(spec, saved) {
				t.Error("Inverse modified its source")
			}
			var err, xmax float64
			for i := range x {
				err = max(err, math.Abs(x[i]-y[i]))
				xmax = max(xmax, math.Abs(x[i]))
			}
			tol := 8 * eps * float64(factorSum(shape)) * xmax
			if err > tol {
				t.Errorf("max |x − Inverse(Forward(x))| = %.3g > %.3g", err, tol)
			}
		})
	}
}

// TestLinearity checks F(a·x + b·y) = a·F(x) + b·F(y). Tolerance as for the
// round trip (see there), now relative to the size of the spectra, which is
// bounded by Σ|input|.
func TestLinearity(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	const a, b = 1.75, -0.375
	for _, shape := range testShapes() {
		t.Run(shapeName(shape), func(t *testing.T) {
			p := mustPlan(t, 3, shape...)
			x, y := randArray(rng, p.Len()), randArray(rng, p.Len())
			z := make([]float64, p.Len())
			for i := range z {
				z[i] = a*x[i] + b*y[i]
			}
			fx, fy, fz := make([]complex128, p.SpectrumLen()), make([]complex128, p.SpectrumLen()), make([]complex128, p.SpectrumLen())
			p.Forward(fx, x)
			p.Forward(fy, y)
			p.Forward(fz, z)
			for i := range fx {
				fx[i] = complex(a, 0)*fx[i] + complex(b, 0)*fy[i]
			}
			err := maxAbsDiff(fx, fz)
			tol := 8 * eps * float64(factorSum(shape)) * (math.Abs(a)*sumAbs(x) + math.Abs(b)*sumAbs(y))
			if err > tol {
				t.Errorf("max |F(ax+by) − aF(x) − bF(y)| = %.3g > %.3g", err, tol)
			}
		})
	}
}

// TestParseval checks Σ x² = (1/N) Σ |X|² over the full spectrum, where every
// column of the half spectrum except the zero one and, for an even last
// extent, the Nyquist one stands for itself and its mirror image. Both sides
// are sums of N positive terms with relative errors O(ε·log N) each, so a
// relative tolerance of 1e-13 is a thousand-fold margin at these sizes.
func TestParseval(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, shape := range testShapes() {
		t.Run(shapeName(shape), func(t *testing.T) {
			p := mustPlan(t, 3, shape...)
			x := randArray(rng, p.Len())
			spec := make([]complex128, p.SpectrumLen())
			p.Forward(spec, x)
			n := shape[len(shape)-1]
			m := n/2 + 1
			var ex, ek float64
			for _, v := range x {
				ex += v * v
			}
			for i, v := range spec {
				w := 2.0
				if q := i % m; q == 0 || (n%2 == 0 && q == m-1) {
					w = 1
				}
				ek += w * (real(v)*real(v) + imag(v)*imag(v))
			}
			ek /= float64(p.Len())
			if rel := math.Abs(ex-ek) / ex; rel > 1e-13 {
				t.Errorf("Σx² = %.17g, Σ|X|²/N = %.17g, relative difference %.3g", ex, ek, rel)
			}
		})
	}
}

// TestWorkersBitwise checks the promise that the result does not depend on
// the number of workers, bit for bit.
func TestWorkersBitwise(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	for _, shape := range [][]int{{64, 64}, {65, 63}, {16, 16, 16}, {9, 31, 17}} {
		t.Run(shapeName(shape), func(t *testing.T) {
			ref := mustPlan(t, 1, shape...)
			x := randArray(rng, ref.Len())
			wantF := make([]complex128, ref.SpectrumLen())
			ref.Forward(wantF, x)
			wantI := make([]float64, ref.Len())
			ref.Inverse(wantI, wantF)
			for _, workers := range []int{2, 3, 7, 64} {
				p := mustPlan(t, workers, shape...)
				gotF := make([]complex128, p.SpectrumLen())
				p.Forward(gotF, x)
				gotI := make([]float64, p.Len())
				p.Inverse(gotI, wantF)
				if !slices.Equal(gotF, wantF) || !slices.Equal(gotI, wantI) {
					t.Errorf("%d workers: result differs from 1 worker", workers)
				}
			}
		})
	}
}

// TestNoAllocs checks that a serial Plan allocates nothing once built.
func TestNoAllocs(t *testing.T) {
	for _, shape := range [][]int{{64}, {32, 32}, {8, 8, 8}} {
		p := mustPlan(t, 1, shape...)
		x := make([]float64, p.Len())
		spec := make([]complex128, p.SpectrumLen())
		if a := testing.AllocsPerRun(10, func() {
			p.Forward(spec, x)
			p.Inverse(x, spec)
		}); a != 0 {
			t.Errorf("%v: %v allocations per Forward+Inverse, want 0", shape, a)
		}
	}
}

func TestNewPlanErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		shape []int
	}{
		{"no axes", nil},
		{"four axes", []int{2, 2, 2, 2}},
		{"zero extent", []int{4, 0}},
		{"negative extent", []int{-3}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := NewPlan(tc.shape...); err == nil {
				t.Errorf("NewPlan(%v) succeeded", tc.shape)
			}
		})
	}
}

func TestShapes(t *testing.T) {
	for _, tc := range []struct {
		shape, spec []int
	}{
		{[]int{8}, []int{5}},
		{[]int{7}, []int{4}},
		{[]int{3, 8}, []int{3, 5}},
		{[]int{3, 4, 5}, []int{3, 4, 3}},
	} {
		p := mustPlan(t, 0, tc.shape...)
		if got := p.SpectrumShape(); !slices.Equal(got, tc.spec) {
			t.Errorf("SpectrumShape of %v = %v, want %v", tc.shape, got, tc.spec)
		}
		if got := p.Shape(); !slices.Equal(got, tc.shape) {
			t.Errorf("Shape = %v, want %v", got, tc.shape)
		}
	}
}

func TestLengthPanics(t *testing.T) {
	p := mustPlan(t, 1, 4, 6)
	for _, tc := range []struct {
		name string
		f    func()
	}{
		{"Forward short src", func() { p.Forward(make([]complex128, 16), make([]float64, 23)) }},
		{"Forward long dst", func() { p.Forward(make([]complex128, 17), make([]float64, 24)) }},
		{"Inverse short src", func() { p.Inverse(make([]float64, 24), make([]complex128, 15)) }},
		{"Inverse long dst", func() { p.Inverse(make([]float64, 25), make([]complex128, 16)) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("no panic")
				}
			}()
			tc.f()
		})
	}
}

func BenchmarkFFT(b *testing.B) {
	for _, shape := range [][]int{{64, 64}, {256, 256}, {64, 64, 64}} {
		for _, workers := range []int{1, 0} {
			p, err := NewPlanWorkers(workers, shape...)
			if err != nil {
				b.Fatal(err)
			}
			rng := rand.New(rand.NewPCG(1, 1))
			x := randArray(rng, p.Len())
			spec := make([]complex128, p.SpectrumLen())
			name := fmt.Sprintf("%v/workers=%d", shape, p.Workers())
			b.Run("Forward/"+name, func(b *testing.B) {
				for b.Loop() {
					p.Forward(spec, x)
				}
			})
			b.Run("Inverse/"+name, func(b *testing.B) {
				for b.Loop() {
					p.Inverse(x, spec)
				}
			})
		}
	}
}

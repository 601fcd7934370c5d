package mesh

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// opCase is one derivative operator to test.
type opCase struct {
	axis, order int
	scheme      Scheme
}

func (c opCase) String() string {
	return fmt.Sprintf("axis=%d/order=%d/%v", c.axis, c.order, c.scheme)
}

// allOps lists every derivative operator of g.
func allOps(g Grid) []opCase {
	var cs []opCase
	for axis := range g.Dims() {
		for _, order := range []int{1, 2} {
			for _, scheme := range []Scheme{FD2, FD4} {
				cs = append(cs, opCase{axis, order, scheme})
			}
		}
	}
	return cs
}

func mustGrid(t testing.TB, axes ...Axis) Grid {
	t.Helper()
	g, err := NewGrid(axes...)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func mustDerivative(t testing.TB, g Grid, c opCase) Operator {
	t.Helper()
	op, err := Derivative(g, c.axis, c.order, c.scheme)
	if err != nil {
		t.Fatal(err)
	}
	return op
}

func randField(rng *rand.Rand, n int) []float64 {
	f := make([]float64, n)
	for i := range f {
		f[i] = rng.NormFloat64()
	}
	return f
}

func dot(a, b []float64) float64 {
	s := 0.0
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}

func norm(a []float64) float64 { return math.Sqrt(dot(a, a)) }

// TestAdjoint checks ⟨A u, v⟩ = ⟨u, Aᵀ v⟩ for random u and v. Both sides
// are sums of the same products a_ij·u_j·v_i in different orders, so they
// differ only by rounding, of order √(terms)·ε relative to
// ‖A u‖·‖v‖ ≥ |⟨A u, v⟩|; the tolerance 1e-12 leaves a wide margin over that
// (≈1e-14 here) while any wrong coefficient would show up at O(1).
func TestAdjoint(t *testing.T) {
	t.Parallel()
	const tol = 1e-12
	grids := []struct {
		name string
		g    Grid
	}{
		{"tx", mustGrid(t, Axis{Min: 0, Max: 1, N: 9}, Axis{Min: -1, Max: 2, N: 11})},
		{"tx periodic", mustGrid(t, Axis{Min: 0, Max: 1, N: 7}, Axis{Min: 0, Max: 1, N: 10, Periodic: true})},
		{"txy mixed", mustGrid(t, Axis{Min: 0, Max: 1, N: 6}, Axis{Min: 0, Max: 2, N: 8}, Axis{Min: 0, Max: 1, N: 7, Periodic: true})},
		// Large enough (×3 columns) to take the multi-goroutine path.
		{"txy large", mustGrid(t, Axis{Min: 0, Max: 1, N: 17}, Axis{Min: 0, Max: 1, N: 33, Periodic: true}, Axis{Min: 0, Max: 1, N: 40})},
		// Axes at the minimum lengths of the widest stencils.
		{"tx minimal", mustGrid(t, Axis{Min: 0, Max: 1, N: 6}, Axis{Min: 0, Max: 1, N: 5, Periodic: true})},
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, gc := range grids {
		for _, c := range allOps(gc.g) {
			op := mustDerivative(t, gc.g, c)
			for _, cols := range []int{1, 3} {
				n := gc.g.Size() * cols
				u, v := randField(rng, n), randField(rng, n)
				au, atv := make([]float64, n), make([]float64, n)
				op.Apply(au, u, cols)
				op.ApplyTranspose(atv, v, cols)
				lhs, rhs := dot(au, v), dot(u, atv)
				scale := norm(au) * norm(v)
				if math.Abs(lhs-rhs) > tol*scale {
					t.Errorf("%s %v cols=%d: ⟨Au,v⟩ = %.17g, ⟨u,Aᵀv⟩ = %.17g, relative difference %.3g",
						gc.name, c, cols, lhs, rhs, math.Abs(lhs-rhs)/scale)
				}
			}
		}
	}
}

// TestColumnsIndependent checks that a field with several columns is mapped
// column by column: applying to a 3-column field equals applying to each
// column alone. The arithmetic per value is identical, so equality is exact.
func TestColumnsIndependent(t *testing.T) {
	t.Parallel()
	g := mustGrid(t, Axis{Min: 0, Max: 1, N: 7}, Axis{Min: 0, Max: 1, N: 9}, Axis{Min: 0, Max: 1, N: 6, Periodic: true})
	const cols = 3
	rng := rand.New(rand.NewPCG(3, 4))
	size := g.Size()
	src := randField(rng, size*cols)
	for _, c := range allOps(g) {
		op := mustDerivative(t, g, c)
		for _, transpose := range []bool{false, true} {
			apply := op.Apply
			if transpose {
				apply = op.ApplyTranspose
			}
			all := make([]float64, size*cols)
			apply(all, src, cols)
			col, out := make([]float64, size), make([]float64, size)
			for k := range cols {
				for i := range size {
					col[i] = src[i*cols+k]
				}
				apply(out, col, 1)
				for i := range size {
					if out[i] != all[i*cols+k] {
						t.Fatalf("%v transpose=%v: column %d differs at point %d: %v vs %v", c, transpose, k, i, out[i], all[i*cols+k])
					}
				}
			}
		}
	}
}

// TestWorkersDeterministic checks that the result does not depend on the
// number of goroutines: each output value is computed by the same sequence
// of operations whichever worker owns it, so results are bitwise equal.
func TestWorkersDeterministic(t *testing.T) {
	t.Parallel()
	g := mustGrid(t, Axis{Min: 0, Max: 1, N: 13}, Axis{Min: 0, Max: 1, N: 21})
	rng := rand.New(rand.NewPCG(5, 6))
	for _, c := range allOps(g) {
		op := mustDerivative(t, g, c).(*axisOp)
		for _, cols := range []int{1, 4} {
			src := randField(rng, g.Size()*cols)
			want := make([]float64, len(src))
			op.run(&op.fwd, want, src, cols, 1)
			for _, w := range []int{2, 3, 7, 1000} {
				got := make([]float64, len(src))
				op.run(&op.fwd, got, src, cols, min(w, op.outer*op.n))
				for i := range got {
					if got[i] != want[i] {
						t.Fatalf("%v cols=%d workers=%d: value %d = %v, want %v", c, cols, w, i, got[i], want[i])
					}
				}
			}
		}
	}
}

// fn1 is a smooth function of one coordinate with its first two derivatives.
type fn1 struct {
	f, d1, d2 func(x float64) float64
}

func sine(a, b float64) fn1 {
	return fn1{
		f:  func(x float64) float64 { return math.Sin(a*x + b) },
		d1: func(x float64) float64 { return a * math.Cos(a*x+b) },
		d2: func(x float64) float64 { return -a * a * math.Sin(a*x+b) },
	}
}

// maxError applies op to f(x_axis)·w(other coordinates) on g and returns
// the max-norm error against the exact derivative, over all points
// including the ends of the axis. The weight w makes the field vary along
// the other axes, so mixing up axes would show.
func maxError(g Grid, op Operator, axis, order int, fn fn1) float64 {
	size := g.Size()
	src, exact, got := make([]float64, size), make([]float64, size), make([]float64, size)
	p := make([]float64, g.Dims())
	for i := range size {
		g.Point(i, p)
		w := 1.0
		for a, x := range p {
			if a != axis {
				w *= 1 + 0.25*x*float64(a+1)
			}
		}
		src[i] = fn.f(p[axis]) * w
		if order == 1 {
			exact[i] = fn.d1(p[axis]) * w
		} else {
			exact[i] = fn.d2(p[axis]) * w
		}
	}
	op.Apply(got, src, 1)
	e := 0.0
	for i := range got {
		e = math.Max(e, math.Abs(got[i]-exact[i]))
	}
	return e
}

// TestConvergence measures the observed order of accuracy of every stencil
// on every axis of 2-D and 3-D grids. The tested axis is refined by halving
// its step from 20 to 320 intervals (the other axes stay at 4 points, since
// the operator acts along one axis only); the max-norm error, which includes
// the one-sided rows at the ends, gives the order log2(e_h/e_{h/2}).
//
// The observed order only tends to the design order as h → 0: on
// non-periodic axes the error maximum sits at the one-sided end rows, whose
// higher truncation terms are large, and the first halvings overshoot (FD4
// second derivative: 4.46 from 10 to 20 intervals, 4.41 from 20 to 40). The
// asymptotic range
// checked is the last three halvings, 40 → 320 intervals, where every order
// must be within 0.2 of 2 (FD2) or 4 (FD4); the observed values there lie in
// [3.87, 4.02] and [1.87, 2.00]. The range ends at 320 intervals because
// rounding, ≈ ε·Σ|c|·|f|/h^d ≈ 5e-10 for the FD4 second derivative there,
// must stay far below the truncation error (≈ 2e-8): at 640 intervals it
// already pulls the observed order down to ≈ 3.8.
func TestConvergence(t *testing.T) {
	t.Parallel()
	const tol = 0.2
	base := []int{20, 40, 80, 160, 320}
	other := Axis{Min: 0, Max: 1, N: 4}
	for _, dims := range []int{2, 3} {
		for axis := range dims {
			for _, periodic := range []bool{false, true} {
				if periodic && axis == 0 {
					continue
				}
				for _, order := range []int{1, 2} {
					for _, scheme := range []Scheme{FD2, FD4} {
						var fn fn1
						var tested Axis
						if periodic {
							// One full period over [Min, Max) with a phase,
							// so no grid point sits at a zero of every
							// derivative.
							tested = Axis{Min: -0.5, Max: 1.5, Periodic: true}
							fn = sine(2*math.Pi/2, 0.3)
						} else {
							tested = Axis{Min: -0.5, Max: 1.5}
							fn = sine(1.7, 0.3)
						}
						name := fmt.Sprintf("dims=%d/axis=%d/periodic=%v/order=%d/%v", dims, axis, periodic, order, scheme)
						errs := make([]float64, len(base))
						for k, m := range base {
							axes := make([]Axis, dims)
							for a := range axes {
								axes[a] = other
							}
							tested.N = m + 1
							if periodic {
								tested.N = m
							}
							axes[axis] = tested
							g := mustGrid(t, axes...)
							op := mustDerivative(t, g, opCase{axis, order, scheme})
							errs[k] = maxError(g, op, axis, order, fn)
						}
						want := 2.0
						if scheme == FD4 {
							want = 4
						}
						orders := make([]float64, len(errs)-1)
						for k := range orders {
							orders[k] = math.Log2(errs[k] / errs[k+1])
						}
						t.Logf("%s: errors %.3g orders %.3f", name, errs, orders)
						for k := len(orders) - 3; k < len(orders); k++ {
							if math.Abs(orders[k]-want) > tol {
								t.Errorf("%s: observed order %.3f between %d and %d intervals, want %v ± %v",
									name, orders[k], base[k], base[k+1], want, tol)
							}
						}
					}
				}
			}
		}
	}
}

// TestPolynomialExact checks that on non-periodic axes every stencil,
// including the one-sided ones, differentiates polynomials of degree up to
// p+d−1 exactly (p the scheme's accuracy, d the derivative order; this is
// at least the scheme's order p). The only error is rounding: the widest
// row has Σ|c| ≤ 54 over h^d and a handful of operations, so the error is
// below ≈ 300·ε·max|f|/h^d; the tolerance 1e3·ε·max|f|/h^d allows for that
// while a truncation error, O(h^p)·|f^(p+d)| relative to the same scale,
// would exceed it by many orders of magnitude.
func TestPolynomialExact(t *testing.T) {
	t.Parallel()
	const eps = 0x1p-52
	g := mustGrid(t, Axis{Min: -1, Max: 2, N: 12}, Axis{Min: 0, Max: 1, N: 9}, Axis{Min: -0.5, Max: 0.5, N: 7})
	for _, c := range allOps(g) {
		accuracy := 2
		if c.scheme == FD4 {
			accuracy = 4
		}
		deg := accuracy + c.order - 1
		coef := make([]float64, deg+1)
		for k := range coef {
			coef[k] = float64(k%3) - 0.75 + 0.1*float64(k)
		}
		fn := fn1{
			f:  func(x float64) float64 { return polyDeriv(coef, x, 0) },
			d1: func(x float64) float64 { return polyDeriv(coef, x, 1) },
			d2: func(x float64) float64 { return polyDeriv(coef, x, 2) },
		}
		op := mustDerivative(t, g, c)
		ax := g.Axes[c.axis]
		fmax := 0.0
		for _, x := range ax.Points() {
			fmax = math.Max(fmax, math.Abs(fn.f(x)))
		}
		// The weight of maxError along the other axes is at most 1.75·1.5.
		scale := 3 * fmax / math.Pow(ax.Step(), float64(c.order))
		if e := maxError(g, op, c.axis, c.order, fn); e > 1e3*eps*scale {
			t.Errorf("%v: degree-%d polynomial error %.3g, want ≤ %.3g", c, deg, e, 1e3*eps*scale)
		}
	}
}

// polyDeriv evaluates the d-th derivative of Σ coef[k] x^k at x.
func polyDeriv(coef []float64, x float64, d int) float64 {
	s := 0.0
	for k := len(coef) - 1; k >= d; k-- {
		f := 1.0
		for j := range d {
			f *= float64(k - j)
		}
		s = s*x + f*coef[k]
	}
	return s
}

func TestDerivativeErrors(t *testing.T) {
	t.Parallel()
	g := mustGrid(t, Axis{Min: 0, Max: 1, N: 5}, Axis{Min: 0, Max: 1, N: 4, Periodic: true}, Axis{Min: 0, Max: 1, N: 3})
	for _, test := range []struct {
		axis, order int
		scheme      Scheme
		want        string
	}{
		{3, 1, FD2, "out of range"},
		{-1, 1, FD2, "out of range"},
		{1, 3, FD2, "order 3"},
		{1, 1, Scheme(0), "unknown scheme"},
		{0, 2, FD4, "at least 6 points on a non-periodic axis, have 5"},
		{1, 1, FD4, "axis 1 (x)"},
		{1, 1, FD4, "at least 5 points on a periodic axis, have 4"},
		{2, 2, FD2, "at least 4 points"},
	} {
		_, err := Derivative(g, test.axis, test.order, test.scheme)
		if err == nil || !strings.Contains(err.Error(), test.want) {
			t.Errorf("Derivative(axis=%d, order=%d, %v) error = %v, want error containing %q",
				test.axis, test.order, test.scheme, err, test.want)
		}
	}
	// The same axes are long enough for the narrower stencils.
	for _, c := range []opCase{{0, 1, FD4}, {1, 2, FD2}, {2, 1, FD2}} {
		if _, err := Derivative(g, c.axis, c.order, c.scheme); err != nil {
			t.Errorf("%v: unexpected error: %v", c, err)
		}
	}
	if _, err := Derivative(Grid{}, 0, 1, FD2); err == nil {
		t.Error("Derivative on an empty grid: no error")
	}
}

func TestApplyPanics(t *testing.T) {
	t.Parallel()
	g := mustGrid(t, Axis{Min: 0, Max: 1, N: 5}, Axis{Min: 0, Max: 1, N: 6})
	op := mustDerivative(t, g, opCase{1, 1, FD2})
	n := g.Size()
	for _, test := range []struct {
		name string
		f    func()
	}{
		{"short dst", func() { op.Apply(make([]float64, n-1), make([]float64, n), 1) }},
		{"short src", func() { op.ApplyTranspose(make([]float64, 2*n), make([]float64, n), 2) }},
		{"zero cols", func() { op.Apply(nil, nil, 0) }},
		{"identity", func() { Identity(g).Apply(make([]float64, n), make([]float64, n), 2) }},
	} {
		if !panics(test.f) {
			t.Errorf("%s: did not panic", test.name)
		}
	}
}

func TestIdentity(t *testing.T) {
	t.Parallel()
	g := mustGrid(t, Axis{Min: 0, Max: 1, N: 3}, Axis{Min: 0, Max: 1, N: 4})
	rng := rand.New(rand.NewPCG(7, 8))
	src := randField(rng, g.Size()*2)
	for _, apply := range []func(dst, src []float64, cols int){Identity(g).Apply, Identity(g).ApplyTranspose} {
		dst := make([]float64, len(src))
		apply(dst, src, 2)
		for i := range dst {
			if dst[i] != src[i] {
				t.Fatalf("identity changed value %d: %v → %v", i, src[i], dst[i])
			}
		}
	}
}

func TestParseScheme(t *testing.T) {
	t.Parallel()
	for _, test := range []struct {
		in   string
		want Scheme
		ok   bool
	}{
		{"fd2", FD2, true},
		{"FD4", FD4, true},
		{"fd3", 0, false},
		{"", 0, false},
	} {
		got, err := ParseScheme(test.in)
		if (err == nil) != test.ok || got != test.want {
			t.Errorf("ParseScheme(%q) = %v, %v, want %v, ok=%v", test.in, got, err, test.want, test.ok)
		}
		if test.ok {
			if got.String() != strings.ToLower(test.in) {
				t.Errorf("%v.String() = %q, want %q", got, got.String(), strings.ToLower(test.in))
			}
			var s Scheme
			text, err := got.MarshalText()
			if err != nil || s.UnmarshalText(text) != nil || s != got {
				t.Errorf("%v: text round trip gave %v (%v)", got, s, err)
			}
		}
	}
	if _, err := Scheme(0).MarshalText(); err == nil {
		t.Error("MarshalText of the zero Scheme: no error")
	}
}

// BenchmarkApply measures Apply on the 101×1024 (t, x) grid of a typical
// expert problem. SetBytes counts one read of src and one write of dst, so
// MB/s is the effective memory bandwidth.
func BenchmarkApply(b *testing.B) {
	g := mustGrid(b, Axis{Min: 0, Max: 1, N: 101}, Axis{Min: 0, Max: 1, N: 1024})
	for _, cols := range []int{16, 64} {
		for _, c := range []opCase{{0, 1, FD2}, {1, 2, FD2}, {0, 1, FD4}, {1, 2, FD4}} {
			for _, transpose := range []bool{false, true} {
				name := fmt.Sprintf("cols=%d/%v/T=%v", cols, c, transpose)
				b.Run(name, func(b *testing.B) {
					op := mustDerivative(b, g, c)
					apply := op.Apply
					if transpose {
						apply = op.ApplyTranspose
					}
					n := g.Size() * cols
					src := randField(rand.New(rand.NewPCG(1, 1)), n)
					dst := make([]float64, n)
					b.SetBytes(int64(2 * 8 * n))
					b.ReportAllocs()
					for b.Loop() {
						apply(dst, src, cols)
					}
				})
			}
		}
	}
}

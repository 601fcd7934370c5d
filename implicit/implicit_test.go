package implicit

import (
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"
)

// system is G(x, θ) = M x + x³ (elementwise) + θ ⊙ x − C θ, with M
// diagonally dominant so that ∂G/∂x = M + diag(3x² + θ) is invertible for
// θ ≥ 0. M symmetric makes the Jacobian symmetric.
type system struct {
	n    int
	m, c *mat.Dense
}

func newSystem(n int, symmetric bool, rng *rand.Rand) *system {
	m := mat.NewDense(n, n, nil)
	c := mat.NewDense(n, n, nil)
	for i := range n {
		for j := range n {
			m.Set(i, j, 0.3*rng.NormFloat64())
			c.Set(i, j, rng.NormFloat64())
		}
	}
	if symmetric {
		var s mat.Dense
		s.Add(m, m.T())
		m = &s
	}
	for i := range n {
		m.Set(i, i, m.At(i, i)+float64(2*n))
	}
	return &system{n: n, m: m, c: c}
}

func (s *system) g(x, theta []float64) []float64 {
	out := make([]float64, s.n)
	var mx, ct mat.VecDense
	mx.MulVec(s.m, mat.NewVecDense(s.n, x))
	ct.MulVec(s.c, mat.NewVecDense(s.n, theta))
	for i := range out {
		out[i] = mx.AtVec(i) + x[i]*x[i]*x[i] + theta[i]*x[i] - ct.AtVec(i)
	}
	return out
}

func (s *system) jx(x, theta []float64) *mat.Dense {
	j := mat.DenseCopyOf(s.m)
	for i := range s.n {
		j.Set(i, i, j.At(i, i)+3*x[i]*x[i]+theta[i])
	}
	return j
}

// solve finds the root by Newton's method to rounding level.
func (s *system) solve(theta []float64) []float64 {
	x := make([]float64, s.n)
	for it := 0; it < 50; it++ {
		g := s.g(x, theta)
		var dx mat.VecDense
		if err := dx.SolveVec(s.jx(x, theta), mat.NewVecDense(s.n, g)); err != nil {
			panic(err)
		}
		for i := range x {
			x[i] -= dx.AtVec(i)
		}
		if mat.Norm(&dx, 2) < 1e-15 {
			break
		}
	}
	return x
}

func (s *system) root(x, theta []float64, symmetric bool) Root {
	jx := s.jx(x, theta)
	return Root{
		N: s.n, P: s.n, Symmetric: symmetric,
		VJPx: func(dst, w []float64) {
			var v mat.VecDense
			v.MulVec(jx.T(), mat.NewVecDense(s.n, w))
			copy(dst, v.RawVector().Data)
		},
		// ∂G_i/∂θ_j = δ_ij x_i − C_ij.
		VJPTheta: func(dst, w []float64) {
			var v mat.VecDense
			v.MulVec(s.c.T(), mat.NewVecDense(s.n, w))
			for j := range dst {
				dst[j] = w[j]*x[j] - v.AtVec(j)
			}
		},
	}
}

// The gradient of L = aᵀx*(θ) from VJP must match central differences of
// the re-solved root. With step 1e-5 the truncation error is O(h²) ≈ 1e-10
// relative and the rounding error about ε/h ≈ 1e-11, so 1e-7 leaves margin.
func TestVJPMatchesFiniteDifferences(t *testing.T) {
	for _, tc := range []struct {
		name      string
		symmetric bool
		method    Method
	}{
		{"dense nonsymmetric", false, Dense},
		{"gmres nonsymmetric", false, Krylov},
		{"dense symmetric", true, Dense},
		{"minres symmetric", true, Krylov},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(7, 8))
			const n = 12
			s := newSystem(n, tc.symmetric, rng)
			theta := make([]float64, n)
			a := make([]float64, n)
			for i := range theta {
				theta[i] = rng.Float64()
				a[i] = rng.NormFloat64()
			}
			x := s.solve(theta)
			got, st, err := VJP(s.root(x, theta, tc.symmetric), a, Settings{Method: tc.method})
			if err != nil {
				t.Fatal(err)
			}
			loss := func(th []float64) float64 {
				xs := s.solve(th)
				l := 0.0
				for i := range xs {
					l += a[i] * xs[i]
				}
				return l
			}
			const h = 1e-5
			for j := range n {
				tp := append([]float64(nil), theta...)
				tm := append([]float64(nil), theta...)
				tp[j] += h
				tm[j] -= h
				fd := (loss(tp) - loss(tm)) / (2 * h)
				if math.Abs(fd-got[j]) > 1e-7*math.Max(1, math.Abs(fd)) {
					t.Errorf("θ̄[%d] = %.12g, finite difference %.12g (iterations %d)", j, got[j], fd, st.Iterations)
				}
			}
		})
	}
}

func TestVJPErrors(t *testing.T) {
	ok := Root{N: 2, P: 1, VJPx: func(dst, w []float64) { copy(dst, w) }, VJPTheta: func(dst, w []float64) { dst[0] = w[0] }}
	singular := ok
	singular.VJPx = func(dst, w []float64) { clear(dst) }
	for _, tc := range []struct {
		name string
		r    Root
		xbar []float64
		s    Settings
	}{
		{"missing VJP", Root{N: 2, P: 1}, []float64{1, 2}, Settings{}},
		{"short cotangent", ok, []float64{1}, Settings{}},
		{"NaN cotangent", ok, []float64{1, math.NaN()}, Settings{}},
		{"singular dense", singular, []float64{1, 2}, Settings{}},
		{"singular krylov", singular, []float64{1, 2}, Settings{Method: Krylov}},
	} {
		if _, _, err := VJP(tc.r, tc.xbar, tc.s); err == nil {
			t.Errorf("%s: no error", tc.name)
		}
	}
	if got, _, err := VJP(ok, []float64{3, 4}, Settings{}); err != nil || got[0] != -3 {
		t.Fatalf("identity root: θ̄ = %v, %v; want [-3]", got, err)
	}
}

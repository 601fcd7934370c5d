package model

import (
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"
)

func testRandVec(rng *rand.Rand, n int) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = rng.NormFloat64()
	}
	return v
}

// testDot is the loss L = Σ w·y used by the gradient checks: a random linear
// functional of the output, whose cotangent is w itself, so every output
// entry is exercised with its own weight.
func testDot(a, b []float64) float64 {
	s := 0.0
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}

// TestMLPGradient checks Backward against central differences.
//
// With step h = 1e-5 the truncation error of a central difference is
// about h²·|∂³L|/6 ≈ 1e-11 for these O(1) smooth networks, and the
// rounding error about ε·|L|/h ≈ 1e-16·10/1e-5 = 1e-10, so analytic and
// numerical derivatives of size O(1) agree to about 1e-10. The tolerance
// 1e-7·max(1, |d|) leaves three orders of margin while still catching
// any wrong term, which would be off by O(1e-2) or more.
func TestMLPGradient(t *testing.T) {
	const h, tol = 1e-5, 1e-7
	tests := []struct {
		name  string
		sizes []int
		act   Activation
		p     int
	}{
		{"gelu", []int{3, 5, 4, 2}, ActGELU, 7},
		{"tanh", []int{3, 5, 4, 2}, ActTanh, 7},
		{"linear", []int{4, 3}, ActGELU, 5},
		{"multi-chunk", []int{2, 6, 3}, ActTanh, 3*mlpMinChunkPoints + 5},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, 2))
			m, err := NewMLP(tc.sizes, tc.act, rng)
			if err != nil {
				t.Fatal(err)
			}
			// Non-zero biases, so that their effect on the
			// activations is part of the check.
			for _, p := range m.Params() {
				for i := range p.Value {
					p.Value[i] += 0.1 * rng.NormFloat64()
				}
			}
			x := testRandVec(rng, tc.p*m.In())
			w := testRandVec(rng, tc.p*m.Out())
			loss := func() float64 {
				y, err := m.Forward(x)
				if err != nil {
					t.Fatal(err)
				}
				return testDot(w, y)
			}
			loss()
			ZeroGrad(m.Params())
			dx, err := m.Backward(w)
			if err != nil {
				t.Fatal(err)
			}
			worst := 0.0
			check := func(what string, v []float64, i int, got float64) {
				t.Helper()
				old := v[i]
				v[i] = old + h
				lp := loss()
				v[i] = old - h
				lm := loss()
				v[i] = old
				want := (lp - lm) / (2 * h)
				d := math.Abs(got - want)
				worst = max(worst, d/max(1, math.Abs(want)))
				if d > tol*max(1, math.Abs(want)) {
					t.Errorf("%s[%d]: backward %.12g, central difference %.12g (diff %.3g)", what, i, got, want, d)
				}
			}
			for _, p := range m.Params() {
				for i := range p.Value {
					check(p.Name, p.Value, i, p.Grad[i])
				}
			}
			for i := range x {
				check("x", x, i, dx[i])
			}
			t.Logf("largest scaled difference %.2g (tolerance %g)", worst, tol)
		})
	}
}

// TestMLPBackwardAccumulates checks that Backward adds to Param.Grad
// rather than overwriting it, which callers rely on to sum over instances.
func TestMLPBackwardAccumulates(t *testing.T) {
	m, err := NewMLP([]int{2, 4, 3}, ActGELU, rand.New(rand.NewPCG(3, 4)))
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(5, 6))
	x, dy := testRandVec(rng, 10), testRandVec(rng, 15)
	if _, err := m.Forward(x); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Backward(dy); err != nil {
		t.Fatal(err)
	}
	once := make([][]float64, 0)
	for _, p := range m.Params() {
		once = append(once, slices.Clone(p.Grad))
	}
	if _, err := m.Backward(dy); err != nil {
		t.Fatal(err)
	}
	for i, p := range m.Params() {
		for k := range p.Grad {
			// Doubling is exact, so equality is the right test.
			if p.Grad[k] != 2*once[i][k] {
				t.Fatalf("%s[%d]: after two backward passes %v, want 2×%v", p.Name, k, p.Grad[k], once[i][k])
			}
		}
	}
}

// TestMLPDeterministic checks that outputs and gradients have the same bits
// whatever GOMAXPROCS is, since the chunking depends only on the number of
// points.
func TestMLPDeterministic(t *testing.T) {
	run := func(procs int) (y, dx []float64, grads [][]float64) {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
		m, err := NewMLP([]int{3, 16, 16, 4}, ActGELU, rand.New(rand.NewPCG(7, 8)))
		if err != nil {
			t.Fatal(err)
		}
		rng := rand.New(rand.NewPCG(9, 10))
		const p = 1000 // 32 chunks of 32 points, the last one short
		x, dy := testRandVec(rng, p*3), testRandVec(rng, p*4)
		if y, err = m.Forward(x); err != nil {
			t.Fatal(err)
		}
		if dx, err = m.Backward(dy); err != nil {
			t.Fatal(err)
		}
		for _, q := range m.Params() {
			grads = append(grads, q.Grad)
		}
		return y, dx, grads
	}
	y1, dx1, g1 := run(1)
	for _, procs := range []int{2, 3, 8} {
		y, dx, g := run(procs)
		if !sameBits(y, y1) || !sameBits(dx, dx1) {
			t.Errorf("GOMAXPROCS=%d: forward or input gradient differs from GOMAXPROCS=1", procs)
		}
		for i := range g {
			if !sameBits(g[i], g1[i]) {
				t.Errorf("GOMAXPROCS=%d: gradient %d differs from GOMAXPROCS=1", procs, i)
			}
		}
	}
}

func sameBits(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Float64bits(a[i]) != math.Float64bits(b[i]) {
			return false
		}
	}
	return true
}

// TestMLPInit checks the shapes, the names and the variance of the
// initial weights: He for GELU hidden layers, Glorot elsewhere.
func TestMLPInit(t *testing.T) {
	tests := []struct {
		act  Activation
		want []float64 // weight variance per layer
	}{
		{ActGELU, []float64{2.0 / 200, 2.0 / (400 + 300)}},
		{ActTanh, []float64{2.0 / (200 + 400), 2.0 / (400 + 300)}},
	}
	for _, tc := range tests {
		m, err := NewMLP([]int{200, 400, 300}, tc.act, rand.New(rand.NewPCG(11, 12)))
		if err != nil {
			t.Fatal(err)
		}
		ps := m.Params()
		wantNames := []string{"mlp.l0.w", "mlp.l0.b", "mlp.l1.w", "mlp.l1.b"}
		wantShapes := [][]int{{200, 400}, {400}, {400, 300}, {300}}
		for i, p := range ps {
			if p.Name != wantNames[i] || !slices.Equal(p.Shape, wantShapes[i]) {
				t.Errorf("%v: param %d is %s %v, want %s %v", tc.act, i, p.Name, p.Shape, wantNames[i], wantShapes[i])
			}
		}
		for l, want := range tc.want {
			w := ps[2*l].Value
			var s float64
			for _, v := range w {
				s += v * v
			}
			// The sample variance of n ≥ 80000 normal draws has a
			// relative standard deviation √(2/n) ≤ 0.5 %; 3 % is six
			// standard deviations.
			if got := s / float64(len(w)); math.Abs(got/want-1) > 0.03 {
				t.Errorf("%v layer %d: weight variance %.4g, want %.4g", tc.act, l, got, want)
			}
			for _, b := range ps[2*l+1].Value {
				if b != 0 {
					t.Fatalf("%v layer %d: bias not zero", tc.act, l)
				}
			}
		}
	}
}

func TestMLPErrors(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	ctor := []struct {
		name  string
		sizes []int
		act   Activation
		rng   *rand.Rand
	}{
		{"one size", []int{3}, ActGELU, rng},
		{"zero width", []int{3, 0, 2}, ActGELU, rng},
		{"negative width", []int{3, -1}, ActTanh, rng},
		{"bad activation", []int{3, 2}, Activation(7), rng},
		{"nil rng", []int{3, 2}, ActGELU, nil},
	}
	for _, tc := range ctor {
		if _, err := NewMLP(tc.sizes, tc.act, tc.rng); err == nil {
			t.Errorf("NewMLP(%s): no error", tc.name)
		}
	}

	m, err := NewMLP([]int{3, 4, 2}, ActGELU, rng)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Backward(make([]float64, 2)); err == nil {
		t.Error("Backward before Forward: no error")
	}
	for _, n := range []int{0, 4, 7} {
		if _, err := m.Forward(make([]float64, n)); err == nil {
			t.Errorf("Forward with %d inputs for 3 features: no error", n)
		}
	}
	if _, err := m.Forward(make([]float64, 6)); err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{0, 2, 5} {
		if _, err := m.Backward(make([]float64, n)); err == nil {
			t.Errorf("Backward with %d cotangents for 2 points × 2 outputs: no error", n)
		}
	}
}

func TestParseActivation(t *testing.T) {
	for _, a := range []Activation{ActGELU, ActTanh} {
		got, err := ParseActivation(a.String())
		if err != nil || got != a {
			t.Errorf("ParseActivation(%q) = %v, %v", a.String(), got, err)
		}
	}
	if _, err := ParseActivation("relu"); err == nil {
		t.Error("ParseActivation(relu): no error")
	}
}

// BenchmarkMLP measures one forward and backward pass over a grid-sized
// batch.
func BenchmarkMLP(b *testing.B) {
	m, err := NewMLP([]int{4, 64, 64, 32}, ActGELU, rand.New(rand.NewPCG(1, 2)))
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	const p = 4096
	x, dy := testRandVec(rng, p*4), testRandVec(rng, p*32)
	for b.Loop() {
		if _, err := m.Forward(x); err != nil {
			b.Fatal(err)
		}
		if _, err := m.Backward(dy); err != nil {
			b.Fatal(err)
		}
	}
}

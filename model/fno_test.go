package model

import (
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

func fnoPoints(cfg FNOConfig) int {
	n := 1
	for _, v := range cfg.Grid {
		n *= v
	}
	return n
}

// TestFNOGradients checks every entry of every parameter gradient and of the
// input gradient of the scalar loss ⟨c, y⟩ against central differences with
// h = 1e-5. The network is smooth, so the truncation error is O(h²) ≈ 1e-10
// and the rounding error ε|L|/h ≈ 1e-10; the tolerance 1e-6 is on
// |fd − an| / max(|an|, 1e-2), the floor keeping near-zero gradients from
// dividing rounding noise by nothing. Measured: at most about 5e-8.
func TestFNOGradients(t *testing.T) {
	const (
		h     = 1e-5
		tol   = 1e-6
		floor = 1e-2
	)
	for i, tc := range []struct {
		name string
		cfg  FNOConfig
	}{
		{"2d-activate-last", FNOConfig{Grid: []int{8, 12}, In: 3, Width: 4, Layers: 2, Modes: []int{3, 4}, Hidden: 5, Out: 3, ActivateLast: true}},
		{"2d-nyquist-linear-out", FNOConfig{Grid: []int{8, 12}, In: 2, Width: 3, Layers: 3, Modes: []int{4, 7}, Hidden: 4, Out: 2}},
		{"3d-activate-last", FNOConfig{Grid: []int{6, 8, 8}, In: 4, Width: 3, Layers: 2, Modes: []int{2, 3, 3}, Hidden: 4, Out: 2, ActivateLast: true}},
	} {
		cfg := tc.cfg
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(10, uint64(i)))
			f, err := NewFNO(cfg, rng)
			if err != nil {
				t.Fatal(err)
			}
			np := fnoPoints(cfg)
			x := specRandVec(rng, np*cfg.In)
			c := specRandVec(rng, np*cfg.Out)
			loss := func() float64 {
				y, err := f.Forward(x)
				if err != nil {
					t.Fatal(err)
				}
				return specDot(c, y)
			}
			loss()
			ZeroGrad(f.Params())
			dx, err := f.Backward(c)
			if err != nil {
				t.Fatal(err)
			}
			if err := CheckFinite(f.Params()); err != nil {
				t.Fatal(err)
			}

			check := func(label string, v, an []float64) {
				t.Helper()
				var worst float64
				for j := range v {
					old := v[j]
					v[j] = old + h
					lp := loss()
					v[j] = old - h
					lm := loss()
					v[j] = old
					fd := (lp - lm) / (2 * h)
					worst = max(worst, math.Abs(fd-an[j])/max(math.Abs(an[j]), floor))
				}
				if worst > tol {
					t.Errorf("%s: max relative error %.3g over %d entries, want ≤ %g", label, worst, len(v), tol)
				} else {
					t.Logf("%s: max relative error %.3g over %d entries", label, worst, len(v))
				}
			}
			for _, p := range f.Params() {
				check(p.Name, p.Value, slices.Clone(p.Grad))
			}
			check("input", x, dx)
		})
	}
}

func TestFNOShapes(t *testing.T) {
	cfg := FNOConfig{Grid: []int{8, 12}, In: 3, Width: 4, Layers: 2, Modes: []int{3, 4}, Hidden: 5, Out: 3}
	f, err := NewFNO(cfg, rand.New(rand.NewPCG(11, 0)))
	if err != nil {
		t.Fatal(err)
	}
	// lift 3·4+4, per layer 6·4·4·4·2 + 4·4+4, projections 4·5+5 and 5·3+3.
	wantParams := 3*4 + 4 + 2*(6*4*4*4*2+4*4+4) + 4*5 + 5 + 5*3 + 3
	var got int
	for _, p := range f.Params() {
		got += len(p.Value)
	}
	if got != wantParams {
		t.Errorf("%d parameter values, want %d", got, wantParams)
	}
	y, err := f.Forward(make([]float64, 96*3))
	if err != nil {
		t.Fatal(err)
	}
	if len(y) != 96*3 {
		t.Errorf("output length %d, want %d", len(y), 96*3)
	}
}

func TestFNOErrors(t *testing.T) {
	good := FNOConfig{Grid: []int{8, 12}, In: 3, Width: 4, Layers: 2, Modes: []int{3, 4}, Hidden: 5, Out: 3}
	for _, tc := range []struct {
		name string
		edit func(*FNOConfig)
		want string
	}{
		{"1d grid", func(c *FNOConfig) { c.Grid, c.Modes = []int{16}, []int{4} }, "1 grid axes"},
		{"no input", func(c *FNOConfig) { c.In = 0 }, "In is 0"},
		{"no width", func(c *FNOConfig) { c.Width = -1 }, "Width is -1"},
		{"no layers", func(c *FNOConfig) { c.Layers = 0 }, "Layers is 0"},
		{"no hidden", func(c *FNOConfig) { c.Hidden = 0 }, "Hidden is 0"},
		{"no output", func(c *FNOConfig) { c.Out = 0 }, "Out is 0"},
		{"mode count", func(c *FNOConfig) { c.Modes = []int{3} }, "1 mode counts"},
		{"too many modes", func(c *FNOConfig) { c.Modes = []int{3, 8} }, "8 modes on last axis"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := good
			tc.edit(&cfg)
			_, err := NewFNO(cfg, rand.New(rand.NewPCG(12, 0)))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
	if _, err := NewFNO(good, nil); err == nil {
		t.Error("nil random source accepted")
	}

	f, err := NewFNO(good, rand.New(rand.NewPCG(12, 1)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Backward(make([]float64, 96*3)); err == nil || !strings.Contains(err.Error(), "no forward pass") {
		t.Errorf("backward before forward: error %v", err)
	}
	if _, err := f.Forward(make([]float64, 95*3)); err == nil || !strings.Contains(err.Error(), "input length 285, want 288") {
		t.Errorf("forward with wrong length: error %v", err)
	}
	if _, err := f.Backward(make([]float64, 96*3)); err == nil || !strings.Contains(err.Error(), "no forward pass") {
		t.Errorf("backward after a failed forward: error %v", err)
	}
	if _, err := f.Forward(make([]float64, 96*3)); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Backward(make([]float64, 96*2)); err == nil || !strings.Contains(err.Error(), "cotangent length 192, want 288") {
		t.Errorf("backward with wrong length: error %v", err)
	}
}

// TestFNODeterministic runs the same network with 1 and 4 threads on a grid
// of several pointwise chunks and wants bitwise equal outputs and gradients.
func TestFNODeterministic(t *testing.T) {
	cfg := FNOConfig{Grid: []int{40, 64}, In: 3, Width: 6, Layers: 2, Modes: []int{4, 5}, Hidden: 7, Out: 4, ActivateLast: true}
	np := fnoPoints(cfg)
	if np <= 2*fnoChunk {
		t.Fatalf("grid of %d points does not span several chunks of %d", np, fnoChunk)
	}
	run := func(procs int) (y, dx []float64, grads [][]float64) {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
		rng := rand.New(rand.NewPCG(13, 0))
		f, err := NewFNO(cfg, rng)
		if err != nil {
			t.Fatal(err)
		}
		x := specRandVec(rng, np*cfg.In)
		c := specRandVec(rng, np*cfg.Out)
		if y, err = f.Forward(x); err != nil {
			t.Fatal(err)
		}
		if dx, err = f.Backward(c); err != nil {
			t.Fatal(err)
		}
		for _, p := range f.Params() {
			grads = append(grads, p.Grad)
		}
		return y, dx, grads
	}
	y1, dx1, g1 := run(1)
	y4, dx4, g4 := run(4)
	if !slices.Equal(y1, y4) {
		t.Error("outputs differ between GOMAXPROCS 1 and 4")
	}
	if !slices.Equal(dx1, dx4) {
		t.Error("input gradients differ between GOMAXPROCS 1 and 4")
	}
	for i := range g1 {
		if !slices.Equal(g1[i], g4[i]) {
			t.Errorf("gradient of parameter %d differs between GOMAXPROCS 1 and 4", i)
		}
	}
}

// BenchmarkFNOForwardBackward times one forward and backward pass of an FNO
// the size of one DS expert's basis network (101×256 grid).
func BenchmarkFNOForwardBackward(b *testing.B) {
	cfg := FNOConfig{Grid: []int{101, 256}, In: 3, Width: 32, Layers: 4, Modes: []int{8, 8}, Hidden: 64, Out: 16, ActivateLast: true}
	rng := rand.New(rand.NewPCG(14, 0))
	f, err := NewFNO(cfg, rng)
	if err != nil {
		b.Fatal(err)
	}
	np := fnoPoints(cfg)
	x := specRandVec(rng, np*cfg.In)
	c := specRandVec(rng, np*cfg.Out)
	start := time.Now()
	for b.Loop() {
		if _, err := f.Forward(x); err != nil {
			b.Fatal(err)
		}
		if _, err := f.Backward(c); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(time.Since(start).Seconds()*1e3/float64(b.N), "ms/op")
}

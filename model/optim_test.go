package model

import (
	"math"
	"slices"
	"strings"
	"testing"
)

func newTestParam(name string, values ...float64) *Param {
	p := NewParam(name, len(values))
	copy(p.Value, values)
	return p
}

// TestAdamTwoSteps follows Adam by hand for two steps on two coordinates
// with β₁ = 0.9, β₂ = 0.999, ε = 1e-8 and lr = 0.1.
//
// Coordinate 0 starts at 1 with gradients 0.5 then −0.25:
//
//	t=1: m = 0.05, v = 0.00025, m̂ = 0.5, v̂ = 0.25,
//	     θ = 1 − 0.1·0.5/(0.5+1e-8)                       = 0.90000000199999996…
//	t=2: m = 0.045 − 0.025 = 0.02, v = 0.00024975 + 0.0000625 = 0.00031225,
//	     m̂ = 0.02/0.19, v̂ = 0.00031225/0.001999,
//	     θ = 0.900000002 − 0.1·m̂/(√v̂ + 1e-8)             = 0.87336629870784616…
//
// Coordinate 1 starts at −2 with gradients 4 then 1 (m = 0.4, 0.46;
// v = 0.016, 0.016984), ending at −2.18305975283259445…. The values were
// evaluated in 40-digit decimal arithmetic; float64 evaluation of the
// same formulas differs by a few ulp, hence the tolerance 1e-14.
func TestAdamTwoSteps(t *testing.T) {
	p := newTestParam("w", 1, -2)
	a := NewAdam()
	grads := [][]float64{{0.5, 4}, {-0.25, 1}}
	want := [][]float64{
		{0.9000000019999999600000008, -2.0999999997500000006249999984},
		{0.8733662987078461625593764, -2.1830597528325944495412015899},
	}
	wantM := [][]float64{{0.05, 0.4}, {0.02, 0.46}}
	wantV := [][]float64{{0.00025, 0.016}, {0.00031225, 0.016984}}
	for s := range grads {
		copy(p.Grad, grads[s])
		if err := a.Step([]*Param{p}, 0.1); err != nil {
			t.Fatal(err)
		}
		st := a.State()
		for i := range 2 {
			if d := math.Abs(p.Value[i] - want[s][i]); d > 1e-14 {
				t.Errorf("step %d: θ[%d] = %.17g, want %.17g", s+1, i, p.Value[i], want[s][i])
			}
			// 1−β rounds with relative error 1e-15 in float64.
			if !closeRel(st["m/w"][i], wantM[s][i], 1e-14) {
				t.Errorf("step %d: m[%d] = %.17g, want %.17g", s+1, i, st["m/w"][i], wantM[s][i])
			}
			if !closeRel(st["v/w"][i], wantV[s][i], 1e-14) {
				t.Errorf("step %d: v[%d] = %.17g, want %.17g", s+1, i, st["v/w"][i], wantV[s][i])
			}
		}
		if a.Steps() != s+1 || st["step"][0] != float64(s+1) {
			t.Errorf("step %d: Steps() = %d, state step %v", s+1, a.Steps(), st["step"])
		}
	}
}

// TestAdamWDecoupled checks that AdamW's decay acts on the value only: the
// moments are Adam's to the bit (the gradient never sees the decay), the
// gradient is left unchanged, and from the same starting value the result
// differs from Adam's by exactly −lr·λ·θ. With zero gradients, where Adam
// stands still, AdamW shrinks θ by the factor 1 − lr·λ per step, not by a
// normalised step of size lr as an L2 term folded into the gradient
// would.
func TestAdamWDecoupled(t *testing.T) {
	const lr, wd = 0.01, 0.1
	grads := [][]float64{{0.3, -1, 0}, {0.2, 0.5, 0}, {-0.7, 0.1, 0}}
	pa := newTestParam("w", 1.5, -0.5, 2)
	pw := newTestParam("w", 1.5, -0.5, 2)
	adam, adamw := NewAdam(), NewAdamW(wd)
	for s, g := range grads {
		copy(pa.Grad, g)
		copy(pw.Grad, g)
		// Start Adam from AdamW's value so that only this step's
		// update is compared; Adam's moments do not depend on θ.
		copy(pa.Value, pw.Value)
		before := slices.Clone(pw.Value)
		if err := adam.Step([]*Param{pa}, lr); err != nil {
			t.Fatal(err)
		}
		if err := adamw.Step([]*Param{pw}, lr); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(pw.Grad, g) {
			t.Errorf("step %d: AdamW changed the gradient to %v", s+1, pw.Grad)
		}
		sa, sw := adam.State(), adamw.State()
		if !sameBits(sa["m/w"], sw["m/w"]) || !sameBits(sa["v/w"], sw["v/w"]) {
			t.Errorf("step %d: AdamW moments %v %v differ from Adam's %v %v", s+1, sw["m/w"], sw["v/w"], sa["m/w"], sa["v/w"])
		}
		for i := range before {
			// Both sides are differences of O(1) numbers: a few
			// ulp of 2 is below 1e-15.
			if d := math.Abs((pw.Value[i] - pa.Value[i]) + lr*wd*before[i]); d > 1e-15 {
				t.Errorf("step %d coord %d: AdamW − Adam = %.17g, want −lr·λ·θ = %.17g", s+1, i, pw.Value[i]-pa.Value[i], -lr*wd*before[i])
			}
		}
		if pa.Value[2] != before[2] {
			t.Errorf("step %d: Adam moved a coordinate with zero gradient to %v", s+1, pa.Value[2])
		}
	}
	if want := 2 * (1 - lr*wd) * (1 - lr*wd) * (1 - lr*wd); math.Abs(pw.Value[2]-want) > 1e-15 {
		t.Errorf("zero-gradient coordinate after 3 AdamW steps: %.17g, want %.17g", pw.Value[2], want)
	}
}

// TestAdamWZeroDecayIsAdam checks that AdamW with λ = 0 is Adam to the bit,
// so that a config switching between them changes nothing else.
func TestAdamWZeroDecayIsAdam(t *testing.T) {
	pa := newTestParam("w", 0.3, -0.1)
	pw := newTestParam("w", 0.3, -0.1)
	adam, adamw := NewAdam(), NewAdamW(0)
	for s := range 5 {
		for i := range pa.Grad {
			g := math.Sin(float64(3*s + i))
			pa.Grad[i], pw.Grad[i] = g, g
		}
		if err := adam.Step([]*Param{pa}, 0.05); err != nil {
			t.Fatal(err)
		}
		if err := adamw.Step([]*Param{pw}, 0.05); err != nil {
			t.Fatal(err)
		}
	}
	if !sameBits(pa.Value, pw.Value) {
		t.Errorf("AdamW(0) = %v, Adam = %v", pw.Value, pa.Value)
	}
}

// TestLionSign checks that Lion moves every coordinate by exactly lr in
// the direction of sign(β₁m + (1−β₁)g), whatever the gradient's size, and
// that the momentum, interpolated with β₂, can outvote a small opposite
// gradient.
func TestLionSign(t *testing.T) {
	const lr = 0.25 // a power of two, so that θ ± lr is exact
	p := newTestParam("w", 1, 1, 1, 1)
	l := NewLion(0)
	// Step 1: m = 0, so c = 0.1·g and the update is −lr·sign(g).
	copy(p.Grad, []float64{1e-12, -3e5, 0, 2})
	if err := l.Step([]*Param{p}, lr); err != nil {
		t.Fatal(err)
	}
	if want := []float64{0.75, 1.25, 1, 0.75}; !slices.Equal(p.Value, want) {
		t.Errorf("after step 1: %v, want %v", p.Value, want)
	}
	// m = 0.01·g₁ = (1e-14, −3e3, 0, 0.02). Step 2 gradients:
	// coord 0: −1e-12 → c = 0.9e-14 − 1e-13 < 0: moves up;
	// coord 1: +1 → c = −2700 + 0.1 < 0: momentum wins, moves up;
	// coord 2: 0 → c = 0: stays;
	// coord 3: −0.1 → c = 0.018 − 0.01 > 0: momentum wins, moves down.
	copy(p.Grad, []float64{-1e-12, 1, 0, -0.1})
	if err := l.Step([]*Param{p}, lr); err != nil {
		t.Fatal(err)
	}
	if want := []float64{1, 1.5, 1, 0.5}; !slices.Equal(p.Value, want) {
		t.Errorf("after step 2: %v, want %v", p.Value, want)
	}
	// Decoupled decay: θ ← θ − lr(sign + λθ).
	ld := NewLion(0.5)
	q := newTestParam("w", 2, 2)
	copy(q.Grad, []float64{1, 0})
	if err := ld.Step([]*Param{q}, lr); err != nil {
		t.Fatal(err)
	}
	if want := []float64{2 - lr*(1+0.5*2), 2 - lr*0.5*2}; !slices.Equal(q.Value, want) {
		t.Errorf("Lion with decay: %v, want %v", q.Value, want)
	}
}

// TestOptimizersMinimiseQuadratic runs each optimizer on the ill-scaled
// quadratic ½Σ aᵢ(θᵢ−cᵢ)² with curvatures spanning three decades. Lion's
// steps never shrink by themselves, so it gets a decaying schedule; the
// others would converge with a constant rate too but share it for
// uniformity.
func TestOptimizersMinimiseQuadratic(t *testing.T) {
	curv := []float64{1e-1, 1, 10, 100}
	centre := []float64{1, -2, 0.5, 3}
	tests := []struct {
		opt   Optimizer
		sched Schedule
		tol   float64
	}{
		{NewAdam(), Exponential{Base: 0.1, Final: 1e-4, Steps: 1500}, 1e-3},
		{NewAdamW(1e-4), Exponential{Base: 0.1, Final: 1e-4, Steps: 1500}, 1e-3},
		{NewLion(0), Exponential{Base: 0.03, Final: 1e-5, Steps: 1500}, 1e-3},
	}
	for _, tc := range tests {
		t.Run(tc.opt.Name(), func(t *testing.T) {
			p := NewParam("theta", len(curv))
			for s := range 2000 {
				for i := range p.Grad {
					p.Grad[i] = curv[i] * (p.Value[i] - centre[i])
				}
				if err := tc.opt.Step([]*Param{p}, tc.sched.LR(s)); err != nil {
					t.Fatal(err)
				}
			}
			for i := range centre {
				if d := math.Abs(p.Value[i] - centre[i]); d > tc.tol {
					t.Errorf("θ[%d] = %.6g, want %.6g ± %g", i, p.Value[i], centre[i], tc.tol)
				}
			}
		})
	}
}

func TestClipGlobalNorm(t *testing.T) {
	tests := []struct {
		name     string
		grads    [][]float64
		max      float64
		wantNorm float64
		want     [][]float64 // nil: unchanged
	}{
		{"clipped", [][]float64{{3}, {4}}, 1, 5, [][]float64{{0.6}, {0.8}}},
		{"at the limit", [][]float64{{3}, {4}}, 5, 5, nil},
		{"below", [][]float64{{0.1, -0.2}, {0.3}}, 10, math.Sqrt(0.14), nil},
		{"disabled by zero", [][]float64{{30}, {40}}, 0, 50, nil},
		{"disabled by inf", [][]float64{{30}, {40}}, math.Inf(1), 50, nil},
		{"zero gradient", [][]float64{{0, 0}}, 1, 0, nil},
		{"huge", [][]float64{{3e200}, {4e200}}, 1, 5e200, [][]float64{{0.6}, {0.8}}},
		{"tiny", [][]float64{{3e-200}, {4e-200}}, 1e-201, 5e-200, [][]float64{{0.6e-201}, {0.8e-201}}},
		{"nan left for Step", [][]float64{{math.NaN()}, {1}}, 1, math.NaN(), nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var ps []*Param
			for i, g := range tc.grads {
				p := NewParam(string(rune('a'+i)), len(g))
				copy(p.Grad, g)
				ps = append(ps, p)
			}
			norm := ClipGlobalNorm(ps, tc.max)
			if !closeRel(norm, tc.wantNorm, 1e-15) {
				t.Errorf("norm = %.17g, want %.17g", norm, tc.wantNorm)
			}
			want := tc.want
			if want == nil {
				want = tc.grads
			}
			for i, p := range ps {
				for k := range p.Grad {
					if tc.want == nil && math.Float64bits(p.Grad[k]) != math.Float64bits(want[i][k]) {
						t.Errorf("grad %d[%d] = %v changed, want %v untouched", i, k, p.Grad[k], want[i][k])
					}
					if tc.want != nil && !closeRel(p.Grad[k], want[i][k], 1e-15) {
						t.Errorf("grad %d[%d] = %.17g, want %.17g", i, k, p.Grad[k], want[i][k])
					}
				}
			}
			// Clipped gradients have exactly the requested norm, up to
			// the rounding of the norm itself.
			if tc.want != nil {
				if after := GlobalNorm(ps); !closeRel(after, tc.max, 2e-16*4) {
					t.Errorf("norm after clipping %.17g, want %.17g", after, tc.max)
				}
			}
		})
	}
}

func closeRel(a, b, tol float64) bool {
	if math.IsNaN(a) || math.IsNaN(b) {
		return math.IsNaN(a) && math.IsNaN(b)
	}
	return math.Abs(a-b) <= tol*math.Max(math.Abs(a), math.Abs(b))
}

// TestOptimizerRejects checks that bad input is an error that leaves the
// parameters and the state as they were, so a NaN batch can be skipped.
func TestOptimizerRejects(t *testing.T) {
	makers := []func() Optimizer{
		func() Optimizer { return NewAdam() },
		func() Optimizer { return NewAdamW(0.01) },
		func() Optimizer { return NewLion(0.01) },
	}
	bad := []struct {
		name  string
		setup func(o Optimizer, ps []*Param) ([]*Param, float64)
		want  string
	}{
		{"nan gradient", func(o Optimizer, ps []*Param) ([]*Param, float64) {
			ps[1].Grad[0] = math.NaN()
			return ps, 0.1
		}, "gradient of b[0] is NaN"},
		{"inf value", func(o Optimizer, ps []*Param) ([]*Param, float64) {
			ps[0].Value[1] = math.Inf(-1)
			return ps, 0.1
		}, "parameter a[1] is -Inf"},
		{"negative lr", func(o Optimizer, ps []*Param) ([]*Param, float64) { return ps, -1 }, "learning rate"},
		{"nan lr", func(o Optimizer, ps []*Param) ([]*Param, float64) { return ps, math.NaN() }, "learning rate"},
		{"other parameters", func(o Optimizer, ps []*Param) ([]*Param, float64) {
			return []*Param{ps[1], ps[0]}, 0.1
		}, "state is for"},
		{"resized parameter", func(o Optimizer, ps []*Param) ([]*Param, float64) {
			return []*Param{ps[0], newTestParam("b", 1, 2, 3)}, 0.1
		}, "state has 1"},
		{"bad beta", func(o Optimizer, ps []*Param) ([]*Param, float64) {
			switch o := o.(type) {
			case *Adam:
				o.Beta1 = 1
			case *AdamW:
				o.Beta2 = -0.1
			case *Lion:
				o.Beta1 = math.NaN()
			}
			return ps, 0.1
		}, "beta"},
	}
	for _, mk := range makers {
		for _, tc := range bad {
			t.Run(mk().Name()+"/"+tc.name, func(t *testing.T) {
				o := mk()
				ps := []*Param{newTestParam("a", 1, 2), newTestParam("b", 3)}
				for _, p := range ps {
					for i := range p.Grad {
						p.Grad[i] = 0.5
					}
				}
				if err := o.Step(ps, 0.1); err != nil {
					t.Fatal(err)
				}
				st := o.State()
				ps2, lr := tc.setup(o, ps)
				vals := [][]float64{slices.Clone(ps[0].Value), slices.Clone(ps[1].Value)}
				err := o.Step(ps2, lr)
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("Step: error %v, want one containing %q", err, tc.want)
				}
				if !sameBits(ps[0].Value, vals[0]) || !sameBits(ps[1].Value, vals[1]) {
					t.Error("failed Step changed parameters")
				}
				if !sameState(o.State(), st) {
					t.Error("failed Step changed the optimizer state")
				}
			})
		}
	}
	if err := NewAdam().Step([]*Param{newTestParam("x", 1), newTestParam("x", 2)}, 0.1); err == nil {
		t.Error("duplicate parameter names: no error")
	}
	if err := (&Adam{Beta1: 0.9, Beta2: 0.999}).Step([]*Param{newTestParam("x", 1)}, 0.1); err == nil {
		t.Error("Adam with zero eps: no error")
	}
	if err := NewAdamW(-1).Step([]*Param{newTestParam("x", 1)}, 0.1); err == nil {
		t.Error("AdamW with negative decay: no error")
	}
}

func sameState(a, b map[string][]float64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if !sameBits(v, b[k]) {
			return false
		}
	}
	return true
}

// TestOptimizerSetState checks that an optimizer restored from State
// continues with the same bits as the original, and that mismatched
// state is refused.
func TestOptimizerSetState(t *testing.T) {
	makers := []func() Optimizer{
		func() Optimizer { return NewAdam() },
		func() Optimizer { return NewAdamW(0.01) },
		func() Optimizer { return NewLion(0.01) },
	}
	grad := func(ps []*Param, s int) {
		for i, p := range ps {
			for k := range p.Grad {
				p.Grad[k] = math.Cos(float64(7*s+3*i+k)) * (p.Value[k] + 1)
			}
		}
	}
	for _, mk := range makers {
		t.Run(mk().Name(), func(t *testing.T) {
			ps := []*Param{newTestParam("a", 1, 2), newTestParam("b", 3)}
			o := mk()
			for s := range 3 {
				grad(ps, s)
				if err := o.Step(ps, 0.01); err != nil {
					t.Fatal(err)
				}
			}
			st := o.State()
			qs := []*Param{newTestParam("a", ps[0].Value...), newTestParam("b", ps[1].Value...)}
			r := mk()
			if err := r.SetState(qs, st); err != nil {
				t.Fatal(err)
			}
			if r.Steps() != 3 {
				t.Errorf("restored Steps() = %d, want 3", r.Steps())
			}
			// State must be a copy: changing it must not reach r.
			for k := range st {
				if k != "step" {
					st[k][0] = 1e300
				}
			}
			st = o.State()
			for s := 3; s < 6; s++ {
				grad(ps, s)
				grad(qs, s)
				if err := o.Step(ps, 0.01); err != nil {
					t.Fatal(err)
				}
				if err := r.Step(qs, 0.01); err != nil {
					t.Fatal(err)
				}
			}
			for i := range ps {
				if !sameBits(ps[i].Value, qs[i].Value) {
					t.Errorf("%s: restored run %v, original %v", ps[i].Name, qs[i].Value, ps[i].Value)
				}
			}

			mutate := []struct {
				name string
				edit func(map[string][]float64)
			}{
				{"missing step", func(m map[string][]float64) { delete(m, "step") }},
				{"fractional step", func(m map[string][]float64) { m["step"] = []float64{1.5} }},
				{"missing moment", func(m map[string][]float64) { delete(m, "m/b") }},
				{"short moment", func(m map[string][]float64) { m["m/a"] = m["m/a"][:1] }},
				{"extra key", func(m map[string][]float64) { m["z/a"] = []float64{0, 0} }},
			}
			for _, mu := range mutate {
				bad := o.State()
				mu.edit(bad)
				if err := mk().SetState(ps, bad); err == nil {
					t.Errorf("SetState with %s: no error", mu.name)
				}
			}
			// A bare step 0 resets.
			if err := o.SetState(ps, map[string][]float64{"step": {0}}); err != nil || o.Steps() != 0 || len(o.State()) != 1 {
				t.Errorf("reset: err %v, steps %d, state %v", err, o.Steps(), o.State())
			}
		})
	}
}

package model

import (
	"math"
	"testing"
)

// TestSchedules checks learning rates for exact equality. The expected
// values are exact in float64: powers of two times the base, the nearest
// doubles of short decimals reached by exact halvings, sqrt (which Pow
// uses for the exponent ½ and which is correctly rounded), and linear
// interpolations whose products and sums are exact in binary.
func TestSchedules(t *testing.T) {
	paper := Step{Base: 1e-3, Factor: 0.5, Every: 800, Floor: 1e-4}
	tests := []struct {
		name  string
		s     Schedule
		steps []int
		want  []float64
	}{
		{"constant", Constant{Base: 3e-4}, []int{-5, 0, 1, 1 << 40}, []float64{3e-4, 3e-4, 3e-4, 3e-4}},
		// The paper: 1e-3 halved every 800 steps, floored at 1e-4,
		// which it reaches at the fourth halving (6.25e-5 < 1e-4).
		{"paper staircase", paper,
			[]int{-1, 0, 799, 800, 1599, 1600, 2399, 2400, 3199, 3200, 100000},
			[]float64{1e-3, 1e-3, 1e-3, 5e-4, 5e-4, 2.5e-4, 2.5e-4, 1.25e-4, 1.25e-4, 1e-4, 1e-4}},
		{"staircase without floor", Step{Base: 1, Factor: 0.25, Every: 10},
			[]int{0, 9, 10, 20, 35}, []float64{1, 1, 0.25, 0.0625, 0.015625}},
		{"exponential", Exponential{Base: 1, Final: 0.01, Steps: 100},
			[]int{-3, 0, 50, 100, 101, 1 << 30}, []float64{1, 1, 0.1, 0.01, 0.01, 0.01}},
		{"exponential power of two", Exponential{Base: 8, Final: 2, Steps: 4},
			[]int{0, 2, 4, 5}, []float64{8, 4, 2, 2}},
		{"linear", Linear{Base: 1, Final: 0.5, Steps: 4},
			[]int{-1, 0, 1, 2, 3, 4, 9}, []float64{1, 1, 0.875, 0.75, 0.625, 0.5, 0.5}},
		{"linear up", Linear{Base: 0, Final: 2, Steps: 8},
			[]int{0, 1, 4, 8}, []float64{0, 0.25, 1, 2}},
		{"warmup then constant", Warmup{Steps: 4, Then: Constant{Base: 2}},
			[]int{-1, 0, 1, 2, 3, 4, 100}, []float64{0, 0, 0.5, 1, 1.5, 2, 2}},
		// Then sees step − Steps: the first stair lasts its full 800
		// steps after the warm-up.
		{"warmup then paper", Warmup{Steps: 100, Then: paper},
			[]int{0, 50, 100, 899, 900, 1700},
			[]float64{0, 5e-4, 1e-3, 1e-3, 5e-4, 2.5e-4}},
		{"no warmup", Warmup{Steps: 0, Then: Linear{Base: 1, Final: 0, Steps: 2}},
			[]int{0, 1, 2}, []float64{1, 0.5, 0}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := ValidateSchedule(tc.s); err != nil {
				t.Fatalf("Validate: %v", err)
			}
			for i, step := range tc.steps {
				if got := tc.s.LR(step); got != tc.want[i] {
					t.Errorf("LR(%d) = %.17g, want %.17g", step, got, tc.want[i])
				}
			}
		})
	}
}

// TestExponentialMonotone checks the interior of the exponential decay,
// where values are not exact: strictly decreasing, and each step's ratio
// the constant (Final/Base)^(1/Steps) to within rounding.
func TestExponentialMonotone(t *testing.T) {
	e := Exponential{Base: 1e-3, Final: 1e-5, Steps: 1000}
	ratio := math.Pow(e.Final/e.Base, 1.0/float64(e.Steps))
	prev := e.LR(0)
	for s := 1; s <= e.Steps; s++ {
		lr := e.LR(s)
		if !(lr < prev) {
			t.Fatalf("LR(%d) = %g not below LR(%d) = %g", s, lr, s-1, prev)
		}
		if r := lr / prev; math.Abs(r/ratio-1) > 1e-12 {
			t.Fatalf("LR(%d)/LR(%d) = %.15g, want %.15g", s, s-1, r, ratio)
		}
		prev = lr
	}
}

func TestScheduleValidate(t *testing.T) {
	bad := []struct {
		name string
		s    Schedule
	}{
		{"nil", nil},
		{"negative constant", Constant{Base: -1}},
		{"nan constant", Constant{Base: math.NaN()}},
		{"step factor zero", Step{Base: 1, Factor: 0, Every: 10}},
		{"step factor above one", Step{Base: 1, Factor: 2, Every: 10}},
		{"step every zero", Step{Base: 1, Factor: 0.5}},
		{"step negative floor", Step{Base: 1, Factor: 0.5, Every: 1, Floor: -1}},
		{"exponential to zero", Exponential{Base: 1, Final: 0, Steps: 10}},
		{"exponential no steps", Exponential{Base: 1, Final: 0.1}},
		{"linear no steps", Linear{Base: 1, Final: 0}},
		{"linear inf", Linear{Base: math.Inf(1), Final: 0, Steps: 1}},
		{"warmup negative", Warmup{Steps: -1, Then: Constant{Base: 1}}},
		{"warmup without schedule", Warmup{Steps: 5}},
		{"warmup of bad schedule", Warmup{Steps: 5, Then: Linear{Base: -1, Steps: 3}}},
	}
	for _, tc := range bad {
		if err := ValidateSchedule(tc.s); err == nil {
			t.Errorf("%s: no error", tc.name)
		}
	}
	// Rejected, but still defined: a staircase that never steps.
	if s := (Step{Base: 2, Factor: 0.5}); s.LR(0) != 2 || s.LR(1000) != 2 {
		t.Errorf("Step with Every = 0: LR %v, %v, want 2, 2", s.LR(0), s.LR(1000))
	}
}

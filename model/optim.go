package model

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
)

// Optimizer updates parameters from their gradients.
//
// An optimizer binds to the parameter list of its first Step: its
// per-parameter state is keyed by Param.Name, so names must be unique,
// and later calls must pass parameters with the same names and sizes in
// the same order.
type Optimizer interface {
	// Name identifies the algorithm ("adam", "adamw", "lion"); a
	// checkpoint records it so that state is never restored into a
	// different algorithm.
	Name() string
	// Step applies one update with learning rate lr. It returns an
	// error, leaving parameters and state untouched, if lr is negative
	// or not finite, a hyperparameter is out of range, a value or
	// gradient is not finite, or ps does not match the bound list.
	Step(ps []*Param, lr float64) error
	// Steps returns the number of successful Steps, which drives bias
	// correction.
	Steps() int
	// State returns a copy of the optimizer's state: "step" holds the
	// step count as a single value and "<slot>/<param name>" each
	// per-parameter buffer (slots "m" and "v" for Adam and AdamW, "m"
	// for Lion). Hyperparameters are configuration, not state.
	State() map[string][]float64
	// SetState replaces the state with a copy of st, as returned by
	// State, and binds it to ps; the next Step continues exactly where
	// the saved optimizer stopped. A state holding only "step" = 0
	// resets the optimizer.
	SetState(ps []*Param, st map[string][]float64) error
}

// slotState is the step count and per-parameter buffers shared by the
// optimizers here.
type slotState struct {
	t     int
	names []string      // bound parameter names; nil until the first Step
	bufs  [][][]float64 // bufs[slot][param]
}

// stepKey is the State key of the step count.
const stepKey = "step"

func checkBeta(name string, b float64) error {
	if !(b >= 0 && b < 1) {
		return fmt.Errorf("model: %s = %v, want 0 ≤ %s < 1", name, b, name)
	}
	return nil
}

func checkDecay(wd float64) error {
	if !(wd >= 0) || math.IsInf(wd, 0) {
		return fmt.Errorf("model: weight decay = %v, want finite and ≥ 0", wd)
	}
	return nil
}

// prepare validates lr and ps and binds the state to ps on first use.
func (s *slotState) prepare(algo string, ps []*Param, lr float64, nslot int) error {
	if !(lr >= 0) || math.IsInf(lr, 0) {
		return fmt.Errorf("model: %s step: learning rate %v, want finite and ≥ 0", algo, lr)
	}
	if err := CheckFinite(ps); err != nil {
		return fmt.Errorf("model: %s step %d: %w", algo, s.t+1, err)
	}
	if s.names == nil {
		return s.bind(algo, ps, nslot)
	}
	return s.match(algo, ps)
}

// bind allocates zero buffers for ps.
func (s *slotState) bind(algo string, ps []*Param, nslot int) error {
	names := make([]string, len(ps))
	seen := make(map[string]bool, len(ps))
	for i, p := range ps {
		if len(p.Grad) != len(p.Value) {
			return fmt.Errorf("model: %s: parameter %s has %d values but %d gradients", algo, p.Name, len(p.Value), len(p.Grad))
		}
		if seen[p.Name] {
			return fmt.Errorf("model: %s: duplicate parameter name %q", algo, p.Name)
		}
		seen[p.Name] = true
		names[i] = p.Name
	}
	s.bufs = make([][][]float64, nslot)
	for k := range s.bufs {
		s.bufs[k] = make([][]float64, len(ps))
		for i, p := range ps {
			s.bufs[k][i] = make([]float64, len(p.Value))
		}
	}
	s.names = names
	return nil
}

// match checks that ps is the list the state is bound to.
func (s *slotState) match(algo string, ps []*Param) error {
	if len(ps) != len(s.names) {
		return fmt.Errorf("model: %s: got %d parameters, state is for %d", algo, len(ps), len(s.names))
	}
	for i, p := range ps {
		if p.Name != s.names[i] {
			return fmt.Errorf("model: %s: parameter %d is %q, state is for %q", algo, i, p.Name, s.names[i])
		}
		if n := len(s.bufs[0][i]); len(p.Value) != n || len(p.Grad) != n {
			return fmt.Errorf("model: %s: parameter %s has %d values and %d gradients, state has %d", algo, p.Name, len(p.Value), len(p.Grad), n)
		}
	}
	return nil
}

func (s *slotState) state(slots []string) map[string][]float64 {
	st := map[string][]float64{stepKey: {float64(s.t)}}
	for k, slot := range slots {
		if s.names == nil {
			break
		}
		for i, name := range s.names {
			st[slot+"/"+name] = slices.Clone(s.bufs[k][i])
		}
	}
	return st
}

func (s *slotState) setState(algo string, slots []string, ps []*Param, st map[string][]float64) error {
	ts, ok := st[stepKey]
	if !ok || len(ts) != 1 {
		return fmt.Errorf("model: %s state: %q must hold one value", algo, stepKey)
	}
	t := ts[0]
	if !(t >= 0 && t <= 1<<53) || t != math.Trunc(t) {
		return fmt.Errorf("model: %s state: step %v is not a count", algo, t)
	}
	if t == 0 && len(st) == 1 {
		*s = slotState{}
		return nil
	}
	var fresh slotState
	if err := fresh.bind(algo, ps, len(slots)); err != nil {
		return err
	}
	want := 1
	for k, slot := range slots {
		for i, p := range ps {
			key := slot + "/" + p.Name
			b, ok := st[key]
			if !ok {
				return fmt.Errorf("model: %s state: missing %q", algo, key)
			}
			if len(b) != len(p.Value) {
				return fmt.Errorf("model: %s state: %q has %d values, parameter has %d", algo, key, len(b), len(p.Value))
			}
			copy(fresh.bufs[k][i], b)
			want++
		}
	}
	if len(st) != want {
		// Extra keys mean the state came from another model or
		// algorithm; silently dropping them would hide that.
		for _, key := range slices.Sorted(maps.Keys(st)) {
			if !boundKey(key, slots, ps) {
				return fmt.Errorf("model: %s state: unexpected key %q", algo, key)
			}
		}
	}
	fresh.t = int(t)
	*s = fresh
	return nil
}

func boundKey(key string, slots []string, ps []*Param) bool {
	if key == stepKey {
		return true
	}
	for _, slot := range slots {
		for _, p := range ps {
			if key == slot+"/"+p.Name {
				return true
			}
		}
	}
	return false
}

// Adam is the optimizer of Kingma and Ba (2015) with bias-corrected
// first and second moment estimates:
//
//	m ← β₁m + (1−β₁)g,  v ← β₂v + (1−β₂)g²
//	θ ← θ − lr · m̂/(√v̂ + ε),  m̂ = m/(1−β₁ᵗ),  v̂ = v/(1−β₂ᵗ)
//
// The zero value is not usable (Eps must be positive); NewAdam gives the
// usual defaults.
type Adam struct {
	Beta1, Beta2, Eps float64
	s                 slotState
}

// NewAdam returns Adam with β₁ = 0.9, β₂ = 0.999 and ε = 1e-8.
func NewAdam() *Adam { return &Adam{Beta1: 0.9, Beta2: 0.999, Eps: 1e-8} }

// adamSlots names the per-parameter buffers of Adam and AdamW in State;
// a function rather than a variable so that no caller can change it.
func adamSlots() []string { return []string{"m", "v"} }

// Name returns "adam".
func (*Adam) Name() string { return "adam" }

// Steps returns the number of updates applied.
func (a *Adam) Steps() int { return a.s.t }

// Step applies one Adam update.
func (a *Adam) Step(ps []*Param, lr float64) error {
	return adamStep(&a.s, "adam", ps, lr, a.Beta1, a.Beta2, a.Eps, 0)
}

// State returns a copy of the step count and the moments.
func (a *Adam) State() map[string][]float64 { return a.s.state(adamSlots()) }

// SetState restores a state returned by State.
func (a *Adam) SetState(ps []*Param, st map[string][]float64) error {
	return a.s.setState("adam", adamSlots(), ps, st)
}

// AdamW is Adam with decoupled weight decay (Loshchilov and Hutter 2019):
//
//	θ ← θ − lr · (m̂/(√v̂ + ε) + λθ)
//
// The decay acts on the value, never on the gradient, so it does not
// enter the moments and is not rescaled by the adaptive denominator, as it
// would be with an L2 penalty added to the loss. With WeightDecay = 0 it
// gives the same bits as Adam.
type AdamW struct {
	Beta1, Beta2, Eps, WeightDecay float64
	s                              slotState
}

// NewAdamW returns AdamW with Adam's defaults and weight decay wd.
func NewAdamW(wd float64) *AdamW {
	return &AdamW{Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: wd}
}

// Name returns "adamw".
func (*AdamW) Name() string { return "adamw" }

// Steps returns the number of updates applied.
func (a *AdamW) Steps() int { return a.s.t }

// Step applies one AdamW update.
func (a *AdamW) Step(ps []*Param, lr float64) error {
	if err := checkDecay(a.WeightDecay); err != nil {
		return fmt.Errorf("model: adamw: %w", err)
	}
	return adamStep(&a.s, "adamw", ps, lr, a.Beta1, a.Beta2, a.Eps, a.WeightDecay)
}

// State returns a copy of the step count and the moments.
func (a *AdamW) State() map[string][]float64 { return a.s.state(adamSlots()) }

// SetState restores a state returned by State.
func (a *AdamW) SetState(ps []*Param, st map[string][]float64) error {
	return a.s.setState("adamw", adamSlots(), ps, st)
}

func adamStep(s *slotState, algo string, ps []*Param, lr, b1, b2, eps, wd float64) error {
	if err := errors.Join(checkBeta("beta1", b1), checkBeta("beta2", b2)); err != nil {
		return fmt.Errorf("model: %s: %w", algo, err)
	}
	if !(eps > 0) || math.IsInf(eps, 0) {
		return fmt.Errorf("model: %s: eps = %v, want finite and > 0", algo, eps)
	}
	if err := s.prepare(algo, ps, lr, 2); err != nil {
		return err
	}
	s.t++
	bc1 := 1 - math.Pow(b1, float64(s.t))
	bc2 := 1 - math.Pow(b2, float64(s.t))
	for i, p := range ps {
		m, v := s.bufs[0][i], s.bufs[1][i]
		for k, g := range p.Grad {
			m[k] = b1*m[k] + (1-b1)*g
			v[k] = b2*v[k] + (1-b2)*g*g
			u := (m[k] / bc1) / (math.Sqrt(v[k]/bc2) + eps)
			p.Value[k] -= lr * (u + wd*p.Value[k])
		}
	}
	return nil
}

// Lion is the sign-momentum optimizer of Chen et al. (2023):
//
//	c ← β₁m + (1−β₁)g,  θ ← θ − lr · (sign(c) + λθ),  m ← β₂m + (1−β₂)g
//
// Every coordinate moves by exactly lr (plus decay), so Lion wants a
// learning rate 3–10× smaller than Adam's. NewLion gives the paper's
// betas.
type Lion struct {
	Beta1, Beta2, WeightDecay float64
	s                         slotState
}

// NewLion returns Lion with β₁ = 0.9, β₂ = 0.99 and weight decay wd.
func NewLion(wd float64) *Lion { return &Lion{Beta1: 0.9, Beta2: 0.99, WeightDecay: wd} }

// lionSlots names Lion's per-parameter buffer in State.
func lionSlots() []string { return []string{"m"} }

// Name returns "lion".
func (*Lion) Name() string { return "lion" }

// Steps returns the number of updates applied.
func (l *Lion) Steps() int { return l.s.t }

// Step applies one Lion update.
func (l *Lion) Step(ps []*Param, lr float64) error {
	if err := errors.Join(checkBeta("beta1", l.Beta1), checkBeta("beta2", l.Beta2), checkDecay(l.WeightDecay)); err != nil {
		return fmt.Errorf("model: lion: %w", err)
	}
	if err := l.s.prepare("lion", ps, lr, 1); err != nil {
		return err
	}
	l.s.t++
	b1, b2, wd := l.Beta1, l.Beta2, l.WeightDecay
	for i, p := range ps {
		m := l.s.bufs[0][i]
		for k, g := range p.Grad {
			c := b1*m[k] + (1-b1)*g
			var u float64
			switch {
			case c > 0:
				u = 1
			case c < 0:
				u = -1
			}
			p.Value[k] -= lr * (u + wd*p.Value[k])
			m[k] = b2*m[k] + (1-b2)*g
		}
	}
	return nil
}

// State returns a copy of the step count and the momentum.
func (l *Lion) State() map[string][]float64 { return l.s.state(lionSlots()) }

// SetState restores a state returned by State.
func (l *Lion) SetState(ps []*Param, st map[string][]float64) error {
	return l.s.setState("lion", lionSlots(), ps, st)
}

// GlobalNorm returns the Euclidean norm of all gradients of ps together.
// It scales by the largest magnitude first, so that it neither overflows
// nor underflows where the plain sum of squares would; a NaN gradient
// gives NaN and an infinite one +Inf.
func GlobalNorm(ps []*Param) float64 {
	amax := 0.0
	for _, p := range ps {
		for _, g := range p.Grad {
			if math.IsNaN(g) {
				return math.NaN()
			}
			amax = max(amax, math.Abs(g))
		}
	}
	if amax == 0 || math.IsInf(amax, 1) {
		return amax
	}
	sum := 0.0
	for _, p := range ps {
		for _, g := range p.Grad {
			r := g / amax
			sum += r * r
		}
	}
	return amax * math.Sqrt(sum)
}

// ClipGlobalNorm scales all gradients of ps by maxNorm/‖g‖ when their
// global norm ‖g‖ exceeds maxNorm, preserving the update direction, and
// returns ‖g‖ before clipping (the figure worth logging). Gradients at or
// below maxNorm are left bit for bit. maxNorm ≤ 0, NaN or +Inf disables
// clipping; a non-finite norm is returned without scaling, so that the
// optimizer's Step reports the bad gradient instead of it being hidden.
func ClipGlobalNorm(ps []*Param, maxNorm float64) (norm float64) {
	norm = GlobalNorm(ps)
	if !(maxNorm > 0) || math.IsInf(maxNorm, 1) || !(norm > maxNorm) || math.IsInf(norm, 1) {
		return norm
	}
	scale := maxNorm / norm
	for _, p := range ps {
		for k := range p.Grad {
			p.Grad[k] *= scale
		}
	}
	return norm
}

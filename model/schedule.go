package model

import (
	"errors"
	"fmt"
	"math"
)

// Schedule gives the learning rate of each optimizer step. Steps count
// from 0, the first update; a negative step is treated as 0. A schedule
// is a pure function of the step, so a resumed run needs only the step
// count to continue it.
type Schedule interface {
	LR(step int) float64
}

// ValidateSchedule checks the fields of s if it has a Validate method,
// as all schedules in this package do. LR does not check, since a bad
// value there could only be reported as NaN in the middle of training.
func ValidateSchedule(s Schedule) error {
	if s == nil {
		return errors.New("model: nil schedule")
	}
	if v, ok := s.(interface{ Validate() error }); ok {
		return v.Validate()
	}
	return nil
}

func checkRate(name string, v float64) error {
	if !(v >= 0) || math.IsInf(v, 0) {
		return fmt.Errorf("model: schedule %s = %v, want finite and ≥ 0", name, v)
	}
	return nil
}

// Constant is a fixed learning rate Base.
type Constant struct {
	Base float64
}

// LR returns Base.
func (c Constant) LR(int) float64 { return c.Base }

// Validate checks that Base is finite and non-negative.
func (c Constant) Validate() error { return checkRate("base", c.Base) }

// Step is a staircase: Base·Factor^⌊step/Every⌋, but never below Floor.
// The paper's schedule is Step{Base: 1e-3, Factor: 0.5, Every: 800,
// Floor: 1e-4}. A zero Floor means no floor. Every ≤ 0 leaves the rate at
// Base, though Validate rejects it as a likely configuration mistake.
type Step struct {
	Base, Factor float64
	Every        int
	Floor        float64
}

// LR returns the rate of the stair that step is on.
func (s Step) LR(step int) float64 {
	if s.Every <= 0 || step < s.Every {
		return max(s.Base, s.Floor)
	}
	// Pow with an integer exponent is exact for a factor of 0.5, so
	// the stairs of the paper's schedule are exactly Base/2^k.
	return max(s.Base*math.Pow(s.Factor, float64(step/s.Every)), s.Floor)
}

// Validate checks the fields.
func (s Step) Validate() error {
	if !(s.Factor > 0 && s.Factor <= 1) {
		return fmt.Errorf("model: step schedule factor = %v, want 0 < factor ≤ 1", s.Factor)
	}
	if s.Every <= 0 {
		return fmt.Errorf("model: step schedule every = %d, want > 0", s.Every)
	}
	return errors.Join(checkRate("base", s.Base), checkRate("floor", s.Floor))
}

// Exponential decays geometrically from Base at step 0 to Final at step
// Steps, Base·(Final/Base)^(step/Steps), and holds Final afterwards.
// Stating the end point rather than a per-step factor keeps the rate at
// the end of training explicit in configs.
type Exponential struct {
	Base, Final float64
	Steps       int
}

// LR returns the decayed rate.
func (e Exponential) LR(step int) float64 {
	if step >= e.Steps {
		return e.Final
	}
	if step <= 0 {
		return e.Base
	}
	return e.Base * math.Pow(e.Final/e.Base, float64(step)/float64(e.Steps))
}

// Validate checks that the rates are positive (a geometric decay cannot
// reach or leave zero) and Steps is positive.
func (e Exponential) Validate() error {
	if !(e.Base > 0) || !(e.Final > 0) || math.IsInf(e.Base, 0) || math.IsInf(e.Final, 0) {
		return fmt.Errorf("model: exponential schedule base = %v, final = %v, want both finite and > 0", e.Base, e.Final)
	}
	if e.Steps <= 0 {
		return fmt.Errorf("model: exponential schedule steps = %d, want > 0", e.Steps)
	}
	return nil
}

// Linear moves from Base at step 0 to Final at step Steps in equal
// increments and holds Final afterwards.
type Linear struct {
	Base, Final float64
	Steps       int
}

// LR returns the interpolated rate.
func (l Linear) LR(step int) float64 {
	if step >= l.Steps {
		return l.Final
	}
	if step <= 0 {
		return l.Base
	}
	return l.Base + (l.Final-l.Base)*float64(step)/float64(l.Steps)
}

// Validate checks the fields.
func (l Linear) Validate() error {
	if l.Steps <= 0 {
		return fmt.Errorf("model: linear schedule steps = %d, want > 0", l.Steps)
	}
	return errors.Join(checkRate("base", l.Base), checkRate("final", l.Final))
}

// Warmup ramps linearly from 0 at step 0 to Then.LR(0) at step Steps and
// continues with Then, shifted so that Then sees step − Steps: the decay
// that follows starts where the warm-up ends rather than partway through.
// A short warm-up keeps Adam's first steps, whose second-moment estimate
// rests on a handful of gradients, from being large. Steps ≤ 0 means no
// warm-up.
type Warmup struct {
	Steps int
	Then  Schedule
}

// LR returns the warm-up or the following schedule's rate.
func (w Warmup) LR(step int) float64 {
	if step >= w.Steps {
		return w.Then.LR(step - w.Steps)
	}
	if step <= 0 {
		return 0
	}
	return w.Then.LR(0) * float64(step) / float64(w.Steps)
}

// Validate checks Steps and the following schedule.
func (w Warmup) Validate() error {
	if w.Steps < 0 {
		return fmt.Errorf("model: warmup steps = %d, want ≥ 0", w.Steps)
	}
	if w.Then == nil {
		return errors.New("model: warmup has no schedule to follow")
	}
	if err := ValidateSchedule(w.Then); err != nil {
		return fmt.Errorf("model: after warmup: %w", err)
	}
	return nil
}

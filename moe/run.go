package moe

import (
	"context"
	"fmt"
	"math"

	"github.com/hcmoe/hcmoe/constraint"
	"github.com/hcmoe/hcmoe/transport"
)

// Options control a forward run over all experts.
type Options struct {
	Settings constraint.Settings
	// Schwarz turns on additive Schwarz coupling: after a first sweep of
	// independent solves, every sweep imposes the assembled solution of the
	// previous one on each expert's interface points, all experts solving
	// in parallel from their last coefficients, until the interface
	// mismatch falls below Tol or Sweeps sweeps have run.
	Schwarz bool
	Sweeps  int
	Tol     float64
	// Keep asks experts to cache the forwards for a backward; keys are
	// KeyPrefix + "/" + expert index.
	Keep      bool
	KeyPrefix string
}

// Outcome is the result of a forward run.
type Outcome struct {
	U        []float64   // the assembled solution on the whole grid
	Omegas   [][]float64 // per expert
	Forwards []Forward   // the last sweep's requests and replies
	// Points holds, per expert and block of the last sweep's problems, the
	// grid points of the rows.
	Points [][][]int
	// Iterate is the field imposed on the interfaces in the last sweep
	// (nil without coupling). The backward treats it as data.
	Iterate  []float64
	Sweeps   int     // sweeps run (1 without coupling)
	Mismatch float64 // final relative interface mismatch (Schwarz)
	// History holds the mismatch after each sweep (Schwarz).
	History []float64
	// Stalled is set when Schwarz stopped because the mismatch levelled off
	// above Tol.
	Stalled bool
}

// Run solves every expert's problem and assembles u. The basis is Size×N
// with N = in.Terms.N.
func Run(ctx context.Context, r *Router, l *Layout, plans []Plan, basis []float64, in Inputs, opt Options) (*Outcome, error) {
	n := in.Terms.N
	sweeps := 1
	if opt.Schwarz {
		if opt.Sweeps < 1 {
			return nil, fmt.Errorf("moe: schwarz coupling needs at least one sweep, got %d", opt.Sweeps)
		}
		sweeps = opt.Sweeps
	}
	out := &Outcome{Omegas: make([][]float64, len(plans))}
	var iterate []float64
	for sweep := 0; sweep < sweeps; sweep++ {
		reqs := make([]*transport.SolveRequest, len(plans))
		out.Points = make([][][]int, len(plans))
		out.Iterate = iterate
		for k := range plans {
			p, pts, err := plans[k].Problem(l.Equation, in, iterate)
			if err != nil {
				return nil, err
			}
			out.Points[k] = pts
			// Every sweep keeps its state under the same key, so what an
			// expert holds at the end is the last sweep's.
			reqs[k] = &transport.SolveRequest{Problem: p, Settings: opt.Settings, Warm: out.Omegas[k],
				Keep: opt.Keep, Key: fmt.Sprintf("%s/%d", opt.KeyPrefix, k)}
		}
		fwd, err := r.SolveAll(ctx, reqs)
		if err != nil {
			return nil, fmt.Errorf("sweep %d: %w", sweep, err)
		}
		for k, f := range fwd {
			out.Omegas[k] = f.Reply.Result.Omega
		}
		out.Forwards = fwd
		out.Sweeps = sweep + 1
		out.U = Assemble(l.Grid, basis, n, plans, out.Omegas)
		iterate = out.U
		if !opt.Schwarz {
			break
		}
		// The interface mismatch: each expert's own values on its
		// interface points against the neighbours' values there in this
		// sweep's assembly: the jump a converged Schwarz iteration removes.
		out.Mismatch = Mismatch(basis, n, plans, out.Omegas, out.U)
		out.History = append(out.History, out.Mismatch)
		if sweep > 0 && out.Mismatch < opt.Tol {
			break
		}
		// Each expert fits its interface data only as well as its basis
		// allows, so the mismatch levels off at that floor; a sweep that
		// changes it by under 0.1 % will not reach a tolerance below it.
		if h := out.History; sweep > 1 && math.Abs(h[sweep]-h[sweep-1]) < 1e-3*h[sweep] {
			out.Stalled = true
			break
		}
	}
	return out, nil
}

package train

import (
	"context"
	"fmt"

	"github.com/hcmoe/hcmoe/constraint"
	"github.com/hcmoe/hcmoe/mesh"
	"github.com/hcmoe/hcmoe/model"
	"github.com/hcmoe/hcmoe/moe"
	"github.com/hcmoe/hcmoe/pde"
)

// Mode is how the network's output becomes the solution.
type Mode int

const (
	// Hard: the network outputs N basis functions and the experts' solves
	// combine them (PI-HC with one expert, PI-HC-MoE with several).
	Hard Mode = iota
	// Soft: the network outputs u itself, trained on the same loss (PI-SC).
	Soft
)

// Trainer computes gradients of the physics loss with respect to a
// network's parameters.
type Trainer struct {
	Net    model.Network
	Mode   Mode
	Grid   mesh.Grid
	Eq     pde.Equation
	Scheme mesh.Scheme
	N      int // basis functions (Hard)

	// The experts (Hard).
	Router   *moe.Router
	Layout   *moe.Layout
	Plans    []moe.Plan
	Options  moe.Options
	Backward constraint.BackwardSettings
	Ridge    float64
	// ResidualWeight scales the interior PDE rows of the experts and the
	// residual term of the loss alike (0 means 1).
	ResidualWeight float64
	// SkipUnconverged drops the implicit gradient of an expert whose
	// forward did not converge (its ω is then treated as a constant);
	// otherwise such an expert fails the step.
	SkipUnconverged bool
	// LossNorms sums the loss terms' root mean squares instead of their
	// mean squares (Loss.Norms).
	LossNorms bool
}

// Features is the network input of an instance: at every grid point the
// coordinates scaled to [0, 1] and the initial value at the point's
// spatial position (the paper's (t, x, u0)).
func Features(g mesh.Grid, u0 []float64) []float64 {
	dims := g.Dims()
	in := dims + 1
	size := g.Size()
	nx := size / g.Axes[0].N
	out := make([]float64, size*in)
	idx := make([]int, dims)
	for p := range size {
		g.Coords(p, idx)
		row := out[p*in : (p+1)*in]
		for a, ax := range g.Axes {
			row[a] = (ax.Point(idx[a]) - ax.Min) / (ax.Max - ax.Min)
		}
		row[dims] = u0[p%nx]
	}
	return out
}

// StepStats reports one instance's forward and backward.
type StepStats struct {
	Loss        Parts
	Unconverged int // experts whose solve did not converge
	Iterations  int // LM steps summed over experts
	Sweeps      int
}

// pass is the forward state of one instance that its backward needs.
type pass struct {
	loss  *Loss
	out   []float64 // the network's output: basis (Hard) or u (Soft)
	u     []float64 // the assembled solution
	in    moe.Inputs
	res   *moe.Outcome
	stale []bool // experts whose solve did not converge
}

// forward runs the network and, in hard mode, the experts' solves, and
// assembles u. keep asks the experts to cache their forwards under key.
func (tr *Trainer) forward(ctx context.Context, u0 []float64, key string, keep bool) (StepStats, *pass, error) {
	var st StepStats
	g := tr.Grid
	loss, err := NewLoss(g, tr.Eq, tr.Scheme, u0)
	if err != nil {
		return st, nil, err
	}
	loss.ResidualWeight = tr.ResidualWeight
	loss.Norms = tr.LossNorms
	out, err := tr.Net.Forward(Features(g, u0))
	if err != nil {
		return st, nil, err
	}
	ps := &pass{loss: loss, out: out, u: out}
	if tr.Mode == Soft {
		return st, ps, nil
	}
	terms, err := moe.ComputeTerms(g, out, tr.N, tr.Scheme, moe.NeededTerms(tr.Eq))
	if err != nil {
		return st, nil, err
	}
	nx := g.Size() / g.Axes[0].N
	hold := make([]float64, g.Size())
	for p := range hold {
		hold[p] = u0[p%nx]
	}
	ps.in = moe.Inputs{Terms: terms, Hold: hold, Ridge: tr.Ridge, InteriorWeight: tr.ResidualWeight}
	opt := tr.Options
	opt.Keep, opt.KeyPrefix = keep, key
	if ps.res, err = moe.Run(ctx, tr.Router, tr.Layout, tr.Plans, out, ps.in, opt); err != nil {
		return st, nil, err
	}
	ps.u = ps.res.U
	st.Sweeps = ps.res.Sweeps
	ps.stale = make([]bool, len(ps.res.Forwards))
	for k, f := range ps.res.Forwards {
		st.Iterations += f.Reply.Result.Iterations
		if !f.Reply.Result.Status.Converged() {
			ps.stale[k] = true
			st.Unconverged++
		}
	}
	return st, ps, nil
}

// Predict evaluates one instance (u0: the initial value on the x grid) and
// returns its loss and the solution, without a backward pass.
func (tr *Trainer) Predict(ctx context.Context, u0 []float64) (StepStats, []float64, error) {
	st, ps, err := tr.forward(ctx, u0, "predict", false)
	if err != nil {
		return st, nil, err
	}
	st.Loss, err = ps.loss.Eval(ps.u, nil)
	return st, ps.u, err
}

// Gradient evaluates the loss of one instance (u0: the initial value on the
// x grid) and adds scale·∂L/∂θ to the network's Param.Grad. key names the
// experts' cached forwards.
func (tr *Trainer) Gradient(ctx context.Context, u0 []float64, scale float64, key string) (StepStats, []float64, error) {
	st, ps, err := tr.forward(ctx, u0, key, true)
	if err != nil {
		return st, nil, err
	}
	if st.Unconverged > 0 && !tr.SkipUnconverged {
		return st, nil, fmt.Errorf("train: %d experts did not converge (train.unconverged: fail)", st.Unconverged)
	}
	ubar := make([]float64, len(ps.u))
	if st.Loss, err = ps.loss.Eval(ps.u, ubar); err != nil {
		return st, nil, err
	}
	scaleInPlace(ubar, scale)
	outbar := ubar
	if tr.Mode == Hard {
		outbar, err = moe.Backward(ctx, tr.Router, tr.Plans, ps.out, ps.in, ps.res, ubar, tr.Backward, func(k int) bool { return ps.stale[k] })
		if err != nil {
			return st, nil, err
		}
	}
	if _, err := tr.Net.Backward(outbar); err != nil {
		return st, nil, err
	}
	return st, ps.u, nil
}

func scaleInPlace(v []float64, s float64) {
	if s == 1 {
		return
	}
	for i := range v {
		v[i] *= s
	}
}

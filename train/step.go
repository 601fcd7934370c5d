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

// Gradient evaluates the loss of one instance (u0: the initial value on the
// x grid) and adds scale·∂L/∂θ to the network's Param.Grad. key names the
// experts' cached forwards.
func (tr *Trainer) Gradient(ctx context.Context, u0 []float64, scale float64, key string) (StepStats, []float64, error) {
	var st StepStats
	g := tr.Grid
	loss, err := NewLoss(g, tr.Eq, tr.Scheme, u0)
	if err != nil {
		return st, nil, err
	}
	loss.ResidualWeight = tr.ResidualWeight
	out, err := tr.Net.Forward(Features(g, u0))
	if err != nil {
		return st, nil, err
	}
	if tr.Mode == Soft {
		ubar := make([]float64, len(out))
		if st.Loss, err = loss.Eval(out, ubar); err != nil {
			return st, nil, err
		}
		scaleInPlace(ubar, scale)
		if _, err := tr.Net.Backward(ubar); err != nil {
			return st, nil, err
		}
		return st, out, nil
	}
	basis := out
	needed := []pde.Term{pde.TermU}
	needed = append(needed, tr.Eq.Interior().Terms()...)
	for axis := 1; axis < g.Dims(); axis++ {
		for _, side := range []pde.Side{pde.Lower, pde.Upper} {
			if c, ok := tr.Eq.Boundary(axis, side); ok {
				needed = append(needed, c.Residual.Terms()...)
			}
		}
	}
	terms, err := moe.ComputeTerms(g, basis, tr.N, tr.Scheme, needed)
	if err != nil {
		return st, nil, err
	}
	nx := g.Size() / g.Axes[0].N
	hold := make([]float64, g.Size())
	for p := range hold {
		hold[p] = u0[p%nx]
	}
	in := moe.Inputs{Terms: terms, Hold: hold, Ridge: tr.Ridge, InteriorWeight: tr.ResidualWeight}
	opt := tr.Options
	opt.Keep, opt.KeyPrefix = true, key
	res, err := moe.Run(ctx, tr.Router, tr.Layout, tr.Plans, basis, in, opt)
	if err != nil {
		return st, nil, err
	}
	st.Sweeps = res.Sweeps
	unconverged := make([]bool, len(res.Forwards))
	for k, f := range res.Forwards {
		st.Iterations += f.Reply.Result.Iterations
		if !f.Reply.Result.Status.Converged() {
			unconverged[k] = true
			st.Unconverged++
		}
	}
	if st.Unconverged > 0 && !tr.SkipUnconverged {
		return st, nil, fmt.Errorf("train: %d experts did not converge (train.unconverged: fail)", st.Unconverged)
	}
	ubar := make([]float64, len(res.U))
	if st.Loss, err = loss.Eval(res.U, ubar); err != nil {
		return st, nil, err
	}
	scaleInPlace(ubar, scale)
	bbar, err := moe.Backward(ctx, tr.Router, tr.Plans, basis, in, res, ubar, tr.Backward, func(k int) bool { return unconverged[k] })
	if err != nil {
		return st, nil, err
	}
	if _, err := tr.Net.Backward(bbar); err != nil {
		return st, nil, err
	}
	return st, res.U, nil
}

func scaleInPlace(v []float64, s float64) {
	if s == 1 {
		return
	}
	for i := range v {
		v[i] *= s
	}
}

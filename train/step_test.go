package train

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/hcmoe/hcmoe/basis"
	"github.com/hcmoe/hcmoe/constraint"
	"github.com/hcmoe/hcmoe/mesh"
	"github.com/hcmoe/hcmoe/model"
	"github.com/hcmoe/hcmoe/moe"
	"github.com/hcmoe/hcmoe/pde"
)

// affine is a small network for the step test: a fixed smooth basis plus a
// learned affine map of the features, B[p] = B0[p] + x[p]·A + b.
type affine struct {
	b0   []float64
	in   int
	n    int
	a, c *model.Param
	x    []float64
}

func (f *affine) Params() []*model.Param { return []*model.Param{f.a, f.c} }

func (f *affine) Forward(x []float64) ([]float64, error) {
	f.x = append(f.x[:0], x...)
	pts := len(x) / f.in
	out := append([]float64(nil), f.b0...)
	for p := range pts {
		for j := range f.n {
			s := f.c.Value[j]
			for k := range f.in {
				s += x[p*f.in+k] * f.a.Value[k*f.n+j]
			}
			out[p*f.n+j] += s
		}
	}
	return out, nil
}

func (f *affine) Backward(dy []float64) ([]float64, error) {
	pts := len(f.x) / f.in
	dx := make([]float64, len(f.x))
	for p := range pts {
		for j := range f.n {
			d := dy[p*f.n+j]
			f.c.Grad[j] += d
			for k := range f.in {
				f.a.Grad[k*f.n+j] += f.x[p*f.in+k] * d
				dx[p*f.in+k] += d * f.a.Value[k*f.n+j]
			}
		}
	}
	return dx, nil
}

// The gradient of a whole training step with respect to the network's
// parameters, through the experts' solves and implicit backward, against
// central differences (Richardson-extrapolated, step 1e-5 on parameters of
// size 0.05): hard constraint with one and with two experts, and soft.
func TestStepGradient(t *testing.T) {
	g, err := mesh.NewGrid(mesh.Axis{Min: 0, Max: 1, N: 9}, mesh.Axis{Min: 0, Max: 1, N: 17})
	if err != nil {
		t.Fatal(err)
	}
	eq, err := pde.Default().New("heat", map[string]float64{"kappa": 0.1})
	if err != nil {
		t.Fatal(err)
	}
	b0, n, err := basis.Chebyshev(g, []int{3, 4})
	if err != nil {
		t.Fatal(err)
	}
	u0 := make([]float64, 17)
	for i := range u0 {
		u0[i] = math.Sin(math.Pi * g.Axes[1].Point(i))
	}
	for _, tc := range []struct {
		name  string
		mode  Mode
		split []int
		norms bool
	}{{"hard one expert", Hard, []int{1, 1}, false}, {"hard two experts", Hard, []int{1, 2}, false},
		{"hard two experts, norms", Hard, []int{1, 2}, true}, {"soft", Soft, nil, false}} {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(4, 5))
			out := n
			base := b0
			if tc.mode == Soft {
				out = 1
				base = make([]float64, g.Size())
			}
			net := &affine{b0: base, in: 3, n: out, a: model.NewParam("A", 3, out), c: model.NewParam("b", out)}
			for _, p := range net.Params() {
				for i := range p.Value {
					p.Value[i] = 0.05 * rng.NormFloat64()
				}
			}
			tr := &Trainer{Net: net, Mode: tc.mode, Grid: g, Eq: eq, Scheme: mesh.FD2, N: n, Ridge: 1e-8, LossNorms: tc.norms}
			if tc.mode == Hard {
				part, err := mesh.NewPartition(g, tc.split)
				if err != nil {
					t.Fatal(err)
				}
				tr.Layout = &moe.Layout{Grid: g, Partition: part, Equation: eq, Points: 60, Replicate: true, Seed: 1}
				if tr.Plans, err = tr.Layout.Plans(); err != nil {
					t.Fatal(err)
				}
				tr.Router = &moe.Router{Experts: []moe.Expert{moe.NewLocal("a"), moe.NewLocal("b")}}
				tr.Options = moe.Options{Settings: moe.GradSettings(constraint.Settings{})}
			}
			ctx := context.Background()
			model.ZeroGrad(net.Params())
			if _, _, err := tr.Gradient(ctx, u0, 1, "g"); err != nil {
				t.Fatal(err)
			}
			loss := func() float64 {
				saved := make([][]float64, 0)
				for _, p := range net.Params() {
					saved = append(saved, append([]float64(nil), p.Grad...))
				}
				st, _, err := tr.Gradient(ctx, u0, 1, "fd")
				if err != nil {
					t.Fatal(err)
				}
				for i, p := range net.Params() {
					copy(p.Grad, saved[i])
				}
				return st.Loss.Total()
			}
			for _, p := range net.Params() {
				for i := range p.Value {
					orig := p.Value[i]
					central := func(h float64) float64 {
						p.Value[i] = orig + h
						lp := loss()
						p.Value[i] = orig - h
						lm := loss()
						p.Value[i] = orig
						return (lp - lm) / (2 * h)
					}
					const h = 1e-5
					fd := (4*central(h/2) - central(h)) / 3
					if math.Abs(fd-p.Grad[i]) > 1e-6*math.Max(1e-3, math.Abs(fd)) {
						t.Fatalf("%s[%d]: gradient %.10g, finite difference %.10g", p.Name, i, p.Grad[i], fd)
					}
				}
			}
		})
	}
}

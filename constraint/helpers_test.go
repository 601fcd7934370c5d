package constraint

import (
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/floats"

	"github.com/hcmoe/hcmoe/pde"
)

// randomProblem builds a small problem for every equation of the registry:
// an interior block with the equation's residual, initial rows and the two
// boundary conditions. Term matrices are random but scaled like a smooth
// basis: u stays near 0.5 for ω near the start, where diffusion-sorption is
// far from its floor.
//
// With consistent set, the rows are adjusted so that ω_true (returned) has a
// zero residual: every residual here is affine with unit slope in one term
// (u_t inside, u on data and Robin rows), so subtracting ρ_i ω_trueᵀ/‖ω_true‖²
// from that term's row zeroes row i at ω_true.
func randomProblem(eqName string, n int, consistent bool, rng *rand.Rand) (*Problem, []float64) {
	eq, err := pde.Default().New(eqName, nil)
	if err != nil {
		panic(err)
	}
	truth := make([]float64, n)
	for i := range truth {
		truth[i] = (1 + 0.3*rng.NormFloat64()) / float64(n)
	}
	// uMatrix has rows near 0.5·n so that u = B ω ≈ 0.5 at ω ≈ 1/n.
	mat := func(rows int, term pde.Term) []float64 {
		m := make([]float64, rows*n)
		for i := range m {
			switch term {
			case pde.TermU:
				m[i] = 0.5 + 0.2*rng.NormFloat64()
			default:
				m[i] = rng.NormFloat64()
			}
		}
		return m
	}
	block := func(name string, r pde.Residual, rows int, g float64) Block {
		b := Block{Name: name, Residual: r, Aux: make([]float64, rows*r.NumAux()), Weights: make([]float64, rows)}
		for _, t := range r.Terms() {
			b.Terms = append(b.Terms, mat(rows, t))
		}
		for i := range b.Aux {
			b.Aux[i] = g + 0.01*rng.NormFloat64()
		}
		for i := range b.Weights {
			b.Weights[i] = 0.5 + rng.Float64()
		}
		return b
	}
	p := &Problem{N: n, Ridge: 1e-3}
	p.Blocks = append(p.Blocks, block("interior", eq.Interior(), 5*n, 0), block("initial", eq.Initial(), 2*n, 0.5))
	for _, s := range []pde.Side{pde.Lower, pde.Upper} {
		if c, ok := eq.Boundary(1, s); ok {
			p.Blocks = append(p.Blocks, block("boundary-"+s.String(), c.Residual, n, 0.5))
		}
	}
	if consistent {
		p.Ridge = 0
		tt := floats.Dot(truth, truth)
		for bi := range p.Blocks {
			b := &p.Blocks[bi]
			k := len(b.Terms)
			unit := 0 // the term with unit slope: u_t inside, u elsewhere
			for t, name := range b.Residual.Terms() {
				if name == pde.TermUT {
					unit = t
				}
			}
			z, g := make([]float64, k), make([]float64, k)
			na := b.Residual.NumAux()
			for i := 0; i < b.Rows(n); i++ {
				for t := range k {
					z[t] = floats.Dot(b.Terms[t][i*n:(i+1)*n], truth)
				}
				rho := b.Residual.Eval(z, b.Aux[i*na:(i+1)*na], g, nil)
				floats.AddScaled(b.Terms[unit][i*n:(i+1)*n], -rho/g[unit]/tt, truth)
			}
		}
	}
	return p, truth
}

// perturbed returns a copy of p with every term matrix moved by h·D.
func perturbed(p *Problem, d [][][]float64, h float64) *Problem {
	q := *p
	q.Blocks = make([]Block, len(p.Blocks))
	for bi, b := range p.Blocks {
		nb := b
		nb.Terms = make([][]float64, len(b.Terms))
		for t, m := range b.Terms {
			nb.Terms[t] = append([]float64(nil), m...)
			floats.AddScaled(nb.Terms[t], h, d[bi][t])
		}
		q.Blocks[bi] = nb
	}
	return &q
}

func randomDirection(p *Problem, rng *rand.Rand) [][][]float64 {
	d := make([][][]float64, len(p.Blocks))
	for bi, b := range p.Blocks {
		d[bi] = make([][]float64, len(b.Terms))
		for t, m := range b.Terms {
			d[bi][t] = make([]float64, len(m))
			for i := range d[bi][t] {
				d[bi][t][i] = rng.NormFloat64()
			}
		}
	}
	return d
}

func relErr(got, want float64) float64 {
	return math.Abs(got-want) / math.Max(math.Abs(want), 1e-300)
}

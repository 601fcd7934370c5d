package constraint

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"testing"

	"gonum.org/v1/gonum/floats"

	"github.com/hcmoe/hcmoe/pde"
)

var equations = []string{"heat", "burgers", "allen-cahn", "diffusion-sorption"}

// tight makes forward solves converge to rounding level, so that the finite
// differences below measure the derivative and not the solver's tolerance.
var tight = Settings{GradTol: 1e-15, StepTol: 1e-15, CostTol: 1e-16, MaxIter: 400}

// directional returns Σ_k ⟨B̄_k, D_k⟩ from the rank-two cotangents.
func directional(c *Cotangents, omega []float64, d [][][]float64) float64 {
	n := len(omega)
	sum := 0.0
	for bi, bc := range c.Blocks {
		for t := range bc.Alpha {
			for i := range bc.Alpha[t] {
				row := d[bi][t][i*n : (i+1)*n]
				sum += bc.Alpha[t][i]*floats.Dot(row, omega) + bc.Beta[t][i]*floats.Dot(row, c.V)
			}
		}
	}
	return sum
}

// TestBackwardFiniteDifferences checks the implicit backward against central
// differences of re-solved problems, for every equation, both Hessians and
// both linear-algebra paths.
//
// Two losses: L₁ = cᵀω* (the gradient of ω*(B) itself) and
// L₂ = ½‖B_first ω*‖² over the interior block (a loss that, like the
// training loss on the assembled u, reads B directly and through ω*).
//
// Tolerance: step h = 1e-6 on B entries of size O(1). Central differences
// have truncation error O(h²) ≈ 1e-12; the forward solves converge to
// ‖g‖ ≈ 1e-15 relative, so the rounding error of the quotient is about
// 1e-15/h ≈ 1e-9 relative. 1e-6 is the bar and holds with margin.
// Gauss–Newton is exact only at zero residual, so it is checked on
// consistent problems (and shown to be wrong on others in a separate test).
func TestBackwardFiniteDifferences(t *testing.T) {
	type variant struct {
		hess       Hessian
		method     Method
		consistent bool
	}
	variants := []variant{
		{Exact, Dense, false},
		{Exact, Krylov, false},
		{Exact, Dense, true},
		{GaussNewton, Dense, true},
		{GaussNewton, Krylov, true},
	}
	for _, eq := range equations {
		for _, v := range variants {
			name := fmt.Sprintf("%s/%v/%v/consistent=%t", eq, v.hess, v.method, v.consistent)
			t.Run(name, func(t *testing.T) {
				rng := rand.New(rand.NewPCG(11, uint64(len(name))))
				const n = 6
				p, truth := randomProblem(eq, n, v.consistent, rng)
				set := tight
				set.Method = v.method
				ctx := context.Background()
				res, err := Solve(ctx, p, set, truth)
				if err != nil {
					t.Fatal(err)
				}
				if !res.Status.Converged() {
					t.Fatalf("forward: %v after %d iterations, ‖g‖ = %g", res.Status, res.Iterations, res.GradNorm)
				}
				omega := res.Omega
				c := make([]float64, n)
				for i := range c {
					c[i] = rng.NormFloat64()
				}
				first := p.Blocks[0].Terms[0]
				u := func(q *Problem, w []float64) []float64 {
					m := q.Blocks[0].Rows(n)
					out := make([]float64, m)
					for i := range out {
						out[i] = floats.Dot(q.Blocks[0].Terms[0][i*n:(i+1)*n], w)
					}
					return out
				}
				losses := []struct {
					name   string
					value  func(q *Problem, w []float64) float64
					omegaB []float64
					direct func(d [][][]float64) float64
				}{
					{"c·ω*", func(_ *Problem, w []float64) float64 { return floats.Dot(c, w) }, c,
						func([][][]float64) float64 { return 0 }},
					{"½‖B ω*‖²", func(q *Problem, w []float64) float64 {
						uu := u(q, w)
						return 0.5 * floats.Dot(uu, uu)
					}, nil, nil},
				}
				// L₂: ω̄ = Bᵀ(Bω*), direct part ⟨(Bω*) ω*ᵀ, D⟩.
				u0 := u(p, omega)
				wb := make([]float64, n)
				for i, ui := range u0 {
					floats.AddScaled(wb, ui, first[i*n:(i+1)*n])
				}
				losses[1].omegaB = wb
				losses[1].direct = func(d [][][]float64) float64 {
					s := 0.0
					for i, ui := range u0 {
						s += ui * floats.Dot(d[0][0][i*n:(i+1)*n], omega)
					}
					return s
				}
				for _, l := range losses {
					cot, err := Backward(ctx, p, res, l.omegaB, BackwardSettings{Hessian: v.hess})
					if err != nil {
						t.Fatal(err)
					}
					for trial := 0; trial < 3; trial++ {
						d := randomDirection(p, rng)
						got := directional(cot, omega, d) + l.direct(d)
						const h = 1e-6
						var lv [2]float64
						for si, sgn := range []float64{1, -1} {
							q := perturbed(p, d, sgn*h)
							r, err := Solve(ctx, q, set, omega)
							if err != nil {
								t.Fatal(err)
							}
							if !r.Status.Converged() {
								t.Fatalf("perturbed solve: %v", r.Status)
							}
							lv[si] = l.value(q, r.Omega)
						}
						fd := (lv[0] - lv[1]) / (2 * h)
						if e := relErr(got, fd); e > 1e-6 {
							t.Errorf("%s: directional derivative %.12g, finite difference %.12g, rel err %.2g", l.name, got, fd, e)
						}
					}
				}
			})
		}
	}
}

// Gauss–Newton drops Σ r_i ∇²r_i; where the residual does not vanish at ω*
// its gradient must visibly disagree with the exact one, or the option
// would not be worth a name.
func TestGaussNewtonInexactAtNonzeroResidual(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	p, truth := randomProblem("burgers", 6, false, rng)
	ctx := context.Background()
	res, err := Solve(ctx, p, tight, truth)
	if err != nil || !res.Status.Converged() {
		t.Fatalf("forward: %v %v", err, res.Status)
	}
	c := []float64{1, -1, 2, 0.5, -0.3, 1}
	ex, err := Backward(ctx, p, res, c, BackwardSettings{Hessian: Exact})
	if err != nil {
		t.Fatal(err)
	}
	gn, err := Backward(ctx, p, res, c, BackwardSettings{Hessian: GaussNewton})
	if err != nil {
		t.Fatal(err)
	}
	d := randomDirection(p, rng)
	a, b := directional(ex, res.Omega, d), directional(gn, res.Omega, d)
	if relErr(b, a) < 1e-3 {
		t.Fatalf("Gauss–Newton %g vs exact %g: expected a visible difference at cost %g", b, a, res.Cost)
	}
}

// The structured backward on the Krylov path (MINRES on products by H) must
// match the dense path to the MINRES tolerance.
func TestBackwardDenseKrylovAgree(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	p, truth := randomProblem("diffusion-sorption", 8, false, rng)
	ctx := context.Background()
	res, err := Solve(ctx, p, tight, truth)
	if err != nil || !res.Status.Converged() {
		t.Fatalf("forward: %v %v", err, res.Status)
	}
	c := make([]float64, 8)
	for i := range c {
		c[i] = rng.NormFloat64()
	}
	for _, h := range []Hessian{Exact, GaussNewton} {
		de, err := Backward(ctx, p, res, c, BackwardSettings{Hessian: h, Method: Dense})
		if err != nil {
			t.Fatal(err)
		}
		kr, err := Backward(ctx, p, res, c, BackwardSettings{Hessian: h, Method: Krylov})
		if err != nil {
			t.Fatal(err)
		}
		for i := range de.V {
			if relErr(kr.V[i], de.V[i]) > 1e-8 && math.Abs(kr.V[i]-de.V[i]) > 1e-10*floats.Norm(de.V, 2) {
				t.Fatalf("%v: v[%d] dense %g krylov %g", h, i, de.V[i], kr.V[i])
			}
		}
	}
}

// heatBasis is an analytic basis on (t, x) ∈ [0,1]² whose span holds the
// exact heat solution e^{−κπ²t} sin(πx) (ω = e₁); the other functions are
// smooth distractors. Each returns (u, u_t, u_xx).
func heatBasis(kappa float64) []func(t, x float64) (float64, float64, float64) {
	pi := math.Pi
	return []func(t, x float64) (float64, float64, float64){
		func(t, x float64) (float64, float64, float64) {
			e := math.Exp(-kappa * pi * pi * t)
			s := math.Sin(pi * x)
			return e * s, -kappa * pi * pi * e * s, -pi * pi * e * s
		},
		func(t, x float64) (float64, float64, float64) {
			e := math.Exp(-4 * kappa * pi * pi * t)
			s := math.Sin(2 * pi * x)
			return e * s, -4 * kappa * pi * pi * e * s, -4 * pi * pi * e * s
		},
		func(t, x float64) (float64, float64, float64) { return t * x * x, x * x, 2 * t },
		func(t, x float64) (float64, float64, float64) { return math.Cos(t) * x, -math.Sin(t) * x, 0 },
		func(t, x float64) (float64, float64, float64) { return x * x * x, 0, 6 * x },
		func(t, x float64) (float64, float64, float64) { return 1 + t*t, 2 * t, 0 },
	}
}

func heatProblem(kappa float64, rng *rand.Rand) *Problem {
	basis := heatBasis(kappa)
	n := len(basis)
	p := &Problem{N: n}
	interior := Block{Name: "interior", Residual: pde.Heat{Kappa: kappa}, Terms: [][]float64{nil, nil}}
	for i := 0; i < 200; i++ {
		t, x := rng.Float64(), rng.Float64()
		for _, b := range basis {
			_, ut, uxx := b(t, x)
			interior.Terms[0] = append(interior.Terms[0], ut)
			interior.Terms[1] = append(interior.Terms[1], uxx)
		}
	}
	data := func(name string, pts [][2]float64, g func(t, x float64) float64) Block {
		b := Block{Name: name, Residual: pde.Data{}, Terms: [][]float64{nil}}
		for _, pt := range pts {
			for _, f := range basis {
				u, _, _ := f(pt[0], pt[1])
				b.Terms[0] = append(b.Terms[0], u)
			}
			b.Aux = append(b.Aux, g(pt[0], pt[1]))
		}
		return b
	}
	var ic, bc [][2]float64
	for i := 0; i <= 32; i++ {
		ic = append(ic, [2]float64{0, float64(i) / 32})
		bc = append(bc, [2]float64{float64(i) / 32, 0}, [2]float64{float64(i) / 32, 1})
	}
	p.Blocks = []Block{interior,
		data("initial", ic, func(_, x float64) float64 { return math.Sin(math.Pi * x) }),
		data("boundary", bc, func(float64, float64) float64 { return 0 }),
	}
	return p
}

// A linear PDE whose exact solution lies in the basis span: the problem is
// linear least squares with a zero-residual minimiser, so one Gauss–Newton
// step solves it and a second confirms. The residual must reach rounding
// level (‖r‖ ≤ 1e-12 against entries of size up to π²) and ω must be e₁.
func TestHeatExactSolutionInSpan(t *testing.T) {
	for _, m := range []Method{Dense, Krylov} {
		for _, inner := range []Inner{CG, LSQR} {
			if m == Dense && inner == LSQR {
				continue
			}
			t.Run(fmt.Sprintf("%v/%v", m, inner), func(t *testing.T) {
				p := heatProblem(0.1, rand.New(rand.NewPCG(1, 1)))
				s := Settings{Method: m}
				s.Krylov.Method = inner
				res, err := Solve(context.Background(), p, s, nil)
				if err != nil {
					t.Fatal(err)
				}
				if !res.Status.Converged() || res.Iterations > 2 {
					t.Fatalf("status %v after %d iterations (want converged in ≤ 2)", res.Status, res.Iterations)
				}
				if r := math.Sqrt(2 * res.Cost); r > 1e-12 {
					t.Fatalf("‖r‖ = %g, want rounding level", r)
				}
				want := []float64{1, 0, 0, 0, 0, 0}
				for i := range want {
					if math.Abs(res.Omega[i]-want[i]) > 1e-10 {
						t.Fatalf("ω = %v, want e₁", res.Omega)
					}
				}
			})
		}
	}
}

// Every linear-algebra path must reach the same minimiser.
func TestSolvePathsAgree(t *testing.T) {
	for _, eq := range equations {
		rng := rand.New(rand.NewPCG(21, 22))
		p, truth := randomProblem(eq, 10, false, rng)
		var ref []float64
		for _, s := range []Settings{
			{Method: Dense},
			{Method: Dense, Model: GaussNewtonSteps},
			{Method: Dense, Model: Newton},
			{Method: Dense, Scaling: ScaleIdentity},
			{Method: Krylov, Krylov: KrylovSettings{Method: CG}},
			{Method: Krylov, Model: Newton, Krylov: KrylovSettings{Method: CG}},
			{Method: Krylov, Krylov: KrylovSettings{Method: LSQR}},
		} {
			s.GradTol = 1e-13
			res, err := Solve(context.Background(), p, s, truth)
			if err != nil {
				t.Fatal(err)
			}
			if !res.Status.Converged() {
				t.Fatalf("%s %+v: %v", eq, s, res.Status)
			}
			if ref == nil {
				ref = res.Omega
				continue
			}
			for i := range ref {
				if math.Abs(res.Omega[i]-ref[i]) > 1e-8*math.Max(1, math.Abs(ref[i])) {
					t.Fatalf("%s %+v: ω[%d] = %g, dense %g", eq, s, i, res.Omega[i], ref[i])
				}
			}
		}
	}
}

// The slab layout depends only on the problem, so the result must be the
// same bits whatever GOMAXPROCS is.
func TestSolveDeterministicAcrossCores(t *testing.T) {
	rng := rand.New(rand.NewPCG(31, 32))
	p, _ := randomProblem("burgers", 8, false, rng)
	// Replicate the interior rows so that the problem spans several slabs.
	b := &p.Blocks[0]
	for t := range b.Terms {
		m := b.Terms[t]
		for len(b.Terms[t]) < 3*slabRows*p.N {
			b.Terms[t] = append(b.Terms[t], m...)
		}
	}
	b.Weights = nil
	b.Aux = nil
	prev := runtime.GOMAXPROCS(1)
	defer runtime.GOMAXPROCS(prev)
	var ref []float64
	for _, procs := range []int{1, 2, 4} {
		runtime.GOMAXPROCS(procs)
		res, err := Solve(context.Background(), p, Settings{}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if ref == nil {
			ref = res.Omega
			continue
		}
		for i := range ref {
			if res.Omega[i] != ref[i] {
				t.Fatalf("GOMAXPROCS=%d: ω[%d] = %v, with 1 core %v", procs, i, res.Omega[i], ref[i])
			}
		}
	}
}

// sqrtResidual is √u − g: NaN for u < 0, so a start there is non-finite.
type sqrtResidual struct{}

func (sqrtResidual) Name() string               { return "sqrt" }
func (sqrtResidual) Terms() []pde.Term          { return []pde.Term{pde.TermU} }
func (sqrtResidual) NumAux() int                { return 1 }
func (sqrtResidual) Params() map[string]float64 { return nil }
func (sqrtResidual) Eval(z, aux, grad, hess []float64) float64 {
	s := math.Sqrt(z[0])
	if grad != nil {
		grad[0] = 0.5 / s
	}
	if hess != nil {
		hess[0] = -0.25 / (s * z[0])
	}
	return s - aux[0]
}

func TestSolveStatuses(t *testing.T) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(41, 42))
	p, truth := randomProblem("allen-cahn", 6, false, rng)

	res, err := Solve(ctx, p, Settings{MaxIter: 1}, make([]float64, 6))
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != MaxIterations || res.Iterations != 1 {
		t.Fatalf("MaxIter 1: status %v after %d iterations", res.Status, res.Iterations)
	}
	if _, err := Backward(ctx, p, res, truth, BackwardSettings{}); !errors.Is(err, ErrNotConverged) {
		t.Fatalf("backward of an unconverged solve: %v, want ErrNotConverged", err)
	}
	if _, err := Backward(ctx, p, res, truth, BackwardSettings{AllowUnconverged: true}); err != nil {
		t.Fatalf("backward with AllowUnconverged: %v", err)
	}

	sq := &Problem{N: 1, Blocks: []Block{{Residual: sqrtResidual{}, Terms: [][]float64{{1, 2}}, Aux: []float64{1, 1}}}}
	res, err = Solve(ctx, sq, Settings{}, []float64{-1})
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != NonFinite {
		t.Fatalf("start at u < 0 for √u: status %v, want non-finite", res.Status)
	}
	// From a finite start, NaN trial points are rejected and the solve
	// still converges: √u = 1 and √(2u) = 1 have a least-squares optimum.
	res, err = Solve(ctx, sq, Settings{}, []float64{3})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Status.Converged() || !(res.Omega[0] > 0) {
		t.Fatalf("√u problem: %v at ω = %v", res.Status, res.Omega)
	}

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := Solve(cctx, p, Settings{}, nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled context: %v", err)
	}
}

func TestInvalidProblems(t *testing.T) {
	good := func() *Problem {
		p, _ := randomProblem("heat", 3, false, rand.New(rand.NewPCG(1, 2)))
		return p
	}
	tests := []struct {
		name   string
		mutate func(p *Problem)
		want   error
	}{
		{"no basis", func(p *Problem) { p.N = 0 }, ErrEmpty},
		{"no blocks", func(p *Problem) { p.Blocks = nil }, ErrEmpty},
		{"NaN ridge", func(p *Problem) { p.Ridge = math.NaN() }, ErrNonFinite},
		{"negative ridge", func(p *Problem) { p.Ridge = -1 }, ErrShape},
		{"NaN term", func(p *Problem) { p.Blocks[0].Terms[1][4] = math.NaN() }, ErrNonFinite},
		{"Inf aux", func(p *Problem) { p.Blocks[1].Aux[0] = math.Inf(1) }, ErrNonFinite},
		{"ragged term", func(p *Problem) { p.Blocks[0].Terms[1] = p.Blocks[0].Terms[1][:6] }, ErrShape},
		{"missing term", func(p *Problem) { p.Blocks[0].Terms = p.Blocks[0].Terms[:1] }, ErrShape},
		{"short aux", func(p *Problem) { p.Blocks[1].Aux = p.Blocks[1].Aux[1:] }, ErrShape},
		{"short weights", func(p *Problem) { p.Blocks[1].Weights = p.Blocks[1].Weights[1:] }, ErrShape},
		{"all blocks empty", func(p *Problem) {
			for i := range p.Blocks {
				for t := range p.Blocks[i].Terms {
					p.Blocks[i].Terms[t] = nil
				}
				p.Blocks[i].Aux, p.Blocks[i].Weights = nil, nil
			}
		}, ErrEmpty},
		{"bad start fit", func(p *Problem) { p.Start = &Fit{Basis: []float64{1}, Target: []float64{1}} }, ErrShape},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := good()
			tc.mutate(p)
			_, err := Solve(context.Background(), p, Settings{}, nil)
			if !errors.Is(err, tc.want) {
				t.Fatalf("error %v, want %v", err, tc.want)
			}
		})
	}
	p := good()
	if _, err := Solve(context.Background(), p, Settings{}, []float64{1}); !errors.Is(err, ErrShape) {
		t.Fatalf("short warm start: %v", err)
	}
	if _, err := Solve(context.Background(), p, Settings{}, []float64{1, math.NaN(), 0}); !errors.Is(err, ErrNonFinite) {
		t.Fatalf("NaN warm start: %v", err)
	}
	if _, err := Solve(context.Background(), p, Settings{GradTol: -1}, nil); err == nil {
		t.Fatal("negative tolerance accepted")
	}
}

// The fitted start is the ridge-regularised least-squares fit of S ω ≈ y.
func TestStartFit(t *testing.T) {
	p := heatProblem(0.1, rand.New(rand.NewPCG(3, 3)))
	basis := heatBasis(0.1)
	n := len(basis)
	fit := &Fit{}
	// The initial value sin(πx) held constant in time: its best fit in the
	// basis is not e₁ (which decays), but it is close.
	for i := 0; i < 100; i++ {
		tt, x := float64(i%10)/9, float64(i/10)/9
		for _, b := range basis {
			u, _, _ := b(tt, x)
			fit.Basis = append(fit.Basis, u)
		}
		fit.Target = append(fit.Target, math.Sin(math.Pi*x))
	}
	p.Start = fit
	omega := make([]float64, n)
	if err := fitStart(omega, p); err != nil {
		t.Fatal(err)
	}
	// Normal equations: Sᵀ(Sω − y) ≈ 0 up to the tiny regulariser.
	g := make([]float64, n)
	for i, y := range fit.Target {
		row := fit.Basis[i*n : (i+1)*n]
		floats.AddScaled(g, floats.Dot(row, omega)-y, row)
	}
	if floats.Norm(g, 2) > 1e-8 {
		t.Fatalf("start fit is not a least-squares solution: ‖Sᵀ(Sω−y)‖ = %g", floats.Norm(g, 2))
	}
	res, err := Solve(context.Background(), p, Settings{}, nil)
	if err != nil || !res.Status.Converged() {
		t.Fatalf("solve from fitted start: %v %v", err, res.Status)
	}
}

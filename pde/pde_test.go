package pde

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	hd "gonum.org/v1/gonum/num/hyperdual"
)

// hdFunc is a residual written a second time over hyperdual numbers: the
// independent implementation that the hand-written derivatives are checked
// against. Hyperdual arithmetic gives first and second derivatives exact to
// rounding, so the comparison tolerance is a small multiple of ε_mach.
type hdFunc func(z []hd.Number, aux []float64) hd.Number

func real(v float64) hd.Number { return hd.Number{Real: v} }

func hdDS(d DiffusionSorption) hdFunc {
	return func(z []hd.Number, _ []float64) hd.Number {
		u, ut, uxx := z[0], z[1], z[2]
		s := hd.Sqrt(hd.Add(hd.Mul(u, u), real(d.Eps*d.Eps)))
		q := hd.Scale(0.5, hd.Add(u, s))
		c := (1 - d.Porosity) / d.Porosity * d.RhoS * d.Kf * d.Nf
		r := hd.Add(real(1), hd.Scale(c, hd.PowReal(q, d.Nf-1)))
		return hd.Sub(ut, hd.Scale(d.D, hd.Mul(hd.Inv(r), uxx)))
	}
}

func TestResidualDerivatives(t *testing.T) {
	ds := DiffusionSorption{D: 5e-4, Porosity: 0.29, RhoS: 2880, Kf: 3.5e-4, Nf: 0.874, Eps: 1e-6}
	// A wide floor makes the plain hyperdual formula for q well conditioned
	// at negative u, where the production code switches to a cancellation-free
	// form; with ε = 1e-6 the reference itself would lose six digits there.
	dsWide := ds
	dsWide.Eps = 0.05
	tests := []struct {
		name string
		res  Residual
		ref  hdFunc
		lo   float64 // range of u
		hi   float64
	}{
		{"data", Data{}, func(z []hd.Number, a []float64) hd.Number { return hd.Sub(z[0], real(a[0])) }, -2, 2},
		{"robin", Robin{A: 1, B: -5e-4, Deriv: TermUX}, func(z []hd.Number, a []float64) hd.Number {
			return hd.Sub(hd.Add(z[0], hd.Scale(-5e-4, z[1])), real(a[0]))
		}, -2, 2},
		{"heat", Heat{Kappa: 0.3}, func(z []hd.Number, _ []float64) hd.Number {
			return hd.Sub(z[0], hd.Scale(0.3, z[1]))
		}, -2, 2},
		{"burgers", Burgers{Nu: 0.01}, func(z []hd.Number, _ []float64) hd.Number {
			return hd.Sub(hd.Add(z[1], hd.Mul(z[0], z[2])), hd.Scale(0.01, z[3]))
		}, -2, 2},
		{"allen-cahn", AllenCahn{Epsilon: 0.2}, func(z []hd.Number, _ []float64) hd.Number {
			u := z[0]
			return hd.Add(hd.Sub(hd.Sub(z[1], hd.Scale(0.04, z[2])), u), hd.Mul(u, hd.Mul(u, u)))
		}, -2, 2},
		{"diffusion-sorption u>0", ds, hdDS(ds), 1e-3, 1.5},
		{"navier-stokes-2d", NavierStokes2D{Nu: 0.01}, func(z []hd.Number, _ []float64) hd.Number {
			adv := hd.Add(hd.Mul(z[0], z[3]), hd.Mul(z[1], z[4]))
			return hd.Sub(hd.Add(z[2], adv), hd.Scale(0.01, hd.Add(z[5], z[6])))
		}, -2, 2},
		{"diffusion-sorption wide floor", dsWide, hdDS(dsWide), -0.5, 0.5},
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			k := len(tc.res.Terms())
			z := make([]float64, k)
			aux := make([]float64, tc.res.NumAux())
			grad := make([]float64, k)
			hess := make([]float64, k*k)
			zh := make([]hd.Number, k)
			for trial := 0; trial < 50; trial++ {
				for i := range z {
					z[i] = 4*rng.Float64() - 2
				}
				z[0] = tc.lo + (tc.hi-tc.lo)*rng.Float64()
				for i := range aux {
					aux[i] = rng.NormFloat64()
				}
				v := tc.res.Eval(z, aux, grad, hess)
				if v2 := tc.res.Eval(z, aux, nil, nil); v2 != v {
					t.Fatalf("value depends on whether derivatives are asked for: %v vs %v", v, v2)
				}
				for i := 0; i < k; i++ {
					for j := 0; j < k; j++ {
						for m := range zh {
							zh[m] = real(z[m])
						}
						zh[i].E1mag = 1
						zh[j].E2mag = 1
						ref := tc.ref(zh, aux)
						const tol = 1e-10
						if !close(v, ref.Real, tol) {
							t.Fatalf("z=%v: value %v, reference %v", z, v, ref.Real)
						}
						if !close(grad[i], ref.E1mag, tol) {
							t.Fatalf("z=%v: ∂ρ/∂z%d = %v, reference %v", z, i, grad[i], ref.E1mag)
						}
						if !close(hess[i*k+j], ref.E1E2mag, tol) {
							t.Fatalf("z=%v: ∂²ρ/∂z%d∂z%d = %v, reference %v", z, i, j, hess[i*k+j], ref.E1E2mag)
						}
					}
				}
			}
		})
	}
}

func close(a, b, tol float64) bool {
	return math.Abs(a-b) <= tol*math.Max(1, math.Max(math.Abs(a), math.Abs(b)))
}

// The retardation factor is singular at u = 0 for nf < 1; the smooth floor
// must keep the residual and its derivatives finite for any finite u, and
// leave u ≫ ε untouched.
func TestDiffusionSorptionFiniteForNonPositive(t *testing.T) {
	eq, err := Default().New("diffusion-sorption", nil)
	if err != nil {
		t.Fatal(err)
	}
	res := eq.Interior()
	grad := make([]float64, 3)
	hess := make([]float64, 9)
	for _, u := range []float64{-1e300, -1e3, -1, -1e-6, -1e-300, 0, 1e-300, 1e-6, 0.5, 1e3} {
		v := res.Eval([]float64{u, 0.1, 2}, nil, grad, hess)
		for _, x := range append([]float64{v}, append(grad, hess...)...) {
			if math.IsNaN(x) || math.IsInf(x, 0) {
				t.Fatalf("u=%v: non-finite value in ρ=%v ∇ρ=%v ∇²ρ=%v", u, v, grad, hess)
			}
		}
	}
	d := res.(DiffusionSorption)
	r, _, _ := d.Retardation(0.1)
	c := (1 - 0.29) / 0.29 * 2880 * 3.5e-4 * 0.874
	want := 1 + c*math.Pow(0.1, 0.874-1)
	if math.Abs(r-want) > 1e-9*want {
		t.Fatalf("R(0.1) = %v, want %v (the floor must not bias u ≫ ε)", r, want)
	}
}

func TestRegistry(t *testing.T) {
	reg := Default()
	if got, want := strings.Join(reg.Names(), ","), "allen-cahn,burgers,diffusion-sorption,heat,navier-stokes-2d"; got != want {
		t.Fatalf("names %q, want %q", got, want)
	}
	eq, err := reg.New("diffusion-sorption", map[string]float64{"D": 1e-3})
	if err != nil {
		t.Fatal(err)
	}
	p := eq.Params()
	if p["D"] != 1e-3 || p["porosity"] != 0.29 || p["rho_s"] != 2880 || p["k_f"] != 3.5e-4 || p["n_f"] != 0.874 {
		t.Fatalf("params %v: override or defaults lost", p)
	}
	lo, ok := eq.Boundary(1, Lower)
	if !ok || lo.Value != 1 || lo.Residual.Name() != "data" {
		t.Fatalf("lower boundary %+v", lo)
	}
	hi, ok := eq.Boundary(1, Upper)
	if !ok || hi.Residual.Name() != "robin-x" || hi.Residual.Params()["b"] != -1e-3 {
		t.Fatalf("upper boundary %+v", hi)
	}

	errs := []struct {
		name   string
		params map[string]float64
		want   string
	}{
		{"wave", nil, `unknown equation "wave"`},
		{"heat", map[string]float64{"kapa": 1}, `unknown parameter "kapa"`},
		{"heat", map[string]float64{"kappa": math.NaN()}, `"kappa" is NaN`},
		{"heat", map[string]float64{"kappa": -1}, `"kappa" must be positive`},
		{"diffusion-sorption", map[string]float64{"porosity": 1.5}, `"porosity" must lie in (0, 1)`},
	}
	for _, e := range errs {
		_, err := reg.New(e.name, e.params)
		if err == nil || !strings.Contains(err.Error(), e.want) {
			t.Errorf("New(%q, %v) error %v, want it to contain %q", e.name, e.params, err, e.want)
		}
	}
}

// Every residual must be rebuilt identically from its name and params, as a
// problem file does.
func TestNewResidualRoundTrip(t *testing.T) {
	reg := Default()
	var all []Residual
	for _, n := range reg.Names() {
		eq, err := reg.New(n, nil)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, eq.Interior(), eq.Initial())
		for _, s := range []Side{Lower, Upper} {
			if c, ok := eq.Boundary(1, s); ok {
				all = append(all, c.Residual)
			}
		}
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for _, r := range all {
		back, err := NewResidual(r.Name(), r.Params())
		if err != nil {
			t.Fatalf("%s: %v", r.Name(), err)
		}
		z := make([]float64, len(r.Terms()))
		aux := make([]float64, r.NumAux())
		for i := range z {
			z[i] = rng.Float64()
		}
		for i := range aux {
			aux[i] = rng.Float64()
		}
		if a, b := r.Eval(z, aux, nil, nil), back.Eval(z, aux, nil, nil); a != b {
			t.Fatalf("%s: rebuilt residual gives %v, original %v", r.Name(), b, a)
		}
	}
	if _, err := NewResidual("nope", nil); err == nil {
		t.Fatal("unknown residual accepted")
	}
}

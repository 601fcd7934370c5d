package train

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/hcmoe/hcmoe/mesh"
	"github.com/hcmoe/hcmoe/pde"
)

// ∂L/∂u against central differences for every equation with boundary rows.
// L is a sum of smooth terms of size O(1); with step 1e-6 the truncation is
// ~1e-12 and rounding ~1e-10 relative, so 1e-6 is safe.
func TestLossGradient(t *testing.T) {
	for _, tc := range []struct {
		name  string
		norms bool
	}{{"heat", false}, {"burgers", false}, {"allen-cahn", false}, {"diffusion-sorption", false},
		{"burgers", true}, {"diffusion-sorption", true}} {
		name := tc.name
		t.Run(fmt.Sprintf("%s/norms=%v", name, tc.norms), func(t *testing.T) {
			g, err := mesh.NewGrid(mesh.Axis{Min: 0, Max: 1, N: 7}, mesh.Axis{Min: 0, Max: 1, N: 9})
			if err != nil {
				t.Fatal(err)
			}
			eq, err := pde.Default().New(name, nil)
			if err != nil {
				t.Fatal(err)
			}
			rng := rand.New(rand.NewPCG(1, 2))
			u0 := make([]float64, 9)
			for i := range u0 {
				u0[i] = 0.1 + 0.05*rng.Float64()
			}
			l, err := NewLoss(g, eq, mesh.FD2, u0)
			if err != nil {
				t.Fatal(err)
			}
			l.Norms = tc.norms
			u := make([]float64, g.Size())
			for i := range u {
				u[i] = 0.2 + 0.1*rng.Float64()
			}
			grad := make([]float64, len(u))
			if _, err := l.Eval(u, grad); err != nil {
				t.Fatal(err)
			}
			const h = 1e-6
			for i := range u {
				up := append([]float64(nil), u...)
				um := append([]float64(nil), u...)
				up[i] += h
				um[i] -= h
				lp, _ := l.Eval(up, nil)
				lm, _ := l.Eval(um, nil)
				fd := (lp.Total() - lm.Total()) / (2 * h)
				if math.Abs(fd-grad[i]) > 1e-6*math.Max(1, math.Abs(fd)) {
					t.Fatalf("∂L/∂u[%d] = %.10g, finite difference %.10g", i, grad[i], fd)
				}
			}
		})
	}
}

package constraint_test

import (
	"context"
	"fmt"
	"math"
	"testing"

	"github.com/hcmoe/hcmoe/constraint"
	"github.com/hcmoe/hcmoe/internal/testproblem"
)

// BenchmarkSolve measures the forward solve and the exact backward on the
// problem size of the issue: 20,000 interior + 1,024 initial + 200 boundary
// rows, N = 16 and 64, on both linear-algebra paths, stopping on SciPy's
// default tolerances (1e-8 on gradient, step and cost) as bench/lsq does.
func BenchmarkSolve(b *testing.B) {
	for _, size := range []struct{ dt, dx int }{{4, 4}, {8, 8}} {
		p := testproblem.DiffusionSorption(20000, size.dt, size.dx, 1)
		for _, m := range []constraint.Method{constraint.Dense, constraint.Krylov} {
			b.Run(fmt.Sprintf("N=%d/%v/forward", p.N, m), func(b *testing.B) {
				b.ReportAllocs()
				var res *constraint.Result
				for b.Loop() {
					var err error
					res, err = constraint.Solve(context.Background(), p, constraint.Settings{Method: m, GradTol: 1e-8, StepTol: 1e-8, CostTol: 1e-8}, nil)
					if err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(res.Iterations), "iters")
				b.ReportMetric(float64(res.InnerIterations), "inner")
				b.ReportMetric(math.Sqrt(2*res.Cost), "‖r‖")
				b.Logf("%v: %d iterations, status %v", m, res.Iterations, res.Status)
			})
			b.Run(fmt.Sprintf("N=%d/%v/backward", p.N, m), func(b *testing.B) {
				res, err := constraint.Solve(context.Background(), p, constraint.Settings{Method: m, GradTol: 1e-8, StepTol: 1e-8, CostTol: 1e-8}, nil)
				if err != nil {
					b.Fatal(err)
				}
				c := make([]float64, p.N)
				for i := range c {
					c[i] = 1
				}
				b.ReportAllocs()
				b.ResetTimer()
				for b.Loop() {
					if _, err := constraint.Backward(context.Background(), p, res, c, constraint.BackwardSettings{Method: m, AllowUnconverged: true}); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

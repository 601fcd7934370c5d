package constraint

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// BenchmarkKernels times the kernels of one LM iteration on the benchmark
// problem size (about 21,000 rows of diffusion-sorption): the residual and Jacobian evaluation, the Gram
// product JᵀJ that dominates the dense path, and the J and Jᵀ products of
// the Krylov path, with their GFLOP/s and GB/s.
func BenchmarkKernels(b *testing.B) {
	for _, n := range []int{16, 64} {
		rng := rand.New(rand.NewPCG(1, 1))
		p, _ := randomProblem("diffusion-sorption", n, false, rng)
		// Grow the interior block to 20,000 rows.
		in := &p.Blocks[0]
		rows := in.Rows(n)
		for t := range in.Terms {
			for len(in.Terms[t]) < 20000*n {
				in.Terms[t] = append(in.Terms[t], in.Terms[t][:min(rows*n, 20000*n-len(in.Terms[t]))]...)
			}
		}
		in.Weights = nil
		sys := newSystem(p)
		omega := make([]float64, n)
		for i := range omega {
			omega[i] = rng.NormFloat64() / float64(n)
		}
		m := float64(sys.m)
		b.Run(fmt.Sprintf("N=%d/eval", n), func(b *testing.B) {
			b.SetBytes(int64(8 * (4*sys.m*n + sys.m*n))) // read 4 term matrices at most, write J
			for b.Loop() {
				sys.eval(omega, withJacobian|withHessian)
			}
		})
		sys.eval(omega, withJacobian)
		b.Run(fmt.Sprintf("N=%d/gram", n), func(b *testing.B) {
			dst := make([]float64, n*n)
			scratch := sys.newScratch(n * n)
			for b.Loop() {
				sys.gram(dst, scratch)
			}
			// Σ over rows of n(n+1)/2 multiply-adds.
			b.ReportMetric(m*float64(n*(n+1))/b.Elapsed().Seconds()*float64(b.N)/1e9, "GFLOP/s")
		})
		b.Run(fmt.Sprintf("N=%d/jv+jtv", n), func(b *testing.B) {
			v := make([]float64, n)
			y := make([]float64, sys.m)
			dst := make([]float64, n)
			scratch := sys.newScratch(n)
			b.SetBytes(int64(2 * 8 * sys.m * n))
			for b.Loop() {
				sys.jv(y, v)
				sys.jtv(dst, y, scratch)
			}
		})
	}
}

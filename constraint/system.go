package constraint

import (
	"math"
	"sync"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/floats"
)

// slabRows is the target size of the row ranges that are evaluated and
// reduced in parallel. The slab layout depends only on the problem, never on
// the number of cores, so every reduction is summed in the same order and a
// solve gives the same bits on any machine.
const (
	slabRows = 2048
	maxSlabs = 16
)

// span is a range of rows of one block with its offset in the stacked rows.
type span struct {
	block, lo, hi, off int
}

// system evaluates the stacked residual r(ω), its Jacobian J and the
// pointwise derivative coefficients of a Problem.
type system struct {
	p     *Problem
	n, m  int
	slabs [][]span

	r    []float64   // M stacked residuals
	jac  []float64   // M×N row-major
	grad [][]float64 // per block: rows×K of w·∂ρ/∂z
	hess [][]float64 // per block: rows×K×K of w·∂²ρ/∂z², filled on request
}

func newSystem(p *Problem) *system {
	s := &system{p: p, n: p.N, m: p.Rows()}
	nslab := min(maxSlabs, max(1, (s.m+slabRows-1)/slabRows))
	per := (s.m + nslab - 1) / nslab
	s.slabs = make([][]span, nslab)
	off := 0
	for bi := range p.Blocks {
		rows := p.Blocks[bi].Rows(p.N)
		for lo := 0; lo < rows; {
			sl := off / per
			hi := min(rows, lo+(sl+1)*per-off)
			s.slabs[sl] = append(s.slabs[sl], span{block: bi, lo: lo, hi: hi, off: off})
			off += hi - lo
			lo = hi
		}
	}
	s.r = make([]float64, s.m)
	s.grad = make([][]float64, len(p.Blocks))
	for bi := range p.Blocks {
		k := len(p.Blocks[bi].Terms)
		s.grad[bi] = make([]float64, p.Blocks[bi].Rows(p.N)*k)
	}
	return s
}

// parallel runs f on every slab concurrently and waits.
func (s *system) parallel(f func(slab int)) {
	if len(s.slabs) == 1 {
		f(0)
		return
	}
	var wg sync.WaitGroup
	for i := range s.slabs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f(i)
		}()
	}
	wg.Wait()
}

// What eval computes besides r.
const (
	withJacobian = 1 << iota
	withHessian
)

// eval sets r(ω) and, as asked, J and the Hessian coefficients. It returns
// F(ω) = ½‖r‖² + ½λ‖ω‖², which is NaN or ±Inf when any row is non-finite.
func (s *system) eval(omega []float64, what int) float64 {
	n := s.n
	if what&withJacobian != 0 && s.jac == nil {
		s.jac = make([]float64, s.m*n)
	}
	if what&withHessian != 0 && s.hess == nil {
		s.hess = make([][]float64, len(s.p.Blocks))
		for bi := range s.p.Blocks {
			k := len(s.p.Blocks[bi].Terms)
			s.hess[bi] = make([]float64, s.p.Blocks[bi].Rows(n)*k*k)
		}
	}
	part := make([]float64, len(s.slabs))
	s.parallel(func(sl int) {
		mk := s.maxTerms()
		z, g, h := make([]float64, mk), make([]float64, mk), make([]float64, mk*mk)
		sum := 0.0
		for _, sp := range s.slabs[sl] {
			b := &s.p.Blocks[sp.block]
			k := len(b.Terms)
			na := b.Residual.NumAux()
			zz, gg, hh := z[:k], g[:k], h[:k*k]
			var gp, hp []float64
			if what&withJacobian != 0 {
				gp = gg
			}
			if what&withHessian != 0 {
				hp = hh
			}
			for i := sp.lo; i < sp.hi; i++ {
				for t := range k {
					zz[t] = floats.Dot(b.Terms[t][i*n:(i+1)*n], omega)
				}
				w := 1.0
				if b.Weights != nil {
					w = b.Weights[i]
				}
				v := w * b.Residual.Eval(zz, b.Aux[i*na:(i+1)*na], gp, hp)
				row := sp.off + i - sp.lo
				s.r[row] = v
				sum += v * v
				if gp != nil {
					jr := s.jac[row*n : (row+1)*n]
					clear(jr)
					dst := s.grad[sp.block][i*k : (i+1)*k]
					for t := range k {
						dst[t] = w * gp[t]
						if dst[t] != 0 {
							floats.AddScaled(jr, dst[t], b.Terms[t][i*n:(i+1)*n])
						}
					}
				}
				if hp != nil {
					dst := s.hess[sp.block][i*k*k : (i+1)*k*k]
					for t := range hp {
						dst[t] = w * hp[t]
					}
				}
			}
		}
		part[sl] = sum
	})
	cost := 0.0
	for _, v := range part {
		cost += v
	}
	return 0.5*cost + 0.5*s.p.Ridge*floats.Dot(omega, omega)
}

// maxTerms returns the largest K over the blocks.
func (s *system) maxTerms() int {
	k := 0
	for i := range s.p.Blocks {
		k = max(k, len(s.p.Blocks[i].Terms))
	}
	return k
}

// rowRange returns the stacked row range [lo, hi) of a slab.
func (s *system) rowRange(sl int) (lo, hi int) {
	sp := s.slabs[sl]
	if len(sp) == 0 {
		return 0, 0
	}
	last := sp[len(sp)-1]
	return sp[0].off, last.off + last.hi - last.lo
}

// jv sets dst = J v (length M).
func (s *system) jv(dst, v []float64) {
	n := s.n
	s.parallel(func(sl int) {
		lo, hi := s.rowRange(sl)
		for i := lo; i < hi; i++ {
			dst[i] = floats.Dot(s.jac[i*n:(i+1)*n], v)
		}
	})
}

// jtv sets dst = Jᵀ y (length N).
func (s *system) jtv(dst, y []float64, scratch [][]float64) {
	n := s.n
	s.reduce(dst, scratch, func(acc []float64, sl int) {
		lo, hi := s.rowRange(sl)
		for i := lo; i < hi; i++ {
			if y[i] != 0 {
				floats.AddScaled(acc, y[i], s.jac[i*n:(i+1)*n])
			}
		}
	})
}

// reduce runs f on every slab into that slab's zeroed scratch, then sums
// the partials into dst in slab order.
func (s *system) reduce(dst []float64, scratch [][]float64, f func(acc []float64, sl int)) {
	s.parallel(func(sl int) {
		acc := scratch[sl][:len(dst)]
		clear(acc)
		f(acc, sl)
	})
	clear(dst)
	for sl := range s.slabs {
		floats.Add(dst, scratch[sl][:len(dst)])
	}
}

// colNorms sets dst[j] to the squared norm of column j of J.
func (s *system) colNorms(dst []float64, scratch [][]float64) {
	n := s.n
	s.reduce(dst, scratch, func(acc []float64, sl int) {
		lo, hi := s.rowRange(sl)
		for i := lo; i < hi; i++ {
			for j, v := range s.jac[i*n : (i+1)*n] {
				acc[j] += v * v
			}
		}
	})
}

// gram sets the upper triangle of dst (N×N) to JᵀJ. Each slab forms its
// partial product with a symmetric rank-k update.
func (s *system) gram(dst []float64, scratch [][]float64) {
	n := s.n
	s.reduce(dst, scratch, func(acc []float64, sl int) {
		lo, hi := s.rowRange(sl)
		if hi > lo {
			a := blas64.General{Rows: hi - lo, Cols: n, Stride: n, Data: s.jac[lo*n : hi*n]}
			blas64.Syrk(blas.Trans, 1, a, 0, blas64.Symmetric{Uplo: blas.Upper, N: n, Stride: n, Data: acc})
		}
	})
}

// newScratch returns one buffer of the given size per slab.
func (s *system) newScratch(size int) [][]float64 {
	out := make([][]float64, len(s.slabs))
	for i := range out {
		out[i] = make([]float64, size)
	}
	return out
}

func isFinite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }

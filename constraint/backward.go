package constraint

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/mat"

	"github.com/hcmoe/hcmoe/krylov"
)

// ErrNotConverged is returned by Backward when the forward solve did not
// converge: the implicit function theorem then describes a point that is not
// the one returned, and the gradient would be wrong without warning.
var ErrNotConverged = errors.New("forward solve did not converge")

// Hessian selects the matrix H of the implicit backward.
type Hessian int

const (
	// Exact uses H = JᵀJ + λI + Σ r_i ∇²r_i, the true derivative of the
	// optimality condition; the gradient is then exact.
	Exact Hessian = iota
	// GaussNewton drops the second-order term. Cheaper, always positive
	// semi-definite, and exact only where the residual vanishes at ω*.
	GaussNewton
)

func hessianNames() []string { return []string{"exact", "gauss-newton"} }

func (h Hessian) String() string { return enumName(hessianNames(), int(h), "Hessian") }

// ParseHessian maps "exact" or "gauss-newton" to a Hessian.
func ParseHessian(s string) (Hessian, error) {
	return parseEnum[Hessian](hessianNames(), s, "backward Hessian")
}

// BackwardSettings controls Backward.
type BackwardSettings struct {
	Hessian Hessian
	// Method: Dense forms H and solves by LU; Krylov runs MINRES on products
	// by H. Auto follows the forward's choice.
	Method Method
	// Tol is MINRES's relative tolerance. Default 1e-13.
	Tol float64
	// MaxIter bounds MINRES. Default 10·N.
	MaxIter int
	// AllowUnconverged differentiates at a forward result whose status is
	// not converged instead of returning ErrNotConverged.
	AllowUnconverged bool
}

// BlockCotangent holds the cotangent of one block's term matrices in rank-two
// form: B̄_k = Alpha[k] ω*ᵀ + Beta[k] vᵀ, Alpha[k] and Beta[k] of length Rows.
type BlockCotangent struct {
	Alpha, Beta [][]float64
}

// Cotangents is the result of Backward.
type Cotangents struct {
	// V solves H v = ω̄.
	V      []float64
	Blocks []BlockCotangent
	// Iterations counts MINRES iterations (0 on the dense path).
	Iterations int
	// Condition estimates the condition number of H (dense path; 0 on the
	// Krylov path). Above ~1e12, v carries fewer than four correct digits.
	Condition float64
	Seconds   float64
}

// Term returns the dense cotangent B̄_k of one block (Rows×N row-major),
// given ω*. The wire format never carries it; it serves tests and callers
// that want the matrix.
func (c *Cotangents) Term(block, k int, omega []float64) []float64 {
	bc := c.Blocks[block]
	n := len(omega)
	rows := len(bc.Alpha[k])
	out := make([]float64, rows*n)
	for i := range rows {
		row := out[i*n : (i+1)*n]
		floats.AddScaled(row, bc.Alpha[k][i], omega)
		floats.AddScaled(row, bc.Beta[k][i], c.V)
	}
	return out
}

// Backward differentiates L(ω*(B)) with respect to every term matrix B_k,
// given ω̄ = ∂L/∂ω* at the forward result res of problem p.
//
// At ω* the optimality condition G(ω, B) = Jᵀr + λω vanishes. With H = ∂G/∂ω
// and H v = ω̄, B̄ = −(∂G/∂B)ᵀ v, which for the row structure of a Problem is
// rank two per term (see BlockCotangent):
//
//	s_l = B_l[i]·v,  a = Σ_l w ρ_l s_l,
//	α_k = −(w ρ_k a + r_i w Σ_l ρ_kl s_l),  β_k = −r_i w ρ_k.
//
// Only the dependence of ω* on B is returned; a loss that also reads B
// directly (u = b·ω) adds that part itself.
func Backward(ctx context.Context, p *Problem, res *Result, omegaBar []float64, s BackwardSettings) (*Cotangents, error) {
	start := time.Now()
	if err := p.Validate(); err != nil {
		return nil, err
	}
	if res == nil || len(res.Omega) != p.N {
		return nil, fmt.Errorf("constraint: backward: %w: forward result does not match N=%d", ErrShape, p.N)
	}
	if len(omegaBar) != p.N {
		return nil, fmt.Errorf("constraint: backward: %w: cotangent has %d values for N=%d", ErrShape, len(omegaBar), p.N)
	}
	if err := finite("cotangent", omegaBar); err != nil {
		return nil, fmt.Errorf("constraint: backward: %w", err)
	}
	if !res.Status.Converged() && !s.AllowUnconverged {
		return nil, fmt.Errorf("constraint: backward: %w (status %v)", ErrNotConverged, res.Status)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("constraint: backward: %w", err)
	}
	if s.Tol == 0 {
		s.Tol = 1e-13
	}
	if s.MaxIter == 0 {
		s.MaxIter = 10 * p.N
	}
	method := s.Method
	if method == Auto {
		method = res.Method
		if method == Auto {
			method = Dense
		}
	}
	n := p.N
	omega := res.Omega
	sys := newSystem(p)
	what := withJacobian
	if s.Hessian != GaussNewton {
		what |= withHessian
	}
	if cost := sys.eval(omega, what); !isFinite(cost) {
		return nil, fmt.Errorf("constraint: backward: %w: cost %v at ω*", ErrNonFinite, cost)
	}

	out := &Cotangents{V: make([]float64, n)}
	if method == Dense {
		h := make([]float64, n*n)
		sys.gram(h, sys.newScratch(n*n))
		if s.Hessian != GaussNewton {
			sys.addSecondOrder(h)
		}
		hm := mat.NewDense(n, n, nil)
		for i := range n {
			for j := i; j < n; j++ {
				v := h[i*n+j]
				if i == j {
					v += p.Ridge
				}
				hm.Set(i, j, v)
				hm.Set(j, i, v)
			}
		}
		var lu mat.LU
		lu.Factorize(hm)
		out.Condition = lu.Cond()
		err := lu.SolveVecTo(mat.NewVecDense(n, out.V), false, mat.NewVecDense(n, omegaBar))
		// gonum reports an ill-conditioned matrix as mat.Condition but still
		// solves; the solution is what the conditioning of the problem
		// allows, and the caller sees the condition number. Only an
		// exactly singular H is an error.
		var cond mat.Condition
		if err != nil && !(errors.As(err, &cond) && !math.IsInf(float64(cond), 1)) {
			return nil, fmt.Errorf("constraint: backward: Hessian solve: %w", err)
		}
	} else {
		scratch := sys.newScratch(n)
		mv := make([]float64, sys.m)
		tmp := make([]float64, n)
		op := krylov.Func(func(dst, x []float64) {
			sys.jv(mv, x)
			sys.jtv(dst, mv, scratch)
			floats.AddScaled(dst, p.Ridge, x)
			if s.Hessian != GaussNewton {
				sys.secondOrderProduct(tmp, x, scratch)
				floats.Add(dst, tmp)
			}
		})
		r, err := krylov.MINRES(op, omegaBar, out.V, krylov.Settings{RelTol: s.Tol, MaxIter: s.MaxIter})
		out.Iterations = r.Iterations
		if err != nil {
			return nil, fmt.Errorf("constraint: backward: %w", err)
		}
		if r.Reason != krylov.Converged && r.Reason != krylov.MaxIterations {
			return nil, fmt.Errorf("constraint: backward: MINRES on the Hessian: %v", r.Reason)
		}
	}
	if !allFinite(out.V) {
		return nil, fmt.Errorf("constraint: backward: %w in H⁻¹ω̄", ErrNonFinite)
	}

	out.Blocks = make([]BlockCotangent, len(p.Blocks))
	off := 0
	for bi := range p.Blocks {
		b := &p.Blocks[bi]
		k := len(b.Terms)
		rows := b.Rows(n)
		bc := BlockCotangent{Alpha: make([][]float64, k), Beta: make([][]float64, k)}
		for t := range k {
			bc.Alpha[t] = make([]float64, rows)
			bc.Beta[t] = make([]float64, rows)
		}
		sv := make([]float64, k)
		for i := range rows {
			ri := sys.r[off+i]
			g := sys.grad[bi][i*k : (i+1)*k]
			a := 0.0
			for l := range k {
				sv[l] = floats.Dot(b.Terms[l][i*n:(i+1)*n], out.V)
				a += g[l] * sv[l]
			}
			for t := range k {
				alpha := g[t] * a
				if sys.hess != nil {
					hrow := sys.hess[bi][(i*k+t)*k : (i*k+t+1)*k]
					alpha += ri * floats.Dot(hrow, sv)
				}
				bc.Alpha[t][i] = -alpha
				bc.Beta[t][i] = -ri * g[t]
			}
		}
		out.Blocks[bi] = bc
		off += rows
	}
	out.Seconds = time.Since(start).Seconds()
	return out, nil
}

// addSecondOrder adds Σ_i r_i w Σ_kl ρ_kl B_k[i]ᵀ B_l[i] to the upper
// triangle of h. Per span it forms Y_k = Σ_l diag(r w ρ_kl) B_l and adds
// B_kᵀ Y_k with one matrix product, skipping blocks whose residual is linear.
func (s *system) addSecondOrder(h []float64) {
	n := s.n
	part := s.newScratch(n * n)
	s.parallel(func(sl int) {
		acc := part[sl]
		for _, sp := range s.slabs[sl] {
			b := &s.p.Blocks[sp.block]
			k := len(b.Terms)
			hc := s.hess[sp.block]
			rows := sp.hi - sp.lo
			y := make([]float64, rows*n)
			for t := range k {
				clear(y)
				any := false
				for i := sp.lo; i < sp.hi; i++ {
					ri := s.r[sp.off+i-sp.lo]
					yr := y[(i-sp.lo)*n : (i-sp.lo+1)*n]
					for l := range k {
						c := ri * hc[(i*k+t)*k+l]
						if c != 0 {
							floats.AddScaled(yr, c, b.Terms[l][i*n:(i+1)*n])
							any = true
						}
					}
				}
				if !any {
					continue
				}
				bt := blas64.General{Rows: rows, Cols: n, Stride: n, Data: b.Terms[t][sp.lo*n : sp.hi*n]}
				ym := blas64.General{Rows: rows, Cols: n, Stride: n, Data: y}
				c := blas64.General{Rows: n, Cols: n, Stride: n, Data: acc}
				blas64.Gemm(blas.Trans, blas.NoTrans, 1, bt, ym, 1, c)
			}
		}
	})
	// The sum over k and l is symmetric as a whole; each partial need not be.
	for sl := range s.slabs {
		acc := part[sl]
		for i := range n {
			for j := i; j < n; j++ {
				h[i*n+j] += 0.5 * (acc[i*n+j] + acc[j*n+i])
			}
		}
	}
}

// secondOrderProduct sets dst = Σ_i r_i w Σ_kl ρ_kl B_k[i]ᵀ (B_l[i]·x).
func (s *system) secondOrderProduct(dst, x []float64, scratch [][]float64) {
	n := s.n
	s.reduce(dst, scratch, func(acc []float64, sl int) {
		sv := make([]float64, s.maxTerms())
		for _, sp := range s.slabs[sl] {
			b := &s.p.Blocks[sp.block]
			k := len(b.Terms)
			hc := s.hess[sp.block]
			for i := sp.lo; i < sp.hi; i++ {
				ri := s.r[sp.off+i-sp.lo]
				if ri == 0 {
					continue
				}
				for l := range k {
					sv[l] = floats.Dot(b.Terms[l][i*n:(i+1)*n], x)
				}
				for t := range k {
					c := ri * floats.Dot(hc[(i*k+t)*k:(i*k+t+1)*k], sv[:k])
					if c != 0 {
						floats.AddScaled(acc, c, b.Terms[t][i*n:(i+1)*n])
					}
				}
			}
		}
	})
}

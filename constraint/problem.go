// Package constraint solves the local hard-constraint problem of one expert
// and differentiates through its solution.
//
// The problem is a nonlinear least-squares fit of the N coefficients ω of a
// basis so that a PDE holds at sampled rows:
//
//	r_i(ω) = w_i ρ(B_1[i]·ω, ..., B_K[i]·ω; aux_i)
//	minimise F(ω) = ½‖r(ω)‖² + ½λ‖ω‖²
//
// Rows come in blocks (interior PDE rows, initial rows, boundary rows), each
// with its own pointwise residual ρ (package pde), term matrices B_k and row
// weights. Solve minimises F with a Levenberg–Marquardt method whose linear
// steps are dense Cholesky solves or Krylov solves; Backward returns the
// rank-two cotangents of the term matrices given a cotangent on ω*, by the
// implicit function theorem applied to ∇F(ω*) = 0.
package constraint

import (
	"errors"
	"fmt"
	"math"

	"github.com/hcmoe/hcmoe/pde"
)

// Errors returned for invalid problems. They are wrapped with the block and
// field at fault; test with errors.Is.
var (
	ErrShape     = errors.New("shape mismatch")
	ErrNonFinite = errors.New("non-finite value")
	ErrEmpty     = errors.New("empty problem")
)

// Block is a set of rows sharing one pointwise residual.
type Block struct {
	// Name labels the block in errors and files ("interior", "initial", ...).
	Name string

	// Residual is the pointwise function ρ. Its Terms fix K.
	Residual pde.Residual

	// Terms holds the K term matrices, Terms[k] of size Rows×N in row-major
	// order, in the order of Residual.Terms().
	Terms [][]float64

	// Aux holds Residual.NumAux() values per row, Rows×NumAux row-major.
	Aux []float64

	// Weights scales each row's residual; nil means all ones.
	Weights []float64
}

// Rows returns the number of rows of b, read from its first term matrix.
func (b *Block) Rows(n int) int {
	if len(b.Terms) == 0 || n == 0 {
		return 0
	}
	return len(b.Terms[0]) / n
}

// Fit describes a start ω₀ = argmin ‖S ω − y‖² + λ‖ω‖². For evolution
// problems S holds the basis at the constrained points and y the initial
// value carried to those points unchanged in time, a start that lands in the
// right basin where fitting only the initial slice may not.
type Fit struct {
	Basis  []float64 // Rows×N row-major
	Target []float64 // Rows
}

// Problem is one expert's local least-squares problem.
type Problem struct {
	N      int     // number of basis functions
	Blocks []Block // at least one non-empty block
	Ridge  float64 // λ ≥ 0
	Start  *Fit    // optional fitted start; used when Solve gets no warm start
}

// Rows returns the total number of rows.
func (p *Problem) Rows() int {
	m := 0
	for i := range p.Blocks {
		m += p.Blocks[i].Rows(p.N)
	}
	return m
}

// Validate checks shapes and finiteness. It is called by Solve, Backward
// and the file reader, so that no later stage sees malformed input.
func (p *Problem) Validate() error {
	if p.N <= 0 {
		return fmt.Errorf("constraint: %w: N = %d basis functions", ErrEmpty, p.N)
	}
	if math.IsNaN(p.Ridge) || math.IsInf(p.Ridge, 0) {
		return fmt.Errorf("constraint: ridge: %w (%v)", ErrNonFinite, p.Ridge)
	}
	if p.Ridge < 0 {
		return fmt.Errorf("constraint: ridge: %w: negative (%v)", ErrShape, p.Ridge)
	}
	if len(p.Blocks) == 0 {
		return fmt.Errorf("constraint: %w: no blocks", ErrEmpty)
	}
	total := 0
	for bi := range p.Blocks {
		b := &p.Blocks[bi]
		if err := b.validate(p.N); err != nil {
			return fmt.Errorf("constraint: block %d (%s): %w", bi, b.Name, err)
		}
		total += b.Rows(p.N)
	}
	if total == 0 {
		return fmt.Errorf("constraint: %w: every block has zero rows", ErrEmpty)
	}
	if f := p.Start; f != nil {
		if len(f.Target) == 0 || len(f.Basis) != len(f.Target)*p.N {
			return fmt.Errorf("constraint: start fit: %w: basis has %d values, want %d rows × N=%d", ErrShape, len(f.Basis), len(f.Target), p.N)
		}
		if err := finite("start basis", f.Basis); err != nil {
			return fmt.Errorf("constraint: %w", err)
		}
		if err := finite("start target", f.Target); err != nil {
			return fmt.Errorf("constraint: %w", err)
		}
	}
	return nil
}

func (b *Block) validate(n int) error {
	if b.Residual == nil {
		return fmt.Errorf("%w: no residual", ErrShape)
	}
	k := len(b.Residual.Terms())
	if len(b.Terms) != k {
		return fmt.Errorf("%w: %d term matrices for residual %q that reads %d terms", ErrShape, len(b.Terms), b.Residual.Name(), k)
	}
	if len(b.Terms[0])%n != 0 {
		return fmt.Errorf("%w: term matrix %d has %d values, not a multiple of N=%d", ErrShape, 0, len(b.Terms[0]), n)
	}
	rows := len(b.Terms[0]) / n
	for t, m := range b.Terms {
		if len(m) != rows*n {
			return fmt.Errorf("%w: term matrix %d (%s) has %d values, want %d rows × N=%d", ErrShape, t, b.Residual.Terms()[t], len(m), rows, n)
		}
		if err := finite(fmt.Sprintf("term matrix %d (%s)", t, b.Residual.Terms()[t]), m); err != nil {
			return err
		}
	}
	if want := rows * b.Residual.NumAux(); len(b.Aux) != want {
		return fmt.Errorf("%w: aux has %d values, want %d rows × %d", ErrShape, len(b.Aux), rows, b.Residual.NumAux())
	}
	if err := finite("aux", b.Aux); err != nil {
		return err
	}
	if b.Weights != nil {
		if len(b.Weights) != rows {
			return fmt.Errorf("%w: %d weights for %d rows", ErrShape, len(b.Weights), rows)
		}
		if err := finite("weights", b.Weights); err != nil {
			return err
		}
	}
	return nil
}

func finite(what string, v []float64) error {
	for i, x := range v {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return fmt.Errorf("%s[%d]: %w (%v)", what, i, ErrNonFinite, x)
		}
	}
	return nil
}

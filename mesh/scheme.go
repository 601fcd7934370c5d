package mesh

import (
	"fmt"
	"strings"
)

// Scheme selects the finite-difference stencils of a derivative operator.
// The zero Scheme is invalid so that a forgotten setting is reported rather
// than silently meaning one of the schemes.
type Scheme int

const (
	// FD2 is second-order accurate: 3-point central differences inside,
	// second-order one-sided differences at the ends of a non-periodic axis.
	FD2 Scheme = iota + 1
	// FD4 is fourth-order accurate: 5-point central differences inside,
	// fourth-order one-sided and off-centred differences at the two points
	// nearest each end of a non-periodic axis.
	FD4
)

// String returns "fd2" or "fd4", the names accepted by ParseScheme.
func (s Scheme) String() string {
	switch s {
	case FD2:
		return "fd2"
	case FD4:
		return "fd4"
	}
	return fmt.Sprintf("Scheme(%d)", int(s))
}

// ParseScheme returns the scheme named s ("fd2" or "fd4", any case).
func ParseScheme(s string) (Scheme, error) {
	switch strings.ToLower(s) {
	case "fd2":
		return FD2, nil
	case "fd4":
		return FD4, nil
	}
	return 0, fmt.Errorf("mesh: unknown finite-difference scheme %q (want fd2 or fd4)", s)
}

// MarshalText implements encoding.TextMarshaler so that schemes read and
// write as their names in configuration files.
func (s Scheme) MarshalText() ([]byte, error) {
	if s != FD2 && s != FD4 {
		return nil, fmt.Errorf("mesh: cannot marshal invalid %v", s)
	}
	return []byte(s.String()), nil
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (s *Scheme) UnmarshalText(text []byte) error {
	v, err := ParseScheme(string(text))
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// stencil is one row of a 1-D difference matrix on a unit-spaced axis: the
// derivative at point i is Σ_k num[k]/den · f(i+off[k]) / h^order.
// Coefficients are kept as exact integer ratios so that the tests can check
// them against an exact rational solve of the moment (Vandermonde) equations.
type stencil struct {
	off []int
	num []int
	den int
}

// stencils is the set of rows a scheme uses for one derivative order: the
// central row used in the interior and on periodic axes, and the rows used
// at points 0, 1, ... of the lower end of a non-periodic axis. The upper end
// is the mirror image: offsets negated and, for odd derivative orders,
// coefficients negated.
type stencils struct {
	central stencil
	lower   []stencil
	// minPoints is the fewest points a non-periodic axis needs so that the
	// widest one-sided row fits inside it.
	minPoints int
}

// schemeStencils returns the rows of scheme s for derivative order 1 or 2.
//
// A one-sided row for derivative order d with accuracy p uses d+p points, the
// fewest for which the moment equations Σ c_k k^m = d!·δ_{md}, m < d+p, have
// a solution. The coefficients, all over the shown denominators and to be
// divided by h^d, are
//
//	FD2, d=1: central (−1, 0, 1)/2           at −1..1
//	          row 0   (−3, 4, −1)/2          at 0..2
//	FD2, d=2: central (1, −2, 1)/1           at −1..1
//	          row 0   (2, −5, 4, −1)/1       at 0..3
//	FD4, d=1: central (1, −8, 0, 8, −1)/12   at −2..2
//	          row 0   (−25, 48, −36, 16, −3)/12 at 0..4
//	          row 1   (−3, −10, 18, −6, 1)/12    at −1..3
//	FD4, d=2: central (−1, 16, −30, 16, −1)/12 at −2..2
//	          row 0   (45, −154, 214, −156, 61, −10)/12 at 0..5
//	          row 1   (10, −15, −4, 14, −6, 1)/12       at −1..4
//
// Row 1 of FD4 uses the one point to its left instead of being fully
// one-sided: its leading truncation constant is 4 (d=1) and 10 (d=2) times
// smaller than that of the row-0 stencil.
func schemeStencils(s Scheme, order int) (stencils, bool) {
	switch {
	case s == FD2 && order == 1:
		return stencils{
			central:   stencil{off: []int{-1, 0, 1}, num: []int{-1, 0, 1}, den: 2},
			lower:     []stencil{{off: []int{0, 1, 2}, num: []int{-3, 4, -1}, den: 2}},
			minPoints: 3,
		}, true
	case s == FD2 && order == 2:
		return stencils{
			central:   stencil{off: []int{-1, 0, 1}, num: []int{1, -2, 1}, den: 1},
			lower:     []stencil{{off: []int{0, 1, 2, 3}, num: []int{2, -5, 4, -1}, den: 1}},
			minPoints: 4,
		}, true
	case s == FD4 && order == 1:
		return stencils{
			central: stencil{off: []int{-2, -1, 0, 1, 2}, num: []int{1, -8, 0, 8, -1}, den: 12},
			lower: []stencil{
				{off: []int{0, 1, 2, 3, 4}, num: []int{-25, 48, -36, 16, -3}, den: 12},
				{off: []int{-1, 0, 1, 2, 3}, num: []int{-3, -10, 18, -6, 1}, den: 12},
			},
			minPoints: 5,
		}, true
	case s == FD4 && order == 2:
		return stencils{
			central: stencil{off: []int{-2, -1, 0, 1, 2}, num: []int{-1, 16, -30, 16, -1}, den: 12},
			lower: []stencil{
				{off: []int{0, 1, 2, 3, 4, 5}, num: []int{45, -154, 214, -156, 61, -10}, den: 12},
				{off: []int{-1, 0, 1, 2, 3, 4}, num: []int{10, -15, -4, 14, -6, 1}, den: 12},
			},
			minPoints: 6,
		}, true
	}
	return stencils{}, false
}

package mesh

import (
	"math/big"
	"testing"
)

// TestStencilCoefficients derives every stencil row from scratch and
// compares it with the tabulated one. A row with offsets o_0..o_{m-1} for
// derivative order d is the solution of the moment (Vandermonde) equations
//
//	Σ_k c_k o_k^j = d!·δ_{jd},  j = 0..m−1,
//
// which make it exact for polynomials of degree < m. The system is solved in
// exact rational arithmetic, so the comparison needs no tolerance.
func TestStencilCoefficients(t *testing.T) {
	t.Parallel()
	for _, test := range []struct {
		scheme   Scheme
		order    int
		accuracy int
	}{
		{FD2, 1, 2}, {FD2, 2, 2}, {FD4, 1, 4}, {FD4, 2, 4},
	} {
		st, ok := schemeStencils(test.scheme, test.order)
		if !ok {
			t.Fatalf("%v order %d: no stencils", test.scheme, test.order)
		}
		rows := append([]stencil{st.central}, st.lower...)
		for r, s := range rows {
			want := solveMoments(s.off, test.order)
			for k := range s.off {
				got := big.NewRat(int64(s.num[k]), int64(s.den))
				if got.Cmp(want[k]) != 0 {
					t.Errorf("%v order %d row %d: coefficient at offset %d = %v, want %v",
						test.scheme, test.order, r, s.off[k], got, want[k])
				}
			}
			// A one-sided row of derivative order d and accuracy p needs
			// d+p points; the central row needs one fewer for d=2 and the
			// even-symmetric moments vanish, so it may use d+p−1 points.
			if r > 0 && len(s.off) != test.order+test.accuracy {
				t.Errorf("%v order %d row %d: %d points, want %d", test.scheme, test.order, r, len(s.off), test.order+test.accuracy)
			}
		}
		// Row i of the lower end reaches index i+max(off), which must exist
		// on the shortest allowed axis; the central rows start at index
		// len(lower) and must not reach below index 0.
		for i, s := range st.lower {
			if i+maxInt(s.off) >= st.minPoints {
				t.Errorf("%v order %d: lower row %d reaches past minPoints %d", test.scheme, test.order, i, st.minPoints)
			}
		}
		if len(st.lower) < maxInt(st.central.off) {
			t.Errorf("%v order %d: central stencil reaches below index 0", test.scheme, test.order)
		}
	}
}

// solveMoments solves the moment equations for the given offsets by
// Gauss–Jordan elimination over the rationals.
func solveMoments(off []int, order int) []*big.Rat {
	m := len(off)
	a := make([][]*big.Rat, m)
	for j := range a {
		a[j] = make([]*big.Rat, m+1)
		for k, o := range off {
			p := big.NewRat(1, 1)
			for range j {
				p.Mul(p, big.NewRat(int64(o), 1))
			}
			a[j][k] = p
		}
		a[j][m] = new(big.Rat)
		if j == order {
			fact := int64(1)
			for i := 2; i <= order; i++ {
				fact *= int64(i)
			}
			a[j][m].SetInt64(fact)
		}
	}
	for c := 0; c < m; c++ {
		p := c
		for a[p][c].Sign() == 0 {
			p++
		}
		a[c], a[p] = a[p], a[c]
		inv := new(big.Rat).Inv(a[c][c])
		for k := c; k <= m; k++ {
			a[c][k].Mul(a[c][k], inv)
		}
		for r := 0; r < m; r++ {
			if r == c || a[r][c].Sign() == 0 {
				continue
			}
			f := new(big.Rat).Set(a[r][c])
			for k := c; k <= m; k++ {
				a[r][k].Sub(a[r][k], new(big.Rat).Mul(f, a[c][k]))
			}
		}
	}
	x := make([]*big.Rat, m)
	for k := range x {
		x[k] = a[k][m]
	}
	return x
}

func maxInt(s []int) int {
	m := s[0]
	for _, v := range s[1:] {
		m = max(m, v)
	}
	return m
}

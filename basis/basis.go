// Package basis builds analytic basis functions on a grid: the fields b_j
// whose combination u = Σ b_j ω_j the experts fit. A basis is a row-major
// Size×N matrix, one row per grid point, one column per function, the layout
// the term operators of package mesh act on.
//
// These are the non-learned bases: a tensor Chebyshev basis, and random
// Fourier features. Learned bases (networks) produce the same layout.
package basis

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/hcmoe/hcmoe/mesh"
)

// Chebyshev returns the tensor basis T_{a}(t)·T_{b}(x)(·T_{c}(y)) with
// degrees[i] polynomials (degrees 0..degrees[i]−1) along axis i, each axis
// mapped affinely onto [−1, 1]. N = Π degrees. Columns run with the last
// axis fastest.
func Chebyshev(g mesh.Grid, degrees []int) ([]float64, int, error) {
	if len(degrees) != g.Dims() {
		return nil, 0, fmt.Errorf("basis: chebyshev: %d degrees for a %d-axis grid", len(degrees), g.Dims())
	}
	n := 1
	for i, d := range degrees {
		if d < 1 {
			return nil, 0, fmt.Errorf("basis: chebyshev: degrees[%d] = %d, want ≥ 1", i, d)
		}
		n *= d
	}
	// Per axis, the polynomials at every grid coordinate.
	tables := make([][]float64, g.Dims())
	for i, ax := range g.Axes {
		pts := ax.Points()
		tab := make([]float64, len(pts)*degrees[i])
		for j, x := range pts {
			s := 2*(x-ax.Min)/(ax.Max-ax.Min) - 1
			row := tab[j*degrees[i] : (j+1)*degrees[i]]
			row[0] = 1
			if len(row) > 1 {
				row[1] = s
			}
			for k := 2; k < len(row); k++ {
				row[k] = 2*s*row[k-1] - row[k-2]
			}
		}
		tables[i] = tab
	}
	size := g.Size()
	out := make([]float64, size*n)
	idx := make([]int, g.Dims())
	for p := range size {
		g.Coords(p, idx)
		row := out[p*n : (p+1)*n]
		fill(row, tables, degrees, idx, 0, 1)
	}
	return out, n, nil
}

// fill writes the tensor products of the per-axis polynomial values into
// row, recursing over axes with the last fastest.
func fill(row []float64, tables [][]float64, degrees, idx []int, axis int, acc float64) {
	d := degrees[axis]
	vals := tables[axis][idx[axis]*d : (idx[axis]+1)*d]
	stride := len(row) / d
	for k, v := range vals {
		sub := row[k*stride : (k+1)*stride]
		if axis == len(degrees)-1 {
			sub[0] = acc * v
		} else {
			fill(sub, tables, degrees, idx, axis+1, acc*v)
		}
	}
}

// RandomFeatures returns n random Fourier features cos(w·p + b) with
// w ~ N(0, scale²) per coordinate (coordinates normalised to [0, 1]) and
// b ~ U(0, 2π), from a seeded generator; the first column is the constant 1
// so that constants are represented exactly.
func RandomFeatures(g mesh.Grid, n int, scale float64, seed uint64) ([]float64, error) {
	if n < 1 {
		return nil, fmt.Errorf("basis: random features: n = %d, want ≥ 1", n)
	}
	if !(scale > 0) || math.IsInf(scale, 0) {
		return nil, fmt.Errorf("basis: random features: scale = %v, want a positive number", scale)
	}
	rng := rand.New(rand.NewPCG(seed, 0x6863_6d6f_65)) // "hcmoe"
	dims := g.Dims()
	w := make([]float64, n*dims)
	b := make([]float64, n)
	for j := 1; j < n; j++ {
		for d := range dims {
			w[j*dims+d] = scale * rng.NormFloat64()
		}
		b[j] = 2 * math.Pi * rng.Float64()
	}
	size := g.Size()
	out := make([]float64, size*n)
	idx := make([]int, dims)
	pt := make([]float64, dims)
	for p := range size {
		g.Coords(p, idx)
		for d, ax := range g.Axes {
			pt[d] = (ax.Point(idx[d]) - ax.Min) / (ax.Max - ax.Min)
		}
		row := out[p*n : (p+1)*n]
		row[0] = 1
		for j := 1; j < n; j++ {
			s := b[j]
			for d := range dims {
				s += w[j*dims+d] * pt[d]
			}
			row[j] = math.Cos(s)
		}
	}
	return out, nil
}

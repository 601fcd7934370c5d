package basis

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"

	"github.com/hcmoe/hcmoe/mesh"
	"github.com/hcmoe/hcmoe/npz"
)

// POD returns the first n proper orthogonal modes of a dataset written by
// `coordinator gen`: the right singular vectors of the count × Size matrix
// whose rows are the trajectories u[i] (uncentred, so that the modes span
// the data's mean as well as its variations), scaled to unit RMS on the
// grid. The dataset's grid must be g. It is the non-learned baseline a
// learned basis has to beat.
func POD(g mesh.Grid, path string, n int, lim npz.Limits) ([]float64, error) {
	if n < 1 {
		return nil, fmt.Errorf("basis: pod: n = %d, want ≥ 1", n)
	}
	arrs, err := npz.ReadFile(path, lim)
	if err != nil {
		return nil, fmt.Errorf("basis: pod: %w", err)
	}
	u, ok := arrs["u"]
	if !ok || u.Float64 == nil {
		return nil, fmt.Errorf("basis: pod: %s has no float array \"u\"", path)
	}
	shape := g.Shape()
	if len(u.Shape) != len(shape)+1 {
		return nil, fmt.Errorf("basis: pod: %s: u has shape %v, want [count %v]", path, u.Shape, shape)
	}
	for i, s := range shape {
		if u.Shape[i+1] != s {
			return nil, fmt.Errorf("basis: pod: %s: u has shape %v, the config's grid is %v", path, u.Shape, shape)
		}
	}
	count, size := u.Shape[0], g.Size()
	if n > count {
		return nil, fmt.Errorf("basis: pod: %d modes asked of %d trajectories in %s", n, count, path)
	}
	var svd mat.SVD
	if !svd.Factorize(mat.NewDense(count, size, u.Float64), mat.SVDThinV) {
		return nil, fmt.Errorf("basis: pod: SVD of %s did not converge", path)
	}
	var v mat.Dense
	svd.VTo(&v) // size × min(count, size)
	s := svd.Values(nil)
	if s[n-1] <= 1e-12*s[0] {
		return nil, fmt.Errorf("basis: pod: mode %d of %s has singular value %.3g of %.3g: the data spans fewer than %d modes", n, path, s[n-1], s[0], n)
	}
	out := make([]float64, size*n)
	scale := math.Sqrt(float64(size)) // unit vectors → unit RMS
	for p := range size {
		for j := range n {
			out[p*n+j] = scale * v.At(p, j)
		}
	}
	return out, nil
}

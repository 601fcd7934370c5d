package basis

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"

	"github.com/hcmoe/hcmoe/dataset"
	"github.com/hcmoe/hcmoe/mesh"
)

// POD returns the first n proper orthogonal modes of a dataset written by
// `coordinator gen`: the right singular vectors of the count × Size matrix
// whose rows are the trajectories u[i] (uncentred, so that the modes span
// the data's mean as well as its variations), scaled to unit RMS on the
// grid. The dataset's grid must be g. It is the non-learned baseline a
// learned basis has to beat.
func POD(g mesh.Grid, path string, n int) ([]float64, error) {
	if n < 1 {
		return nil, fmt.Errorf("basis: pod: n = %d, want ≥ 1", n)
	}
	d, err := dataset.Read(path, g)
	if err != nil {
		return nil, fmt.Errorf("basis: pod: %w", err)
	}
	count, size := d.N, g.Size()
	if n > count {
		return nil, fmt.Errorf("basis: pod: %d modes asked of %d trajectories in %s", n, count, path)
	}
	var svd mat.SVD
	if !svd.Factorize(mat.NewDense(count, size, d.U), mat.SVDThinV) {
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

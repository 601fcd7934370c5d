package basis

import (
	"math"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/hcmoe/hcmoe/mesh"
	"github.com/hcmoe/hcmoe/npz"
)

// Trajectories built from three fields: three POD modes span every one of
// them to rounding, and a fourth is refused.
func TestPOD(t *testing.T) {
	g := grid(t, mesh.Axis{Min: 0, Max: 1, N: 9}, mesh.Axis{Min: 0, Max: 1, N: 17})
	size := g.Size()
	fields := make([][]float64, 3)
	idx := make([]int, 2)
	for k := range fields {
		fields[k] = make([]float64, size)
		for p := range size {
			g.Coords(p, idx)
			tt, x := g.Axes[0].Point(idx[0]), g.Axes[1].Point(idx[1])
			fields[k][p] = math.Exp(-float64(k)*tt) * math.Sin(float64(k+1)*math.Pi*x)
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	const count = 7
	u := make([]float64, count*size)
	for i := range count {
		for k := range fields {
			c := rng.NormFloat64()
			for p := range size {
				u[i*size+p] += c * fields[k][p]
			}
		}
	}
	path := filepath.Join(t.TempDir(), "d.npz")
	if err := npz.WriteFile(path, false, func(w *npz.Writer) error { return w.Float64("u", []int{count, 9, 17}, u) }); err != nil {
		t.Fatal(err)
	}
	b, err := POD(g, path, 3)
	if err != nil {
		t.Fatal(err)
	}
	// Project each trajectory on the modes: the residual must vanish.
	bm := mat.NewDense(size, 3, b)
	for i := range count {
		y := mat.NewVecDense(size, u[i*size:(i+1)*size])
		var c, r mat.VecDense
		if err := c.SolveVec(bm, y); err != nil {
			t.Fatal(err)
		}
		r.MulVec(bm, &c)
		r.SubVec(&r, y)
		if n := mat.Norm(&r, 2) / mat.Norm(y, 2); n > 1e-12 {
			t.Fatalf("trajectory %d off the POD span by %.3g", i, n)
		}
	}
	if _, err := POD(g, path, 4); err == nil {
		t.Fatal("a fourth mode of rank-3 data accepted")
	}
	g2 := grid(t, mesh.Axis{Min: 0, Max: 1, N: 9}, mesh.Axis{Min: 0, Max: 1, N: 16})
	if _, err := POD(g2, path, 2); err == nil {
		t.Fatal("grid mismatch accepted")
	}
}

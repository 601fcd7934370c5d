package basis

import (
	"math"
	"testing"

	"github.com/hcmoe/hcmoe/mesh"
)

func grid(t *testing.T, axes ...mesh.Axis) mesh.Grid {
	t.Helper()
	g, err := mesh.NewGrid(axes...)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// Every column must equal the closed form T_a(s)T_b(r) = cos(a·acos s)·cos(b·acos r)
// to rounding (the recurrence is stable on [−1, 1]: errors grow at most
// linearly in the degree, so 1e-13 is ample for degrees below 10).
func TestChebyshevClosedForm(t *testing.T) {
	g := grid(t, mesh.Axis{Min: 0, Max: 2, N: 7}, mesh.Axis{Min: -1, Max: 3, N: 9})
	deg := []int{3, 5}
	b, n, err := Chebyshev(g, deg)
	if err != nil {
		t.Fatal(err)
	}
	if n != 15 || len(b) != g.Size()*15 {
		t.Fatalf("N = %d, len %d", n, len(b))
	}
	idx := make([]int, 2)
	for p := range g.Size() {
		g.Coords(p, idx)
		s := 2*(g.Axes[0].Point(idx[0])-0)/2 - 1
		r := 2*(g.Axes[1].Point(idx[1])+1)/4 - 1
		for a := range deg[0] {
			for c := range deg[1] {
				want := math.Cos(float64(a)*math.Acos(s)) * math.Cos(float64(c)*math.Acos(r))
				if got := b[p*n+a*deg[1]+c]; math.Abs(got-want) > 1e-13 {
					t.Fatalf("point %v, T%d·T%d = %v, want %v", idx, a, c, got, want)
				}
			}
		}
	}
	if _, _, err := Chebyshev(g, []int{3}); err == nil {
		t.Fatal("degree count mismatch accepted")
	}
	if _, _, err := Chebyshev(g, []int{3, 0}); err == nil {
		t.Fatal("zero degree accepted")
	}
}

func TestRandomFeatures(t *testing.T) {
	g := grid(t, mesh.Axis{Min: 0, Max: 1, N: 5}, mesh.Axis{Min: 0, Max: 1, N: 6})
	a, err := RandomFeatures(g, 8, 3, 42)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := RandomFeatures(g, 8, 3, 42)
	c, _ := RandomFeatures(g, 8, 3, 43)
	same, differ := true, false
	for i := range a {
		same = same && a[i] == b[i]
		differ = differ || a[i] != c[i]
		if i%8 == 0 && a[i] != 1 {
			t.Fatal("first feature is not the constant")
		}
		if math.Abs(a[i]) > 1 {
			t.Fatalf("feature value %v outside [−1, 1]", a[i])
		}
	}
	if !same || !differ {
		t.Fatalf("seeding: same seed equal %t, other seed differs %t", same, differ)
	}
	for _, bad := range []struct {
		n     int
		scale float64
	}{{0, 1}, {4, 0}, {4, math.NaN()}} {
		if _, err := RandomFeatures(g, bad.n, bad.scale, 1); err == nil {
			t.Errorf("n=%d scale=%v accepted", bad.n, bad.scale)
		}
	}
}

package mesh

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// classify names the point set a grid point belongs to by the definitions,
// independently of the box arithmetic of the implementation: "initial" on
// t index 0, else "face a lower/upper" on a global face of a non-periodic
// space axis (all such faces), else "interior".
func classify(g Grid, idx []int) []string {
	if idx[0] == 0 {
		return []string{"initial"}
	}
	var faces []string
	for a := 1; a < g.Dims(); a++ {
		if g.Axes[a].Periodic {
			continue
		}
		if idx[a] == 0 {
			faces = append(faces, fmt.Sprintf("face %d lower", a))
		}
		if idx[a] == g.Axes[a].N-1 {
			faces = append(faces, fmt.Sprintf("face %d upper", a))
		}
	}
	if faces == nil {
		return []string{"interior"}
	}
	return faces
}

// TestPointSets checks InteriorPoints, InitialPoints and FacePoints of every
// block of small partitioned grids against a brute-force enumeration of the
// block's points classified by definition.
func TestPointSets(t *testing.T) {
	t.Parallel()
	for _, test := range []struct {
		shape, splits, periodic []int
	}{
		{[]int{4, 7}, []int{2, 3}, nil},
		{[]int{4, 7}, []int{1, 2}, []int{1}},
		{[]int{4, 5, 6}, []int{2, 2, 2}, []int{2}},
		{[]int{3, 5, 4}, []int{3, 1, 2}, nil},
	} {
		g := axisGrid(t, test.shape, test.periodic...)
		p, err := NewPartition(g, test.splits)
		if err != nil {
			t.Fatal(err)
		}
		name := fmt.Sprintf("%v/%v/periodic=%v", test.shape, test.splits, test.periodic)
		idx := make([]int, g.Dims())
		covered := make([]bool, g.Size())
		for k, b := range p.Blocks {
			want := map[string][]int{}
			for _, flat := range b.Indices(g) {
				g.Coords(flat, idx)
				for _, c := range classify(g, idx) {
					want[c] = append(want[c], flat)
				}
			}
			got := map[string][]int{
				"interior": InteriorPoints(g, b),
				"initial":  InitialPoints(g, b),
			}
			for a := 1; a < g.Dims(); a++ {
				got[fmt.Sprintf("face %d lower", a)] = FacePoints(g, b, a, false)
				got[fmt.Sprintf("face %d upper", a)] = FacePoints(g, b, a, true)
			}
			for set, pts := range got {
				if !slices.Equal(pts, want[set]) {
					t.Errorf("%s block %d (%v): %s = %v, want %v", name, k, b, set, pts, want[set])
				}
				for _, flat := range pts {
					covered[flat] = true
				}
			}
		}
		for flat, ok := range covered {
			if !ok {
				g.Coords(flat, idx)
				t.Errorf("%s: point %v in no point set", name, idx)
			}
		}
	}
}

func TestFacePointsPanics(t *testing.T) {
	t.Parallel()
	g := axisGrid(t, []int{4, 5})
	b := Block{Lo: []int{0, 0}, Hi: []int{4, 5}}
	for _, axis := range []int{0, 2, -1} {
		if !panics(func() { FacePoints(g, b, axis, false) }) {
			t.Errorf("FacePoints on axis %d did not panic", axis)
		}
	}
}

// TestSampleInterior checks the samples of a block for p covering both
// sampling algorithms (Floyd's for p ≤ count/2, selection sampling above)
// and the edge cases 0, count and more than count.
func TestSampleInterior(t *testing.T) {
	t.Parallel()
	g := axisGrid(t, []int{9, 12, 10}, 2)
	p, err := NewPartition(g, []int{2, 2, 1})
	if err != nil {
		t.Fatal(err)
	}
	for k, b := range p.Blocks {
		interior := InteriorPoints(g, b)
		count := len(interior)
		for _, n := range []int{0, 1, 7, count / 2, count/2 + 1, count - 1, count, count + 5} {
			name := fmt.Sprintf("block %d (%v) p=%d of %d", k, b, n, count)
			s1 := SampleInterior(g, b, n, rand.New(rand.NewPCG(42, uint64(n))))
			s2 := SampleInterior(g, b, n, rand.New(rand.NewPCG(42, uint64(n))))
			if !slices.Equal(s1, s2) {
				t.Errorf("%s: same seed gave different samples", name)
			}
			if want := min(n, count); len(s1) != want {
				t.Errorf("%s: %d points, want %d", name, len(s1), want)
			}
			for i, flat := range s1 {
				if i > 0 && flat <= s1[i-1] {
					t.Errorf("%s: not strictly increasing at %d (duplicate or unsorted)", name, i)
				}
				if _, ok := slices.BinarySearch(interior, flat); !ok {
					t.Errorf("%s: point %d is not an interior point of the block", name, flat)
				}
			}
			if n >= count && !slices.Equal(s1, interior) {
				t.Errorf("%s: want all interior points", name)
			}
		}
		// Samples that leave many choices must depend on the seed.
		a := SampleInterior(g, b, 7, rand.New(rand.NewPCG(1, 1)))
		c := SampleInterior(g, b, 7, rand.New(rand.NewPCG(2, 2)))
		if slices.Equal(a, c) {
			t.Errorf("block %d: different seeds gave the same sample %v", k, a)
		}
	}
	if !panics(func() { SampleInterior(g, p.Blocks[0], -1, rand.New(rand.NewPCG(1, 1))) }) {
		t.Error("negative p did not panic")
	}
}

// TestSampleInteriorUniform draws many samples and checks that every
// interior point is chosen about equally often, for both algorithms. With
// trials samples of p out of count points, each point's count is
// hypergeometric-like with mean m = trials·p/count and standard deviation
// below √m; the bound 5√m is exceeded with probability ≈ 6e-7 per point.
// The seed is fixed, so the test is deterministic; the bound only has to
// hold for it, and a broken sampler (e.g. one that never picks the last
// point or favours low indices) misses it by far.
func TestSampleInteriorUniform(t *testing.T) {
	t.Parallel()
	g := axisGrid(t, []int{5, 9})
	b := Block{Lo: []int{0, 0}, Hi: []int{5, 9}}
	interior := InteriorPoints(g, b)
	count := len(interior) // 4 × 7 = 28
	const trials = 20000
	for _, n := range []int{3, 20} {
		rng := rand.New(rand.NewPCG(7, uint64(n)))
		hits := map[int]int{}
		for range trials {
			for _, flat := range SampleInterior(g, b, n, rng) {
				hits[flat]++
			}
		}
		mean := float64(trials*n) / float64(count)
		for _, flat := range interior {
			if d := math.Abs(float64(hits[flat]) - mean); d > 5*math.Sqrt(mean) {
				t.Errorf("p=%d: point %d chosen %d times, want %.0f ± %.0f", n, flat, hits[flat], mean, 5*math.Sqrt(mean))
			}
		}
	}
}

func BenchmarkSampleInterior(b *testing.B) {
	g := axisGrid(b, []int{101, 1024})
	blk := Block{Lo: []int{0, 0}, Hi: []int{101, 256}}
	for _, n := range []int{1000, 20000} {
		b.Run(fmt.Sprintf("p=%d", n), func(b *testing.B) {
			rng := rand.New(rand.NewPCG(1, 2))
			b.ReportAllocs()
			for b.Loop() {
				SampleInterior(g, blk, n, rng)
			}
		})
	}
}

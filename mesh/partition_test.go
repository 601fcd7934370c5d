package mesh

import (
	"math/rand/v2"
	"strings"
	"testing"
)

// axisGrid returns a grid with the given numbers of points, all axes on
// [0, 1]; periodic marks the periodic space axes.
func axisGrid(t testing.TB, shape []int, periodic ...int) Grid {
	t.Helper()
	axes := make([]Axis, len(shape))
	for a, n := range shape {
		axes[a] = Axis{Min: 0, Max: 1, N: n}
	}
	for _, a := range periodic {
		axes[a].Periodic = true
	}
	return mustGrid(t, axes...)
}

func TestNewPartitionBlockSizes(t *testing.T) {
	t.Parallel()
	for _, test := range []struct {
		shape, splits []int
		// want[a] lists the block lengths along axis a.
		want [][]int
	}{
		{[]int{5, 10}, []int{1, 3}, [][]int{{5}, {4, 3, 3}}},
		{[]int{101, 1024}, []int{1, 4}, [][]int{{101}, {256, 256, 256, 256}}},
		{[]int{7, 11, 9}, []int{2, 2, 2}, [][]int{{4, 3}, {6, 5}, {5, 4}}},
		{[]int{4, 5}, []int{4, 5}, [][]int{{1, 1, 1, 1}, {1, 1, 1, 1, 1}}},
		{[]int{6, 14}, []int{2, 4}, [][]int{{3, 3}, {4, 4, 3, 3}}},
	} {
		g := axisGrid(t, test.shape)
		p, err := NewPartition(g, test.splits)
		if err != nil {
			t.Fatalf("%v/%v: %v", test.shape, test.splits, err)
		}
		nb := 1
		for _, s := range test.splits {
			nb *= s
		}
		if len(p.Blocks) != nb {
			t.Fatalf("%v/%v: %d blocks, want %d", test.shape, test.splits, len(p.Blocks), nb)
		}
		// Block k's position along axis a is the a-th digit of k in the
		// row-major lattice of splits.
		pos := make([]int, len(test.splits))
		for k, b := range p.Blocks {
			unflatten(k, test.splits, pos)
			for a, j := range pos {
				if got := b.Hi[a] - b.Lo[a]; got != test.want[a][j] {
					t.Errorf("%v/%v: block %d (%v) has length %d along axis %d, want %d",
						test.shape, test.splits, k, b, got, a, test.want[a][j])
				}
			}
		}
	}
}

// TestPartitionCover checks that the blocks cover every grid point exactly
// once and that Owner, Global and Local agree with each other and with the
// blocks' index ranges.
func TestPartitionCover(t *testing.T) {
	t.Parallel()
	for _, test := range []struct {
		shape, splits []int
	}{
		{[]int{5, 10}, []int{1, 3}},
		{[]int{7, 11, 9}, []int{2, 3, 2}},
		{[]int{3, 4, 5}, []int{3, 4, 5}},
		{[]int{9, 8}, []int{2, 1}},
	} {
		g := axisGrid(t, test.shape)
		p, err := NewPartition(g, test.splits)
		if err != nil {
			t.Fatal(err)
		}
		seen := make([]int, g.Size())
		idx := make([]int, g.Dims())
		for k, b := range p.Blocks {
			loc := p.Local(k)
			if len(loc) != b.Size() {
				t.Fatalf("%v/%v block %d: %d local points, want %d", test.shape, test.splits, k, len(loc), b.Size())
			}
			for l, flat := range loc {
				seen[flat]++
				if l > 0 && flat <= loc[l-1] {
					t.Errorf("%v/%v block %d: Local not increasing at %d", test.shape, test.splits, k, l)
				}
				if got := p.Global(k, l); got != flat {
					t.Errorf("%v/%v: Global(%d, %d) = %d, want %d", test.shape, test.splits, k, l, got, flat)
				}
				g.Coords(flat, idx)
				if !b.Contains(idx) {
					t.Errorf("%v/%v block %d: point %v not contained", test.shape, test.splits, k, idx)
				}
			}
		}
		for flat, n := range seen {
			if n != 1 {
				t.Errorf("%v/%v: point %d covered %d times", test.shape, test.splits, flat, n)
			}
			k, l := p.Owner(flat)
			if got := p.Global(k, l); got != flat {
				t.Errorf("%v/%v: Global(Owner(%d)) = %d", test.shape, test.splits, flat, got)
			}
		}
	}
}

func TestGatherScatter(t *testing.T) {
	t.Parallel()
	g := axisGrid(t, []int{5, 7, 6})
	p, err := NewPartition(g, []int{2, 2, 3})
	if err != nil {
		t.Fatal(err)
	}
	const cols = 3
	src := randField(rand.New(rand.NewPCG(9, 9)), g.Size()*cols)
	dst := make([]float64, len(src))
	for k, b := range p.Blocks {
		blk := make([]float64, b.Size()*cols)
		p.Gather(blk, src, k, cols)
		for l, flat := range p.Local(k) {
			for c := range cols {
				if blk[l*cols+c] != src[flat*cols+c] {
					t.Fatalf("block %d: gathered row %d column %d wrong", k, l, c)
				}
			}
		}
		p.Scatter(dst, blk, k, cols)
	}
	for i := range dst {
		if dst[i] != src[i] {
			t.Fatalf("scatter of all gathered blocks differs at %d", i)
		}
	}
	if !panics(func() { p.Gather(make([]float64, 1), src, 0, cols) }) {
		t.Error("Gather with a short block field did not panic")
	}
}

func TestNewPartitionErrors(t *testing.T) {
	t.Parallel()
	g := axisGrid(t, []int{5, 10, 4})
	for _, test := range []struct {
		splits []int
		want   string
	}{
		{[]int{1, 2}, "2 splits for a 3-axis grid"},
		{[]int{1, 2, 3, 4}, "4 splits for a 3-axis grid"},
		{[]int{0, 2, 2}, "axis 0 (t): split 0"},
		{[]int{1, 0, 2}, "axis 1 (x): split 0"},
		{[]int{1, 2, -1}, "axis 2 (y): split -1"},
		{[]int{1, 11, 2}, "axis 1 (x): split 11 exceeds the axis length 10"},
		{[]int{6, 1, 1}, "axis 0 (t): split 6 exceeds"},
	} {
		_, err := NewPartition(g, test.splits)
		if err == nil || !strings.Contains(err.Error(), test.want) {
			t.Errorf("NewPartition(%v) error = %v, want error containing %q", test.splits, err, test.want)
		}
	}
}

func TestBlockExtend(t *testing.T) {
	t.Parallel()
	g := axisGrid(t, []int{10, 12, 8}, 2)
	for _, test := range []struct {
		name    string
		b       Block
		overlap int
		want    Block
	}{
		{
			"inner", Block{Lo: []int{4, 4, 3}, Hi: []int{7, 8, 5}}, 2,
			Block{Lo: []int{2, 2, 1}, Hi: []int{7, 10, 7}},
		},
		{
			"clipped", Block{Lo: []int{1, 0, 0}, Hi: []int{10, 11, 8}}, 3,
			Block{Lo: []int{0, 0, 0}, Hi: []int{10, 12, 8}},
		},
		{
			"zero", Block{Lo: []int{4, 4, 3}, Hi: []int{7, 8, 5}}, 0,
			Block{Lo: []int{4, 4, 3}, Hi: []int{7, 8, 5}},
		},
	} {
		got := test.b.Extend(g, test.overlap)
		if !equalInts(got.Lo, test.want.Lo) || !equalInts(got.Hi, test.want.Hi) {
			t.Errorf("%s: %v.Extend(%d) = %v, want %v", test.name, test.b, test.overlap, got, test.want)
		}
	}
	if !panics(func() { (Block{Lo: []int{0, 0, 0}, Hi: []int{1, 1, 1}}).Extend(g, -1) }) {
		t.Error("negative overlap did not panic")
	}
}

func TestBlockMethods(t *testing.T) {
	t.Parallel()
	g := axisGrid(t, []int{4, 6})
	b := Block{Lo: []int{1, 2}, Hi: []int{3, 5}}
	if got := b.Shape(); !equalInts(got, []int{2, 3}) {
		t.Errorf("Shape() = %v, want [2 3]", got)
	}
	if b.Size() != 6 {
		t.Errorf("Size() = %d, want 6", b.Size())
	}
	for _, test := range []struct {
		idx  []int
		want bool
	}{
		{[]int{1, 2}, true}, {[]int{2, 4}, true}, {[]int{3, 2}, false},
		{[]int{1, 5}, false}, {[]int{0, 3}, false}, {[]int{1}, false},
	} {
		if got := b.Contains(test.idx); got != test.want {
			t.Errorf("Contains(%v) = %v, want %v", test.idx, got, test.want)
		}
	}
	if got, want := b.Indices(g), []int{8, 9, 10, 14, 15, 16}; !equalInts(got, want) {
		t.Errorf("Indices() = %v, want %v", got, want)
	}
	if !panics(func() { (Block{Lo: []int{0, 0}, Hi: []int{5, 1}}).Indices(g) }) {
		t.Error("Indices of a block outside the grid did not panic")
	}
}

package mesh

import (
	"fmt"
	"sort"
)

// Block is a box of grid points: along axis a it holds the indices
// [Lo[a], Hi[a]).
type Block struct {
	Lo, Hi []int
}

// Shape returns the number of points of b along each axis.
func (b Block) Shape() []int {
	s := make([]int, len(b.Lo))
	for a := range s {
		s[a] = b.Hi[a] - b.Lo[a]
	}
	return s
}

// Size returns the number of points in b.
func (b Block) Size() int {
	return boxSize(b.Lo, b.Hi)
}

// Contains reports whether the multi-index idx lies in b.
func (b Block) Contains(idx []int) bool {
	if len(idx) != len(b.Lo) {
		return false
	}
	for a, i := range idx {
		if i < b.Lo[a] || i >= b.Hi[a] {
			return false
		}
	}
	return true
}

// Indices returns the global flat indices in g of the points of b, in the
// row-major order of the block, which is also increasing order. Position l
// of the result is the global index of the block's local point l.
func (b Block) Indices(g Grid) []int {
	checkBlock(g, b)
	return boxIndices(g, b.Lo, b.Hi)
}

// Extend returns b grown by overlap points, clipped to g: on both sides
// along every space axis, and only on the lower side along time (axis 0).
// Time is grown downwards only because information flows forward in time:
// a block needs the solution of earlier times as its initial data, never of
// later ones.
//
// Periodic axes are clipped at the ends like the others, because a Block
// is a box in index space and cannot wrap around; a block touching a
// periodic seam gets no overlap across it.
func (b Block) Extend(g Grid, overlap int) Block {
	checkBlock(g, b)
	if overlap < 0 {
		panic(fmt.Sprintf("mesh: negative overlap %d", overlap))
	}
	e := Block{Lo: make([]int, len(b.Lo)), Hi: make([]int, len(b.Hi))}
	for a := range b.Lo {
		e.Lo[a] = max(b.Lo[a]-overlap, 0)
		e.Hi[a] = b.Hi[a]
		if a > 0 {
			e.Hi[a] = min(b.Hi[a]+overlap, g.Axes[a].N)
		}
	}
	return e
}

// String returns the block as its index ranges, e.g. "[0,101)×[0,256)".
func (b Block) String() string {
	s := ""
	for a := range b.Lo {
		if a > 0 {
			s += "×"
		}
		s += fmt.Sprintf("[%d,%d)", b.Lo[a], b.Hi[a])
	}
	return s
}

// checkBlock panics unless b is a non-empty box inside g.
func checkBlock(g Grid, b Block) {
	if len(b.Lo) != g.Dims() || len(b.Hi) != g.Dims() {
		panic(fmt.Sprintf("mesh: block %v has the wrong number of axes for a %d-axis grid", b, g.Dims()))
	}
	for a := range b.Lo {
		if b.Lo[a] < 0 || b.Lo[a] >= b.Hi[a] || b.Hi[a] > g.Axes[a].N {
			panic(fmt.Sprintf("mesh: block %v out of range along %s of length %d", b, axisName(a), g.Axes[a].N))
		}
	}
}

// Partition splits a grid into a lattice of blocks. Splits[a] is the number
// of blocks along axis a; Blocks lists the blocks in row-major order of the
// multi-index of split positions, the last axis varying fastest.
//
// A Partition must be built by NewPartition and not modified afterwards.
type Partition struct {
	Grid   Grid
	Splits []int
	Blocks []Block

	// starts[a] holds the first index of each block along axis a, followed
	// by the axis length, so block k spans [starts[a][k], starts[a][k+1]).
	starts [][]int
}

// NewPartition splits g into Splits[a] blocks along each axis a. The blocks
// along an axis of n points have n/s or n/s+1 points, the longer ones
// first: 10 points in 3 blocks gives 4, 3, 3. It returns an error naming the
// axis if a split is < 1 or exceeds the axis length, and an error if
// len(splits) ≠ g.Dims().
func NewPartition(g Grid, splits []int) (*Partition, error) {
	if err := g.Validate(); err != nil {
		return nil, fmt.Errorf("mesh: partition: %w", err)
	}
	if len(splits) != g.Dims() {
		return nil, fmt.Errorf("mesh: partition: %d splits for a %d-axis grid", len(splits), g.Dims())
	}
	p := &Partition{
		Grid:   Grid{Axes: append([]Axis(nil), g.Axes...)},
		Splits: append([]int(nil), splits...),
		starts: make([][]int, g.Dims()),
	}
	nb := 1
	for a, s := range splits {
		n := g.Axes[a].N
		if s < 1 {
			return nil, fmt.Errorf("mesh: partition: %s: split %d, need at least 1", axisName(a), s)
		}
		if s > n {
			return nil, fmt.Errorf("mesh: partition: %s: split %d exceeds the axis length %d", axisName(a), s, n)
		}
		q, r := n/s, n%s
		st := make([]int, s+1)
		for k := 0; k < s; k++ {
			st[k+1] = st[k] + q
			if k < r {
				st[k+1]++
			}
		}
		p.starts[a] = st
		nb *= s
	}
	p.Blocks = make([]Block, nb)
	pos := make([]int, g.Dims())
	for k := range p.Blocks {
		unflatten(k, p.Splits, pos)
		b := Block{Lo: make([]int, g.Dims()), Hi: make([]int, g.Dims())}
		for a, j := range pos {
			b.Lo[a], b.Hi[a] = p.starts[a][j], p.starts[a][j+1]
		}
		p.Blocks[k] = b
	}
	return p, nil
}

// Owner returns the block holding the grid point with flat index flat and
// the point's local index in that block (row-major within the block). It
// panics if flat is out of range.
func (p *Partition) Owner(flat int) (block, local int) {
	g := p.Grid
	if flat < 0 || flat >= g.Size() {
		panic(fmt.Sprintf("mesh: flat index %d out of range [0, %d)", flat, g.Size()))
	}
	// Peel the axes off flat from the last one, accumulating the block's
	// row-major position and the local index with their own strides.
	blockStride, localStride := 1, 1
	for a := g.Dims() - 1; a >= 0; a-- {
		n := g.Axes[a].N
		i := flat % n
		flat /= n
		st := p.starts[a]
		k := sort.SearchInts(st, i+1) - 1 // last block starting at or before i
		block += k * blockStride
		local += (i - st[k]) * localStride
		blockStride *= p.Splits[a]
		localStride *= st[k+1] - st[k]
	}
	return block, local
}

// Global returns the flat grid index of local point local of block block.
// It panics if either is out of range.
func (p *Partition) Global(block, local int) int {
	if block < 0 || block >= len(p.Blocks) {
		panic(fmt.Sprintf("mesh: block %d out of range [0, %d)", block, len(p.Blocks)))
	}
	b := p.Blocks[block]
	if local < 0 || local >= b.Size() {
		panic(fmt.Sprintf("mesh: local index %d out of range [0, %d) of block %d", local, b.Size(), block))
	}
	flat, stride := 0, 1
	for a := len(b.Lo) - 1; a >= 0; a-- {
		m := b.Hi[a] - b.Lo[a]
		flat += (b.Lo[a] + local%m) * stride
		local /= m
		stride *= p.Grid.Axes[a].N
	}
	return flat
}

// Local returns, for every local point l of block block, its global flat
// index: Local(block)[l] == Global(block, l). The result is increasing.
func (p *Partition) Local(block int) []int {
	if block < 0 || block >= len(p.Blocks) {
		panic(fmt.Sprintf("mesh: block %d out of range [0, %d)", block, len(p.Blocks)))
	}
	return p.Blocks[block].Indices(p.Grid)
}

// Gather copies the rows of the global field src (Grid.Size()×cols) that
// belong to block block into the block field dst (Blocks[block].Size()×cols),
// in local order.
func (p *Partition) Gather(dst, src []float64, block, cols int) {
	idx := p.Local(block)
	checkBlockField(len(dst), len(src), len(idx), p.Grid.Size(), cols)
	for l, gi := range idx {
		copy(dst[l*cols:(l+1)*cols], src[gi*cols:(gi+1)*cols])
	}
}

// Scatter copies the block field src of block block into its rows of the
// global field dst, leaving the other rows of dst unchanged. Scattering
// every block assembles a global field from per-block fields.
func (p *Partition) Scatter(dst, src []float64, block, cols int) {
	idx := p.Local(block)
	checkBlockField(len(src), len(dst), len(idx), p.Grid.Size(), cols)
	for l, gi := range idx {
		copy(dst[gi*cols:(gi+1)*cols], src[l*cols:(l+1)*cols])
	}
}

func checkBlockField(blockLen, globalLen, blockSize, size, cols int) {
	if cols < 1 {
		panic(fmt.Sprintf("mesh: field with %d columns", cols))
	}
	if blockLen != blockSize*cols || globalLen != size*cols {
		panic(fmt.Sprintf("mesh: field lengths block %d, global %d, want %d and %d for %d columns",
			blockLen, globalLen, blockSize*cols, size*cols, cols))
	}
}

// unflatten stores in pos the row-major multi-index of k in a lattice of the
// given shape.
func unflatten(k int, shape, pos []int) {
	for a := len(shape) - 1; a >= 0; a-- {
		pos[a] = k % shape[a]
		k /= shape[a]
	}
}

// boxSize returns the number of points of the box [lo, hi), zero if it is
// empty along some axis.
func boxSize(lo, hi []int) int {
	n := 1
	for a := range lo {
		if hi[a] <= lo[a] {
			return 0
		}
		n *= hi[a] - lo[a]
	}
	return n
}

// boxIndices returns the global flat indices of the box [lo, hi) of g in
// row-major order. For a box, row-major order within the box is increasing
// global order, which is why every point set of this package comes out
// sorted without a sort.
func boxIndices(g Grid, lo, hi []int) []int {
	n := boxSize(lo, hi)
	if n == 0 {
		return nil
	}
	out := make([]int, 0, n)
	strides := g.Strides()
	idx := append([]int(nil), lo...)
	last := len(lo) - 1
	for {
		base := 0
		for a := 0; a < last; a++ {
			base += idx[a] * strides[a]
		}
		// The last axis has stride 1: append its run directly.
		for i := lo[last]; i < hi[last]; i++ {
			out = append(out, base+i)
		}
		// Odometer increment over the axes before the last.
		a := last - 1
		for ; a >= 0; a-- {
			idx[a]++
			if idx[a] < hi[a] {
				break
			}
			idx[a] = lo[a]
		}
		if a < 0 {
			return out
		}
	}
}

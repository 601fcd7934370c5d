package mesh

import (
	"fmt"
	"math/rand/v2"
	"slices"
)

// The point sets below split the points of a block between the conditions
// that own them, so that no grid point is constrained twice by different
// kinds of rows:
//
//   - the initial slice (t index 0), corners with the space boundary
//     included, belongs to the initial condition;
//   - the rest of each global boundary face of a non-periodic space axis
//     belongs to that face's boundary condition;
//   - everything else is interior, where the PDE residual is imposed.
//
// Points on an edge where two space faces meet (3-D grids) belong to both
// faces. Every set is a box in index space, so each is enumerated in
// increasing global order directly.

// InteriorPoints returns the sorted global flat indices of all interior
// points of b: the points not on the initial slice t index 0 and not on the
// global boundary faces (index 0 and n−1) of any non-periodic space axis.
func InteriorPoints(g Grid, b Block) []int {
	checkBlock(g, b)
	lo, hi := interiorBox(g, b)
	return boxIndices(g, lo, hi)
}

// SampleInterior returns p distinct interior points of b (see
// InteriorPoints), drawn uniformly without replacement using rng, as sorted
// global flat indices. If p is at least the number of interior points, all of
// them are returned. The result depends only on g, b, p and the state of
// rng, so a seeded rng gives reproducible samples. SampleInterior panics if
// p < 0.
//
// The cost is O(p log p) time and O(p) memory whatever the size of the block,
// so sampling a few points from a large block is cheap.
func SampleInterior(g Grid, b Block, p int, rng *rand.Rand) []int {
	checkBlock(g, b)
	if p < 0 {
		panic(fmt.Sprintf("mesh: negative sample count %d", p))
	}
	lo, hi := interiorBox(g, b)
	count := boxSize(lo, hi)
	if p >= count {
		return boxIndices(g, lo, hi)
	}
	if p == 0 {
		return nil
	}

	// pos receives sorted positions in [0, count), in the row-major order of
	// the interior box.
	pos := make([]int, 0, p)
	if 2*p > count {
		// Selection sampling (Knuth's Algorithm S) visits each position once
		// and keeps it with probability (still needed)/(still left); with
		// count < 2p its O(count) pass is O(p), needs no set, and produces
		// the positions already sorted.
		for i := 0; len(pos) < p; i++ {
			if rng.IntN(count-i) < p-len(pos) {
				pos = append(pos, i)
			}
		}
	} else {
		// Floyd's algorithm draws exactly p random numbers and keeps every
		// p-subset equally likely; it touches only the chosen positions.
		seen := make(map[int]struct{}, p)
		for j := count - p; j < count; j++ {
			t := rng.IntN(j + 1)
			if _, dup := seen[t]; dup {
				t = j
			}
			seen[t] = struct{}{}
			pos = append(pos, t)
		}
		slices.Sort(pos)
	}

	// Row-major order of a box is increasing global order, so mapping the
	// sorted positions keeps the result sorted.
	strides := g.Strides()
	for k, l := range pos {
		flat := 0
		for a := len(lo) - 1; a >= 0; a-- {
			m := hi[a] - lo[a]
			flat += (lo[a] + l%m) * strides[a]
			l /= m
		}
		pos[k] = flat
	}
	return pos
}

// InitialPoints returns the sorted global flat indices of the points of b on
// the initial slice t index 0, including the points of that slice on the
// space boundary: the initial condition owns the corners. The result is
// empty if b does not contain the initial slice.
func InitialPoints(g Grid, b Block) []int {
	checkBlock(g, b)
	if b.Lo[0] != 0 {
		return nil
	}
	lo, hi := slices.Clone(b.Lo), slices.Clone(b.Hi)
	hi[0] = 1
	return boxIndices(g, lo, hi)
}

// FacePoints returns the sorted global flat indices of the points of b on
// the global boundary face of space axis axis (index 0 of the axis, or n−1
// if upper), excluding the initial slice t index 0, which the initial
// condition owns. The result is empty if b does not touch the face or the
// axis is periodic and so has no face. FacePoints panics if axis is not a
// space axis of g (1 ≤ axis < g.Dims()).
func FacePoints(g Grid, b Block, axis int, upper bool) []int {
	checkBlock(g, b)
	if axis < 1 || axis >= g.Dims() {
		panic(fmt.Sprintf("mesh: face axis %d is not a space axis of a %d-axis grid", axis, g.Dims()))
	}
	ax := g.Axes[axis]
	if ax.Periodic {
		return nil
	}
	f := 0
	if upper {
		f = ax.N - 1
	}
	if f < b.Lo[axis] || f >= b.Hi[axis] {
		return nil
	}
	lo, hi := slices.Clone(b.Lo), slices.Clone(b.Hi)
	lo[axis], hi[axis] = f, f+1
	lo[0] = max(lo[0], 1)
	return boxIndices(g, lo, hi)
}

// interiorBox returns the index box of the interior points of b; it may be
// empty along some axis.
func interiorBox(g Grid, b Block) (lo, hi []int) {
	lo, hi = slices.Clone(b.Lo), slices.Clone(b.Hi)
	lo[0] = max(lo[0], 1)
	for a := 1; a < len(lo); a++ {
		if !g.Axes[a].Periodic {
			lo[a] = max(lo[a], 1)
			hi[a] = min(hi[a], g.Axes[a].N-1)
		}
	}
	return lo, hi
}

package mesh

import (
	"errors"
	"fmt"
	"math"
)

// Axis is a uniformly spaced coordinate axis.
//
// A non-periodic axis has N points on the closed interval [Min, Max], both
// ends included, so its step is (Max−Min)/(N−1). A periodic axis has N points
// on the half-open interval [Min, Max): the point Max is the image of Min, so
// its step is (Max−Min)/N.
type Axis struct {
	Min, Max float64
	N        int
	Periodic bool
}

// Step returns the spacing between neighbouring points of the axis.
func (a Axis) Step() float64 {
	return (a.Max - a.Min) / float64(a.intervals())
}

// intervals is the number of steps that span [Min, Max].
func (a Axis) intervals() int {
	if a.Periodic {
		return a.N
	}
	return a.N - 1
}

// Point returns the coordinate of point i of the axis. Point panics if i is
// not in [0, N).
func (a Axis) Point(i int) float64 {
	if i < 0 || i >= a.N {
		panic(fmt.Sprintf("mesh: axis point %d out of range [0, %d)", i, a.N))
	}
	// The last point of a non-periodic axis is returned exactly so that
	// boundary data evaluated there sees Max itself, not Max ± rounding.
	if !a.Periodic && i == a.N-1 {
		return a.Max
	}
	// Scaling i by the length before dividing keeps the error of every point
	// at one or two roundings instead of accumulating i roundings of Step.
	return a.Min + float64(i)*(a.Max-a.Min)/float64(a.intervals())
}

// Points returns the N coordinates of the axis.
func (a Axis) Points() []float64 {
	p := make([]float64, a.N)
	for i := range p {
		p[i] = a.Point(i)
	}
	return p
}

// Validate reports whether the axis describes a usable grid axis: Min and Max
// finite with Min < Max, and N ≥ 2. Two points are the fewest for which the
// axis has a step; derivative operators need more and say so when built.
func (a Axis) Validate() error {
	if err := a.check(); err != nil {
		return fmt.Errorf("mesh: %w", err)
	}
	return nil
}

func (a Axis) check() error {
	switch {
	case math.IsNaN(a.Min) || math.IsInf(a.Min, 0) || math.IsNaN(a.Max) || math.IsInf(a.Max, 0):
		return fmt.Errorf("axis bounds [%g, %g] not finite", a.Min, a.Max)
	case a.Min >= a.Max:
		return fmt.Errorf("axis bounds [%g, %g] need Min < Max", a.Min, a.Max)
	case a.N < 2:
		return fmt.Errorf("axis has %d points, need at least 2", a.N)
	}
	return nil
}

// axisName names axis a in messages using the (t, x, y) convention.
func axisName(a int) string {
	switch a {
	case 0:
		return "axis 0 (t)"
	case 1:
		return "axis 1 (x)"
	case 2:
		return "axis 2 (y)"
	}
	return fmt.Sprintf("axis %d", a)
}

// Grid is the tensor-product grid of its Axes. Axis 0 is time, axes 1 and 2
// are x and y. Points are numbered row-major, the last axis varying fastest.
//
// A Grid should be built with NewGrid, or checked with Validate, before use.
// Its Axes must not be modified afterwards: operators and partitions built
// from the grid assume its shape does not change.
type Grid struct {
	Axes []Axis
}

// NewGrid returns a grid with the given axes, in the order (t, x[, y]). It
// returns an error if there is no axis, if an axis is invalid or if the time
// axis (axis 0) is periodic.
func NewGrid(axes ...Axis) (Grid, error) {
	g := Grid{Axes: append([]Axis(nil), axes...)}
	if err := g.Validate(); err != nil {
		return Grid{}, err
	}
	return g, nil
}

// Validate reports whether g is a usable grid; see NewGrid.
func (g Grid) Validate() error {
	if len(g.Axes) == 0 {
		return errors.New("mesh: grid has no axes")
	}
	size := 1
	for a, ax := range g.Axes {
		if err := ax.check(); err != nil {
			return fmt.Errorf("mesh: %s: %w", axisName(a), err)
		}
		if size > math.MaxInt/ax.N {
			return fmt.Errorf("mesh: %s: grid size overflows int", axisName(a))
		}
		size *= ax.N
	}
	// The initial slice t index 0 is where initial conditions live; a
	// periodic time axis would make that slice an interior one.
	if g.Axes[0].Periodic {
		return errors.New("mesh: axis 0 (t) is time and cannot be periodic")
	}
	return nil
}

// Dims returns the number of axes of g.
func (g Grid) Dims() int { return len(g.Axes) }

// Shape returns the number of points along each axis.
func (g Grid) Shape() []int {
	s := make([]int, len(g.Axes))
	for a, ax := range g.Axes {
		s[a] = ax.N
	}
	return s
}

// Size returns the total number of grid points, zero for a grid without
// axes.
func (g Grid) Size() int {
	if len(g.Axes) == 0 {
		return 0
	}
	n := 1
	for _, ax := range g.Axes {
		n *= ax.N
	}
	return n
}

// Strides returns the row-major strides of g: moving one point along axis a
// moves the flat index by Strides()[a]. The last axis has stride 1.
func (g Grid) Strides() []int {
	s := make([]int, len(g.Axes))
	stride := 1
	for a := len(g.Axes) - 1; a >= 0; a-- {
		s[a] = stride
		stride *= g.Axes[a].N
	}
	return s
}

// Index returns the flat index of the multi-index idx. It panics if idx does
// not have one in-range entry per axis.
func (g Grid) Index(idx []int) int {
	if len(idx) != len(g.Axes) {
		panic(fmt.Sprintf("mesh: index has %d entries for a %d-axis grid", len(idx), len(g.Axes)))
	}
	flat := 0
	for a, ax := range g.Axes {
		i := idx[a]
		if i < 0 || i >= ax.N {
			panic(fmt.Sprintf("mesh: %s index %d out of range [0, %d)", axisName(a), i, ax.N))
		}
		flat = flat*ax.N + i
	}
	return flat
}

// Coords stores in idx the multi-index of the flat index flat. It panics if
// flat is out of range or len(idx) ≠ Dims().
func (g Grid) Coords(flat int, idx []int) {
	if len(idx) != len(g.Axes) {
		panic(fmt.Sprintf("mesh: index has %d entries for a %d-axis grid", len(idx), len(g.Axes)))
	}
	if flat < 0 || flat >= g.Size() {
		panic(fmt.Sprintf("mesh: flat index %d out of range [0, %d)", flat, g.Size()))
	}
	for a := len(g.Axes) - 1; a >= 0; a-- {
		n := g.Axes[a].N
		idx[a] = flat % n
		flat /= n
	}
}

// Point stores in p the coordinates of the grid point with flat index flat.
// It panics if flat is out of range or len(p) ≠ Dims().
func (g Grid) Point(flat int, p []float64) {
	if len(p) != len(g.Axes) {
		panic(fmt.Sprintf("mesh: point has %d entries for a %d-axis grid", len(p), len(g.Axes)))
	}
	if flat < 0 || flat >= g.Size() {
		panic(fmt.Sprintf("mesh: flat index %d out of range [0, %d)", flat, g.Size()))
	}
	for a := len(g.Axes) - 1; a >= 0; a-- {
		n := g.Axes[a].N
		p[a] = g.Axes[a].Point(flat % n)
		flat /= n
	}
}

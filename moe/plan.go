package moe

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/hcmoe/hcmoe/constraint"
	"github.com/hcmoe/hcmoe/mesh"
	"github.com/hcmoe/hcmoe/pde"
)

// Layout says how a grid is shared among experts.
type Layout struct {
	Grid      mesh.Grid
	Partition *mesh.Partition
	Equation  pde.Equation
	// Points is the number of interior rows sampled per expert.
	Points int
	// Replicate gives every expert the global initial and boundary rows
	// (the paper's way); otherwise each expert gets those of its own
	// subdomain.
	Replicate bool
	// Overlap extends each expert's solve region by this many points along
	// space (both sides) and time (lower side) for Schwarz coupling.
	Overlap int
	Seed    uint64
}

// Face is a set of boundary rows with their condition.
type Face struct {
	Axis   int
	Side   pde.Side
	Points []int
	Cond   pde.Condition
}

// Plan lists the rows of one expert. All point lists are global flat grid
// indices, sorted.
type Plan struct {
	Index int
	// Core is the block the expert owns in the assembled solution; Region
	// the block it solves on (Core extended by the overlap).
	Core, Region mesh.Block
	Interior     []int
	Initial      []int
	Faces        []Face
	// Interface holds the points of Region's inner faces: where Schwarz
	// coupling imposes the current global iterate.
	Interface []int
}

// Plans returns one plan per block of the partition, with interior points
// sampled from a generator seeded by Layout.Seed and the block index.
func (l *Layout) Plans() ([]Plan, error) {
	if l.Points < 1 {
		return nil, fmt.Errorf("moe: %d interior points per expert", l.Points)
	}
	if l.Overlap < 0 {
		return nil, fmt.Errorf("moe: negative overlap %d", l.Overlap)
	}
	g := l.Grid
	whole := mesh.Block{Lo: make([]int, g.Dims()), Hi: g.Shape()}
	plans := make([]Plan, len(l.Partition.Blocks))
	for k, core := range l.Partition.Blocks {
		region := core
		if l.Overlap > 0 {
			region = core.Extend(g, l.Overlap)
		}
		rng := rand.New(rand.NewPCG(l.Seed, uint64(k)))
		pl := Plan{Index: k, Core: core, Region: region, Interior: mesh.SampleInterior(g, region, l.Points, rng)}
		rows := region
		if l.Replicate {
			rows = whole
		}
		pl.Initial = mesh.InitialPoints(g, rows)
		for axis := 1; axis < g.Dims(); axis++ {
			for _, side := range []pde.Side{pde.Lower, pde.Upper} {
				cond, ok := l.Equation.Boundary(axis, side)
				if !ok {
					continue
				}
				pts := mesh.FacePoints(g, rows, axis, side == pde.Upper)
				if len(pts) > 0 {
					pl.Faces = append(pl.Faces, Face{Axis: axis, Side: side, Points: pts, Cond: cond})
				}
			}
		}
		pl.Interface = innerFaces(g, region)
		plans[k] = pl
	}
	return plans, nil
}

// innerFaces returns the points of b's faces that lie inside the grid: both
// ends along space axes, the lower end along time. Points on the initial
// slice are left out, the initial rows own them.
func innerFaces(g mesh.Grid, b mesh.Block) []int {
	shape := g.Shape()
	idx := make([]int, g.Dims())
	var out []int
	for _, p := range b.Indices(g) {
		g.Coords(p, idx)
		if idx[0] == 0 {
			continue
		}
		inner := idx[0] == b.Lo[0] && b.Lo[0] > 0
		for a := 1; a < g.Dims() && !inner; a++ {
			inner = (idx[a] == b.Lo[a] && b.Lo[a] > 0) || (idx[a] == b.Hi[a]-1 && b.Hi[a] < shape[a])
		}
		if inner {
			out = append(out, p)
		}
	}
	return out
}

// Inputs are the fields a problem is built from.
type Inputs struct {
	Terms *Terms
	// Hold is the initial value held constant in time: Hold[p] = u0(x(p)).
	// Its initial slice gives the initial rows' targets; the whole field is
	// the target of the fitted start.
	Hold  []float64
	Ridge float64
	// InteriorWeight scales the interior PDE rows (0 means 1). A residual
	// in physical units can be orders of magnitude smaller than the data
	// rows (diffusion-sorption's u_t is ~1e-3/s): weighting it by the time
	// scale balances the least-squares problem.
	InteriorWeight float64
}

// Problem builds the local problem of a plan. iterate, when not nil, is the
// current global solution, imposed as data on the plan's interface points.
// It also returns the grid points of each block's rows, for the backward.
func (pl *Plan) Problem(eq pde.Equation, in Inputs, iterate []float64) (*constraint.Problem, [][]int, error) {
	t := in.Terms
	p := &constraint.Problem{N: t.N, Ridge: in.Ridge}
	var points [][]int
	add := func(name string, r pde.Residual, pts []int, aux func(i, p int) float64) error {
		if len(pts) == 0 {
			return nil
		}
		b := constraint.Block{Name: name, Residual: r}
		for _, term := range r.Terms() {
			rows, err := t.Rows(term, pts)
			if err != nil {
				return fmt.Errorf("expert %d: %s rows: %w", pl.Index, name, err)
			}
			b.Terms = append(b.Terms, rows)
		}
		if r.NumAux() == 1 {
			b.Aux = make([]float64, len(pts))
			for i, q := range pts {
				b.Aux[i] = aux(i, q)
			}
		}
		p.Blocks = append(p.Blocks, b)
		points = append(points, pts)
		return nil
	}
	if err := add("interior", eq.Interior(), pl.Interior, nil); err != nil {
		return nil, nil, err
	}
	if w := in.InteriorWeight; w != 0 && w != 1 && len(p.Blocks) > 0 {
		b := &p.Blocks[0]
		b.Weights = make([]float64, len(pl.Interior))
		for i := range b.Weights {
			b.Weights[i] = w
		}
	}
	if err := add("initial", eq.Initial(), pl.Initial, func(_, q int) float64 { return in.Hold[q] }); err != nil {
		return nil, nil, err
	}
	for _, f := range pl.Faces {
		name := fmt.Sprintf("boundary-%d-%v", f.Axis, f.Side)
		v := f.Cond.Value
		if err := add(name, f.Cond.Residual, f.Points, func(int, int) float64 { return v }); err != nil {
			return nil, nil, err
		}
	}
	if iterate != nil {
		if err := add("interface", pde.Data{}, pl.Interface, func(_, q int) float64 { return iterate[q] }); err != nil {
			return nil, nil, err
		}
	}
	fitPts := append(append([]int(nil), pl.Interior...), pl.Initial...)
	basis, err := t.Rows(pde.TermU, fitPts)
	if err != nil {
		return nil, nil, err
	}
	target := make([]float64, len(fitPts))
	for i, q := range fitPts {
		target[i] = in.Hold[q]
	}
	p.Start = &constraint.Fit{Basis: basis, Target: target}
	return p, points, nil
}

// Assemble returns u on the whole grid: on each plan's core block, the
// basis combined with that expert's coefficients.
func Assemble(g mesh.Grid, basis []float64, n int, plans []Plan, omegas [][]float64) []float64 {
	u := make([]float64, g.Size())
	for k, pl := range plans {
		w := omegas[k]
		for _, p := range pl.Core.Indices(g) {
			row := basis[p*n : (p+1)*n]
			s := 0.0
			for j, v := range row {
				s += v * w[j]
			}
			u[p] = s
		}
	}
	return u
}

// Mismatch is the largest disagreement, over every plan's interface points,
// between the expert's own prediction there and the global field u,
// relative to max |u| (or absolute when u vanishes).
func Mismatch(basis []float64, n int, plans []Plan, omegas [][]float64, u []float64) float64 {
	scale := 0.0
	for _, v := range u {
		scale = math.Max(scale, math.Abs(v))
	}
	if scale == 0 {
		scale = 1
	}
	worst := 0.0
	for k, pl := range plans {
		w := omegas[k]
		for _, p := range pl.Interface {
			s := 0.0
			for j, v := range basis[p*n : (p+1)*n] {
				s += v * w[j]
			}
			worst = math.Max(worst, math.Abs(s-u[p]))
		}
	}
	return worst / scale
}

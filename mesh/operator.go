package mesh

import (
	"fmt"
	"math"
	"runtime"
	"sort"
	"sync"
)

// Operator is a linear map on the fields of a grid. A field with cols
// columns is a row-major Size()×cols matrix: each column is one grid
// function, each row holds the values of all columns at one grid point.
//
// Operators are immutable and safe for concurrent use. Apply and
// ApplyTranspose panic if dst or src does not have length Size()*cols or if
// cols < 1; dst and src must not overlap.
type Operator interface {
	// Apply sets dst = A src, column by column.
	Apply(dst, src []float64, cols int)

	// ApplyTranspose sets dst = Aᵀ src, column by column. It is the exact
	// adjoint of Apply: ⟨A u, v⟩ = ⟨u, Aᵀ v⟩ up to rounding.
	ApplyTranspose(dst, src []float64, cols int)
}

// Identity returns the identity operator on fields of g, the operator of
// the term u itself.
func Identity(g Grid) Operator {
	return identity{size: g.Size()}
}

type identity struct{ size int }

func (op identity) Apply(dst, src []float64, cols int) {
	checkField(dst, src, op.size, cols)
	copy(dst, src)
}

func (op identity) ApplyTranspose(dst, src []float64, cols int) {
	op.Apply(dst, src, cols)
}

// Derivative returns the operator of the order-th derivative (1 or 2) along
// axis of g, discretised with scheme. Non-periodic axes use the one-sided
// stencils of the scheme at their ends (see Scheme); periodic axes use the
// central stencil with wrap-around. Derivative returns an error if the axis
// has fewer points than the widest stencil needs.
func Derivative(g Grid, axis, order int, scheme Scheme) (Operator, error) {
	if err := g.Validate(); err != nil {
		return nil, err
	}
	if axis < 0 || axis >= g.Dims() {
		return nil, fmt.Errorf("mesh: derivative axis %d out of range for a %d-axis grid", axis, g.Dims())
	}
	if order != 1 && order != 2 {
		return nil, fmt.Errorf("mesh: derivative along %s: order %d not supported (want 1 or 2)", axisName(axis), order)
	}
	st, ok := schemeStencils(scheme, order)
	if !ok {
		return nil, fmt.Errorf("mesh: derivative along %s: unknown scheme %v", axisName(axis), scheme)
	}
	ax := g.Axes[axis]
	// A periodic axis shorter than the central stencil would alias two
	// stencil points onto one grid point; a non-periodic one would let the
	// one-sided rows run off the far end.
	need := st.minPoints
	if ax.Periodic {
		need = len(st.central.off)
	}
	if ax.N < need {
		kind := "non-periodic"
		if ax.Periodic {
			kind = "periodic"
		}
		return nil, fmt.Errorf("mesh: derivative along %s: %v order-%d stencil needs at least %d points on a %s axis, have %d",
			axisName(axis), scheme, order, need, kind, ax.N)
	}

	fwd := diffMatrix(st, ax, order)
	op := &axisOp{
		size:   g.Size(),
		outer:  1,
		n:      ax.N,
		stride: 1,
		fwd:    fwd,
		adj:    fwd.transpose(),
	}
	for a := 0; a < axis; a++ {
		op.outer *= g.Axes[a].N
	}
	for a := axis + 1; a < g.Dims(); a++ {
		op.stride *= g.Axes[a].N
	}
	return op, nil
}

// csr is an n×n sparse matrix in compressed sparse row form, the 1-D
// difference matrix along one axis.
type csr struct {
	ptr []int
	col []int
	val []float64
}

// diffMatrix assembles the 1-D difference matrix of st on axis ax.
func diffMatrix(st stencils, ax Axis, order int) csr {
	n := ax.N
	hd := math.Pow(ax.Step(), float64(order))
	sign := 1
	if order%2 == 1 {
		// Mirroring x → −x flips the sign of odd derivatives.
		sign = -1
	}
	type entry struct {
		col int
		val float64
	}
	m := csr{ptr: make([]int, 1, n+1)}
	var row []entry
	for i := 0; i < n; i++ {
		row = row[:0]
		add := func(s stencil, dir, sgn int) {
			for k, off := range s.off {
				if s.num[k] == 0 {
					continue
				}
				j := i + dir*off
				if ax.Periodic {
					j = ((j % n) + n) % n
				}
				v := float64(sgn*s.num[k]) / (float64(s.den) * hd)
				row = append(row, entry{j, v})
			}
		}
		nb := len(st.lower)
		switch {
		case ax.Periodic || (i >= nb && i < n-nb):
			add(st.central, 1, 1)
		case i < nb:
			add(st.lower[i], 1, 1)
		default:
			add(st.lower[n-1-i], -1, sign)
		}
		sort.Slice(row, func(a, b int) bool { return row[a].col < row[b].col })
		for _, e := range row {
			m.col = append(m.col, e.col)
			m.val = append(m.val, e.val)
		}
		m.ptr = append(m.ptr, len(m.col))
	}
	return m
}

// transpose returns mᵀ. Building the adjoint from the same coefficients is
// what makes ApplyTranspose the exact adjoint of Apply.
func (m csr) transpose() csr {
	n := len(m.ptr) - 1
	t := csr{
		ptr: make([]int, n+1),
		col: make([]int, len(m.col)),
		val: make([]float64, len(m.val)),
	}
	for _, j := range m.col {
		t.ptr[j+1]++
	}
	for j := 0; j < n; j++ {
		t.ptr[j+1] += t.ptr[j]
	}
	next := append([]int(nil), t.ptr[:n]...)
	// Rows are visited in increasing order, so each row of t comes out
	// sorted by column.
	for i := 0; i < n; i++ {
		for k := m.ptr[i]; k < m.ptr[i+1]; k++ {
			j := m.col[k]
			t.col[next[j]] = i
			t.val[next[j]] = m.val[k]
			next[j]++
		}
	}
	return t
}

// axisOp applies a 1-D matrix along one axis of a grid. Viewing a field as
// an outer×n×inner array, with inner = stride*cols, row (o, i) of the
// output, a contiguous run of inner values, is the combination
// Σ_j m[i,j]·(o, j) of whole contiguous input rows. The work is thus a few
// long axpy-like passes per output row, whichever axis is differentiated.
type axisOp struct {
	size     int // grid points
	outer    int // product of the axis lengths before the axis
	n        int // points along the axis
	stride   int // product of the axis lengths after the axis
	fwd, adj csr
}

func (op *axisOp) Apply(dst, src []float64, cols int) {
	checkField(dst, src, op.size, cols)
	op.run(&op.fwd, dst, src, cols, op.workers(cols))
}

func (op *axisOp) ApplyTranspose(dst, src []float64, cols int) {
	checkField(dst, src, op.size, cols)
	op.run(&op.adj, dst, src, cols, op.workers(cols))
}

const (
	// parallelMin is the field length from which Apply uses several
	// goroutines. Below it (a 512 KiB field) the goroutine start-up and
	// synchronisation cost is comparable to the work itself.
	parallelMin = 1 << 16
	// chunkMin is the least field length handed to one goroutine.
	chunkMin = 1 << 15
)

// workers returns how many goroutines to use for a field with cols columns.
func (op *axisOp) workers(cols int) int {
	total := op.size * cols
	if total < parallelMin {
		return 1
	}
	return max(1, min(runtime.GOMAXPROCS(0), op.outer*op.n, total/chunkMin))
}

// run sets dst = M src along the axis using w goroutines. Each goroutine
// owns a contiguous range of output rows and every output value is computed
// by the same sequence of operations whatever w is, so results do not
// depend on the number of workers.
func (op *axisOp) run(m *csr, dst, src []float64, cols, w int) {
	rows := op.outer * op.n
	if w <= 1 {
		op.rows(m, dst, src, cols, 0, rows)
		return
	}
	var wg sync.WaitGroup
	for k := 0; k < w; k++ {
		r0, r1 := k*rows/w, (k+1)*rows/w
		wg.Add(1)
		go func() {
			defer wg.Done()
			op.rows(m, dst, src, cols, r0, r1)
		}()
	}
	wg.Wait()
}

// rows computes output rows [r0, r1) of the outer×n row grid.
func (op *axisOp) rows(m *csr, dst, src []float64, cols, r0, r1 int) {
	n := op.n
	inner := op.stride * cols
	for r := r0; r < r1; r++ {
		i := r % n
		base := (r - i) * inner // start of slice o = r/n
		cs := m.col[m.ptr[i]:m.ptr[i+1]]
		vs := m.val[m.ptr[i]:m.ptr[i+1]]
		if inner == 1 {
			// A slice header per term would cost more than the term.
			s := 0.0
			for k, j := range cs {
				s += vs[k] * src[base+j]
			}
			dst[r] = s
			continue
		}
		d := dst[r*inner : (r+1)*inner]
		row := func(k int) []float64 {
			off := base + cs[k]*inner
			return src[off : off+inner]
		}
		switch len(cs) {
		case 0:
			clear(d)
		case 1:
			set1(d, row(0), vs[0])
		case 2:
			set2(d, row(0), row(1), vs[0], vs[1])
		case 3:
			set3(d, row(0), row(1), row(2), vs[0], vs[1], vs[2])
		case 4:
			set4(d, row(0), row(1), row(2), row(3), vs[0], vs[1], vs[2], vs[3])
		default:
			// Five terms: the interior FD4 second derivative. Rows with more
			// terms occur only next to the ends of an axis (and in the
			// adjoint there) and add the rest one at a time.
			set5(d, row(0), row(1), row(2), row(3), row(4), vs[0], vs[1], vs[2], vs[3], vs[4])
			for k := 5; k < len(cs); k++ {
				add1(d, row(k), vs[k])
			}
		}
	}
}

// The set kernels overwrite d with a linear combination of equally long
// rows. Reslicing every input to len(d) lets the compiler drop the bounds
// checks in the loops, and fusing the terms writes d once instead of once
// per term.

func set1(d, a []float64, ca float64) {
	a = a[:len(d)]
	for k := range d {
		d[k] = ca * a[k]
	}
}

func set2(d, a, b []float64, ca, cb float64) {
	a, b = a[:len(d)], b[:len(d)]
	for k := range d {
		d[k] = ca*a[k] + cb*b[k]
	}
}

func set3(d, a, b, c []float64, ca, cb, cc float64) {
	a, b, c = a[:len(d)], b[:len(d)], c[:len(d)]
	for k := range d {
		d[k] = ca*a[k] + cb*b[k] + cc*c[k]
	}
}

func set4(d, a, b, c, e []float64, ca, cb, cc, ce float64) {
	a, b, c, e = a[:len(d)], b[:len(d)], c[:len(d)], e[:len(d)]
	for k := range d {
		d[k] = ca*a[k] + cb*b[k] + cc*c[k] + ce*e[k]
	}
}

func set5(d, a, b, c, e, f []float64, ca, cb, cc, ce, cf float64) {
	a, b, c, e, f = a[:len(d)], b[:len(d)], c[:len(d)], e[:len(d)], f[:len(d)]
	for k := range d {
		d[k] = ca*a[k] + cb*b[k] + cc*c[k] + ce*e[k] + cf*f[k]
	}
}

func add1(d, a []float64, ca float64) {
	a = a[:len(d)]
	for k := range d {
		d[k] += ca * a[k]
	}
}

// checkField panics unless dst and src are fields of a size-point grid with
// cols columns.
func checkField(dst, src []float64, size, cols int) {
	if cols < 1 {
		panic(fmt.Sprintf("mesh: field with %d columns", cols))
	}
	if len(dst) != size*cols || len(src) != size*cols {
		panic(fmt.Sprintf("mesh: field lengths dst %d, src %d, want %d points × %d columns = %d",
			len(dst), len(src), size, cols, size*cols))
	}
}

package transport

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"

	"github.com/hcmoe/hcmoe/constraint"
	"github.com/hcmoe/hcmoe/pde"
)

// The uncompressed payload of a frame is
//
//	uvarint   length S of the scalar section
//	S bytes   scalar section
//	8F bytes  float section: the F values of every float64 array of the
//	          message, concatenated in the order the scalar section names
//	          them
//
// The scalar section holds the message's fields in declaration order:
// signed integers (enumerations included) as zigzag varints, counts as
// uvarints, scalar float64 fields as 8 raw little-endian bytes, bools as
// one byte 0 or 1, strings as a uvarint length and their bytes. A float64
// array appears there only as a uvarint n+1 for n values, with 0 for a nil
// slice, so that nil and empty survive the trip; an optional pointer is a
// byte 0 (absent) or 1 followed by its fields.
//
// Without the shuffle flag the float section holds each value's IEEE-754
// bits as 8 little-endian bytes. With it, the section is byte-transposed as
// a whole: plane b (b = 0..7) holds byte b of every value in order, so that
// the sign-and-exponent bytes of all arrays sit together in planes 6 and 7.
// Term matrices hold smooth basis values of a few magnitudes, so those
// planes are long runs the compressor can take almost for free, while the
// noisy low mantissa bytes no longer break up its matches. The section is
// transposed as a whole because long planes compress best: shuffling
// blocks of N, 1024 or 65536 values instead left zstd frames of the
// benchmark problems 25–75% larger, and transposing each term matrix to
// column order first made them 3–16% larger. The scalar section is never
// shuffled.

// encoder gathers a message's scalar section and the float arrays it
// names. The arrays are not copied until writeBody.
type encoder struct {
	scalar []byte
	arrays [][]float64
	nf     int // values in all arrays
}

func (e *encoder) uvarint(v uint64) { e.scalar = binary.AppendUvarint(e.scalar, v) }
func (e *encoder) int(v int)        { e.scalar = binary.AppendVarint(e.scalar, int64(v)) }
func (e *encoder) float(v float64) {
	e.scalar = binary.LittleEndian.AppendUint64(e.scalar, math.Float64bits(v))
}

func (e *encoder) bool(v bool) {
	var b byte
	if v {
		b = 1
	}
	e.scalar = append(e.scalar, b)
}

func (e *encoder) string(s string) {
	e.uvarint(uint64(len(s)))
	e.scalar = append(e.scalar, s...)
}

// count writes a nil-preserving length: 0 for nil, n+1 for n elements.
func (e *encoder) count(n int, isNil bool) {
	if isNil {
		e.uvarint(0)
		return
	}
	e.uvarint(uint64(n) + 1)
}

func (e *encoder) floats(v []float64) {
	e.count(len(v), v == nil)
	if len(v) > 0 {
		e.arrays = append(e.arrays, v)
		e.nf += len(v)
	}
}

func (e *encoder) floatMatrix(v [][]float64) {
	e.count(len(v), v == nil)
	for _, a := range v {
		e.floats(a)
	}
}

func (e *encoder) bodyLen() int {
	s := len(e.scalar)
	return uvarintLen(uint64(s)) + s + 8*e.nf
}

func uvarintLen(v uint64) int {
	var b [binary.MaxVarintLen64]byte
	return binary.PutUvarint(b[:], v)
}

// writeBody writes the payload into dst, of length bodyLen.
func (e *encoder) writeBody(dst []byte, shuffle bool) {
	n := binary.PutUvarint(dst, uint64(len(e.scalar)))
	n += copy(dst[n:], e.scalar)
	sec := dst[n:]
	if shuffle {
		shuffleInto(sec, e.arrays, e.nf)
		return
	}
	for _, a := range e.arrays {
		for _, v := range a {
			binary.LittleEndian.PutUint64(sec, math.Float64bits(v))
			sec = sec[8:]
		}
	}
}

// shuffleInto writes the arrays, nf values in all, byte-transposed into
// sec: byte b of value g goes to sec[b·nf+g].
func shuffleInto(sec []byte, arrays [][]float64, nf int) {
	p0, p1, p2, p3 := sec[0*nf:1*nf], sec[1*nf:2*nf], sec[2*nf:3*nf], sec[3*nf:4*nf]
	p4, p5, p6, p7 := sec[4*nf:5*nf], sec[5*nf:6*nf], sec[6*nf:7*nf], sec[7*nf:8*nf]
	off := 0
	for _, a := range arrays {
		m := len(a)
		q0, q1, q2, q3 := p0[off:off+m], p1[off:off+m], p2[off:off+m], p3[off:off+m]
		q4, q5, q6, q7 := p4[off:off+m], p5[off:off+m], p6[off:off+m], p7[off:off+m]
		for j, v := range a {
			b := math.Float64bits(v)
			q0[j], q1[j], q2[j], q3[j] = byte(b), byte(b>>8), byte(b>>16), byte(b>>24)
			q4[j], q5[j], q6[j], q7[j] = byte(b>>32), byte(b>>40), byte(b>>48), byte(b>>56)
		}
		off += m
	}
}

// unshuffle reads values [off, off+len(dst)) of a byte-transposed section
// of nf values.
func unshuffle(dst []float64, sec []byte, nf, off int) {
	m := len(dst)
	q0, q1, q2, q3 := sec[0*nf+off:][:m], sec[1*nf+off:][:m], sec[2*nf+off:][:m], sec[3*nf+off:][:m]
	q4, q5, q6, q7 := sec[4*nf+off:][:m], sec[5*nf+off:][:m], sec[6*nf+off:][:m], sec[7*nf+off:][:m]
	for j := range dst {
		b := uint64(q0[j]) | uint64(q1[j])<<8 | uint64(q2[j])<<16 | uint64(q3[j])<<24 |
			uint64(q4[j])<<32 | uint64(q5[j])<<40 | uint64(q6[j])<<48 | uint64(q7[j])<<56
		dst[j] = math.Float64frombits(b)
	}
}

func (e *encoder) message(m Message) error {
	switch m := m.(type) {
	case *SolveRequest:
		if m == nil {
			break
		}
		e.string(m.Key)
		if err := e.problem(m.Problem); err != nil {
			return err
		}
		e.settings(&m.Settings)
		e.floats(m.Warm)
		e.bool(m.Keep)
		return nil
	case *SolveReply:
		if m == nil {
			break
		}
		e.string(m.Key)
		e.string(m.Expert)
		e.result(&m.Result)
		return nil
	case *BackwardRequest:
		if m == nil {
			break
		}
		e.string(m.Key)
		e.floats(m.OmegaBar)
		e.backwardSettings(&m.Settings)
		if err := e.problem(m.Problem); err != nil {
			return err
		}
		e.bool(m.Result != nil)
		if m.Result != nil {
			e.result(m.Result)
		}
		return nil
	case *BackwardReply:
		if m == nil {
			break
		}
		e.string(m.Key)
		e.string(m.Expert)
		e.cotangents(&m.Cotangents)
		return nil
	}
	return fmt.Errorf("transport: cannot marshal %T(%v)", m, m)
}

// problem writes an optional problem. It validates p and checks that every
// residual can be rebuilt by name, the two things a receiver will insist on.
func (e *encoder) problem(p *constraint.Problem) error {
	e.bool(p != nil)
	if p == nil {
		return nil
	}
	if err := p.Validate(); err != nil {
		return fmt.Errorf("transport: marshal: %w", err)
	}
	for bi := range p.Blocks {
		b := &p.Blocks[bi]
		if _, err := pde.NewResidual(b.Residual.Name(), b.Residual.Params()); err != nil {
			return fmt.Errorf("transport: marshal: block %d (%s): residual cannot be rebuilt by name: %w", bi, b.Name, err)
		}
	}
	e.problemBody(p)
	return nil
}

// problemBody writes p without checking it (tests forge bad frames with it).
func (e *encoder) problemBody(p *constraint.Problem) {
	e.uvarint(uint64(p.N))
	e.float(p.Ridge)
	e.count(len(p.Blocks), p.Blocks == nil)
	for bi := range p.Blocks {
		b := &p.Blocks[bi]
		params := b.Residual.Params()
		e.string(b.Name)
		e.string(b.Residual.Name())
		keys := make([]string, 0, len(params))
		for k := range params {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		e.uvarint(uint64(len(keys)))
		for _, k := range keys {
			e.string(k)
			e.float(params[k])
		}
		e.floatMatrix(b.Terms)
		e.floats(b.Aux)
		e.floats(b.Weights)
	}
	e.bool(p.Start != nil)
	if p.Start != nil {
		e.floats(p.Start.Basis)
		e.floats(p.Start.Target)
	}
}

func (e *encoder) settings(s *constraint.Settings) {
	e.int(int(s.Method))
	e.float(s.GradTol)
	e.float(s.StepTol)
	e.float(s.CostTol)
	e.int(s.MaxIter)
	e.float(s.Damping)
	e.int(int(s.Scaling))
	e.int(s.DenseMaxN)
	e.int(int(s.Model))
	e.int(int(s.Krylov.Method))
	e.float(s.Krylov.Tol)
	e.float(s.Krylov.MaxForcing)
	e.int(s.Krylov.MaxIter)
}

func (e *encoder) backwardSettings(s *constraint.BackwardSettings) {
	e.int(int(s.Hessian))
	e.int(int(s.Method))
	e.float(s.Tol)
	e.int(s.MaxIter)
	e.bool(s.AllowUnconverged)
}

func (e *encoder) result(r *constraint.Result) {
	e.floats(r.Omega)
	e.int(int(r.Status))
	e.int(int(r.Method))
	e.int(r.Iterations)
	e.int(r.InnerIterations)
	e.float(r.Cost)
	e.float(r.GradNorm)
	e.float(r.Damping)
	e.float(r.Seconds)
}

func (e *encoder) cotangents(c *constraint.Cotangents) {
	e.floats(c.V)
	e.count(len(c.Blocks), c.Blocks == nil)
	for _, b := range c.Blocks {
		e.floatMatrix(b.Alpha)
		e.floatMatrix(b.Beta)
	}
	e.int(c.Iterations)
	e.float(c.Seconds)
	e.float(c.Condition)
}

// decoder reads a payload. The first error sticks: later reads return zero
// values, so that the field-by-field code below need not check each one,
// and nothing is allocated after a failure.
type decoder struct {
	s        []byte // the unread scalar section
	sec      []byte // the float section
	nf       int    // values in the float section
	next     int    // the first value not yet read
	shuffled bool
	limit    int64
	// budget is what the message's structure may still allocate beyond its
	// float values, which the payload length already bounds. Without it a
	// payload of one-byte empty slices would decode to 24 bytes of slice
	// header per byte.
	budget int64
	err    error
}

// Approximate sizes charged to the structure budget.
const (
	sliceCost = 24
	blockCost = 112
	paramCost = 64
)

func decodeBody(h header, body []byte, limit int64) (Message, error) {
	sl, n := binary.Uvarint(body)
	if n <= 0 || sl > uint64(len(body)-n) {
		return nil, fmt.Errorf("%w: scalar section length", ErrCorrupt)
	}
	d := &decoder{
		s:        body[n : n+int(sl)],
		sec:      body[n+int(sl):],
		shuffled: h.flags&flagShuffle != 0,
		limit:    limit,
		budget:   limit,
	}
	if len(d.sec)%8 != 0 {
		return nil, fmt.Errorf("%w: float section of %d bytes is not whole values", ErrCorrupt, len(d.sec))
	}
	d.nf = len(d.sec) / 8
	var m Message
	switch h.kind {
	case KindSolveRequest:
		r := &SolveRequest{}
		r.Key = d.string()
		r.Problem = d.problem()
		d.settings(&r.Settings)
		r.Warm = d.floats()
		r.Keep = d.bool()
		m = r
	case KindSolveReply:
		r := &SolveReply{}
		r.Key = d.string()
		r.Expert = d.string()
		d.result(&r.Result)
		m = r
	case KindBackwardRequest:
		r := &BackwardRequest{}
		r.Key = d.string()
		r.OmegaBar = d.floats()
		d.backwardSettings(&r.Settings)
		r.Problem = d.problem()
		if d.bool() {
			r.Result = &constraint.Result{}
			d.result(r.Result)
		}
		m = r
	case KindBackwardReply:
		r := &BackwardReply{}
		r.Key = d.string()
		r.Expert = d.string()
		d.cotangents(&r.Cotangents)
		m = r
	default:
		return nil, fmt.Errorf("%w: unknown message kind %d", ErrCorrupt, h.kind)
	}
	if d.err != nil {
		return nil, d.err
	}
	if len(d.s) != 0 || d.next != d.nf {
		return nil, fmt.Errorf("%w: %d scalar bytes and %d float values left over", ErrCorrupt, len(d.s), d.nf-d.next)
	}
	return m, nil
}

func (d *decoder) fail(err error) {
	if d.err == nil {
		d.err = err
	}
}

func (d *decoder) charge(n uint64, each int64, what string) bool {
	if d.err != nil {
		return false
	}
	if n > uint64(d.budget/each) {
		d.fail(fmt.Errorf("%w: %d %s exceed the limit of %d bytes", ErrTooLarge, n, what, d.limit))
		return false
	}
	d.budget -= int64(n) * each
	return true
}

func (d *decoder) uvarint(what string) uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.s)
	if n <= 0 {
		d.fail(fmt.Errorf("%w: bad varint for %s", ErrCorrupt, what))
		return 0
	}
	d.s = d.s[n:]
	return v
}

func (d *decoder) int(what string) int {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.s)
	if n <= 0 || v != int64(int(v)) {
		d.fail(fmt.Errorf("%w: bad varint for %s", ErrCorrupt, what))
		return 0
	}
	d.s = d.s[n:]
	return int(v)
}

func (d *decoder) float(what string) float64 {
	if d.err != nil {
		return 0
	}
	if len(d.s) < 8 {
		d.fail(fmt.Errorf("%w: scalar section ends in %s", ErrCorrupt, what))
		return 0
	}
	v := math.Float64frombits(binary.LittleEndian.Uint64(d.s))
	d.s = d.s[8:]
	return v
}

func (d *decoder) bool() bool {
	if d.err != nil {
		return false
	}
	if len(d.s) < 1 || d.s[0] > 1 {
		d.fail(fmt.Errorf("%w: bad bool or presence byte", ErrCorrupt))
		return false
	}
	v := d.s[0] == 1
	d.s = d.s[1:]
	return v
}

func (d *decoder) string() string {
	n := d.uvarint("string length")
	if d.err != nil {
		return ""
	}
	if n > uint64(len(d.s)) {
		d.fail(fmt.Errorf("%w: string of %d bytes, %d left", ErrCorrupt, n, len(d.s)))
		return ""
	}
	s := string(d.s[:n])
	d.s = d.s[n:]
	return s
}

// count reads a nil-preserving length. Every element takes at least
// minBytes of what remains of the scalar section, so a count that cannot
// fit there is rejected before anything is allocated for it.
func (d *decoder) count(what string, minBytes int) (n int, isNil bool) {
	v := d.uvarint(what)
	if d.err != nil || v == 0 {
		return 0, true
	}
	v--
	if v > uint64(len(d.s)/minBytes) {
		d.fail(fmt.Errorf("%w: %d %s in %d bytes", ErrCorrupt, v, what, len(d.s)))
		return 0, true
	}
	return int(v), false
}

func (d *decoder) floats() []float64 {
	v := d.uvarint("array length")
	if d.err != nil || v == 0 {
		return nil
	}
	n := v - 1
	if n > uint64(d.limit/8) {
		d.fail(fmt.Errorf("%w: array of %d values, limit %d bytes", ErrTooLarge, n, d.limit))
		return nil
	}
	if n > uint64(d.nf-d.next) {
		d.fail(fmt.Errorf("%w: array of %d values, %d left", ErrCorrupt, n, d.nf-d.next))
		return nil
	}
	out := make([]float64, n)
	if d.shuffled {
		unshuffle(out, d.sec, d.nf, d.next)
	} else {
		src := d.sec[8*d.next:]
		for i := range out {
			out[i] = math.Float64frombits(binary.LittleEndian.Uint64(src[8*i:]))
		}
	}
	d.next += len(out)
	return out
}

func (d *decoder) floatMatrix(what string) [][]float64 {
	n, isNil := d.count(what, 1)
	if isNil || !d.charge(uint64(n), sliceCost, what) {
		return nil
	}
	out := make([][]float64, n)
	for i := range out {
		out[i] = d.floats()
	}
	return out
}

// problem reads an optional problem and validates it, so that a decoded
// message never holds a problem the solver would refuse.
func (d *decoder) problem() *constraint.Problem {
	if !d.bool() {
		return nil
	}
	p := &constraint.Problem{}
	n := d.uvarint("N")
	// A valid problem has a row, whose term matrices hold N values each.
	if d.err == nil && n > uint64(d.nf) {
		d.fail(fmt.Errorf("%w: N = %d basis functions but %d values in the payload", ErrCorrupt, n, d.nf))
	}
	p.N = int(n)
	p.Ridge = d.float("ridge")
	// A block takes at least six bytes: two string lengths, the parameter
	// count and three array counts.
	nb, _ := d.count("blocks", 6)
	if !d.charge(uint64(nb), blockCost, "blocks") {
		return nil
	}
	// count's nil marker is meaningless here: Validate wants blocks.
	p.Blocks = make([]constraint.Block, nb)
	for bi := range p.Blocks {
		if d.err != nil {
			return nil
		}
		b := &p.Blocks[bi]
		b.Name = d.string()
		name := d.string()
		np := d.uvarint("parameter count")
		if d.err == nil && np > uint64(len(d.s)/9) {
			d.fail(fmt.Errorf("%w: %d parameters in %d bytes", ErrCorrupt, np, len(d.s)))
		}
		if !d.charge(np, paramCost, "parameters") {
			return nil
		}
		params := make(map[string]float64, np)
		prev := ""
		for i := range np {
			k := d.string()
			if d.err == nil && i > 0 && k <= prev {
				d.fail(fmt.Errorf("%w: block %d: parameter %q out of order or repeated", ErrCorrupt, bi, k))
			}
			params[k] = d.float("parameter")
			prev = k
		}
		b.Terms = d.floatMatrix("term matrices")
		b.Aux = d.floats()
		b.Weights = d.floats()
		if d.err != nil {
			return nil
		}
		r, err := pde.NewResidual(name, params)
		if err != nil {
			d.fail(fmt.Errorf("%w: block %d (%s): %w", ErrCorrupt, bi, b.Name, err))
			return nil
		}
		b.Residual = r
	}
	if d.bool() {
		p.Start = &constraint.Fit{Basis: d.floats(), Target: d.floats()}
	}
	if d.err != nil {
		return nil
	}
	if err := p.Validate(); err != nil {
		d.fail(fmt.Errorf("%w: invalid problem: %w", ErrCorrupt, err))
		return nil
	}
	return p
}

func (d *decoder) settings(s *constraint.Settings) {
	s.Method = constraint.Method(d.int("method"))
	s.GradTol = d.float("grad tol")
	s.StepTol = d.float("step tol")
	s.CostTol = d.float("cost tol")
	s.MaxIter = d.int("max iter")
	s.Damping = d.float("damping")
	s.Scaling = constraint.Scaling(d.int("scaling"))
	s.DenseMaxN = d.int("dense max n")
	s.Model = constraint.Model(d.int("model"))
	s.Krylov.Method = constraint.Inner(d.int("krylov method"))
	s.Krylov.Tol = d.float("krylov tol")
	s.Krylov.MaxForcing = d.float("krylov max forcing")
	s.Krylov.MaxIter = d.int("krylov max iter")
}

func (d *decoder) backwardSettings(s *constraint.BackwardSettings) {
	s.Hessian = constraint.Hessian(d.int("hessian"))
	s.Method = constraint.Method(d.int("method"))
	s.Tol = d.float("tol")
	s.MaxIter = d.int("max iter")
	s.AllowUnconverged = d.bool()
}

func (d *decoder) result(r *constraint.Result) {
	r.Omega = d.floats()
	r.Status = constraint.Status(d.int("status"))
	r.Method = constraint.Method(d.int("method"))
	r.Iterations = d.int("iterations")
	r.InnerIterations = d.int("inner iterations")
	r.Cost = d.float("cost")
	r.GradNorm = d.float("grad norm")
	r.Damping = d.float("damping")
	r.Seconds = d.float("seconds")
}

func (d *decoder) cotangents(c *constraint.Cotangents) {
	c.V = d.floats()
	// A block takes at least two bytes, its two matrix counts.
	nb, isNil := d.count("cotangent blocks", 2)
	if !isNil && d.charge(uint64(nb), 2*sliceCost, "cotangent blocks") {
		c.Blocks = make([]constraint.BlockCotangent, nb)
		for i := range c.Blocks {
			c.Blocks[i].Alpha = d.floatMatrix("alpha vectors")
			c.Blocks[i].Beta = d.floatMatrix("beta vectors")
		}
	}
	c.Iterations = d.int("iterations")
	c.Seconds = d.float("seconds")
	c.Condition = d.float("condition")
}

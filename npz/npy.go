package npz

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Errors returned by this package wrap one of these, so that callers can
// classify a failure with errors.Is whatever context has been added.
var (
	// ErrFormat reports a malformed or truncated .npy header, data block
	// or zip archive.
	ErrFormat = errors.New("malformed data")
	// ErrTooLarge reports an array or archive that exceeds Limits.
	ErrTooLarge = errors.New("exceeds limits")
	// ErrDType reports an element type this package does not support,
	// or a value the written type cannot represent.
	ErrDType = errors.New("unsupported dtype")
	// ErrShape reports a data slice whose length does not match its
	// shape, or an invalid shape.
	ErrShape = errors.New("data does not match shape")
	// ErrName reports an empty, invalid or repeated array name.
	ErrName = errors.New("invalid array name")
)

// Array is one n-dimensional array in C (row-major) order. Exactly one of
// the data fields is non-nil; it holds the product of Shape elements
// (one for a 0-d array, whose Shape is empty).
type Array struct {
	// Name is the array's key in an .npz archive; it is empty for a
	// lone .npy file and ignored by WriteNPY.
	Name string
	// DType is the NumPy type descriptor found in the file, for
	// example "<f8", ">i4" or "<U12". It is ignored on write, where the
	// type follows from the data field that is set.
	DType string
	Shape []int

	Float64 []float64
	Int64   []int64
	Uint8   []byte
	Bool    []bool
	Strings []string
}

// Default limits, used for zero fields of Limits.
const (
	DefaultMaxArrayBytes = 1 << 30 // 1 GiB
	DefaultMaxTotalBytes = 4 << 30 // 4 GiB
	DefaultMaxArrays     = 1 << 16
)

// Limits bounds what a reader allocates. Sizes count decoded memory: 8
// bytes per float or integer element (a float32 or int32 file grows), 1
// per uint8 or bool, and 16 plus the on-disk width per string. Fields
// that are zero or negative take the Default values.
type Limits struct {
	MaxArrayBytes int64 // per array
	MaxTotalBytes int64 // all arrays of an archive together
	MaxArrays     int   // entries in an archive
}

func (l Limits) withDefaults() Limits {
	if l.MaxArrayBytes <= 0 {
		l.MaxArrayBytes = DefaultMaxArrayBytes
	}
	if l.MaxTotalBytes <= 0 {
		l.MaxTotalBytes = DefaultMaxTotalBytes
	}
	if l.MaxArrays <= 0 {
		l.MaxArrays = DefaultMaxArrays
	}
	return l
}

const (
	npyMagic = "\x93NUMPY"
	// maxHeaderLen bounds the header text. Headers of supported arrays
	// are a few hundred bytes even at maxDims; only structured dtypes,
	// which are rejected anyway, come near it.
	maxHeaderLen = 1 << 16
	// maxDims matches NPY_MAXDIMS of NumPy 2.
	maxDims = 64
	// chunkBytes is the unit in which data is read, decoded and
	// written, and by which buffers grow while reading, so that memory
	// tracks the bytes that have actually arrived.
	chunkBytes = 1 << 16
	// align is the multiple of bytes that NumPy pads header and magic
	// to, so that data can be memory-mapped aligned.
	align = 64
)

// dtype is a parsed, supported descr.
type dtype struct {
	kind  byte // 'f', 'i', 'u', 'b' or 'U'
	size  int  // bytes per element in the file
	order binary.ByteOrder
}

// memSize is the decoded size of one element, as counted by Limits.
func (d dtype) memSize() int64 {
	switch {
	case d.kind == 'U':
		return 16 + int64(d.size)
	case d.size == 1 && d.kind != 'i':
		return 1
	default:
		return 8
	}
}

func parseDescr(s string) (dtype, error) {
	bad := func(why string) (dtype, error) {
		return dtype{}, fmt.Errorf("%w %q: %s", ErrDType, s, why)
	}
	if len(s) < 3 || len(s) > 20 {
		return bad("not a simple type")
	}
	var d dtype
	switch s[0] {
	case '<':
		d.order = binary.LittleEndian
	case '>':
		d.order = binary.BigEndian
	case '=':
		d.order = nativeOrder()
	case '|':
	default:
		return bad("unknown byte order")
	}
	d.kind = s[1]
	n := 0
	for _, c := range s[2:] {
		if c < '0' || c > '9' {
			return bad("not a simple type")
		}
		n = 10*n + int(c-'0') // at most 18 digits: cannot overflow
	}
	switch d.kind {
	case 'f':
		if n != 4 && n != 8 {
			return bad("only float32 and float64 are supported")
		}
	case 'i':
		if n != 1 && n != 2 && n != 4 && n != 8 {
			return bad("unknown integer size")
		}
	case 'u':
		if n != 1 && n != 2 && n != 4 {
			return bad("only uint8, uint16 and uint32 are supported")
		}
	case 'b':
		if n != 1 {
			return bad("unknown bool size")
		}
	case 'U':
		if n > (math.MaxInt32-16)/4 { // keeps sizes within a 32-bit int
			return dtype{}, fmt.Errorf("%w: string width in %q", ErrTooLarge, s)
		}
		if d.order == nil {
			return bad("no byte order")
		}
		d.size = 4 * n
		return d, nil
	default:
		return bad("unsupported kind")
	}
	d.size = n
	if n > 1 && d.order == nil {
		return bad("no byte order")
	}
	return d, nil
}

func nativeOrder() binary.ByteOrder {
	if binary.NativeEndian.Uint16([]byte{1, 0}) == 1 {
		return binary.LittleEndian
	}
	return binary.BigEndian
}

// header is the content of an .npy header.
type header struct {
	descr   string
	dt      dtype
	fortran bool
	shape   []int
}

// readHeader reads magic, version and header text, leaving r at the
// first data byte. It returns the number of bytes consumed.
func readHeader(r io.Reader) (header, int64, error) {
	var pre [12]byte
	if _, err := io.ReadFull(r, pre[:8]); err != nil {
		return header{}, 0, readErr("magic", err)
	}
	if string(pre[:6]) != npyMagic {
		return header{}, 0, fmt.Errorf("%w: bad magic %q", ErrFormat, pre[:6])
	}
	var hlen, n int64
	switch v := [2]byte{pre[6], pre[7]}; v {
	case [2]byte{1, 0}:
		if _, err := io.ReadFull(r, pre[8:10]); err != nil {
			return header{}, 0, readErr("header length", err)
		}
		hlen, n = int64(binary.LittleEndian.Uint16(pre[8:])), 10
	case [2]byte{2, 0}, [2]byte{3, 0}:
		if _, err := io.ReadFull(r, pre[8:12]); err != nil {
			return header{}, 0, readErr("header length", err)
		}
		hlen, n = int64(binary.LittleEndian.Uint32(pre[8:])), 12
	default:
		return header{}, 0, fmt.Errorf("%w: unknown format version %d.%d", ErrFormat, v[0], v[1])
	}
	if hlen > maxHeaderLen {
		return header{}, 0, fmt.Errorf("%w: header of %d bytes", ErrFormat, hlen)
	}
	text := make([]byte, hlen)
	if _, err := io.ReadFull(r, text); err != nil {
		return header{}, 0, readErr("header", err)
	}
	h, err := parseHeader(text)
	return h, n + hlen, err
}

// parseHeader interprets the Python dict literal of an .npy header. Like
// NumPy it requires exactly the keys descr, fortran_order and shape.
func parseHeader(text []byte) (header, error) {
	p := pyParser{s: text}
	v, err := p.parse()
	if err != nil {
		return header{}, fmt.Errorf("%w: header: %w", ErrFormat, err)
	}
	if v.kind != pyDict {
		return header{}, fmt.Errorf("%w: header is not a dict", ErrFormat)
	}
	var h header
	var seen [3]bool
	for i := 0; i+1 < len(v.items); i += 2 {
		k, val := v.items[i], v.items[i+1]
		if k.kind != pyStr {
			return header{}, fmt.Errorf("%w: header key is not a string", ErrFormat)
		}
		var idx int
		switch k.str {
		case "descr":
			idx = 0
			if val.kind != pyStr {
				return header{}, fmt.Errorf("%w: structured or non-string descr", ErrDType)
			}
			h.descr = val.str
		case "fortran_order":
			idx = 1
			if val.kind != pyBool {
				return header{}, fmt.Errorf("%w: fortran_order is not a bool", ErrFormat)
			}
			h.fortran = val.b
		case "shape":
			idx = 2
			if h.shape, err = parseShape(val); err != nil {
				return header{}, err
			}
		default:
			return header{}, fmt.Errorf("%w: unexpected header key %q", ErrFormat, k.str)
		}
		if seen[idx] {
			return header{}, fmt.Errorf("%w: repeated header key %q", ErrFormat, k.str)
		}
		seen[idx] = true
	}
	for i, name := range []string{"descr", "fortran_order", "shape"} {
		if !seen[i] {
			return header{}, fmt.Errorf("%w: header lacks %q", ErrFormat, name)
		}
	}
	if h.dt, err = parseDescr(h.descr); err != nil {
		return header{}, err
	}
	return h, nil
}

func parseShape(v pyValue) ([]int, error) {
	if v.kind != pyTuple {
		return nil, fmt.Errorf("%w: shape is not a tuple", ErrFormat)
	}
	if len(v.items) > maxDims {
		return nil, fmt.Errorf("%w: %d dimensions", ErrTooLarge, len(v.items))
	}
	shape := make([]int, len(v.items))
	for i, d := range v.items {
		if d.kind != pyInt {
			return nil, fmt.Errorf("%w: shape holds a non-integer", ErrFormat)
		}
		n, err := strconv.ParseInt(d.str, 10, 64)
		switch {
		case errors.Is(err, strconv.ErrRange) && d.str[0] != '-', err == nil && n > math.MaxInt:
			return nil, fmt.Errorf("%w: dimension %s", ErrTooLarge, d.str)
		case err != nil, n < 0:
			return nil, fmt.Errorf("%w: dimension %s", ErrFormat, d.str)
		}
		shape[i] = int(n)
	}
	return shape, nil
}

// numElems returns the product of shape, or ErrTooLarge if the elements
// of size bytes each would take more than limit bytes. It never overflows.
func numElems(shape []int, size, limit int64) (int, error) {
	for _, d := range shape {
		if d == 0 {
			return 0, nil
		}
	}
	maxElems := min(limit/size, int64(math.MaxInt))
	n := int64(1)
	for _, d := range shape {
		if int64(d) > maxElems/n {
			return 0, fmt.Errorf("%w: shape %v of %d-byte elements exceeds %d bytes", ErrTooLarge, shape, size, limit)
		}
		n *= int64(d)
	}
	return int(n), nil
}

// readErr classifies a failed read of the named part: running out of
// input is a truncated file, corrupt zip data is a format error, and
// anything else is an I/O error passed on as is.
func readErr(what string, err error) error {
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("%w: truncated %s", ErrFormat, what)
	case isCorrupt(err):
		return fmt.Errorf("%w: %s: %w", ErrFormat, what, err)
	default:
		return fmt.Errorf("reading %s: %w", what, err)
	}
}

// ReadNPY reads one .npy array from r, which is left just after its
// data. Only lim.MaxArrayBytes (and a smaller MaxTotalBytes) apply.
func ReadNPY(r io.Reader, lim Limits) (*Array, error) {
	lim = lim.withDefaults()
	a, _, err := readNPY(r, min(lim.MaxArrayBytes, lim.MaxTotalBytes), -1)
	if err != nil {
		return nil, fmt.Errorf("npz: %w", err)
	}
	return a, nil
}

// readNPY reads an array of at most limit decoded bytes. If want is not
// negative, the header and data must be exactly want bytes long; this is
// checked before the data is read. It returns the decoded size.
func readNPY(r io.Reader, limit, want int64) (*Array, int64, error) {
	h, hlen, err := readHeader(r)
	if err != nil {
		return nil, 0, err
	}
	n, err := numElems(h.shape, h.dt.memSize(), limit)
	if err != nil {
		return nil, 0, err
	}
	if want >= 0 && want != hlen+int64(n)*int64(h.dt.size) {
		return nil, 0, fmt.Errorf("%w: size %d does not fit a %s array of shape %v", ErrFormat, want, h.descr, h.shape)
	}
	a := &Array{DType: h.descr, Shape: h.shape}
	if err := readData(r, a, h, n); err != nil {
		return nil, 0, err
	}
	return a, int64(n) * h.dt.memSize(), nil
}

func readData(r io.Reader, a *Array, h header, n int) error {
	d := h.dt
	o := d.order
	var err error
	switch {
	case d.kind == 'f' && d.size == 8:
		a.Float64, err = readElems(r, n, 8, func(b []byte) float64 { return math.Float64frombits(o.Uint64(b)) })
	case d.kind == 'f':
		a.Float64, err = readElems(r, n, 4, func(b []byte) float64 { return float64(math.Float32frombits(o.Uint32(b))) })
	case d.kind == 'i' && d.size == 8:
		a.Int64, err = readElems(r, n, 8, func(b []byte) int64 { return int64(o.Uint64(b)) })
	case d.kind == 'i' && d.size == 4:
		a.Int64, err = readElems(r, n, 4, func(b []byte) int64 { return int64(int32(o.Uint32(b))) })
	case d.kind == 'i' && d.size == 2:
		a.Int64, err = readElems(r, n, 2, func(b []byte) int64 { return int64(int16(o.Uint16(b))) })
	case d.kind == 'i':
		a.Int64, err = readElems(r, n, 1, func(b []byte) int64 { return int64(int8(b[0])) })
	case d.kind == 'u' && d.size == 4:
		a.Int64, err = readElems(r, n, 4, func(b []byte) int64 { return int64(o.Uint32(b)) })
	case d.kind == 'u' && d.size == 2:
		a.Int64, err = readElems(r, n, 2, func(b []byte) int64 { return int64(o.Uint16(b)) })
	case d.kind == 'u':
		a.Uint8, err = readElems(r, n, 1, func(b []byte) byte { return b[0] })
	case d.kind == 'b':
		a.Bool, err = readElems(r, n, 1, func(b []byte) bool { return b[0] != 0 })
	case d.kind == 'U':
		var bad bool
		a.Strings, err = readElems(r, n, d.size, func(b []byte) string {
			s, ok := decodeUTF32(b, o)
			bad = bad || !ok
			return s
		})
		if err == nil && bad {
			err = fmt.Errorf("%w: string holds an invalid code point", ErrFormat)
		}
	default: // parseDescr admits only the cases above
		return fmt.Errorf("%w %q", ErrDType, h.descr)
	}
	if err != nil {
		return err
	}
	if h.fortran {
		a.Float64 = fromFortran(a.Float64, h.shape)
		a.Int64 = fromFortran(a.Int64, h.shape)
		a.Uint8 = fromFortran(a.Uint8, h.shape)
		a.Bool = fromFortran(a.Bool, h.shape)
		a.Strings = fromFortran(a.Strings, h.shape)
	}
	return nil
}

// readElems reads n elements of size bytes and decodes each with dec. It
// reads in chunks and grows the result as data arrives, rather than
// trusting n, so that a truncated file costs memory in proportion to its
// length, not to its header.
func readElems[T any](r io.Reader, n, size int, dec func([]byte) T) ([]T, error) {
	per := chunkBytes // elements per read
	if size > 0 {
		per = max(1, chunkBytes/size)
	}
	out := make([]T, 0, min(n, per))
	var buf []byte
	for len(out) < n {
		k := min(per, n-len(out))
		var err error
		if buf, err = readFull(r, buf[:0], k*size); err != nil {
			return nil, readErr("data", err)
		}
		if cap(out)-len(out) < k {
			grown := make([]T, len(out), min(n, max(2*cap(out), len(out)+k)))
			copy(grown, out)
			out = grown
		}
		for i := range k {
			out = append(out, dec(buf[i*size:(i+1)*size]))
		}
	}
	return out, nil
}

// readFull reads exactly n bytes into buf[:n], growing buf by doubling
// as bytes arrive rather than allocating n up front.
func readFull(r io.Reader, buf []byte, n int) ([]byte, error) {
	if cap(buf) >= n {
		_, err := io.ReadFull(r, buf[:n])
		return buf[:n], err
	}
	buf = buf[:0]
	for len(buf) < n {
		next := min(n, len(buf)+max(chunkBytes, len(buf)))
		if cap(buf) < next {
			grown := make([]byte, len(buf), next)
			copy(grown, buf)
			buf = grown
		}
		k, err := io.ReadFull(r, buf[len(buf):next])
		buf = buf[:len(buf)+k]
		if err != nil {
			return buf, err
		}
	}
	return buf, nil
}

// decodeUTF32 decodes a NumPy unicode element. NumPy drops trailing NULs
// (they pad the fixed width) but keeps interior ones.
func decodeUTF32(b []byte, o binary.ByteOrder) (string, bool) {
	end := len(b) / 4
	for end > 0 && o.Uint32(b[4*end-4:]) == 0 {
		end--
	}
	var sb strings.Builder
	sb.Grow(end)
	for i := range end {
		c := o.Uint32(b[4*i:])
		if c > utf8.MaxRune || (c >= 0xD800 && c < 0xE000) {
			return "", false
		}
		sb.WriteRune(rune(c))
	}
	return sb.String(), true
}

// fromFortran returns the C-order copy of column-major data of the given
// shape. It returns data itself when the orders coincide.
func fromFortran[T any](data []T, shape []int) []T {
	if len(shape) < 2 || len(data) < 2 {
		return data
	}
	nd := len(shape)
	stride := make([]int, nd) // column-major strides
	s := 1
	for k, d := range shape {
		stride[k] = s
		s *= d
	}
	out := make([]T, len(data))
	idx := make([]int, nd)
	off := 0
	for i := range out {
		out[i] = data[off]
		// Step the row-major index, last axis fastest.
		for k := nd - 1; k >= 0; k-- {
			idx[k]++
			off += stride[k]
			if idx[k] < shape[k] {
				break
			}
			off -= stride[k] * shape[k]
			idx[k] = 0
		}
	}
	return out
}

// WriteNPY writes a as an .npy file. The element type follows from the
// data field that is set; a.Name and a.DType are ignored.
func WriteNPY(w io.Writer, a *Array) error {
	p, err := prepare(a)
	if err != nil {
		return fmt.Errorf("npz: %w", err)
	}
	if err := p.write(w); err != nil {
		return fmt.Errorf("npz: %w", err)
	}
	return nil
}

// payload is a validated array ready to be written.
type payload struct {
	a     *Array
	descr string
	width int // code points per string
}

// prepare checks a and chooses its descr.
func prepare(a *Array) (payload, error) {
	if len(a.Shape) > maxDims {
		return payload{}, fmt.Errorf("%w: %d dimensions", ErrShape, len(a.Shape))
	}
	n := 1
	for _, d := range a.Shape {
		if d < 0 {
			return payload{}, fmt.Errorf("%w: negative dimension in %v", ErrShape, a.Shape)
		}
		if d != 0 && n > math.MaxInt/d {
			return payload{}, fmt.Errorf("%w: shape %v overflows", ErrShape, a.Shape)
		}
		n *= d
	}
	p := payload{a: a}
	var length, set int
	if a.Float64 != nil {
		p.descr, length, set = "<f8", len(a.Float64), set+1
	}
	if a.Int64 != nil {
		p.descr, length, set = "<i8", len(a.Int64), set+1
	}
	if a.Uint8 != nil {
		p.descr, length, set = "|u1", len(a.Uint8), set+1
	}
	if a.Bool != nil {
		p.descr, length, set = "|b1", len(a.Bool), set+1
	}
	if a.Strings != nil {
		// Width 1 at least: NumPy cannot load zero-width strings.
		p.width, length, set = 1, len(a.Strings), set+1
		for i, s := range a.Strings {
			if !utf8.ValidString(s) {
				return payload{}, fmt.Errorf("%w: string %d is not valid UTF-8", ErrDType, i)
			}
			if strings.HasSuffix(s, "\x00") {
				return payload{}, fmt.Errorf("%w: string %d ends in NUL, which NumPy drops", ErrDType, i)
			}
			p.width = max(p.width, utf8.RuneCountInString(s))
		}
		p.descr = "<U" + strconv.Itoa(p.width)
	}
	switch {
	case set == 0:
		return payload{}, fmt.Errorf("%w: no data field is set (use an empty slice for an empty array)", ErrShape)
	case set > 1:
		return payload{}, fmt.Errorf("%w: %d data fields are set", ErrShape, set)
	case length != n:
		return payload{}, fmt.Errorf("%w: %d elements for shape %v", ErrShape, length, a.Shape)
	}
	return p, nil
}

func (p payload) write(w io.Writer) error {
	if _, err := w.Write(appendHeader(nil, p.descr, p.a.Shape)); err != nil {
		return err
	}
	le := binary.LittleEndian
	switch a := p.a; {
	case a.Float64 != nil:
		return writeElems(w, a.Float64, func(b []byte, v float64) []byte { return le.AppendUint64(b, math.Float64bits(v)) })
	case a.Int64 != nil:
		return writeElems(w, a.Int64, func(b []byte, v int64) []byte { return le.AppendUint64(b, uint64(v)) })
	case a.Uint8 != nil:
		_, err := w.Write(a.Uint8)
		return err
	case a.Bool != nil:
		return writeElems(w, a.Bool, func(b []byte, v bool) []byte {
			if v {
				return append(b, 1)
			}
			return append(b, 0)
		})
	default:
		return writeElems(w, a.Strings, func(b []byte, s string) []byte {
			k := 0
			for _, c := range s {
				b = le.AppendUint32(b, uint32(c))
				k++
			}
			for ; k < p.width; k++ {
				b = le.AppendUint32(b, 0)
			}
			return b
		})
	}
}

// writeElems encodes data in chunks to bound the buffer.
func writeElems[T any](w io.Writer, data []T, enc func([]byte, T) []byte) error {
	buf := make([]byte, 0, chunkBytes)
	for _, v := range data {
		buf = enc(buf, v)
		if len(buf) >= chunkBytes {
			if _, err := w.Write(buf); err != nil {
				return err
			}
			buf = buf[:0]
		}
	}
	if len(buf) > 0 {
		_, err := w.Write(buf)
		return err
	}
	return nil
}

// appendHeader appends magic, version and header as NumPy writes them,
// padded with spaces so that the data starts at a multiple of align.
func appendHeader(dst []byte, descr string, shape []int) []byte {
	var dict strings.Builder
	dict.WriteString("{'descr': '")
	dict.WriteString(descr)
	dict.WriteString("', 'fortran_order': False, 'shape': (")
	for i, d := range shape {
		if i > 0 {
			dict.WriteString(", ")
		}
		dict.WriteString(strconv.Itoa(d))
	}
	if len(shape) == 1 {
		dict.WriteString(",") // a Python 1-tuple
	}
	dict.WriteString("), }")
	text := dict.String()

	pre := 10
	if len(text)+1+align > math.MaxUint16 {
		pre = 12
	}
	hlen := len(text) + 1
	hlen += (align - (pre+hlen)%align) % align
	dst = append(dst, npyMagic...)
	if pre == 10 {
		dst = append(dst, 1, 0)
		dst = binary.LittleEndian.AppendUint16(dst, uint16(hlen))
	} else {
		dst = append(dst, 2, 0)
		dst = binary.LittleEndian.AppendUint32(dst, uint32(hlen))
	}
	dst = append(dst, text...)
	for range hlen - len(text) - 1 {
		dst = append(dst, ' ')
	}
	return append(dst, '\n')
}

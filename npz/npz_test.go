package npz

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// sameArray reports how got differs from want, comparing floats by bits
// so that NaNs and signed zeros count.
func sameArray(got, want *Array) error {
	switch {
	case got.DType != want.DType:
		return fmt.Errorf("dtype %q, want %q", got.DType, want.DType)
	case !slices.Equal(got.Shape, want.Shape):
		return fmt.Errorf("shape %v, want %v", got.Shape, want.Shape)
	case (got.Float64 == nil) != (want.Float64 == nil), (got.Int64 == nil) != (want.Int64 == nil),
		(got.Uint8 == nil) != (want.Uint8 == nil), (got.Bool == nil) != (want.Bool == nil),
		(got.Strings == nil) != (want.Strings == nil):
		return fmt.Errorf("wrong data field set: %+v", got)
	case !slices.EqualFunc(got.Float64, want.Float64, func(a, b float64) bool { return math.Float64bits(a) == math.Float64bits(b) }),
		!slices.Equal(got.Int64, want.Int64), !slices.Equal(got.Uint8, want.Uint8),
		!slices.Equal(got.Bool, want.Bool), !slices.Equal(got.Strings, want.Strings):
		return fmt.Errorf("data\n got %v%v%v%v%q\nwant %v%v%v%v%q",
			got.Float64, got.Int64, got.Uint8, got.Bool, got.Strings,
			want.Float64, want.Int64, want.Uint8, want.Bool, want.Strings)
	}
	return nil
}

func seq(n int, f func(int) float64) []float64 {
	s := make([]float64, n)
	for i := range s {
		s[i] = f(i)
	}
	return s
}

// roundTripArrays covers every written type and the shapes that need
// care: 0-d, empty in either position, 1-d and 3-d.
func roundTripArrays() []*Array {
	return []*Array{
		{Name: "scalar", DType: "<f8", Shape: []int{}, Float64: []float64{3.25}},
		{Name: "special", DType: "<f8", Shape: []int{5}, Float64: []float64{math.NaN(), math.Inf(1), math.Inf(-1), math.Copysign(0, -1), math.SmallestNonzeroFloat64}},
		{Name: "cube", DType: "<f8", Shape: []int{2, 3, 4}, Float64: seq(24, func(i int) float64 { return float64(i)/4 - 3 })},
		{Name: "empty", DType: "<f8", Shape: []int{0}, Float64: []float64{}},
		{Name: "empty2", DType: "<f8", Shape: []int{3, 0}, Float64: []float64{}},
		{Name: "big", DType: "<f8", Shape: []int{100, 1000}, Float64: seq(100000, func(i int) float64 { return math.Sin(float64(i)) })},
		{Name: "i8", DType: "<i8", Shape: []int{5}, Int64: []int64{math.MinInt64, -1, 0, 1, math.MaxInt64}},
		{Name: "i8scalar", DType: "<i8", Shape: []int{}, Int64: []int64{-7}},
		{Name: "i8empty", DType: "<i8", Shape: []int{0, 2}, Int64: []int64{}},
		{Name: "u1", DType: "|u1", Shape: []int{2, 2}, Uint8: []byte{0, 1, 254, 255}},
		{Name: "u1empty", DType: "|u1", Shape: []int{0}, Uint8: []byte{}},
		{Name: "b1", DType: "|b1", Shape: []int{1, 3, 1}, Bool: []bool{true, false, true}},
		{Name: "b1scalar", DType: "|b1", Shape: []int{}, Bool: []bool{false}},
		{Name: "names", DType: "<U5", Shape: []int{5}, Strings: []string{"alpha", "β-γ", "", "a\x00b", "😀"}},
		{Name: "nostrings", DType: "<U1", Shape: []int{0}, Strings: []string{}},
		{Name: "strgrid", DType: "<U2", Shape: []int{2, 2}, Strings: []string{"a", "bb", "", "c"}},
		{Name: "grp/ü", DType: "<i8", Shape: []int{1}, Int64: []int64{42}},
	}
}

func TestRoundTripNPY(t *testing.T) {
	for _, want := range roundTripArrays() {
		t.Run(want.Name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := WriteNPY(&buf, want); err != nil {
				t.Fatal(err)
			}
			if buf.Len()%align != int(dataBytes(want))%align {
				t.Errorf("data not aligned: %d bytes in all", buf.Len())
			}
			got, err := ReadNPY(&buf, Limits{})
			if err != nil {
				t.Fatal(err)
			}
			if got.Name != "" {
				t.Errorf("name %q", got.Name)
			}
			if err := sameArray(got, want); err != nil {
				t.Error(err)
			}
			if buf.Len() != 0 {
				t.Errorf("%d bytes left unread", buf.Len())
			}
		})
	}
}

// dataBytes is the on-disk size of a's elements.
func dataBytes(a *Array) int64 {
	p, err := prepare(a)
	if err != nil {
		panic(err)
	}
	d, _ := parseDescr(p.descr)
	n, _ := numElems(a.Shape, 1, math.MaxInt64)
	return int64(n) * int64(d.size)
}

func TestRoundTripNPZ(t *testing.T) {
	for _, compress := range []bool{false, true} {
		t.Run(fmt.Sprint("compress=", compress), func(t *testing.T) {
			var buf bytes.Buffer
			w := NewWriter(&buf, compress)
			want := roundTripArrays()
			for _, a := range want {
				if err := w.Array(a); err != nil {
					t.Fatal(err)
				}
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			if err := w.Close(); err != nil {
				t.Errorf("second Close: %v", err)
			}
			got, err := Read(bytes.NewReader(buf.Bytes()), int64(buf.Len()), Limits{})
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(want) {
				t.Errorf("read %d arrays, want %d", len(got), len(want))
			}
			for _, a := range want {
				g := got[a.Name]
				if g == nil {
					t.Errorf("%s missing", a.Name)
					continue
				}
				if g.Name != a.Name {
					t.Errorf("%s: name %q", a.Name, g.Name)
				}
				if err := sameArray(g, a); err != nil {
					t.Errorf("%s: %v", a.Name, err)
				}
			}
		})
	}
}

func TestTypedWriters(t *testing.T) {
	var buf bytes.Buffer
	w := NewWriter(&buf, true)
	for _, err := range []error{
		w.Float64("f", []int{2}, []float64{1, 2}),
		w.Float64("f0", []int{0}, nil),
		w.Int64("i", nil, []int64{5}),
		w.Uint8("u", []int{3}, []byte("abc")),
		w.Bool("b", []int{0, 4}, nil),
		w.Strings("s", []string{"x", "yz"}),
		w.Strings("s0", nil),
		w.Close(),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	got, err := Read(bytes.NewReader(buf.Bytes()), int64(buf.Len()), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []*Array{
		{Name: "f", DType: "<f8", Shape: []int{2}, Float64: []float64{1, 2}},
		{Name: "f0", DType: "<f8", Shape: []int{0}, Float64: []float64{}},
		{Name: "i", DType: "<i8", Shape: []int{}, Int64: []int64{5}},
		{Name: "u", DType: "|u1", Shape: []int{3}, Uint8: []byte("abc")},
		{Name: "b", DType: "|b1", Shape: []int{0, 4}, Bool: []bool{}},
		{Name: "s", DType: "<U2", Shape: []int{2}, Strings: []string{"x", "yz"}},
		{Name: "s0", DType: "<U1", Shape: []int{0}, Strings: []string{}},
	} {
		if err := sameArray(got[want.Name], want); err != nil {
			t.Errorf("%s: %v", want.Name, err)
		}
	}
}

func TestWriterErrors(t *testing.T) {
	tests := []struct {
		name  string
		write func(w *Writer) error
		want  error
	}{
		{"length", func(w *Writer) error { return w.Float64("x", []int{2, 2}, make([]float64, 3)) }, ErrShape},
		{"scalar length", func(w *Writer) error { return w.Int64("x", nil, make([]int64, 2)) }, ErrShape},
		{"negative dim", func(w *Writer) error { return w.Float64("x", []int{-1}, nil) }, ErrShape},
		{"overflow", func(w *Writer) error {
			return w.Float64("x", []int{math.MaxInt / 2, 3}, nil)
		}, ErrShape},
		{"too many dims", func(w *Writer) error { return w.Float64("x", make([]int, maxDims+1), nil) }, ErrShape},
		{"no field", func(w *Writer) error { return w.Array(&Array{Name: "x", Shape: []int{0}}) }, ErrShape},
		{"two fields", func(w *Writer) error {
			return w.Array(&Array{Name: "x", Shape: []int{}, Float64: []float64{1}, Int64: []int64{1}})
		}, ErrShape},
		{"empty name", func(w *Writer) error { return w.Float64("", []int{}, []float64{1}) }, ErrName},
		{"bad name", func(w *Writer) error { return w.Float64("\xff", []int{}, []float64{1}) }, ErrName},
		{"duplicate", func(w *Writer) error {
			w.Float64("x", []int{}, []float64{1})
			return w.Int64("x", []int{}, []int64{1})
		}, ErrName},
		{"bad utf8", func(w *Writer) error { return w.Strings("x", []string{"ok", "\xc3"}) }, ErrDType},
		{"trailing NUL", func(w *Writer) error { return w.Strings("x", []string{"a\x00"}) }, ErrDType},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := NewWriter(new(bytes.Buffer), false)
			err := tt.write(w)
			if !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
			if !strings.HasPrefix(err.Error(), "npz: ") {
				t.Errorf("error %q lacks package prefix", err)
			}
			// A rejected array must leave the archive usable.
			if err := w.Float64("other", []int{}, []float64{1}); err != nil {
				t.Errorf("after rejected array: %v", err)
			}
		})
	}
	w := NewWriter(new(bytes.Buffer), false)
	w.Close()
	if err := w.Float64("x", []int{}, []float64{1}); err == nil {
		t.Error("write after Close succeeded")
	}
}

// errWriter fails after n bytes.
type errWriter struct{ n int }

func (e *errWriter) Write(p []byte) (int, error) {
	if len(p) > e.n {
		k := e.n
		e.n = 0
		return k, errors.New("disk full")
	}
	e.n -= len(p)
	return len(p), nil
}

func TestWriterSticky(t *testing.T) {
	w := NewWriter(&errWriter{n: 100}, false)
	err := w.Float64("x", []int{1000}, make([]float64, 1000))
	if err == nil {
		err = w.Close()
	}
	if err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("got %v, want disk full", err)
	}
	if err2 := w.Float64("y", []int{}, []float64{1}); err2 == nil {
		t.Error("write after failure succeeded")
	}
	if err2 := w.Close(); err2 == nil {
		t.Error("Close after failure succeeded")
	}
}

// npy assembles an .npy file from header text and data, padding the
// header as NumPy does.
func npy(dict string, data []byte) []byte {
	pad := (align - (10+len(dict)+1)%align) % align
	text := dict + strings.Repeat(" ", pad) + "\n"
	b := append([]byte(npyMagic), 1, 0, byte(len(text)), byte(len(text)>>8))
	b = append(b, text...)
	return append(b, data...)
}

func dict(descr, shape string) string {
	return fmt.Sprintf("{'descr': '%s', 'fortran_order': False, 'shape': %s, }", descr, shape)
}

func TestReadNPYHeaders(t *testing.T) {
	le := func(vs ...float64) []byte {
		var b []byte
		for _, v := range vs {
			b = append(b, byte(math.Float64bits(v)), byte(math.Float64bits(v)>>8), byte(math.Float64bits(v)>>16),
				byte(math.Float64bits(v)>>24), byte(math.Float64bits(v)>>32), byte(math.Float64bits(v)>>40),
				byte(math.Float64bits(v)>>48), byte(math.Float64bits(v)>>56))
		}
		return b
	}
	tests := []struct {
		name  string
		dict  string
		data  []byte
		shape []int
	}{
		{"numpy layout", dict("<f8", "(2,)"), le(1, 2), []int{2}},
		{"double quotes", `{"descr": "<f8", "fortran_order": False, "shape": (2,)}`, le(1, 2), []int{2}},
		{"key order", `{'shape': (1, 2), 'fortran_order': False, 'descr': '<f8'}`, le(1, 2), []int{1, 2}},
		{"no spaces", `{'descr':'<f8','fortran_order':False,'shape':(2,)}`, le(1, 2), []int{2}},
		{"python2 longs", `{'descr': '<f8', 'fortran_order': False, 'shape': (2L, 1L), }`, le(1, 2), []int{2, 1}},
		{"0-d", dict("<f8", "()"), le(1), []int{}},
		{"fortran 1-d", `{'descr': '<f8', 'fortran_order': True, 'shape': (2,)}`, le(1, 2), []int{2}},
		{"native order", dict("=f8", "(2,)"), le(1, 2), []int{2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := ReadNPY(bytes.NewReader(npy(tt.dict, tt.data)), Limits{})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(a.Shape, tt.shape) || len(a.Float64) == 0 || a.Float64[0] != 1 {
				t.Errorf("got %+v", a)
			}
		})
	}
}

func TestReadNPYErrors(t *testing.T) {
	valid := npy(dict("<f8", "(2,)"), make([]byte, 16))
	tests := []struct {
		name string
		in   []byte
		lim  Limits
		want error
	}{
		{"empty", nil, Limits{}, ErrFormat},
		{"bad magic", append([]byte("\x93NUMPZ"), valid[6:]...), Limits{}, ErrFormat},
		{"short magic", valid[:4], Limits{}, ErrFormat},
		{"bad version", append([]byte(npyMagic+"\x04\x00"), valid[8:]...), Limits{}, ErrFormat},
		{"minor version", append([]byte(npyMagic+"\x01\x01"), valid[8:]...), Limits{}, ErrFormat},
		{"truncated length", valid[:9], Limits{}, ErrFormat},
		{"truncated header", valid[:40], Limits{}, ErrFormat},
		{"truncated data", valid[:len(valid)-3], Limits{}, ErrFormat},
		{"no data", valid[:len(valid)-16], Limits{}, ErrFormat},
		{"huge header length", []byte(npyMagic + "\x02\x00\x00\x00\x00\x01"), Limits{}, ErrFormat},
		{"not a dict", npy("('<f8', False, (2,))", nil), Limits{}, ErrFormat},
		{"syntax", npy("{'descr': '<f8', 'fortran_order': False, 'shape': (2,)", nil), Limits{}, ErrFormat},
		{"trailing text", npy(dict("<f8", "(2,)")+" x", nil), Limits{}, ErrFormat},
		{"missing shape", npy("{'descr': '<f8', 'fortran_order': False}", nil), Limits{}, ErrFormat},
		{"missing descr", npy("{'fortran_order': False, 'shape': (2,)}", nil), Limits{}, ErrFormat},
		{"missing order", npy("{'descr': '<f8', 'shape': (2,)}", nil), Limits{}, ErrFormat},
		{"extra key", npy("{'descr': '<f8', 'fortran_order': False, 'shape': (2,), 'x': 1}", nil), Limits{}, ErrFormat},
		{"repeated key", npy("{'descr': '<f8', 'descr': '<f8', 'fortran_order': False, 'shape': (2,)}", nil), Limits{}, ErrFormat},
		{"int key", npy("{1: '<f8', 'fortran_order': False, 'shape': (2,)}", nil), Limits{}, ErrFormat},
		{"order not bool", npy("{'descr': '<f8', 'fortran_order': 0, 'shape': (2,)}", nil), Limits{}, ErrFormat},
		{"shape not tuple", npy(dict("<f8", "(2)"), nil), Limits{}, ErrFormat},
		{"shape list", npy(dict("<f8", "[2]"), nil), Limits{}, ErrFormat},
		{"shape of strings", npy(dict("<f8", "('2',)"), nil), Limits{}, ErrFormat},
		{"negative dim", npy(dict("<f8", "(-2,)"), nil), Limits{}, ErrFormat},
		{"escape", npy(`{'descr': '<f\x38', 'fortran_order': False, 'shape': (2,)}`, nil), Limits{}, ErrFormat},
		{"deep", npy(strings.Repeat("(", 1000), nil), Limits{}, ErrFormat},
		{"unterminated string", npy("{'descr': '<f8", nil), Limits{}, ErrFormat},
		{"newline in string", npy("{'descr': '<f8\n', 'fortran_order': False, 'shape': (2,)}", nil), Limits{}, ErrFormat},
		{"lower-case bool", npy("{'descr': '<f8', 'fortran_order': false, 'shape': (2,)}", nil), Limits{}, ErrFormat},
		{"bad number", npy(dict("<f8", "(2x,)"), nil), Limits{}, ErrFormat},
		{"empty tuple item", npy(dict("<f8", "(2,,)"), nil), Limits{}, ErrFormat},
		{"missing colon", npy("{'descr' '<f8', 'fortran_order': False, 'shape': (2,)}", nil), Limits{}, ErrFormat},
		{"none descr", npy("{'descr': None, 'fortran_order': False, 'shape': (2,)}", nil), Limits{}, ErrDType},
		{"bad code point", npy(dict("<U1", "(1,)"), []byte{0, 0, 0x11, 0}), Limits{}, ErrFormat},
		{"surrogate", npy(dict("<U1", "(1,)"), []byte{0, 0xd8, 0, 0}), Limits{}, ErrFormat},
		{"huge shape", npy(dict("<f8", "(1099511627776, 1099511627776)"), nil), Limits{}, ErrTooLarge},
		{"overflowing shape", npy(dict("<f8", "(4294967296, 4294967296, 4294967296)"), nil), Limits{}, ErrTooLarge},
		{"dim beyond int64", npy(dict("<f8", "(99999999999999999999999,)"), nil), Limits{}, ErrTooLarge},
		{"zero-width strings", npy(dict("<U0", "(1099511627776,)"), nil), Limits{}, ErrTooLarge},
		{"wide strings", npy(dict("<U99999999999", "(2,)"), nil), Limits{}, ErrTooLarge},
		{"too many dims", npy(dict("<f8", "("+strings.Repeat("1,", maxDims+1)+")"), nil), Limits{}, ErrTooLarge},
		{"over limit", valid, Limits{MaxArrayBytes: 15}, ErrTooLarge},
		{"over total limit", valid, Limits{MaxTotalBytes: 15}, ErrTooLarge},
		{"float16", npy(dict("<f2", "(2,)"), nil), Limits{}, ErrDType},
		{"complex", npy(dict("<c16", "(2,)"), nil), Limits{}, ErrDType},
		{"object", npy(dict("|O", "(2,)"), nil), Limits{}, ErrDType},
		{"bytes", npy(dict("|S3", "(2,)"), nil), Limits{}, ErrDType},
		{"uint64", npy(dict("<u8", "(2,)"), nil), Limits{}, ErrDType},
		{"datetime", npy(dict("<M8[s]", "(2,)"), nil), Limits{}, ErrDType},
		{"no byte order", npy(dict("|f8", "(2,)"), nil), Limits{}, ErrDType},
		{"type name", npy(dict("float64", "(2,)"), nil), Limits{}, ErrDType},
		{"signed size", npy(dict("<f+8", "(2,)"), nil), Limits{}, ErrDType},
		{"structured", npy("{'descr': [('a', '<f8'), ('b', '<i4', (2,))], 'fortran_order': False, 'shape': (2,)}", nil), Limits{}, ErrDType},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := ReadNPY(bytes.NewReader(tt.in), tt.lim)
			if !errors.Is(err, tt.want) {
				t.Fatalf("got %v, %v; want %v", a, err, tt.want)
			}
			if !strings.HasPrefix(err.Error(), "npz: ") {
				t.Errorf("error %q lacks package prefix", err)
			}
			t.Log(err)
		})
	}
}

// failReader fails after its data with err.
type failReader struct {
	data []byte
	err  error
}

func (f *failReader) Read(p []byte) (int, error) {
	if len(f.data) == 0 {
		return 0, f.err
	}
	n := copy(p, f.data)
	f.data = f.data[n:]
	return n, nil
}

func TestReadNPYIOError(t *testing.T) {
	broken := errors.New("broken pipe")
	in := npy(dict("<f8", "(2,)"), make([]byte, 5))
	_, err := ReadNPY(&failReader{in, broken}, Limits{})
	if !errors.Is(err, broken) || errors.Is(err, ErrFormat) {
		t.Errorf("got %v, want the reader's error and no ErrFormat", err)
	}
}

func TestWriteNPYErrors(t *testing.T) {
	if err := WriteNPY(new(bytes.Buffer), &Array{Shape: []int{2}, Float64: []float64{1}}); !errors.Is(err, ErrShape) {
		t.Errorf("got %v, want ErrShape", err)
	}
	err := WriteNPY(&errWriter{n: 200}, &Array{Shape: []int{100}, Float64: make([]float64, 100)})
	if err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("got %v, want disk full", err)
	}
}

// TestNoAllocationFromHeader checks that a header declaring a huge array
// within the limits, with little data behind it, does not allocate the
// declared size.
func TestNoAllocationFromHeader(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
	}{
		{"floats", npy(dict("<f8", "(134217728,)"), make([]byte, 1000))},
		{"strings", npy(dict("<U1000000", "(200,)"), make([]byte, 1000))},
		{"bools", npy(dict("|b1", "(1000000000,)"), make([]byte, 1000))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			_, err := ReadNPY(bytes.NewReader(tt.in), Limits{})
			runtime.ReadMemStats(&after)
			if !errors.Is(err, ErrFormat) {
				t.Errorf("got %v, want ErrFormat", err)
			}
			if n := after.TotalAlloc - before.TotalAlloc; n > 4<<20 {
				t.Errorf("allocated %d bytes", n)
			}
		})
	}
}

func TestReadConversions(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		want *Array
	}{
		{"f4", npy(dict("<f4", "(2,)"), []byte{0, 0, 0xc0, 0x3f, 0, 0, 0x80, 0xff}),
			&Array{DType: "<f4", Shape: []int{2}, Float64: []float64{1.5, math.Inf(-1)}}},
		{"big-endian f8", npy(dict(">f8", "(1,)"), []byte{0x3f, 0xf8, 0, 0, 0, 0, 0, 0}),
			&Array{DType: ">f8", Shape: []int{1}, Float64: []float64{1.5}}},
		{"i4", npy(dict("<i4", "(2,)"), []byte{0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0x80}),
			&Array{DType: "<i4", Shape: []int{2}, Int64: []int64{-1, math.MinInt32}}},
		{"big-endian i4", npy(dict(">i4", "()"), []byte{0xff, 0xff, 0xff, 0xfe}),
			&Array{DType: ">i4", Shape: []int{}, Int64: []int64{-2}}},
		{"i2", npy(dict("<i2", "(1,)"), []byte{0x00, 0x80}),
			&Array{DType: "<i2", Shape: []int{1}, Int64: []int64{math.MinInt16}}},
		{"i1", npy(dict("|i1", "(1,)"), []byte{0xff}),
			&Array{DType: "|i1", Shape: []int{1}, Int64: []int64{-1}}},
		{"u2", npy(dict(">u2", "(1,)"), []byte{0xff, 0xfe}),
			&Array{DType: ">u2", Shape: []int{1}, Int64: []int64{0xfffe}}},
		{"u4", npy(dict("<u4", "(1,)"), []byte{0xff, 0xff, 0xff, 0xff}),
			&Array{DType: "<u4", Shape: []int{1}, Int64: []int64{math.MaxUint32}}},
		{"bool bytes", npy(dict("|b1", "(3,)"), []byte{0, 1, 2}),
			&Array{DType: "|b1", Shape: []int{3}, Bool: []bool{false, true, true}}},
		{"big-endian strings", npy(dict(">U2", "(2,)"), []byte{0, 0, 0, 'a', 0, 0, 0, 0, 0, 0, 0x03, 0xb6, 0, 0, 0, 'b'}),
			&Array{DType: ">U2", Shape: []int{2}, Strings: []string{"a", "ζb"}}},
		{"zero-width strings", npy(dict("<U0", "(2,)"), nil),
			&Array{DType: "<U0", Shape: []int{2}, Strings: []string{"", ""}}},
		{"fortran", npy("{'descr': '<i8', 'fortran_order': True, 'shape': (2, 3)}", func() []byte {
			var b []byte
			for _, v := range []byte{0, 3, 1, 4, 2, 5} { // columns of [[0 1 2] [3 4 5]]
				b = append(b, v, 0, 0, 0, 0, 0, 0, 0)
			}
			return b
		}()), &Array{DType: "<i8", Shape: []int{2, 3}, Int64: []int64{0, 1, 2, 3, 4, 5}}},
		{"fortran empty", npy("{'descr': '<i8', 'fortran_order': True, 'shape': (2, 0)}", nil),
			&Array{DType: "<i8", Shape: []int{2, 0}, Int64: []int64{}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ReadNPY(bytes.NewReader(tt.in), Limits{})
			if err != nil {
				t.Fatal(err)
			}
			if err := sameArray(got, tt.want); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestFromFortran(t *testing.T) {
	// Element (i, j, k) of a 2×3×4 array holds 100i+10j+k; in column-major
	// order i varies fastest.
	shape := []int{2, 3, 4}
	var f, want []int
	for k := range 4 {
		for j := range 3 {
			for i := range 2 {
				f = append(f, 100*i+10*j+k)
			}
		}
	}
	for i := range 2 {
		for j := range 3 {
			for k := range 4 {
				want = append(want, 100*i+10*j+k)
			}
		}
	}
	if got := fromFortran(f, shape); !slices.Equal(got, want) {
		t.Errorf("got %v\nwant %v", got, want)
	}
}

// archive builds a zip from name, content pairs with the given method.
func archive(t testing.TB, method uint16, entries ...any) []byte {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for i := 0; i < len(entries); i += 2 {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: entries[i].(string), Method: method})
		if err != nil {
			t.Fatal(err)
		}
		w.Write(entries[i+1].([]byte))
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// withMethod patches the compression method of every entry in a zip
// file, which zip.Writer refuses to write for unknown methods.
func withMethod(b []byte, method uint16) []byte {
	b = bytes.Clone(b)
	for _, sig := range []struct {
		magic string
		off   int
	}{{"PK\x03\x04", 8}, {"PK\x01\x02", 10}} {
		for i := 0; ; {
			k := bytes.Index(b[i:], []byte(sig.magic))
			if k < 0 {
				break
			}
			i += k
			b[i+sig.off], b[i+sig.off+1] = byte(method), byte(method>>8)
			i += len(sig.magic)
		}
	}
	return b
}

// lyingArchive holds one deflated entry of content that claims to be
// declared bytes long.
func lyingArchive(t testing.TB, content []byte, declared int) []byte {
	var comp bytes.Buffer
	fw, _ := flate.NewWriter(&comp, flate.BestSpeed)
	fw.Write(content)
	fw.Close()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, err := zw.CreateRaw(&zip.FileHeader{
		Name: "x.npy", Method: zip.Deflate,
		CRC32:              crc32.ChecksumIEEE(content[:min(declared, len(content))]),
		CompressedSize64:   uint64(comp.Len()),
		UncompressedSize64: uint64(declared),
	})
	if err != nil {
		t.Fatal(err)
	}
	w.Write(comp.Bytes())
	zw.Close()
	return buf.Bytes()
}

func TestReadErrors(t *testing.T) {
	f8 := npy(dict("<f8", "(2,)"), make([]byte, 16))
	stored := archive(t, zip.Store, "a.npy", f8, "b.npy", f8)
	corrupt := bytes.Clone(stored)
	corrupt[bytes.Index(corrupt, f8)+len(f8)-1] ^= 1 // breaks the CRC
	f8short := npy(dict("<f8", "(3,)"), make([]byte, 16))
	bomb := npy(dict("<f8", "(2097152,)"), make([]byte, 16<<20))

	tests := []struct {
		name string
		in   []byte
		lim  Limits
		want error
	}{
		{"empty", nil, Limits{}, ErrFormat},
		{"not a zip", []byte("PK\x03\x04 this is not really a zip file at all"), Limits{}, ErrFormat},
		{"npy file", f8, Limits{}, ErrFormat},
		{"not npy entry", archive(t, zip.Store, "a.npy", f8, "readme.txt", []byte("hi")), Limits{}, ErrFormat},
		{"bare .npy name", archive(t, zip.Store, ".npy", f8), Limits{}, ErrFormat},
		{"directory", archive(t, zip.Store, "d/", []byte{}), Limits{}, ErrFormat},
		{"duplicate", archive(t, zip.Store, "a.npy", f8, "a.npy", f8), Limits{}, ErrFormat},
		{"bad entry", archive(t, zip.Deflate, "a.npy", []byte("\x93NUMPZ")), Limits{}, ErrFormat},
		{"truncated entry", archive(t, zip.Deflate, "a.npy", f8[:len(f8)-1]), Limits{}, ErrFormat},
		{"trailing data", archive(t, zip.Deflate, "a.npy", append(bytes.Clone(f8), 0)), Limits{}, ErrFormat},
		{"bad crc", corrupt, Limits{}, ErrFormat},
		{"truncated archive", stored[:len(stored)-10], Limits{}, ErrFormat},
		{"unknown method", withMethod(archive(t, zip.Store, "a.npy", f8), 99), Limits{}, ErrFormat},
		{"size understated", lyingArchive(t, append(bytes.Clone(f8), make([]byte, 1<<20)...), len(f8)), Limits{}, ErrFormat},
		{"size overstated", lyingArchive(t, f8short, len(f8short)+8), Limits{}, ErrFormat},
		{"too many arrays", stored, Limits{MaxArrays: 1}, ErrTooLarge},
		{"array too large", stored, Limits{MaxArrayBytes: 15}, ErrTooLarge},
		{"total too large", stored, Limits{MaxTotalBytes: 31}, ErrTooLarge},
		{"zip bomb", archive(t, zip.Deflate, "a.npy", bomb), Limits{MaxArrayBytes: 1 << 20}, ErrTooLarge},
		{"bad dtype", archive(t, zip.Store, "a.npy", npy(dict("<c8", "()"), make([]byte, 8))), Limits{}, ErrDType},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := Read(bytes.NewReader(tt.in), int64(len(tt.in)), tt.lim)
			if !errors.Is(err, tt.want) {
				t.Fatalf("got %v, %v; want %v", m, err, tt.want)
			}
			if !strings.HasPrefix(err.Error(), "npz: ") {
				t.Errorf("error %q lacks package prefix", err)
			}
			t.Log(err)
		})
	}
}

func TestReadLimitsExact(t *testing.T) {
	f8 := npy(dict("<f8", "(2,)"), make([]byte, 16))
	in := archive(t, zip.Deflate, "a.npy", f8, "b.npy", f8)
	if _, err := Read(bytes.NewReader(in), int64(len(in)), Limits{MaxArrayBytes: 16, MaxTotalBytes: 32, MaxArrays: 2}); err != nil {
		t.Errorf("at the limits: %v", err)
	}
}

func TestErrorNamesEntry(t *testing.T) {
	in := archive(t, zip.Store, "good.npy", npy(dict("<f8", "()"), make([]byte, 8)), "weights.npy", []byte("junk"))
	_, err := Read(bytes.NewReader(in), int64(len(in)), Limits{})
	if err == nil || !strings.Contains(err.Error(), `"weights.npy"`) {
		t.Errorf("error %v does not name the entry", err)
	}
}

func TestWriteFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "out.npz")
	write := func(v float64) func(*Writer) error {
		return func(w *Writer) error { return w.Float64("v", []int{}, []float64{v}) }
	}
	if err := WriteFile(path, true, write(1)); err != nil {
		t.Fatal(err)
	}
	check := func(want float64) {
		t.Helper()
		m, err := ReadFile(path, Limits{})
		if err != nil {
			t.Fatal(err)
		}
		if got := m["v"].Float64[0]; got != want {
			t.Errorf("v = %v, want %v", got, want)
		}
		entries, _ := os.ReadDir(dir)
		if len(entries) != 1 {
			t.Errorf("directory holds %d files, want 1", len(entries))
		}
	}
	check(1)
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o644 {
		t.Errorf("mode %v, %v", fi.Mode(), err)
	}

	boom := errors.New("boom")
	if err := WriteFile(path, true, func(w *Writer) error { write(2)(w); return boom }); err != boom {
		t.Errorf("got %v, want fn's error unchanged", err)
	}
	check(1)
	if err := WriteFile(path, false, func(w *Writer) error { return w.Float64("v", []int{2}, nil) }); !errors.Is(err, ErrShape) {
		t.Errorf("got %v, want ErrShape", err)
	}
	check(1)
	func() {
		defer func() { recover() }()
		WriteFile(path, false, func(*Writer) error { panic("fn panics") })
	}()
	check(1)
	// Closing inside fn is harmless.
	if err := WriteFile(path, false, func(w *Writer) error { write(3)(w); return w.Close() }); err != nil {
		t.Fatal(err)
	}
	check(3)

	if err := WriteFile(filepath.Join(dir, "missing", "x.npz"), false, write(1)); err == nil {
		t.Error("writing into a missing directory succeeded")
	}
	if _, err := ReadFile(filepath.Join(dir, "missing.npz"), Limits{}); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("got %v, want ErrNotExist", err)
	}
	bad := filepath.Join(t.TempDir(), "bad.npz")
	os.WriteFile(bad, []byte("junk"), 0o644)
	if _, err := ReadFile(bad, Limits{}); !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), bad) {
		t.Errorf("got %v, want ErrFormat naming the file", err)
	}
}

func TestHeaderLayout(t *testing.T) {
	// NumPy's own bytes for np.save of np.zeros((2, 3)).
	want := "\x93NUMPY\x01\x00v\x00{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }" +
		strings.Repeat(" ", 58) + "\n"
	if got := string(appendHeader(nil, "<f8", []int{2, 3})); got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	for _, shape := range [][]int{{}, {1}, {7, 0, 3}, make([]int, maxDims)} {
		h := appendHeader(nil, "<U12", shape)
		if len(h)%align != 0 {
			t.Errorf("shape %v: header of %d bytes", shape, len(h))
		}
		got, n, err := readHeader(bytes.NewReader(h))
		if err != nil || n != int64(len(h)) || !slices.Equal(got.shape, shape) {
			t.Errorf("shape %v: read back %v, %d, %v", shape, got.shape, n, err)
		}
	}
}

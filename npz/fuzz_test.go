package npz

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"unicode/utf8"
)

// fuzzLimits keep each input's memory small; the limit logic itself is
// exercised all the same.
var fuzzLimits = Limits{MaxArrayBytes: 1 << 20, MaxTotalBytes: 4 << 20, MaxArrays: 64}

// seedNPY returns .npy files of every written type plus headers that
// reach the conversions and the Fortran path.
func seedNPY(f *testing.F) [][]byte {
	var seeds [][]byte
	for _, a := range roundTripArrays() {
		if a.Name == "big" {
			continue
		}
		var buf bytes.Buffer
		if err := WriteNPY(&buf, a); err != nil {
			f.Fatal(err)
		}
		seeds = append(seeds, buf.Bytes())
	}
	return append(seeds,
		npy("{'descr': '>i4', 'fortran_order': True, 'shape': (2, 3)}", make([]byte, 24)),
		npy("{'descr': '>U2', 'fortran_order': True, 'shape': (2, 1, 2)}", bytes.Repeat([]byte{0, 0, 0, 'a'}, 8)),
		npy(dict("<f4", "(2,)"), make([]byte, 8)),
		npy(dict("<u2", "(1L,)"), make([]byte, 2)),
		npy("{'descr': [('a', '<f8')], 'fortran_order': False, 'shape': ()}", make([]byte, 8)),
	)
}

// checkErr requires err to be classified by one of the sentinels: from
// an in-memory reader, every failure is the input's fault.
func checkErr(t *testing.T, err error) {
	if !errors.Is(err, ErrFormat) && !errors.Is(err, ErrTooLarge) && !errors.Is(err, ErrDType) {
		t.Fatalf("unclassified error: %v", err)
	}
}

// canonical is a as this package would write it back.
func canonical(a *Array) *Array {
	c := *a
	p, err := prepare(a)
	if err != nil {
		panic(err)
	}
	c.DType = p.descr
	return &c
}

func FuzzRead(f *testing.F) {
	for _, compress := range []bool{false, true} {
		var buf bytes.Buffer
		w := NewWriter(&buf, compress)
		for _, a := range roundTripArrays() {
			if a.Name != "big" {
				w.Array(a)
			}
		}
		w.Close()
		f.Add(buf.Bytes())

		buf.Reset()
		w = NewWriter(&buf, compress)
		w.Float64("x", []int{2}, []float64{1, 2})
		w.Close()
		f.Add(buf.Bytes())
	}
	for _, file := range []string{"savez.npz", "savez_compressed.npz"} {
		b, err := os.ReadFile(filepath.Join("testdata", "numpy", file))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add(seedNPY(f)[0])

	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Read(bytes.NewReader(data), int64(len(data)), fuzzLimits)
		if err != nil {
			if m != nil {
				t.Fatal("arrays returned with an error")
			}
			checkErr(t, err)
			return
		}
		// What was read must survive writing and reading again.
		var buf bytes.Buffer
		w := NewWriter(&buf, len(data)%2 == 0)
		names := make([]string, 0, len(m))
		for name, a := range m {
			if name != a.Name {
				t.Fatalf("array %q under key %q", a.Name, name)
			}
			if utf8.ValidString(name) {
				names = append(names, name)
			}
		}
		slices.Sort(names)
		for _, name := range names {
			if err := w.Array(m[name]); err != nil {
				t.Fatalf("writing back %q: %v", name, err)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		again, err := Read(bytes.NewReader(buf.Bytes()), int64(buf.Len()), Limits{})
		if err != nil {
			t.Fatalf("reading back: %v", err)
		}
		for _, name := range names {
			if err := sameArray(again[name], canonical(m[name])); err != nil {
				t.Fatalf("%q: %v", name, err)
			}
		}
	})
}

func FuzzReadNPY(f *testing.F) {
	for _, s := range seedNPY(f) {
		f.Add(s)
	}
	for _, file := range []string{"v1.npy", "v2.npy", "v3.npy"} {
		b, err := os.ReadFile(filepath.Join("testdata", "numpy", file))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := ReadNPY(bytes.NewReader(data), fuzzLimits)
		if err != nil {
			if a != nil {
				t.Fatal("array returned with an error")
			}
			checkErr(t, err)
			return
		}
		var buf bytes.Buffer
		if err := WriteNPY(&buf, a); err != nil {
			t.Fatalf("writing back: %v", err)
		}
		again, err := ReadNPY(&buf, Limits{})
		if err != nil {
			t.Fatalf("reading back: %v", err)
		}
		if err := sameArray(again, canonical(a)); err != nil {
			t.Fatal(err)
		}
	})
}

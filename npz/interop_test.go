package npz

import (
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
)

const python = "/usr/bin/python3"

// requireNumPy skips the test unless NumPy can be imported.
func requireNumPy(t *testing.T) {
	t.Helper()
	if out, err := exec.Command(python, "-c", "import numpy").CombinedOutput(); err != nil {
		t.Skipf("skipping NumPy interoperability test: %s -c 'import numpy' failed: %v\n%s", python, err, out)
	}
}

func runPython(t *testing.T, script string, args ...string) {
	t.Helper()
	out, err := exec.Command(python, append([]string{"-c", script}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("python: %v\n%s", err, out)
	}
}

// checkScript loads the .npz and .npy files named after a JSON file of
// expectations and exits non-zero if any array differs. Floats travel as
// Go-formatted strings, which Python parses exactly, including NaN, Inf
// and -0.
const checkScript = `
import json, sys
import numpy as np

exp = json.load(open(sys.argv[1], encoding='utf-8'))

def check(name, got, e):
    assert got.dtype.str == e['dtype'], (name, got.dtype.str, e['dtype'])
    assert got.shape == tuple(e['shape']), (name, got.shape, e['shape'])
    assert got.flags.c_contiguous, name
    flat = got.ravel()
    if got.dtype.kind == 'f':
        want = np.array([float(v) for v in e['values']], dtype=np.float64)
        assert np.array_equal(flat, want, equal_nan=True), (name, flat, want)
        assert (np.signbit(flat) == np.signbit(want)).all(), name
    else:
        assert flat.tolist() == e['values'], (name, flat.tolist(), e['values'])

for path in sys.argv[2:]:
    if path.endswith('.npy'):
        check(path, np.load(path), exp['cube'])
        continue
    with np.load(path) as z:
        assert sorted(z.files) == sorted(exp), (sorted(z.files), sorted(exp))
        for name in z.files:
            check(name, z[name], exp[name])
`

// TestNumPyReadsOurs writes archives and an .npy file and has NumPy check
// every value, type and shape.
func TestNumPyReadsOurs(t *testing.T) {
	requireNumPy(t)
	dir := t.TempDir()
	arrays := roundTripArrays()
	exp := make(map[string]any)
	for _, a := range arrays {
		var values any
		switch {
		case a.Float64 != nil:
			s := make([]string, len(a.Float64))
			for i, v := range a.Float64 {
				s[i] = strconv.FormatFloat(v, 'g', -1, 64)
			}
			values = s
		case a.Int64 != nil:
			values = a.Int64
		case a.Uint8 != nil:
			u := make([]int, len(a.Uint8)) // not base64, as []byte would be
			for i, v := range a.Uint8 {
				u[i] = int(v)
			}
			values = u
		case a.Bool != nil:
			values = a.Bool
		default:
			values = a.Strings
		}
		exp[a.Name] = map[string]any{"dtype": a.DType, "shape": append([]int{}, a.Shape...), "values": values}
	}
	js, err := json.Marshal(exp)
	if err != nil {
		t.Fatal(err)
	}
	expPath := filepath.Join(dir, "expected.json")
	if err := os.WriteFile(expPath, js, 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{expPath}
	for _, compress := range []bool{false, true} {
		path := filepath.Join(dir, "go_"+strconv.FormatBool(compress)+".npz")
		err := WriteFile(path, compress, func(w *Writer) error {
			for _, a := range arrays {
				if err := w.Array(a); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		args = append(args, path)
	}
	f, err := os.Create(filepath.Join(dir, "cube.npy"))
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range arrays {
		if a.Name == "cube" {
			err = WriteNPY(f, a)
		}
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
	runPython(t, checkScript, append(args, f.Name())...)
}

// numpyScript writes the files that numpyArrays describes. It also made
// the copies in testdata/numpy: python3 -c "$numpyScript" testdata/numpy
const numpyScript = `
import sys
import numpy as np

out = sys.argv[1]
arrays = {
    'f8': np.arange(24, dtype='<f8').reshape(2, 3, 4) / 4,
    'f4': np.array([1.5, -2.25, np.inf, np.nan], dtype='<f4'),
    'i8': np.array([-2**63, -1, 0, 2**63 - 1], dtype='<i8'),
    'i4': np.array([[-2**31, 7], [0, 2**31 - 1]], dtype='<i4'),
    'i2': np.array([-300, 300], dtype='<i2'),
    'i1': np.array([-128, 127], dtype='i1'),
    'u4': np.array([2**32 - 1], dtype='<u4'),
    'u2': np.array([2**16 - 1], dtype='<u2'),
    'u1': np.array([0, 7, 255], dtype='u1'),
    'b1': np.array([[True, False], [False, True]]),
    'b1scalar': np.array(True),
    'str': np.array(['alpha', 'β-γ', '', 'a\x00b', '😀']),
    'fortran': np.asfortranarray(np.arange(24, dtype='<f8').reshape(2, 3, 4)),
    'fortran_i4': np.asfortranarray(np.arange(6, dtype='<i4').reshape(3, 2)),
    'fortran_str': np.asfortranarray(np.array([['a', 'bb', 'c'], ['dd', 'e', 'ff']])),
    'be_f8': (np.arange(6).reshape(2, 3) - 2.5).astype('>f8'),
    'be_i4': np.array([-5, 1 << 20, 3], dtype='>i4'),
    'be_f4': np.array([0.5], dtype='>f4'),
    'be_str': np.array(['xy', 'ζ'], dtype='>U2'),
    'scalar': np.array(3.25),
    'empty': np.zeros((3, 0)),
    'empty_i8': np.zeros((0,), dtype='<i8'),
}
assert arrays['fortran'].flags.f_contiguous and not arrays['fortran'].flags.c_contiguous
np.savez(out + '/savez.npz', **arrays)
np.savez_compressed(out + '/savez_compressed.npz', **arrays)
for v in (1, 2, 3):
    with open('%s/v%d.npy' % (out, v), 'wb') as f:
        np.lib.format.write_array(f, arrays['f8'], version=(v, 0))
`

// numpyArrays is what numpyScript writes, as this package reads it.
func numpyArrays() map[string]*Array {
	f8 := seq(24, func(i int) float64 { return float64(i) / 4 })
	m := map[string]*Array{
		"f8":          {DType: "<f8", Shape: []int{2, 3, 4}, Float64: f8},
		"f4":          {DType: "<f4", Shape: []int{4}, Float64: []float64{1.5, -2.25, math.Inf(1), float64(math.Float32frombits(0x7fc00000))}},
		"i8":          {DType: "<i8", Shape: []int{4}, Int64: []int64{math.MinInt64, -1, 0, math.MaxInt64}},
		"i4":          {DType: "<i4", Shape: []int{2, 2}, Int64: []int64{math.MinInt32, 7, 0, math.MaxInt32}},
		"i2":          {DType: "<i2", Shape: []int{2}, Int64: []int64{-300, 300}},
		"i1":          {DType: "|i1", Shape: []int{2}, Int64: []int64{-128, 127}},
		"u4":          {DType: "<u4", Shape: []int{1}, Int64: []int64{math.MaxUint32}},
		"u2":          {DType: "<u2", Shape: []int{1}, Int64: []int64{math.MaxUint16}},
		"u1":          {DType: "|u1", Shape: []int{3}, Uint8: []byte{0, 7, 255}},
		"b1":          {DType: "|b1", Shape: []int{2, 2}, Bool: []bool{true, false, false, true}},
		"b1scalar":    {DType: "|b1", Shape: []int{}, Bool: []bool{true}},
		"str":         {DType: "<U5", Shape: []int{5}, Strings: []string{"alpha", "β-γ", "", "a\x00b", "😀"}},
		"fortran":     {DType: "<f8", Shape: []int{2, 3, 4}, Float64: seq(24, func(i int) float64 { return float64(i) })},
		"fortran_i4":  {DType: "<i4", Shape: []int{3, 2}, Int64: []int64{0, 1, 2, 3, 4, 5}},
		"fortran_str": {DType: "<U2", Shape: []int{2, 3}, Strings: []string{"a", "bb", "c", "dd", "e", "ff"}},
		"be_f8":       {DType: ">f8", Shape: []int{2, 3}, Float64: []float64{-2.5, -1.5, -0.5, 0.5, 1.5, 2.5}},
		"be_i4":       {DType: ">i4", Shape: []int{3}, Int64: []int64{-5, 1 << 20, 3}},
		"be_f4":       {DType: ">f4", Shape: []int{1}, Float64: []float64{0.5}},
		"be_str":      {DType: ">U2", Shape: []int{2}, Strings: []string{"xy", "ζ"}},
		"scalar":      {DType: "<f8", Shape: []int{}, Float64: []float64{3.25}},
		"empty":       {DType: "<f8", Shape: []int{3, 0}, Float64: []float64{}},
		"empty_i8":    {DType: "<i8", Shape: []int{0}, Int64: []int64{}},
	}
	for name, a := range m {
		a.Name = name
	}
	return m
}

// checkNumPyFiles reads the files of numpyScript in dir.
func checkNumPyFiles(t *testing.T, dir string) {
	want := numpyArrays()
	for _, file := range []string{"savez.npz", "savez_compressed.npz"} {
		got, err := ReadFile(filepath.Join(dir, file), Limits{})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(want) {
			t.Errorf("%s: %d arrays, want %d", file, len(got), len(want))
		}
		for name, w := range want {
			g, ok := got[name]
			if !ok {
				t.Errorf("%s: %s missing", file, name)
				continue
			}
			if err := sameArray(g, w); err != nil {
				t.Errorf("%s: %s: %v", file, name, err)
			}
		}
	}
	for _, file := range []string{"v1.npy", "v2.npy", "v3.npy"} {
		f, err := os.Open(filepath.Join(dir, file))
		if err != nil {
			t.Fatal(err)
		}
		got, err := ReadNPY(f, Limits{})
		f.Close()
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		w := *want["f8"]
		w.Name = ""
		if err := sameArray(got, &w); err != nil {
			t.Errorf("%s: %v", file, err)
		}
	}
}

func TestReadNumPyFiles(t *testing.T) {
	requireNumPy(t)
	dir := t.TempDir()
	runPython(t, numpyScript, dir)
	checkNumPyFiles(t, dir)
}

// TestReadNumPyGolden reads files NumPy wrote once, so that reading
// NumPy's output is tested where Python is not installed.
func TestReadNumPyGolden(t *testing.T) {
	checkNumPyFiles(t, filepath.Join("testdata", "numpy"))
}

package constraint

import (
	"bytes"
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/hcmoe/hcmoe/npz"
)

func sameProblem(t *testing.T, a, b *Problem) {
	t.Helper()
	if a.N != b.N || a.Ridge != b.Ridge || len(a.Blocks) != len(b.Blocks) {
		t.Fatalf("header differs: N %d/%d ridge %v/%v blocks %d/%d", a.N, b.N, a.Ridge, b.Ridge, len(a.Blocks), len(b.Blocks))
	}
	eq := func(what string, x, y []float64) {
		if len(x) != len(y) {
			t.Fatalf("%s: %d values, want %d", what, len(y), len(x))
		}
		for i := range x {
			if x[i] != y[i] {
				t.Fatalf("%s[%d] = %v, want %v", what, i, y[i], x[i])
			}
		}
	}
	for i := range a.Blocks {
		x, y := &a.Blocks[i], &b.Blocks[i]
		if x.Name != y.Name || x.Residual.Name() != y.Residual.Name() {
			t.Fatalf("block %d: %q/%q residual %q/%q", i, x.Name, y.Name, x.Residual.Name(), y.Residual.Name())
		}
		for k, v := range x.Residual.Params() {
			if y.Residual.Params()[k] != v {
				t.Fatalf("block %d: param %s = %v, want %v", i, k, y.Residual.Params()[k], v)
			}
		}
		for k := range x.Terms {
			eq("term", x.Terms[k], y.Terms[k])
		}
		eq("aux", x.Aux, y.Aux)
		eq("weights", x.Weights, y.Weights)
	}
	if (a.Start == nil) != (b.Start == nil) {
		t.Fatal("start fit lost or invented")
	}
	if a.Start != nil {
		eq("start basis", a.Start.Basis, b.Start.Basis)
		eq("start target", a.Start.Target, b.Start.Target)
	}
}

// A problem written and read back is the same problem, bit for bit, so a
// solve of the file reproduces the original solve exactly.
func TestProblemFileRoundTrip(t *testing.T) {
	dir := t.TempDir()
	for _, eq := range equations {
		for _, compress := range []bool{false, true} {
			p, truth := randomProblem(eq, 5, false, rand.New(rand.NewPCG(1, 2)))
			p.Blocks[1].Weights = nil
			p.Start = &Fit{Basis: p.Blocks[1].Terms[0], Target: p.Blocks[1].Aux}
			path := filepath.Join(dir, eq+".npz")
			if err := WriteProblem(path, p, compress); err != nil {
				t.Fatal(err)
			}
			q, err := ReadProblem(path, npz.Limits{})
			if err != nil {
				t.Fatal(err)
			}
			sameProblem(t, p, q)
			r1, err := Solve(context.Background(), p, Settings{}, truth)
			if err != nil {
				t.Fatal(err)
			}
			r2, err := Solve(context.Background(), q, Settings{}, truth)
			if err != nil {
				t.Fatal(err)
			}
			for i := range r1.Omega {
				if r1.Omega[i] != r2.Omega[i] {
					t.Fatalf("%s: solve of the file differs: ω[%d] %v vs %v", eq, i, r2.Omega[i], r1.Omega[i])
				}
			}
		}
	}
}

// numpy must read a problem file and find what the format comment says.
func TestProblemFileNumpy(t *testing.T) {
	if err := exec.Command("/usr/bin/python3", "-c", "import numpy").Run(); err != nil {
		t.Skip("numpy not available at /usr/bin/python3 (apt-get install python3-numpy):", err)
	}
	p, _ := randomProblem("diffusion-sorption", 4, false, rand.New(rand.NewPCG(3, 4)))
	path := filepath.Join(t.TempDir(), "p.npz")
	if err := WriteProblem(path, p, true); err != nil {
		t.Fatal(err)
	}
	script := `
import sys, numpy as np
f = np.load(sys.argv[1])
assert list(f["format"]) == ["hcmoe-problem", "1"], f["format"]
n = int(f["n"]); assert n == 4
names = list(f["blocks"]); assert names == ["interior", "initial", "boundary-lower", "boundary-upper"], names
assert str(f["b0_residual"][0]) == "diffusion-sorption"
params = dict(zip(f["b0_param_names"], f["b0_param_values"]))
assert params["D"] == 5e-4 and params["n_f"] == 0.874, params
assert list(f["b0_terms"]) == ["u", "u_t", "u_xx"]
assert f["b0_term2"].shape == (20, 4) and f["b0_term2"].dtype == np.float64
assert f["b1_aux"].shape == (8, 1) and f["b0_aux"].shape == (20, 0)
assert f["b3_weights"].shape == (4,)
print(repr(float(f["b0_term1"][3, 2])))
`
	out, err := exec.Command("/usr/bin/python3", "-c", script, path).CombinedOutput()
	if err != nil {
		t.Fatalf("numpy: %v\n%s", err, out)
	}
	got, err := strconv.ParseFloat(strings.TrimSpace(string(out)), 64)
	if want := p.Blocks[0].Terms[1][3*4+2]; err != nil || got != want {
		t.Fatalf("numpy read b0_term1[3,2] = %q, want %v", out, want)
	}
}

// Every malformed file is an error wrapping ErrFile (or npz's own), with
// the array at fault in the message.
func TestProblemFileErrors(t *testing.T) {
	p, _ := randomProblem("burgers", 3, false, rand.New(rand.NewPCG(5, 6)))
	var buf bytes.Buffer
	if err := EncodeProblem(&buf, p, false); err != nil {
		t.Fatal(err)
	}
	good, err := npz.Read(bytes.NewReader(buf.Bytes()), int64(buf.Len()), npz.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		mutate func(m map[string]*npz.Array)
		want   string
	}{
		{"no format", func(m map[string]*npz.Array) { delete(m, "format") }, `no array "format"`},
		{"other file", func(m map[string]*npz.Array) { m["format"].Strings = []string{"x", "1"} }, "not a problem file"},
		{"future version", func(m map[string]*npz.Array) { m["format"].Strings[1] = "9" }, `version "9"`},
		{"n as float", func(m map[string]*npz.Array) { m["n"] = &npz.Array{Float64: []float64{3}} }, `"n" must be an int64 scalar`},
		{"n negative", func(m map[string]*npz.Array) { m["n"].Int64[0] = -3 }, "n = -3"},
		{"missing term", func(m map[string]*npz.Array) { delete(m, "b0_term2") }, `no array "b0_term2"`},
		{"unknown residual", func(m map[string]*npz.Array) { m["b0_residual"].Strings[0] = "wave" }, `unknown residual "wave"`},
		{"wrong terms", func(m map[string]*npz.Array) { m["b0_terms"].Strings[1] = "u_x" }, "residual \"burgers\" reads"},
		{"term columns", func(m map[string]*npz.Array) { m["b0_term1"].Shape = []int{15, 1} }, "shape [rows, 3]"},
		{"ragged rows", func(m map[string]*npz.Array) {
			a := m["b0_term1"]
			a.Shape = []int{a.Shape[0] - 1, 3}
			a.Float64 = a.Float64[3:]
		}, "has 14 rows"},
		{"short weights", func(m map[string]*npz.Array) { m["b0_weights"].Shape = []int{2} }, `"b0_weights" must be float64 of shape [15]`},
		{"NaN", func(m map[string]*npz.Array) { m["b1_term0"].Float64[0] = math.NaN() }, "non-finite"},
		{"bad param", func(m map[string]*npz.Array) { m["b0_param_names"].Strings[0] = "mu" }, `unknown parameter "mu"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := make(map[string]*npz.Array, len(good))
			for k, v := range good {
				c := *v
				c.Float64 = append([]float64(nil), v.Float64...)
				c.Strings = append([]string(nil), v.Strings...)
				c.Int64 = append([]int64(nil), v.Int64...)
				c.Shape = append([]int(nil), v.Shape...)
				m[k] = &c
			}
			tc.mutate(m)
			_, err := decodeProblem(m)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want it to contain %q", err, tc.want)
			}
			if !errors.Is(err, ErrFile) && !errors.Is(err, ErrNonFinite) && !errors.Is(err, ErrShape) {
				t.Fatalf("error %v wraps none of ErrFile, ErrNonFinite, ErrShape", err)
			}
		})
	}
	if _, err := DecodeProblem([]byte("PK junk"), npz.Limits{}); err == nil {
		t.Fatal("junk accepted")
	}
	if _, err := ReadProblem(filepath.Join(t.TempDir(), "missing.npz"), npz.Limits{}); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing file: %v", err)
	}
}

// FuzzReadProblem: bad input is an error, never a panic; what decodes is
// a valid problem that survives a second round trip.
func FuzzReadProblem(f *testing.F) {
	for i, eq := range equations {
		p, _ := randomProblem(eq, 2, false, rand.New(rand.NewPCG(uint64(i), 1)))
		for b := range p.Blocks {
			rows := min(2, p.Blocks[b].Rows(p.N))
			blk := &p.Blocks[b]
			for k := range blk.Terms {
				blk.Terms[k] = blk.Terms[k][:rows*p.N]
			}
			blk.Aux = blk.Aux[:rows*blk.Residual.NumAux()]
			blk.Weights = blk.Weights[:rows]
		}
		for _, c := range []bool{false, true} {
			var buf bytes.Buffer
			if err := EncodeProblem(&buf, p, c); err != nil {
				f.Fatal(err)
			}
			f.Add(buf.Bytes())
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		lim := npz.Limits{MaxArrayBytes: 1 << 20, MaxTotalBytes: 4 << 20, MaxArrays: 256}
		p, err := DecodeProblem(data, lim)
		if err != nil {
			return
		}
		var buf bytes.Buffer
		if err := EncodeProblem(&buf, p, false); err != nil {
			t.Fatalf("decoded problem does not encode: %v", err)
		}
		if _, err := DecodeProblem(buf.Bytes(), lim); err != nil {
			t.Fatalf("re-encoded problem does not decode: %v", err)
		}
	})
}

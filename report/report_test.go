package report

import (
	"bytes"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/hcmoe/hcmoe/mesh"
	"github.com/hcmoe/hcmoe/npz"
)

func TestOutputs(t *testing.T) {
	g, err := mesh.NewGrid(mesh.Axis{Min: 0, Max: 1, N: 21}, mesh.Axis{Min: 0, Max: 2, N: 41})
	if err != nil {
		t.Fatal(err)
	}
	u := make([]float64, g.Size())
	idx := make([]int, 2)
	for p := range u {
		g.Coords(p, idx)
		u[p] = math.Exp(-g.Axes[0].Point(idx[0])) * math.Sin(math.Pi*g.Axes[1].Point(idx[1]))
	}
	dir := t.TempDir()
	png1 := filepath.Join(dir, "u.png")
	if err := HeatMap(png1, "u", g, u); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(png1)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("not a PNG: %v", err)
	}
	if b := img.Bounds(); b.Dx() < 300 || b.Dy() < 200 {
		t.Fatalf("image %v too small", b)
	}
	sol := filepath.Join(dir, "solution.npz")
	if err := WriteSolution(sol, g, u, u); err != nil {
		t.Fatal(err)
	}
	arr, err := npz.ReadFile(sol, npz.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	for name, shape := range map[string][]int{"u": {21, 41}, "u_ref": {21, 41}, "t": {21}, "x": {41}} {
		a, ok := arr[name]
		if !ok || len(a.Shape) != len(shape) || a.Shape[0] != shape[0] {
			t.Fatalf("%s: %+v", name, a)
		}
	}
	if err := WriteJSON(filepath.Join(dir, "m.json"), map[string]Number{"a": Number(math.NaN()), "b": 1.5}); err != nil {
		t.Fatal(err)
	}
	js, _ := os.ReadFile(filepath.Join(dir, "m.json"))
	if !bytes.Contains(js, []byte(`"a": null`)) || !bytes.Contains(js, []byte(`"b": 1.5`)) {
		t.Fatalf("json: %s", js)
	}
	if err := HeatMap(filepath.Join(dir, "x.png"), "x", g, u[:10]); err == nil {
		t.Fatal("a field of the wrong length was plotted")
	}
	if os.Getenv("HCMOE_KEEP_PNG") != "" {
		os.WriteFile(os.Getenv("HCMOE_KEEP_PNG"), data, 0o644)
	}
}

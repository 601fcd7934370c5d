// Package report writes what a run leaves for its user: metrics as JSON,
// solution fields as .npz files numpy reads, and heat maps as PNG.
// Every file is written atomically (temporary file, fsync, rename), so an
// interrupted run never leaves a file that looks complete.
package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/palette/moreland"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"github.com/hcmoe/hcmoe/mesh"
	"github.com/hcmoe/hcmoe/npz"
)

// WriteFile writes data to path atomically.
func WriteFile(path string, data []byte) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	tmp := f.Name()
	_, werr := f.Write(data)
	if werr == nil {
		werr = f.Sync()
	}
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Chmod(tmp, 0o644)
	}
	if werr == nil {
		werr = os.Rename(tmp, path)
	}
	if werr != nil {
		os.Remove(tmp)
		return fmt.Errorf("report: writing %s: %w", path, werr)
	}
	return nil
}

// WriteJSON writes v as indented JSON. Non-finite floats are not valid JSON;
// callers map them to null (see Number).
func WriteJSON(path string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("report: %s: %w", path, err)
	}
	return WriteFile(path, append(data, '\n'))
}

// Number is a float64 that encodes NaN and ±Inf as JSON null.
type Number float64

func (n Number) MarshalJSON() ([]byte, error) {
	f := float64(n)
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return []byte("null"), nil
	}
	return json.Marshal(f)
}

// WriteSolution writes solution.npz: u, u_ref when known, and the axes named
// t, x (and y), each field shaped like the grid.
func WriteSolution(path string, g mesh.Grid, u, uref []float64) error {
	names := []string{"t", "x", "y"}
	return npz.WriteFile(path, true, func(w *npz.Writer) error {
		if err := w.Float64("u", g.Shape(), u); err != nil {
			return err
		}
		if uref != nil {
			if err := w.Float64("u_ref", g.Shape(), uref); err != nil {
				return err
			}
		}
		for i, ax := range g.Axes {
			pts := ax.Points()
			if err := w.Float64(names[i], []int{len(pts)}, pts); err != nil {
				return err
			}
		}
		return nil
	})
}

// field is a 2-D slice of a grid field as plotter.GridXYZ: columns along
// the second axis shown (x), rows along the first (t), so time runs up.
type field struct {
	xs, ys []float64
	z      func(c, r int) float64
}

func (f field) Dims() (int, int)   { return len(f.xs), len(f.ys) }
func (f field) Z(c, r int) float64 { return f.z(c, r) }
func (f field) X(c int) float64    { return f.xs[c] }
func (f field) Y(r int) float64    { return f.ys[r] }

// HeatMap writes a PNG heat map of a field on a (t, x) grid, or of the last
// time slice of a (t, x, y) grid.
func HeatMap(path, title string, g mesh.Grid, u []float64) error {
	if len(u) != g.Size() {
		return fmt.Errorf("report: heat map %s: %d values for a grid of %d points", path, len(u), g.Size())
	}
	var f field
	var xl, yl string
	switch g.Dims() {
	case 2:
		nx := g.Axes[1].N
		f = field{xs: g.Axes[1].Points(), ys: g.Axes[0].Points(), z: func(c, r int) float64 { return u[r*nx+c] }}
		xl, yl = "x", "t"
	case 3:
		nx, ny := g.Axes[1].N, g.Axes[2].N
		last := (g.Axes[0].N - 1) * nx * ny
		f = field{xs: g.Axes[1].Points(), ys: g.Axes[2].Points(), z: func(c, r int) float64 { return u[last+c*ny+r] }}
		xl, yl = "x", "y"
		title += fmt.Sprintf(" (t = %g)", g.Axes[0].Max)
	default:
		return fmt.Errorf("report: heat map of a %d-axis grid", g.Dims())
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, v := range u {
		if !math.IsNaN(v) && !math.IsInf(v, 0) {
			lo, hi = math.Min(lo, v), math.Max(hi, v)
		}
	}
	if !(lo < hi) {
		lo, hi = lo-0.5, lo+0.5
		if math.IsInf(lo, 0) {
			lo, hi = -1, 1
		}
	}
	pal := moreland.SmoothBlueRed()
	pal.SetMin(lo)
	pal.SetMax(hi)
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text, p.Y.Label.Text = xl, yl
	hm := plotter.NewHeatMap(f, pal.Palette(255))
	hm.Min, hm.Max = lo, hi
	p.Add(hm)

	// A colour bar beside the map.
	bar := plot.New()
	bar.Add(&plotter.ColorBar{ColorMap: pal, Vertical: true})
	bar.HideX()

	img := vgimg.New(7*vg.Inch, 5*vg.Inch)
	dc := draw.New(img)
	left := draw.Crop(dc, 0, -1.2*vg.Inch, 0, 0)
	right := draw.Crop(dc, 5.9*vg.Inch, 0, 0, 0)
	p.Draw(left)
	bar.Draw(right)
	var buf bytes.Buffer
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(&buf); err != nil {
		return fmt.Errorf("report: %s: %w", path, err)
	}
	return WriteFile(path, buf.Bytes())
}

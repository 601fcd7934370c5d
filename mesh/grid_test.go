package mesh

import (
	"math"
	"strings"
	"testing"
)

func TestAxis(t *testing.T) {
	t.Parallel()
	for _, test := range []struct {
		name       string
		ax         Axis
		wantStep   float64
		wantPoints []float64
	}{
		{"closed", Axis{Min: 0, Max: 1, N: 5}, 0.25, []float64{0, 0.25, 0.5, 0.75, 1}},
		{"periodic", Axis{Min: 0, Max: 1, N: 4, Periodic: true}, 0.25, []float64{0, 0.25, 0.5, 0.75}},
		{"shifted", Axis{Min: -1, Max: 2, N: 4}, 1, []float64{-1, 0, 1, 2}},
		{"two points", Axis{Min: 3, Max: 5, N: 2}, 2, []float64{3, 5}},
	} {
		if err := test.ax.Validate(); err != nil {
			t.Errorf("%s: unexpected error: %v", test.name, err)
		}
		if got := test.ax.Step(); got != test.wantStep {
			t.Errorf("%s: Step() = %v, want %v", test.name, got, test.wantStep)
		}
		got := test.ax.Points()
		for i := range test.wantPoints {
			// The chosen bounds and steps are dyadic, so the points are exact.
			if got[i] != test.wantPoints[i] {
				t.Errorf("%s: Points() = %v, want %v", test.name, got, test.wantPoints)
				break
			}
		}
	}

	// The last point of a closed axis is Max exactly even when the step is
	// not representable.
	ax := Axis{Min: 0.1, Max: 0.7, N: 7}
	if got := ax.Point(ax.N - 1); got != ax.Max {
		t.Errorf("last point = %v, want Max = %v exactly", got, ax.Max)
	}
}

func TestAxisValidate(t *testing.T) {
	t.Parallel()
	for _, test := range []struct {
		ax   Axis
		want string
	}{
		{Axis{Min: 0, Max: 1, N: 1}, "at least 2"},
		{Axis{Min: 0, Max: 1, N: 0, Periodic: true}, "at least 2"},
		{Axis{Min: 1, Max: 1, N: 5}, "Min < Max"},
		{Axis{Min: 2, Max: 1, N: 5}, "Min < Max"},
		{Axis{Min: math.NaN(), Max: 1, N: 5}, "not finite"},
		{Axis{Min: 0, Max: math.Inf(1), N: 5}, "not finite"},
	} {
		err := test.ax.Validate()
		if err == nil || !strings.Contains(err.Error(), test.want) {
			t.Errorf("%+v: Validate() = %v, want error containing %q", test.ax, err, test.want)
		}
	}
}

func TestNewGridErrors(t *testing.T) {
	t.Parallel()
	good := Axis{Min: 0, Max: 1, N: 4}
	for _, test := range []struct {
		name string
		axes []Axis
		want string
	}{
		{"no axes", nil, "no axes"},
		{"bad x", []Axis{good, {Min: 0, Max: 1, N: 1}}, "axis 1 (x)"},
		{"bad y", []Axis{good, good, {Min: 1, Max: 0, N: 4}}, "axis 2 (y)"},
		{"periodic time", []Axis{{Min: 0, Max: 1, N: 4, Periodic: true}, good}, "cannot be periodic"},
	} {
		_, err := NewGrid(test.axes...)
		if err == nil || !strings.Contains(err.Error(), test.want) {
			t.Errorf("%s: NewGrid error = %v, want error containing %q", test.name, err, test.want)
		}
	}
}

func TestGridIndexing(t *testing.T) {
	t.Parallel()
	g, err := NewGrid(
		Axis{Min: 0, Max: 1, N: 3},
		Axis{Min: -1, Max: 1, N: 4, Periodic: true},
		Axis{Min: 0, Max: 2, N: 5},
	)
	if err != nil {
		t.Fatal(err)
	}
	if g.Dims() != 3 || g.Size() != 60 {
		t.Fatalf("Dims, Size = %d, %d, want 3, 60", g.Dims(), g.Size())
	}
	if got, want := g.Strides(), []int{20, 5, 1}; !equalInts(got, want) {
		t.Errorf("Strides() = %v, want %v", got, want)
	}
	if got, want := g.Shape(), []int{3, 4, 5}; !equalInts(got, want) {
		t.Errorf("Shape() = %v, want %v", got, want)
	}
	idx := make([]int, 3)
	p := make([]float64, 3)
	flat := 0
	// Enumerating in nested-loop order checks that flat indices are
	// row-major with the last axis fastest.
	for i := 0; i < 3; i++ {
		for j := 0; j < 4; j++ {
			for k := 0; k < 5; k++ {
				want := []int{i, j, k}
				if got := g.Index(want); got != flat {
					t.Fatalf("Index(%v) = %d, want %d", want, got, flat)
				}
				g.Coords(flat, idx)
				if !equalInts(idx, want) {
					t.Fatalf("Coords(%d) = %v, want %v", flat, idx, want)
				}
				g.Point(flat, p)
				wantP := []float64{g.Axes[0].Point(i), g.Axes[1].Point(j), g.Axes[2].Point(k)}
				for a := range p {
					if p[a] != wantP[a] {
						t.Fatalf("Point(%d) = %v, want %v", flat, p, wantP)
					}
				}
				flat++
			}
		}
	}
}

func TestGridIndexPanics(t *testing.T) {
	t.Parallel()
	g, err := NewGrid(Axis{Min: 0, Max: 1, N: 3}, Axis{Min: 0, Max: 1, N: 4})
	if err != nil {
		t.Fatal(err)
	}
	for _, test := range []struct {
		name string
		f    func()
	}{
		{"Index short", func() { g.Index([]int{1}) }},
		{"Index range", func() { g.Index([]int{1, 4}) }},
		{"Coords range", func() { g.Coords(12, make([]int, 2)) }},
		{"Point length", func() { g.Point(0, make([]float64, 3)) }},
	} {
		if !panics(test.f) {
			t.Errorf("%s: did not panic", test.name)
		}
	}
}

func panics(f func()) (ok bool) {
	defer func() { ok = recover() != nil }()
	f()
	return false
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

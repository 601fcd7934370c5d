package config

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/hcmoe/hcmoe/constraint"
	"github.com/hcmoe/hcmoe/mesh"
)

// doc joins lines into a YAML document, so that line i+1 of the file is
// lines[i] and the expected line numbers can be read off the test table.
func doc(lines ...string) string { return strings.Join(lines, "\n") + "\n" }

// minimal is the smallest valid configuration: lines 1–5.
var minimal = []string{
	"pde: {name: heat}",
	"mesh:",
	"  t: {min: 0, max: 1, n: 11}",
	"  x: {min: 0, max: 1, n: 33}",
	"basis: {degrees: [4, 8]}",
}

// withMinimal appends lines to the minimal configuration; the first of them
// is line 6.
func withMinimal(lines ...string) string {
	return doc(append(append([]string(nil), minimal...), lines...)...)
}

func mustParse(t *testing.T, data string) *Config {
	t.Helper()
	c, err := Parse([]byte(data), "test.yaml")
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return c
}

func TestMinimalDefaults(t *testing.T) {
	c := mustParse(t, doc(minimal...))
	want := &Config{
		Seed: 1,
		PDE: PDE{
			Name:   "heat",
			Params: map[string]float64{"kappa": 0.1},
			IC:     IC{Kind: "sine", Amplitude: 1, K: 1},
		},
		Mesh: Mesh{
			T: Axis{Min: 0, Max: 1, N: 11},
			X: Axis{Min: 0, Max: 1, N: 33},
		},
		Experts: Experts{
			Split:        []int{1, 1},
			Points:       20000,
			ICBC:         "local",
			Coupling:     "none",
			Overlap:      0,
			Sweeps:       20,
			InterfaceTol: 1e-6,
		},
		Solver: Solver{ResidualWeight: 1,
			Method:   "auto",
			Tol:      1e-10,
			StepTol:  1e-12,
			CostTol:  1e-14,
			MaxIter:  100,
			Ridge:    0,
			Model:    "hybrid",
			Krylov:   Krylov{Method: "cg", Tol: 1e-12, MaxIter: 0},
			Backward: "exact",
		},
		Basis:       Basis{Kind: "chebyshev", Degrees: []int{4, 8}},
		Derivatives: "fd2",
		Transport: Transport{
			NATSURL:      "",
			LocalExperts: 1,
			Compression:  "zstd",
			Timeout:      30 * time.Second,
			Retries:      3,
		},
		Output: Output{Dir: "out"},
		Train:  defaults().Train,
	}
	c.src = nil
	if !reflect.DeepEqual(c, want) {
		t.Errorf("minimal config:\n got %+v\nwant %+v", c, want)
	}

	s := c.SolverSettings()
	wantS := constraint.Settings{
		Method: constraint.Auto, GradTol: 1e-10, StepTol: 1e-12, CostTol: 1e-14, MaxIter: 100,
		Model:  constraint.Hybrid,
		Krylov: constraint.KrylovSettings{Method: constraint.CG, Tol: 1e-12},
	}
	if !reflect.DeepEqual(s, wantS) {
		t.Errorf("SolverSettings = %+v, want %+v", s, wantS)
	}
	if b := c.BackwardSettings(); b != (constraint.BackwardSettings{Hessian: constraint.Exact, Method: constraint.Auto}) {
		t.Errorf("BackwardSettings = %+v", b)
	}
	if sc, err := c.Scheme(); err != nil || sc != mesh.FD2 {
		t.Errorf("Scheme = %v, %v, want fd2", sc, err)
	}
	if n := c.NumExperts(); n != 1 {
		t.Errorf("NumExperts = %d, want 1", n)
	}
}

// full sets every key to a value other than its default.
var full = doc(
	"seed: 7",
	"pde:",
	"  name: heat",
	"  params: {kappa: 0.25}",
	"  ic: {kind: sine, amplitude: 2.5, k: 3}",
	"mesh:",
	"  t: {min: 0, max: 2, n: 21}",
	"  x: {min: -1, max: 1, n: 65, periodic: false}",
	"experts:",
	"  split: [2, 4]",
	"  points: 5000",
	"  ic_bc: replicate",
	"  coupling: schwarz",
	"  overlap: 2",
	"  sweeps: 7",
	"  interface_tol: 1e-5",
	"solver:",
	"  method: krylov",
	"  tol: 1e-8",
	"  step_tol: 1e-9",
	"  cost_tol: 0",
	"  max_iter: 50",
	"  ridge: 1e-6",
	"  model: newton",
	"  krylov: {method: lsqr, tol: 1e-10, max_iter: 400}",
	"  backward: gauss-newton",
	"basis:",
	"  kind: chebyshev",
	"  degrees: [6, 12]",
	"derivatives: fd4",
	"transport:",
	"  nats_url: nats://localhost:4222",
	"  local_experts: 3",
	"  compression: s2",
	"  timeout: 1m30s",
	"  retries: 5",
	"  max_payload: 8388608",
	"output: {dir: results/heat}",
)

func TestFullConfig(t *testing.T) {
	c := mustParse(t, full)
	want := &Config{
		Seed: 7,
		PDE: PDE{
			Name:   "heat",
			Params: map[string]float64{"kappa": 0.25},
			IC:     IC{Kind: "sine", Amplitude: 2.5, K: 3},
		},
		Mesh: Mesh{
			T: Axis{Min: 0, Max: 2, N: 21},
			X: Axis{Min: -1, Max: 1, N: 65},
		},
		Experts: Experts{
			Split: []int{2, 4}, Points: 5000, ICBC: "replicate", Coupling: "schwarz",
			Overlap: 2, Sweeps: 7, InterfaceTol: 1e-5,
		},
		Solver: Solver{ResidualWeight: 1,
			Method: "krylov", Tol: 1e-8, StepTol: 1e-9, CostTol: 0, MaxIter: 50, Ridge: 1e-6,
			Model: "newton", Krylov: Krylov{Method: "lsqr", Tol: 1e-10, MaxIter: 400}, Backward: "gauss-newton",
		},
		Basis:       Basis{Kind: "chebyshev", Degrees: []int{6, 12}},
		Derivatives: "fd4",
		Transport: Transport{
			NATSURL: "nats://localhost:4222", LocalExperts: 3, Compression: "s2",
			Timeout: 90 * time.Second, Retries: 5, MaxPayload: 8 << 20,
		},
		Output: Output{Dir: "results/heat"},
		Train:  defaults().Train,
	}
	got := *c
	got.src = nil
	if !reflect.DeepEqual(&got, want) {
		t.Fatalf("full config:\n got %+v\nwant %+v", &got, want)
	}

	s := c.SolverSettings()
	wantS := constraint.Settings{
		Method: constraint.Krylov, GradTol: 1e-8, StepTol: 1e-9,
		// A configured 0 turns the test off; 0 in Settings would mean the default.
		CostTol: math.SmallestNonzeroFloat64,
		MaxIter: 50,
		Model:   constraint.Newton,
		Krylov:  constraint.KrylovSettings{Method: constraint.LSQR, Tol: 1e-10, MaxIter: 400},
	}
	if !reflect.DeepEqual(s, wantS) {
		t.Errorf("SolverSettings = %+v, want %+v", s, wantS)
	}
	if b := c.BackwardSettings(); b != (constraint.BackwardSettings{Hessian: constraint.GaussNewton, Method: constraint.Krylov}) {
		t.Errorf("BackwardSettings = %+v", b)
	}
	if sc, err := c.Scheme(); err != nil || sc != mesh.FD4 {
		t.Errorf("Scheme = %v, %v, want fd4", sc, err)
	}
	g, err := c.Grid()
	if err != nil {
		t.Fatalf("Grid: %v", err)
	}
	if !reflect.DeepEqual(g.Axes, []mesh.Axis{{Min: 0, Max: 2, N: 21}, {Min: -1, Max: 1, N: 65}}) {
		t.Errorf("Grid axes = %+v", g.Axes)
	}
	eq, err := c.Equation()
	if err != nil || eq.Name() != "heat" || eq.Params()["kappa"] != 0.25 {
		t.Errorf("Equation = %v (params %v), %v", eq, eq.Params(), err)
	}
	p, err := c.Partition()
	if err != nil || len(p.Blocks) != 8 || c.NumExperts() != 8 {
		t.Errorf("Partition: %d blocks, NumExperts %d, err %v; want 8", len(p.Blocks), c.NumExperts(), err)
	}

	// The yaml tags and the parser agree: the marshalled config parses back
	// to the same values.
	out, err := yaml.Marshal(c)
	if err != nil {
		t.Fatalf("Marshal: %v", err)
	}
	back, err := Parse(out, "marshalled.yaml")
	if err != nil {
		t.Fatalf("Parse(Marshal(full)): %v\n%s", err, out)
	}
	back.src = nil
	if !reflect.DeepEqual(back, want) {
		t.Errorf("round trip:\n got %+v\nwant %+v\n%s", back, want, out)
	}
}

func TestKinds(t *testing.T) {
	mesh1D := []string{"mesh:", "  t: {min: 0, max: 1, n: 11}", "  x: {min: 0, max: 1, n: 33}"}
	cfg := func(lines ...string) string { return doc(append(append([]string(nil), mesh1D...), lines...)...) }

	t.Run("random-features", func(t *testing.T) {
		c := mustParse(t, cfg("seed: 42", "pde: {name: burgers}", "basis: {kind: random-features, features: 200}"))
		want := Basis{Kind: "random-features", Features: 200, Scale: 1, Seed: 42}
		if !reflect.DeepEqual(c.Basis, want) {
			t.Errorf("basis = %+v, want %+v (scale 1 and the run's seed by default)", c.Basis, want)
		}
		if c.PDE.IC != (IC{Kind: "sine"}) {
			t.Errorf("burgers ic = %+v, want kind sine only", c.PDE.IC)
		}
		c = mustParse(t, cfg("pde: {name: allen-cahn, params: {epsilon: 0.05}}", "basis: {kind: random-features, features: 10, scale: 3, seed: 0}"))
		if c.Basis.Seed != 0 || c.Basis.Scale != 3 || c.PDE.Params["epsilon"] != 0.05 {
			t.Errorf("explicit random-features = %+v, params %v", c.Basis, c.PDE.Params)
		}
	})

	t.Run("pod and Load", func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "ds.yaml")
		data := cfg("pde: {name: diffusion-sorption, ic: {kind: constant, c: 0.1}}", "basis: {kind: pod, data: snapshots.npz, n: 16}")
		if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
		c, err := Load(path)
		if err != nil {
			t.Fatalf("Load: %v", err)
		}
		if c.Basis.Data != filepath.Join(dir, "snapshots.npz") || c.Basis.N != 16 {
			t.Errorf("pod basis = %+v, want data relative to the config file", c.Basis)
		}
		if v, err := c.InitialConstant(); err != nil || v != 0.1 {
			t.Errorf("InitialConstant = %v, %v, want 0.1", v, err)
		}
		if len(c.PDE.Params) != 6 || c.PDE.Params["porosity"] != 0.29 {
			t.Errorf("diffusion-sorption params not filled in: %v", c.PDE.Params)
		}
		if _, err := Load(filepath.Join(dir, "missing.yaml")); err == nil || !errors.Is(err, os.ErrNotExist) {
			t.Errorf("Load of a missing file: %v, want a not-exist error", err)
		}
	})

	t.Run("constant drawn by gen", func(t *testing.T) {
		c := mustParse(t, cfg("pde: {name: diffusion-sorption}", "basis: {degrees: [3, 3]}"))
		if c.PDE.IC != (IC{Kind: "constant"}) {
			t.Errorf("ic = %+v, want constant with c unset", c.PDE.IC)
		}
		_, err := c.InitialConstant()
		checkError(t, err, "test.yaml", 4, "pde.ic.c", "not set")
		c = mustParse(t, cfg("pde: {name: heat}", "basis: {degrees: [3, 3]}"))
		_, err = c.InitialConstant()
		checkError(t, err, "test.yaml", 4, "pde.ic.kind", `"sine" has no constant value`)
	})

	t.Run("spectral", func(t *testing.T) {
		c := mustParse(t, cfg("pde: {name: heat}", "basis: {degrees: [3, 3]}", "derivatives: spectral"))
		_, err := c.Scheme()
		checkError(t, err, "test.yaml", 6, "derivatives", "spectral is not implemented yet")
	})

	t.Run("aliases and null sections", func(t *testing.T) {
		c := mustParse(t, doc(
			"pde: {name: heat}",
			"mesh:",
			"  t: &unit {min: 0, max: 1, n: 9}",
			"  x: *unit",
			"basis: {degrees: [2, 2]}",
			"solver:",
			"experts: {points: 2e4}",
		))
		if c.Mesh.X != (Axis{Min: 0, Max: 1, N: 9}) || c.Solver.Method != "auto" || c.Experts.Points != 20000 {
			t.Errorf("aliases/null section/2e4: mesh.x %+v, solver %+v, points %d", c.Mesh.X, c.Solver, c.Experts.Points)
		}
	})
}

func TestValidateAfterChange(t *testing.T) {
	c := mustParse(t, doc(minimal...))
	c.Experts.Overlap = -1
	checkError(t, c.Validate(), "test.yaml", 0, "experts.overlap", "must be ≥ 0, got -1")

	c = mustParse(t, doc(minimal...))
	c.Mesh.X.N = 2
	checkError(t, c.Validate(), "test.yaml", 4, "mesh.x.n", "must be ≥ 3, got 2")

	// A Config built in code has no source: errors name the key only.
	var zero Config
	err := zero.Validate()
	if err == nil || err.Error() != `pde.name: unknown equation "" (known: allen-cahn, burgers, diffusion-sorption, heat, navier-stokes-2d)` {
		t.Errorf("Validate of the zero Config: %v", err)
	}
}

// checkError checks that err is an *Error at file:line and path, and that
// its message starts "file:line: path: " and contains msg.
func checkError(t *testing.T, err error, file string, line int, path, msg string) {
	t.Helper()
	if err == nil {
		t.Errorf("no error, want %s:%d: %s: …%s…", file, line, path, msg)
		return
	}
	var e *Error
	if !errors.As(err, &e) {
		t.Errorf("error %q (%T) is not an *Error", err, err)
		return
	}
	if e.File != file || e.Line != line || e.Path != path {
		t.Errorf("error %q at %s:%d path %q, want %s:%d path %q", err, e.File, e.Line, e.Path, file, line, path)
	}
	prefix := file
	if line > 0 {
		prefix += ":" + strconv.Itoa(line)
	}
	prefix += ": "
	if path != "" {
		prefix += path + ": "
	}
	if s := err.Error(); !strings.HasPrefix(s, prefix) || !strings.Contains(s[len(prefix):], msg) {
		t.Errorf("error %q, want prefix %q and %q", s, prefix, msg)
	}
}

func TestMalformed(t *testing.T) {
	for _, test := range []struct {
		name string
		data string
		line int
		path string
		msg  string
	}{
		{"empty file", "", 0, "", "empty configuration"},
		{"comments only", "# nothing\n", 0, "", "empty configuration"},
		{"top level sequence", "- pde\n- mesh\n", 1, "", "top level must be a mapping, got a sequence"},
		{"top level scalar", "heat\n", 1, "", `top level must be a mapping, got string "heat"`},
		{"syntax error", doc("pde: {name: heat", "mesh: x"), 1, "", "invalid YAML"},
		{"two documents", doc(minimal...) + "---\nseed: 2\n", 6, "", "more than one YAML document"},

		{"unknown top-level key", withMinimal("seeds: 3"), 6, "seeds",
			"unknown key (known: seed, pde, mesh, experts, solver, basis, derivatives, transport, output, train)"},
		{"unknown nested key", withMinimal("experts:", "  split: [1, 1]", "  overlapp: 1"), 8, "experts.overlapp",
			"unknown key (known: split, points, ic_bc, coupling, overlap, sweeps, interface_tol)"},
		{"unknown deep key", withMinimal("solver:", "  krylov: {method: cg, tolerance: 1e-9}"), 7, "solver.krylov.tolerance",
			"unknown key (known: method, tol, max_iter)"},
		{"unknown axis key", doc("pde: {name: heat}", "mesh:", "  t: {min: 0, max: 1, n: 11}", "  x: {min: 0, max: 1, n: 33, periodc: true}", "basis: {degrees: [4, 8]}"),
			4, "mesh.x.periodc", "unknown key (known: min, max, n, periodic)"},
		{"duplicate top-level key", withMinimal("seed: 1", "seed: 2"), 7, "seed", "duplicate key (first at line 6)"},
		{"duplicate nested key", doc("pde: {name: heat}", "mesh:", "  t: {min: 0, max: 1, n: 11}", "  x:", "    min: 0", "    max: 1", "    n: 33", "    n: 65", "basis: {degrees: [4, 8]}"),
			8, "mesh.x.n", "duplicate key (first at line 7)"},
		{"duplicate pde param", doc("pde: {name: heat, params: {kappa: 1, kappa: 2}}", "mesh:", "  t: {min: 0, max: 1, n: 11}", "  x: {min: 0, max: 1, n: 33}", "basis: {degrees: [4, 8]}"),
			1, "pde.params.kappa", "duplicate key"},
		{"missing pde", doc(minimal[1:]...), 0, "pde", "required key missing"},
		{"missing axis n", doc("pde: {name: heat}", "mesh:", "  t: {min: 0, max: 1, n: 11}", "  x: {min: 0, max: 1}", "basis: {degrees: [4, 8]}"),
			4, "mesh.x.n", "required key missing"},
		{"missing pde name", doc("pde:", "  params: {kappa: 1}", "mesh:", "  t: {min: 0, max: 1, n: 11}", "  x: {min: 0, max: 1, n: 33}", "basis: {degrees: [4, 8]}"),
			1, "pde.name", "required key missing"},
		{"misspelt pde name", doc("pde: {nme: heat}", "mesh: {}"), 1, "pde.nme", "unknown key (known: name, params, ic)"},
		{"missing chebyshev degrees", doc("pde: {name: heat}", "mesh:", "  t: {min: 0, max: 1, n: 11}", "  x: {min: 0, max: 1, n: 33}", "basis: {kind: chebyshev}"),
			5, "basis.degrees", "required key missing"},
		{"pod without n", doc("pde: {name: heat}", "mesh:", "  t: {min: 0, max: 1, n: 11}", "  x: {min: 0, max: 1, n: 33}", "basis: {kind: pod, data: s.npz}"),
			5, "basis.n", "required key missing"},

		{"string for integer", doc("pde: {name: heat}", "mesh:", "  t: {min: 0, max: 1, n: 11}", "  x: {min: 0, max: 1, n: ten}", "basis: {degrees: [4, 8]}"),
			4, "mesh.x.n", `want an integer, got string "ten"`},
		{"fraction for integer", withMinimal("experts: {points: 2.5}"), 6, "experts.points", "want an integer, got number 2.5"},
		{"quoted number", withMinimal("solver: {tol: \"1e-6\"}"), 6, "solver.tol", `want a number, got string "1e-6"`},
		{"null value", withMinimal("solver:", "  tol:"), 7, "solver.tol", "want a number, got null"},
		{"scalar for section", withMinimal("experts: 4"), 6, "experts", "want a mapping, got integer 4"},
		{"number for string", withMinimal("derivatives: 4"), 6, "derivatives", "want a string, got integer 4"},
		{"yes for boolean", doc("pde: {name: heat}", "mesh:", "  t: {min: 0, max: 1, n: 11}", "  x: {min: 0, max: 1, n: 33, periodic: yes}", "basis: {degrees: [4, 8]}"),
			4, "mesh.x.periodic", `want true or false, got string "yes"`},
		{"split element type", withMinimal("experts:", "  split:", "    - 1", "    - two"), 9, "experts.split[1]", `want an integer, got string "two"`},
		{"negative seed", withMinimal("seed: -1"), 6, "seed", "must be ≥ 0, got -1"},

		{"unknown pde", doc("pde:", "  name: wave", "mesh: {}"), 2, "pde.name", `unknown equation "wave" (known: allen-cahn, burgers, diffusion-sorption, heat, navier-stokes-2d)`},
		{"grf length scale", doc("pde:", "  name: navier-stokes-2d", "  ic: {kind: grf, length_scale: 0}", "mesh:",
			"  t: {min: 0, max: 1, n: 5}", "  x: {min: 0, max: 1, n: 8, periodic: true}", "  y: {min: 0, max: 1, n: 8, periodic: true}",
			"basis: {kind: chebyshev, degrees: [2, 2, 2]}"), 3, "pde.ic.length_scale", "must be positive"},
		{"unknown pde param", doc("pde:", "  name: heat", "  params:", "    kappa2: 1", "mesh:", "  t: {min: 0, max: 1, n: 11}", "  x: {min: 0, max: 1, n: 33}", "basis: {degrees: [4, 8]}"),
			4, "pde.params.kappa2", "unknown parameter of heat (known: kappa)"},
		{"bad pde param value", doc("pde:", "  name: burgers", "  params:", "    nu: -0.1", "mesh:", "  t: {min: 0, max: 1, n: 11}", "  x: {min: 0, max: 1, n: 33}", "basis: {degrees: [4, 8]}"),
			4, "pde.params.nu", `parameter "nu" must be positive, got -0.1`},
		{"nan pde param", doc("pde:", "  name: diffusion-sorption", "  params:", "    D: 1e-4", "    porosity: .nan", "mesh:", "  t: {min: 0, max: 1, n: 11}", "  x: {min: 0, max: 1, n: 33}", "basis: {degrees: [4, 8]}"),
			5, "pde.params.porosity", "must be finite, got NaN"},
		{"ic field not valid for kind", doc("pde:", "  name: burgers", "  ic:", "    kind: sine", "    amplitude: 2", "mesh: {}"),
			5, "pde.ic.amplitude", `not valid for the burgers initial condition "sine" (valid: kind)`},
		{"ic c for heat", doc("pde: {name: heat, ic: {c: 0.1}}", "mesh: {}"), 1, "pde.ic.c", `not valid for the heat initial condition "sine" (valid: kind, amplitude, k)`},
		{"ic unknown key", doc("pde: {name: heat, ic: {phase: 1}}", "mesh: {}"), 1, "pde.ic.phase", "unknown key (known: kind, amplitude, k)"},
		{"ic unknown kind", doc("pde:", "  name: heat", "  ic: {kind: gaussian}", "mesh: {}"), 3, "pde.ic.kind", `unknown kind "gaussian" for heat (known: sine)`},
		{"ic infinite c", doc("pde: {name: diffusion-sorption, ic: {c: .inf}}", "mesh:", "  t: {min: 0, max: 1, n: 11}", "  x: {min: 0, max: 1, n: 33}", "basis: {degrees: [4, 8]}"),
			1, "pde.ic.c", "must be finite, got +Inf"},

		{"n too small", doc("pde: {name: heat}", "mesh:", "  t: {min: 0, max: 1, n: 11}", "  x: {min: 0, max: 1, n: 1}", "basis: {degrees: [4, 8]}"),
			4, "mesh.x.n", "must be ≥ 3, got 1"},
		{"min not below max", doc("pde: {name: heat}", "mesh:", "  t: {min: 1, max: 1, n: 11}", "  x: {min: 0, max: 1, n: 33}", "basis: {degrees: [4, 8]}"),
			3, "mesh.t.max", "must be > min = 1, got 1"},
		{"nan bound", doc("pde: {name: heat}", "mesh:", "  t: {min: 0, max: 1, n: 11}", "  x:", "    min: 0", "    max: .nan", "    n: 33", "basis: {degrees: [4, 8]}"),
			6, "mesh.x.max", "must be finite, got NaN"},
		{"y for a 1-D equation", doc("pde: {name: heat}", "mesh:", "  t: {min: 0, max: 1, n: 11}", "  x: {min: 0, max: 1, n: 33}", "  y: {min: 0, max: 1, n: 9}", "basis: {degrees: [4, 8]}"), 5, "mesh.y", "heat has 1 space dimension(s), axes t, x: remove y"},
		{"periodic time", doc("pde: {name: heat}", "mesh:", "  t: {min: 0, max: 1, n: 11, periodic: true}", "  x: {min: 0, max: 1, n: 33}", "basis: {degrees: [4, 8]}"),
			3, "mesh.t.periodic", "the time axis cannot be periodic"},
		{"periodic x with boundary conditions", doc("pde: {name: heat}", "mesh:", "  t: {min: 0, max: 1, n: 11}", "  x: {min: 0, max: 1, n: 33, periodic: true}", "basis: {degrees: [4, 8]}"),
			4, "mesh.x.periodic", "heat has boundary conditions on x"},
		{"too few points for fd4", doc("pde: {name: heat}", "mesh:", "  t: {min: 0, max: 1, n: 11}", "  x: {min: 0, max: 1, n: 5}", "basis: {degrees: [4, 8]}", "derivatives: fd4"),
			4, "mesh.x.n", "too few points for u_xx with derivatives fd4"},
		{"bad derivatives", withMinimal("derivatives: fd3"), 6, "derivatives", `unknown scheme "fd3" (want fd2, fd4 or spectral)`},

		{"split length mismatch", withMinimal("experts: {split: [2]}"), 6, "experts.split", "has 1 entries, want 2 (one per axis t, x)"},
		{"split larger than axis", withMinimal("experts:", "  split:", "    - 2", "    - 40"), 9, "experts.split[1]", "must be ≤ mesh.x.n = 33, got 40"},
		{"split zero", withMinimal("experts: {split: [0, 1]}"), 6, "experts.split[0]", "must be ≥ 1, got 0"},
		{"points zero", withMinimal("experts: {points: 0}"), 6, "experts.points", "must be ≥ 1, got 0"},
		{"negative overlap", withMinimal("experts:", "  overlap: -1"), 7, "experts.overlap", "must be ≥ 0, got -1"},
		{"schwarz with sweeps 0", withMinimal("experts:", "  coupling: schwarz", "  sweeps: 0"), 8, "experts.sweeps", "must be ≥ 1 with coupling schwarz, got 0"},
		{"bad coupling", withMinimal("experts: {coupling: mortar}"), 6, "experts.coupling", `unknown value "mortar" (want none or schwarz)`},
		{"bad ic_bc", withMinimal("experts: {ic_bc: global}"), 6, "experts.ic_bc", `unknown value "global" (want local or replicate)`},
		{"nan interface tol", withMinimal("experts: {interface_tol: .nan}"), 6, "experts.interface_tol", "must be finite, got NaN"},

		{"bad solver method", withMinimal("solver:", "  method: fast"), 7, "solver.method", `unknown method "fast" (want auto, dense, krylov)`},
		{"bad model", withMinimal("solver: {model: bfgs}"), 6, "solver.model", `unknown step model "bfgs"`},
		{"bad krylov method", withMinimal("solver:", "  krylov:", "    method: gmres"), 8, "solver.krylov.method", `unknown krylov method "gmres" (want cg, lsqr)`},
		{"bad backward", withMinimal("solver: {backward: newton}"), 6, "solver.backward", `unknown backward Hessian "newton"`},
		{"nan tolerance", withMinimal("solver: {tol: .nan}"), 6, "solver.tol", "must be finite, got NaN"},
		{"negative step tolerance", withMinimal("solver: {step_tol: -1e-9}"), 6, "solver.step_tol", "must be ≥ 0, got -1e-09"},
		{"negative ridge", withMinimal("solver: {ridge: -1}"), 6, "solver.ridge", "must be ≥ 0, got -1"},
		{"max_iter zero", withMinimal("solver: {max_iter: 0}"), 6, "solver.max_iter", "must be ≥ 1, got 0"},

		{"basis degrees mismatch", doc("pde: {name: heat}", "mesh:", "  t: {min: 0, max: 1, n: 11}", "  x: {min: 0, max: 1, n: 33}", "basis:", "  degrees: [4, 8, 8]"),
			6, "basis.degrees", "has 3 entries, want 2 (one per axis t, x)"},
		{"basis degree zero", doc("pde: {name: heat}", "mesh:", "  t: {min: 0, max: 1, n: 11}", "  x: {min: 0, max: 1, n: 33}", "basis:", "  degrees:", "    - 4", "    - 0"),
			8, "basis.degrees[1]", "must be ≥ 1, got 0"},
		{"basis kind mlp", doc("pde: {name: heat}", "mesh:", "  t: {min: 0, max: 1, n: 11}", "  x: {min: 0, max: 1, n: 33}", "basis:", "  kind: mlp"),
			6, "basis.kind", "mlp is not implemented yet"},
		{"basis kind fno", doc("pde: {name: heat}", "basis: {kind: fno}"), 2, "basis.kind", "fno is not implemented yet"},
		{"basis kind unknown", doc("pde: {name: heat}", "basis: {kind: fourier}"), 2, "basis.kind", `unknown kind "fourier"`},
		{"basis field not valid for kind", doc("pde: {name: heat}", "mesh:", "  t: {min: 0, max: 1, n: 11}", "  x: {min: 0, max: 1, n: 33}", "basis:", "  degrees: [4, 8]", "  features: 100"),
			7, "basis.features", `not valid for basis kind "chebyshev" (valid: kind, degrees)`},
		{"random-features scale zero", doc("pde: {name: heat}", "mesh:", "  t: {min: 0, max: 1, n: 11}", "  x: {min: 0, max: 1, n: 33}", "basis: {kind: random-features, features: 10, scale: 0}"),
			5, "basis.scale", "must be > 0, got 0"},

		{"bad duration number", withMinimal("transport:", "  timeout: 30"), 7, "transport.timeout", `want a duration such as "30s" or "1m30s", got integer 30`},
		{"bad duration string", withMinimal("transport: {timeout: thirty}"), 6, "transport.timeout", `got string "thirty"`},
		{"negative duration", withMinimal("transport: {timeout: -1s}"), 6, "transport.timeout", "must be > 0, got -1s"},
		{"bad compression", withMinimal("transport: {compression: gzip}"), 6, "transport.compression", `unknown value "gzip" (want zstd, s2 or none)`},
		{"negative retries", withMinimal("transport: {retries: -1}"), 6, "transport.retries", "must be ≥ 0, got -1"},
		{"negative local experts", withMinimal("transport: {local_experts: -2}"), 6, "transport.local_experts", "must be ≥ 0, got -2"},
		{"empty output dir", withMinimal("output: {dir: \"\"}"), 6, "output.dir", "must not be empty"},

		{"train steps", withMinimal("train:", "  steps: 0"), 7, "train.steps", "must be ≥ 1"},
		{"train bad optimizer", withMinimal("train:", "  data: d.npz", "  optimizer: sgd"), 8, "train.optimizer", "sgd"},
		{"train bad loss", withMinimal("train:", "  data: d.npz", "  loss: l1"), 8, "train.loss", "l1"},
		{"data section", withMinimal("data: {count: 10}"), 6, "data", "not supported yet"},
	} {
		t.Run(test.name, func(t *testing.T) {
			c, err := Parse([]byte(test.data), "bad.yaml")
			if err == nil {
				t.Fatalf("no error; parsed %+v", c)
			}
			checkError(t, err, "bad.yaml", test.line, test.path, test.msg)
		})
	}
}

// TestConfigsDir loads every configuration shipped with the repository.
func TestConfigsDir(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "configs", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Skip("no configs/*.yaml yet")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			if _, err := Load(f); err != nil {
				t.Error(err)
			}
		})
	}
}

// FuzzParse checks that Parse never panics and that a configuration it
// accepts can be turned into library values.
func FuzzParse(f *testing.F) {
	f.Add([]byte(full))
	f.Add([]byte(doc(minimal...)))
	f.Add([]byte("pde: &a {name: heat, ic: *a}\n"))
	f.Add([]byte("? [a]\n: 1\n"))
	f.Add([]byte("<<: {seed: 1}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data, "fuzz.yaml")
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %q is not an *Error", err)
			}
			return
		}
		_ = c.SolverSettings()
		_ = c.BackwardSettings()
		if _, err := c.Grid(); err != nil {
			t.Fatalf("Grid of a valid config: %v", err)
		}
		if _, err := c.Equation(); err != nil {
			t.Fatalf("Equation of a valid config: %v", err)
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("Validate of a parsed config: %v", err)
		}
	})
}

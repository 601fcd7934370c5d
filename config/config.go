package config

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/hcmoe/hcmoe/constraint"
	"github.com/hcmoe/hcmoe/mesh"
	"github.com/hcmoe/hcmoe/pde"
)

// Config is a parsed and validated configuration. The yaml tags give the key
// of each field; see the package documentation for defaults and meaning.
type Config struct {
	Seed        uint64    `yaml:"seed"`
	PDE         PDE       `yaml:"pde"`
	Mesh        Mesh      `yaml:"mesh"`
	Experts     Experts   `yaml:"experts"`
	Solver      Solver    `yaml:"solver"`
	Basis       Basis     `yaml:"basis"`
	Derivatives string    `yaml:"derivatives"`
	Transport   Transport `yaml:"transport"`
	Output      Output    `yaml:"output"`
	Train       Train     `yaml:"train"`

	// src locates keys for messages of errors found after parsing. It is
	// nil for a Config built in code, whose errors then carry no line.
	src *source
}

// PDE selects the equation, its parameters and its initial condition.
type PDE struct {
	Name string `yaml:"name"`
	// Params holds every parameter of the equation; Parse fills in the
	// defaults of those not given.
	Params map[string]float64 `yaml:"params,omitempty"`
	IC     IC                 `yaml:"ic"`
}

// IC is an initial condition. Which fields apply depends on the equation and
// Kind; the others are zero.
type IC struct {
	Kind string `yaml:"kind"`
	// Amplitude and K describe heat's u0 = Amplitude·sin(K·π·x).
	Amplitude float64 `yaml:"amplitude,omitempty"`
	K         float64 `yaml:"k,omitempty"`
	// C is diffusion-sorption's constant u0. Nil means unset: data
	// generation then draws one per instance.
	C *float64 `yaml:"c,omitempty"`
	// LengthScale of the periodic kernel of a grf initial vorticity
	// (navier-stokes-2d); default 0.8, the paper's.
	LengthScale float64 `yaml:"length_scale,omitempty"`
}

// Mesh holds the grid axes in the order t, x, y.
type Mesh struct {
	T Axis `yaml:"t"`
	X Axis `yaml:"x"`
	// Y is the second space axis, nil for equations in one space dimension.
	Y *Axis `yaml:"y,omitempty"`
}

// Axis is one grid axis, with the meaning of mesh.Axis.
type Axis struct {
	Min      float64 `yaml:"min"`
	Max      float64 `yaml:"max"`
	N        int     `yaml:"n"`
	Periodic bool    `yaml:"periodic,omitempty"`
}

// Experts describes how the grid is split among experts and how they are
// coupled.
type Experts struct {
	// Split is the number of experts along each axis (t, x[, y]).
	Split        []int   `yaml:"split,flow"`
	Points       int     `yaml:"points"`
	ICBC         string  `yaml:"ic_bc"`
	Coupling     string  `yaml:"coupling"`
	Overlap      int     `yaml:"overlap"`
	Sweeps       int     `yaml:"sweeps"`
	InterfaceTol float64 `yaml:"interface_tol"`
}

// Solver configures each expert's constrained least-squares solve and its
// implicit backward.
type Solver struct {
	Method  string  `yaml:"method"`
	Tol     float64 `yaml:"tol"`
	StepTol float64 `yaml:"step_tol"`
	CostTol float64 `yaml:"cost_tol"`
	MaxIter int     `yaml:"max_iter"`
	Ridge   float64 `yaml:"ridge"`
	// ResidualWeight scales the interior PDE rows of every expert and the
	// residual term of the training loss; 1 by default. Use the time scale
	// when the residual is in physical units (diffusion-sorption: 500).
	ResidualWeight float64 `yaml:"residual_weight"`
	Model          string  `yaml:"model"`
	Krylov         Krylov  `yaml:"krylov"`
	Backward       string  `yaml:"backward"`
}

// Krylov configures the inner solves of the Krylov path.
type Krylov struct {
	Method string  `yaml:"method"`
	Tol    float64 `yaml:"tol"`
	// MaxIter is 0 for the library default of 10·N.
	MaxIter int `yaml:"max_iter"`
}

// Basis selects the basis functions the experts combine. Which fields apply
// depends on Kind; the others are zero.
type Basis struct {
	Kind string `yaml:"kind"`
	// Degrees (chebyshev) is the polynomial degree along each axis.
	Degrees []int `yaml:"degrees,flow,omitempty"`
	// Features, Scale and Seed (random-features).
	Features int     `yaml:"features,omitempty"`
	Scale    float64 `yaml:"scale,omitempty"`
	Seed     uint64  `yaml:"seed,omitempty"`
	// Data and N (pod) name the snapshot file and the number of modes.
	Data string `yaml:"data,omitempty"`
	N    int    `yaml:"n,omitempty"`
}

// Transport configures the messaging between the coordinator and the
// experts.
type Transport struct {
	NATSURL      string        `yaml:"nats_url"`
	LocalExperts int           `yaml:"local_experts"`
	Compression  string        `yaml:"compression"`
	Timeout      time.Duration `yaml:"timeout"`
	Retries      int           `yaml:"retries"`
	// MaxPayload is 0 for the server's limit.
	MaxPayload int64 `yaml:"max_payload,omitempty"`
}

// Train configures `coordinator train` and `eval`.
type Train struct {
	Mode    string  `yaml:"mode"`    // hard (PI-HC, PI-HC-MoE) or soft (PI-SC)
	Network Network `yaml:"network"` // the basis network
	Data    string  `yaml:"data"`    // training set written by gen
	Test    string  `yaml:"test"`    // test set for eval
	// Init is a checkpoint whose parameters start the run (optimizer and
	// step start afresh): PI-HC-MoE fine-tuned from a PI-HC run.
	Init            string  `yaml:"init"`
	Steps           int     `yaml:"steps"`     // optimizer steps
	Batch           int     `yaml:"batch"`     // instances per step
	Optimizer       string  `yaml:"optimizer"` // adam, adamw or lion
	LR              float64 `yaml:"lr"`
	Schedule        string  `yaml:"schedule"` // constant, step, exponential or linear
	DecayEvery      int     `yaml:"decay_every"`
	DecayFactor     float64 `yaml:"decay_factor"`
	FinalLR         float64 `yaml:"final_lr"` // floor of step, end of exponential and linear
	Warmup          int     `yaml:"warmup"`
	Clip            float64 `yaml:"clip"` // global gradient norm; 0 turns clipping off
	WeightDecay     float64 `yaml:"weight_decay"`
	CheckpointEvery int     `yaml:"checkpoint_every"`
	Unconverged     string  `yaml:"unconverged"` // skip or fail
	// Loss is how the residual, initial and boundary terms add up:
	// "squares" (their mean squares) or "norms" (their root mean
	// squares, as the paper's code sums norms).
	Loss string `yaml:"loss"`
}

// Network configures the basis network.
type Network struct {
	Kind       string `yaml:"kind"`   // mlp or fno
	Hidden     []int  `yaml:"hidden"` // mlp: widths of the hidden layers
	Width      int    `yaml:"width"`  // fno
	Layers     int    `yaml:"layers"` // fno: Fourier layers
	Modes      []int  `yaml:"modes"`  // fno: kept frequencies per axis
	Projection int    `yaml:"projection"`
	Out        int    `yaml:"out"` // basis functions N (hard mode; soft outputs u)
}

// Output says where results are written.
type Output struct {
	Dir string `yaml:"dir"`
}

// Error is a configuration error located in its source.
type Error struct {
	File string // the name given to Parse or the path given to Load; empty for a Config built in code
	Line int    // 1-based line of the offending key; 0 when unknown
	Path string // dotted key path, such as "mesh.x.n" or "experts.split[1]"; empty for the whole document
	Err  error
}

// Error formats e as "file:line: path: cause", leaving out the parts that
// are unknown.
func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		if e.Line > 0 {
			b.WriteString(":")
			b.WriteString(strconv.Itoa(e.Line))
		}
		b.WriteString(": ")
	}
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Err.Error())
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// source records where a configuration was read from.
type source struct {
	name string
	// lines maps the dotted path of every key given (and of every sequence
	// element) to its line.
	lines map[string]int
}

// has reports whether path was given in the source.
func (s *source) has(path string) bool {
	if s == nil {
		return false
	}
	_, ok := s.lines[path]
	return ok
}

// errorf returns an *Error at path. A path that was not given, such as a
// missing key, is placed at the line of its nearest given ancestor.
func (s *source) errorf(path, format string, args ...any) error {
	return s.wrap(path, fmt.Errorf(format, args...))
}

func (s *source) wrap(path string, err error) error {
	e := &Error{Path: path, Err: err}
	if s == nil {
		return e
	}
	e.File = s.name
	for p := path; p != ""; p = parent(p) {
		if l, ok := s.lines[p]; ok {
			e.Line = l
			break
		}
	}
	return e
}

// parent strips the last component of a dotted path: "a.b[2]" → "a.b",
// "a.b" → "a", "a" → "".
func parent(path string) string {
	i := strings.LastIndexAny(path, ".[")
	if i < 0 {
		return ""
	}
	return path[:i]
}

// Load reads and parses the configuration file at path. A relative
// basis.data is taken relative to the directory of path, so that a
// configuration and its data can be moved together.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	c, err := Parse(data, path)
	if err != nil {
		return nil, err
	}
	for _, f := range []*string{&c.Train.Data, &c.Train.Test, &c.Train.Init} {
		if *f != "" && !filepath.IsAbs(*f) {
			*f = filepath.Join(filepath.Dir(path), *f)
		}
	}
	if c.Basis.Data != "" && !filepath.IsAbs(c.Basis.Data) {
		c.Basis.Data = filepath.Join(filepath.Dir(path), c.Basis.Data)
	}
	return c, nil
}

// Parse parses and validates the YAML configuration data. name identifies
// the data in error messages, usually its file name.
func Parse(data []byte, name string) (*Config, error) {
	src := &source{name: name, lines: make(map[string]int)}
	c := defaults()
	c.src = src
	if err := decode(c, data, src); err != nil {
		return nil, err
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	eq, err := c.Equation()
	if err != nil {
		return nil, err // not reached: Validate built the same equation
	}
	c.PDE.Params = eq.Params()
	return c, nil
}

// defaults returns the configuration of the defaults that do not depend on
// other keys. The others are filled in by decode once those keys are known.
func defaults() *Config {
	return &Config{
		Seed: 1,
		Experts: Experts{
			Points:       20000,
			ICBC:         "local",
			Coupling:     "none",
			Sweeps:       20,
			InterfaceTol: 1e-6,
		},
		Solver: Solver{
			Method:         "auto",
			Tol:            1e-10,
			StepTol:        1e-12,
			CostTol:        1e-14,
			MaxIter:        100,
			Model:          "hybrid",
			ResidualWeight: 1,
			Krylov:         Krylov{Method: "cg", Tol: 1e-12},
			Backward:       "exact",
		},
		Basis:       Basis{Kind: "chebyshev"},
		Derivatives: "fd2",
		Transport: Transport{
			Compression: "zstd",
			Timeout:     30 * time.Second,
			Retries:     3,
		},
		Output: Output{Dir: "out"},
		Train: Train{
			Mode:            "hard",
			Network:         Network{Kind: "mlp", Hidden: []int{32, 32}, Width: 32, Layers: 4, Modes: []int{8, 8}, Projection: 64, Out: 16},
			Steps:           100,
			Batch:           1,
			Optimizer:       "adam",
			LR:              1e-3,
			Schedule:        "step",
			DecayEvery:      800,
			DecayFactor:     0.5,
			FinalLR:         1e-4,
			Clip:            1,
			CheckpointEvery: 50,
			Unconverged:     "skip",
			Loss:            "squares",
		},
	}
}

// axes returns the configured axes in grid order with their key names.
func (c *Config) axes() []namedAxis {
	a := []namedAxis{{"t", c.Mesh.T}, {"x", c.Mesh.X}}
	if c.Mesh.Y != nil {
		a = append(a, namedAxis{"y", *c.Mesh.Y})
	}
	return a
}

type namedAxis struct {
	name string
	Axis
}

// Grid returns the grid of the mesh section.
func (c *Config) Grid() (mesh.Grid, error) {
	var axes []mesh.Axis
	for _, a := range c.axes() {
		axes = append(axes, mesh.Axis(a.Axis))
	}
	g, err := mesh.NewGrid(axes...)
	if err != nil {
		return mesh.Grid{}, c.src.wrap("mesh", err)
	}
	return g, nil
}

// Partition returns the split of the grid into one block per expert.
func (c *Config) Partition() (*mesh.Partition, error) {
	g, err := c.Grid()
	if err != nil {
		return nil, err
	}
	p, err := mesh.NewPartition(g, c.Experts.Split)
	if err != nil {
		return nil, c.src.wrap("experts.split", err)
	}
	return p, nil
}

// NumExperts returns the number of experts of the split, the product of its
// entries.
func (c *Config) NumExperts() int {
	n := 1
	for _, s := range c.Experts.Split {
		n *= s
	}
	return n
}

// Equation returns the equation of the pde section, built by package pde's
// default registry.
func (c *Config) Equation() (pde.Equation, error) {
	if err := checkPDEName(c.PDE.Name); err != nil {
		return nil, c.src.wrap("pde.name", err)
	}
	eq, err := pde.Default().New(c.PDE.Name, c.PDE.Params)
	if err != nil {
		return nil, c.src.wrap("pde.params", err)
	}
	return eq, nil
}

// InitialConstant returns the constant initial value c of a
// diffusion-sorption configuration. It is an error if the equation has no
// constant initial condition, or if c is unset: a solve needs one value,
// while data generation draws c per instance and does not call this.
func (c *Config) InitialConstant() (float64, error) {
	if c.PDE.IC.Kind != "constant" {
		return 0, c.src.errorf("pde.ic.kind", "%s initial condition %q has no constant value", c.PDE.Name, c.PDE.IC.Kind)
	}
	if c.PDE.IC.C == nil {
		return 0, c.src.errorf("pde.ic.c", "not set: a solve needs a fixed initial value (only gen draws one per instance)")
	}
	return *c.PDE.IC.C, nil
}

// Scheme returns the finite-difference scheme of the derivatives key. The
// spectral scheme is part of the schema but not implemented yet, and is an
// error here rather than in Parse so that configurations that do not take
// derivatives (data generation) still load.
func (c *Config) Scheme() (mesh.Scheme, error) {
	if c.Derivatives == "spectral" {
		return 0, c.src.errorf("derivatives", "spectral is not implemented yet")
	}
	s, err := mesh.ParseScheme(c.Derivatives)
	if err != nil || s.String() != c.Derivatives {
		// mesh accepts any case; the configuration, like every other enum
		// here, accepts only the lower-case names.
		return 0, c.src.errorf("derivatives", "unknown scheme %q (want fd2, fd4 or spectral)", c.Derivatives)
	}
	return s, nil
}

// SolverSettings returns the settings of the solver section for
// constraint.Solve. Damping, scaling and the dense-size threshold keep the
// library defaults. It panics if an enum name is invalid, which Validate
// reports as an error.
func (c *Config) SolverSettings() constraint.Settings {
	s := &c.Solver
	method, err := constraint.ParseMethod(s.Method)
	must(err)
	model, err := constraint.ParseModel(s.Model)
	must(err)
	inner, err := constraint.ParseInner(s.Krylov.Method)
	must(err)
	return constraint.Settings{
		Method:  method,
		GradTol: tolerance(s.Tol),
		StepTol: tolerance(s.StepTol),
		CostTol: tolerance(s.CostTol),
		MaxIter: s.MaxIter,
		Model:   model,
		Krylov: constraint.KrylovSettings{
			Method:  inner,
			Tol:     tolerance(s.Krylov.Tol),
			MaxIter: s.Krylov.MaxIter,
		},
	}
}

// BackwardSettings returns the settings of the implicit backward: the
// solver.backward Hessian and the forward's method. It panics if an enum
// name is invalid, which Validate reports as an error.
func (c *Config) BackwardSettings() constraint.BackwardSettings {
	h, err := constraint.ParseHessian(c.Solver.Backward)
	must(err)
	m, err := constraint.ParseMethod(c.Solver.Method)
	must(err)
	return constraint.BackwardSettings{Hessian: h, Method: m}
}

// tolerance maps a configured tolerance to a constraint setting. Zero there
// means "use the default", so a configured 0, which asks for the test to be
// off, becomes the smallest positive float: no iterate meets it.
func tolerance(v float64) float64 {
	if v == 0 {
		return math.SmallestNonzeroFloat64
	}
	return v
}

func must(err error) {
	if err != nil {
		panic(fmt.Sprintf("config: invalid Config (call Validate after changing it): %v", err))
	}
}

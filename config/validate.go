package config

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/hcmoe/hcmoe/constraint"
	"github.com/hcmoe/hcmoe/mesh"
	"github.com/hcmoe/hcmoe/pde"
)

// Validate checks the values of c: ranges, names of choices, and the
// agreement between sections (the axes an equation needs, the split and the
// basis degrees per axis, the grid points a derivative scheme needs). Parse
// calls it; call it again after changing a parsed Config. The first problem
// found is returned as an *Error.
func (c *Config) Validate() error {
	eq, err := c.validatePDE()
	if err != nil {
		return err
	}
	for _, check := range []func(pde.Equation) error{
		c.validateMesh,
		c.validateExperts,
		c.validateSolver,
		c.validateBasis,
		c.validateTransport,
		c.validateTrain,
	} {
		if err := check(eq); err != nil {
			return err
		}
	}
	if c.Output.Dir == "" {
		return c.src.errorf("output.dir", "must not be empty")
	}
	return nil
}

// checkPDEName reports whether name is an equation that can be built.
func checkPDEName(name string) error {
	reg := pde.Default()
	if _, ok := reg.Spec(name); !ok {
		return fmt.Errorf("unknown equation %q (known: %s)", name, strings.Join(reg.Names(), ", "))
	}
	return nil
}

// icKind is an initial-condition kind and the keys it takes besides kind.
type icKind struct {
	name string
	keys []string
}

// icKinds returns the initial-condition kinds of equation eq, the default
// first (DESIGN §4.2).
func icKinds(eq string) []icKind {
	switch eq {
	case "heat":
		return []icKind{{"sine", []string{"amplitude", "k"}}}
	case "burgers", "allen-cahn":
		return []icKind{{"sine", nil}}
	case "diffusion-sorption":
		return []icKind{{"constant", []string{"c"}}}
	case "navier-stokes-2d":
		return []icKind{{"grf", []string{"length_scale"}}, {"taylor-green", []string{"k"}}}
	}
	return nil
}

func checkICKind(eq, kind string) error {
	kinds := icKinds(eq)
	var names []string
	for _, k := range kinds {
		if k.name == kind {
			return nil
		}
		names = append(names, k.name)
	}
	if len(names) == 0 {
		return fmt.Errorf("no initial conditions are defined for %s", eq)
	}
	return fmt.Errorf("unknown kind %q for %s (known: %s)", kind, eq, strings.Join(names, ", "))
}

func checkBasisKind(kind string) error {
	switch kind {
	case "chebyshev", "random-features", "pod":
		return nil
	case "mlp", "fno":
		return fmt.Errorf("%s is not implemented yet", kind)
	}
	return fmt.Errorf("unknown kind %q (want chebyshev, random-features, pod, mlp or fno)", kind)
}

// validatePDE checks the pde section and returns its equation.
func (c *Config) validatePDE() (pde.Equation, error) {
	p := &c.PDE
	if err := checkPDEName(p.Name); err != nil {
		return nil, c.src.wrap("pde.name", err)
	}
	reg := pde.Default()
	spec, _ := reg.Spec(p.Name)
	var known []string
	for _, q := range spec.Params {
		known = append(known, q.Name)
	}
	// Each parameter is checked on its own first so that a value the
	// equation rejects is reported at its own key and line; the registry's
	// error names the parameter but not where it was written.
	names := make([]string, 0, len(p.Params))
	for name := range p.Params {
		names = append(names, name)
	}
	c.sortByLine("pde.params.", names)
	for _, name := range names {
		path, v := "pde.params."+name, p.Params[name]
		if !slices.Contains(known, name) {
			return nil, c.src.errorf(path, "unknown parameter of %s (known: %s)", p.Name, strings.Join(known, ", "))
		}
		if err := finite(v); err != nil {
			return nil, c.src.wrap(path, err)
		}
		if _, err := reg.New(p.Name, map[string]float64{name: v}); err != nil {
			return nil, c.src.wrap(path, err)
		}
	}
	eq, err := reg.New(p.Name, p.Params)
	if err != nil {
		return nil, c.src.wrap("pde.params", err)
	}

	if err := checkICKind(p.Name, p.IC.Kind); err != nil {
		return nil, c.src.wrap("pde.ic.kind", err)
	}
	for _, f := range []struct {
		key string
		v   float64
	}{{"amplitude", p.IC.Amplitude}, {"k", p.IC.K}, {"length_scale", p.IC.LengthScale}} {
		if err := finite(f.v); err != nil {
			return nil, c.src.wrap("pde.ic."+f.key, err)
		}
	}
	if p.IC.Kind == "grf" && !(p.IC.LengthScale > 0) {
		return nil, c.src.errorf("pde.ic.length_scale", "must be positive, got %v", p.IC.LengthScale)
	}
	if p.IC.Kind == "taylor-green" && (p.IC.K < 1 || p.IC.K != math.Trunc(p.IC.K)) {
		return nil, c.src.errorf("pde.ic.k", "must be a positive integer wavenumber, got %v", p.IC.K)
	}
	if p.IC.C != nil {
		if err := finite(*p.IC.C); err != nil {
			return nil, c.src.wrap("pde.ic.c", err)
		}
	}
	return eq, nil
}

// sortByLine sorts the keys under prefix into the order they were written,
// so that the first error reported is the first in the file.
func (c *Config) sortByLine(prefix string, keys []string) {
	slices.Sort(keys)
	if c.src == nil {
		return
	}
	slices.SortStableFunc(keys, func(a, b string) int {
		return c.src.lines[prefix+a] - c.src.lines[prefix+b]
	})
}

func (c *Config) validateMesh(eq pde.Equation) error {
	axes := c.axes()
	want := eq.SpaceDims() + 1
	switch {
	case len(axes) > want:
		return c.src.errorf("mesh.y", "%s has %d space dimension(s), axes %s: remove y", eq.Name(), eq.SpaceDims(), axisNames(want))
	case len(axes) < want:
		return c.src.errorf("mesh.y", "required: %s has %d space dimensions, axes %s", eq.Name(), eq.SpaceDims(), axisNames(want))
	}
	for i, a := range axes {
		p := "mesh." + a.name
		if err := finite(a.Min); err != nil {
			return c.src.wrap(p+".min", err)
		}
		if err := finite(a.Max); err != nil {
			return c.src.wrap(p+".max", err)
		}
		if !(a.Min < a.Max) {
			return c.src.errorf(p+".max", "must be > min = %v, got %v", a.Min, a.Max)
		}
		if a.N < 3 {
			return c.src.errorf(p+".n", "must be ≥ 3, got %d", a.N)
		}
		if i == 0 {
			if a.Periodic {
				return c.src.errorf(p+".periodic", "the time axis cannot be periodic")
			}
			continue
		}
		// Equation.Boundary reports no condition exactly on periodic axes,
		// so the axis kind must agree with it.
		_, bc := eq.Boundary(i, pde.Lower)
		switch {
		case bc && a.Periodic:
			return c.src.errorf(p+".periodic", "%s has boundary conditions on %s, which a periodic axis does not have", eq.Name(), a.name)
		case !bc && !a.Periodic:
			return c.src.errorf(p+".periodic", "%s needs a periodic %s axis", eq.Name(), a.name)
		}
	}
	g, err := c.Grid()
	if err != nil {
		return err
	}

	switch c.Derivatives {
	case "fd2", "fd4":
	case "spectral":
		return nil // Scheme reports that it is not implemented yet
	default:
		return c.src.errorf("derivatives", "unknown scheme %q (want fd2, fd4 or spectral)", c.Derivatives)
	}
	scheme, err := c.Scheme()
	if err != nil {
		return err
	}
	// The fewest points an axis needs depends on the scheme and on the
	// derivatives the equation takes. Building the operators asks package
	// mesh rather than repeating its stencil widths here. They are built on a
	// probe grid whose axes are cut to at most probeN points, because the
	// cost grows with the axis length while every stencil fits in far fewer:
	// the check is exact for axes up to probeN and passes beyond.
	const probeN = 64
	probe := mesh.Grid{Axes: slices.Clone(g.Axes)}
	for i := range probe.Axes {
		probe.Axes[i].N = min(probe.Axes[i].N, probeN)
	}
	terms := eq.Interior().Terms()
	for a := 1; a < g.Dims(); a++ {
		for _, side := range []pde.Side{pde.Lower, pde.Upper} {
			if cond, ok := eq.Boundary(a, side); ok {
				terms = append(terms, cond.Residual.Terms()...)
			}
		}
	}
	for _, t := range terms {
		axis, order, ok := derivative(t)
		if !ok || axis >= g.Dims() {
			continue
		}
		if _, err := mesh.Derivative(probe, axis, order, scheme); err != nil {
			return c.src.wrap("mesh."+axes[axis].name+".n", fmt.Errorf("too few points for %s with derivatives %s: %w", t, scheme, err))
		}
	}
	return nil
}

// derivative returns the axis and order of the derivative that term t
// takes: "u_xx" is order 2 along x. ok is false for u itself and for terms
// not of that form.
func derivative(t pde.Term) (axis, order int, ok bool) {
	s, found := strings.CutPrefix(string(t), "u_")
	if !found || s == "" || strings.Count(s, s[:1]) != len(s) {
		return 0, 0, false
	}
	axis = strings.Index("txy", s[:1])
	if axis < 0 {
		return 0, 0, false
	}
	return axis, len(s), true
}

func (c *Config) validateExperts(pde.Equation) error {
	e := &c.Experts
	axes := c.axes()
	if len(e.Split) != len(axes) {
		return c.src.errorf("experts.split", "has %d entries, want %d (one per axis %s)", len(e.Split), len(axes), axisNames(len(axes)))
	}
	for i, s := range e.Split {
		p := fmt.Sprintf("experts.split[%d]", i)
		if s < 1 {
			return c.src.errorf(p, "must be ≥ 1, got %d", s)
		}
		if s > axes[i].N {
			return c.src.errorf(p, "must be ≤ mesh.%s.n = %d, got %d", axes[i].name, axes[i].N, s)
		}
	}
	if e.Points < 1 {
		return c.src.errorf("experts.points", "must be ≥ 1, got %d", e.Points)
	}
	if err := oneOf(e.ICBC, "local", "replicate"); err != nil {
		return c.src.wrap("experts.ic_bc", err)
	}
	if err := oneOf(e.Coupling, "none", "schwarz"); err != nil {
		return c.src.wrap("experts.coupling", err)
	}
	if e.Overlap < 0 {
		return c.src.errorf("experts.overlap", "must be ≥ 0, got %d", e.Overlap)
	}
	if e.Coupling == "schwarz" && e.Sweeps < 1 {
		return c.src.errorf("experts.sweeps", "must be ≥ 1 with coupling schwarz, got %d", e.Sweeps)
	}
	if e.Sweeps < 0 {
		return c.src.errorf("experts.sweeps", "must be ≥ 0, got %d", e.Sweeps)
	}
	return c.nonNegative("experts.interface_tol", e.InterfaceTol)
}

func (c *Config) validateSolver(pde.Equation) error {
	s := &c.Solver
	if _, err := constraint.ParseMethod(s.Method); err != nil {
		return c.src.wrap("solver.method", err)
	}
	for _, f := range []struct {
		path string
		v    float64
	}{{"solver.tol", s.Tol}, {"solver.step_tol", s.StepTol}, {"solver.cost_tol", s.CostTol}} {
		if err := c.nonNegative(f.path, f.v); err != nil {
			return err
		}
	}
	if s.MaxIter < 1 {
		return c.src.errorf("solver.max_iter", "must be ≥ 1, got %d", s.MaxIter)
	}
	if err := finite(s.ResidualWeight); err != nil || !(s.ResidualWeight > 0) {
		return c.src.errorf("solver.residual_weight", "must be a positive number, got %v", s.ResidualWeight)
	}
	if err := c.nonNegative("solver.ridge", s.Ridge); err != nil {
		return err
	}
	if _, err := constraint.ParseModel(s.Model); err != nil {
		return c.src.wrap("solver.model", err)
	}
	if _, err := constraint.ParseInner(s.Krylov.Method); err != nil {
		return c.src.wrap("solver.krylov.method", err)
	}
	if err := c.nonNegative("solver.krylov.tol", s.Krylov.Tol); err != nil {
		return err
	}
	if s.Krylov.MaxIter < 0 {
		return c.src.errorf("solver.krylov.max_iter", "must be ≥ 0, got %d", s.Krylov.MaxIter)
	}
	if _, err := constraint.ParseHessian(s.Backward); err != nil {
		return c.src.wrap("solver.backward", err)
	}
	return nil
}

func (c *Config) validateBasis(pde.Equation) error {
	b := &c.Basis
	if err := checkBasisKind(b.Kind); err != nil {
		return c.src.wrap("basis.kind", err)
	}
	switch b.Kind {
	case "chebyshev":
		axes := len(c.axes())
		if len(b.Degrees) != axes {
			return c.src.errorf("basis.degrees", "has %d entries, want %d (one per axis %s)", len(b.Degrees), axes, axisNames(axes))
		}
		for i, deg := range b.Degrees {
			if deg < 1 {
				return c.src.errorf(fmt.Sprintf("basis.degrees[%d]", i), "must be ≥ 1, got %d", deg)
			}
		}
	case "random-features":
		if b.Features < 1 {
			return c.src.errorf("basis.features", "must be ≥ 1, got %d", b.Features)
		}
		if err := finite(b.Scale); err != nil {
			return c.src.wrap("basis.scale", err)
		}
		if !(b.Scale > 0) {
			return c.src.errorf("basis.scale", "must be > 0, got %v", b.Scale)
		}
	case "pod":
		if b.Data == "" {
			return c.src.errorf("basis.data", "must name a snapshot file")
		}
		if b.N < 1 {
			return c.src.errorf("basis.n", "must be ≥ 1, got %d", b.N)
		}
	}
	return nil
}

func (c *Config) validateTrain(pde.Equation) error {
	t := &c.Train
	if !c.src.has("train") {
		return nil
	}
	for _, e := range []struct {
		path, v string
		opts    []string
	}{
		{"train.mode", t.Mode, []string{"hard", "soft"}},
		{"train.network.kind", t.Network.Kind, []string{"mlp", "fno"}},
		{"train.optimizer", t.Optimizer, []string{"adam", "adamw", "lion"}},
		{"train.schedule", t.Schedule, []string{"constant", "step", "exponential", "linear"}},
		{"train.unconverged", t.Unconverged, []string{"skip", "fail"}},
		{"train.loss", t.Loss, []string{"squares", "norms"}},
	} {
		if err := oneOf(e.v, e.opts...); err != nil {
			return c.src.wrap(e.path, err)
		}
	}
	for _, e := range []struct {
		path string
		v    int
		min  int
	}{{"train.steps", t.Steps, 1}, {"train.batch", t.Batch, 1}, {"train.decay_every", t.DecayEvery, 1},
		{"train.warmup", t.Warmup, 0}, {"train.checkpoint_every", t.CheckpointEvery, 1},
		{"train.network.width", t.Network.Width, 1}, {"train.network.layers", t.Network.Layers, 1},
		{"train.network.projection", t.Network.Projection, 1}, {"train.network.out", t.Network.Out, 1}} {
		if e.v < e.min {
			return c.src.errorf(e.path, "must be ≥ %d, got %d", e.min, e.v)
		}
	}
	for _, e := range []struct {
		path string
		v    float64
	}{{"train.lr", t.LR}, {"train.final_lr", t.FinalLR}, {"train.decay_factor", t.DecayFactor}, {"train.clip", t.Clip}, {"train.weight_decay", t.WeightDecay}} {
		if err := c.nonNegative(e.path, e.v); err != nil {
			return err
		}
	}
	if !(t.LR > 0) {
		return c.src.errorf("train.lr", "must be positive, got %v", t.LR)
	}
	for i, h := range t.Network.Hidden {
		if h < 1 {
			return c.src.errorf("train.network.hidden", "width %d is %d, want ≥ 1", i, h)
		}
	}
	if t.Network.Kind == "fno" && len(t.Network.Modes) != len(c.axes()) {
		return c.src.errorf("train.network.modes", "%d modes for %d axes", len(t.Network.Modes), len(c.axes()))
	}
	return nil
}

func (c *Config) validateTransport(pde.Equation) error {
	t := &c.Transport
	if t.LocalExperts < 0 {
		return c.src.errorf("transport.local_experts", "must be ≥ 0, got %d", t.LocalExperts)
	}
	if err := oneOf(t.Compression, "zstd", "s2", "none"); err != nil {
		return c.src.wrap("transport.compression", err)
	}
	if t.Timeout <= 0 {
		return c.src.errorf("transport.timeout", "must be > 0, got %v", t.Timeout)
	}
	if t.Retries < 0 {
		return c.src.errorf("transport.retries", "must be ≥ 0, got %d", t.Retries)
	}
	if t.MaxPayload < 0 {
		return c.src.errorf("transport.max_payload", "must be ≥ 0, got %d", t.MaxPayload)
	}
	return nil
}

func (c *Config) nonNegative(path string, v float64) error {
	if err := finite(v); err != nil {
		return c.src.wrap(path, err)
	}
	if v < 0 {
		return c.src.errorf(path, "must be ≥ 0, got %v", v)
	}
	return nil
}

func finite(v float64) error {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return fmt.Errorf("must be finite, got %v", v)
	}
	return nil
}

func oneOf(v string, options ...string) error {
	if slices.Contains(options, v) {
		return nil
	}
	return fmt.Errorf("unknown value %q (want %s or %s)", v, strings.Join(options[:len(options)-1], ", "), options[len(options)-1])
}

// axisNames lists the first n axis names: "t, x" or "t, x, y".
func axisNames(n int) string {
	return strings.Join([]string{"t", "x", "y"}[:min(n, 3)], ", ")
}

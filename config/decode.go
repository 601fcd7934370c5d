package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// The document is decoded to a yaml.Node tree and walked by hand rather than
// unmarshalled into the structs: only the tree knows the line of every key,
// and the yaml package neither reports duplicate keys of a Node nor lets the
// keys valid in a section depend on its kind (ic.kind, basis.kind).
//
// The walk checks the structure: unknown, duplicate and missing keys, value
// types and the kinds that select keys. Validate checks the values after it.

// decoder walks one document and records where each key stands in src.
type decoder struct {
	src *source
}

// decodeFunc decodes the value n of the key at path.
type decodeFunc func(path string, n *yaml.Node) error

// field is one known key of a mapping.
type field struct {
	key      string
	required bool
	// hidden keeps a reserved key out of the list of known keys in messages,
	// where it would only suggest a key that is rejected.
	hidden bool
	decode decodeFunc
}

// pair is one key and value of a mapping, with the key's dotted path.
type pair struct {
	key, path string
	k, v      *yaml.Node
}

// decode fills c, which holds the defaults, from the YAML document data.
func decode(c *Config, data []byte, src *source) error {
	d := &decoder{src: src}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return &Error{File: src.name, Err: errors.New("empty configuration")}
		}
		return d.syntax(err)
	}
	var next yaml.Node
	if err := dec.Decode(&next); !errors.Is(err, io.EOF) {
		if err != nil {
			return d.syntax(err)
		}
		return &Error{File: src.name, Line: next.Line, Err: errors.New("more than one YAML document; want one")}
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = resolve(root.Content[0])
	}
	if root.Kind == yaml.ScalarNode && root.ShortTag() == "!!null" {
		return &Error{File: src.name, Err: errors.New("empty configuration")}
	}
	if root.Kind != yaml.MappingNode {
		return &Error{File: src.name, Line: root.Line, Err: fmt.Errorf("top level must be a mapping, got %s", describe(root))}
	}
	return d.top(c, root)
}

// syntax locates an error of the YAML parser, which reports the line inside
// its message as "yaml: line N: ...".
func (d *decoder) syntax(err error) error {
	e := &Error{File: d.src.name, Err: fmt.Errorf("invalid YAML: %w", err)}
	rest, ok := strings.CutPrefix(err.Error(), "yaml: line ")
	if !ok {
		return e
	}
	num, msg, ok := strings.Cut(rest, ": ")
	if line, perr := strconv.Atoi(num); ok && perr == nil {
		e.Line = line
		e.Err = fmt.Errorf("invalid YAML: %s", msg)
	}
	return e
}

func (d *decoder) top(c *Config, n *yaml.Node) error {
	notSupported := func(path string, _ *yaml.Node) error {
		return d.src.errorf(path, "not supported yet")
	}
	err := d.mapping("", n, []field{
		{key: "seed", decode: d.seed(&c.Seed)},
		{key: "pde", required: true, decode: d.pde(c)},
		{key: "mesh", required: true, decode: d.mesh(&c.Mesh)},
		{key: "experts", decode: d.experts(&c.Experts)},
		{key: "solver", decode: d.solver(&c.Solver)},
		{key: "basis", required: true, decode: d.basis(&c.Basis)},
		{key: "derivatives", decode: d.str(&c.Derivatives)},
		{key: "transport", decode: d.transport(&c.Transport)},
		{key: "output", decode: d.mapper([]field{{key: "dir", decode: d.str(&c.Output.Dir)}})},
		{key: "train", decode: d.train(&c.Train)},
		{key: "data", hidden: true, decode: notSupported},
	}, nil)
	if err != nil {
		return err
	}

	// Defaults that depend on other keys, which may stand anywhere in the
	// document, are set once all of it is read.
	if !d.src.has("experts.split") {
		c.Experts.Split = make([]int, len(c.axes()))
		for i := range c.Experts.Split {
			c.Experts.Split[i] = 1
		}
	}
	if !d.src.has("transport.local_experts") {
		c.Transport.LocalExperts = c.NumExperts()
	}
	if c.Basis.Kind == "random-features" && !d.src.has("basis.seed") {
		c.Basis.Seed = c.Seed
	}
	return nil
}

func (d *decoder) pde(c *Config) decodeFunc {
	return func(path string, n *yaml.Node) error {
		// The keys valid under ic depend on the equation, so the name is
		// read and checked first, wherever it stands in the section.
		if err := d.discriminator(path, n, "name", &c.PDE.Name, checkPDEName); err != nil {
			return err
		}
		ic := d.ic(c)
		err := d.mapping(path, n, []field{
			{key: "name", required: true, decode: d.str(&c.PDE.Name)},
			{key: "params", decode: d.floatMap(&c.PDE.Params)},
			{key: "ic", decode: ic},
		}, nil)
		if err != nil {
			return err
		}
		if !d.src.has(path + ".ic") {
			return ic(path+".ic", nil)
		}
		return nil
	}
}

// ic decodes the initial condition of the equation c.PDE.Name, which has
// been checked. A nil n sets the defaults of the equation's first kind.
func (d *decoder) ic(c *Config) decodeFunc {
	return func(path string, n *yaml.Node) error {
		ic := &c.PDE.IC
		eq := c.PDE.Name
		if eq == "" {
			return nil // the pde mapping reports the missing name
		}
		if n != nil {
			check := func(kind string) error { return checkICKind(eq, kind) }
			if err := d.discriminator(path, n, "kind", &ic.Kind, check); err != nil {
				return err
			}
		}
		kinds := icKinds(eq)
		if ic.Kind == "" && len(kinds) > 0 {
			ic.Kind = kinds[0].name
		}
		var keys []string
		for _, k := range kinds {
			if k.name == ic.Kind {
				keys = k.keys
			}
		}
		fields := []field{{key: "kind", decode: d.str(&ic.Kind)}}
		for _, key := range keys {
			switch key {
			case "amplitude":
				ic.Amplitude = 1
				fields = append(fields, field{key: key, decode: d.float(&ic.Amplitude)})
			case "k":
				ic.K = 1
				fields = append(fields, field{key: key, decode: d.float(&ic.K)})
			case "c":
				fields = append(fields, field{key: key, decode: d.floatPtr(&ic.C)})
			case "length_scale":
				ic.LengthScale = 0.8
				fields = append(fields, field{key: key, decode: d.float(&ic.LengthScale)})
			}
		}
		if n == nil {
			return nil
		}
		misplaced := func(key string) error {
			switch key {
			case "amplitude", "k", "c", "length_scale":
				return fmt.Errorf("not valid for the %s initial condition %q (valid: %s)", eq, ic.Kind, fieldNames(fields))
			}
			return nil
		}
		return d.mapping(path, n, fields, misplaced)
	}
}

func (d *decoder) mesh(m *Mesh) decodeFunc {
	return d.mapper([]field{
		{key: "t", required: true, decode: d.axis(&m.T)},
		{key: "x", required: true, decode: d.axis(&m.X)},
		{key: "y", decode: func(path string, n *yaml.Node) error {
			m.Y = new(Axis)
			return d.axis(m.Y)(path, n)
		}},
	})
}

func (d *decoder) axis(a *Axis) decodeFunc {
	return d.mapper([]field{
		{key: "min", required: true, decode: d.float(&a.Min)},
		{key: "max", required: true, decode: d.float(&a.Max)},
		{key: "n", required: true, decode: d.int(&a.N)},
		{key: "periodic", decode: d.bool(&a.Periodic)},
	})
}

func (d *decoder) experts(e *Experts) decodeFunc {
	return d.mapper([]field{
		{key: "split", decode: d.ints(&e.Split)},
		{key: "points", decode: d.int(&e.Points)},
		{key: "ic_bc", decode: d.str(&e.ICBC)},
		{key: "coupling", decode: d.str(&e.Coupling)},
		{key: "overlap", decode: d.int(&e.Overlap)},
		{key: "sweeps", decode: d.int(&e.Sweeps)},
		{key: "interface_tol", decode: d.float(&e.InterfaceTol)},
	})
}

func (d *decoder) solver(s *Solver) decodeFunc {
	return d.mapper([]field{
		{key: "method", decode: d.str(&s.Method)},
		{key: "tol", decode: d.float(&s.Tol)},
		{key: "step_tol", decode: d.float(&s.StepTol)},
		{key: "cost_tol", decode: d.float(&s.CostTol)},
		{key: "max_iter", decode: d.int(&s.MaxIter)},
		{key: "ridge", decode: d.float(&s.Ridge)},
		{key: "residual_weight", decode: d.float(&s.ResidualWeight)},
		{key: "model", decode: d.str(&s.Model)},
		{key: "krylov", decode: d.mapper([]field{
			{key: "method", decode: d.str(&s.Krylov.Method)},
			{key: "tol", decode: d.float(&s.Krylov.Tol)},
			{key: "max_iter", decode: d.int(&s.Krylov.MaxIter)},
		})},
		{key: "backward", decode: d.str(&s.Backward)},
	})
}

func (d *decoder) basis(b *Basis) decodeFunc {
	return func(path string, n *yaml.Node) error {
		// As with ic, the kind selects the other keys.
		if err := d.discriminator(path, n, "kind", &b.Kind, checkBasisKind); err != nil {
			return err
		}
		fields := []field{{key: "kind", decode: d.str(&b.Kind)}}
		switch b.Kind {
		case "chebyshev":
			fields = append(fields, field{key: "degrees", required: true, decode: d.ints(&b.Degrees)})
		case "random-features":
			b.Scale = 1
			fields = append(fields,
				field{key: "features", required: true, decode: d.int(&b.Features)},
				field{key: "scale", decode: d.float(&b.Scale)},
				field{key: "seed", decode: d.seed(&b.Seed)})
		case "pod":
			fields = append(fields,
				field{key: "data", required: true, decode: d.str(&b.Data)},
				field{key: "n", required: true, decode: d.int(&b.N)})
		}
		misplaced := func(key string) error {
			switch key {
			case "degrees", "features", "scale", "seed", "data", "n":
				return fmt.Errorf("not valid for basis kind %q (valid: %s)", b.Kind, fieldNames(fields))
			}
			return nil
		}
		return d.mapping(path, n, fields, misplaced)
	}
}

func (d *decoder) train(t *Train) decodeFunc {
	return d.mapper([]field{
		{key: "mode", decode: d.str(&t.Mode)},
		{key: "network", decode: d.mapper([]field{
			{key: "kind", decode: d.str(&t.Network.Kind)},
			{key: "hidden", decode: d.ints(&t.Network.Hidden)},
			{key: "width", decode: d.int(&t.Network.Width)},
			{key: "layers", decode: d.int(&t.Network.Layers)},
			{key: "modes", decode: d.ints(&t.Network.Modes)},
			{key: "projection", decode: d.int(&t.Network.Projection)},
			{key: "out", decode: d.int(&t.Network.Out)},
		})},
		{key: "data", decode: d.str(&t.Data)},
		{key: "test", decode: d.str(&t.Test)},
		{key: "init", decode: d.str(&t.Init)},
		{key: "steps", decode: d.int(&t.Steps)},
		{key: "batch", decode: d.int(&t.Batch)},
		{key: "optimizer", decode: d.str(&t.Optimizer)},
		{key: "lr", decode: d.float(&t.LR)},
		{key: "schedule", decode: d.str(&t.Schedule)},
		{key: "decay_every", decode: d.int(&t.DecayEvery)},
		{key: "decay_factor", decode: d.float(&t.DecayFactor)},
		{key: "final_lr", decode: d.float(&t.FinalLR)},
		{key: "warmup", decode: d.int(&t.Warmup)},
		{key: "clip", decode: d.float(&t.Clip)},
		{key: "weight_decay", decode: d.float(&t.WeightDecay)},
		{key: "checkpoint_every", decode: d.int(&t.CheckpointEvery)},
		{key: "unconverged", decode: d.str(&t.Unconverged)},
		{key: "loss", decode: d.str(&t.Loss)},
	})
}

func (d *decoder) transport(t *Transport) decodeFunc {
	return d.mapper([]field{
		{key: "nats_url", decode: d.str(&t.NATSURL)},
		{key: "local_experts", decode: d.int(&t.LocalExperts)},
		{key: "compression", decode: d.str(&t.Compression)},
		{key: "timeout", decode: d.duration(&t.Timeout)},
		{key: "retries", decode: d.int(&t.Retries)},
		{key: "max_payload", decode: d.int64(&t.MaxPayload)},
	})
}

// mapper returns the decodeFunc of a mapping with the given fields.
func (d *decoder) mapper(fields []field) decodeFunc {
	return func(path string, n *yaml.Node) error {
		return d.mapping(path, n, fields, nil)
	}
}

// mapping decodes the mapping n at path: every key must be one of fields,
// given once, and every required field must be given. misplaced, when not
// nil, explains a key that is known but not valid here (it belongs to
// another kind); it returns nil for keys that are simply unknown.
//
// Keys are checked before any value and missing keys after all values, so
// that a misspelt key is reported as such rather than as the required key it
// was meant to be, and a section's own errors before a later section's
// absence.
func (d *decoder) mapping(path string, n *yaml.Node, fields []field, misplaced func(key string) error) error {
	pairs, err := d.pairs(path, n)
	if err != nil {
		return err
	}
	byKey := make(map[string]*field, len(fields))
	for i := range fields {
		byKey[fields[i].key] = &fields[i]
	}
	for _, p := range pairs {
		if byKey[p.key] != nil {
			continue
		}
		if misplaced != nil {
			if err := misplaced(p.key); err != nil {
				return d.src.wrap(p.path, err)
			}
		}
		return d.src.errorf(p.path, "unknown key (known: %s)", fieldNames(fields))
	}
	for _, p := range pairs {
		if err := byKey[p.key].decode(p.path, p.v); err != nil {
			return err
		}
	}
	for _, f := range fields {
		if p := join(path, f.key); f.required && !d.src.has(p) {
			return d.src.errorf(p, "required key missing")
		}
	}
	return nil
}

// pairs returns the entries of the mapping n at path after checking that
// its keys are strings given once, and records the line of each key. A null
// n is an empty mapping, so that a section whose keys are all commented out
// still means "defaults".
func (d *decoder) pairs(path string, n *yaml.Node) ([]pair, error) {
	n = resolve(n)
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		return nil, nil
	}
	if n.Kind != yaml.MappingNode {
		return nil, d.src.errorf(path, "want a mapping, got %s", describe(n))
	}
	pairs := make([]pair, 0, len(n.Content)/2)
	first := make(map[string]int, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := resolve(n.Content[i]), n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			return nil, &Error{File: d.src.name, Line: k.Line, Path: path, Err: fmt.Errorf("want string keys, got %s", describe(k))}
		}
		p := join(path, k.Value)
		if line, dup := first[k.Value]; dup {
			return nil, &Error{File: d.src.name, Line: k.Line, Path: p, Err: fmt.Errorf("duplicate key (first at line %d)", line)}
		}
		first[k.Value] = k.Line
		d.src.lines[p] = k.Line
		pairs = append(pairs, pair{key: k.Value, path: p, k: k, v: v})
	}
	return pairs, nil
}

// discriminator decodes the string under key of the mapping n, before the
// rest of n, and checks it with check. It does nothing if n is not a mapping
// or lacks key: the mapping walk reports both.
func (d *decoder) discriminator(path string, n *yaml.Node, key string, dst *string, check func(string) error) error {
	n = resolve(n)
	if n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := resolve(n.Content[i])
		if k.Kind != yaml.ScalarNode || k.Value != key {
			continue
		}
		p := join(path, key)
		d.src.lines[p] = k.Line
		if err := d.str(dst)(p, n.Content[i+1]); err != nil {
			return err
		}
		if err := check(*dst); err != nil {
			return d.src.wrap(p, err)
		}
		return nil
	}
	return nil
}

func (d *decoder) str(dst *string) decodeFunc {
	return func(path string, n *yaml.Node) error {
		n = resolve(n)
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!str" {
			return d.src.errorf(path, "want a string, got %s", describe(n))
		}
		*dst = n.Value
		return nil
	}
}

func (d *decoder) bool(dst *bool) decodeFunc {
	return func(path string, n *yaml.Node) error {
		n = resolve(n)
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" {
			return d.src.errorf(path, "want true or false, got %s", describe(n))
		}
		return n.Decode(dst)
	}
}

// number returns the value of a numeric scalar. Integers are numbers too,
// so that "tol: 1" means 1.0; .nan and .inf are returned for Validate to
// reject with the key's name.
func (d *decoder) number(path string, n *yaml.Node) (float64, error) {
	n = resolve(n)
	if n.Kind == yaml.ScalarNode && (n.ShortTag() == "!!float" || n.ShortTag() == "!!int") {
		var f float64
		if err := n.Decode(&f); err == nil {
			return f, nil
		}
	}
	return 0, d.src.errorf(path, "want a number, got %s", describe(n))
}

func (d *decoder) float(dst *float64) decodeFunc {
	return func(path string, n *yaml.Node) error {
		f, err := d.number(path, n)
		if err != nil {
			return err
		}
		*dst = f
		return nil
	}
}

func (d *decoder) floatPtr(dst **float64) decodeFunc {
	return func(path string, n *yaml.Node) error {
		f, err := d.number(path, n)
		if err != nil {
			return err
		}
		*dst = &f
		return nil
	}
}

// floatMap decodes a mapping of arbitrary names to numbers, such as
// pde.params, whose names Validate checks against the equation.
func (d *decoder) floatMap(dst *map[string]float64) decodeFunc {
	return func(path string, n *yaml.Node) error {
		pairs, err := d.pairs(path, n)
		if err != nil {
			return err
		}
		m := make(map[string]float64, len(pairs))
		for _, p := range pairs {
			f, err := d.number(p.path, p.v)
			if err != nil {
				return err
			}
			m[p.key] = f
		}
		*dst = m
		return nil
	}
}

// integer returns the value of an integer scalar. A float with an integral
// value, such as 2e4, is accepted: it is the natural way to write large
// counts.
func (d *decoder) integer(path string, n *yaml.Node) (int64, error) {
	n = resolve(n)
	if n.Kind == yaml.ScalarNode {
		switch n.ShortTag() {
		case "!!int":
			var v int64
			if err := n.Decode(&v); err != nil {
				return 0, d.src.errorf(path, "integer %s out of range", n.Value)
			}
			return v, nil
		case "!!float":
			var f float64
			// Beyond 2⁵³ a float no longer holds every integer, so the
			// value written may not be the value read.
			if err := n.Decode(&f); err == nil && f == math.Trunc(f) && math.Abs(f) <= 1<<53 {
				return int64(f), nil
			}
		}
	}
	return 0, d.src.errorf(path, "want an integer, got %s", describe(n))
}

func (d *decoder) int64(dst *int64) decodeFunc {
	return func(path string, n *yaml.Node) error {
		v, err := d.integer(path, n)
		if err != nil {
			return err
		}
		*dst = v
		return nil
	}
}

func (d *decoder) int(dst *int) decodeFunc {
	return func(path string, n *yaml.Node) error {
		v, err := d.integer(path, n)
		if err != nil {
			return err
		}
		if v != int64(int(v)) {
			return d.src.errorf(path, "integer %d out of range", v)
		}
		*dst = int(v)
		return nil
	}
}

func (d *decoder) seed(dst *uint64) decodeFunc {
	return func(path string, n *yaml.Node) error {
		v, err := d.integer(path, n)
		if err != nil {
			return err
		}
		if v < 0 {
			return d.src.errorf(path, "must be ≥ 0, got %d", v)
		}
		*dst = uint64(v)
		return nil
	}
}

// ints decodes a sequence of integers, recording the line of each element
// as path[i].
func (d *decoder) ints(dst *[]int) decodeFunc {
	return func(path string, n *yaml.Node) error {
		n = resolve(n)
		if n.Kind != yaml.SequenceNode {
			return d.src.errorf(path, "want a sequence of integers, got %s", describe(n))
		}
		out := make([]int, len(n.Content))
		for i, e := range n.Content {
			p := fmt.Sprintf("%s[%d]", path, i)
			d.src.lines[p] = e.Line
			if err := d.int(&out[i])(p, e); err != nil {
				return err
			}
		}
		*dst = out
		return nil
	}
}

func (d *decoder) duration(dst *time.Duration) decodeFunc {
	return func(path string, n *yaml.Node) error {
		n = resolve(n)
		if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!str" {
			v, err := time.ParseDuration(n.Value)
			if err == nil {
				*dst = v
				return nil
			}
		}
		// A bare number is refused rather than read in some unit: "30"
		// could as well mean milliseconds as seconds.
		return d.src.errorf(path, "want a duration such as \"30s\" or \"1m30s\", got %s", describe(n))
	}
}

// resolve follows aliases to the node they name.
func resolve(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

// describe names the type and value of n for messages.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a sequence"
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!null":
			return "null"
		case "!!str":
			return fmt.Sprintf("string %q", clip(n.Value))
		case "!!bool":
			return "boolean " + n.Value
		case "!!int":
			return "integer " + clip(n.Value)
		case "!!float":
			return "number " + clip(n.Value)
		}
		return fmt.Sprintf("%s %q", n.Tag, clip(n.Value))
	}
	return "an unexpected YAML node"
}

// clip shortens a value quoted in a message: the message must stay one
// readable line even when the value is a pasted blob.
func clip(s string) string {
	const limit = 40
	if r := []rune(s); len(r) > limit {
		return string(r[:limit]) + "…"
	}
	return s
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func fieldNames(fields []field) string {
	var names []string
	for _, f := range fields {
		if !f.hidden {
			names = append(names, f.key)
		}
	}
	return strings.Join(names, ", ")
}

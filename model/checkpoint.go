package model

import (
	"encoding"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"

	"github.com/hcmoe/hcmoe/npz"
)

// CheckpointVersion is the checkpoint format that Save writes and Load
// reads. It changes whenever the set or meaning of the arrays below does,
// so that an old binary refuses a new file instead of misreading it.
const CheckpointVersion = 1

// Checkpoint is everything needed to resume training bit for bit: the
// parameter values, the optimizer's state and the step count (from which a
// Schedule gives the next learning rate), the state of the random source
// that draws batches, and free-form metadata such as the config.
//
// On disk it is an .npz archive, readable by numpy.load, holding
//
//	version        int64 scalar, CheckpointVersion
//	step           int64 scalar
//	param_names    unicode [n]
//	param/<i>      float64 with the shape of parameter i
//	optimizer      unicode [1]
//	opt_keys       unicode [k], sorted
//	opt/<j>        float64 [len], the state entry opt_keys[j]
//	rng            uint8 [len]
//	meta_keys      unicode [m], sorted
//	meta_values    unicode [m]
//
// Parameters and state entries are stored by index, with their names in a
// separate array, so that any parameter name is a valid archive entry.
type Checkpoint struct {
	// Version is the format version: Load sets it, and Save accepts
	// zero or CheckpointVersion.
	Version int
	// Step is the number of optimizer steps taken.
	Step int
	// Params holds names, shapes and values; gradients are not saved,
	// and Load gives zero ones.
	Params []*Param
	// Optimizer is the Optimizer's Name and OptState its State.
	Optimizer string
	OptState  map[string][]float64
	// RNG is the binary state of the random source, for example from
	// (*rand.PCG).MarshalBinary; it may be empty.
	RNG []byte
	// Meta is free-form text, such as the config that produced the run.
	Meta map[string]string
}

// NewCheckpoint captures the current training state: copies of the values
// of ps, the name and state of opt, and the state of rng. opt and rng may
// be nil.
func NewCheckpoint(step int, ps []*Param, opt Optimizer, rng encoding.BinaryMarshaler, meta map[string]string) (*Checkpoint, error) {
	c := &Checkpoint{Version: CheckpointVersion, Step: step, Meta: maps.Clone(meta)}
	for _, p := range ps {
		c.Params = append(c.Params, &Param{Name: p.Name, Shape: slices.Clone(p.Shape), Value: slices.Clone(p.Value)})
	}
	if opt != nil {
		c.Optimizer = opt.Name()
		c.OptState = opt.State()
	}
	if rng != nil {
		b, err := rng.MarshalBinary()
		if err != nil {
			return nil, fmt.Errorf("model: checkpoint: saving random state: %w", err)
		}
		c.RNG = b
	}
	return c, nil
}

// Restore copies the saved values into ps, which must match the saved
// parameters in number, order, names and shapes. Nothing is copied unless
// all match, so a failed Restore leaves ps as it was.
func (c *Checkpoint) Restore(ps []*Param) error {
	if len(ps) != len(c.Params) {
		return fmt.Errorf("model: checkpoint has %d parameters, network has %d", len(c.Params), len(ps))
	}
	for i, p := range ps {
		q := c.Params[i]
		if p.Name != q.Name {
			return fmt.Errorf("model: checkpoint parameter %d is %q, network has %q", i, q.Name, p.Name)
		}
		if !slices.Equal(p.Shape, q.Shape) || len(p.Value) != len(q.Value) {
			return fmt.Errorf("model: checkpoint parameter %s has shape %v, network has %v", q.Name, q.Shape, p.Shape)
		}
	}
	for i, p := range ps {
		copy(p.Value, c.Params[i].Value)
	}
	return nil
}

// RestoreOptimizer sets opt's state to the saved one, bound to ps. It
// fails if opt is a different algorithm than the one saved.
func (c *Checkpoint) RestoreOptimizer(opt Optimizer, ps []*Param) error {
	if opt.Name() != c.Optimizer {
		return fmt.Errorf("model: checkpoint optimizer is %q, resuming with %q", c.Optimizer, opt.Name())
	}
	if err := opt.SetState(ps, c.OptState); err != nil {
		return fmt.Errorf("model: checkpoint: %w", err)
	}
	return nil
}

// RestoreRNG sets the state of a random source, such as a *rand.PCG,
// from the saved one.
func (c *Checkpoint) RestoreRNG(rng encoding.BinaryUnmarshaler) error {
	if len(c.RNG) == 0 {
		return errors.New("model: checkpoint holds no random state")
	}
	if err := rng.UnmarshalBinary(c.RNG); err != nil {
		return fmt.Errorf("model: checkpoint: restoring random state: %w", err)
	}
	return nil
}

// Save writes c to path atomically: path holds either its previous
// content or the whole checkpoint, even if writing fails or the machine
// crashes midway (see npz.WriteFile).
func Save(path string, c *Checkpoint) error {
	if err := c.check(); err != nil {
		return fmt.Errorf("model: saving checkpoint %s: %w", path, err)
	}
	err := npz.WriteFile(path, false, func(w *npz.Writer) error {
		names := make([]string, len(c.Params))
		for i, p := range c.Params {
			names[i] = p.Name
		}
		optKeys := slices.Sorted(maps.Keys(c.OptState))
		metaKeys := slices.Sorted(maps.Keys(c.Meta))
		metaValues := make([]string, len(metaKeys))
		for i, k := range metaKeys {
			metaValues[i] = c.Meta[k]
		}
		errs := []error{
			w.Int64("version", nil, []int64{CheckpointVersion}),
			w.Int64("step", nil, []int64{int64(c.Step)}),
			w.Strings("param_names", names),
			w.Strings("optimizer", []string{c.Optimizer}),
			w.Strings("opt_keys", optKeys),
			w.Uint8("rng", []int{len(c.RNG)}, c.RNG),
			w.Strings("meta_keys", metaKeys),
			w.Strings("meta_values", metaValues),
		}
		for i, p := range c.Params {
			errs = append(errs, w.Float64("param/"+strconv.Itoa(i), p.Shape, p.Value))
		}
		for j, k := range optKeys {
			v := c.OptState[k]
			errs = append(errs, w.Float64("opt/"+strconv.Itoa(j), []int{len(v)}, v))
		}
		// The Writer keeps its first error and returns it again, so
		// the first non-nil error is the cause.
		for _, e := range errs {
			if e != nil {
				return e
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("model: saving checkpoint %s: %w", path, err)
	}
	return nil
}

// check rejects what Load could not read back as saved.
func (c *Checkpoint) check() error {
	if c == nil {
		return errors.New("nil checkpoint")
	}
	if c.Version != 0 && c.Version != CheckpointVersion {
		return fmt.Errorf("version %d, this build writes %d", c.Version, CheckpointVersion)
	}
	if c.Step < 0 {
		return fmt.Errorf("negative step %d", c.Step)
	}
	seen := make(map[string]bool, len(c.Params))
	for i, p := range c.Params {
		if p == nil {
			return fmt.Errorf("parameter %d is nil", i)
		}
		if p.Name == "" || seen[p.Name] {
			return fmt.Errorf("parameter %d: empty or duplicate name %q", i, p.Name)
		}
		seen[p.Name] = true
		n := 1
		for _, d := range p.Shape {
			if d < 0 {
				return fmt.Errorf("parameter %s: negative dimension in shape %v", p.Name, p.Shape)
			}
			n *= d
		}
		if n != len(p.Value) {
			return fmt.Errorf("parameter %s: %d values for shape %v", p.Name, len(p.Value), p.Shape)
		}
	}
	return nil
}

// Load reads a checkpoint written by Save. It fails with an error naming
// the file and the problem if the file is not a checkpoint, has another
// format version, or lacks, mistypes or adds arrays.
func Load(path string) (*Checkpoint, error) {
	arrs, err := npz.ReadFile(path, npz.Limits{})
	if err != nil {
		return nil, fmt.Errorf("model: loading checkpoint: %w", err)
	}
	c, err := decodeCheckpoint(arrs)
	if err != nil {
		return nil, fmt.Errorf("model: loading checkpoint %s: %w", path, err)
	}
	return c, nil
}

func decodeCheckpoint(arrs map[string]*npz.Array) (*Checkpoint, error) {
	if _, ok := arrs["version"]; !ok {
		return nil, errors.New("not a checkpoint: no version array")
	}
	used := make(map[string]bool)
	get := func(name string) (*npz.Array, error) {
		a, ok := arrs[name]
		if !ok {
			return nil, fmt.Errorf("missing array %q", name)
		}
		used[name] = true
		return a, nil
	}
	scalar := func(name string) (int64, error) {
		a, err := get(name)
		if err != nil {
			return 0, err
		}
		if a.Int64 == nil || len(a.Shape) != 0 {
			return 0, fmt.Errorf("array %q is %s %v, want an integer scalar", name, a.DType, a.Shape)
		}
		return a.Int64[0], nil
	}
	stringsOf := func(name string) ([]string, error) {
		a, err := get(name)
		if err != nil {
			return nil, err
		}
		if a.Strings == nil || len(a.Shape) != 1 {
			return nil, fmt.Errorf("array %q is %s %v, want a 1-d unicode array", name, a.DType, a.Shape)
		}
		return a.Strings, nil
	}
	floats := func(name string) (*npz.Array, error) {
		a, err := get(name)
		if err != nil {
			return nil, err
		}
		if a.Float64 == nil || a.DType != "<f8" && a.DType != ">f8" {
			// float32 would be widened silently by the reader and
			// could not resume bit for bit.
			return nil, fmt.Errorf("array %q is %s, want float64", name, a.DType)
		}
		return a, nil
	}

	v, err := scalar("version")
	if err != nil {
		return nil, err
	}
	if v != CheckpointVersion {
		return nil, fmt.Errorf("checkpoint format version %d, this build reads version %d", v, CheckpointVersion)
	}
	c := &Checkpoint{Version: int(v)}
	step, err := scalar("step")
	if err != nil {
		return nil, err
	}
	if step < 0 || int64(int(step)) != step {
		return nil, fmt.Errorf("invalid step %d", step)
	}
	c.Step = int(step)

	names, err := stringsOf("param_names")
	if err != nil {
		return nil, err
	}
	for i, name := range names {
		a, err := floats("param/" + strconv.Itoa(i))
		if err != nil {
			return nil, fmt.Errorf("parameter %q: %w", name, err)
		}
		c.Params = append(c.Params, &Param{Name: name, Shape: slices.Clone(a.Shape), Value: a.Float64, Grad: make([]float64, len(a.Float64))})
	}

	opt, err := stringsOf("optimizer")
	if err != nil {
		return nil, err
	}
	if len(opt) != 1 {
		return nil, fmt.Errorf("array %q has %d entries, want 1", "optimizer", len(opt))
	}
	c.Optimizer = opt[0]
	keys, err := stringsOf("opt_keys")
	if err != nil {
		return nil, err
	}
	c.OptState = make(map[string][]float64, len(keys))
	for j, k := range keys {
		a, err := floats("opt/" + strconv.Itoa(j))
		if err != nil {
			return nil, fmt.Errorf("optimizer state %q: %w", k, err)
		}
		if len(a.Shape) != 1 {
			return nil, fmt.Errorf("optimizer state %q has shape %v, want 1-d", k, a.Shape)
		}
		if _, dup := c.OptState[k]; dup {
			return nil, fmt.Errorf("optimizer state %q appears twice", k)
		}
		c.OptState[k] = a.Float64
	}

	rng, err := get("rng")
	if err != nil {
		return nil, err
	}
	if rng.Uint8 == nil || len(rng.Shape) != 1 {
		return nil, fmt.Errorf("array %q is %s %v, want 1-d uint8", "rng", rng.DType, rng.Shape)
	}
	if len(rng.Uint8) > 0 {
		c.RNG = rng.Uint8
	}

	mk, err := stringsOf("meta_keys")
	if err != nil {
		return nil, err
	}
	mv, err := stringsOf("meta_values")
	if err != nil {
		return nil, err
	}
	if len(mk) != len(mv) {
		return nil, fmt.Errorf("%d meta keys but %d values", len(mk), len(mv))
	}
	if len(mk) > 0 {
		c.Meta = make(map[string]string, len(mk))
		for i, k := range mk {
			c.Meta[k] = mv[i]
		}
	}

	if len(used) != len(arrs) {
		for _, name := range slices.Sorted(maps.Keys(arrs)) {
			if !used[name] {
				return nil, fmt.Errorf("unexpected array %q", name)
			}
		}
	}
	return c, nil
}

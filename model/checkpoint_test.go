package model

import (
	"errors"
	"io/fs"
	"maps"
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/hcmoe/hcmoe/npz"
)

// TestCheckpointRoundTrip checks that every field comes back with the same
// bits, including values that text formats or float32 would lose.
func TestCheckpointRoundTrip(t *testing.T) {
	w := NewParam("layer.w", 2, 3)
	copy(w.Value, []float64{math.Copysign(0, -1), 5e-324, math.MaxFloat64, math.NaN(), math.Inf(-1), 0.1})
	s := NewParam("scalar") // 0-d
	s.Value[0] = math.Pi
	e := NewParam("empty", 0)
	b := NewParam("b", 3)
	copy(b.Value, []float64{1, -2, 1e-300})
	ps := []*Param{w, s, e, b}

	opt := NewAdam()
	// The state of a real optimizer, after a step on finite values.
	fin := []*Param{newTestParam("layer.w", 1, 2), newTestParam("b", 3)}
	fin[0].Grad[0], fin[1].Grad[0] = 0.5, -1
	if err := opt.Step(fin, 0.1); err != nil {
		t.Fatal(err)
	}
	pcg := rand.NewPCG(42, 43)
	rand.New(pcg).Uint64()
	meta := map[string]string{"config": "pde: {name: heat}\nmesh: …", "empty": "", "ünïcode": "λ"}
	c, err := NewCheckpoint(17, ps, opt, pcg, meta)
	if err != nil {
		t.Fatal(err)
	}
	meta["config"] = "changed" // NewCheckpoint must have copied
	w.Value[5] = 7             // likewise

	tests := []struct {
		name string
		c    *Checkpoint
	}{
		{"full", c},
		{"bare", &Checkpoint{Step: 0}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "ckpt.npz")
			if err := Save(path, tc.c); err != nil {
				t.Fatal(err)
			}
			got, err := Load(path)
			if err != nil {
				t.Fatal(err)
			}
			want := *tc.c
			want.Version = CheckpointVersion
			if got.Version != want.Version || got.Step != want.Step || got.Optimizer != want.Optimizer {
				t.Errorf("header: got version %d step %d optimizer %q, want %d %d %q", got.Version, got.Step, got.Optimizer, want.Version, want.Step, want.Optimizer)
			}
			if len(got.Params) != len(want.Params) {
				t.Fatalf("%d params, want %d", len(got.Params), len(want.Params))
			}
			for i, p := range got.Params {
				q := want.Params[i]
				if p.Name != q.Name || !slices.Equal(p.Shape, q.Shape) || !sameBits(p.Value, q.Value) {
					t.Errorf("param %d: got %s %v %v, want %s %v %v", i, p.Name, p.Shape, p.Value, q.Name, q.Shape, q.Value)
				}
				if len(p.Grad) != len(p.Value) {
					t.Errorf("param %s: %d gradients for %d values", p.Name, len(p.Grad), len(p.Value))
				}
			}
			if !sameState(got.OptState, want.OptState) {
				t.Errorf("optimizer state %v, want %v", got.OptState, want.OptState)
			}
			if !slices.Equal(got.RNG, want.RNG) || !maps.Equal(got.Meta, want.Meta) {
				t.Errorf("rng %x meta %q, want %x %q", got.RNG, got.Meta, want.RNG, want.Meta)
			}
		})
	}
	if c.Meta["config"] == "changed" || c.Params[0].Value[5] != 0.1 {
		t.Error("NewCheckpoint kept references to the caller's data")
	}
	// The restored random source continues the saved sequence.
	restored := rand.NewPCG(0, 0)
	if err := c.RestoreRNG(restored); err != nil {
		t.Fatal(err)
	}
	if a, b := rand.New(pcg).Uint64(), rand.New(restored).Uint64(); a != b {
		t.Errorf("restored random source gives %d, original %d", b, a)
	}
}

// rewrite saves a valid checkpoint, lets edit change its arrays and
// writes them back, for testing what Load rejects.
func rewrite(t *testing.T, edit func(map[string]*npz.Array)) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ckpt.npz")
	opt := NewLion(0)
	ps := []*Param{newTestParam("a", 1, 2), newTestParam("b", 3)}
	if err := opt.Step(ps, 0.1); err != nil {
		t.Fatal(err)
	}
	c, err := NewCheckpoint(3, ps, opt, rand.NewPCG(1, 2), map[string]string{"k": "v"})
	if err != nil {
		t.Fatal(err)
	}
	if err := Save(path, c); err != nil {
		t.Fatal(err)
	}
	arrs, err := npz.ReadFile(path, npz.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	edit(arrs)
	err = npz.WriteFile(path, false, func(w *npz.Writer) error {
		for _, name := range slices.Sorted(maps.Keys(arrs)) {
			a := arrs[name]
			a.Name = name
			if err := w.Array(a); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLoadRejects(t *testing.T) {
	i64 := func(v int64) *npz.Array { return &npz.Array{Int64: []int64{v}} }
	tests := []struct {
		name string
		edit func(map[string]*npz.Array)
		want string
	}{
		{"newer version", func(m map[string]*npz.Array) { m["version"] = i64(2) }, "format version 2, this build reads version 1"},
		{"not a checkpoint", func(m map[string]*npz.Array) { delete(m, "version") }, "not a checkpoint"},
		{"version not scalar", func(m map[string]*npz.Array) {
			m["version"] = &npz.Array{Shape: []int{1}, Int64: []int64{1}}
		}, "want an integer scalar"},
		{"missing step", func(m map[string]*npz.Array) { delete(m, "step") }, `missing array "step"`},
		{"negative step", func(m map[string]*npz.Array) { m["step"] = i64(-1) }, "invalid step"},
		{"missing parameter", func(m map[string]*npz.Array) { delete(m, "param/1") }, `parameter "b": missing array "param/1"`},
		{"names not strings", func(m map[string]*npz.Array) {
			m["param_names"] = &npz.Array{Shape: []int{2}, Int64: []int64{0, 1}}
		}, "want a 1-d unicode array"},
		{"parameter not float", func(m map[string]*npz.Array) {
			m["param/0"] = &npz.Array{Shape: []int{2}, Int64: []int64{1, 2}}
		}, "want float64"},
		{"missing state", func(m map[string]*npz.Array) { delete(m, "opt/0") }, "missing array \"opt/0\""},
		{"missing rng", func(m map[string]*npz.Array) { delete(m, "rng") }, `missing array "rng"`},
		{"meta mismatch", func(m map[string]*npz.Array) {
			m["meta_values"] = &npz.Array{Shape: []int{2}, Strings: []string{"a", "b"}}
		}, "1 meta keys but 2 values"},
		{"extra array", func(m map[string]*npz.Array) { m["param/2"] = &npz.Array{Shape: []int{1}, Float64: []float64{1}} }, `unexpected array "param/2"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := rewrite(t, tc.edit)
			_, err := Load(path)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), path) {
				t.Errorf("Load: %v, want an error naming the file and containing %q", err, tc.want)
			}
		})
	}
	if _, err := Load(filepath.Join(t.TempDir(), "absent.npz")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Load of a missing file: %v, want fs.ErrNotExist", err)
	}
}

func TestSaveRejects(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "ckpt.npz")
	good := &Checkpoint{Step: 1, Params: []*Param{newTestParam("a", 1)}}
	if err := Save(path, good); err != nil {
		t.Fatal(err)
	}
	bad := []struct {
		name string
		c    *Checkpoint
	}{
		{"nil", nil},
		{"other version", &Checkpoint{Version: 9}},
		{"negative step", &Checkpoint{Step: -1}},
		{"duplicate names", &Checkpoint{Params: []*Param{newTestParam("a", 1), newTestParam("a", 2)}}},
		{"empty name", &Checkpoint{Params: []*Param{newTestParam("", 1)}}},
		{"shape mismatch", &Checkpoint{Params: []*Param{{Name: "a", Shape: []int{2}, Value: []float64{1}}}}},
		// Rejected by the npz writer midway through the archive.
		{"name ending in NUL", &Checkpoint{Params: []*Param{newTestParam("a\x00", 1)}}},
	}
	for _, tc := range bad {
		if err := Save(path, tc.c); err == nil {
			t.Errorf("Save(%s): no error", tc.name)
		}
	}
	// Failed saves left the earlier checkpoint whole.
	c, err := Load(path)
	if err != nil || c.Step != 1 || c.Params[0].Value[0] != 1 {
		t.Errorf("after failed saves: %v, %v", c, err)
	}
	if ents, _ := filepath.Glob(filepath.Join(dir, ".*tmp*")); len(ents) != 0 {
		t.Errorf("temporary files left behind: %v", ents)
	}
}

func TestRestoreRejects(t *testing.T) {
	c := &Checkpoint{Params: []*Param{newTestParam("a", 1, 2), newTestParam("b", 3)}, Optimizer: "adam"}
	tests := []struct {
		name string
		ps   []*Param
		want string
	}{
		{"fewer", []*Param{newTestParam("a", 0, 0)}, "checkpoint has 2 parameters, network has 1"},
		{"renamed", []*Param{newTestParam("a", 0, 0), newTestParam("c", 0)}, `parameter 1 is "b", network has "c"`},
		{"reshaped", []*Param{newTestParam("a", 0, 0), NewParam("b", 1, 1)}, "has shape [1], network has [1 1]"},
	}
	for _, tc := range tests {
		err := c.Restore(tc.ps)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error containing %q", tc.name, err, tc.want)
		}
		if tc.ps[0].Value[0] != 0 {
			t.Errorf("%s: failed Restore changed a parameter", tc.name)
		}
	}
	if err := c.RestoreOptimizer(NewLion(0), c.Params); err == nil || !strings.Contains(err.Error(), `optimizer is "adam", resuming with "lion"`) {
		t.Errorf("RestoreOptimizer into Lion: %v", err)
	}
	if err := c.RestoreRNG(rand.NewPCG(1, 1)); err == nil {
		t.Error("RestoreRNG without saved state: no error")
	}
}

// resumeRun is the training loop of TestResume: minibatches of a fixed
// regression drawn with pcg, squared loss, clipping, Adam and a
// warm-up + staircase schedule, so that every piece of training state
// (parameters, moments, step count, random state) matters.
type resumeRun struct {
	m     *MLP
	opt   Optimizer
	pcg   *rand.PCG
	sched Schedule
	x, y  []float64 // 64 points × 2 features, × 3 targets
}

func newResumeRun(t *testing.T, seed uint64) *resumeRun {
	t.Helper()
	m, err := NewMLP([]int{2, 8, 8, 3}, ActTanh, rand.New(rand.NewPCG(seed, 1)))
	if err != nil {
		t.Fatal(err)
	}
	r := &resumeRun{
		m: m, opt: NewAdam(), pcg: rand.NewPCG(seed, 2),
		sched: Warmup{Steps: 2, Then: Step{Base: 1e-2, Factor: 0.5, Every: 3, Floor: 2e-3}},
	}
	for i := range 64 {
		a, b := float64(i%8)/4-1, float64(i/8)/4-1
		r.x = append(r.x, a, b)
		r.y = append(r.y, math.Sin(2*a), math.Cos(b), a*b)
	}
	return r
}

func (r *resumeRun) steps(t *testing.T, from, to int) {
	t.Helper()
	rng := rand.New(r.pcg)
	const batch = 16
	ps := r.m.Params()
	for s := from; s < to; s++ {
		xb := make([]float64, 0, batch*2)
		yb := make([]float64, 0, batch*3)
		for range batch {
			i := rng.IntN(64)
			xb = append(xb, r.x[2*i:2*i+2]...)
			yb = append(yb, r.y[3*i:3*i+3]...)
		}
		out, err := r.m.Forward(xb)
		if err != nil {
			t.Fatal(err)
		}
		dy := make([]float64, len(out))
		for k := range out {
			dy[k] = (out[k] - yb[k]) / batch
		}
		ZeroGrad(ps)
		if _, err := r.m.Backward(dy); err != nil {
			t.Fatal(err)
		}
		ClipGlobalNorm(ps, 0.05)
		if err := r.opt.Step(ps, r.sched.LR(s)); err != nil {
			t.Fatal(err)
		}
	}
}

// TestResume checks that 5 steps, a checkpoint and 5 more steps in a fresh
// network, optimizer and random source give the same bits as 10 steps
// without interruption, and, as a control, that skipping the optimizer
// state does not.
func TestResume(t *testing.T) {
	straight := newResumeRun(t, 1)
	straight.steps(t, 0, 10)

	first := newResumeRun(t, 1)
	first.steps(t, 0, 5)
	c, err := NewCheckpoint(5, first.m.Params(), first.opt, first.pcg, nil)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "step5.npz")
	if err := Save(path, c); err != nil {
		t.Fatal(err)
	}

	resume := func(withOpt bool) *resumeRun {
		c, err := Load(path)
		if err != nil {
			t.Fatal(err)
		}
		r := newResumeRun(t, 99) // other weights and random state
		if err := c.Restore(r.m.Params()); err != nil {
			t.Fatal(err)
		}
		if withOpt {
			if err := c.RestoreOptimizer(r.opt, r.m.Params()); err != nil {
				t.Fatal(err)
			}
		}
		if err := c.RestoreRNG(r.pcg); err != nil {
			t.Fatal(err)
		}
		r.steps(t, c.Step, 10)
		return r
	}
	resumed := resume(true)
	for i, p := range straight.m.Params() {
		q := resumed.m.Params()[i]
		if !sameBits(p.Value, q.Value) {
			t.Errorf("%s: resumed run differs from the uninterrupted one", p.Name)
		}
		if sameBits(p.Value, c.Params[i].Value) {
			t.Errorf("%s: did not change after step 5, the check is vacuous", p.Name)
		}
	}
	if resumed.opt.Steps() != 10 {
		t.Errorf("resumed optimizer at step %d, want 10", resumed.opt.Steps())
	}

	control := resume(false)
	differs := false
	for i, p := range straight.m.Params() {
		differs = differs || !sameBits(p.Value, control.m.Params()[i].Value)
	}
	if !differs {
		t.Error("resuming without the optimizer state gave the same parameters; the test does not exercise it")
	}
}

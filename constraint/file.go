package constraint

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"sort"

	"github.com/hcmoe/hcmoe/npz"
	"github.com/hcmoe/hcmoe/pde"
)

// Problem files are .npz archives that numpy.load reads directly:
//
//	format            ["hcmoe-problem", "1"]
//	n, ridge          scalars (int64, float64)
//	blocks            block names, in order
//	b<i>_residual     [name] of block i's residual (pde.NewResidual)
//	b<i>_param_names  residual parameter names, b<i>_param_values their values
//	b<i>_terms        the K term names, in the residual's order
//	b<i>_term<k>      term matrix k, shape [rows, n]
//	b<i>_aux          shape [rows, NumAux]
//	b<i>_weights      shape [rows], absent when all ones
//	start_basis, start_target   the optional start fit
const (
	fileMagic   = "hcmoe-problem"
	fileVersion = "1"
)

// ErrFile is wrapped by every error about the content of a problem file.
var ErrFile = errors.New("malformed problem file")

// WriteProblem writes p to path atomically, compressed when compress is set.
func WriteProblem(path string, p *Problem, compress bool) error {
	if err := p.Validate(); err != nil {
		return err
	}
	return npz.WriteFile(path, compress, func(w *npz.Writer) error { return encodeProblem(w, p) })
}

// EncodeProblem writes p as an .npz archive to w.
func EncodeProblem(w io.Writer, p *Problem, compress bool) error {
	if err := p.Validate(); err != nil {
		return err
	}
	zw := npz.NewWriter(w, compress)
	if err := encodeProblem(zw, p); err != nil {
		return err
	}
	return zw.Close()
}

func encodeProblem(w *npz.Writer, p *Problem) error {
	names := make([]string, len(p.Blocks))
	for i, b := range p.Blocks {
		names[i] = b.Name
	}
	steps := []func() error{
		func() error { return w.Strings("format", []string{fileMagic, fileVersion}) },
		func() error { return w.Int64("n", nil, []int64{int64(p.N)}) },
		func() error { return w.Float64("ridge", nil, []float64{p.Ridge}) },
		func() error { return w.Strings("blocks", names) },
	}
	for i := range p.Blocks {
		b := &p.Blocks[i]
		rows := b.Rows(p.N)
		pre := fmt.Sprintf("b%d_", i)
		params := b.Residual.Params()
		keys := make([]string, 0, len(params))
		for k := range params {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		vals := make([]float64, len(keys))
		for j, k := range keys {
			vals[j] = params[k]
		}
		terms := make([]string, len(b.Terms))
		for k, t := range b.Residual.Terms() {
			terms[k] = string(t)
		}
		steps = append(steps,
			func() error { return w.Strings(pre+"residual", []string{b.Residual.Name()}) },
			func() error { return w.Strings(pre+"param_names", keys) },
			func() error { return w.Float64(pre+"param_values", []int{len(vals)}, vals) },
			func() error { return w.Strings(pre+"terms", terms) },
			func() error { return w.Float64(pre+"aux", []int{rows, b.Residual.NumAux()}, b.Aux) },
		)
		for k := range b.Terms {
			steps = append(steps, func() error { return w.Float64(fmt.Sprintf("%sterm%d", pre, k), []int{rows, p.N}, b.Terms[k]) })
		}
		if b.Weights != nil {
			steps = append(steps, func() error { return w.Float64(pre+"weights", []int{rows}, b.Weights) })
		}
	}
	if f := p.Start; f != nil {
		steps = append(steps,
			func() error { return w.Float64("start_basis", []int{len(f.Target), p.N}, f.Basis) },
			func() error { return w.Float64("start_target", []int{len(f.Target)}, f.Target) },
		)
	}
	for _, s := range steps {
		if err := s(); err != nil {
			return fmt.Errorf("constraint: writing problem: %w", err)
		}
	}
	return nil
}

// ReadProblem reads a problem file. lim bounds what the reader allocates;
// the zero value takes npz's defaults.
func ReadProblem(path string, lim npz.Limits) (*Problem, error) {
	arrays, err := npz.ReadFile(path, lim)
	if err != nil {
		return nil, fmt.Errorf("constraint: %w", err)
	}
	p, err := decodeProblem(arrays)
	if err != nil {
		return nil, fmt.Errorf("constraint: %s: %w", path, err)
	}
	return p, nil
}

// DecodeProblem reads a problem file held in memory.
func DecodeProblem(data []byte, lim npz.Limits) (*Problem, error) {
	arrays, err := npz.Read(bytes.NewReader(data), int64(len(data)), lim)
	if err != nil {
		return nil, fmt.Errorf("constraint: %w", err)
	}
	return decodeProblem(arrays)
}

type archive map[string]*npz.Array

func (a archive) get(name string) (*npz.Array, error) {
	v, ok := a[name]
	if !ok {
		return nil, fmt.Errorf("%w: no array %q", ErrFile, name)
	}
	return v, nil
}

func (a archive) strings(name string) ([]string, error) {
	v, err := a.get(name)
	if err != nil {
		return nil, err
	}
	if (v.Strings == nil && !(len(v.DType) > 1 && v.DType[1] == 'U')) || len(v.Shape) != 1 {
		return nil, fmt.Errorf("%w: %q must be a 1-d string array (dtype %s, shape %v)", ErrFile, name, v.DType, v.Shape)
	}
	return v.Strings, nil
}

// floats returns the float64 data of name, checking its shape.
func (a archive) floats(name string, shape ...int) ([]float64, error) {
	v, err := a.get(name)
	if err != nil {
		return nil, err
	}
	if !isFloat(v) || !equalShape(v.Shape, shape) {
		return nil, fmt.Errorf("%w: %q must be float64 of shape %v (dtype %s, shape %v)", ErrFile, name, shape, v.DType, v.Shape)
	}
	return v.Float64, nil
}

// matrix returns a 2-d float64 array with n columns and its row count.
func (a archive) matrix(name string, n int) ([]float64, int, error) {
	v, err := a.get(name)
	if err != nil {
		return nil, 0, err
	}
	if !isFloat(v) || len(v.Shape) != 2 || v.Shape[1] != n {
		return nil, 0, fmt.Errorf("%w: %q must be float64 of shape [rows, %d] (dtype %s, shape %v)", ErrFile, name, n, v.DType, v.Shape)
	}
	return v.Float64, v.Shape[0], nil
}

// isFloat reports a float dtype; an empty float array may hold a nil slice.
func isFloat(v *npz.Array) bool {
	return v.Float64 != nil || (len(v.DType) == 3 && v.DType[1] == 'f')
}

func equalShape(a, b []int) bool {
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

func decodeProblem(m map[string]*npz.Array) (*Problem, error) {
	a := archive(m)
	format, err := a.strings("format")
	if err != nil {
		return nil, err
	}
	if len(format) != 2 || format[0] != fileMagic {
		return nil, fmt.Errorf("%w: not a problem file (format %q)", ErrFile, format)
	}
	if format[1] != fileVersion {
		return nil, fmt.Errorf("%w: version %q, this build reads %q", ErrFile, format[1], fileVersion)
	}
	nArr, err := a.get("n")
	if err != nil {
		return nil, err
	}
	if nArr.Int64 == nil || len(nArr.Int64) != 1 || len(nArr.Shape) != 0 {
		return nil, fmt.Errorf("%w: \"n\" must be an int64 scalar", ErrFile)
	}
	n64 := nArr.Int64[0]
	if n64 <= 0 || n64 > 1<<20 {
		return nil, fmt.Errorf("%w: n = %d basis functions", ErrFile, n64)
	}
	p := &Problem{N: int(n64)}
	ridge, err := a.floats("ridge")
	if err != nil {
		return nil, err
	}
	p.Ridge = ridge[0]
	names, err := a.strings("blocks")
	if err != nil {
		return nil, err
	}
	for i, name := range names {
		b, err := decodeBlock(a, i, p.N)
		if err != nil {
			return nil, fmt.Errorf("block %d (%s): %w", i, name, err)
		}
		b.Name = name
		p.Blocks = append(p.Blocks, b)
	}
	if _, ok := a["start_basis"]; ok {
		basis, rows, err := a.matrix("start_basis", p.N)
		if err != nil {
			return nil, err
		}
		target, err := a.floats("start_target", rows)
		if err != nil {
			return nil, err
		}
		p.Start = &Fit{Basis: basis, Target: target}
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return p, nil
}

func decodeBlock(a archive, i, n int) (Block, error) {
	var b Block
	pre := fmt.Sprintf("b%d_", i)
	rname, err := a.strings(pre + "residual")
	if err != nil {
		return b, err
	}
	if len(rname) != 1 {
		return b, fmt.Errorf("%w: %q must hold one name", ErrFile, pre+"residual")
	}
	keys, err := a.strings(pre + "param_names")
	if err != nil {
		return b, err
	}
	vals, err := a.floats(pre+"param_values", len(keys))
	if err != nil {
		return b, err
	}
	params := make(map[string]float64, len(keys))
	for j, k := range keys {
		params[k] = vals[j]
	}
	b.Residual, err = pde.NewResidual(rname[0], params)
	if err != nil {
		return b, fmt.Errorf("%w: %v", ErrFile, err)
	}
	terms, err := a.strings(pre + "terms")
	if err != nil {
		return b, err
	}
	want := b.Residual.Terms()
	if len(terms) != len(want) {
		return b, fmt.Errorf("%w: terms %q, residual %q reads %q", ErrFile, terms, rname[0], want)
	}
	rows := -1
	for k, t := range want {
		if terms[k] != string(t) {
			return b, fmt.Errorf("%w: terms %q, residual %q reads %q", ErrFile, terms, rname[0], want)
		}
		m, r, err := a.matrix(fmt.Sprintf("%sterm%d", pre, k), n)
		if err != nil {
			return b, err
		}
		if rows >= 0 && r != rows {
			return b, fmt.Errorf("%w: term %d has %d rows, term 0 has %d", ErrFile, k, r, rows)
		}
		rows = r
		b.Terms = append(b.Terms, m)
	}
	b.Aux, err = a.floats(pre+"aux", rows, b.Residual.NumAux())
	if err != nil {
		return b, err
	}
	if _, ok := a[pre+"weights"]; ok {
		b.Weights, err = a.floats(pre+"weights", rows)
		if err != nil {
			return b, err
		}
	}
	return b, nil
}

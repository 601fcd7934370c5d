package transport

import (
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"

	"github.com/hcmoe/hcmoe/constraint"
	"github.com/hcmoe/hcmoe/pde"
)

// nanPayload is a quiet NaN with payload bits set, which a codec that
// converts through arithmetic or text would lose.
var nanPayload = math.Float64frombits(0x7ff8_0000_dead_beef)

func randomFloats(rng *rand.Rand, n int) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = rng.NormFloat64()
	}
	return v
}

// smallProblem builds a valid problem over every residual kind that
// transport must rebuild: an interior block of the named equation, a data
// block with weights and one without, and a Robin block, with a start fit.
func smallProblem(eqName string, n int, seed uint64) *constraint.Problem {
	rng := rand.New(rand.NewPCG(seed, 7))
	eq, err := pde.Default().New(eqName, nil)
	if err != nil {
		panic(err)
	}
	block := func(name string, r pde.Residual, rows int, weights bool) constraint.Block {
		b := constraint.Block{Name: name, Residual: r, Aux: randomFloats(rng, rows*r.NumAux())}
		for range r.Terms() {
			b.Terms = append(b.Terms, randomFloats(rng, rows*n))
		}
		if weights {
			b.Weights = randomFloats(rng, rows)
		}
		return b
	}
	robin, err := pde.NewResidual("robin-x", map[string]float64{"a": 2, "b": -0.5})
	if err != nil {
		panic(err)
	}
	return &constraint.Problem{
		N:     n,
		Ridge: 1e-6,
		Blocks: []constraint.Block{
			block("interior", eq.Interior(), 3*n, false),
			block("initial", eq.Initial(), n, true),
			block("robin", robin, 2, true),
			block("empty", pde.Data{}, 0, true),
		},
		Start: &constraint.Fit{Basis: randomFloats(rng, 2*n), Target: randomFloats(rng, 2)},
	}
}

func testResult(n int) constraint.Result {
	omega := make([]float64, n)
	for i := range omega {
		omega[i] = float64(i) - 0.5
	}
	return constraint.Result{
		Omega: omega, Status: constraint.NonFinite, Method: constraint.Krylov,
		Iterations: 17, InnerIterations: -3, Cost: nanPayload, GradNorm: math.Inf(-1),
		Damping: math.Copysign(0, -1), Seconds: math.SmallestNonzeroFloat64,
	}
}

func testSettings() constraint.Settings {
	return constraint.Settings{
		Method: constraint.Krylov, GradTol: 1e-9, StepTol: 1e-11, CostTol: 1e-13, MaxIter: 55,
		Damping: 1e-3, Scaling: constraint.ScaleIdentity, DenseMaxN: 128, Model: constraint.Newton,
		Krylov: constraint.KrylovSettings{Method: constraint.LSQR, Tol: 1e-10, MaxForcing: 1e-3, MaxIter: 400},
	}
}

// testMessages returns one message of each kind, each exercising nil and
// empty slices, NaN payloads and an optional field.
func testMessages() []Message {
	p := smallProblem("burgers", 6, 1)
	res := testResult(6)
	return []Message{
		&SolveRequest{Key: "run/3/expert-7", Problem: p, Settings: testSettings(), Warm: []float64{1, 2, 3, 4, 5, nanPayload}, Keep: true},
		&SolveReply{Key: "run/3/expert-7", Expert: "expert-b4f1", Result: res},
		&BackwardRequest{
			Key: "run/3/expert-7", OmegaBar: []float64{}, Problem: p, Result: &res,
			Settings: constraint.BackwardSettings{Hessian: constraint.GaussNewton, Method: constraint.Dense, Tol: 1e-12, MaxIter: 9, AllowUnconverged: true},
		},
		&BackwardReply{Key: "k", Expert: "ü", Cotangents: constraint.Cotangents{
			V: []float64{0.25, -1},
			Blocks: []constraint.BlockCotangent{
				{Alpha: [][]float64{{1, 2}, nil}, Beta: [][]float64{{}, {3}}},
				{},
				{Alpha: [][]float64{}, Beta: nil},
			},
			Iterations: 4, Seconds: 0.5,
		}},
	}
}

// equalBits reports whether a and b are deeply equal with floats compared
// by their bits (so NaN equals itself and −0 differs from +0) and nil
// slices and pointers distinct from empty ones. Funcs are ignored: the
// codec does not carry Settings.Monitor. It returns the path of the first
// difference.
func equalBits(a, b any) (string, bool) {
	return equalValue(reflect.ValueOf(a), reflect.ValueOf(b), "")
}

func equalValue(a, b reflect.Value, path string) (string, bool) {
	if a.IsValid() != b.IsValid() {
		return path, false
	}
	if !a.IsValid() {
		return "", true
	}
	if a.Type() != b.Type() {
		return fmt.Sprintf("%s: type %v vs %v", path, a.Type(), b.Type()), false
	}
	switch a.Kind() {
	case reflect.Float32, reflect.Float64:
		if math.Float64bits(a.Float()) != math.Float64bits(b.Float()) {
			return fmt.Sprintf("%s: %v vs %v", path, a.Float(), b.Float()), false
		}
	case reflect.Pointer, reflect.Interface:
		if a.IsNil() != b.IsNil() {
			return path + ": nil vs non-nil", false
		}
		if !a.IsNil() {
			return equalValue(a.Elem(), b.Elem(), path)
		}
	case reflect.Slice:
		if a.IsNil() != b.IsNil() {
			return path + ": nil vs empty slice", false
		}
		if a.Len() != b.Len() {
			return fmt.Sprintf("%s: length %d vs %d", path, a.Len(), b.Len()), false
		}
		for i := range a.Len() {
			if p, ok := equalValue(a.Index(i), b.Index(i), fmt.Sprintf("%s[%d]", path, i)); !ok {
				return p, false
			}
		}
	case reflect.Map:
		if a.Len() != b.Len() {
			return path + ": map sizes differ", false
		}
		for _, k := range a.MapKeys() {
			if p, ok := equalValue(a.MapIndex(k), b.MapIndex(k), fmt.Sprintf("%s[%v]", path, k)); !ok {
				return p, false
			}
		}
	case reflect.Struct:
		for i := range a.NumField() {
			if p, ok := equalValue(a.Field(i), b.Field(i), path+"."+a.Type().Field(i).Name); !ok {
				return p, false
			}
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if a.Int() != b.Int() {
			return fmt.Sprintf("%s: %d vs %d", path, a.Int(), b.Int()), false
		}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		if a.Uint() != b.Uint() {
			return fmt.Sprintf("%s: %d vs %d", path, a.Uint(), b.Uint()), false
		}
	case reflect.Bool:
		if a.Bool() != b.Bool() {
			return fmt.Sprintf("%s: %v vs %v", path, a.Bool(), b.Bool()), false
		}
	case reflect.String:
		if a.String() != b.String() {
			return fmt.Sprintf("%s: %q vs %q", path, a.String(), b.String()), false
		}
	case reflect.Func:
	default:
		panic(fmt.Sprintf("equalBits: %s: unhandled kind %v", path, a.Kind()))
	}
	return "", true
}

func allOptions() []Options {
	var out []Options
	for _, c := range []Compression{CompressZstd, CompressS2, CompressNone} {
		for _, noShuffle := range []bool{false, true} {
			out = append(out, Options{Compression: c, NoShuffle: noShuffle})
		}
	}
	return append(out, Options{Level: 1}, Options{Level: 7, NoShuffle: true}, Options{Level: 22})
}

func optName(o Options) string {
	s := o.Compression.String()
	if o.Level != 0 {
		s += fmt.Sprintf("-%d", o.Level)
	}
	if !o.NoShuffle {
		s += "+shuffle"
	}
	return s
}

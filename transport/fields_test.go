package transport

import (
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"

	"github.com/hcmoe/hcmoe/constraint"
)

// TestFieldsHandled fails when a carried type gains an exported field: the
// codec writes fields one by one, so a new one would otherwise be dropped
// without a word. Add the field to the encoder and decoder (payload.go),
// bump frameVersion if old readers cannot skip it, and list it here.
func TestFieldsHandled(t *testing.T) {
	for _, tc := range []struct {
		typ     reflect.Type
		handled []string
		skipped []string // deliberately not carried
	}{
		{reflect.TypeFor[constraint.Settings](), []string{"Method", "GradTol", "StepTol", "CostTol", "MaxIter", "Damping", "Scaling", "DenseMaxN", "Model", "Krylov"}, []string{"Monitor"}},
		{reflect.TypeFor[constraint.KrylovSettings](), []string{"Method", "Tol", "MaxForcing", "MaxIter"}, nil},
		{reflect.TypeFor[constraint.BackwardSettings](), []string{"Hessian", "Method", "Tol", "MaxIter", "AllowUnconverged"}, nil},
		{reflect.TypeFor[constraint.Result](), []string{"Omega", "Status", "Method", "Iterations", "InnerIterations", "Cost", "GradNorm", "Damping", "Seconds"}, nil},
		{reflect.TypeFor[constraint.Cotangents](), []string{"V", "Blocks", "Iterations", "Seconds", "Condition"}, nil},
		{reflect.TypeFor[constraint.BlockCotangent](), []string{"Alpha", "Beta"}, nil},
		{reflect.TypeFor[constraint.Problem](), []string{"N", "Blocks", "Ridge", "Start"}, nil},
		{reflect.TypeFor[constraint.Block](), []string{"Name", "Residual", "Terms", "Aux", "Weights"}, nil},
		{reflect.TypeFor[constraint.Fit](), []string{"Basis", "Target"}, nil},
		{reflect.TypeFor[SolveRequest](), []string{"Key", "Problem", "Settings", "Warm", "Keep"}, nil},
		{reflect.TypeFor[SolveReply](), []string{"Key", "Expert", "Result"}, nil},
		{reflect.TypeFor[BackwardRequest](), []string{"Key", "OmegaBar", "Settings", "Problem", "Result"}, nil},
		{reflect.TypeFor[BackwardReply](), []string{"Key", "Expert", "Cotangents"}, nil},
	} {
		t.Run(tc.typ.Name(), func(t *testing.T) {
			known := append(slices.Clone(tc.handled), tc.skipped...)
			var have []string
			for f := range tc.typ.Fields() {
				if !f.IsExported() {
					continue
				}
				have = append(have, f.Name)
				if !slices.Contains(known, f.Name) {
					t.Errorf("%v.%s (%v) is not handled by the codec", tc.typ, f.Name, f.Type)
				}
			}
			for _, name := range known {
				if !slices.Contains(have, name) {
					t.Errorf("%v.%s is listed but no longer exists", tc.typ, name)
				}
			}
		})
	}
}

// TestEveryFieldRoundTrips fills every exported field of the carried
// settings and results with distinct non-zero values and checks that each
// comes back, so that a field listed above but forgotten in the encoder or
// decoder is caught as well.
func TestEveryFieldRoundTrips(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 13))
	fill := func(v any) { fillValue(reflect.ValueOf(v).Elem(), rng) }
	var (
		settings  constraint.Settings
		backward  constraint.BackwardSettings
		result    constraint.Result
		result2   constraint.Result
		cotangent constraint.Cotangents
	)
	fill(&settings)
	fill(&backward)
	fill(&result)
	fill(&result2)
	fill(&cotangent)
	settings.Monitor = nil
	p := smallProblem("allen-cahn", 3, 5)
	for _, m := range []Message{
		&SolveRequest{Key: "a", Problem: p, Settings: settings, Warm: []float64{1, 2, 3}, Keep: true},
		&SolveReply{Key: "b", Expert: "c", Result: result},
		&BackwardRequest{Key: "d", OmegaBar: []float64{4}, Settings: backward, Problem: p, Result: &result2},
		&BackwardReply{Key: "e", Expert: "f", Cotangents: cotangent},
	} {
		for _, o := range []Options{{}, {Compression: CompressNone, NoShuffle: true}} {
			frame, err := Marshal(m, o)
			if err != nil {
				t.Fatal(err)
			}
			got, err := Unmarshal(frame, Limits{})
			if err != nil {
				t.Fatal(err)
			}
			if p, ok := equalBits(got, m); !ok {
				t.Errorf("%v, %s: differs at %s", m.Kind(), optName(o), p)
			}
		}
	}
}

// fillValue sets every exported field reachable from v to a random non-zero
// value. Funcs and interfaces are left alone: the codec does not carry the
// one and rebuilds the other by name.
func fillValue(v reflect.Value, rng *rand.Rand) {
	switch v.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		x := int64(rng.IntN(1<<20) + 1)
		if rng.IntN(2) == 0 {
			x = -x
		}
		v.SetInt(x)
	case reflect.Float64:
		// Raw bits, NaN payloads and infinities included.
		x := math.Float64frombits(rng.Uint64())
		for x == 0 {
			x = math.Float64frombits(rng.Uint64())
		}
		v.SetFloat(x)
	case reflect.Bool:
		v.SetBool(true)
	case reflect.String:
		v.SetString(string(rune('a' + rng.IntN(26))))
	case reflect.Slice:
		n := 1 + rng.IntN(3)
		s := reflect.MakeSlice(v.Type(), n, n)
		for i := range n {
			fillValue(s.Index(i), rng)
		}
		v.Set(s)
	case reflect.Pointer:
		p := reflect.New(v.Type().Elem())
		fillValue(p.Elem(), rng)
		v.Set(p)
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fillValue(v.Field(i), rng)
			}
		}
	case reflect.Func, reflect.Interface:
	default:
		panic("fillValue: unhandled kind " + v.Kind().String())
	}
}

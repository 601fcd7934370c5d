package transport

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/hcmoe/hcmoe/constraint"
	"github.com/hcmoe/hcmoe/pde"
)

func TestRoundTrip(t *testing.T) {
	for _, o := range allOptions() {
		codec, err := NewCodec(o)
		if err != nil {
			t.Fatal(err)
		}
		defer codec.Close()
		for _, m := range testMessages() {
			t.Run(fmt.Sprintf("%s/%v", optName(o), m.Kind()), func(t *testing.T) {
				frame, err := codec.Marshal(m)
				if err != nil {
					t.Fatal(err)
				}
				if frame[6] != mustWire(o.Compression) {
					t.Errorf("compression byte %d for %v", frame[6], o.Compression)
				}
				got, err := codec.Unmarshal(frame, Limits{})
				if err != nil {
					t.Fatal(err)
				}
				if p, ok := equalBits(got, m); !ok {
					t.Errorf("round trip differs at %s", p)
				}
				// The package-level functions read what a codec writes and
				// write the same bytes.
				again, err := Unmarshal(frame, Limits{})
				if err != nil {
					t.Fatal(err)
				}
				if p, ok := equalBits(again, m); !ok {
					t.Errorf("Unmarshal differs at %s", p)
				}
				frame2, err := Marshal(m, o)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(frame, frame2) {
					t.Error("Marshal and Codec.Marshal disagree")
				}
			})
		}
	}
}

func mustWire(c Compression) byte {
	b, err := c.wire()
	if err != nil {
		panic(err)
	}
	return b
}

// TestNilPreserved checks the slices whose nil-ness has a meaning: nil
// weights mean all ones, an absent start fit means none.
func TestNilPreserved(t *testing.T) {
	p := smallProblem("heat", 4, 3)
	p.Start = nil
	for i := range p.Blocks {
		p.Blocks[i].Weights = nil
	}
	p.Blocks[1].Weights = []float64{1, 2, 3, 4}
	frame, err := Marshal(&SolveRequest{Problem: p}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	m, err := Unmarshal(frame, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	got := m.(*SolveRequest)
	if got.Problem.Start != nil {
		t.Error("absent start fit decoded as present")
	}
	for i, b := range got.Problem.Blocks {
		if (b.Weights == nil) != (p.Blocks[i].Weights == nil) {
			t.Errorf("block %d: weights nil = %v, sent nil = %v", i, b.Weights == nil, p.Blocks[i].Weights == nil)
		}
	}
	if got.Warm != nil {
		t.Error("nil warm start decoded as non-nil")
	}
}

// TestNoAliasing checks that a decoded message survives its frame being
// reused, as a NATS receive buffer may be.
func TestNoAliasing(t *testing.T) {
	want := testMessages()[0]
	for _, o := range allOptions() {
		frame, err := Marshal(want, o)
		if err != nil {
			t.Fatal(err)
		}
		m, err := Unmarshal(frame, Limits{})
		if err != nil {
			t.Fatal(err)
		}
		clear(frame)
		if p, ok := equalBits(m, want); !ok {
			t.Errorf("%s: message changed with its frame at %s", optName(o), p)
		}
	}
}

func TestMarshalErrors(t *testing.T) {
	invalid := smallProblem("heat", 4, 1)
	invalid.Blocks[0].Terms[0] = invalid.Blocks[0].Terms[0][:5]
	custom := smallProblem("heat", 4, 1)
	custom.Blocks[0].Residual = unnamed{custom.Blocks[0].Residual}
	for _, tc := range []struct {
		name string
		m    Message
		is   error
	}{
		{"nil", nil, nil},
		{"typed nil", (*SolveReply)(nil), nil},
		{"invalid problem", &SolveRequest{Problem: invalid}, constraint.ErrShape},
		{"invalid backward problem", &BackwardRequest{Problem: invalid}, constraint.ErrShape},
		{"custom residual", &SolveRequest{Problem: custom}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			frame, err := Marshal(tc.m, Options{})
			if err == nil {
				t.Fatalf("no error; frame of %d bytes", len(frame))
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("error %v is not %v", err, tc.is)
			}
		})
	}
}

// unnamed is a residual that pde.NewResidual cannot rebuild.
type unnamed struct{ pde.Residual }

func (unnamed) Name() string { return "no-such-residual" }

// frameFor returns a small uncompressed frame, whose payload bytes are
// its encoding as is.
func frameFor(t *testing.T, m Message, o Options) []byte {
	t.Helper()
	frame, err := Marshal(m, o)
	if err != nil {
		t.Fatal(err)
	}
	return frame
}

// reseal recomputes a frame's checksum after a test edited it.
func reseal(frame []byte) []byte {
	end := len(frame) - trailerLen
	binary.LittleEndian.PutUint32(frame[end:], checksum(frame[:end]))
	return frame
}

func TestCorruptByte(t *testing.T) {
	for _, o := range allOptions() {
		frame := frameFor(t, testMessages()[1], o)
		for i := range frame {
			bad := bytes.Clone(frame)
			bad[i] ^= 0x40
			_, err := Unmarshal(bad, Limits{})
			var ok bool
			switch {
			case i == 4:
				ok = errors.Is(err, ErrVersion)
			case i >= 16 && i < 24: // stored length
				ok = errors.Is(err, ErrTruncated) || errors.Is(err, ErrCorrupt)
			default:
				ok = errors.Is(err, ErrCorrupt)
			}
			if !ok {
				t.Fatalf("%s: byte %d flipped: error %v", optName(o), i, err)
			}
		}
	}
}

func TestTruncated(t *testing.T) {
	for _, o := range allOptions() {
		frame := frameFor(t, testMessages()[0], o)
		for n := range len(frame) {
			_, err := Unmarshal(frame[:n], Limits{})
			if !errors.Is(err, ErrTruncated) {
				t.Fatalf("%s: %d of %d bytes: error %v, want ErrTruncated", optName(o), n, len(frame), err)
			}
		}
	}
}

// TestFrameErrors covers the frame checks one at a time, each on a frame
// whose checksum is made to match so that the check itself is reached.
func TestFrameErrors(t *testing.T) {
	base := frameFor(t, testMessages()[1], Options{Compression: CompressNone})
	edit := func(f func(b []byte) []byte) []byte { return f(bytes.Clone(base)) }
	rawLen := int64(binary.LittleEndian.Uint64(base[8:]))
	for _, tc := range []struct {
		name  string
		frame []byte
		lim   Limits
		is    error
	}{
		{"empty", nil, Limits{}, ErrTruncated},
		{"magic prefix", []byte("HC"), Limits{}, ErrTruncated},
		{"not magic", []byte("HX"), Limits{}, ErrCorrupt},
		{"bad magic", edit(func(b []byte) []byte { b[0] = 'h'; return b }), Limits{}, ErrCorrupt},
		{"version bump", edit(func(b []byte) []byte { b[4]++; return reseal(b) }), Limits{}, ErrVersion},
		{"version zero", edit(func(b []byte) []byte { b[4] = 0; return reseal(b) }), Limits{}, ErrVersion},
		{"unknown kind", edit(func(b []byte) []byte { b[5] = 9; return reseal(b) }), Limits{}, ErrCorrupt},
		{"kind zero", edit(func(b []byte) []byte { b[5] = 0; return reseal(b) }), Limits{}, ErrCorrupt},
		{"wrong kind", edit(func(b []byte) []byte { b[5] = byte(KindBackwardReply); return reseal(b) }), Limits{}, ErrCorrupt},
		{"unknown compression", edit(func(b []byte) []byte { b[6] = 3; return reseal(b) }), Limits{}, ErrCorrupt},
		{"unknown flag", edit(func(b []byte) []byte { b[7] |= 0x80; return reseal(b) }), Limits{}, ErrCorrupt},
		{"trailing bytes", reseal(append(bytes.Clone(base), 0, 0, 0, 0)), Limits{}, ErrCorrupt},
		{"raw length mismatch", edit(func(b []byte) []byte { b[8]++; return reseal(b) }), Limits{}, ErrCorrupt},
		{"checksum", edit(func(b []byte) []byte { b[len(b)-1]++; return b }), Limits{}, ErrCorrupt},
		{"limit", base, Limits{MaxMessageBytes: rawLen - 1}, ErrTooLarge},
		{"huge declared length", edit(func(b []byte) []byte {
			binary.LittleEndian.PutUint64(b[8:], 1<<62)
			return reseal(b)
		}), Limits{}, ErrTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := Unmarshal(tc.frame, tc.lim)
			if !errors.Is(err, tc.is) {
				t.Fatalf("error %v, want %v", err, tc.is)
			}
			if m != nil {
				t.Error("message returned with an error")
			}
		})
	}
	if _, err := Unmarshal(base, Limits{MaxMessageBytes: rawLen}); err != nil {
		t.Errorf("at exactly the limit: %v", err)
	}
}

// TestCompressedLengthMismatch declares a wrong uncompressed length for a
// payload that is otherwise intact: decompression must not go past it, nor
// stop short of it quietly.
func TestCompressedLengthMismatch(t *testing.T) {
	for _, c := range []Compression{CompressZstd, CompressS2} {
		frame := frameFor(t, testMessages()[0], Options{Compression: c})
		raw := binary.LittleEndian.Uint64(frame[8:])
		for _, d := range []int64{-1, 1, -int64(raw) + 1} {
			bad := bytes.Clone(frame)
			binary.LittleEndian.PutUint64(bad[8:], uint64(int64(raw)+d))
			if _, err := Unmarshal(reseal(bad), Limits{}); !errors.Is(err, ErrCorrupt) {
				t.Errorf("%v: declared length off by %d: error %v, want ErrCorrupt", c, d, err)
			}
		}
	}
}

// payloadFrame seals an uncompressed frame around a hand-made payload.
func payloadFrame(kind Kind, flags byte, body []byte) []byte {
	frame := make([]byte, headerLen+len(body)+trailerLen)
	copy(frame[headerLen:], body)
	return sealFrame(frame, header{kind: kind, comp: wireNone, flags: flags, rawLen: uint64(len(body)), storedLen: uint64(len(body))})
}

// TestPayloadErrors feeds payloads that pass every frame check but are
// malformed or oversized inside.
func TestPayloadErrors(t *testing.T) {
	uv := func(vs ...uint64) []byte {
		var b []byte
		for _, v := range vs {
			b = binary.AppendUvarint(b, v)
		}
		return b
	}
	body := func(scalar []byte, floats int) []byte {
		return append(append(uv(uint64(len(scalar))), scalar...), make([]byte, 8*floats)...)
	}
	reply := func(tail []byte) []byte {
		// Key "", Expert "", then the result from Omega on.
		return append(uv(0, 0), tail...)
	}
	resultTail := make([]byte, 4+32) // four zero varints and four zero floats
	for _, tc := range []struct {
		name string
		kind Kind
		body []byte
		lim  Limits
		is   error
	}{
		{"empty payload", KindSolveReply, nil, Limits{}, ErrCorrupt},
		{"scalar length past end", KindSolveReply, uv(100), Limits{}, ErrCorrupt},
		{"partial float", KindSolveReply, append(body(reply(append(uv(0), resultTail...)), 0), 1, 2, 3), Limits{}, ErrCorrupt},
		{"minimal reply", KindSolveReply, body(reply(append(uv(0), resultTail...)), 0), Limits{}, nil},
		{"array past floats", KindSolveReply, body(reply(append(uv(3), resultTail...)), 1), Limits{}, ErrCorrupt},
		{"array beyond limit", KindSolveReply, body(reply(append(uv(1<<40), resultTail...)), 0), Limits{MaxMessageBytes: 1 << 20}, ErrTooLarge},
		{"left-over floats", KindSolveReply, body(reply(append(uv(2), resultTail...)), 2), Limits{}, ErrCorrupt},
		{"left-over scalars", KindSolveReply, body(append(reply(append(uv(0), resultTail...)), 0), 0), Limits{}, ErrCorrupt},
		{"short scalars", KindSolveReply, body(reply(append(uv(0), resultTail[:20]...)), 0), Limits{}, ErrCorrupt},
		{"string past end", KindSolveReply, body(uv(50, 0), 0), Limits{}, ErrCorrupt},
		{"bad varint", KindSolveReply, body(bytes.Repeat([]byte{0xff}, 11), 0), Limits{}, ErrCorrupt},
		{"bad bool", KindSolveRequest, body(append(uv(0), 2), 0), Limits{}, ErrCorrupt},
		{"too many cotangent blocks", KindBackwardReply, body(append(uv(0, 0, 0), uv(1<<40)...), 0), Limits{}, ErrCorrupt},
		{"cotangent blocks beyond budget", KindBackwardReply, body(append(append(uv(0, 0, 0), uv(2001)...), make([]byte, 4000+9)...), 0), Limits{MaxMessageBytes: 4096}, ErrTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := Unmarshal(payloadFrame(tc.kind, 0, tc.body), tc.lim)
			if tc.is == nil {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, tc.is) {
				t.Fatalf("error %v, want %v", err, tc.is)
			}
			if m != nil {
				t.Error("message returned with an error")
			}
		})
	}
}

// TestInvalidProblem sends problems that a careless or foreign sender might
// produce and checks that the receiver refuses them with constraint's
// errors, which Marshal would have raised at the sender.
func TestInvalidProblem(t *testing.T) {
	for _, tc := range []struct {
		name  string
		spoil func(p *constraint.Problem)
		is    []error
	}{
		{"shape", func(p *constraint.Problem) { p.Blocks[1].Aux = p.Blocks[1].Aux[1:] }, []error{ErrCorrupt, constraint.ErrShape}},
		{"non-finite", func(p *constraint.Problem) { p.Blocks[0].Terms[1][3] = nanPayload }, []error{ErrCorrupt, constraint.ErrNonFinite}},
		{"no rows", func(p *constraint.Problem) { p.Blocks = p.Blocks[3:] }, []error{ErrCorrupt, constraint.ErrEmpty}},
		{"unknown residual", func(p *constraint.Problem) { p.Blocks[0].Residual = unnamed{p.Blocks[0].Residual} }, []error{ErrCorrupt}},
		{"unknown parameter", func(p *constraint.Problem) { p.Blocks[0].Residual = extraParam{p.Blocks[0].Residual} }, []error{ErrCorrupt}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := smallProblem("heat", 3, 2)
			tc.spoil(p)
			var e encoder
			e.string("key")
			e.bool(true)
			e.problemBody(p)
			var s constraint.Settings
			e.settings(&s)
			e.floats(nil)
			e.bool(false)
			body := make([]byte, e.bodyLen())
			e.writeBody(body, true)
			_, err := Unmarshal(payloadFrame(KindSolveRequest, flagShuffle, body), Limits{})
			for _, want := range tc.is {
				if !errors.Is(err, want) {
					t.Errorf("error %v is not %v", err, want)
				}
			}
		})
	}
}

// extraParam reports a parameter its residual does not have.
type extraParam struct{ pde.Residual }

func (r extraParam) Params() map[string]float64 {
	p := r.Residual.Params()
	p["zeta"] = 1
	return p
}

func TestParamsOrder(t *testing.T) {
	p := smallProblem("burgers", 2, 1)
	p.Blocks = p.Blocks[2:3] // the Robin block, two parameters
	var e encoder
	e.string("")
	e.bool(true)
	e.problemBody(p)
	var s constraint.Settings
	e.settings(&s)
	e.floats(nil)
	e.bool(false)
	body := make([]byte, e.bodyLen())
	e.writeBody(body, false)
	if _, err := Unmarshal(payloadFrame(KindSolveRequest, 0, body), Limits{}); err != nil {
		t.Fatal(err)
	}
	// Swap the names "a" and "b": the parameters are then out of order.
	i := bytes.Index(body, []byte{1, 'a'})
	j := bytes.Index(body, []byte{1, 'b'})
	if i < 0 || j < 0 {
		t.Fatal("parameter names not found")
	}
	body[i+1], body[j+1] = 'b', 'a'
	if _, err := Unmarshal(payloadFrame(KindSolveRequest, 0, body), Limits{}); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("error %v, want ErrCorrupt", err)
	}
}

func TestCodecConcurrent(t *testing.T) {
	msgs := testMessages()
	for _, o := range allOptions() {
		codec, err := NewCodec(o)
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		errs := make(chan error, 8*len(msgs))
		for g := range 8 {
			wg.Go(func() {
				for i := range 4 * len(msgs) {
					m := msgs[(g+i)%len(msgs)]
					frame, err := codec.Marshal(m)
					if err != nil {
						errs <- err
						return
					}
					got, err := codec.Unmarshal(frame, Limits{})
					if err != nil {
						errs <- err
						return
					}
					if p, ok := equalBits(got, m); !ok {
						errs <- fmt.Errorf("%v differs at %s", m.Kind(), p)
						return
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Errorf("%s: %v", optName(o), err)
		}
		if err := codec.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestCodecClosed(t *testing.T) {
	for _, o := range allOptions() {
		codec, err := NewCodec(o)
		if err != nil {
			t.Fatal(err)
		}
		frame := frameFor(t, testMessages()[1], o)
		if err := codec.Close(); err != nil {
			t.Fatal(err)
		}
		if err := codec.Close(); err != nil {
			t.Fatal("second Close:", err)
		}
		_, errM := codec.Marshal(testMessages()[1])
		_, errU := codec.Unmarshal(frame, Limits{})
		if !errors.Is(errM, ErrClosed) || !errors.Is(errU, ErrClosed) {
			t.Errorf("%s after Close: %v, %v", optName(o), errM, errU)
		}
	}
}

func TestParseCompression(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Compression
		ok   bool
	}{
		{"zstd", CompressZstd, true},
		{"s2", CompressS2, true},
		{"none", CompressNone, true},
		{"", 0, false},
		{"gzip", 0, false},
		{"ZSTD", 0, false},
	} {
		got, err := ParseCompression(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseCompression(%q) = %v, %v", tc.in, got, err)
		}
		if tc.ok {
			text, err := got.MarshalText()
			if err != nil || string(text) != tc.in {
				t.Errorf("%v.MarshalText() = %q, %v", got, text, err)
			}
			var c Compression
			if err := c.UnmarshalText(text); err != nil || c != got {
				t.Errorf("UnmarshalText(%q) = %v, %v", text, c, err)
			}
		}
	}
	for _, o := range []Options{{Compression: 9}, {Level: -1}, {Level: 23}} {
		if _, err := NewCodec(o); err == nil {
			t.Errorf("NewCodec accepted %+v", o)
		}
	}
}

func TestShuffleInverse(t *testing.T) {
	arrays := [][]float64{{1, -2, nanPayload}, {}, {0.5}, {3, 4, 5, 6, 7}}
	nf := 9
	sec := make([]byte, 8*nf)
	shuffleInto(sec, arrays, nf)
	off := 0
	for _, a := range arrays {
		got := make([]float64, len(a))
		unshuffle(got, sec, nf, off)
		if p, ok := equalBits(got, a); !ok {
			t.Errorf("array at %d: %s", off, p)
		}
		off += len(a)
	}
	// Byte 7 of every value sits in the last plane.
	if sec[7*nf] != 0x3f || sec[7*nf+1] != 0xc0 {
		t.Errorf("top bytes % x", sec[7*nf:])
	}
}

package transport

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"testing"
	"time"
)

var t0 = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

func testFrame(n int, seed uint64) []byte {
	rng := rand.New(rand.NewPCG(seed, 3))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	copy(b, frameMagic)
	return b
}

func TestSplit(t *testing.T) {
	for _, tc := range []struct {
		total, max, count int
	}{
		{100, 100, 1},
		{100, 1000, 1},
		{101, 100, 2},
		{1000, ChunkOverhead + 1, 1000},
		{1000, ChunkOverhead + 100, 10},
		{1001, ChunkOverhead + 100, 11},
		{40, ChunkOverhead + 3, 14},
		{1 << 20, 64 << 10, 17},
	} {
		frame := testFrame(tc.total, uint64(tc.total))
		chunks, err := SplitStream(frame, tc.max, 42)
		if err != nil {
			t.Fatalf("%d bytes in %d: %v", tc.total, tc.max, err)
		}
		if len(chunks) != tc.count {
			t.Errorf("%d bytes in %d: %d chunks, want %d", tc.total, tc.max, len(chunks), tc.count)
		}
		if len(chunks) == 1 {
			if &chunks[0][0] != &frame[0] {
				t.Errorf("%d bytes in %d: a frame that fits was copied", tc.total, tc.max)
			}
			continue
		}
		lens := map[int]bool{}
		var joined []byte
		for i, c := range chunks {
			if len(c) > tc.max {
				t.Errorf("%d bytes in %d: chunk %d has %d bytes", tc.total, tc.max, i, len(c))
			}
			if len(c) <= ChunkOverhead {
				t.Errorf("%d bytes in %d: chunk %d is empty", tc.total, tc.max, i)
			}
			lens[len(c)] = true
			joined = append(joined, c[ChunkOverhead:]...)
		}
		if len(lens) > 2 {
			t.Errorf("%d bytes in %d: chunk sizes %v not even", tc.total, tc.max, lens)
		}
		if !bytes.Equal(joined, frame) {
			t.Errorf("%d bytes in %d: chunks do not join to the frame", tc.total, tc.max)
		}
	}
	if _, err := Split(testFrame(100, 1), ChunkOverhead); err == nil {
		t.Error("no error for a limit that leaves no room for data")
	}
}

func TestSplitIDs(t *testing.T) {
	frame := testFrame(500, 1)
	a, err := Split(frame, 100)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Split(frame, 100)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(a[0][5:13], b[0][5:13]) {
		t.Error("two splits share a stream id")
	}
}

// step is one Add in a reassembly script.
type step struct {
	stream int           // index into the script's frames
	chunk  int           // chunk index in that frame's split
	at     time.Duration // since t0
	edit   func([]byte) []byte
	want   int   // index of the frame Add must return, or -1 for none
	is     error // the error Add must return
}

func TestReassemble(t *testing.T) {
	frames := [][]byte{testFrame(1000, 1), testFrame(777, 2), testFrame(50, 3)}
	const max = ChunkOverhead + 100 // 10, 8 and 1 chunks
	setU32 := func(off int, v uint32) func([]byte) []byte {
		return func(c []byte) []byte { c = bytes.Clone(c); binary.LittleEndian.PutUint32(c[off:], v); return c }
	}
	setU64 := func(off int, v uint64) func([]byte) []byte {
		return func(c []byte) []byte { c = bytes.Clone(c); binary.LittleEndian.PutUint64(c[off:], v); return c }
	}
	inOrder := func(s, n int) []step {
		var out []step
		for i := range n {
			out = append(out, step{stream: s, chunk: i, want: -1})
		}
		out[n-1].want = s
		return out
	}
	for _, tc := range []struct {
		name  string
		lim   ReassemblerLimits
		steps []step
		// left is the number of streams pending at the end.
		left int
	}{
		{name: "in order", steps: inOrder(0, 10)},
		{name: "whole frame", steps: []step{{stream: 2, chunk: 0, want: 2}}},
		{name: "reverse", steps: []step{
			{stream: 1, chunk: 7, want: -1}, {stream: 1, chunk: 6, want: -1}, {stream: 1, chunk: 5, want: -1}, {stream: 1, chunk: 4, want: -1},
			{stream: 1, chunk: 3, want: -1}, {stream: 1, chunk: 2, want: -1}, {stream: 1, chunk: 1, want: -1}, {stream: 1, chunk: 0, want: 1},
		}},
		{name: "interleaved", steps: []step{
			{stream: 0, chunk: 3, want: -1}, {stream: 1, chunk: 0, want: -1}, {stream: 2, chunk: 0, want: 2}, {stream: 0, chunk: 0, want: -1},
			{stream: 1, chunk: 1, want: -1}, {stream: 1, chunk: 2, want: -1}, {stream: 0, chunk: 9, want: -1}, {stream: 1, chunk: 7, want: -1},
			{stream: 0, chunk: 1, want: -1}, {stream: 0, chunk: 2, want: -1}, {stream: 1, chunk: 3, want: -1}, {stream: 0, chunk: 4, want: -1},
			{stream: 1, chunk: 4, want: -1}, {stream: 1, chunk: 5, want: -1}, {stream: 0, chunk: 5, want: -1}, {stream: 0, chunk: 6, want: -1},
			{stream: 1, chunk: 6, want: 1}, {stream: 0, chunk: 7, want: -1}, {stream: 0, chunk: 8, want: 0},
		}},
		{name: "duplicate", steps: []step{
			{stream: 1, chunk: 0, want: -1}, {stream: 1, chunk: 1, want: -1}, {stream: 1, chunk: 1, want: -1, is: ErrDuplicate},
			{stream: 1, chunk: 2, want: -1}, {stream: 1, chunk: 3, want: -1}, {stream: 1, chunk: 4, want: -1}, {stream: 1, chunk: 5, want: -1},
			{stream: 1, chunk: 6, want: -1}, {stream: 1, chunk: 0, want: -1, is: ErrDuplicate}, {stream: 1, chunk: 7, want: 1},
		}},
		{name: "missing chunk", left: 1, steps: []step{
			{stream: 1, chunk: 0, want: -1}, {stream: 1, chunk: 1, want: -1}, {stream: 1, chunk: 2, want: -1},
			{stream: 1, chunk: 4, want: -1}, {stream: 1, chunk: 5, want: -1}, {stream: 1, chunk: 6, want: -1}, {stream: 1, chunk: 7, want: -1},
		}},
		{name: "expired", lim: ReassemblerLimits{TTL: time.Second}, steps: []step{
			{stream: 1, chunk: 0, want: -1}, {stream: 1, chunk: 1, want: -1}, {stream: 1, chunk: 2, at: 999 * time.Millisecond, want: -1},
			// The stream is gone: its chunks start a new one that lacks 0..2.
			{stream: 1, chunk: 3, at: time.Second, want: -1}, {stream: 1, chunk: 4, at: time.Second, want: -1},
			{stream: 1, chunk: 5, at: time.Second, want: -1}, {stream: 1, chunk: 6, at: time.Second, want: -1},
			{stream: 1, chunk: 7, at: time.Second, want: -1},
		}, left: 1},
		{name: "too many streams", lim: ReassemblerLimits{MaxStreams: 1}, steps: []step{
			{stream: 0, chunk: 0, want: -1}, {stream: 1, chunk: 0, want: -1, is: ErrTooLarge},
			{stream: 2, chunk: 0, want: 2}, // whole frames need no stream
		}, left: 1},
		{name: "pending bytes", lim: ReassemblerLimits{MaxPending: 1700}, steps: []step{
			{stream: 0, chunk: 0, want: -1}, {stream: 1, chunk: 0, want: -1, is: ErrTooLarge},
		}, left: 1},
		{name: "frame too large", lim: ReassemblerLimits{MaxFrameBytes: 999}, steps: []step{
			{stream: 0, chunk: 0, want: -1, is: ErrTooLarge}, {stream: 1, chunk: 0, want: -1},
		}, left: 1},
		{name: "changed total", steps: []step{
			{stream: 0, chunk: 0, want: -1}, {stream: 0, chunk: 1, want: -1, edit: setU64(21, 991), is: ErrChunk},
			// A total of 991 keeps chunks of 100 bytes, so the chunk is
			// consistent on its own and the stream is dropped: a retry of chunk 1 starts afresh.
			{stream: 0, chunk: 1, want: -1},
		}, left: 1},
		{name: "changed count", steps: []step{
			// 11 chunks of 1000 bytes would be 91 bytes long: the chunk is
			// refused on its length and the stream kept.
			{stream: 0, chunk: 0, want: -1}, {stream: 0, chunk: 1, want: -1, edit: setU32(17, 11), is: ErrChunk},
		}, left: 1},
		{name: "index past count", steps: []step{{stream: 0, chunk: 0, want: -1, edit: setU32(13, 10), is: ErrChunk}}},
		{name: "zero count", steps: []step{{stream: 0, chunk: 0, want: -1, edit: setU32(17, 0), is: ErrChunk}}},
		{name: "count past total", steps: []step{{stream: 2, chunk: 0, want: -1, edit: func(c []byte) []byte {
			h := chunkHeader(9, 0, 60, 50)
			return append(h, c...)
		}, is: ErrChunk}}},
		{name: "empty last chunk", steps: []step{{stream: 2, chunk: 0, want: -1, edit: func(c []byte) []byte {
			// 4 chunks of ⌈9/4⌉ = 3 bytes would leave the last one empty.
			return append(chunkHeader(9, 0, 4, 9), 1, 2, 3)
		}, is: ErrChunk}}},
		{name: "oversized chunk", steps: []step{{stream: 0, chunk: 0, want: -1, edit: func(c []byte) []byte { return append(bytes.Clone(c), 0) }, is: ErrChunk}}},
		{name: "undersized chunk", steps: []step{{stream: 0, chunk: 9, want: -1, edit: func(c []byte) []byte { return c[:len(c)-1] }, is: ErrChunk}}},
		{name: "truncated header", steps: []step{{stream: 0, chunk: 0, want: -1, edit: func(c []byte) []byte { return c[:ChunkOverhead-1] }, is: ErrTruncated}}},
		{name: "version", steps: []step{{stream: 0, chunk: 0, want: -1, edit: func(c []byte) []byte { c = bytes.Clone(c); c[4] = 2; return c }, is: ErrVersion}}},
		{name: "single chunk stream", steps: []step{{stream: 2, chunk: 0, want: 2, edit: func(c []byte) []byte {
			return append(chunkHeader(5, 0, 1, uint64(len(c))), c...)
		}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := NewReassembler(tc.lim)
			split := make([][][]byte, len(frames))
			for i, f := range frames {
				var err error
				if split[i], err = SplitStream(f, max, uint64(i+1)); err != nil {
					t.Fatal(err)
				}
			}
			for si, s := range tc.steps {
				c := split[s.stream][s.chunk]
				if s.edit != nil {
					c = s.edit(c)
				}
				got, err := r.Add(c, t0.Add(s.at))
				if !errors.Is(err, s.is) || (s.is == nil && err != nil) {
					t.Fatalf("step %d: error %v, want %v", si, err, s.is)
				}
				switch {
				case s.want < 0 && got != nil:
					t.Fatalf("step %d: frame of %d bytes returned early", si, len(got))
				case s.want >= 0 && !bytes.Equal(got, frames[s.want]):
					t.Fatalf("step %d: returned %d bytes, want frame %d", si, len(got), s.want)
				}
			}
			if n, bytes := r.Pending(); n != tc.left {
				t.Errorf("%d streams (%d bytes) pending, want %d", n, bytes, tc.left)
			}
			// Every stream expires in the end and releases its bytes.
			lim := tc.lim.withDefaults()
			if n := r.Expire(t0.Add(time.Hour + lim.TTL)); n != tc.left {
				t.Errorf("expired %d streams, want %d", n, tc.left)
			}
			if n, bytes := r.Pending(); n != 0 || bytes != 0 {
				t.Errorf("after expiry %d streams, %d bytes pending", n, bytes)
			}
		})
	}
}

func chunkHeader(id uint64, index, count uint32, total uint64) []byte {
	h := make([]byte, ChunkOverhead)
	copy(h, chunkMagic)
	h[4] = chunkVersion
	binary.LittleEndian.PutUint64(h[5:], id)
	binary.LittleEndian.PutUint32(h[13:], index)
	binary.LittleEndian.PutUint32(h[17:], count)
	binary.LittleEndian.PutUint64(h[21:], total)
	return h
}

// TestReassembleShuffled sends the chunks of several real frames in a
// random interleaving with random duplicates and decodes what comes out.
func TestReassembleShuffled(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 8))
	msgs := testMessages()
	var frames [][]byte
	var chunks [][]byte
	for _, m := range msgs {
		f := frameFor(t, m, Options{Compression: CompressNone})
		frames = append(frames, f)
		c, err := Split(f, 64)
		if err != nil {
			t.Fatal(err)
		}
		if len(c) < 2 {
			t.Fatalf("%v frame of %d bytes not split", m.Kind(), len(f))
		}
		chunks = append(chunks, c...)
		for range 3 {
			chunks = append(chunks, c[rng.IntN(len(c))])
		}
	}
	rng.Shuffle(len(chunks), func(i, j int) { chunks[i], chunks[j] = chunks[j], chunks[i] })
	r := NewReassembler(ReassemblerLimits{})
	done := 0
	for _, c := range chunks {
		f, err := r.Add(c, t0)
		if errors.Is(err, ErrDuplicate) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if f == nil {
			continue
		}
		m, err := Unmarshal(f, Limits{})
		if err != nil {
			t.Fatal(err)
		}
		if p, ok := equalBits(m, msgs[indexOf(frames, f)]); !ok {
			t.Errorf("%v differs at %s", m.Kind(), p)
		}
		done++
	}
	// Duplicates that arrive after their stream completed start streams
	// that never do; the rest must all have come out.
	if done != len(msgs) {
		t.Errorf("%d of %d frames reassembled", done, len(msgs))
	}
}

func indexOf(frames [][]byte, f []byte) int {
	for i, g := range frames {
		if bytes.Equal(f, g) {
			return i
		}
	}
	return -1
}

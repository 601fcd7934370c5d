package transport

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"testing"
	"time"
)

// fuzzLimits keep each input's memory small; the limit logic is exercised
// all the same.
var fuzzLimits = Limits{MaxMessageBytes: 1 << 20}

// checkDecodeErr requires err to be classified by one of the decoding
// sentinels: from an in-memory frame every failure is the input's fault.
func checkDecodeErr(t *testing.T, err error) {
	t.Helper()
	for _, e := range []error{ErrTruncated, ErrCorrupt, ErrVersion, ErrTooLarge} {
		if errors.Is(err, e) {
			return
		}
	}
	t.Fatalf("unclassified error: %v", err)
}

// FuzzUnmarshal decodes arbitrary frames. With fix set, the stored length
// and checksum are made to match the input first: a mutation would almost
// never get past a CRC-32C on its own, and the payload decoders behind it
// are what most needs fuzzing.
func FuzzUnmarshal(f *testing.F) {
	for _, o := range allOptions() {
		for _, m := range testMessages() {
			frame, err := Marshal(m, o)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(frame, false)
			f.Add(frame, true)
		}
	}
	// A codec per option set: the package-level Marshal would build a zstd
	// encoder per call, which slows every execution down.
	codecs := map[Options]*Codec{}
	for _, c := range []Compression{CompressZstd, CompressS2, CompressNone} {
		for _, noShuffle := range []bool{false, true} {
			o := Options{Compression: c, NoShuffle: noShuffle}
			codec, err := NewCodec(o)
			if err != nil {
				f.Fatal(err)
			}
			codecs[o] = codec
			f.Cleanup(func() { codec.Close() })
		}
	}
	codec := codecs[Options{}]
	f.Fuzz(func(t *testing.T, data []byte, fix bool) {
		if fix && len(data) >= FrameOverhead {
			data = bytes.Clone(data)
			binary.LittleEndian.PutUint64(data[16:], uint64(len(data)-FrameOverhead))
			reseal(data)
		}
		m, err := codec.Unmarshal(data, fuzzLimits)
		if err != nil {
			if m != nil {
				t.Fatal("message returned with an error")
			}
			checkDecodeErr(t, err)
			return
		}
		// What decoded must survive marshalling and decoding again, under
		// the frame's own options and under the plainest ones.
		comp := map[byte]Compression{wireNone: CompressNone, wireZstd: CompressZstd, wireS2: CompressS2}[data[6]]
		for _, o := range []Options{{Compression: comp, NoShuffle: data[7]&flagShuffle == 0}, {Compression: CompressNone, NoShuffle: true}} {
			frame, err := codecs[o].Marshal(m)
			if err != nil {
				t.Fatalf("re-marshal with %s: %v", optName(o), err)
			}
			again, err := codec.Unmarshal(frame, Limits{})
			if err != nil {
				t.Fatalf("decoding the re-marshalled frame (%s): %v", optName(o), err)
			}
			if p, ok := equalBits(again, m); !ok {
				t.Fatalf("re-marshalled %v differs at %s", m.Kind(), p)
			}
		}
	})
}

// reassemblyLimits are small so that the fuzzer reaches every bound.
var reassemblyLimits = ReassemblerLimits{MaxStreams: 4, MaxPending: 1 << 14, MaxFrameBytes: 1 << 13, TTL: 10 * time.Second}

// records encodes chunks for FuzzReassemble: each one as a byte of seconds
// to wait before it, a uint16 length and its bytes.
func records(wait []byte, chunks [][]byte) []byte {
	var out []byte
	for i, c := range chunks {
		out = append(out, wait[i%len(wait)])
		out = binary.LittleEndian.AppendUint16(out, uint16(len(c)))
		out = append(out, c...)
	}
	return out
}

// FuzzReassemble feeds a Reassembler arbitrary chunk sequences and checks
// that it stays within its limits and classifies every refusal.
func FuzzReassemble(f *testing.F) {
	rng := rand.New(rand.NewPCG(1, 1))
	for _, m := range testMessages() {
		frame, err := Marshal(m, Options{Compression: CompressNone})
		if err != nil {
			f.Fatal(err)
		}
		if int64(len(frame)) > reassemblyLimits.MaxFrameBytes {
			frame = frame[:reassemblyLimits.MaxFrameBytes]
		}
		for _, max := range []int{40, 100, 1000} {
			chunks, err := SplitStream(frame, max, rng.Uint64()%4)
			if err != nil {
				f.Fatal(err)
			}
			rng.Shuffle(len(chunks), func(i, j int) { chunks[i], chunks[j] = chunks[j], chunks[i] })
			f.Add(records([]byte{0}, chunks))
			f.Add(records([]byte{0, 3, 0, 8}, append(chunks, chunks[0])))
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r := NewReassembler(reassemblyLimits)
		now := t0
		for len(data) >= 3 {
			now = now.Add(time.Duration(data[0]) * time.Second)
			n := int(binary.LittleEndian.Uint16(data[1:]))
			data = data[3:]
			n = min(n, len(data))
			c := data[:n]
			data = data[n:]
			got, err := r.Add(c, now)
			switch {
			case err != nil:
				if got != nil {
					t.Fatal("frame returned with an error")
				}
				if !errors.Is(err, ErrTruncated) && !errors.Is(err, ErrVersion) && !errors.Is(err, ErrTooLarge) &&
					!errors.Is(err, ErrChunk) && !errors.Is(err, ErrDuplicate) {
					t.Fatalf("unclassified error: %v", err)
				}
			case got != nil && len(c) >= len(chunkMagic) && string(c[:4]) == chunkMagic:
				if int64(len(got)) > reassemblyLimits.MaxFrameBytes {
					t.Fatalf("frame of %d bytes past the limit", len(got))
				}
			}
			streams, pending := r.Pending()
			if streams > reassemblyLimits.MaxStreams || pending > reassemblyLimits.MaxPending || pending < 0 {
				t.Fatalf("%d streams, %d bytes pending", streams, pending)
			}
		}
		r.Expire(now.Add(reassemblyLimits.TTL))
		if streams, pending := r.Pending(); streams != 0 || pending != 0 {
			t.Fatalf("after expiry %d streams, %d bytes pending", streams, pending)
		}
	})
}

// FuzzSplitReassemble splits arbitrary frames, delivers the chunks in an
// order and with duplicates the input picks, then the rest, and requires
// the frame back exactly once.
func FuzzSplitReassemble(f *testing.F) {
	f.Add([]byte("HCMO frame bytes of some length"), uint16(31), []byte{3, 1, 1, 0})
	f.Add(bytes.Repeat([]byte{7}, 1000), uint16(100), []byte{9, 8, 7})
	f.Add([]byte{1}, uint16(0), []byte{})
	f.Fuzz(func(t *testing.T, frame []byte, max uint16, order []byte) {
		chunks, err := SplitStream(frame, int(max), 99)
		if err != nil {
			if len(frame) <= int(max) || int(max) > ChunkOverhead {
				t.Fatalf("split %d bytes at %d: %v", len(frame), max, err)
			}
			return
		}
		for _, c := range chunks {
			if len(chunks) > 1 && len(c) > int(max) {
				t.Fatalf("chunk of %d bytes, limit %d", len(c), max)
			}
		}
		if len(chunks) == 1 && len(frame) >= 4 && string(frame[:4]) == chunkMagic {
			return // a frame that looks like a chunk is no frame of ours
		}
		r := NewReassembler(ReassemblerLimits{})
		sent := make([]bool, len(chunks))
		var out [][]byte
		deliver := func(i int) {
			got, err := r.Add(chunks[i], t0)
			switch {
			case errors.Is(err, ErrDuplicate) && sent[i] && len(chunks) > 1:
			case err != nil:
				t.Fatalf("chunk %d of %d: %v", i, len(chunks), err)
			case got != nil:
				out = append(out, got)
			}
			sent[i] = true
		}
		for _, b := range order {
			if len(out) > 0 {
				break // later chunks would start a new stream
			}
			deliver(int(b) % len(chunks))
		}
		for i := range chunks {
			if !sent[i] && len(out) == 0 {
				deliver(i)
			}
		}
		if len(out) != 1 || !bytes.Equal(out[0], frame) {
			t.Fatalf("%d frames out of %d chunks", len(out), len(chunks))
		}
	})
}

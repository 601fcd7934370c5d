package transport

import (
	"encoding/binary"
	"fmt"
	"testing"

	"github.com/hcmoe/hcmoe/constraint"
	"github.com/hcmoe/hcmoe/internal/testproblem"
)

// BenchmarkSolveRequest marshals and unmarshals a SolveRequest carrying
// the term matrices of a real expert problem (N = 16 and 64, 20 000
// interior rows). MB/s counts uncompressed payload bytes; ratio is payload
// bytes over frame bytes.
func BenchmarkSolveRequest(b *testing.B) {
	for _, size := range []struct{ dt, dx int }{{4, 4}, {8, 8}} {
		p := testproblem.DiffusionSorption(20000, size.dt, size.dx, 1)
		m := &SolveRequest{Key: "run/0/expert-0", Problem: p, Settings: constraint.Settings{Method: constraint.Dense}, Keep: true}
		for _, o := range []Options{
			{Compression: CompressZstd},
			{Compression: CompressZstd, NoShuffle: true},
			{Compression: CompressZstd, Level: 7},
			{Compression: CompressZstd, Level: 7, NoShuffle: true},
			{Compression: CompressS2},
			{Compression: CompressS2, NoShuffle: true},
			{Compression: CompressNone, NoShuffle: true},
		} {
			codec, err := NewCodec(o)
			if err != nil {
				b.Fatal(err)
			}
			frame, err := codec.Marshal(m)
			if err != nil {
				b.Fatal(err)
			}
			raw := int64(binary.LittleEndian.Uint64(frame[8:]))
			ratio := float64(raw) / float64(len(frame))
			name := fmt.Sprintf("N=%d/%s", p.N, optName(o))
			b.Run(name+"/encode", func(b *testing.B) {
				b.SetBytes(raw)
				b.ReportAllocs()
				for b.Loop() {
					if _, err := codec.Marshal(m); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(ratio, "ratio")
				b.ReportMetric(float64(len(frame)), "frame-bytes")
			})
			b.Run(name+"/decode", func(b *testing.B) {
				b.SetBytes(raw)
				b.ReportAllocs()
				for b.Loop() {
					if _, err := codec.Unmarshal(frame, Limits{}); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(ratio, "ratio")
			})
			codec.Close()
		}
	}
}

// BenchmarkReassemble splits a 30 MB frame for a 1 MiB max_payload and
// puts it back together.
func BenchmarkReassemble(b *testing.B) {
	frame := testFrame(30<<20, 1)
	r := NewReassembler(ReassemblerLimits{})
	b.SetBytes(int64(len(frame)))
	for b.Loop() {
		chunks, err := Split(frame, 1<<20)
		if err != nil {
			b.Fatal(err)
		}
		var out []byte
		for _, c := range chunks {
			if out, err = r.Add(c, t0); err != nil {
				b.Fatal(err)
			}
		}
		if len(out) != len(frame) {
			b.Fatal("not reassembled")
		}
	}
}

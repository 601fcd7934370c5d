package transport

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"math/rand/v2"
	"sync"
	"time"
)

// A frame larger than a NATS server's max_payload travels as chunks, each
// a header and a contiguous slice of the frame:
//
//	offset size
//	0      4    magic "HCMC"
//	4      1    chunk format version (1)
//	5      8    stream id, uint64 little-endian
//	13     4    index, uint32 little-endian
//	17     4    count, uint32 little-endian
//	21     8    total frame length, uint64 little-endian
//	29     n    frame bytes [index·per, min((index+1)·per, total)),
//	            per = ⌈total/count⌉
//
// The chunk length follows from (total, count, index), so a receiver can
// check every chunk on its own and place it without an offset field.
// Chunks carry no checksum: the frame's own checksum covers the reassembled
// bytes end to end. A frame that fits in one message is sent as is: its
// magic "HCMO" tells it from a chunk, and it costs no header at all.
const (
	chunkMagic   = "HCMC"
	chunkVersion = 1
	// ChunkOverhead is the header size of a chunk: Split's maxBytes must
	// exceed it.
	ChunkOverhead = 29
)

// Errors returned by the Reassembler besides ErrTruncated, ErrVersion and
// ErrTooLarge.
var (
	// ErrChunk reports a chunk whose header contradicts itself or the
	// other chunks of its stream, or whose length is not the one its
	// header implies. The stream it names is dropped.
	ErrChunk = errors.New("inconsistent chunk")
	// ErrDuplicate reports a chunk already received. The stream is kept.
	ErrDuplicate = errors.New("duplicate chunk")
)

// Split returns frame as messages of at most maxBytes bytes each: frame itself
// when it fits, else chunks of a new random stream id. The chunks share one
// allocation.
func Split(frame []byte, maxBytes int) ([][]byte, error) {
	return SplitStream(frame, maxBytes, rand.Uint64())
}

// SplitStream is Split with a stream id of the caller's choosing; ids must
// not repeat among the streams that one Reassembler holds at once.
func SplitStream(frame []byte, maxBytes int, id uint64) ([][]byte, error) {
	if len(frame) <= maxBytes {
		return [][]byte{frame}, nil
	}
	if maxBytes <= ChunkOverhead {
		return nil, fmt.Errorf("transport: split: limit of %d bytes leaves no room after the %d-byte chunk header", maxBytes, ChunkOverhead)
	}
	total := len(frame)
	room := maxBytes - ChunkOverhead
	count := (total + room - 1) / room
	if uint64(count) > math.MaxUint32 {
		return nil, fmt.Errorf("transport: split: %d chunks of %d bytes, more than a header can count", count, maxBytes)
	}
	// Evening out the chunks keeps the last from being a runt; with
	// count = ⌈total/room⌉, per ≤ room and (count−1)·per < total, so no
	// chunk is empty.
	per := (total + count - 1) / count
	buf := make([]byte, count*ChunkOverhead+total)
	out := make([][]byte, count)
	for i := range count {
		lo, hi := i*per, min((i+1)*per, total)
		n := ChunkOverhead + hi - lo
		c := buf[:n:n]
		buf = buf[n:]
		copy(c, chunkMagic)
		c[4] = chunkVersion
		binary.LittleEndian.PutUint64(c[5:], id)
		binary.LittleEndian.PutUint32(c[13:], uint32(i))
		binary.LittleEndian.PutUint32(c[17:], uint32(count))
		binary.LittleEndian.PutUint64(c[21:], uint64(total))
		copy(c[ChunkOverhead:], frame[lo:hi])
		out[i] = c
	}
	return out, nil
}

// Defaults of ReassemblerLimits.
const (
	DefaultMaxStreams    = 64
	DefaultMaxPending    = 2 << 30
	DefaultChunkTTL      = time.Minute
	defaultMaxFrameBytes = DefaultMaxMessageBytes + DefaultMaxMessageBytes/64
)

// ReassemblerLimits bounds a Reassembler's memory. Zero fields take the
// defaults.
type ReassemblerLimits struct {
	// MaxStreams bounds the incomplete streams held at once. Default
	// DefaultMaxStreams.
	MaxStreams int
	// MaxPending bounds the bytes reserved for incomplete streams, each
	// stream reserving its declared total at its first chunk. Default
	// DefaultMaxPending.
	MaxPending int64
	// MaxFrameBytes bounds one stream's declared total. Default: the
	// default Limits.MaxMessageBytes plus 1/64 for incompressible
	// payloads and the frame header.
	MaxFrameBytes int64
	// TTL is how long a stream may take from its first chunk to its last
	// before it is dropped. Default DefaultChunkTTL.
	TTL time.Duration
}

func (l ReassemblerLimits) withDefaults() ReassemblerLimits {
	if l.MaxStreams <= 0 {
		l.MaxStreams = DefaultMaxStreams
	}
	if l.MaxPending <= 0 {
		l.MaxPending = DefaultMaxPending
	}
	if l.MaxFrameBytes <= 0 {
		l.MaxFrameBytes = defaultMaxFrameBytes
	}
	if l.TTL <= 0 {
		l.TTL = DefaultChunkTTL
	}
	return l
}

// Reassembler rebuilds frames from chunks that arrive in any order,
// interleaved across streams. It is safe for concurrent use.
//
// Time is passed in rather than read, so that expiry is deterministic under
// test; callers pass time.Now().
type Reassembler struct {
	lim ReassemblerLimits

	mu      sync.Mutex
	streams map[uint64]*stream
	pending int64 // bytes reserved by streams
}

type stream struct {
	count, total int
	buf          []byte
	have         []bool
	got          int
	deadline     time.Time
}

// NewReassembler returns a Reassembler bounded by lim.
func NewReassembler(lim ReassemblerLimits) *Reassembler {
	return &Reassembler{lim: lim.withDefaults(), streams: make(map[uint64]*stream)}
}

// Add takes one message received at now. It returns a whole frame when
// data is one (it does not start with the chunk magic) or when data
// completes a stream, and nil while a stream is incomplete. A returned
// frame may share memory with data.
//
// A late duplicate of a completed stream's chunk starts a stream that never
// completes; it costs its reservation until the TTL drops it.
func (r *Reassembler) Add(data []byte, now time.Time) ([]byte, error) {
	if len(data) < len(chunkMagic) || string(data[:len(chunkMagic)]) != chunkMagic {
		return data, nil
	}
	if len(data) < ChunkOverhead {
		return nil, fmt.Errorf("transport: chunk: %w: %d bytes, header needs %d", ErrTruncated, len(data), ChunkOverhead)
	}
	if data[4] != chunkVersion {
		return nil, fmt.Errorf("transport: chunk: %w: version %d, this build reads %d", ErrVersion, data[4], chunkVersion)
	}
	id := binary.LittleEndian.Uint64(data[5:])
	index := uint64(binary.LittleEndian.Uint32(data[13:]))
	count := uint64(binary.LittleEndian.Uint32(data[17:]))
	total := binary.LittleEndian.Uint64(data[21:])
	body := data[ChunkOverhead:]

	if total > uint64(r.lim.MaxFrameBytes) || total > math.MaxInt {
		return nil, fmt.Errorf("transport: chunk of stream %016x: %w: frame of %d bytes, limit %d", id, ErrTooLarge, total, r.lim.MaxFrameBytes)
	}
	if count == 0 || count > total || index >= count {
		return nil, fmt.Errorf("transport: chunk of stream %016x: %w: index %d of %d chunks for %d bytes", id, ErrChunk, index, count, total)
	}
	per := (total + count - 1) / count
	if hi, lo := bits.Mul64(count-1, per); hi != 0 || lo >= total {
		return nil, fmt.Errorf("transport: chunk of stream %016x: %w: %d chunks of %d bytes leave the last empty", id, ErrChunk, count, total)
	}
	lo := index * per
	hi := min(lo+per, total)
	if uint64(len(body)) != hi-lo {
		return nil, fmt.Errorf("transport: chunk %d/%d of stream %016x: %w: %d bytes, want %d", index, count, id, ErrChunk, len(body), hi-lo)
	}
	if count == 1 {
		return body, nil
	}

	r.mu.Lock()
	defer r.mu.Unlock()
	r.expire(now)
	s := r.streams[id]
	if s == nil {
		var err error
		if s, err = r.open(id, int(count), int(total), now); err != nil {
			return nil, err
		}
	} else if s.count != int(count) || s.total != int(total) {
		r.drop(id, s)
		return nil, fmt.Errorf("transport: chunk %d/%d of stream %016x: %w: %d bytes in %d chunks, earlier chunks said %d in %d", index, count, id, ErrChunk, total, count, s.total, s.count)
	}
	if s.have[index] {
		return nil, fmt.Errorf("transport: chunk %d/%d of stream %016x: %w", index, count, id, ErrDuplicate)
	}
	copy(s.buf[lo:hi], body)
	s.have[index] = true
	s.got++
	if s.got < s.count {
		return nil, nil
	}
	r.drop(id, s)
	return s.buf, nil
}

// open reserves room for a new stream.
func (r *Reassembler) open(id uint64, count, total int, now time.Time) (*stream, error) {
	if len(r.streams) >= r.lim.MaxStreams {
		return nil, fmt.Errorf("transport: chunk of stream %016x: %w: %d incomplete streams, limit %d", id, ErrTooLarge, len(r.streams), r.lim.MaxStreams)
	}
	// The bitmap is charged too: it is as long as the count, which a
	// hostile header may set as high as the total.
	need := int64(total) + int64(count)
	if need > r.lim.MaxPending-r.pending {
		return nil, fmt.Errorf("transport: chunk of stream %016x: %w: %d bytes would join %d pending, limit %d", id, ErrTooLarge, need, r.pending, r.lim.MaxPending)
	}
	s := &stream{count: count, total: total, buf: make([]byte, total), have: make([]bool, count), deadline: now.Add(r.lim.TTL)}
	r.streams[id] = s
	r.pending += need
	return s, nil
}

func (r *Reassembler) drop(id uint64, s *stream) {
	delete(r.streams, id)
	r.pending -= int64(s.total) + int64(s.count)
}

// Expire drops the streams that have outlived the TTL at now and returns how
// many it dropped. Add expires streams too, so calling Expire only matters
// to release memory while no chunks arrive.
func (r *Reassembler) Expire(now time.Time) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.expire(now)
}

func (r *Reassembler) expire(now time.Time) int {
	n := 0
	for id, s := range r.streams {
		if !now.Before(s.deadline) {
			r.drop(id, s)
			n++
		}
	}
	return n
}

// Pending returns the number of incomplete streams and the bytes they
// reserve.
func (r *Reassembler) Pending() (streams int, bytes int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.streams), r.pending
}

package transport

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"runtime"
	"sync"

	"github.com/klauspost/compress/zstd"
)

// A frame is one encoded message:
//
//	offset size
//	0      4    magic "HCMO"
//	4      1    format version (1)
//	5      1    message kind (Kind)
//	6      1    compression: 0 none, 1 zstd, 2 s2
//	7      1    flags: bit 0 set when float arrays are byte-shuffled;
//	            other bits must be zero
//	8      8    uncompressed payload length, uint64 little-endian
//	16     8    stored (compressed) payload length, uint64 little-endian
//	24     n    stored payload
//	24+n   4    CRC-32C (Castagnoli) of bytes [0, 24+n), little-endian
//
// Both lengths are declared so that a reader can tell a truncated frame from
// a corrupt one and refuse an oversized payload before allocating for it.
// The uncompressed payload is described in payload.go.
const (
	frameMagic   = "HCMO"
	frameVersion = 1
	headerLen    = 24
	trailerLen   = 4
	// FrameOverhead is the number of bytes a frame adds to its stored
	// payload.
	FrameOverhead = headerLen + trailerLen
)

const flagShuffle = 1 << 0

// DefaultMaxMessageBytes is the decoded payload size that Limits allows when
// MaxMessageBytes is not set: large enough for the term matrices of an
// expert with tens of thousands of rows and hundreds of basis functions,
// small enough that a hostile length cannot exhaust a node.
const DefaultMaxMessageBytes = 1 << 30

// Errors returned by the decoders. They are wrapped with context; test with
// errors.Is.
var (
	// ErrTruncated reports input that ends before the frame or chunk it
	// declares.
	ErrTruncated = errors.New("truncated input")
	// ErrCorrupt reports input that cannot be a frame of this format: bad
	// magic, checksum mismatch, unknown kind, compression or flags, a
	// payload that does not decompress to its declared length, malformed
	// payload fields, trailing bytes, or a problem that fails
	// constraint.Problem.Validate (the error then wraps constraint's too).
	ErrCorrupt = errors.New("corrupt input")
	// ErrVersion reports a frame or chunk of a format version this build
	// does not read.
	ErrVersion = errors.New("unsupported format version")
	// ErrTooLarge reports a declared size, array length or element count
	// beyond the Limits, or a chunk that the Reassembler has no room for.
	ErrTooLarge = errors.New("too large")
	// ErrClosed reports use of a Codec after Close.
	ErrClosed = errors.New("codec closed")
)

// Limits bounds what Unmarshal allocates for one message.
type Limits struct {
	// MaxMessageBytes bounds the uncompressed payload and, separately, the
	// memory spent on the decoded message's structure (slice headers,
	// blocks, parameter maps). Zero or negative means
	// DefaultMaxMessageBytes.
	MaxMessageBytes int64
}

func (l Limits) max() int64 {
	if l.MaxMessageBytes <= 0 {
		return DefaultMaxMessageBytes
	}
	return l.MaxMessageBytes
}

// Options controls Marshal. The zero value is the default: zstd with byte
// shuffling.
type Options struct {
	Compression Compression
	// NoShuffle stores float arrays as plain little-endian words. By default
	// they are byte-shuffled (see payload.go), which gathers the sign and
	// exponent bytes that term matrices repeat endlessly: with zstd at its
	// default level, frames of the benchmark problems come out 18–21%
	// smaller and encode no slower. With s2, or zstd at level 6 and above,
	// the gain depends on the problem and can turn into a loss (see
	// BenchmarkSolveRequest).
	NoShuffle bool
	// Level is the zstd level on the scale of the zstd command, which
	// klauspost/compress maps to its four encoders: 1–2 fastest, 3–5
	// default, 6–9 better, 10–22 best. Zero means 3. On expert term
	// matrices "better" can compress 1.4 times smaller than "default" at
	// about 60% of its speed; see BenchmarkSolveRequest. Only zstd reads
	// it.
	Level int
}

// Codec marshals and unmarshals messages, reusing compressor state and
// buffers between calls. It is safe for concurrent use; Close must not race
// with other calls.
type Codec struct {
	opts Options
	// concurrency bounds the zstd encodes and decodes that run at once.
	concurrency int

	mu     sync.Mutex
	closed bool
	enc    *zstd.Encoder // created on first use
	dec    *zstd.Decoder // created on first use

	bufs sync.Pool // *[]byte scratch for payloads and compressed bytes
}

// NewCodec returns a Codec that marshals with o. The zstd state is created
// on first use, so a codec that never meets zstd never pays for it.
func NewCodec(o Options) (*Codec, error) {
	return newCodec(o, runtime.GOMAXPROCS(0))
}

func newCodec(o Options, concurrency int) (*Codec, error) {
	if _, err := o.Compression.wire(); err != nil {
		return nil, err
	}
	if o.Level < 0 || o.Level > 22 {
		return nil, fmt.Errorf("transport: zstd level %d (want 1 to 22, or 0 for the default)", o.Level)
	}
	return &Codec{opts: o, concurrency: concurrency}, nil
}

// Close releases the compressors. Calls after Close fail with ErrClosed.
func (c *Codec) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil
	}
	c.closed = true
	var err error
	if c.enc != nil {
		err = c.enc.Close()
		c.enc = nil
	}
	if c.dec != nil {
		c.dec.Close()
		c.dec = nil
	}
	if err != nil {
		return fmt.Errorf("transport: closing zstd encoder: %w", err)
	}
	return nil
}

// Marshal encodes m as one frame with o. It creates and discards compressor
// state on every call; use a Codec where messages are frequent.
func Marshal(m Message, o Options) ([]byte, error) {
	c, err := newCodec(o, 1)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	return c.Marshal(m)
}

// Unmarshal decodes one frame within lim. Like Marshal it sets up
// decompressor state per call; use a Codec where messages are frequent.
func Unmarshal(data []byte, lim Limits) (Message, error) {
	c, err := newCodec(Options{}, 1)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	return c.Unmarshal(data, lim)
}

// Marshal encodes m as one frame. Problems are validated first, so that
// an invalid problem fails at the sender rather than at every receiver.
func (c *Codec) Marshal(m Message) ([]byte, error) {
	if c.isClosed() {
		return nil, fmt.Errorf("transport: marshal: %w", ErrClosed)
	}
	var e encoder
	if err := e.message(m); err != nil {
		return nil, err
	}
	comp, _ := c.opts.Compression.wire()
	shuffle := !c.opts.NoShuffle
	rawLen := e.bodyLen()
	var flags byte
	if shuffle {
		flags |= flagShuffle
	}
	h := header{kind: m.Kind(), comp: comp, flags: flags, rawLen: uint64(rawLen)}

	if comp == wireNone {
		frame := make([]byte, headerLen+rawLen+trailerLen)
		e.writeBody(frame[headerLen:headerLen+rawLen], shuffle)
		h.storedLen = uint64(rawLen)
		return sealFrame(frame, h), nil
	}

	body := c.getBuf(rawLen)
	defer c.putBuf(body)
	e.writeBody(*body, shuffle)
	out := c.getBuf(0)
	defer c.putBuf(out)
	var err error
	*out, err = c.compress((*out)[:0], *body, comp)
	if err != nil {
		return nil, err
	}
	frame := make([]byte, headerLen+len(*out)+trailerLen)
	copy(frame[headerLen:], *out)
	h.storedLen = uint64(len(*out))
	return sealFrame(frame, h), nil
}

// Unmarshal decodes one frame within lim. The message it returns shares no
// memory with data.
func (c *Codec) Unmarshal(data []byte, lim Limits) (Message, error) {
	if c.isClosed() {
		return nil, fmt.Errorf("transport: unmarshal: %w", ErrClosed)
	}
	h, stored, err := parseFrame(data, lim.max())
	if err != nil {
		return nil, fmt.Errorf("transport: %w", err)
	}
	body := stored
	if h.comp != wireNone {
		buf := c.getBuf(int(h.rawLen))
		defer c.putBuf(buf)
		body, err = c.decompress((*buf)[:0:h.rawLen], stored, h.comp)
		if err != nil {
			return nil, fmt.Errorf("transport: %v frame: %w", h.kind, err)
		}
	}
	m, err := decodeBody(h, body, lim.max())
	if err != nil {
		return nil, fmt.Errorf("transport: %v frame: %w", h.kind, err)
	}
	return m, nil
}

// header is the fixed part of a frame.
type header struct {
	kind      Kind
	comp      byte
	flags     byte
	rawLen    uint64
	storedLen uint64
}

// sealFrame writes h into the first headerLen bytes of frame and the
// checksum into its last trailerLen bytes; the stored payload lies between.
func sealFrame(frame []byte, h header) []byte {
	copy(frame, frameMagic)
	frame[4] = frameVersion
	frame[5] = byte(h.kind)
	frame[6] = h.comp
	frame[7] = h.flags
	binary.LittleEndian.PutUint64(frame[8:], h.rawLen)
	binary.LittleEndian.PutUint64(frame[16:], h.storedLen)
	end := len(frame) - trailerLen
	binary.LittleEndian.PutUint32(frame[end:], checksum(frame[:end]))
	return frame
}

func checksum(b []byte) uint32 {
	// MakeTable returns the shared, lazily built Castagnoli table.
	return crc32.Checksum(b, crc32.MakeTable(crc32.Castagnoli))
}

// parseFrame checks everything about data that needs no decompression and
// returns its header and stored payload. The version is checked before the
// length and checksum because a later version may lay those out otherwise.
func parseFrame(data []byte, limit int64) (header, []byte, error) {
	var h header
	if len(data) < len(frameMagic) {
		if string(data) != frameMagic[:len(data)] {
			return h, nil, fmt.Errorf("%w: bad magic %q", ErrCorrupt, data)
		}
		return h, nil, fmt.Errorf("%w: %d bytes, no frame header", ErrTruncated, len(data))
	}
	if string(data[:4]) != frameMagic {
		return h, nil, fmt.Errorf("%w: bad magic %q", ErrCorrupt, data[:4])
	}
	if len(data) < 5 {
		return h, nil, fmt.Errorf("%w: %d bytes, no frame header", ErrTruncated, len(data))
	}
	if data[4] != frameVersion {
		return h, nil, fmt.Errorf("%w: frame version %d, this build reads %d", ErrVersion, data[4], frameVersion)
	}
	if len(data) < FrameOverhead {
		return h, nil, fmt.Errorf("%w: %d bytes, frame header and checksum need %d", ErrTruncated, len(data), FrameOverhead)
	}
	h.kind = Kind(data[5])
	h.comp = data[6]
	h.flags = data[7]
	h.rawLen = binary.LittleEndian.Uint64(data[8:])
	h.storedLen = binary.LittleEndian.Uint64(data[16:])
	have := uint64(len(data) - FrameOverhead)
	switch {
	case h.storedLen > have:
		return h, nil, fmt.Errorf("%w: frame declares %d payload bytes, %d present", ErrTruncated, h.storedLen, have)
	case h.storedLen < have:
		return h, nil, fmt.Errorf("%w: %d bytes after the frame", ErrCorrupt, have-h.storedLen)
	}
	end := len(data) - trailerLen
	if got, want := checksum(data[:end]), binary.LittleEndian.Uint32(data[end:]); got != want {
		return h, nil, fmt.Errorf("%w: checksum %08x, frame says %08x", ErrCorrupt, got, want)
	}
	if h.kind < KindSolveRequest || h.kind > KindBackwardReply {
		return h, nil, fmt.Errorf("%w: unknown message kind %d", ErrCorrupt, h.kind)
	}
	if h.comp > wireS2 {
		return h, nil, fmt.Errorf("%w: unknown compression %d", ErrCorrupt, h.comp)
	}
	if h.flags&^flagShuffle != 0 {
		return h, nil, fmt.Errorf("%w: unknown flags %#02x", ErrCorrupt, h.flags)
	}
	if h.rawLen > uint64(limit) || h.rawLen > math.MaxInt {
		return h, nil, fmt.Errorf("%w: payload of %d bytes, limit %d", ErrTooLarge, h.rawLen, limit)
	}
	if h.comp == wireNone && h.storedLen != h.rawLen {
		return h, nil, fmt.Errorf("%w: uncompressed payload stored in %d bytes, declared %d", ErrCorrupt, h.storedLen, h.rawLen)
	}
	return h, data[headerLen:end], nil
}

// getBuf returns a pooled buffer of length n. Buffers are pooled by
// pointer so that putting one back does not allocate.
func (c *Codec) getBuf(n int) *[]byte {
	if p, ok := c.bufs.Get().(*[]byte); ok {
		if cap(*p) >= n {
			*p = (*p)[:n]
			return p
		}
		// Too small: leave it to the collector rather than let the pool
		// fill with buffers that never fit.
	}
	b := make([]byte, n)
	return &b
}

func (c *Codec) putBuf(p *[]byte) { c.bufs.Put(p) }

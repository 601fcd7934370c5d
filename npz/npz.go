package npz

import (
	"archive/zip"
	"bufio"
	"compress/flate"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
	"unicode/utf8"
)

// Read reads every array of the .npz archive held in the size bytes of r,
// keyed by name (the entry name without ".npy"). Every entry must be an
// .npy file of a supported type.
func Read(r io.ReaderAt, size int64, lim Limits) (map[string]*Array, error) {
	m, err := readArchive(r, size, lim.withDefaults())
	if err != nil {
		return nil, fmt.Errorf("npz: %w", err)
	}
	return m, nil
}

// ReadFile reads the .npz archive at path; see Read.
func ReadFile(path string, lim Limits) (map[string]*Array, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("npz: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("npz: %w", err)
	}
	m, err := readArchive(f, fi.Size(), lim.withDefaults())
	if err != nil {
		return nil, fmt.Errorf("npz: %s: %w", path, err)
	}
	return m, nil
}

func readArchive(r io.ReaderAt, size int64, lim Limits) (map[string]*Array, error) {
	zr, err := zip.NewReader(r, size)
	// Names such as "../x.npy" are harmless here: nothing is extracted.
	if err != nil && !errors.Is(err, zip.ErrInsecurePath) {
		var magic [len(npyMagic)]byte
		if n, _ := r.ReadAt(magic[:], 0); n == len(magic) && string(magic[:]) == npyMagic {
			return nil, fmt.Errorf("%w: an .npy file, not an .npz archive: %w", ErrFormat, err)
		}
		return nil, fmt.Errorf("%w: %w", ErrFormat, err)
	}
	if len(zr.File) > lim.MaxArrays {
		return nil, fmt.Errorf("%w: %d arrays, limit %d", ErrTooLarge, len(zr.File), lim.MaxArrays)
	}
	arrays := make(map[string]*Array, len(zr.File))
	var total int64
	for _, f := range zr.File {
		name, ok := strings.CutSuffix(f.Name, ".npy")
		switch {
		case !ok || name == "":
			return nil, fmt.Errorf("%w: entry %q is not an .npy file", ErrFormat, f.Name)
		case arrays[name] != nil:
			return nil, fmt.Errorf("%w: repeated entry %q", ErrFormat, f.Name)
		}
		a, n, err := readEntry(f, min(lim.MaxArrayBytes, lim.MaxTotalBytes-total))
		if err != nil {
			return nil, fmt.Errorf("entry %q: %w", f.Name, err)
		}
		a.Name = name
		arrays[name] = a
		total += n
	}
	return arrays, nil
}

// readEntry reads one archive entry. The entry's declared uncompressed
// size must match its .npy header, which must be within limit, before any
// data is read; archive/zip fails any read past the declared size, and
// the entry must end exactly after the data. So a deflate bomb can make
// us neither allocate beyond limit nor decompress much beyond it.
func readEntry(f *zip.File, limit int64) (*Array, int64, error) {
	if f.UncompressedSize64 > 1<<62 {
		return nil, 0, fmt.Errorf("%w: declared size %d", ErrFormat, f.UncompressedSize64)
	}
	rc, err := f.Open()
	if err != nil {
		return nil, 0, fmt.Errorf("%w: %w", ErrFormat, err)
	}
	defer rc.Close()
	br := bufio.NewReaderSize(rc, chunkBytes)
	a, n, err := readNPY(br, limit, int64(f.UncompressedSize64))
	if err != nil {
		return nil, 0, err
	}
	// Reading to the end also makes archive/zip verify the CRC.
	var b [1]byte
	switch k, err := io.ReadFull(br, b[:]); {
	case k > 0:
		return nil, 0, fmt.Errorf("%w: data after the array", ErrFormat)
	case err != io.EOF:
		return nil, 0, readErr("end of entry", err)
	}
	return a, n, nil
}

// isCorrupt reports whether err comes from damaged zip or deflate data.
func isCorrupt(err error) bool {
	var ce flate.CorruptInputError
	return errors.Is(err, zip.ErrFormat) || errors.Is(err, zip.ErrChecksum) ||
		errors.Is(err, zip.ErrAlgorithm) || errors.As(err, &ce)
}

// A Writer writes an .npz archive one array at a time. A failed write
// leaves the archive unusable and later calls return the same error.
type Writer struct {
	zw     *zip.Writer
	method uint16
	names  map[string]bool
	err    error
	closed bool
}

// NewWriter returns a Writer to w that deflates entries if compress is
// true and stores them otherwise, like numpy.savez_compressed and
// numpy.savez. Close must be called to complete the archive.
func NewWriter(w io.Writer, compress bool) *Writer {
	m := zip.Store
	if compress {
		m = zip.Deflate
	}
	return &Writer{zw: zip.NewWriter(w), method: m, names: make(map[string]bool)}
}

// Float64 writes data as a float64 array of the given shape. As in
// NumPy, an empty shape is a 0-d array of one element.
func (w *Writer) Float64(name string, shape []int, data []float64) error {
	return w.Array(&Array{Name: name, Shape: shape, Float64: nonNil(data)})
}

// Int64 writes data as an int64 array of the given shape.
func (w *Writer) Int64(name string, shape []int, data []int64) error {
	return w.Array(&Array{Name: name, Shape: shape, Int64: nonNil(data)})
}

// Uint8 writes data as a uint8 array of the given shape.
func (w *Writer) Uint8(name string, shape []int, data []byte) error {
	return w.Array(&Array{Name: name, Shape: shape, Uint8: nonNil(data)})
}

// Bool writes data as a bool array of the given shape.
func (w *Writer) Bool(name string, shape []int, data []bool) error {
	return w.Array(&Array{Name: name, Shape: shape, Bool: nonNil(data)})
}

// Strings writes data as a 1-d unicode array as wide as its longest
// element. The strings must be valid UTF-8 and must not end in NUL,
// which NumPy would strip.
func (w *Writer) Strings(name string, data []string) error {
	return w.Array(&Array{Name: name, Shape: []int{len(data)}, Strings: nonNil(data)})
}

// nonNil lets the typed methods write empty arrays from nil slices,
// since Array tells the type by the field that is non-nil.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// Array writes a under a.Name; see WriteNPY for how the type is chosen.
// Names must be non-empty, valid UTF-8 and unique within the archive.
func (w *Writer) Array(a *Array) error {
	switch {
	case w.err != nil:
		return w.err
	case w.closed:
		return errors.New("npz: write to closed Writer")
	case a.Name == "" || !utf8.ValidString(a.Name):
		return fmt.Errorf("npz: %w %q", ErrName, a.Name)
	case w.names[a.Name]:
		return fmt.Errorf("npz: %w: %q written twice", ErrName, a.Name)
	}
	p, err := prepare(a)
	if err != nil {
		return fmt.Errorf("npz: array %q: %w", a.Name, err)
	}
	fw, err := w.zw.CreateHeader(&zip.FileHeader{
		Name:   a.Name + ".npy",
		Method: w.method,
		// A fixed time makes archives reproducible; 1980 is the
		// earliest date zip can record.
		Modified: time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC),
	})
	if err == nil {
		err = p.write(fw)
	}
	if err != nil {
		w.err = fmt.Errorf("npz: array %q: %w", a.Name, err)
		return w.err
	}
	w.names[a.Name] = true
	return nil
}

// Close finishes the archive. It does not close the underlying writer.
// Calling Close again does nothing.
func (w *Writer) Close() error {
	if w.closed {
		return w.err
	}
	w.closed = true
	if err := w.zw.Close(); err != nil && w.err == nil {
		w.err = fmt.Errorf("npz: %w", err)
	}
	return w.err
}

// WriteFile writes an .npz archive to path with the arrays that fn
// writes. The archive is written to a temporary file in the same
// directory, synced and renamed over path, so path holds either its old
// content or the complete archive even if fn fails or the system
// crashes. An error from fn is returned unchanged.
func WriteFile(path string, compress bool, fn func(*Writer) error) error {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".tmp*")
	if err != nil {
		return fmt.Errorf("npz: %w", err)
	}
	renamed := false
	// Deferred so that the temporary file also goes if fn panics.
	defer func() {
		if !renamed {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	bw := bufio.NewWriterSize(f, chunkBytes)
	w := NewWriter(bw, compress)
	if err := fn(w); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("npz: %w", err)
	}
	// CreateTemp makes the file private; give it the usual mode of a
	// newly created data file instead.
	if err := f.Chmod(0o644); err != nil {
		return fmt.Errorf("npz: %w", err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("npz: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("npz: %w", err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("npz: %w", err)
	}
	renamed = true
	// Syncing the directory makes the rename itself durable. Not every
	// system can sync a directory, and the data is safe either way.
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// Package npz reads and writes NumPy .npy arrays and .npz archives.
//
// An .npy file is a short text header describing the element type
// (a NumPy "descr" such as "<f8"), the memory order and the shape,
// followed by the raw elements. An .npz archive is a zip file whose
// entries are .npy files named after the arrays, stored or deflated, as
// written by numpy.savez and numpy.savez_compressed.
//
// # Element types
//
// Arrays are read into one of a few Go slice types, recorded in the
// Array field that is set:
//
//	Float64  float64 ('f8') and float32 ('f4')
//	Int64    int64, int32, int16, int8 ('i8' ... 'i1'), uint32, uint16 ('u4', 'u2')
//	Uint8    uint8 ('u1')
//	Bool     bool ('b1')
//	Strings  fixed-width unicode ('U<n>', UTF-32)
//
// Both byte orders are read and converted to native values; Array.DType
// keeps the descriptor found in the file. Fortran-ordered arrays are
// transposed on read so that data is always in C (row-major) order.
// Other element types, such as complex, object, float16, uint64 and
// structured types, are rejected with ErrDType.
//
// Writers emit little-endian float64, int64, uint8, bool and unicode
// arrays in C order, using format version 1.0 (2.0 only if a header
// would not fit), which every NumPy release can load.
//
// # Untrusted input
//
// Readers never trust the sizes that a file declares. A Limits value
// bounds the decoded bytes per array and per archive and the number of
// arrays; shapes are checked against it, with overflow-safe arithmetic,
// before any element is read, and memory grows only as data actually
// arrives, so a short or hostile file cannot cause a large allocation.
// Decompressed zip entries must be exactly as long as their .npy header
// says. All malformed input is reported as an error wrapping one of
// ErrFormat, ErrTooLarge or ErrDType; the readers are fuzzed and must
// never panic.
package npz

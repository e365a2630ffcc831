package results

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
)

// Writer appends records to a JSONL file, one fsync'd line each, so that a
// crash or kill -9 loses at most the record being written. A Writer is
// the file's only writer: it holds an advisory lock on it until Close.
type Writer struct {
	mu     sync.Mutex
	f      *os.File
	path   string
	unlock func()
	repair *Repair
}

// Repair is a torn last line that Create cut off: a record whose write a
// crash cut short, so that it holds no complete record.
type Repair struct {
	Path   string
	Offset int64 // byte offset where the torn line began (the file's size now)
	Bytes  int64 // bytes cut off
}

func (r Repair) String() string {
	return fmt.Sprintf("%s: cut off a torn last line at byte offset %d (%d bytes of a record a crash cut short)", r.Path, r.Offset, r.Bytes)
}

// Create opens path for appending, creating it if needed, as its only
// writer: a second Create of the same file, from this process or another,
// fails at once with an *InUseError naming the holder while the first
// Writer is open. A partial last line left by a crash is then cut off so
// that the next record starts on a line of its own; Repaired says so.
func Create(path string) (*Writer, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open results file: %w", err)
	}
	unlock, err := lock(f, path)
	if err != nil {
		f.Close()
		return nil, err
	}
	w := &Writer{f: f, path: path, unlock: unlock}
	cut, size, err := truncatePartialLine(f)
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("repair results file %s: %w", path, err)
	}
	if cut > 0 {
		w.repair = &Repair{Path: path, Offset: size - cut, Bytes: cut}
	}
	if _, err := f.Seek(0, io.SeekEnd); err != nil {
		w.Close()
		return nil, err
	}
	return w, nil
}

// Repaired returns the torn last line Create cut off, if it cut one.
func (w *Writer) Repaired() (Repair, bool) {
	if w.repair == nil {
		return Repair{}, false
	}
	return *w.repair, true
}

// truncatePartialLine cuts off whatever follows the last newline and
// returns how many bytes it cut and the size the file had.
func truncatePartialLine(f *os.File) (cut, size int64, err error) {
	st, err := f.Stat()
	if err != nil || st.Size() == 0 {
		return 0, 0, err
	}
	// Read backwards a chunk at a time looking for the last newline.
	size = st.Size()
	buf := make([]byte, 64*1024)
	end := size
	for end > 0 {
		start := max(end-int64(len(buf)), 0)
		n, err := f.ReadAt(buf[:end-start], start)
		if err != nil && !errors.Is(err, io.EOF) {
			return 0, size, err
		}
		if i := bytes.LastIndexByte(buf[:n], '\n'); i >= 0 {
			last := start + int64(i) + 1
			if last == size {
				return 0, size, nil
			}
			return size - last, size, f.Truncate(last)
		}
		end = start
	}
	return size, size, f.Truncate(0)
}

// Truncate empties the file (a reproducible file, such as a simulation's,
// being replaced), keeping the lock.
func (w *Writer) Truncate() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.f.Truncate(0); err != nil {
		return fmt.Errorf("truncate %s: %w", w.path, err)
	}
	if _, err := w.f.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("truncate %s: %w", w.path, err)
	}
	return nil
}

// Path is the file being written.
func (w *Writer) Path() string { return w.path }

// Append writes one record and syncs it to disk.
func (w *Writer) Append(r Record) error {
	if r.Schema == 0 {
		r.Schema = SchemaVersion
	}
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("encode record: %w", err)
	}
	b = append(b, '\n')
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, err := w.f.Write(b); err != nil {
		return fmt.Errorf("write %s: %w", w.path, err)
	}
	if err := w.f.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", w.path, err)
	}
	return nil
}

// Close closes the file and releases it to the next writer.
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f == nil {
		return nil
	}
	if w.unlock != nil {
		w.unlock()
	}
	err := w.f.Close()
	w.f = nil
	return err
}

// ReadFile reads every complete record of a results file. A truncated last
// line (a write cut short by a crash) is skipped; a malformed line elsewhere
// is an error naming the file and line.
func ReadFile(path string) ([]Record, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("results file: %w", err)
	}
	defer f.Close()
	return Read(f, path)
}

// Read reads records from r; name is used in error messages.
func Read(r io.Reader, name string) ([]Record, error) {
	br := bufio.NewReaderSize(r, 256*1024)
	var out []Record
	line := 0
	for {
		b, err := br.ReadBytes('\n')
		if len(b) > 0 {
			line++
			complete := b[len(b)-1] == '\n'
			b = bytes.TrimSpace(b)
			if len(b) > 0 {
				var rec Record
				if jerr := json.Unmarshal(b, &rec); jerr != nil {
					if !complete {
						break // partial write at the end: ignore it
					}
					return out, fmt.Errorf("%s:%d: not a results record (one JSON object a line): %w", name, line, jerr)
				}
				if rec.Schema > SchemaVersion {
					return out, fmt.Errorf("%s:%d: schema %d is newer than this iaasbench understands (%d)", name, line, rec.Schema, SchemaVersion)
				}
				out = append(out, rec)
			}
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return out, fmt.Errorf("read %s: %w", name, err)
		}
	}
	return out, nil
}

// Points returns the point records of recs (headers dropped).
func Points(recs []Record) []Record {
	var out []Record
	for _, r := range recs {
		if r.Kind != KindHeader {
			out = append(out, r)
		}
	}
	return out
}

// HeaderOf returns the first header record of recs, or nil.
func HeaderOf(recs []Record) *Header {
	for _, r := range recs {
		if r.Kind == KindHeader && r.Header != nil {
			return r.Header
		}
	}
	return nil
}

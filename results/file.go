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
// crash or kill -9 loses at most the record being written.
type Writer struct {
	mu   sync.Mutex
	f    *os.File
	path string
}

// Create opens path for appending, creating it if needed. A partial last
// line left by a crash is cut off first so that the next record starts on a
// line of its own.
func Create(path string) (*Writer, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open results file: %w", err)
	}
	if err := truncatePartialLine(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("repair results file %s: %w", path, err)
	}
	if _, err := f.Seek(0, io.SeekEnd); err != nil {
		f.Close()
		return nil, err
	}
	return &Writer{f: f, path: path}, nil
}

func truncatePartialLine(f *os.File) error {
	st, err := f.Stat()
	if err != nil || st.Size() == 0 {
		return err
	}
	// Read backwards a chunk at a time looking for the last newline.
	size := st.Size()
	buf := make([]byte, 64*1024)
	end := size
	for end > 0 {
		start := max(end-int64(len(buf)), 0)
		n, err := f.ReadAt(buf[:end-start], start)
		if err != nil && !errors.Is(err, io.EOF) {
			return err
		}
		if i := bytes.LastIndexByte(buf[:n], '\n'); i >= 0 {
			last := start + int64(i) + 1
			if last == size {
				return nil
			}
			return f.Truncate(last)
		}
		end = start
	}
	return f.Truncate(0)
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

// Close closes the file.
func (w *Writer) Close() error { return w.f.Close() }

// ReadFile reads every complete record of a results file. A truncated last
// line (a write cut short by a crash) is skipped; a malformed line elsewhere
// is an error naming the file and line.
func ReadFile(path string) ([]Record, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open results: %w", err)
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
					return out, fmt.Errorf("%s:%d: bad record: %w", name, line, jerr)
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

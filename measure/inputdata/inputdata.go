// Package inputdata reads user-supplied request data in perf_analyzer's
// --input-data formats: a JSON file ({"data": [...]}, entries of tensors
// given as value lists, {"content", "shape"} or {"b64"}; a list of lists
// is several streams) or a directory holding one file per input (raw
// little-endian bytes, or for BYTES one string per line). Every tensor is
// checked against the model's metadata and turned into Triton's raw form,
// so that the load generator only concatenates and sends bytes.
//
// An entry is the data of one batch-1 request: for a batching model the
// shapes here are without the batch dimension, and the caller joins
// consecutive entries into a batch. A JSON file's "validation_data",
// aligned with "data", gives the outputs expected of some entries, read
// the same way against the model's outputs.
package inputdata

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/iaasbench/iaasbench/client"
)

// Input is what the model's metadata says of one input.
type Input struct {
	Name     string
	Datatype string
	// Shape is without the batch dimension for a batching model; -1
	// marks a variable dimension.
	Shape []int64
	// Default, when set, is the shape to use for this input when an
	// entry gives none (perf_analyzer's --shape); it must fit Shape.
	Default []int64
}

// Tensor is one input's data for one entry.
type Tensor struct {
	Shape []int64 // resolved: no variable dimension left
	Raw   []byte  // Triton's raw form (BYTES: 4-byte length before each element)
}

// Entry is one request's inputs, in the order of the inputs given to
// Load.
type Entry []Tensor

// Data is what a file or directory holds.
type Data struct {
	// Source is the path as given, for messages and records.
	Source string
	// Streams are the data streams: a file whose "data" lists entries is
	// one stream; a list of lists is one stream per inner list; a
	// directory is one stream of one entry.
	Streams [][]Entry
	// Expected, when the file has "validation_data", is aligned with
	// Streams: Expected[s][k] are the outputs expected of entry k of
	// stream s (empty: none given), in the order of the outputs given to
	// Load. Nil without validation data.
	Expected [][][]Output
}

// Output is the expected data of one output for one entry.
type Output struct {
	Name   string
	Tensor // Raw is compared with the response's raw output
}

// HasValidation says the file gives expected outputs for some entry.
func (d *Data) HasValidation() bool {
	for _, s := range d.Expected {
		for _, e := range s {
			if len(e) > 0 {
				return true
			}
		}
	}
	return false
}

// Entries is the number of entries over all streams.
func (d *Data) Entries() int {
	n := 0
	for _, s := range d.Streams {
		n += len(s)
	}
	return n
}

// Load reads a JSON file or a directory (see the package comment) for a
// model with the given inputs and outputs (for "validation_data"; a
// directory's output files are not read).
func Load(path string, inputs, outputs []Input) (*Data, error) {
	if err := checkInputs(inputs); err != nil {
		return nil, err
	}
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("input data: %w", err)
	}
	if st.IsDir() {
		return readDir(path, inputs)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("input data: %w", err)
	}
	return Parse(path, b, inputs, outputs)
}

func checkInputs(inputs []Input) error {
	if len(inputs) == 0 {
		return fmt.Errorf("input data: the model has no inputs")
	}
	for _, in := range inputs {
		if client.ElementSize(in.Datatype) < 0 {
			return fmt.Errorf("input data: input %q: datatype %q is not one of the protocol's", in.Name, in.Datatype)
		}
		if in.Default != nil && !fits(in.Default, in.Shape) {
			return fmt.Errorf("input data: input %q: shape %v does not fit the model's %v", in.Name, in.Default, in.Shape)
		}
	}
	return nil
}

// fits reports whether a resolved shape matches the model's: same rank,
// equal fixed dimensions, non-negative sizes.
func fits(shape, model []int64) bool {
	if len(shape) != len(model) {
		return false
	}
	for i, d := range shape {
		if d < 0 || (model[i] >= 0 && model[i] != d) {
			return false
		}
	}
	return true
}

// resolve picks an input's shape when the data gives none: the default
// (--shape), else the model's when it is fixed, else the model's with
// its one variable dimension inferred from the element count n (n < 0:
// unknown).
func resolve(in Input, n int64) ([]int64, error) {
	if in.Default != nil {
		return in.Default, nil
	}
	variable, fixed := -1, int64(1)
	for i, d := range in.Shape {
		if d < 0 {
			if variable >= 0 {
				return nil, fmt.Errorf("the model's shape %v has more than one variable dimension: give \"shape\" or --shape %s:...", in.Shape, in.Name)
			}
			variable = i
			continue
		}
		fixed *= d
	}
	if variable < 0 {
		return in.Shape, nil
	}
	if n < 0 {
		return nil, fmt.Errorf("the data is not a whole number of %s elements", in.Datatype)
	}
	if fixed == 0 || n%fixed != 0 {
		return nil, fmt.Errorf("the model's shape %v is variable and %d elements do not fill it: give \"shape\" or --shape %s:...", in.Shape, n, in.Name)
	}
	s := append([]int64(nil), in.Shape...)
	s[variable] = n / fixed
	return s, nil
}

func elements(shape []int64) int64 {
	n := int64(1)
	for _, d := range shape {
		n *= d
	}
	return n
}

// checkRaw checks that raw holds exactly the elements of shape.
func checkRaw(in Input, shape []int64, raw []byte) error {
	want := elements(shape)
	size := client.ElementSize(in.Datatype)
	if size == 0 {
		elems, err := client.DecodeBytes(raw)
		if err != nil {
			return err
		}
		if int64(len(elems)) != want {
			return fmt.Errorf("%d BYTES elements, shape %v needs %d", len(elems), shape, want)
		}
		return nil
	}
	if int64(len(raw)) != want*int64(size) {
		return fmt.Errorf("%d bytes, shape %v of %s needs %d", len(raw), shape, in.Datatype, want*int64(size))
	}
	return nil
}

// count is the number of elements in raw (-1 when raw is not whole
// elements of a fixed-size type); malformed BYTES are an error.
func count(in Input, raw []byte) (int64, error) {
	size := client.ElementSize(in.Datatype)
	if size == 0 {
		elems, err := client.DecodeBytes(raw)
		if err != nil {
			return 0, err
		}
		return int64(len(elems)), nil
	}
	if len(raw)%size != 0 {
		return -1, nil
	}
	return int64(len(raw) / size), nil
}

// shapeOf resolves the shape of data given without one.
func shapeOf(in Input, raw []byte) ([]int64, error) {
	n, err := count(in, raw)
	if err != nil {
		return nil, err
	}
	return resolve(in, n)
}

// readDir reads a directory of one file per input, named after it: raw
// bytes for fixed-size types, lines of text for BYTES. Other files (an
// output's, for perf_analyzer's validation) are left alone.
func readDir(dir string, inputs []Input) (*Data, error) {
	entry := make(Entry, len(inputs))
	for i, in := range inputs {
		path := filepath.Join(dir, in.Name)
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("input data: input %q: %w", in.Name, err)
		}
		raw := b
		if in.Datatype == "BYTES" {
			text := string(b)
			text = strings.TrimSuffix(text, "\n")
			var elems [][]byte
			if len(b) > 0 {
				for _, line := range strings.Split(text, "\n") {
					elems = append(elems, []byte(line))
				}
			}
			raw = client.EncodeBytes(elems)
		}
		shape, err := shapeOf(in, raw)
		if err == nil {
			err = checkRaw(in, shape, raw)
		}
		if err != nil {
			return nil, fmt.Errorf("input data %s: input %q: %w", path, in.Name, err)
		}
		entry[i] = Tensor{Shape: shape, Raw: raw}
	}
	return &Data{Source: dir, Streams: [][]Entry{{entry}}}, nil
}

package measure

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"sync"
	"sync/atomic"

	"github.com/iaasbench/iaasbench/client"
	"github.com/iaasbench/iaasbench/measure/inputdata"
)

// expectation is what one request template's response must hold: the
// outputs that validation_data gives for every entry the request joins.
type expectation struct {
	stream int
	outs   []expectedOutput
}

// expectedOutput is one output's expected data, one part per row of the
// batch (its entry), so that a mismatch names the entry.
type expectedOutput struct {
	name     string
	datatype string
	rows     []expectedRow
}

type expectedRow struct {
	entry int
	raw   []byte
	elems [][]byte // BYTES: the elements, decoded once
}

// newExpectation joins the expected outputs of the entries a request
// carries (first..first+rows-1 of the stream, wrapping round); nil when
// none gives any. Every entry of a batch must give the same outputs: a
// response's output covers the whole batch.
func newExpectation(exp [][]inputdata.Output, stream, first, rows int, outputs []inputdata.Input) (*expectation, error) {
	e := &expectation{stream: stream}
	for _, out := range outputs {
		var o *expectedOutput
		var missing []int
		for j := range rows {
			k := (first + j) % len(exp)
			var t *inputdata.Output
			for i := range exp[k] {
				if exp[k][i].Name == out.Name {
					t = &exp[k][i]
				}
			}
			if t == nil {
				missing = append(missing, k)
				continue
			}
			if o == nil {
				o = &expectedOutput{name: out.Name, datatype: out.Datatype}
			}
			row := expectedRow{entry: k, raw: t.Raw}
			if out.Datatype == "BYTES" {
				elems, err := client.DecodeBytes(t.Raw)
				if err != nil {
					return nil, fmt.Errorf("validation_data: stream %d entry %d output %q: %w", stream, k, out.Name, err)
				}
				row.elems = elems
			}
			o.rows = append(o.rows, row)
		}
		if o == nil {
			continue
		}
		if len(missing) > 0 {
			return nil, fmt.Errorf("validation_data: stream %d: a batch of %d joins entry %d, which expects output %q, and entry %d, which does not: give it for every entry or none",
				stream, rows, o.rows[0].entry, out.Name, missing[0])
		}
		e.outs = append(e.outs, *o)
	}
	if len(e.outs) == 0 {
		return nil, nil
	}
	return e, nil
}

// check compares a response's outputs with the expectation, as
// perf_analyzer does: byte for byte.
func (e *expectation) check(call client.Call) error {
	oc, ok := call.(client.OutputCall)
	if !ok {
		return fmt.Errorf("validation_data: the connection does not give responses to check")
	}
	resp, err := oc.Response()
	if err != nil {
		return fmt.Errorf("validation_data: %w", err)
	}
	raws := resp.GetRawOutputContents()
	for _, o := range e.outs {
		var got []byte
		found := false
		for i, t := range resp.GetOutputs() {
			if t.GetName() == o.name {
				found = true
				if i < len(raws) {
					got = raws[i]
				}
				break
			}
		}
		if !found {
			return fmt.Errorf("validation_data: stream %d entry %d: the response has no output %q", e.stream, o.rows[0].entry, o.name)
		}
		if err := o.compare(got, e.stream); err != nil {
			return err
		}
	}
	return nil
}

func (o *expectedOutput) compare(got []byte, stream int) error {
	where := func(r expectedRow) string {
		return fmt.Sprintf("validation_data: stream %d entry %d: output %q", stream, r.entry, o.name)
	}
	if o.datatype == "BYTES" {
		elems, err := client.DecodeBytes(got)
		if err != nil {
			return fmt.Errorf("%s: %w", where(o.rows[0]), err)
		}
		for _, r := range o.rows {
			if len(elems) < len(r.elems) {
				return fmt.Errorf("%s: %d elements left in the response, want %d", where(r), len(elems), len(r.elems))
			}
			for i, want := range r.elems {
				if !bytes.Equal(elems[i], want) {
					return fmt.Errorf("%s: element %d is %q, want %q", where(r), i, elems[i], want)
				}
			}
			elems = elems[len(r.elems):]
		}
		if len(elems) > 0 {
			return fmt.Errorf("%s: %d elements more than expected", where(o.rows[len(o.rows)-1]), len(elems))
		}
		return nil
	}
	size := max(client.ElementSize(o.datatype), 1)
	off := 0
	for _, r := range o.rows {
		if off+len(r.raw) > len(got) {
			return fmt.Errorf("%s: the response has %d bytes, want %d", where(r), len(got), off+len(r.raw))
		}
		part := got[off : off+len(r.raw)]
		if !bytes.Equal(part, r.raw) {
			for i := 0; i+size <= len(part); i += size {
				if !bytes.Equal(part[i:i+size], r.raw[i:i+size]) {
					return fmt.Errorf("%s: element %d is %s, want %s", where(r), i/size, element(o.datatype, part[i:i+size]), element(o.datatype, r.raw[i:i+size]))
				}
			}
		}
		off += len(r.raw)
	}
	if off != len(got) {
		return fmt.Errorf("%s: the response has %d bytes, want %d", where(o.rows[len(o.rows)-1]), len(got), off)
	}
	return nil
}

// element shows one little-endian element of a fixed-size type.
func element(dt string, b []byte) string {
	le := binary.LittleEndian
	switch dt {
	case "INT8":
		return fmt.Sprint(int8(b[0]))
	case "INT16":
		return fmt.Sprint(int16(le.Uint16(b)))
	case "INT32":
		return fmt.Sprint(int32(le.Uint32(b)))
	case "INT64":
		return fmt.Sprint(int64(le.Uint64(b)))
	case "UINT8", "BOOL":
		return fmt.Sprint(b[0])
	case "UINT16":
		return fmt.Sprint(le.Uint16(b))
	case "UINT32":
		return fmt.Sprint(le.Uint32(b))
	case "UINT64":
		return fmt.Sprint(le.Uint64(b))
	case "FP32":
		return fmt.Sprint(math.Float32frombits(le.Uint32(b)))
	case "FP64":
		return fmt.Sprint(math.Float64frombits(le.Uint64(b)))
	}
	return fmt.Sprintf("0x%x", b)
}

// mismatches collects the responses that did not match validation_data:
// they count as errors of the measurement, and the first one is the
// reason given.
type mismatches struct {
	n     atomic.Int64
	once  sync.Once
	first error
}

func (m *mismatches) add(err error) {
	m.once.Do(func() { m.first = err })
	m.n.Add(1) // after: a count seen means the first is written
}

// err is nil when every response matched, else the count and the first.
func (m *mismatches) err() error {
	n := m.n.Load()
	if n == 0 {
		return nil
	}
	return fmt.Errorf("%d responses did not match the input data's validation_data (counted as errors); the first: %w", n, m.first)
}

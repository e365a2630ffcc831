package inputdata

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/iaasbench/iaasbench/client"
)

// The built-in models' inputs: simple (INT32 [16], batching),
// simple_string (BYTES [16]) and simple_identity (BYTES [-1]).
var (
	simpleIn = []Input{{Name: "INPUT0", Datatype: "INT32", Shape: []int64{16}}, {Name: "INPUT1", Datatype: "INT32", Shape: []int64{16}}}
	stringIn = []Input{{Name: "INPUT0", Datatype: "BYTES", Shape: []int64{16}}, {Name: "INPUT1", Datatype: "BYTES", Shape: []int64{16}}}
	identIn  = []Input{{Name: "INPUT0", Datatype: "BYTES", Shape: []int64{-1}}}
)

func int32s(raw []byte) []int32 {
	v := make([]int32, len(raw)/4)
	for i := range v {
		v[i] = int32(binary.LittleEndian.Uint32(raw[4*i:]))
	}
	return v
}

func strs(t *testing.T, raw []byte) []string {
	t.Helper()
	elems, err := client.DecodeBytes(raw)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]string, len(elems))
	for i, e := range elems {
		out[i] = string(e)
	}
	return out
}

// One stream of two entries, in the three forms: a list, content with
// shape (nested lists flatten in row-major order), and base64.
func TestSimpleFile(t *testing.T) {
	d, err := Load("testdata/simple.json", simpleIn, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Streams) != 1 || len(d.Streams[0]) != 2 || d.Entries() != 2 || d.HasValidation() {
		t.Fatalf("streams %d, entries %d, validation %v; want 1 stream of 2", len(d.Streams), d.Entries(), d.HasValidation())
	}
	e0, e1 := d.Streams[0][0], d.Streams[0][1]
	if got := int32s(e0[0].Raw); got[0] != 1 || got[15] != 16 || len(got) != 16 {
		t.Errorf("entry 0 INPUT0 = %v", got)
	}
	want1 := make([]int32, 16)
	want1[15] = -5
	if got := int32s(e1[0].Raw); !reflect.DeepEqual(got, want1) {
		t.Errorf("entry 1 INPUT0 = %v, want %v", got, want1)
	}
	if got := int32s(e1[1].Raw); got[0] != 1 || got[15] != 16 {
		t.Errorf("entry 1 INPUT1 (b64) = %v, want 1..16", got)
	}
	for _, e := range []Entry{e0, e1} {
		for _, ts := range e {
			if !reflect.DeepEqual(ts.Shape, []int64{16}) {
				t.Errorf("shape %v, want [16]", ts.Shape)
			}
		}
	}
}

// A list of lists is one stream per list; BYTES values are strings;
// validation_data of empty entries expects nothing.
func TestStringStreams(t *testing.T) {
	d, err := Load("testdata/strings.json", stringIn, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Streams) != 2 || len(d.Streams[0]) != 1 || len(d.Streams[1]) != 2 || len(d.Expected) != 2 || d.HasValidation() {
		t.Fatalf("streams %v, validation %v; want streams of 1 and 2 entries, nothing expected", len(d.Streams), d.Expected)
	}
	if got := strs(t, d.Streams[1][1][0].Raw); got[0] != "-3" || len(got) != 16 {
		t.Errorf("stream 1 entry 1 INPUT0 = %q", got)
	}
	if got := strs(t, d.Streams[1][0][1].Raw); got[0] != "7" || got[15] != "7" {
		t.Errorf("stream 1 entry 0 INPUT1 = %q", got)
	}
}

// A variable dimension comes from "shape", from --shape, or from the
// element count when it is the only one.
func TestVariableShapes(t *testing.T) {
	for _, c := range []struct {
		json   string
		inputs []Input
		want   []int64
	}{
		{`{"data":[{"INPUT0":{"content":["a","b","c"],"shape":[3]}}]}`, identIn, []int64{3}},
		{`{"data":[{"INPUT0":["a","b"]}]}`, identIn, []int64{2}},
		{`{"data":[{"INPUT0":["a","b","c","d"]}]}`, []Input{{Name: "INPUT0", Datatype: "BYTES", Shape: []int64{-1, 2}}}, []int64{2, 2}},
		{`{"data":[{"INPUT0":[1,2,3,4]}]}`, []Input{{Name: "INPUT0", Datatype: "FP32", Shape: []int64{-1, -1}, Default: []int64{1, 4}}}, []int64{1, 4}},
		{`{"data":[{"INPUT0":{"content":[1,2,3,4],"shape":[4,1]}}]}`, []Input{{Name: "INPUT0", Datatype: "FP16", Shape: []int64{-1, -1}, Default: []int64{1, 4}}}, []int64{4, 1}},
	} {
		d, err := Parse("x.json", []byte(c.json), c.inputs, nil)
		if err != nil {
			t.Errorf("%s: %v", c.json, err)
			continue
		}
		if got := d.Streams[0][0][0].Shape; !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: shape %v, want %v", c.json, got, c.want)
		}
	}
}

// Every datatype's values land in Triton's raw form.
func TestDatatypes(t *testing.T) {
	for _, c := range []struct {
		dt, vals string
		want     []byte
	}{
		{"BOOL", `[true,false]`, []byte{1, 0}},
		{"INT8", `[-1,2]`, []byte{0xff, 2}},
		{"UINT16", `[258,1]`, []byte{2, 1, 1, 0}},
		{"INT64", `[-2,0]`, []byte{0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0}},
		{"FP32", `[1,0.5]`, []byte{0, 0, 0x80, 0x3f, 0, 0, 0, 0x3f}},
		{"FP16", `[1,-2]`, []byte{0, 0x3c, 0, 0xc0}},
		{"BF16", `[1,-2]`, []byte{0x80, 0x3f, 0, 0xc0}},
		{"FP64", `[1,0]`, []byte{0, 0, 0, 0, 0, 0, 0xf0, 0x3f, 0, 0, 0, 0, 0, 0, 0, 0}},
	} {
		in := []Input{{Name: "X", Datatype: c.dt, Shape: []int64{2}}}
		d, err := Parse("t.json", []byte(`{"data":[{"X":`+c.vals+`}]}`), in, nil)
		if err != nil {
			t.Errorf("%s: %v", c.dt, err)
			continue
		}
		if got := d.Streams[0][0][0].Raw; !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s %s = % x, want % x", c.dt, c.vals, got, c.want)
		}
	}
}

// Bad files fail with the file, the entry and the input named, and why.
func TestErrors(t *testing.T) {
	const ok16 = `[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]`
	for _, c := range []struct {
		json   string
		inputs []Input
		want   []string
	}{
		{`{"data":[{"INPUT0":` + ok16 + `,"INPUT1":` + ok16 + `,"INPUT9":[1]}]}`, simpleIn, []string{"bad.json", "data[0]", `unknown input "INPUT9"`, "INPUT0, INPUT1"}},
		{`{"data":[{"INPUT0":` + ok16 + `,"INPUT1":` + ok16 + `},{"INPUT0":` + ok16 + `}]}`, simpleIn, []string{"data[1]", `input "INPUT1" missing`}},
		{`{"data":[{"INPUT0":[1,2,3],"INPUT1":` + ok16 + `}]}`, simpleIn, []string{"data[0]", `input "INPUT0"`, "12 bytes, shape [16] of INT32 needs 64"}},
		{`{"data":[{"INPUT0":` + ok16 + `,"INPUT1":[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,"1"]}]}`, simpleIn, []string{`input "INPUT1"`, `element 15: "1" is not a number`}},
		{`{"data":[{"INPUT0":` + ok16 + `,"INPUT1":[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1.5]}]}`, simpleIn, []string{`element 15: 1.5 is not a INT32`}},
		{`{"data":[{"INPUT0":` + ok16 + `,"INPUT1":[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,3000000000]}]}`, simpleIn, []string{`3000000000 is not a INT32`}},
		{`{"data":[{"INPUT0":{"b64":"not base64!"},"INPUT1":` + ok16 + `}]}`, simpleIn, []string{`input "INPUT0"`, `"b64": illegal base64`}},
		{`{"data":[[{"INPUT0":["1"],"INPUT1":["1"]}],[{"INPUT0":[1],"INPUT1":["1"]}]]}`, []Input{{Name: "INPUT0", Datatype: "BYTES", Shape: []int64{1}}, {Name: "INPUT1", Datatype: "BYTES", Shape: []int64{1}}},
			[]string{"data[1][0] (stream 1, entry 0)", `input "INPUT0"`, "element 0: 1 is not a string"}},
		{`{"data":[{"INPUT0":{"content":["a"],"shape":[2]}}]}`, identIn, []string{"1 BYTES elements, shape [2] needs 2"}},
		{`{"data":[{"INPUT0":{"content":["a"],"shape":[1,1]}}]}`, identIn, []string{`"shape" [1 1] does not fit the model's [-1]`}},
		{`{"data":[{"INPUT0":{"shape":[1]}}]}`, identIn, []string{`no "content"`}},
		{`{"data":[{"INPUT0":{"b64":"AQAAAA=="}}]}`, identIn, []string{"BYTES element 0: length 1 but 0 bytes left"}},
		{`{"data":[{"INPUT0":"a"}]}`, identIn, []string{"a tensor must be a list"}},
		{`{"data":[{"INPUT0":["a"]},[{"INPUT0":["a"]}]]}`, identIn, []string{"data[1]", "mixes entries"}},
		{`{"data":[]}`, identIn, []string{"non-empty list"}},
		{`{"dat":[]}`, identIn, []string{`unknown field "dat"`}},
		{`{"data":[{"INPUT0":["a"]}]`, identIn, []string{"bad.json", "line 1"}},
		{"{\n\"data\": [\n{\"INPUT0\": [\"a\",]}]}", identIn, []string{"line 3", "invalid character"}},
		{`[1]`, identIn, []string{`JSON object with a "data" list`}},
		{`{"data":[{"X":[1,2]}]}`, []Input{{Name: "X", Datatype: "INT8", Shape: []int64{-1, -1}}}, []string{"more than one variable dimension", "--shape X:"}},
	} {
		_, err := Parse("bad.json", []byte(c.json), c.inputs, nil)
		if err == nil {
			t.Errorf("%s: no error, want %q", c.json, c.want)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s:\n error %q\n lacks %q", c.json, err, w)
			}
		}
	}
}

// A directory holds one file per input: raw bytes, or lines of text for
// BYTES; a missing file or a wrong size is named.
func TestDirectory(t *testing.T) {
	dir := t.TempDir()
	var raw []byte
	for i := range 16 {
		raw = binary.LittleEndian.AppendUint32(raw, uint32(i*3))
	}
	if err := os.WriteFile(filepath.Join(dir, "INPUT0"), raw, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(dir, simpleIn, nil); err == nil || !strings.Contains(err.Error(), `input "INPUT1"`) || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("missing INPUT1: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "INPUT1"), raw[:60], 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(dir, simpleIn, nil); err == nil || !strings.Contains(err.Error(), filepath.Join(dir, "INPUT1")) || !strings.Contains(err.Error(), "60 bytes, shape [16] of INT32 needs 64") {
		t.Errorf("short INPUT1: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "INPUT1"), raw, 0o644); err != nil {
		t.Fatal(err)
	}
	d, err := Load(dir, simpleIn, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Streams) != 1 || len(d.Streams[0]) != 1 || int32s(d.Streams[0][0][1].Raw)[5] != 15 {
		t.Errorf("directory data %+v", d.Streams)
	}

	sdir := t.TempDir()
	if err := os.WriteFile(filepath.Join(sdir, "INPUT0"), []byte("one\ntwo words\n\nfour\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	d, err = Load(sdir, identIn, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := strs(t, d.Streams[0][0][0].Raw); !reflect.DeepEqual(got, []string{"one", "two words", "", "four"}) || !reflect.DeepEqual(d.Streams[0][0][0].Shape, []int64{4}) {
		t.Errorf("strings %q shape %v", got, d.Streams[0][0][0].Shape)
	}
	in := []Input{{Name: "INPUT0", Datatype: "BYTES", Shape: []int64{-1}, Default: []int64{3}}}
	if _, err := Load(sdir, in, nil); err == nil || !strings.Contains(err.Error(), "4 BYTES elements, shape [3] needs 3") {
		t.Errorf("--shape 3 over 4 lines: %v", err)
	}
	if _, err := Load(filepath.Join(sdir, "nope.json"), identIn, nil); err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("missing file: %v", err)
	}
}

var simpleOut = []Input{{Name: "OUTPUT0", Datatype: "INT32", Shape: []int64{16}}, {Name: "OUTPUT1", Datatype: "INT32", Shape: []int64{16}}}

// validation_data is read against the outputs, aligned with data; an
// entry may give some outputs or none.
func TestValidationData(t *testing.T) {
	ones := `[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]`
	twos := `[2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2]`
	zeros := `[0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0]`
	entry := `{"INPUT0":` + ones + `,"INPUT1":` + ones + `}`
	d, err := Parse("v.json", []byte(`{"data":[`+entry+`,`+entry+`],"validation_data":[{"OUTPUT1":`+zeros+`,"OUTPUT0":`+twos+`},{}]}`), simpleIn, simpleOut)
	if err != nil {
		t.Fatal(err)
	}
	if !d.HasValidation() || len(d.Expected) != 1 || len(d.Expected[0]) != 2 || len(d.Expected[0][1]) != 0 {
		t.Fatalf("expected %+v", d.Expected)
	}
	e := d.Expected[0][0]
	if len(e) != 2 || e[0].Name != "OUTPUT0" || e[1].Name != "OUTPUT1" || int32s(e[0].Raw)[15] != 2 || !reflect.DeepEqual(e[1].Shape, []int64{16}) {
		t.Errorf("entry 0 expects %+v", e)
	}
	for _, c := range []struct{ json, want string }{
		{`{"data":[` + entry + `],"validation_data":[{},{}]}`, `"validation_data" has 2 entries, "data" 1`},
		{`{"data":[` + entry + `],"validation_data":[{"OUTPUT2":` + ones + `}]}`, `validation_data[0]: unknown output "OUTPUT2" (the model's outputs: OUTPUT0, OUTPUT1)`},
		{`{"data":[` + entry + `],"validation_data":[{"OUTPUT0":[1,2]}]}`, `validation_data[0]: output "OUTPUT0": 8 bytes, shape [16] of INT32 needs 64`},
		{`{"data":[[` + entry + `],[` + entry + `]],"validation_data":[[{}],[{},{}]]}`, `validation_data[1]: stream 1 of "data" has 1 entries`},
		{`{"data":[[` + entry + `]],"validation_data":[[{"OUTPUT0":["x"]}]]}`, `validation_data[0][0]: output "OUTPUT0": element 0: "x" is not a number`},
	} {
		_, err := Parse("v.json", []byte(c.json), simpleIn, simpleOut)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "v.json") {
			t.Errorf("%s: err %v, want one naming the file and saying %q", c.json, err, c.want)
		}
	}
}

package measure

import (
	"context"
	"encoding/binary"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/iaasbench/iaasbench/client"
	pb "github.com/iaasbench/iaasbench/inferencepb"
	"github.com/iaasbench/iaasbench/server"
	"github.com/iaasbench/iaasbench/workload"
)

func int32sOf(raw []byte) []int32 {
	v := make([]int32, len(raw)/4)
	for i := range v {
		v[i] = int32(binary.LittleEndian.Uint32(raw[4*i:]))
	}
	return v
}

func seq32(from, n int32) []int32 {
	v := make([]int32, n)
	for i := range v {
		v[i] = from + int32(i)
	}
	return v
}

// prepared runs prepare and closes the plan with the test.
func prepared(t *testing.T, o Options) *plan {
	t.Helper()
	o, err := o.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	p, err := prepare(context.Background(), &o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.close)
	return p
}

// The requests made from simple.json carry the file's values, and the
// server computes on them: sent over either protocol, OUTPUT0 is the sum
// of the entry's two inputs. A batch of 3 over 2 entries joins entries
// 0,1,0 and 1,0,1.
func TestInputDataRequestsCarryTheFile(t *testing.T) {
	srv := startHTTPServer(t, server.Options{})
	entry0 := [2][]int32{seq32(1, 16), {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1}}
	entry1 := [2][]int32{make([]int32, 16), seq32(1, 16)}
	entry1[0][15] = -5
	for _, addr := range []string{srv.Addr(), srv.HTTPURL()} {
		o := quick(addr, "simple")
		o.InputData = "inputdata/testdata/simple.json"
		p := prepared(t, o)
		if len(p.streams) != 1 || len(p.streams[0]) != 2 {
			t.Fatalf("%s: %d streams, first of %d requests; want 1 of 2", addr, len(p.streams), len(p.streams[0]))
		}
		for k, want := range [][2][]int32{entry0, entry1} {
			req := p.newRequest(p.streams[0][k], 0, nil)
			for i := range 2 {
				if got := int32sOf(req.RawInputContents[i]); !reflect.DeepEqual(got, want[i]) {
					t.Errorf("%s: request %d INPUT%d = %v, want %v", addr, k, i, got, want[i])
				}
			}
			resp, err := p.targets[0].control.Infer(context.Background(), req)
			if err != nil {
				t.Fatalf("%s: request %d: %v", addr, k, err)
			}
			sum := int32sOf(resp.RawOutputContents[0])
			for j := range sum {
				if sum[j] != want[0][j]+want[1][j] {
					t.Fatalf("%s: request %d: OUTPUT0 = %v, want the sum of the entry's inputs", addr, k, sum)
				}
			}
		}

		o.BatchSize = 3
		p = prepared(t, o)
		if len(p.streams[0]) != 2 {
			t.Fatalf("batch 3 over 2 entries: %d requests, want 2", len(p.streams[0]))
		}
		for k, order := range [][]int{{0, 1, 0}, {1, 0, 1}} {
			req := p.streams[0][k]
			if !reflect.DeepEqual(req.Inputs[0].Shape, []int64{3, 16}) {
				t.Errorf("batch shape %v, want [3 16]", req.Inputs[0].Shape)
			}
			var want []int32
			for _, e := range order {
				want = append(want, [][2][]int32{entry0, entry1}[e][1]...)
			}
			if got := int32sOf(req.RawInputContents[1]); !reflect.DeepEqual(got, want) {
				t.Errorf("batch request %d INPUT1 = %v, want entries %v", k, got, order)
			}
		}
	}
}

// A measurement cycles through the entries: with a second entry the
// server refuses (simple_string takes decimal integers), the first
// request passes the pre-flight check and the load fails on the second,
// over gRPC and HTTP (both encodings); on a gRPC stream half the
// requests fail. With good data
// it runs and records which data it used.
func TestInputDataCycles(t *testing.T) {
	srv := startHTTPServer(t, server.Options{})
	dir := t.TempDir()
	entry := func(v string) string {
		vals := strings.Repeat(`"`+v+`",`, 15) + `"` + v + `"`
		return `{"INPUT0":[` + vals + `],"INPUT1":[` + vals + `]}`
	}
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte(`{"data":[`+entry("3")+`,`+entry("x")+`]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	type variant struct {
		addr, rpc, enc string
	}
	vs := []variant{
		{srv.Addr(), workload.RPCUnary, ""}, {srv.Addr(), workload.RPCStream, ""},
		{srv.HTTPURL(), workload.RPCUnary, client.EncodingBinary}, {srv.HTTPURL(), workload.RPCUnary, client.EncodingJSON},
	}
	for _, v := range vs {
		o := quick(v.addr, "simple_string")
		o.RPC, o.Conn.HTTPEncoding, o.InputData, o.Requests, o.Warmup = v.rpc, v.enc, bad, 10, 0
		m, err := Run(context.Background(), o)
		if v.rpc == workload.RPCStream {
			// A stream reports a refused request by message only, without
			// a code: counted as an error, and the load goes on.
			if err != nil || m.Requests == 0 || m.Errors == 0 {
				t.Errorf("%+v: %v; want requests and errors (entries 0 and 1)", v, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), "not a decimal integer") {
			t.Errorf("%+v: %v; want the server's refusal of entry 1", v, err)
		}
	}
	for _, v := range vs {
		for _, mode := range []string{workload.ModeClosed, workload.ModeOpen} {
			o := quick(v.addr, "simple_string")
			o.RPC, o.Conn.HTTPEncoding, o.InputData, o.Requests, o.Warmup = v.rpc, v.enc, "inputdata/testdata/strings.json", 20, 0
			o.Mode, o.Clients, o.BatchSize = mode, 3, 2
			if mode == workload.ModeOpen {
				o.Rate = 500
			}
			m, err := Run(context.Background(), o)
			if err != nil {
				t.Fatalf("%+v %s: %v", v, mode, err)
			}
			if m.Requests != 20 || m.Errors != 0 || m.InputData == nil || m.InputData.Source != "strings.json" || m.InputData.Streams != 2 || m.InputData.Entries != 3 {
				t.Errorf("%+v %s: requests %d errors %d input data %+v", v, mode, m.Requests, m.Errors, m.InputData)
			}
		}
	}
}

// Client k takes stream k mod S; within its stream the requests take the
// entries in turn, from any slot.
func TestInputDataStreamsPerClient(t *testing.T) {
	srv := startServer(t)
	o := quick(srv.Addr(), "simple_string")
	o.InputData, o.Clients = "inputdata/testdata/strings.json", 3
	p := prepared(t, o)
	first := func(req *pb.ModelInferRequest) string {
		elems, err := client.DecodeBytes(req.RawInputContents[0])
		if err != nil {
			t.Fatal(err)
		}
		return string(elems[0])
	}
	for i, want := range [][]string{{"1"}, {"100", "-3"}, {"1"}} {
		var got []string
		for _, r := range p.stream(i) {
			got = append(got, first(r))
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("client %d: stream's first elements %v, want %v", i, got, want)
		}
	}
	c := &clientLoad{templates: 2}
	var order []string
	for range 5 {
		order = append(order, strconv.Itoa(c.next()))
	}
	if strings.Join(order, "") != "01010" {
		t.Errorf("order %v, want 0 1 0 1 0", order)
	}
}

// Bad input data fails before measuring, naming the file and the input;
// a path that is not there fails in the options.
func TestInputDataErrors(t *testing.T) {
	srv := startServer(t)
	o := quick(srv.Addr(), "simple")
	o.InputData = "inputdata/testdata/strings.json" // strings for INT32 inputs
	if _, err := Run(context.Background(), o); err == nil || !strings.Contains(err.Error(), "strings.json") || !strings.Contains(err.Error(), `input "INPUT0"`) || !strings.Contains(err.Error(), "not a number") {
		t.Errorf("strings into simple: %v", err)
	}
	o.InputData = "inputdata/testdata/nope.json"
	if _, err := o.withDefaults(); err == nil || !strings.Contains(err.Error(), "input data") || !strings.Contains(err.Error(), "nope.json") {
		t.Errorf("missing file: %v", err)
	}
}

// validation_data is checked on every response, over gRPC and HTTP (both
// encodings), one entry per request or two: the built-in simple model
// returns OUTPUT0 = INPUT0+INPUT1 and OUTPUT1 = INPUT0-INPUT1. A file
// whose expected outputs are right measures without errors; one wrong
// value makes the measurement fail with errors, naming the entry, the
// output and the element.
func TestValidationData(t *testing.T) {
	srv := startHTTPServer(t, server.Options{})
	dir := t.TempDir()
	list := func(v []int32) string {
		var s []string
		for _, x := range v {
			s = append(s, strconv.Itoa(int(x)))
		}
		return "[" + strings.Join(s, ",") + "]"
	}
	fill := func(x int32) []int32 {
		v := make([]int32, 16)
		for i := range v {
			v[i] = x
		}
		return v
	}
	data := `"data":[{"INPUT0":` + list(seq32(1, 16)) + `,"INPUT1":` + list(fill(1)) + `},{"INPUT0":` + list(fill(5)) + `,"INPUT1":` + list(fill(2)) + `}]`
	wrong := fill(3)
	wrong[3] = 4
	write := func(name, out1 string) string {
		path := filepath.Join(dir, name)
		body := `{` + data + `,"validation_data":[{"OUTPUT0":` + list(seq32(2, 16)) + `,"OUTPUT1":` + list(seq32(0, 16)) + `},{"OUTPUT0":` + list(fill(7)) + `,"OUTPUT1":` + out1 + `}]}`
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	good, bad := write("good.json", list(fill(3))), write("bad.json", list(wrong))
	type variant struct{ addr, enc string }
	for _, v := range []variant{{srv.Addr(), ""}, {srv.HTTPURL(), client.EncodingBinary}, {srv.HTTPURL(), client.EncodingJSON}} {
		for _, batch := range []int{1, 2} {
			o := quick(v.addr, "simple")
			o.Conn.HTTPEncoding, o.InputData, o.Requests, o.Warmup, o.BatchSize = v.enc, good, 20, 0, batch
			m, err := Run(context.Background(), o)
			if err != nil || m.Errors != 0 || m.Requests != 20 {
				t.Errorf("%+v batch %d, matching validation: %v, %d requests, %d errors; want 20 and none", v, batch, err, m.Requests, m.Errors)
			}
			o.InputData = bad
			m, err = Run(context.Background(), o)
			want := `validation_data: stream 0 entry 1: output "OUTPUT1": element 3 is 3, want 4`
			// Batch 1: entry 0's requests pass; batch 2: every request
			// carries entry 1.
			if err == nil || !strings.Contains(err.Error(), want) || m == nil || m.Errors == 0 || (m.Requests == 0) != (batch == 2) || !strings.Contains(m.Error, want) {
				t.Errorf("%+v batch %d, a wrong expected value: %v (measurement %+v); want errors saying %q", v, batch, err, m, want)
			}
		}
	}
	o := quick(srv.Addr(), "simple")
	o.InputData, o.RPC = good, workload.RPCStream
	if _, err := Run(context.Background(), o); err == nil || !strings.Contains(err.Error(), "checked on unary requests only") {
		t.Errorf("stream with validation_data: %v", err)
	}
}

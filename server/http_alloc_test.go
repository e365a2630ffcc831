package server

import (
	"bytes"
	"encoding/binary"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"testing"
)

// discard is a ResponseWriter that keeps nothing, so the benchmark counts
// the handler's allocations only.
type discard struct{ h http.Header }

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) Write(b []byte) (int, error) { return len(b), nil }
func (d *discard) WriteHeader(int)             {}

// BenchmarkHTTPInferHandler is the server's HTTP inference path on
// Triton's simple model, without the network: allocations per request of
// the JSON and binary forms (go test -bench HTTPInferHandler -benchmem).
func BenchmarkHTTPInferHandler(b *testing.B) {
	srv, err := New(Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
	h := srv.httpHandler()
	jsonBody := []byte(`{"inputs":[{"name":"INPUT0","shape":[1,16],"datatype":"INT32","data":[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16]},` +
		`{"name":"INPUT1","shape":[1,16],"datatype":"INT32","data":[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]}]}`)
	hdr := []byte(`{"inputs":[{"name":"INPUT0","shape":[1,16],"datatype":"INT32","parameters":{"binary_data_size":64}},` +
		`{"name":"INPUT1","shape":[1,16],"datatype":"INT32","parameters":{"binary_data_size":64}}],"parameters":{"binary_data_output":true}}`)
	binBody := append([]byte{}, hdr...)
	for i := 0; i < 32; i++ {
		binBody = binary.LittleEndian.AppendUint32(binBody, uint32(i))
	}
	for _, tc := range []struct {
		name string
		body []byte
		hlen string
	}{{"json", jsonBody, ""}, {"binary", binBody, strconv.Itoa(len(hdr))}} {
		b.Run(tc.name, func(b *testing.B) {
			rd := bytes.NewReader(tc.body)
			req, _ := http.NewRequest("POST", "/v2/models/simple/infer", io.NopCloser(rd))
			req.ContentLength = int64(len(tc.body))
			if tc.hlen != "" {
				req.Header.Set(inferHeaderLength, tc.hlen)
			}
			w := &discard{h: http.Header{}}
			b.ReportAllocs()
			for b.Loop() {
				rd.Reset(tc.body)
				clear(w.h)
				h.ServeHTTP(w, req)
			}
		})
	}
}

package client

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"testing"

	pb "github.com/iaasbench/iaasbench/inferencepb"
	"github.com/iaasbench/iaasbench/server"
)

// BenchmarkHTTPCall is one prepared binary call of the talk's mlp (batch
// 8) against the embedded server in this process, beside a minimal
// net/http client posting the same bytes: allocations per request show
// what the prepared call saves (the body is never copied or rebuilt).
func BenchmarkHTTPCall(b *testing.B) {
	srv, err := server.New(server.Options{Addr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0", MetricsAddr: "off", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		b.Fatal(err)
	}
	defer srv.Stop()
	raw := make([]byte, 8*64*4)
	req := &pb.ModelInferRequest{ModelName: "mlp", Id: "0",
		Inputs:           []*pb.ModelInferRequest_InferInputTensor{{Name: "x", Datatype: "FP32", Shape: []int64{8, 64}}},
		RawInputContents: [][]byte{raw}}
	b.Run("iaasbench", func(b *testing.B) {
		c, err := Connect(srv.HTTPURL(), Settings{MaxConns: 1})
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		call, err := c.NewCall(req)
		if err != nil {
			b.Fatal(err)
		}
		ctx := context.Background()
		b.ReportAllocs()
		for b.Loop() {
			if err := call.Do(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("minimal", func(b *testing.B) {
		head := `{"id":"0","parameters":{"binary_data_output":true},"inputs":[{"name":"x","shape":[8,64],"datatype":"FP32","parameters":{"binary_data_size":2048}}]}`
		body := append([]byte(head), raw...)
		hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1, DisableCompression: true}}
		url := srv.HTTPURL() + "/v2/models/mlp/infer"
		b.ReportAllocs()
		for b.Loop() {
			r, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
			r.Header.Set("Content-Type", "application/octet-stream")
			r.Header.Set("Inference-Header-Content-Length", strconv.Itoa(len(head)))
			resp, err := hc.Do(r)
			if err != nil {
				b.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	})
}

package client

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"

	pb "github.com/iaasbench/iaasbench/inferencepb"
	"github.com/iaasbench/iaasbench/server"
)

// Prepared calls reuse their keep-alive connections: 8 goroutines sending
// 200 requests each dial about 8 connections, not 1600, over both
// encodings. (net/http hands a connection back to its pool just after the
// response is read, so a request sent at once may find none idle and dial
// another; the bound leaves room for that, far below one per request.)
func TestKeepAlive(t *testing.T) {
	srv, err := server.New(server.Options{Addr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0", MetricsAddr: "off", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	for _, enc := range []string{EncodingBinary, EncodingJSON} {
		c, err := Connect(srv.HTTPURL(), Settings{HTTPEncoding: enc, MaxConns: 8})
		if err != nil {
			t.Fatal(err)
		}
		h := c.(*HTTPClient)
		var wg sync.WaitGroup
		for g := 0; g < 8; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				call, err := c.NewCall(&pb.ModelInferRequest{ModelName: "simple",
					Inputs: []*pb.ModelInferRequest_InferInputTensor{
						{Name: "INPUT0", Datatype: "INT32", Shape: []int64{1, 16}}, {Name: "INPUT1", Datatype: "INT32", Shape: []int64{1, 16}}},
					RawInputContents: [][]byte{make([]byte, 64), make([]byte, 64)}})
				if err != nil {
					t.Error(err)
					return
				}
				for i := 0; i < 200; i++ {
					if err := call.Do(context.Background()); err != nil {
						t.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
		h.conns.mu.Lock()
		dials := h.conns.dials
		h.conns.mu.Unlock()
		if dials > 100 {
			t.Errorf("%s: %d connections dialed for 1600 requests, 8 in flight: keep-alive is not working", enc, dials)
		}
		t.Logf("%s: %d connections for 1600 requests", enc, dials)
		c.Close()
	}
}

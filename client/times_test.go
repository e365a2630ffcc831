package client_test

import (
	"testing"

	"github.com/iaasbench/iaasbench/client"
	"github.com/iaasbench/iaasbench/server"
)

// Every prepared call reports the client's own send and receive times
// (perf_analyzer's Client Send and Client Recv), over both protocols.
// Only that they were measured is checked: their size depends on the
// machine.
func TestCallTimes(t *testing.T) {
	srv := serve(t, server.Options{})
	for _, e := range endpoints(srv) {
		t.Run(e.name, func(t *testing.T) {
			c := connect(t, e.addr, e.s)
			call, err := c.NewCall(simpleRequest())
			if err != nil {
				t.Fatal(err)
			}
			tc, ok := call.(client.TimedCall)
			if !ok {
				t.Fatalf("%T does not report its times", call)
			}
			for i := 0; i < 3; i++ {
				if err := call.Do(ctx(t)); err != nil {
					t.Fatal(err)
				}
				if ts := tc.Times(); ts.Send <= 0 || ts.Recv <= 0 {
					t.Errorf("call %d: times %+v, want both > 0", i, ts)
				}
			}
		})
	}
}

package sweep

import (
	"context"
	"testing"
	"time"

	"github.com/iaasbench/iaasbench/client"
	pb "github.com/iaasbench/iaasbench/inferencepb"
	"github.com/iaasbench/iaasbench/scenarios"
	"github.com/iaasbench/iaasbench/server"
)

// Each point's model-config override reaches the server through
// RepositoryModelLoad on top of the point's instances, and a point
// without the override's fields keeps the server's.
func TestConfigureAppliesModelConfigOverride(t *testing.T) {
	srv, err := server.New(server.Options{Addr: "127.0.0.1:0", MetricsAddr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	c, err := client.Dial(srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s, err := scenarios.Parse([]byte(`
workload: {model: mlp}
dimensions:
  instances: [1, 3]
  model_config:
    - {dynamic_batching: {max_queue_delay_microseconds: 0, default_queue_policy: {max_queue_size: 7}}}
    - {max_batch_size: 32, dynamic_batching: {max_queue_delay_microseconds: 700, preferred_batch_size: [8, 16]}}
cost: {prices: {node_hour: 1}}
`), "mc.yaml")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, p := range s.Points() {
		if err := Configure(ctx, c, s, p); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		cfg, err := c.ModelConfig(ctx, "mlp", "")
		if err != nil {
			t.Fatal(err)
		}
		db := cfg.GetDynamicBatching()
		if g := cfg.GetInstanceGroup(); len(g) != 1 || int(g[0].GetCount()) != p.Instances || g[0].GetKind() != pb.ModelInstanceGroup_KIND_CPU {
			t.Errorf("%s: instance groups %v", p, g)
		}
		switch o, _ := s.ModelConfigOverride(p.ModelConfig); o.Name {
		case s.Dimensions.ModelConfig.Overrides[0].Name:
			if db == nil || db.GetMaxQueueDelayMicroseconds() != 0 || db.GetDefaultQueuePolicy().GetMaxQueueSize() != 7 || cfg.GetMaxBatchSize() != 65536 {
				t.Errorf("%s: config %v", p, cfg)
			}
		default:
			if db.GetMaxQueueDelayMicroseconds() != 700 || len(db.GetPreferredBatchSize()) != 2 || cfg.GetMaxBatchSize() != 32 {
				t.Errorf("%s: config %v", p, cfg)
			}
		}
	}
	// A point that names no override known to the scenario is an error.
	p := s.Points()[0]
	p.ModelConfig = "max_batch_size=3"
	if err := Configure(ctx, c, s, p); err == nil {
		t.Error("unknown override: want an error")
	}
}

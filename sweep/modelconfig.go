package sweep

import (
	"context"
	"fmt"

	"github.com/iaasbench/iaasbench/client"

	pb "github.com/iaasbench/iaasbench/inferencepb"
	"github.com/iaasbench/iaasbench/results"
	"github.com/iaasbench/iaasbench/scenarios"
)

// pointConfigWithOverride is pointConfig with the point's model-config
// override (scenarios.ModelConfigs) merged on top: the point's instances
// and GPUs and the scenario's server settings first, then the fields the
// override sets.
func pointConfigWithOverride(cfg *pb.ModelConfig, s *scenarios.Scenario, p results.Point) (*pb.ModelConfig, error) {
	out := pointConfig(cfg, s, p)
	if p.ModelConfig == "" {
		return out, nil
	}
	o, ok := s.ModelConfigOverride(p.ModelConfig)
	if !ok {
		return nil, fmt.Errorf("point %s: scenario %s has no model_config override named %q", p.Key(), s.Name, p.ModelConfig)
	}
	merged, err := o.Apply(out)
	if err != nil {
		return nil, fmt.Errorf("model_config %s: %w", p.ModelConfig, err)
	}
	return merged, nil
}

// resetForOverride reloads model from its repository's own configuration
// when the scenario sweeps model-config overrides, so that each point's
// override is merged into the model's configuration as written, not into
// what the previous point left loaded (Model Analyzer derives every
// variant from the original config too). Without overrides nothing is
// reloaded: the point's own fields are set in full each time.
func resetForOverride(ctx context.Context, c client.Conn, s *scenarios.Scenario, model string) error {
	if !s.Dimensions.ModelConfig.IsSet() {
		return nil
	}
	if err := c.Load(ctx, model, nil); err != nil {
		return fmt.Errorf("reload %s from its repository before applying a model_config override: %w", model, err)
	}
	return nil
}

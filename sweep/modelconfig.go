package sweep

import (
	"fmt"

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

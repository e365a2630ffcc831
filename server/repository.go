package server

import (
	"fmt"

	"google.golang.org/protobuf/proto"

	pb "github.com/iaasbench/iaasbench/inferencepb"
)

// validateConfig checks what the scheduler relies on, naming the field.
func validateConfig(cfg *pb.ModelConfig) error {
	if cfg.GetMaxBatchSize() < 0 {
		return fmt.Errorf("model %q: max_batch_size %d must be >= 0", cfg.Name, cfg.MaxBatchSize)
	}
	if len(cfg.GetInput()) == 0 || len(cfg.GetOutput()) == 0 {
		return fmt.Errorf("model %q: needs at least one input and one output", cfg.Name)
	}
	// Every data type is carried (TYPE_STRING as BYTES); whether a
	// backend computes on it is the backend's check.
	for _, in := range cfg.GetInput() {
		if in.GetDataType() == pb.DataType_TYPE_INVALID {
			return fmt.Errorf("model %q: input %q needs a data_type (TYPE_FP32, TYPE_INT32, TYPE_STRING, ...)", cfg.Name, in.Name)
		}
	}
	for _, o := range cfg.GetOutput() {
		if o.GetDataType() == pb.DataType_TYPE_INVALID {
			return fmt.Errorf("model %q: output %q needs a data_type (TYPE_FP32, TYPE_INT32, TYPE_STRING, ...)", cfg.Name, o.Name)
		}
	}
	for _, g := range cfg.GetInstanceGroup() {
		if g.GetCount() < 0 {
			return fmt.Errorf("model %q: instance_group %q count %d must be >= 0", cfg.Name, g.Name, g.Count)
		}
	}
	if db := cfg.GetDynamicBatching(); db != nil {
		for _, p := range db.GetPreferredBatchSize() {
			if p <= 0 || (cfg.MaxBatchSize > 0 && p > cfg.MaxBatchSize) {
				return fmt.Errorf("model %q: dynamic_batching.preferred_batch_size %d must be in 1..max_batch_size (%d)", cfg.Name, p, cfg.MaxBatchSize)
			}
		}
		if cfg.MaxBatchSize == 0 {
			return fmt.Errorf("model %q: dynamic_batching needs max_batch_size > 0", cfg.Name)
		}
	}
	if cfg.GetPlatform() == "ensemble" && len(cfg.GetEnsembleScheduling().GetStep()) == 0 {
		return fmt.Errorf("model %q: platform ensemble needs ensemble_scheduling steps", cfg.Name)
	}
	return nil
}

// applyDefaults fills what Triton fills: one instance group of count 1 and
// kind KIND_AUTO when none is given (place then puts it on the GPUs when
// the server has them, else on the CPU).
func applyDefaults(cfg *pb.ModelConfig) *pb.ModelConfig {
	cfg = proto.Clone(cfg).(*pb.ModelConfig)
	if cfg.GetPlatform() == "ensemble" {
		return cfg
	}
	if len(cfg.InstanceGroup) == 0 {
		cfg.InstanceGroup = []*pb.ModelInstanceGroup{{Count: 1, Kind: pb.ModelInstanceGroup_KIND_AUTO}}
	}
	for i, g := range cfg.InstanceGroup {
		if g.Name == "" {
			g.Name = fmt.Sprintf("%s_%d", cfg.Name, i)
		}
		if g.Count == 0 {
			g.Count = 1
		}
	}
	return cfg
}

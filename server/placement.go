package server

import (
	pb "github.com/iaasbench/iaasbench/inferencepb"
)

// place resolves where a model's instance groups run, as Triton normalises
// a config at load: a KIND_AUTO group (and a config without instance
// groups, which applyDefaults makes one) runs on the GPUs when the server
// has them and on the CPU when it has none or a listed GPU does not exist;
// a KIND_GPU group that lists no GPUs runs on every GPU. The config the
// server then reports (ModelConfig) says where the instances really are.
func place(cfg *pb.ModelConfig, gpus int) {
	for _, g := range cfg.GetInstanceGroup() {
		if g.GetKind() == pb.ModelInstanceGroup_KIND_AUTO {
			g.Kind = pb.ModelInstanceGroup_KIND_GPU
			if gpus == 0 {
				g.Kind = pb.ModelInstanceGroup_KIND_CPU
			}
			for _, id := range g.GetGpus() {
				if id < 0 || int(id) >= gpus {
					g.Kind = pb.ModelInstanceGroup_KIND_CPU
				}
			}
		}
		if g.GetKind() == pb.ModelInstanceGroup_KIND_GPU && len(g.GetGpus()) == 0 {
			for i := 0; i < gpus; i++ {
				g.Gpus = append(g.Gpus, int32(i))
			}
		}
	}
}

// instancesOf is the number of instances a (placed) config creates per
// version: count on each listed GPU, or count on the CPU.
func instancesOf(cfg *pb.ModelConfig) int64 {
	if cfg.GetPlatform() == "ensemble" {
		return 0
	}
	var n int64
	for _, g := range cfg.GetInstanceGroup() {
		n += int64(g.GetCount()) * int64(max(1, len(g.GetGpus())))
	}
	return n
}

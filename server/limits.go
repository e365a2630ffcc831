package server

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/iaasbench/iaasbench/inferencepb"
)

// Limits on what one request can make the server allocate outside the
// inference budget: model instances (each holds its weights and
// goroutines) and the model-control API's inputs.
const (
	// MaxInstancesPerGroup bounds an instance group's count.
	MaxInstancesPerGroup = 1024
	// MaxInstancesPerServer bounds the instances of all loaded models
	// together (every version and GPU counted).
	MaxInstancesPerServer = 4096
	// MaxEmulatedGPUs bounds Options.EmulatedGPUs.
	MaxEmulatedGPUs = 1024
	// maxModelName is the longest model name, in bytes (a file name).
	maxModelName = 255
	// maxConfigOverride is the largest config override of a load, in bytes.
	maxConfigOverride = 1 << 20
)

// checkServerLimits checks the options that size the server.
func checkServerLimits(opts Options) error {
	if opts.EmulatedGPUs < 0 || opts.EmulatedGPUs > MaxEmulatedGPUs {
		return fmt.Errorf("emulated GPUs %d: want 0..%d", opts.EmulatedGPUs, MaxEmulatedGPUs)
	}
	return nil
}

// checkInstances bounds the instances a (placed) config creates, per group
// and for the server as a whole once the model (re)loads with versions
// versions.
func (s *Server) checkInstances(name string, cfg *pb.ModelConfig, versions int) error {
	for _, g := range cfg.GetInstanceGroup() {
		if g.GetCount() > MaxInstancesPerGroup {
			return status.Errorf(codes.InvalidArgument, "model %q: instance_group %q count %d is more than %d per group", name, g.GetName(), g.GetCount(), MaxInstancesPerGroup)
		}
	}
	add := instancesOf(cfg) * int64(versions)
	var others int64
	s.mu.RLock()
	for n, e := range s.models {
		if n == name {
			continue // being replaced
		}
		for _, mv := range e.versions {
			others += int64(len(mv.rt.instances))
		}
	}
	s.mu.RUnlock()
	if others+add > MaxInstancesPerServer {
		return status.Errorf(codes.ResourceExhausted, "model %q: %d instances (%d versions) with the %d of the other loaded models would pass the server's limit of %d instances; unload models or lower instance_group counts",
			name, add, versions, others, MaxInstancesPerServer)
	}
	return nil
}

// checkModelName checks a model name from the model-control API: a
// single path element of the repository, not too long.
func checkModelName(what, name string) error {
	switch {
	case name == "":
		return status.Errorf(codes.InvalidArgument, "%s: no model name", what)
	case len(name) > maxModelName:
		return status.Errorf(codes.InvalidArgument, "%s: model name of %d bytes is longer than %d", what, len(name), maxModelName)
	case !utf8.ValidString(name) || strings.ContainsAny(name, "/\\\x00") || name == "." || name == "..":
		return status.Errorf(codes.InvalidArgument, "%s: model name %q is not a directory name of the repository", what, name)
	}
	return nil
}

// checkLoadRequest checks a RepositoryModelLoad's inputs before any is
// parsed: the model name, the parameters the embedded server supports
// (config), and the size of the config override.
func checkLoadRequest(r *pb.RepositoryModelLoadRequest) error {
	what := fmt.Sprintf("load %.64q", r.GetModelName())
	if err := checkModelName(what, r.GetModelName()); err != nil {
		return err
	}
	for k, p := range r.GetParameters() {
		switch {
		case k == "config":
			if n := len(p.GetStringParam()) + len(p.GetBytesParam()); n > maxConfigOverride {
				return status.Errorf(codes.InvalidArgument, "%s: config override of %d bytes is larger than %d", what, n, maxConfigOverride)
			}
		case strings.HasPrefix(k, "file:"):
			return status.Errorf(codes.InvalidArgument, "%s: file overrides (parameter %.64q) are not supported: the embedded server runs its own backends and reads no model files", what, k)
		default:
			return status.Errorf(codes.InvalidArgument, "%s: unsupported parameter %.64q (supported: config)", what, k)
		}
	}
	return nil
}

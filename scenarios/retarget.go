package scenarios

import (
	"fmt"
	"slices"
)

// Retarget points the scenario at another target (a sweep given --url
// sweeps remote servers) and clears the fields only the old target used,
// with a note for each. Everything else stays: the workload, dimensions,
// measurement, search, cost model (prices, constraints, objective) and
// gate describe the question, not where it is asked.
func (s *Scenario) Retarget(t Target) ([]string, error) {
	s.Target = t
	notes := s.dropUnused()
	if err := s.Validate(); err != nil {
		return notes, err
	}
	return notes, nil
}

// ParseRecorded parses the scenario a results file's header stored. The
// target in it is the one the sweep really ran against, so a field that
// target does not use (left by an older iaasbench that kept it when
// retargeting) is dropped with a note instead of failing the whole
// scenario: readers want its prices, constraints and objective.
func ParseRecorded(data []byte, name string) (*Scenario, []string, error) {
	s, err := decodeScenario(data, name)
	if err != nil {
		return nil, nil, err
	}
	notes := s.dropUnused()
	if err := s.Validate(); err != nil {
		return nil, notes, err
	}
	return s, notes, nil
}

// dropUnused clears the fields the scenario's target kind does not use
// and says which, naming the file when it has one.
func (s *Scenario) dropUnused() []string {
	var notes []string
	kind := s.Target.Kind
	note := func(field, why string) {
		where := ""
		if s.file != "" {
			where = s.file + ": "
		}
		notes = append(notes, fmt.Sprintf("%s%s ignored: %s (target.kind is %s)", where, field, why, kind))
	}
	if s.Server.EmulatedGPUProfile != "" && !slices.Contains([]string{TargetEmbedded, TargetSimulated}, kind) {
		note("server.emulated_gpu_profile", "only the embedded server and the simulator emulate GPUs")
		s.Server.EmulatedGPUProfile = ""
	}
	if s.Target.Tritonserver != "" && kind != TargetLocal {
		note("target.tritonserver", "only a local target starts tritonserver")
		s.Target.Tritonserver = ""
	}
	if s.Target.Repo != "" && kind == TargetRemote {
		note("target.repo", "a remote server loads its own model repository")
		s.Target.Repo = ""
	}
	if len(s.Target.URLs) > 0 && (kind == TargetEmbedded || kind == TargetSimulated) {
		note("target.urls", "the "+kind+" target starts its own servers")
		s.Target.URLs = nil
	}
	return notes
}

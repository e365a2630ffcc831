package modelconfig

import (
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	pb "github.com/iaasbench/iaasbench/inferencepb"
)

func node(t *testing.T, src string) *yaml.Node {
	t.Helper()
	var n yaml.Node
	if err := yaml.Unmarshal([]byte(src), &n); err != nil {
		t.Fatal(err)
	}
	return &n
}

func names(os []Override) []string {
	var out []string
	for _, o := range os {
		out = append(out, o.Name)
	}
	return out
}

// The sweep forms of Model Analyzer's docs (config.md,
// config_search.md): a list sweeps a field; a field that is a list is
// swept by a list of lists.
func TestExpandModelAnalyzerForms(t *testing.T) {
	os, err := Expand(node(t, `
max_batch_size: [6, 8]
dynamic_batching:
  max_queue_delay_microseconds: [200, 300]
instance_group:
  - kind: KIND_GPU
    count: [1, 2]
`))
	if err != nil {
		t.Fatal(err)
	}
	if len(os) != 8 {
		t.Fatalf("got %d overrides, want 2x2x2 = 8: %v", len(os), names(os))
	}
	want := "dynamic_batching.max_queue_delay_microseconds=200;instance_group.count=1;instance_group.kind=KIND_GPU;max_batch_size=6"
	if os[0].Name != want {
		t.Errorf("first name %q, want %q", os[0].Name, want)
	}

	os, err = Expand(node(t, `
max_batch_size: 2
dynamic_batching:
  max_queue_delay_microseconds: [200, 400, 600]
instance_group:
  - - kind: KIND_GPU
      count: 1
  - - kind: KIND_CPU
      count: 1
`))
	if err != nil {
		t.Fatal(err)
	}
	if len(os) != 6 {
		t.Fatalf("got %d, want 6 (3 delays x 2 instance groups): %v", len(os), names(os))
	}
	// A list for a field that is a list is a value, not a sweep.
	os, err = Expand(node(t, `
dynamic_batching:
  preferred_batch_size: [4, 8]
instance_group:
  - kind: KIND_GPU
    count: 1
  - kind: KIND_CPU
    count: 1
`))
	if err != nil {
		t.Fatal(err)
	}
	if len(os) != 1 {
		t.Fatalf("got %d, want 1: %v", len(os), names(os))
	}
	if !strings.Contains(os[0].Name, "dynamic_batching.preferred_batch_size=[4,8]") || !strings.Contains(os[0].Name, "instance_group[1].kind=KIND_CPU") {
		t.Errorf("name %q", os[0].Name)
	}
}

func TestApplyMerges(t *testing.T) {
	base := &pb.ModelConfig{Name: "mlp", MaxBatchSize: 64,
		InstanceGroup:    []*pb.ModelInstanceGroup{{Name: "g", Count: 2, Kind: pb.ModelInstanceGroup_KIND_GPU, Gpus: []int32{0, 1}}},
		SchedulingChoice: &pb.ModelConfig_DynamicBatching{DynamicBatching: &pb.ModelDynamicBatching{MaxQueueDelayMicroseconds: 500, PreferredBatchSize: []int32{16}}}}
	o, err := Parse(node(t, `{dynamic_batching: {max_queue_delay_microseconds: 0}, instance_group: [{kind: KIND_CPU}]}`))
	if err != nil {
		t.Fatal(err)
	}
	got, err := o.Apply(base)
	if err != nil {
		t.Fatal(err)
	}
	db := got.GetDynamicBatching()
	if db.GetMaxQueueDelayMicroseconds() != 0 || len(db.GetPreferredBatchSize()) != 1 {
		t.Errorf("dynamic batching %v: want delay 0 set explicitly and preferred sizes kept", db)
	}
	g := got.GetInstanceGroup()
	if len(g) != 1 || g[0].GetCount() != 2 || g[0].GetKind() != pb.ModelInstanceGroup_KIND_CPU || len(g[0].GetGpus()) != 0 || g[0].GetName() != "g" {
		t.Errorf("instance group %v: want count and name kept, kind CPU, no gpus", g)
	}
	if base.GetInstanceGroup()[0].GetKind() != pb.ModelInstanceGroup_KIND_GPU {
		t.Error("Apply changed its argument")
	}
	if got.GetMaxBatchSize() != 64 {
		t.Errorf("max_batch_size %d: untouched fields must stay", got.GetMaxBatchSize())
	}
	// Queue policy and preferred sizes replace.
	o, err = Parse(node(t, `{dynamic_batching: {preferred_batch_size: [4, 8], default_queue_policy: {max_queue_size: 3, timeout_action: REJECT, default_timeout_microseconds: 1000}}}`))
	if err != nil {
		t.Fatal(err)
	}
	got, _ = o.Apply(base)
	if p := got.GetDynamicBatching().GetPreferredBatchSize(); len(p) != 2 || p[0] != 4 {
		t.Errorf("preferred %v", p)
	}
	if q := got.GetDynamicBatching().GetDefaultQueuePolicy(); q.GetMaxQueueSize() != 3 || q.GetDefaultTimeoutMicroseconds() != 1000 {
		t.Errorf("queue policy %v", q)
	}
}

func TestErrorsNameLineAndField(t *testing.T) {
	for _, tc := range []struct{ src, want string }{
		{"dynamic_batching:\n  max_queue_delay_micros: 100\n", `line 2: dynamic_batching.max_queue_delay_micros: not a field of ModelDynamicBatching (did you mean "max_queue_delay_microseconds"?)`},
		{"max_batch_size: eight\n", `line 1: max_batch_size: want an integer, got "eight"`},
		{"instance_group:\n  - kind: KIND_TPU\n", `line 2: instance_group[0].kind: "KIND_TPU" is not one of KIND_AUTO, KIND_GPU, KIND_CPU, KIND_MODEL`},
		{"dynamic_batching: 3\n", `line 1: dynamic_batching: want a mapping (ModelDynamicBatching), got "3"`},
	} {
		_, err := Expand(node(t, tc.src))
		if err == nil || err.Error() != tc.want {
			t.Errorf("%q: got %v, want %s", tc.src, err, tc.want)
		}
	}
}

func TestNameIsCanonical(t *testing.T) {
	a, err := Parse(node(t, "{max_batch_size: 8, dynamic_batching: {max_queue_delay_microseconds: 100}}"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := Parse(node(t, "{dynamic_batching: {max_queue_delay_microseconds: 100}, max_batch_size: 8}"))
	if err != nil {
		t.Fatal(err)
	}
	if a.Name != b.Name {
		t.Errorf("%q != %q", a.Name, b.Name)
	}
	if !a.Sets("max_batch_size") || a.Sets("instance_group.count") {
		t.Error("Sets")
	}
	e, err := Parse(node(t, "{dynamic_batching: {}}"))
	if err != nil || e.Name != "dynamic_batching={}" {
		t.Errorf("empty message: %q %v", e.Name, err)
	}
}

package spec

import (
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation"
)

// The oracle is apimachinery itself: the test may import it, the package
// may not (it must stay free of Kubernetes modules).
func TestValidatorsAgreeWithApimachinery(t *testing.T) {
	long := strings.Repeat("a", 64)
	names := []string{"", "a", "A", "a-b", "-a", "a-", "a.b", "a_b", "1abc", "abc1", "my-name", "MyName",
		"my.name", "a..b", ".a", "a.", long, long[:63], "nvidia.com/gpu", "example.com/MyName", "/gpu", "x/",
		"a/b/c", "UPPER.com/x", "a.b.c/d-e_f.g", strings.Repeat("a.", 127) + "a", "ü", "a b", "a*b"}
	same := func(kind string, v string, ours, theirs []string) {
		t.Helper()
		if (len(ours) == 0) != (len(theirs) == 0) {
			t.Errorf("%s(%q): ours %q, apimachinery %q", kind, v, ours, theirs)
		}
	}
	for _, v := range names {
		same("DNS1123Label", v, isDNS1123Label(v), validation.IsDNS1123Label(v))
		same("DNS1123Subdomain", v, isDNS1123Subdomain(v), validation.IsDNS1123Subdomain(v))
		same("DNS1035Label", v, isDNS1035Label(v), validation.IsDNS1035Label(v))
		same("QualifiedName", v, isQualifiedName(v), validation.IsQualifiedName(v))
		same("LabelValue", v, isValidLabelValue(v), validation.IsValidLabelValue(v))
	}
	quantities := []string{"", "0", "1", "4", "500m", "16Gi", "1.5", "1.", ".5", ".", "+1", "-1", "1e3", "1E-3",
		"1e", "1Ki", "1ki", "1K", "1k", "1M", "1Mi", "2E", "2Ei", "1.5Gi", "Gi", "1 Gi", "1x", "0.1m", "1e+3",
		"--1", "1.2.3", "12Ti", "3P", "3Pi", "+", "-", "+.", "e3", "-.5Mi", "1e1.5", "1Ee3"}
	for _, q := range quantities {
		_, err := resource.ParseQuantity(q)
		if isQuantity(q) != (err == nil) {
			t.Errorf("isQuantity(%q) = %v, ParseQuantity error %v", q, isQuantity(q), err)
		}
	}
}

func TestValidateNamesEachField(t *testing.T) {
	c := Config{ModelRepository: "pvc:Bad_Claim", CPU: "four", Tolerations: []Toleration{{Operator: "Maybe"}},
		NodeSelector: map[string]string{"gpu type": "h200"}}.WithDefaults("s")
	err := c.Validate()
	if err == nil {
		t.Fatal("want errors")
	}
	for _, want := range []string{"target.kubernetes.model_repository", "target.kubernetes.cpu", "target.kubernetes.tolerations[0].operator", "target.kubernetes.node_selector"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
	if err := (Config{ModelRepository: "s3://b/m"}).WithDefaults("quickstart").Validate(); err != nil {
		t.Errorf("defaults: %v", err)
	}
	if !slices.Equal(sortedUnique([]string{"b", "a", "b"}), []string{"a", "b"}) {
		t.Error("sortedUnique")
	}
}

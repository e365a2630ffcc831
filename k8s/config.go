// Package k8s runs a sweep's Triton servers on Kubernetes: per point it
// scales a Deployment of Triton replicas, each requesting the point's GPUs,
// behind a headless Service, waits for the rollout and for the model on
// every pod, reports the GPUs and nodes really allocated, and removes what
// it created when the sweep ends. It also renders the same objects as YAML
// for a dry run, and the Job that runs load agents inside the cluster.
//
// The package does not import scenarios or sweep (scenarios embeds Config,
// sweep drives Target), so the point's model configuration is applied by a
// hook the caller passes (sweep.Configure).
package k8s

import (
	"regexp"
	"strings"

	"github.com/iaasbench/iaasbench/k8s/spec"
	"k8s.io/apimachinery/pkg/util/validation"
)

// Config and Toleration are the scenario's `target.kubernetes` section
// (see package spec).
type (
	Config     = spec.Config
	Toleration = spec.Toleration
)

var nonLabel = regexp.MustCompile(`[^A-Za-z0-9_.-]+`)

// SweepLabel turns a sweep ID into a label value (63 characters of
// [A-Za-z0-9_.-], alphanumeric at both ends), keeping the ID's random
// tail when it must shorten it so that sweeps stay distinct.
func SweepLabel(sweepID string) string {
	v := nonLabel.ReplaceAllString(sweepID, "-")
	if len(v) > validation.LabelValueMaxLength {
		v = v[:validation.LabelValueMaxLength-12] + "-" + v[len(v)-11:]
	}
	return strings.Trim(v, "-_.")
}

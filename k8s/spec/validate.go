package spec

import (
	"fmt"
	"regexp"
	"strings"
)

// The name rules of Kubernetes (k8s.io/apimachinery/pkg/util/validation and
// resource.ParseQuantity), written out so that validating a scenario needs
// no Kubernetes module; validate_test.go checks them against the originals.
var (
	dns1123Label = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	dns1035Label = regexp.MustCompile(`^[a-z]([-a-z0-9]*[a-z0-9])?$`)
	qualifiedFmt = regexp.MustCompile(`^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$`)
	quantityFmt  = regexp.MustCompile(`^[+-]?[0-9]*(\.[0-9]*)?(Ki|Mi|Gi|Ti|Pi|Ei|m|k|M|G|T|P|E|[eE][+-]?[0-9]+)?$`)
)

const (
	labelMax     = 63
	subdomainMax = 253
)

func isDNS1123Label(v string) []string {
	var errs []string
	if len(v) > labelMax {
		errs = append(errs, fmt.Sprintf("must be no more than %d characters", labelMax))
	}
	if !dns1123Label.MatchString(v) {
		errs = append(errs, "must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name' or '123-abc')")
	}
	return errs
}

func isDNS1123Subdomain(v string) []string {
	var errs []string
	if len(v) > subdomainMax {
		errs = append(errs, fmt.Sprintf("must be no more than %d characters", subdomainMax))
	}
	for _, part := range strings.Split(v, ".") {
		if !dns1123Label.MatchString(part) {
			errs = append(errs, "must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com')")
			break
		}
	}
	return errs
}

func isDNS1035Label(v string) []string {
	var errs []string
	if len(v) > labelMax {
		errs = append(errs, fmt.Sprintf("must be no more than %d characters", labelMax))
	}
	if !dns1035Label.MatchString(v) {
		errs = append(errs, "must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name' or 'abc-123')")
	}
	return errs
}

// isQualifiedName checks an optionally prefixed name such as
// "nvidia.com/gpu": a DNS subdomain prefix, a slash, and a name.
func isQualifiedName(v string) []string {
	var errs []string
	parts := strings.Split(v, "/")
	name := parts[0]
	switch len(parts) {
	case 1:
	case 2:
		prefix := parts[0]
		name = parts[1]
		if prefix == "" {
			errs = append(errs, "prefix part must be non-empty")
		} else {
			for _, m := range isDNS1123Subdomain(prefix) {
				errs = append(errs, "prefix part "+m)
			}
		}
	default:
		return []string{"a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character, with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"}
	}
	if name == "" {
		errs = append(errs, "name part must be non-empty")
	} else if len(name) > labelMax {
		errs = append(errs, fmt.Sprintf("name part must be no more than %d characters", labelMax))
	}
	if name != "" && !qualifiedFmt.MatchString(name) {
		errs = append(errs, "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName' or 'my.name')")
	}
	return errs
}

func isValidLabelValue(v string) []string {
	var errs []string
	if len(v) > labelMax {
		errs = append(errs, fmt.Sprintf("must be no more than %d characters", labelMax))
	}
	if v != "" && !qualifiedFmt.MatchString(v) {
		errs = append(errs, "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character")
	}
	return errs
}

// isQuantity accepts Kubernetes quantities: a signed decimal number (whose
// digits may be missing, as apimachinery allows: "." and "Gi" are zero) with
// an optional binary-SI (Ki…Ei), decimal-SI (m, k…E) or exponent suffix.
func isQuantity(v string) bool { return v != "" && quantityFmt.MatchString(v) }

package gate

import (
	"fmt"

	"github.com/iaasbench/iaasbench/results"
)

// SplitSides separates the records of an interleaved A/B run — one file
// whose records are labelled results.SideBaseline or
// results.SideCandidate — into the two sweeps Compare takes. name (the
// file) is used in errors. A record without a side means the file is not
// an interleaved run.
func SplitSides(recs []results.Record, name string) (base, cand []results.Record, err error) {
	for i, r := range recs {
		switch r.Side {
		case results.SideBaseline:
			base = append(base, r)
		case results.SideCandidate:
			cand = append(cand, r)
		case "":
			return nil, nil, fmt.Errorf("%s: record %d (%s) has no side: not an interleaved A/B run (compare two sweeps with --baseline and --candidate)", name, i+1, r.Kind)
		default:
			return nil, nil, fmt.Errorf("%s: record %d has side %q, want %q or %q", name, i+1, r.Side, results.SideBaseline, results.SideCandidate)
		}
	}
	return base, cand, nil
}

package gate

import (
	"fmt"

	"github.com/iaasbench/iaasbench/cost"
	"github.com/iaasbench/iaasbench/results"
)

// CostUSDPerMillion is a USDPerMillionFunc that prices each record with
// cost.ExpenseOf. prices gives the prices of the sweep a record belongs to
// (typically parsed from hdr.ScenarioYAML; hdr is nil when the file has no
// header), so that a price change between baseline and candidate shows.
func CostUSDPerMillion(prices func(hdr *results.Header) (cost.Prices, error)) USDPerMillionFunc {
	return func(hdr *results.Header, rec results.Record) (float64, error) {
		p, err := prices(hdr)
		if err != nil {
			return 0, fmt.Errorf("prices: %w", err)
		}
		return cost.ExpenseOf(rec, p).USDPerMillion, nil
	}
}

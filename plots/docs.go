package plots

import (
	"bytes"
	"fmt"
	"html"
	"strconv"
	"strings"

	"github.com/iaasbench/iaasbench/cost"
	"github.com/iaasbench/iaasbench/results"
)

// tableCells formats one summary row: point, throughput, p50, p99,
// usd/hour, usd per million inferences, feasible, status.
func tableCells(row Row) []string {
	ran := row.Status != results.StatusFailed
	num := func(v float64, prec int, known bool) string {
		if !known {
			return "–"
		}
		return strconv.FormatFloat(v, 'f', prec, 64)
	}
	feasible := "–"
	switch {
	case row.Feasible:
		feasible = "yes"
	case row.CostKnown && len(row.Violations) > 0:
		feasible = "no: " + strings.Join(row.Violations, "; ")
	case row.CostKnown || !ran:
		feasible = "no"
	}
	status := string(row.Status)
	if row.Reason != "" {
		status += ": " + shorten(row.Reason, 90)
	}
	label := row.Label
	if row.Operating {
		label = "★ " + label
	}
	return []string{
		label, num(row.Throughput, 0, ran), num(row.P50MS, 3, ran && row.P50MS > 0), num(row.P99MS, 3, ran && row.P99MS > 0),
		num(row.USDHour, 2, row.CostKnown), num(row.USDMillion, 4, row.CostKnown), feasible, status,
	}
}

var tableHeader = []string{"point", "throughput (inf/s)", "p50 (ms)", "p99 (ms)", "usd/hour", "usd per million inferences", "feasible", "status"}

// headline is the report's first sentence: the operating point or why
// there is none.
func headline(s *Summary, r *reportCtx) string {
	if r.operating == nil {
		return "No operating point: " + strings.TrimPrefix(r.opWhy, "no operating point: ") + "."
	}
	op := r.operating
	return fmt.Sprintf("Operating point: %s — %s inferences/s, p99 %s ms, $%.2f/hour, $%.4f per million inferences (%s).",
		op.Label, formatNumber(op.Throughput), strconv.FormatFloat(op.P99MS, 'f', 3, 64), op.USDHour, op.USDMillion, r.opWhy)
}

func specLine(r *reportCtx) string {
	var cs []string
	for _, c := range r.constraints {
		cs = append(cs, c.String())
	}
	if len(cs) == 0 {
		cs = []string{"none"}
	}
	verb := "minimise"
	if r.objective != "weighted" && cost.HigherBetter(r.objective) {
		verb = "maximise"
	}
	return fmt.Sprintf("Objective: %s %s. Constraints: %s.", verb, r.objective, strings.Join(cs, ", "))
}

// fitIntro says what the fit-quality lines mean.
func fitIntro(r *reportCtx) string {
	over := "no varied dimension"
	if len(r.fitDims) > 0 {
		over = strings.Join(r.fitDims, " × ")
	}
	return "Surfaces fitted over " + over + " (the cost surface and the predicted points come from them). " +
		"Leave-one-out error: each measured point predicted from all the others; for a figure fitted in log space, the typical relative error."
}

// renderMarkdown writes README.md: the report as Markdown to paste into a
// pull request.
func renderMarkdown(s *Summary, r *reportCtx) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# iaasbench report: %s%s\n\n", scenarioName(r), r.sw.tag())
	fmt.Fprintf(&b, "%s\n\n", r.sw.provenance())
	fmt.Fprintf(&b, "**%s**\n\n%s\n\n", headline(s, r), specLine(r))
	for _, f := range s.Figures {
		fmt.Fprintf(&b, "## %s\n\n", f.Title)
		fmt.Fprintf(&b, "![%s](%s)\n\n", f.Title, f.File)
		if f.Placeholder {
			fmt.Fprintf(&b, "_Not drawn: %s_\n\n", f.Why)
		} else if f.Caption != "" {
			fmt.Fprintf(&b, "%s\n\n", f.Caption)
		}
		for _, n := range f.Notes {
			fmt.Fprintf(&b, "- %s\n", n)
		}
		if len(f.Notes) > 0 {
			b.WriteString("\n")
		}
	}
	if fl := r.fitLines(); len(fl) > 0 {
		fmt.Fprintf(&b, "## Fit quality\n\n%s\n\n", fitIntro(r))
		for _, l := range fl {
			fmt.Fprintf(&b, "- %s\n", l)
		}
		b.WriteString("\n")
	}
	b.WriteString("## Summary table\n\n")
	b.WriteString("| " + strings.Join(tableHeader, " | ") + " |\n")
	b.WriteString("|" + strings.Repeat("---|", len(tableHeader)) + "\n")
	for _, row := range s.Rows {
		cells := tableCells(row)
		for i := range cells {
			cells[i] = strings.ReplaceAll(cells[i], "|", "\\|")
		}
		b.WriteString("| " + strings.Join(cells, " | ") + " |\n")
	}
	if len(s.Notes) > 0 {
		b.WriteString("\n## Notes\n\n")
		for _, n := range s.Notes {
			fmt.Fprintf(&b, "- %s\n", n)
		}
	}
	return b.Bytes()
}

func scenarioName(r *reportCtx) string {
	if r.sw.Scenario == "" {
		return "unnamed scenario"
	}
	return r.sw.Scenario
}

// renderHTML writes index.html: the same report for a browser.
func renderHTML(s *Summary, r *reportCtx) []byte {
	e := html.EscapeString
	var b bytes.Buffer
	b.WriteString(`<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>iaasbench report: ` + e(scenarioName(r)) + `</title>
<style>
body{font-family:system-ui,sans-serif;max-width:1000px;margin:2em auto;padding:0 1em;color:#222}
img{max-width:100%;border:1px solid #ddd}
figure{margin:2em 0}
figcaption{color:#444;margin-top:.4em}
table{border-collapse:collapse;font-size:90%}
th,td{border:1px solid #ccc;padding:.25em .5em;text-align:right}
td:first-child,td:nth-child(7),td:nth-child(8),th{text-align:left}
tr.op{background:#fff5c2;font-weight:600}
tr.failed{color:#a00}
.note{color:#a05a00}
</style></head><body>
`)
	fmt.Fprintf(&b, "<h1>iaasbench report: %s%s</h1>\n", e(scenarioName(r)), e(r.sw.tag()))
	fmt.Fprintf(&b, "<p>%s</p>\n<p><strong>%s</strong></p>\n<p>%s</p>\n", e(r.sw.provenance()), e(headline(s, r)), e(specLine(r)))
	for _, f := range s.Figures {
		fmt.Fprintf(&b, "<figure id=%q><h2>%s</h2>\n<img src=%q alt=%q>\n", strings.TrimSuffix(f.File, ".png"), e(f.Title), f.File, e(f.Title))
		if f.Placeholder {
			fmt.Fprintf(&b, "<figcaption class=\"note\">Not drawn: %s</figcaption>\n", e(f.Why))
		} else {
			fmt.Fprintf(&b, "<figcaption>%s", e(f.Caption))
			for _, n := range f.Notes {
				fmt.Fprintf(&b, "<br><span class=\"note\">%s</span>", e(n))
			}
			b.WriteString("</figcaption>\n")
		}
		b.WriteString("</figure>\n")
	}
	if fl := r.fitLines(); len(fl) > 0 {
		fmt.Fprintf(&b, "<h2>Fit quality</h2>\n<p>%s</p>\n<ul>\n", e(fitIntro(r)))
		for _, l := range fl {
			fmt.Fprintf(&b, "<li>%s</li>\n", e(l))
		}
		b.WriteString("</ul>\n")
	}
	b.WriteString("<h2>Summary table</h2>\n<table>\n<tr>")
	for _, h := range tableHeader {
		fmt.Fprintf(&b, "<th>%s</th>", e(h))
	}
	b.WriteString("</tr>\n")
	for _, row := range s.Rows {
		class := ""
		switch {
		case row.Operating:
			class = ` class="op"`
		case row.Status == results.StatusFailed:
			class = ` class="failed"`
		}
		fmt.Fprintf(&b, "<tr%s>", class)
		for _, c := range tableCells(row) {
			fmt.Fprintf(&b, "<td>%s</td>", e(c))
		}
		b.WriteString("</tr>\n")
	}
	b.WriteString("</table>\n")
	if len(s.Notes) > 0 {
		b.WriteString("<h2>Notes</h2>\n<ul>\n")
		for _, n := range s.Notes {
			fmt.Fprintf(&b, "<li>%s</li>\n", e(n))
		}
		b.WriteString("</ul>\n")
	}
	b.WriteString("</body></html>\n")
	return b.Bytes()
}

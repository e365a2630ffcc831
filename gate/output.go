package gate

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// formatValue prints about four significant digits without exponent in
// the usual ranges, as benchstat does.
func formatValue(v float64) string {
	a := math.Abs(v)
	switch {
	case v == 0:
		return "0"
	case a >= 1e7 || a < 1e-3:
		return strconv.FormatFloat(v, 'g', 4, 64)
	}
	dec := max(0, 3-int(math.Floor(math.Log10(a))))
	return strconv.FormatFloat(v, 'f', dec, 64)
}

func (row Row) unit() string {
	if row.Normalised {
		return "×ref"
	}
	return row.Unit
}

// figures returns the printed cells of a row: each side's median with
// its interval, the change (or "~"), the change's interval, the adjusted
// p-value and the trial counts.
func (row Row) figures() (base, nw, delta, ci, p, n string) {
	n = fmt.Sprintf("%d+%d", row.NBase, row.NNew)
	if row.Verdict == VerdictMissing && row.BaseMedian == 0 && row.NewMedian == 0 {
		return "-", "-", "-", "-", "-", n
	}
	base, nw = withCI(row.BaseMedian, row.BaseCI), withCI(row.NewMedian, row.NewCI)
	delta = fmt.Sprintf("%+.1f%%", row.DeltaPct)
	if row.compared && !row.Significant && row.Verdict != VerdictRegression && row.Verdict != VerdictImprovement {
		delta = "~"
	}
	ci = "∞"
	if row.DeltaCI != nil {
		ci = fmt.Sprintf("%+.1f%% .. %+.1f%%", row.DeltaCI.Low, row.DeltaCI.High)
	}
	switch {
	case !row.compared:
		p = "-"
	case row.PHolm < 0.0005:
		p = "<0.001"
	default:
		p = fmt.Sprintf("%.3f", row.PHolm)
	}
	return base, nw, delta, ci, p, n
}

// withCI prints a median and its interval as benchstat does: "± the
// larger distance to an end", relative to the median; "± ∞" when there
// are too few trials for an interval.
func withCI(med float64, ci *Interval) string {
	if ci == nil {
		return formatValue(med) + " ± ∞"
	}
	if med == 0 {
		return formatValue(med) + " ± " + formatValue(max(ci.High, -ci.Low))
	}
	pct := max(ci.High-med, med-ci.Low) / math.Abs(med) * 100
	if pct < 10 {
		return fmt.Sprintf("%s ± %.1f%%", formatValue(med), pct)
	}
	return fmt.Sprintf("%s ± %.0f%%", formatValue(med), pct)
}

func (row Row) verdictText() string {
	switch {
	case row.Verdict == VerdictOK && !row.Gated:
		return "ok (no threshold)"
	case row.Verdict == VerdictRegression:
		return fmt.Sprintf("REGRESSION (threshold %+.0f%%)", row.ThresholdPct)
	case row.Verdict == VerdictImprovement:
		return fmt.Sprintf("improvement (threshold %+.0f%%)", -row.ThresholdPct)
	}
	return string(row.Verdict)
}

// scenarios groups row indices by scenario, in first-appearance order.
func (r *Report) scenarios() (names []string, rows map[string][]int) {
	rows = map[string][]int{}
	for i, row := range r.Rows {
		if _, ok := rows[row.Scenario]; !ok {
			names = append(names, row.Scenario)
		}
		rows[row.Scenario] = append(rows[row.Scenario], i)
	}
	return names, rows
}

// WriteTable writes a benchstat-like aligned text table: per scenario,
// per point, one line per metric with base and new medians, delta,
// p-value, trial counts and verdict; then problems, notes and the outcome.
// Columns are aligned across the whole report.
func (r *Report) WriteTable(w io.Writer) error {
	type line struct {
		text  string   // a heading line, or
		cells []string // a table line
	}
	var lines []line
	names, byScenario := r.scenarios()
	for si, sc := range names {
		if si > 0 {
			lines = append(lines, line{})
		}
		conf := fmt.Sprintf("%.0f%%", 100*(1-r.Alpha))
		lines = append(lines, line{text: "scenario " + sc},
			line{cells: []string{"  metric", "unit", "baseline", "candidate", "delta", conf + " CI of delta", "p", "n", "verdict"}},
			line{cells: []string{"", "", "median ± " + conf, "median ± " + conf, "", "", "(holm)", "", ""}})
		last := ""
		for _, i := range byScenario[sc] {
			row := r.Rows[i]
			if row.PointKey != last {
				lines = append(lines, line{text: row.PointKey})
				last = row.PointKey
			}
			b, nw, d, ci, p, n := row.figures()
			lines = append(lines, line{cells: []string{"  " + row.Metric, row.unit(), b, nw, d, ci, p, n, row.verdictText()}})
		}
	}
	// Text columns (metric, unit, verdict) align left, figures right.
	left := []bool{true, true, false, false, false, false, false, false, true}
	width := make([]int, len(left))
	for _, l := range lines {
		for i, c := range l.cells {
			width[i] = max(width[i], utf8.RuneCountInString(c))
		}
	}
	var b strings.Builder
	for _, l := range lines {
		if l.cells == nil {
			b.WriteString(l.text + "\n")
			continue
		}
		var sb strings.Builder
		for i, c := range l.cells {
			pad := strings.Repeat(" ", width[i]-utf8.RuneCountInString(c))
			switch {
			case i == len(l.cells)-1:
				sb.WriteString(c)
			case left[i]:
				sb.WriteString(c + pad + "  ")
			default:
				sb.WriteString(pad + c + "  ")
			}
		}
		b.WriteString(strings.TrimRight(sb.String(), " ") + "\n") // no trailing blanks
	}
	b.WriteString("\n" + r.method() + "\n")
	if r.Reference != "" {
		fmt.Fprintf(&b, "normalised by reference %q: figures are ratios to its median in the same run\n", r.Reference)
	}
	for _, p := range r.Problems {
		fmt.Fprintf(&b, "problem: %s\n", p)
	}
	for _, n := range r.Notes {
		fmt.Fprintf(&b, "note: %s\n", n)
	}
	fmt.Fprintf(&b, "result: %s (exit %d)\n", r.Reason(), r.ExitCode())
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("write table: %w", err)
	}
	return nil
}

// method says in a line how the rows were decided.
func (r *Report) method() string {
	return fmt.Sprintf("alpha %g family-wise: a regression needs the change beyond its threshold, Holm-adjusted p <= alpha over %d gated comparison%s; "+
		"~ = no significant difference (two-sided Mann-Whitney, Holm over %d row%s); intervals at %.0f%% per row",
		r.Alpha, r.Gated, plural(r.Gated), r.Compared, plural(r.Compared), 100*(1-r.Alpha))
}

func mdEscape(s string) string {
	s = strings.ReplaceAll(s, "|", `\|`)
	return strings.ReplaceAll(s, "\n", " ")
}

func (r *Report) mdTable(b *strings.Builder, keep func(Row) bool) {
	conf := fmt.Sprintf("%.0f%%", 100*(1-r.Alpha))
	fmt.Fprintf(b, "| scenario | point | metric | baseline (median ± %s) | candidate (median ± %s) | delta | %s CI of delta | p (holm) | n | verdict |\n", conf, conf, conf)
	b.WriteString("|---|---|---|--:|--:|--:|--:|--:|--:|---|\n")
	for _, row := range r.Rows {
		if !keep(row) {
			continue
		}
		base, nw, d, ci, p, n := row.figures()
		v := row.verdictText()
		if row.Verdict == VerdictRegression {
			v = "**" + v + "**"
		}
		if row.Reason != "" {
			v += " — " + row.Reason
		}
		fmt.Fprintf(b, "| %s | `%s` | %s | %s | %s | %s | %s | %s | %s | %s |\n", mdEscape(row.Scenario), mdEscape(row.PointKey),
			mdEscape(row.Metric+" ("+row.unit()+")"), base, nw, d, ci, p, n, mdEscape(v))
	}
}

// WriteMarkdown writes the report as a pull-request comment: the outcome,
// a table of the rows that are not ok, problems and notes, and every row
// in a collapsed section.
func (r *Report) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	icon := map[int]string{0: "✅", 1: "❌", 2: "⚠️"}[r.ExitCode()]
	fmt.Fprintf(&b, "### %s iaasbench gate\n\n%s\n\n", icon, mdEscape(r.Reason()))
	b.WriteString(mdEscape(r.method()))
	if r.Reference != "" {
		fmt.Fprintf(&b, "; figures normalised by reference `%s` (×ref = ratio to its median in the same run)", mdEscape(r.Reference))
	}
	b.WriteString(".\n\n")
	notOK := func(row Row) bool { return row.Verdict != VerdictOK }
	changed := 0
	for _, row := range r.Rows {
		if notOK(row) {
			changed++
		}
	}
	if changed > 0 {
		r.mdTable(&b, notOK)
		b.WriteString("\n")
	}
	if len(r.Problems) > 0 {
		b.WriteString("**Problems**\n\n")
		for _, p := range r.Problems {
			fmt.Fprintf(&b, "- %s\n", mdEscape(p))
		}
		b.WriteString("\n")
	}
	if len(r.Notes) > 0 {
		b.WriteString("**Notes**\n\n")
		for _, n := range r.Notes {
			fmt.Fprintf(&b, "- %s\n", mdEscape(n))
		}
		b.WriteString("\n")
	}
	if len(r.Rows) > 0 {
		fmt.Fprintf(&b, "<details><summary>All %d comparisons</summary>\n\n", len(r.Rows))
		r.mdTable(&b, func(Row) bool { return true })
		b.WriteString("\n</details>\n")
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("write markdown: %w", err)
	}
	return nil
}

// JUnit XML, the subset CI systems (Jenkins, GitLab, GitHub reporters)
// read.
type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Skipped  int          `xml:"skipped,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name      string      `xml:"name,attr"`
	Tests     int         `xml:"tests,attr"`
	Failures  int         `xml:"failures,attr"`
	Errors    int         `xml:"errors,attr"`
	Skipped   int         `xml:"skipped,attr"`
	Time      string      `xml:"time,attr"`
	Cases     []junitCase `xml:"testcase"`
	SystemOut string      `xml:"system-out,omitempty"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitOutcome `xml:"failure,omitempty"`
	Error     *junitOutcome `xml:"error,omitempty"`
	Skipped   *junitOutcome `xml:"skipped,omitempty"`
	SystemOut string        `xml:"system-out,omitempty"`
}

type junitOutcome struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr,omitempty"`
	Text    string `xml:",chardata"`
}

// WriteJUnit writes JUnit XML: a testsuite per scenario, a testcase per
// point and metric, <failure> for a regression, <skipped> for too few
// trials, <error> for a missing point or value. When nothing could be
// compared at all, a suite "iaasbench gate" carries one <error> with the
// reason, so that CI does not show an empty green run.
func (r *Report) WriteJUnit(w io.Writer) error {
	out := junitSuites{Name: "iaasbench gate"}
	names, byScenario := r.scenarios()
	for _, sc := range names {
		suite := junitSuite{Name: sc, Time: "0"}
		for _, i := range byScenario[sc] {
			row := r.Rows[i]
			base, nw, d, ci, p, n := row.figures()
			c := junitCase{Name: row.PointKey + " " + row.Metric, Classname: "iaasbench.gate." + sc, Time: "0",
				SystemOut: fmt.Sprintf("%s (%s): baseline %s, candidate %s, delta %s (CI %s), p(holm) %s, n %s, %s",
					row.Metric, row.unit(), base, nw, d, ci, p, n, row.verdictText())}
			msg := row.Reason
			switch row.Verdict {
			case VerdictRegression:
				c.Failure = &junitOutcome{Message: fmt.Sprintf("%s regressed %+.1f%%", row.Metric, row.DeltaPct), Type: "regression", Text: msg}
				suite.Failures++
			case VerdictInsufficient:
				c.Skipped = &junitOutcome{Message: msg}
				suite.Skipped++
			case VerdictMissing:
				c.Error = &junitOutcome{Message: msg, Type: "missing"}
				suite.Errors++
			}
			suite.Cases = append(suite.Cases, c)
			suite.Tests++
		}
		out.Suites = append(out.Suites, suite)
	}
	if len(r.Rows) == 0 && len(r.Problems) > 0 {
		out.Suites = append(out.Suites, junitSuite{Name: "iaasbench gate", Time: "0", Tests: 1, Errors: 1,
			Cases: []junitCase{{Name: "compare", Classname: "iaasbench.gate", Time: "0",
				Error: &junitOutcome{Message: r.Reason(), Type: "could-not-compare", Text: strings.Join(r.Problems, "\n")}}}})
	}
	for _, s := range out.Suites {
		out.Tests += s.Tests
		out.Failures += s.Failures
		out.Errors += s.Errors
		out.Skipped += s.Skipped
	}
	if len(r.Notes) > 0 && len(out.Suites) > 0 {
		out.Suites[0].SystemOut = "notes:\n" + strings.Join(r.Notes, "\n")
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return fmt.Errorf("write junit: %w", err)
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(out); err != nil {
		return fmt.Errorf("write junit: %w", err)
	}
	if _, err := io.WriteString(w, "\n"); err != nil {
		return fmt.Errorf("write junit: %w", err)
	}
	return nil
}

// WriteJSON writes the report as one indented JSON document, with the
// exit code and its reason, for machines.
func (r *Report) WriteJSON(w io.Writer) error {
	doc := struct {
		*Report
		ExitCode int    `json:"exit_code"`
		Result   string `json:"result"`
	}{r, r.ExitCode(), r.Reason()}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(doc); err != nil {
		return fmt.Errorf("write json: %w", err)
	}
	return nil
}

package simulation

import (
	"encoding/json"
	"fmt"
	"html"
	"io"
	"math"
	"strings"
	"text/tabwriter"
)

// GapRecovered is the share of the gap in overall mean wait between the
// separate centres and the pooled centre that the as-written world
// closes, in percent; ok is false unless all three worlds ran and pooling
// shortens the wait at all.
func (c Comparison) GapRecovered() (pct float64, ok bool) {
	w, s, p, found := c.world(WorldWritten), c.world(WorldSilos), c.world(WorldPooled), 0
	for _, x := range []*WorldResult{w, s, p} {
		if x != nil {
			found++
		}
	}
	if found < 3 {
		return 0, false
	}
	gap := s.Overall.WaitS.Mean - p.Overall.WaitS.Mean
	if !(gap > 0) {
		return 0, false
	}
	return 100 * (s.Overall.WaitS.Mean - w.Overall.WaitS.Mean) / gap, true
}

func (c Comparison) world(w World) *WorldResult {
	for i := range c.Worlds {
		if c.Worlds[i].World == w {
			return &c.Worlds[i]
		}
	}
	return nil
}

// WriteJSON writes the comparison as one indented JSON object.
func (c Comparison) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(c); err != nil {
		return fmt.Errorf("write comparison: %w", err)
	}
	return nil
}

func pm(e Estimate, unit string) string {
	return fmt.Sprintf("%.1f ± %.1f%s", e.Mean, e.CI95, unit)
}

// WriteText writes one table per world: the overall row, then each agency
// with its theory figure where there is one.
func (c Comparison) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "scenario %s: %d replications of %g h scored after %g h warm-up", c.Scenario, c.Replications, c.Hours, c.WarmupH)
	if c.Policy != "" {
		fmt.Fprintf(&b, ", overflow policy %s everywhere", c.Policy)
		if c.HelpMinIdle > 0 {
			fmt.Fprintf(&b, " (reserve %d)", c.HelpMinIdle)
		}
	}
	b.WriteString("; each figure is a mean ± its 95 % confidence interval\n")
	// The transfer and callback columns only where the scenario has any.
	var transfers, callbacks bool
	for _, wr := range c.Worlds {
		transfers = transfers || wr.Overall.TransferredPct.Mean > 0
		callbacks = callbacks || wr.Overall.CallbackPct.Mean > 0
	}
	for _, wr := range c.Worlds {
		fmt.Fprintf(&b, "\n%s", wr.World)
		if wr.Overloaded > 0 {
			fmt.Fprintf(&b, " (%d days left out: a line passed %d waiting)", wr.Overloaded, MaxWaiting)
		}
		b.WriteString("\n")
		tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
		head := "\toffered/day\twait\tASA\tservice level\tabandoned\toccupancy\tby other agency\ttheory wait\ttheory abandoned\t"
		if transfers {
			head += "citizen wait\ttransferred\t"
		}
		if callbacks {
			head += "callbacks\tcalled back after\t"
		}
		fmt.Fprintln(tw, head)
		row := func(id string, m Metrics, th *Theory) {
			theory, thAb := "—", "—"
			if th != nil {
				theory = fmt.Sprintf("%.1f s (%s)", th.WaitS, th.Model)
				if th.Model == "erlang-a" {
					thAb = fmt.Sprintf("%.1f %%", th.AbandonedPct)
				}
			}
			fmt.Fprintf(tw, "%s\t%.0f\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t", id, m.Offered, pm(m.WaitS, " s"), pm(m.ASAS, " s"),
				pm(m.ServiceLevelPct, " %"), pm(m.AbandonedPct, " %"), pm(m.OccupancyPct, " %"), pm(m.ByOtherPct, " %"), theory, thAb)
			if transfers {
				fmt.Fprintf(tw, "%s\t%s\t", pm(m.CitizenWaitS, " s"), pm(m.TransferredPct, " %"))
			}
			if callbacks {
				fmt.Fprintf(tw, "%s\t%s\t", pm(m.CallbackPct, " %"), pm(m.CallbackWaitS, " s"))
			}
			fmt.Fprintln(tw)
		}
		row("overall", wr.Overall, wr.Theory)
		for _, a := range wr.Agencies {
			row(a.ID, a.Metrics, a.Theory)
		}
		if err := tw.Flush(); err != nil {
			return fmt.Errorf("write comparison: %w", err)
		}
	}
	if pct, ok := c.GapRecovered(); ok {
		fmt.Fprintf(&b, "\nthe overflow as written closes %.0f %% of the gap in mean wait between separate centres and one pool\n", pct)
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("write comparison: %w", err)
	}
	return nil
}

// palette colours the agencies' lines; it repeats past its end.
var palette = []string{"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"}

// WriteSVG draws, for each world, the mean wait and the service level of
// each agency through the measured hours: one row of two panels per world.
func (c Comparison) WriteSVG(w io.Writer) error {
	const pw, ph, pad, left, top = 420, 200, 40, 50, 30
	width := 2*(pw+left+pad) + 160
	height := len(c.Worlds)*(ph+top+pad) + pad
	var maxWait float64 = 1
	for _, wr := range c.Worlds {
		for _, a := range wr.Agencies {
			for _, h := range a.Hourly {
				maxWait = max(maxWait, h.WaitS)
			}
		}
	}
	maxWait = niceCeil(maxWait)
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="11">`+"\n", width, height)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	for wi, wr := range c.Worlds {
		y0 := pad + wi*(ph+top+pad)
		for panel := range 2 {
			x0 := left + panel*(pw+left+pad)
			title, top1, unit := "mean wait (s)", maxWait, ""
			if panel == 1 {
				title, top1, unit = "service level (%)", 100, ""
			}
			fmt.Fprintf(&b, `<text x="%d" y="%d" font-weight="bold">%s — %s</text>`+"\n", x0, y0-8, html.EscapeString(string(wr.World)), title)
			fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="#999"/>`+"\n", x0, y0, pw, ph)
			for k := 0; k <= 4; k++ {
				v := top1 * float64(k) / 4
				y := float64(y0+ph) - float64(ph)*float64(k)/4
				fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end">%g%s</text>`+"\n", x0-4, y+4, math.Round(v*10)/10, unit)
				fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#eee"/>`+"\n", x0, x0+pw, y, y)
			}
			for ai, a := range wr.Agencies {
				if len(a.Hourly) == 0 {
					continue
				}
				var pts []string
				for h, f := range a.Hourly {
					v := f.WaitS
					if panel == 1 {
						v = f.ServiceLevelPct
					}
					x := float64(x0) + float64(pw)*(float64(h)+0.5)/float64(len(a.Hourly))
					y := float64(y0+ph) - float64(ph)*min(v/top1, 1)
					pts = append(pts, fmt.Sprintf("%.1f,%.1f", x, y))
				}
				fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="1.5" points="%s"/>`+"\n", palette[ai%len(palette)], strings.Join(pts, " "))
			}
			fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle">measured hour</text>`+"\n", x0+pw/2, y0+ph+14)
		}
	}
	if len(c.Worlds) > 0 {
		lx := 2*(pw+left+pad) + 10
		for ai, a := range c.Worlds[0].Agencies {
			y := pad + ai*16
			fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%d" y2="%d" stroke="%s" stroke-width="3"/>`+"\n", lx, lx+18, y, y, palette[ai%len(palette)])
			fmt.Fprintf(&b, `<text x="%d" y="%d">%s</text>`+"\n", lx+24, y+4, html.EscapeString(a.ID))
		}
	}
	b.WriteString("</svg>\n")
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("write chart: %w", err)
	}
	return nil
}

// niceCeil rounds an axis top up to 1, 2 or 5 times a power of ten.
func niceCeil(x float64) float64 {
	p := math.Pow(10, math.Floor(math.Log10(x)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= x {
			return m * p
		}
	}
	return 10 * p
}

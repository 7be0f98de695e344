package uitest

import (
	"testing"
	"time"
)

// The supervisor opens the reports, picks dates and sees a chart and a
// table of the day's contacts, in Korean and then in English.
func TestReportsPage(t *testing.T) {
	// A citizen of 1339 writes today: the report has a row for the queue.
	openChatToken(t, "kdca1339.vaccination", "reports-caller")
	b := newBrowser(t)
	sup := b.page("sup.kdca1339")
	sup.loginAs("sup.kdca1339", demoPassword)
	sup.navigate("/supervisor#reports")
	sup.waitFor("reports tab", `document.querySelector("#tab-reports")?.getAttribute("aria-selected") === "true"`)
	// The server's days are Seoul's; yesterday to tomorrow here covers
	// today there whatever this machine's zone.
	day := func(d time.Time) string { return d.Format(time.DateOnly) }
	now := time.Now()
	sup.setValue("#r-from", day(now.AddDate(0, 0, -1)))
	sup.setValue("#r-to", day(now.AddDate(0, 0, 1)))
	sup.setValue("#r-interval", "hour")
	sup.click(`#report-form button[type="submit"]`)
	sup.waitFor("a table row of the queue", `[...document.querySelectorAll("#report-rows tr")].some((tr) => tr.cells.length === 12 && Number(tr.cells[2].textContent) >= 1)`)
	sup.waitFor("the offered chart", `!!document.querySelector("#chart-report path") && document.querySelector("#legend-report li") !== null`)
	if got := sup.text("#tab-reports"); got != "보고서" {
		t.Errorf("the reports tab says %q; want 보고서", got)
	}
	if href := eval[string](sup, `document.querySelector("#report-csv").getAttribute("href")`); href == "" {
		t.Error("no CSV link")
	}
	sup.noRawKeys()
	sup.allLabelled()
	sup.shot("reports-ko")

	sup.selectValue("#lang", "en")
	sup.waitText("the tab in English", "#tab-reports", "Reports")
	sup.waitFor("the table's heading in English", `document.querySelector("#report-table th").textContent === "Of"`)
	sup.noRawKeys()
	sup.shot("reports-en")
}

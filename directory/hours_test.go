package directory_test

import (
	"encoding/json"
	"testing"

	"tellonce/directory"
	"tellonce/schedule"
	"tellonce/sql/sqltest"
)

// TestCalendarsAndHours: an agency's zone and holidays and a queue's
// hours and aging are stored and read back on both backends; a wrong
// value names its field and changes nothing.
func TestCalendarsAndHours(t *testing.T) {
	sqltest.Each(t, func(t *testing.T, b sqltest.Backend) {
		e := newEnv(t, b)
		gov := e.agency(t, "gov")
		if gov.TimeZone != schedule.DefaultZone || gov.Holidays == nil || len(gov.Holidays) != 0 {
			t.Fatalf("new agency: zone %q, holidays %#v; want %s and none", gov.TimeZone, gov.Holidays, schedule.DefaultZone)
		}
		hols := []schedule.Holiday{{Date: "2027-01-01", Name: "신정"}, {Date: "2027-02-08"}}
		ny, err := e.s.CreateAgency(e.ctx, directory.AgencyCreate{ID: "ny", Name: "New York", TimeZone: "America/New_York", Holidays: hols})
		if err != nil {
			t.Fatal(err)
		}
		got, err := e.s.GetAgency(e.ctx, "ny")
		if err != nil {
			t.Fatal(err)
		}
		wantSame(t, "agency read back", got, ny)
		wantSame(t, "holidays", []schedule.Holiday(got.Holidays), hols)

		before := e.dump(t, directoryTables...)
		for _, c := range []struct {
			name  string
			patch directory.AgencyPatch
			field string
		}{
			{"unknown zone", directory.AgencyPatch{TimeZone: new("Asia/Nowhere")}, "time_zone"},
			{"bad date", directory.AgencyPatch{Name: new("Renamed"), Holidays: &[]schedule.Holiday{{Date: "2027-1-1"}}}, "holidays[0].date"},
			{"twice", directory.AgencyPatch{Holidays: &[]schedule.Holiday{{Date: "2027-01-01"}, {Date: "2027-01-01"}}}, "holidays[1].date"},
		} {
			_, err := e.s.UpdateAgency(e.ctx, "gov", c.patch)
			wantInvalid(t, err, c.field)
		}
		_, err = e.s.CreateAgency(e.ctx, directory.AgencyCreate{ID: "x1", Name: "X", TimeZone: "Local"})
		wantInvalid(t, err, "time_zone")
		if after := e.dump(t, directoryTables...); after != before {
			t.Fatalf("a refused request changed the directory:\n%s\nwas\n%s", after, before)
		}
		up, err := e.s.UpdateAgency(e.ctx, "gov", directory.AgencyPatch{TimeZone: new("Europe/Berlin"), Holidays: &hols})
		if err != nil || up.TimeZone != "Europe/Berlin" || len(up.Holidays) != 2 {
			t.Fatalf("UpdateAgency = %+v, %v", up, err)
		}

		week := &schedule.Week{Mon: []schedule.Range{{Start: "09:00", End: "18:00"}}, Fri: []schedule.Range{{Start: "22:00", End: "06:00"}}}
		q := e.queue(t, "gov", "line", func(s *directory.QueueSettings) {
			s.Hours = directory.OptionalWeek{Set: true, Week: week}
			s.AgingS = new(60)
		})
		read, err := e.s.GetQueue(e.ctx, q.ID)
		if err != nil {
			t.Fatal(err)
		}
		wantSame(t, "queue read back", read, q)
		if read.AgingS != 60 || read.Hours == nil || read.Hours.Fri[0].End != "06:00" {
			t.Fatalf("queue = aging %d, hours %+v", read.AgingS, read.Hours)
		}
		plain := e.queue(t, "gov", "plain")
		if plain.Hours != nil || plain.AgingS != 0 {
			t.Fatalf("default queue: hours %+v, aging %d; want none and 0", plain.Hours, plain.AgingS)
		}

		before = e.dump(t, directoryTables...)
		for _, c := range []struct {
			body  string
			field string
		}{
			{`{"hours": {"mon": [{"start": "09:00", "end": "18:00"}, {"start": "19:00", "end": "24:30"}]}}`, "hours.mon[1].end"},
			{`{"name": "Renamed", "hours": {"sun": [{"start": "9", "end": "18:00"}]}}`, "hours.sun[0].start"},
			{`{"aging_s": -1}`, "aging_s"},
			{`{"aging_s": 86401}`, "aging_s"},
		} {
			var p directory.QueueSettings
			if err := json.Unmarshal([]byte(c.body), &p); err != nil {
				t.Fatal(err)
			}
			_, err := e.s.UpdateQueue(e.ctx, q.ID, p)
			wantInvalid(t, err, c.field)
		}
		if after := e.dump(t, directoryTables...); after != before {
			t.Fatalf("a refused patch changed the directory:\n%s\nwas\n%s", after, before)
		}

		patch := func(body string) directory.Queue {
			t.Helper()
			var p directory.QueueSettings
			if err := json.Unmarshal([]byte(body), &p); err != nil {
				t.Fatal(err)
			}
			out, err := e.s.UpdateQueue(e.ctx, q.ID, p)
			if err != nil {
				t.Fatalf("UpdateQueue(%s): %v", body, err)
			}
			return out
		}
		if kept := patch(`{"name": "Renamed"}`); kept.Hours == nil || kept.AgingS != 60 {
			t.Fatalf("a patch without hours changed them: %+v, aging %d", kept.Hours, kept.AgingS)
		}
		if cleared := patch(`{"hours": null, "aging_s": 0}`); cleared.Hours != nil || cleared.AgingS != 0 {
			t.Fatalf("hours null: %+v, aging %d; want none", cleared.Hours, cleared.AgingS)
		}
		if again, _ := e.s.GetQueue(e.ctx, q.ID); again.Hours != nil {
			t.Fatalf("cleared hours read back as %+v", again.Hours)
		}
	})
}

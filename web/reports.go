package web

import (
	"context"
	"encoding/csv"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"tellonce/auth"
	"tellonce/directory"
	"tellonce/stats"
	"tellonce/transcripts"
)

// reportRoutes serves reports over any dates, computed from the case log
// (docs/api.md, Reports):
//
//   - GET /v1/reports/queues: per queue. Admins all (or ?agency=),
//     supervisors their agency; agents and gateways 403.
//   - GET /v1/reports/agencies: per agency, with the same rules.
//   - GET /v1/reports/agents: per agent. Admins all (or ?agency=),
//     supervisors their agency's work; an agent only their own row;
//     gateways 403.
func (s *Server) reportRoutes(h func(string, http.HandlerFunc)) {
	h("GET /v1/reports/queues", s.authed(s.report(stats.ByQueue)))
	h("GET /v1/reports/agencies", s.authed(s.report(stats.ByAgency)))
	h("GET /v1/reports/agents", s.authed(s.report(stats.ByAgent)))
}

// maxReportDays bounds a report's dates: a year.
const maxReportDays = 366

// reportTransferLookback reaches back before a report's start for warm
// transfers asked for before it and accepted after it.
const reportTransferLookback = time.Hour

// reportRequest is a report request, checked.
type reportRequest struct {
	query  stats.ReportQuery
	agency string // "" = every agency
	key    string // only this queue or agent; "" = all
	csv    bool
}

func (s *Server) report(by stats.ReportBy) func(http.ResponseWriter, *http.Request, auth.Principal) {
	return func(w http.ResponseWriter, r *http.Request, p auth.Principal) {
		req, err := s.reportRequest(r, p, by)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		rows, err := s.buildReport(r.Context(), req)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		if req.csv {
			writeReportCSV(w, rows)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{
			"by": by, "interval": req.query.Interval, "time_zone": req.query.Location.String(),
			"from": req.query.From, "to": req.query.To, "items": rows, "next_cursor": "",
		})
	}
}

// reportRequest reads and checks a request's parameters and who may ask.
func (s *Server) reportRequest(r *http.Request, p auth.Principal, by stats.ReportBy) (reportRequest, error) {
	v := r.URL.Query()
	req := reportRequest{agency: v.Get("agency")}
	switch p.Role {
	case directory.RoleAdmin:
	case directory.RoleSupervisor:
		if p.Agency == "" || req.agency != "" && req.agency != p.Agency {
			return req, errForbidden
		}
		req.agency = p.Agency
	case directory.RoleAgent:
		if by != stats.ByAgent || p.Agency == "" || req.agency != "" && req.agency != p.Agency ||
			v.Get("agent") != "" && v.Get("agent") != p.Username {
			return req, errForbidden
		}
		req.agency, req.key = p.Agency, p.Username
	default:
		return req, errForbidden
	}
	switch by {
	case stats.ByQueue:
		if id := v.Get("queue"); id != "" {
			if req.agency != "" && directory.AgencyOfQueue(id) != req.agency {
				if !isAdmin(p) {
					return req, errForbidden
				}
				return req, errorf(http.StatusBadRequest, codeValidation, "queue", "is not a queue of agency "+req.agency)
			}
			req.key = id
		}
	case stats.ByAgent:
		if req.key == "" {
			req.key = v.Get("agent")
		}
	}
	switch f := v.Get("format"); f {
	case "csv":
		req.csv = true
	case "", "json":
		req.csv = f == "" && acceptsCSV(r.Header.Get("Accept"))
	default:
		return req, errorf(http.StatusBadRequest, codeValidation, "format", "must be json or csv")
	}
	interval := stats.Interval(v.Get("interval"))
	switch interval {
	case "":
		interval = stats.IntervalHour
	case stats.Interval15m, stats.IntervalHour, stats.IntervalDay:
	default:
		return req, errorf(http.StatusBadRequest, codeValidation, "interval", "must be 15m, hour or day")
	}
	loc, err := s.reportZone(r.Context(), req.agency)
	if err != nil {
		return req, err
	}
	from, err := reportDate(v.Get("from"), "from", loc)
	if err != nil {
		return req, err
	}
	to := from
	if v.Get("to") != "" {
		if to, err = reportDate(v.Get("to"), "to", loc); err != nil {
			return req, err
		}
	}
	if to.Before(from) {
		return req, errorf(http.StatusBadRequest, codeValidation, "to", "must not be before from")
	}
	end := to.AddDate(0, 0, 1) // to is inclusive
	if end.After(from.AddDate(0, 0, maxReportDays)) {
		return req, errorf(http.StatusBadRequest, codeValidation, "to", "must be at most 366 days after from")
	}
	req.query = stats.ReportQuery{By: by, Interval: interval, From: from, To: end, Location: loc, Now: s.now()}
	if _, err := req.query.Buckets(); err != nil {
		return req, errorf(http.StatusBadRequest, codeValidation, "interval",
			"too many intervals for these dates: at most "+strconv.Itoa(stats.MaxReportIntervals)+" (15m covers 31 days, hour 125)")
	}
	return req, nil
}

// acceptsCSV says whether an Accept header asks for CSV before JSON.
func acceptsCSV(accept string) bool {
	for _, part := range strings.Split(accept, ",") {
		switch strings.TrimSpace(strings.SplitN(part, ";", 2)[0]) {
		case "text/csv":
			return true
		case "application/json", "*/*":
			return false
		}
	}
	return false
}

// reportDate reads a date (YYYY-MM-DD) as its midnight in loc.
func reportDate(v, field string, loc *time.Location) (time.Time, error) {
	if v == "" {
		return time.Time{}, errorf(http.StatusBadRequest, codeValidation, field, "is required: a date such as 2026-03-02")
	}
	t, err := time.ParseInLocation(time.DateOnly, v, loc)
	if err != nil {
		return time.Time{}, errorf(http.StatusBadRequest, codeValidation, field, "must be a date such as 2026-03-02")
	}
	return t, nil
}

// reportZone is the time zone a report's dates and days are in: the
// agency's, or the statistics' (Asia/Seoul unless configured) for a
// report over every agency.
func (s *Server) reportZone(ctx context.Context, agency string) (*time.Location, error) {
	name := ""
	if agency != "" {
		a, err := s.dir.GetAgency(ctx, agency)
		if errors.Is(err, directory.ErrNotFound) {
			return nil, errorf(http.StatusNotFound, codeNotFound, "agency", "no such agency")
		}
		if err != nil {
			return nil, err
		}
		name = a.TimeZone
	}
	if name == "" {
		if s.stats != nil {
			return s.stats.DayStart().Location(), nil
		}
		name = "Asia/Seoul"
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, errors.New("report: time zone " + name + ": " + err.Error())
	}
	return loc, nil
}

// buildReport reads the log over the request's dates and keeps the rows
// of its scope.
func (s *Server) buildReport(ctx context.Context, req reportRequest) ([]stats.ReportRow, error) {
	if s.db == nil {
		return nil, errorf(http.StatusServiceUnavailable, codeUnavailable, "", "reports are not available on this server")
	}
	q := req.query
	day, err := transcripts.ReadRange(ctx, s.db, q.From, q.To, q.From.Add(-reportTransferLookback))
	if err != nil {
		return nil, err
	}
	if q.By == stats.ByAgent && req.agency != "" {
		// An agent's work for this agency only.
		legs := day.Legs[:0]
		for _, l := range day.Legs {
			if l.Agency == req.agency {
				legs = append(legs, l)
			}
		}
		day.Legs = legs
	}
	queues, err := allQueues(ctx, s.dir)
	if err != nil {
		return nil, err
	}
	thresholds := map[string]time.Duration{}
	for _, qu := range queues {
		thresholds[qu.ID] = time.Duration(qu.SLA.AnswerWithinS) * time.Second
	}
	q.Threshold = func(queue string) time.Duration { return thresholds[queue] }
	rows, err := stats.BuildReport(day, q)
	if err != nil {
		return nil, err
	}
	out := make([]stats.ReportRow, 0, len(rows))
	for _, row := range rows {
		if req.key != "" && row.Key != req.key {
			continue
		}
		if req.agency != "" {
			switch q.By {
			case stats.ByQueue:
				if directory.AgencyOfQueue(row.Key) != req.agency {
					continue
				}
			case stats.ByAgency:
				if row.Key != req.agency {
					continue
				}
			}
		}
		out = append(out, row)
	}
	return out, nil
}

// reportColumns are the CSV's columns, in the JSON's names.
var reportColumns = []string{"key", "start", "end", "offered", "answered", "answered_within_threshold",
	"abandoned", "abandoned_before_threshold", "transferred_in", "transferred_out", "handled",
	"service_level_pct", "asa_s", "aht_s", "occupancy_pct", "cases_closed", "citizen_wait_avg_s"}

// writeReportCSV writes rows as CSV with a header line; a null is an empty
// field and times are RFC 3339 in the report's zone.
func writeReportCSV(w http.ResponseWriter, rows []stats.ReportRow) {
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="report.csv"`)
	w.WriteHeader(http.StatusOK)
	c := csv.NewWriter(w)
	_ = c.Write(reportColumns)
	num := func(f *float64) string {
		if f == nil {
			return ""
		}
		return strconv.FormatFloat(*f, 'f', -1, 64)
	}
	for _, r := range rows {
		_ = c.Write([]string{r.Key, r.Start.Format(time.RFC3339), r.End.Format(time.RFC3339),
			strconv.Itoa(r.Offered), strconv.Itoa(r.Answered), strconv.Itoa(r.AnsweredWithinThreshold),
			strconv.Itoa(r.Abandoned), strconv.Itoa(r.AbandonedBeforeThreshold),
			strconv.Itoa(r.TransferredIn), strconv.Itoa(r.TransferredOut), strconv.Itoa(r.Handled),
			num(r.ServiceLevelPct), num(r.ASAS), num(r.AHTS), num(r.OccupancyPct),
			strconv.Itoa(r.CasesClosed), num(r.CitizenWaitAvgS)})
	}
	c.Flush()
}

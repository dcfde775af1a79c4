package report

import "time"

// Neighbour is the report of the day before or after a run whose id is a
// date: its run id and the conventional location of its page, relative to
// this page. The link is made without looking: the page is there once that
// day's report is written.
type Neighbour struct {
	Run  string
	Href string
}

// neighbours are the previous and next day of a run id that is a date
// (2026-11-23); other ids have none.
func neighbours(run string) (prev, next Neighbour) {
	d, err := time.Parse(time.DateOnly, run)
	if err != nil || d.Format(time.DateOnly) != run {
		return Neighbour{}, Neighbour{}
	}
	mk := func(t time.Time) Neighbour {
		id := t.Format(time.DateOnly)
		return Neighbour{Run: id, Href: "../" + id + "/report.html"}
	}
	return mk(d.AddDate(0, 0, -1)), mk(d.AddDate(0, 0, 1))
}

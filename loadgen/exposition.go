package loadgen

import (
	"fmt"
	"io"
	"maps"
	"slices"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// parseExposition reads Prometheus's text format, as the server's
// /metrics writes it, into its samples as Prometheus stores them: a
// histogram's buckets as name_bucket{le="…"} (the +Inf one included),
// name_sum and name_count. Every figure loadgen takes from /metrics goes
// through it, so escaping, labels, comments and timestamps are read as
// the format defines them, in one place.
func parseExposition(r io.Reader) (model.Vector, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(r)
	if err != nil {
		return nil, fmt.Errorf("parse the exposition: %w", err)
	}
	samples, err := expfmt.ExtractSamples(&expfmt.DecodeOptions{}, slices.Collect(maps.Values(fams))...)
	if err != nil {
		return nil, fmt.Errorf("parse the exposition: %w", err)
	}
	return samples, nil
}

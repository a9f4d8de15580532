package store

import (
	"context"
	"fmt"
	"time"
)

// Pre-flight check verdicts.
const (
	CheckPassed  = "pass"
	CheckFailed  = "fail"
	CheckSkipped = "skip" // not run: a check it depends on failed
	CheckWarning = "warn" // works, with a feature off (Fix says which and how to turn it on)
)

// PreflightCheck is one check of an endpoint's Genesys set-up and its verdict.
type PreflightCheck struct {
	Key    string `json:"key"`
	Title  string `json:"title"`
	Status string `json:"status"`
	Detail string `json:"detail,omitempty"` // what was found
	Fix    string `json:"fix,omitempty"`    // what to change, when it failed
}

// PreflightResult is one run of an endpoint's pre-flight check.
type PreflightResult struct {
	ID         int64
	EndpointID int64
	RanAt      time.Time
	Results    []PreflightCheck `gorm:"serializer:json"`
}

// Passed tells whether every check that ran passed (or works with a
// feature off) and none was skipped.
func (p PreflightResult) Passed() bool {
	for _, c := range p.Results {
		if c.Status != CheckPassed && c.Status != CheckWarning {
			return false
		}
	}
	return len(p.Results) > 0
}

// keptPreflightResults is how many runs are kept per endpoint.
const keptPreflightResults = 20

// SavePreflightResult stores a run and drops the endpoint's runs beyond the
// newest keptPreflightResults.
func (s *Store) SavePreflightResult(ctx context.Context, p *PreflightResult) error {
	if p.RanAt.IsZero() {
		p.RanAt = s.now()
	}
	if p.Results == nil {
		p.Results = []PreflightCheck{}
	}
	return s.InTx(ctx, func(tx *Store) error {
		if err := tx.db.WithContext(ctx).Create(p).Error; err != nil {
			return fmt.Errorf("save pre-flight result of endpoint %d: %w", p.EndpointID, translate(err))
		}
		var ids []int64
		err := tx.db.WithContext(ctx).Model(&PreflightResult{}).Where("endpoint_id = ?", p.EndpointID).
			Order("id DESC").Offset(keptPreflightResults).Pluck("id", &ids).Error
		if err != nil {
			return fmt.Errorf("list old pre-flight results: %w", err)
		}
		if len(ids) > 0 {
			if err := tx.db.WithContext(ctx).Where("id IN ?", ids).Delete(&PreflightResult{}).Error; err != nil {
				return fmt.Errorf("drop old pre-flight results: %w", err)
			}
		}
		return nil
	})
}

// LatestPreflightResult returns the endpoint's newest pre-flight run;
// ErrNotFound when it never ran.
func (s *Store) LatestPreflightResult(ctx context.Context, endpointID int64) (PreflightResult, error) {
	var p PreflightResult
	if err := s.db.WithContext(ctx).Where("endpoint_id = ?", endpointID).Order("id DESC").Take(&p).Error; err != nil {
		return PreflightResult{}, fmt.Errorf("latest pre-flight result of endpoint %d: %w", endpointID, translate(err))
	}
	return p, nil
}

// PreflightResultCount is how many runs the endpoint has kept.
func (s *Store) PreflightResultCount(ctx context.Context, endpointID int64) (int64, error) {
	var n int64
	if err := s.db.WithContext(ctx).Model(&PreflightResult{}).Where("endpoint_id = ?", endpointID).Count(&n).Error; err != nil {
		return 0, fmt.Errorf("count pre-flight results: %w", err)
	}
	return n, nil
}

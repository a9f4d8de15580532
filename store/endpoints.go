package store

import (
	"context"
	"fmt"
	"time"
)

// ListEndpoints returns every endpoint with its organisation, by name.
func (s *Store) ListEndpoints(ctx context.Context) ([]Endpoint, error) {
	var endpoints []Endpoint
	err := s.db.WithContext(ctx).Joins("Organisation").Order("endpoints.name, endpoints.id").Find(&endpoints).Error
	if err != nil {
		return nil, fmt.Errorf("list endpoints: %w", err)
	}
	for i := range endpoints {
		if err := s.openSecrets(&endpoints[i]); err != nil {
			return nil, err
		}
	}
	return endpoints, nil
}

// EndpointByID returns one endpoint with its organisation and opened secrets.
func (s *Store) EndpointByID(ctx context.Context, id int64) (Endpoint, error) {
	return s.endpointWhere(ctx, "endpoints.id = ?", id)
}

// EndpointByToken finds the endpoint whose Config URL carries token.
func (s *Store) EndpointByToken(ctx context.Context, token string) (Endpoint, error) {
	return s.endpointWhere(ctx, "endpoints.url_token = ?", token)
}

func (s *Store) endpointWhere(ctx context.Context, query string, arg any) (Endpoint, error) {
	var e Endpoint
	if err := s.db.WithContext(ctx).Joins("Organisation").Where(query, arg).Take(&e).Error; err != nil {
		return Endpoint{}, fmt.Errorf("find endpoint: %w", translate(err))
	}
	if err := s.openSecrets(&e); err != nil {
		return Endpoint{}, err
	}
	return e, nil
}

// CreateEndpoint inserts e (ID, timestamps and sealed secrets are filled in).
// ErrConflict when the organisation already has an endpoint of that name.
func (s *Store) CreateEndpoint(ctx context.Context, e *Endpoint) error {
	if err := s.sealSecrets(e); err != nil {
		return err
	}
	if err := s.db.WithContext(ctx).Omit("Organisation").Create(e).Error; err != nil {
		return fmt.Errorf("create endpoint %q: %w", e.Name, translate(err))
	}
	return nil
}

// UpdateEndpoint saves every field of e, sealing its secrets anew.
func (s *Store) UpdateEndpoint(ctx context.Context, e *Endpoint) error {
	if err := s.sealSecrets(e); err != nil {
		return err
	}
	e.UpdatedAt = s.now()
	res := s.db.WithContext(ctx).Model(&Endpoint{ID: e.ID}).Select("*").Omit("ID", "CreatedAt", "URLToken", "Organisation", "ClockSkewMS", "ClockSkewAt").Updates(e)
	if res.Error != nil {
		return fmt.Errorf("update endpoint %d: %w", e.ID, translate(res.Error))
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("update endpoint %d: %w", e.ID, ErrNotFound)
	}
	return nil
}

// RecordClockSkew remembers that a webhook of the endpoint showed a clock
// skew (channel.time minus the time received) at a moment, for its page.
func (s *Store) RecordClockSkew(ctx context.Context, endpointID int64, skew time.Duration, at time.Time) error {
	err := s.db.WithContext(ctx).Model(&Endpoint{}).Where("id = ?", endpointID).
		UpdateColumns(map[string]any{"clock_skew_ms": skew.Milliseconds(), "clock_skew_at": at}).Error
	if err != nil {
		return fmt.Errorf("record clock skew of endpoint %d: %w", endpointID, err)
	}
	return nil
}

// DeleteEndpoint removes an endpoint.
func (s *Store) DeleteEndpoint(ctx context.Context, id int64) error {
	res := s.db.WithContext(ctx).Delete(&Endpoint{}, id)
	if res.Error != nil {
		return fmt.Errorf("delete endpoint %d: %w", id, res.Error)
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("delete endpoint %d: %w", id, ErrNotFound)
	}
	return nil
}

// sealSecrets prepares e for writing: secrets sealed, and empty lists stored
// as [] and {} rather than NULL.
func (s *Store) sealSecrets(e *Endpoint) error {
	if e.DefaultSkills == nil {
		e.DefaultSkills = []string{}
	}
	if e.DefaultCustomAttributes == nil {
		e.DefaultCustomAttributes = map[string]string{}
	}
	if e.AttributeNames == nil {
		e.AttributeNames = map[string]string{}
	}
	if e.FlowMessages == "" {
		e.FlowMessages = FlowMessagesShow
	}
	var err error
	if e.WebhookSecretSealed, err = s.box.Seal(e.WebhookSecret); err != nil {
		return fmt.Errorf("seal webhook secret: %w", err)
	}
	if e.ClientSecretSealed, err = s.box.Seal(e.ClientSecret); err != nil {
		return fmt.Errorf("seal client secret: %w", err)
	}
	if e.PreviousWebhookSecretSealed, err = s.box.Seal(e.PreviousWebhookSecret); err != nil {
		return fmt.Errorf("seal previous webhook secret: %w", err)
	}
	return nil
}

func (s *Store) openSecrets(e *Endpoint) error {
	var err error
	if e.WebhookSecret, err = s.box.Open(e.WebhookSecretSealed); err != nil {
		return fmt.Errorf("endpoint %d webhook secret: %w", e.ID, err)
	}
	if e.ClientSecret, err = s.box.Open(e.ClientSecretSealed); err != nil {
		return fmt.Errorf("endpoint %d client secret: %w", e.ID, err)
	}
	if e.PreviousWebhookSecret, err = s.box.Open(e.PreviousWebhookSecretSealed); err != nil {
		return fmt.Errorf("endpoint %d previous webhook secret: %w", e.ID, err)
	}
	return nil
}

// WebhookSecretsAt lists the secrets that verify a webhook at now: the
// current one, and the previous one during its rotation grace period.
func (e Endpoint) WebhookSecretsAt(now time.Time) []string {
	secrets := []string{e.WebhookSecret}
	if e.PreviousWebhookSecret != "" && e.PreviousWebhookSecretUntil != nil && now.Before(*e.PreviousWebhookSecretUntil) {
		secrets = append(secrets, e.PreviousWebhookSecret)
	}
	return secrets
}

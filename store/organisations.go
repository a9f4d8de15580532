package store

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Organisation owns endpoints. Feature flags admit organisations by name.
type Organisation struct {
	ID        int64
	Name      string
	CreatedAt time.Time
}

// DefaultOrganisation is the organisation that exists from the first start.
const DefaultOrganisation = "default"

// ListOrganisations returns every organisation, by name.
func (s *Store) ListOrganisations(ctx context.Context) ([]Organisation, error) {
	var orgs []Organisation
	err := s.db.WithContext(ctx).Order("lower(name)").Find(&orgs).Error
	if err != nil {
		return nil, fmt.Errorf("list organisations: %w", err)
	}
	return orgs, nil
}

// OrganisationByName finds an organisation, ignoring case.
func (s *Store) OrganisationByName(ctx context.Context, name string) (Organisation, error) {
	var org Organisation
	err := s.db.WithContext(ctx).Where("lower(name) = lower(?)", strings.TrimSpace(name)).Take(&org).Error
	if err != nil {
		return Organisation{}, fmt.Errorf("find organisation %q: %w", name, translate(err))
	}
	return org, nil
}

// CreateOrganisation adds an organisation; ErrConflict when the name is taken.
func (s *Store) CreateOrganisation(ctx context.Context, name string) (Organisation, error) {
	org := Organisation{Name: strings.TrimSpace(name), CreatedAt: s.now()}
	if err := s.db.WithContext(ctx).Create(&org).Error; err != nil {
		return Organisation{}, fmt.Errorf("create organisation %q: %w", name, translate(err))
	}
	return org, nil
}

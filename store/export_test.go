package store

import "gorm.io/gorm"

// DB exposes the gorm handle to the store's own tests.
func DB(s *Store) *gorm.DB { return s.db }

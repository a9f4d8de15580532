// Package migrations holds the versioned SQL schema, one directory per database
// dialect. Files are named NNNN_description.sql, applied in order, and always
// added to both dialects together so SQLite and PostgreSQL stay alike.
package migrations

import "embed"

// FS holds sqlite/*.sql and postgres/*.sql.
//
//go:embed sqlite/*.sql postgres/*.sql
var FS embed.FS

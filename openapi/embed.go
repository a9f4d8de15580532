// Package openapi holds the OpenAPI 3.1 description of Handover's bot API
// and JSON admin API, served at /api/openapi.json. The handlers' tests
// validate real answers against it, so it cannot drift from the code.
package openapi

import _ "embed"

// Document is openapi.json.
//
//go:embed openapi.json
var Document []byte

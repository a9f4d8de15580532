package genesys

import (
	"context"
	"encoding/json"
	"fmt"
	"os"

	"github.com/getkin/kin-openapi/openapi2"
	"github.com/getkin/kin-openapi/openapi2conv"
	"github.com/getkin/kin-openapi/openapi3"
)

// Spec is the Swagger 2.0 subset of the Genesys Cloud Platform API
// (docs/genesys.md §Inbound), converted to OpenAPI 3 so that JSON bodies can be checked
// against its definitions. The client's tests use it to prove that what we
// send is what Genesys accepts, and the fake Genesys uses it to reject what the
// real one rejects. A Spec is read-only once loaded and safe for concurrent use.
type Spec struct {
	doc *openapi3.T
}

// LoadSpec reads and converts the Swagger 2.0 file at path.
func LoadSpec(path string) (*Spec, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load Genesys API spec: %w", err)
	}
	spec, err := ParseSpec(data)
	if err != nil {
		return nil, fmt.Errorf("load Genesys API spec %s: %w", path, err)
	}
	return spec, nil
}

// ParseSpec converts a Swagger 2.0 document given as JSON.
func ParseSpec(data []byte) (*Spec, error) {
	var doc2 openapi2.T
	if err := json.Unmarshal(data, &doc2); err != nil {
		return nil, fmt.Errorf("parse Swagger 2.0 JSON: %w", err)
	}
	doc3, err := openapi2conv.ToV3(&doc2)
	if err != nil {
		return nil, fmt.Errorf("convert Swagger 2.0 to OpenAPI 3: %w", err)
	}
	// kin-openapi leaves VisitJSON undefined on schemas that were never
	// validated, so an unsound definition must fail here rather than later.
	// Only the definitions are checked: the whole document fails OpenAPI 3
	// validation on the security scheme's name ("PureCloud OAuth" has a
	// space), which is irrelevant to body validation.
	ctx := context.Background()
	for name, ref := range doc3.Components.Schemas {
		if ref == nil || ref.Value == nil {
			return nil, fmt.Errorf("definition %s did not resolve", name)
		}
		if err := ref.Value.Validate(ctx); err != nil {
			return nil, fmt.Errorf("definition %s: %w", name, err)
		}
	}
	return &Spec{doc: doc3}, nil
}

// ValidateRequestBody checks a JSON request body against the named definition,
// for example "OpenInboundNormalizedMessage". Unknown properties are allowed,
// as Swagger 2.0 allows them (that is how channel.metadata.customAttributes
// passes, docs/genesys.md §Inbound).
//
// For OpenInboundNormalizedMessage it also enforces the rule the schema
// cannot express but Genesys applies: the body must carry text, content or
// both (docs/genesys.md §Inbound).
func (s *Spec) ValidateRequestBody(schemaName string, body []byte) error {
	value, err := s.visit(schemaName, body, openapi3.VisitAsRequest())
	if err != nil {
		return err
	}
	if schemaName == "OpenInboundNormalizedMessage" {
		obj, _ := value.(map[string]any)
		_, hasText := obj["text"]
		_, hasContent := obj["content"]
		if !hasText && !hasContent {
			return fmt.Errorf("body does not match %s: should have required property 'text' or 'content'", schemaName)
		}
	}
	return nil
}

// ValidateResponseBody checks a JSON response body against the named
// definition, for example "OpenMessageNormalizedMessage".
func (s *Spec) ValidateResponseBody(schemaName string, body []byte) error {
	_, err := s.visit(schemaName, body, openapi3.VisitAsResponse())
	return err
}

// HasSchema tells whether the spec defines schemaName.
func (s *Spec) HasSchema(schemaName string) bool {
	ref, ok := s.doc.Components.Schemas[schemaName]
	return ok && ref != nil && ref.Value != nil
}

func (s *Spec) visit(schemaName string, body []byte, mode openapi3.SchemaValidationOption) (any, error) {
	ref, ok := s.doc.Components.Schemas[schemaName]
	if !ok || ref == nil || ref.Value == nil {
		return nil, fmt.Errorf("no schema named %q in the Genesys API spec", schemaName)
	}
	var value any
	if err := json.Unmarshal(body, &value); err != nil {
		return nil, fmt.Errorf("body is not JSON: %w", err)
	}
	// Format validation is on so that a channel.time that is not an ISO-8601
	// date-time is refused, as Genesys refuses it.
	if err := ref.Value.VisitJSON(value, mode, openapi3.EnableFormatValidation(), openapi3.DisableSchemaErrorDetails()); err != nil {
		return nil, fmt.Errorf("body does not match %s: %w", schemaName, err)
	}
	return value, nil
}

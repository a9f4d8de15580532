package handlers

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// bodyProblem is what is wrong with a JSON request body, in words for
// whoever sent it: JSON field names, never Go's types.
type bodyProblem struct {
	Code    string // invalid_utf8, invalid_json or nul_character
	Message string
}

// decodeObject reads body as exactly one JSON object into v, a pointer to a
// struct. With strict, a field v does not have is refused too, so that a
// misspelt name is an error rather than a setting silently ignored.
//
// Invalid UTF-8 is refused before decoding: encoding/json would quietly turn
// it into U+FFFD. So is U+0000 in any string: PostgreSQL cannot store it.
func decodeObject(body []byte, v any, strict bool) *bodyProblem {
	if !utf8.Valid(body) {
		return &bodyProblem{"invalid_utf8", "The body is not valid UTF-8: texts and ids must be UTF-8 encoded."}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if strict {
		dec.DisallowUnknownFields()
	}
	if err := dec.Decode(v); err != nil {
		return &bodyProblem{"invalid_json", describeJSONError(err, reflect.TypeOf(v))}
	}
	if _, err := dec.Token(); err != io.EOF {
		return &bodyProblem{"invalid_json", "The body must hold a single JSON object and nothing after it."}
	}
	// U+0000 can only be written \u0000 in JSON; look closer only then.
	if bytes.Contains(body, []byte(`\u0000`)) {
		var tree any
		if json.Unmarshal(body, &tree) == nil {
			if where := findNUL(tree, ""); where != "" {
				return &bodyProblem{"nul_character", where + " contains a NUL character (U+0000), which cannot be stored; remove it."}
			}
		}
	}
	return nil
}

// describeJSONError puts a decoding error into words. target is the type
// decoded into, to name what a field should hold.
func describeJSONError(err error, target reflect.Type) string {
	var (
		typeErr   *json.UnmarshalTypeError
		syntaxErr *json.SyntaxError
	)
	switch {
	case errors.Is(err, io.EOF):
		return "The body is empty; send a JSON object."
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "The body ends before its JSON object does."
	case errors.As(err, &syntaxErr):
		return fmt.Sprintf("The body is not valid JSON: %s (at byte %d).", syntaxErr.Error(), syntaxErr.Offset)
	case errors.As(err, &typeErr):
		if typeErr.Field == "" {
			return "The body must be a JSON object."
		}
		want := fieldType(target, typeErr.Field)
		if want == nil {
			want = typeErr.Type
		}
		message := typeErr.Field + " must be " + kindInWords(want)
		if isInteger(want) && isWholeNumber(typeErr.Value) {
			message += "; " + strings.TrimPrefix(typeErr.Value, "number ") + " is out of range"
		}
		return message + "."
	}
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return "Unknown field " + name + "; check its spelling."
	}
	return "The body is not a valid JSON object."
}

// fieldType follows a dotted JSON field path ("transcript.text") through
// the struct type t, to the Go type of that field; nil when it cannot.
func fieldType(t reflect.Type, path string) reflect.Type {
	for _, name := range strings.Split(path, ".") {
		t = elemType(t)
		if t.Kind() != reflect.Struct {
			return nil
		}
		found := false
		for i := range t.NumField() {
			f := t.Field(i)
			tag, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if tag == name || (tag == "" && strings.EqualFold(f.Name, name)) {
				t, found = f.Type, true
				break
			}
		}
		if !found {
			return nil
		}
	}
	return t
}

// elemType looks through pointers, and through lists to their elements.
func elemType(t reflect.Type) reflect.Type {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Array {
		t = t.Elem()
	}
	return t
}

// kindInWords says what a value of type t looks like in JSON.
func kindInWords(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "a whole number"
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number of 0 or more"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "a list" + listOf(t.Elem())
	case reflect.Map:
		if t.Elem().Kind() == reflect.String {
			return `an object of "name": "text" strings`
		}
		return "an object"
	case reflect.Struct:
		return "an object"
	}
	return "any JSON value"
}

// listOf says what a list's elements are: " of strings" and the like.
func listOf(elem reflect.Type) string {
	for elem.Kind() == reflect.Pointer {
		elem = elem.Elem()
	}
	switch elem.Kind() {
	case reflect.String:
		return " of strings"
	case reflect.Bool:
		return " of true or false values"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return " of whole numbers"
	case reflect.Uint, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return " of whole numbers of 0 or more"
	case reflect.Float32, reflect.Float64:
		return " of numbers"
	case reflect.Map, reflect.Struct:
		return " of objects"
	case reflect.Slice, reflect.Array:
		return " of lists"
	}
	return ""
}

func isInteger(t reflect.Type) bool {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return slices.Contains([]reflect.Kind{reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64}, t.Kind())
}

// isWholeNumber tells whether an UnmarshalTypeError's value ("number 1e40")
// is a whole number: then it was refused for its size, not for a fraction.
func isWholeNumber(value string) bool {
	n, ok := strings.CutPrefix(value, "number ")
	if !ok {
		return false
	}
	f, err := strconv.ParseFloat(n, 64)
	return (err == nil || errors.Is(err, strconv.ErrRange)) && f == math.Trunc(f)
}

// findNUL returns where in a decoded JSON value a string holds U+0000, as
// a path such as transcript[2].text; "" when none does.
func findNUL(v any, path string) string {
	switch v := v.(type) {
	case string:
		if strings.ContainsRune(v, 0) {
			return orBody(path)
		}
	case []any:
		for i, e := range v {
			if where := findNUL(e, fmt.Sprintf("%s[%d]", path, i)); where != "" {
				return where
			}
		}
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			if strings.ContainsRune(k, 0) {
				return "A field name in " + orBody(path)
			}
			child := k
			if path != "" {
				child = path + "." + k
			}
			if where := findNUL(v[k], child); where != "" {
				return where
			}
		}
	}
	return ""
}

// orBody names the top level "the body".
func orBody(path string) string {
	if path == "" {
		return "the body"
	}
	return path
}

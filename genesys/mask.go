package genesys

import (
	"bytes"
	"encoding/json"
)

// Masked is what a masked value reads.
const Masked = "***"

// maskedStrings are the fields of Open Messaging bodies that carry what
// people wrote or who the customer is: message and button texts, titles and
// descriptions, attachment addresses and names, postback payloads, and the
// customer's names and email (docs/genesys.md §Webhook, §Inbound).
var maskedStrings = map[string]bool{
	"text": true, "title": true, "description": true, "payload": true, "url": true, "filename": true,
	"firstName": true, "lastName": true, "email": true, "image": true, "value": true, "label": true,
}

// maskedObjects are replaced whole: custom data of any shape.
var maskedObjects = map[string]bool{"customAttributes": true, "additionalAttributes": true}

// MaskBody returns an Open Messaging JSON body with the people's data of
// maskedStrings and maskedObjects, and the customer's id (channel.to of an
// outbound webhook, channel.from of an inbound message), replaced by "***";
// ids of Genesys messages, types, times, states and reasons stay, so the log
// still tells what happened. A body that is not JSON is masked whole.
func MaskBody(body []byte) []byte {
	var v any
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return []byte(Masked)
	}
	if root, ok := v.(map[string]any); ok {
		if channel, ok := root["channel"].(map[string]any); ok {
			customer := "to"
			if root["direction"] == DirectionInbound {
				customer = "from"
			}
			if party, ok := channel[customer].(map[string]any); ok {
				if _, ok := party["id"]; ok {
					party["id"] = Masked
				}
			}
		}
	}
	out, err := json.Marshal(maskValue(v))
	if err != nil {
		return []byte(Masked)
	}
	return out
}

func maskValue(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, child := range t {
			switch {
			case maskedObjects[k]:
				t[k] = Masked
			case maskedStrings[k]:
				if _, ok := child.(string); ok {
					t[k] = Masked
				} else {
					t[k] = maskValue(child)
				}
			default:
				t[k] = maskValue(child)
			}
		}
	case []any:
		for i, child := range t {
			t[i] = maskValue(child)
		}
	}
	return v
}

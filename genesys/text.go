package genesys

import (
	"strings"
	"unicode/utf8"
)

// MaxTextRunes is the longest text an Open Messaging message may carry: 4000
// characters for agent text on the Open API channel (docs/genesys.md §Limits). The
// inbound limit is undocumented; the relay assumes the same.
const MaxTextRunes = 4000

// SplitText cuts text into pieces of at most limit characters (runes), for
// sending a long transcript as several messages. It cuts after the last line
// break in the second half of a piece, else after the last space or tab,
// else between two runes. Nothing is dropped: the pieces joined give text
// back, each separator staying at the end of its piece. Invalid UTF-8 bytes
// count as one character each and are kept. A limit below 1 means
// MaxTextRunes; empty text gives no pieces.
func SplitText(text string, limit int) []string {
	if limit < 1 {
		limit = MaxTextRunes
	}
	var pieces []string
	for text != "" {
		end := runeOffset(text, limit)
		if end == len(text) {
			pieces = append(pieces, text)
			break
		}
		window := text[:end]
		cut := end
		// A line break early in the window would make a stub of a piece;
		// a space nearer the limit is the better place then.
		if i := strings.LastIndexByte(window, '\n'); i >= len(window)/2 {
			cut = i + 1
		} else if i := strings.LastIndexAny(window, " \t\n"); i >= 0 {
			cut = i + 1
		}
		pieces = append(pieces, text[:cut])
		text = text[cut:]
	}
	return pieces
}

// runeOffset is the byte offset just after the first n runes of s, or len(s).
func runeOffset(s string, n int) int {
	offset := 0
	for range n {
		if offset >= len(s) {
			return len(s)
		}
		_, size := utf8.DecodeRuneInString(s[offset:])
		offset += size
	}
	return offset
}

package genesys

import (
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestSplitTextCutsAtLineBreaksThenSpacesThenRunes(t *testing.T) {
	tests := []struct {
		name  string
		text  string
		limit int
		want  []string
	}{
		{"empty text gives nothing", "", 10, nil},
		{"short text is one piece", "hello", 10, []string{"hello"}},
		{"text of exactly the limit is one piece", "0123456789", 10, []string{"0123456789"}},
		{"prefers the last line break", "line one\nline two\nline three", 20, []string{"line one\nline two\n", "line three"}},
		{"falls back to a space", "alpha beta gamma delta", 12, []string{"alpha beta ", "gamma delta"}},
		{"prefers a late space to an early line break", "a\nbcdefgh ijkl", 10, []string{"a\nbcdefgh ", "ijkl"}},
		{"keeps CRLF together", "abcdefgh\r\nij", 10, []string{"abcdefgh\r\n", "ij"}},
		{"cuts a word longer than the limit", "abcdefghijklmnop", 5, []string{"abcde", "fghij", "klmno", "p"}},
		{"counts runes, not bytes", "ääää ööö", 5, []string{"ääää ", "ööö"}},
		{"never cuts inside a rune", "日本語のテキスト", 3, []string{"日本語", "のテキ", "スト"}},
		{"emoji count as one character each", "😀😀😀😀", 3, []string{"😀😀😀", "😀"}},
		{"limit below 1 means the Genesys limit", "short", 0, []string{"short"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := SplitText(tt.text, tt.limit)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("SplitText(%q, %d) = %q, want %q", tt.text, tt.limit, got, tt.want)
			}
		})
	}
}

func TestSplitTextKeepsALongTranscriptWithinTheGenesysLimit(t *testing.T) {
	var b strings.Builder
	for i := range 500 {
		b.WriteString("Bot: here is turn number ")
		b.WriteString(strings.Repeat("ü", i%17))
		b.WriteString(" of the conversation.\n")
	}
	transcript := b.String()
	pieces := SplitText(transcript, MaxTextRunes)
	if len(pieces) < 3 {
		t.Fatalf("got %d pieces from %d runes", len(pieces), utf8.RuneCountInString(transcript))
	}
	for i, p := range pieces {
		if n := utf8.RuneCountInString(p); n > MaxTextRunes {
			t.Errorf("piece %d has %d runes", i, n)
		}
		if i < len(pieces)-1 && !strings.HasSuffix(p, "\n") {
			t.Errorf("piece %d does not end at a line break: …%q", i, p[len(p)-20:])
		}
	}
	if strings.Join(pieces, "") != transcript {
		t.Error("pieces do not join back into the transcript")
	}
}

func FuzzSplitText(f *testing.F) {
	f.Add("line one\nline two\nline three", 7)
	f.Add("日本語のテキスト", 2)
	f.Add("a\xffb\xfe c", 2)
	f.Fuzz(func(t *testing.T, text string, limit int) {
		if limit < 1 || limit > 1000 {
			return
		}
		pieces := SplitText(text, limit)
		if strings.Join(pieces, "") != text {
			t.Fatalf("pieces %q do not join back into %q", pieces, text)
		}
		for _, p := range pieces {
			if p == "" || utf8.RuneCountInString(p) > limit {
				t.Fatalf("piece %q is empty or longer than %d runes", p, limit)
			}
			if utf8.ValidString(text) && !utf8.ValidString(p) {
				t.Fatalf("piece %q splits a rune", p)
			}
		}
	})
}

package genesys

// IsID reports whether s has the shape of a Genesys Cloud id: a UUID in its
// 36-character hyphenated form, as every Platform API id (integration,
// queue, conversation, participant, user) is. It is the one rule for "looks
// like a Genesys id" in Handover, for form validation, preflight checks and
// metric labels alike.
func IsID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
				return false
			}
		}
	}
	return true
}

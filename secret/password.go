package secret

import (
	"fmt"
	"unicode/utf8"
)

// An admin password has at least MinPasswordLength characters, and at most
// MaxPasswordBytes bytes: bcrypt reads no further.
const (
	MinPasswordLength = 12
	MaxPasswordBytes  = 72
)

// CheckPassword says what is wrong with a new admin password, as advice in
// lower case ("use at least 12 characters"); nil when nothing is.
func CheckPassword(password string) error {
	switch {
	case utf8.RuneCountInString(password) < MinPasswordLength:
		return fmt.Errorf("use at least %d characters", MinPasswordLength)
	case len(password) > MaxPasswordBytes:
		return fmt.Errorf("use at most %d bytes (a letter such as é takes two)", MaxPasswordBytes)
	}
	return nil
}

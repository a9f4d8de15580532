package web

import (
	"bytes"
	"fmt"

	"github.com/gofiber/fiber/v2"
)

// refuseNUL answers 400 to a query parameter or form field that holds
// U+0000 (%00). PostgreSQL can neither store nor compare it, so a sign-in, a
// search or a Copilot link with one would fail as a 500 and an error in the
// log. JSON bodies are checked where they are decoded.
func refuseNUL(c *fiber.Ctx) error {
	if name, ok := nulArg(c.Request().URI().QueryString(), c.Request().URI().QueryArgs()); ok {
		return nulError(name)
	}
	if bytes.HasPrefix(c.Request().Header.ContentType(), []byte(fiber.MIMEApplicationForm)) {
		if name, ok := nulArg(c.Body(), c.Request().PostArgs()); ok {
			return nulError(name)
		}
	}
	return c.Next()
}

// nulArg finds the argument whose name or value holds U+0000; raw is what
// args were parsed from, so that a clean request is not parsed twice.
func nulArg(raw []byte, args interface{ VisitAll(func(key, value []byte)) }) (name string, found bool) {
	if !bytes.Contains(raw, []byte("%00")) && bytes.IndexByte(raw, 0) < 0 {
		return "", false
	}
	args.VisitAll(func(key, value []byte) {
		if !found && (bytes.IndexByte(key, 0) >= 0 || bytes.IndexByte(value, 0) >= 0) {
			name, found = string(bytes.ReplaceAll(key, []byte{0}, nil)), true
		}
	})
	return name, found
}

func nulError(name string) error {
	return fiber.NewError(fiber.StatusBadRequest, fmt.Sprintf("The field %q contains a NUL character (U+0000), which cannot be stored; remove it.", name))
}

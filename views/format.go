package views

import "strconv"

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// kilobytes says n bytes in whole kilobytes (of 1024 bytes), rounded: "4 KB".
func kilobytes(n int) string { return strconv.Itoa((n+512)>>10) + " KB" }

// Package static holds the console's CSS and scripts, embedded in the binary
// so nothing is fetched from elsewhere at run time.
package static

import "embed"

// FS holds app.css, app.js and the vendored libraries under vendor/.
//
//go:embed app.css app.js chat.css chat.js vendor
var FS embed.FS

// Paths of the assets the layout links, kept here so a version bump is one edit.
const (
	HTMX    = "/static/vendor/htmx-2.0.11.min.js"
	HTMXSSE = "/static/vendor/htmx-ext-sse-2.2.4.min.js"
	Pico    = "/static/vendor/pico-2.1.1.min.css"
	AppCSS  = "/static/app.css"
	AppJS   = "/static/app.js"
	ChatCSS = "/static/chat.css" // the demo web chat and the Copilot workspace
	ChatJS  = "/static/chat.js"  // the demo web chat
)

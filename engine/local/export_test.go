package local

import "net/http"

// APIHandler serves the operations without authentication: for the fuzz
// targets of the operations' parsers (the signature check has its own).
func (e *Engine) APIHandler() http.Handler { return e.api() }

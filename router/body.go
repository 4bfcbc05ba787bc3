package router

import "net/http"

// limitBody holds req to Config.MaxBodyBytes: a *http.MaxBytesError (a 413
// for serveError) if its Content-Length is over the limit; otherwise a body
// of unknown length is wrapped so that reading past the limit fails with
// that error, which the proxy's ErrorHandler gets. A body of known length
// needs no wrapping: net/http reads no more than it. w must be the
// server's own ResponseWriter, through which http.MaxBytesReader has the
// connection closed after the answer (the rest of the body is not read).
func (r *Router) limitBody(w http.ResponseWriter, req *http.Request) error {
	if r.maxBody == 0 {
		return nil
	}
	if req.ContentLength > r.maxBody {
		return &http.MaxBytesError{Limit: r.maxBody}
	}
	if req.ContentLength < 0 && req.Body != nil && req.Body != http.NoBody {
		req.Body = http.MaxBytesReader(w, req.Body, r.maxBody)
	}
	return nil
}

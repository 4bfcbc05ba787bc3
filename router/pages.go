package router

import (
	"errors"
	"html"
	"net/http"
	"strconv"
)

var (
	errUnknownHost = errors.New("no app at this host")
	errNoBackends  = errors.New("app has no web instances")
	errNoWaker     = errors.New("no waker configured")
	errStillAsleep = errors.New("still asleep after waking")
)

// wakeError is a sleeping app that could not be woken: a 503, not a 502.
type wakeError struct{ err error }

func (e *wakeError) Error() string { return "wake: " + e.err.Error() }
func (e *wakeError) Unwrap() error { return e.err }

// statusClientClosed is nginx's status for a client that went away before
// the answer. It only reaches the access log.
const statusClientClosed = 499

// serveError is the one place where a failure to route or proxy becomes a
// status code and a page: ServeHTTP calls it for unknown hosts, apps
// without backends, denied requests and bodies over the limit, and it is
// every proxy's ErrorHandler. The page names at most the app (or the body
// limit); the error itself goes only to the access log.
func (r *Router) serveError(w http.ResponseWriter, req *http.Request, app string, err error) {
	rec, _ := w.(*recorder)
	if errors.Is(err, errUnknownHost) {
		// An app that exists but has no route (not deployed yet) says so.
		if name, ok := r.appName(req.Host); !ok || !r.explained(w, req, name) {
			writePage(w, http.StatusNotFound, notFoundPage)
		}
		return
	}
	if rec != nil {
		rec.err = err
		if rec.hijacked {
			return // the upgraded connection is the proxy's; nothing can be written
		}
	}
	if req.Context().Err() != nil {
		w.WriteHeader(statusClientClosed)
		return
	}
	switch {
	case errors.Is(err, errAuthRequired):
		w.Header().Set("WWW-Authenticate", r.accessChallenge(app))
		writePage(w, http.StatusUnauthorized, authPage)
		return
	case errors.Is(err, errForbidden):
		writePage(w, http.StatusForbidden, forbiddenPage)
		return
	}
	var tm *tooManyAttempts
	if errors.As(err, &tm) {
		w.Header().Set("Retry-After", strconv.Itoa(int(tm.wait.Seconds())+1))
		writePage(w, http.StatusTooManyRequests, tooManyPage)
		return
	}
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		writePage(w, http.StatusRequestEntityTooLarge, tooLargePage(tooLarge.Limit))
		return
	}
	var we *wakeError
	if errors.As(err, &we) {
		w.Header().Set("Retry-After", "10")
		writePage(w, http.StatusServiceUnavailable, failingPage(app))
		return
	}
	if errors.Is(err, errNoBackends) && r.explained(w, req, app) {
		return
	}
	writePage(w, http.StatusBadGateway, unavailablePage(app))
}

var (
	notFoundPage  = page("No app here", "Nothing is deployed at this address.")
	authPage      = page("Sign in required", "This app asks for a user name and password.")
	forbiddenPage = page("Not allowed", "This app does not accept requests from your address.")
	tooManyPage   = page("Too many wrong passwords", "Wait a minute before you try again.")
)

func tooLargePage(limit int64) []byte {
	return page("Request too large", "This server accepts request bodies of up to "+sizeText(limit)+".")
}

// sizeText is n bytes for people: "100 MiB", "512 KiB", "1000 bytes".
func sizeText(n int64) string {
	for _, u := range []struct {
		shift uint
		name  string
	}{{30, "GiB"}, {20, "MiB"}, {10, "KiB"}} {
		if n >= 1<<u.shift && n%(1<<u.shift) == 0 {
			return strconv.FormatInt(n>>u.shift, 10) + " " + u.name
		}
	}
	return strconv.FormatInt(n, 10) + " bytes"
}

func unavailablePage(app string) []byte {
	return page(html.EscapeString(app)+" is not answering right now", "Try again in a moment.")
}

func failingPage(app string) []byte {
	return page(html.EscapeString(app)+" is failing to start",
		"It was asleep and did not start in time. Its owner can see why with: logs "+html.EscapeString(app))
}

// page renders a minimal HTML page; title and text must be HTML-escaped.
func page(title, text string) []byte {
	return []byte("<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>" + title +
		"</title></head>\n<body><h1>" + title + "</h1>\n<p>" + text + "</p></body></html>\n")
}

func writePage(w http.ResponseWriter, status int, body []byte) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	w.Write(body)
}

package router

import (
	"context"
	"html"
	"net/http"
	"time"
)

// Explainer says why an app has nothing to answer its requests: a status
// and a page's title and text (plain text), or status 0 when it knows no
// reason. pier's use-cases implement it (app.Service.Unavailable).
type Explainer func(ctx context.Context, app string) (status int, title, text string)

// OnExplain sets what says why an app is not answering; call it before
// Serve.
func (r *Router) OnExplain(e Explainer) { r.explain = e }

// explained writes the page e gives for app, if it gives one.
func (r *Router) explained(w http.ResponseWriter, req *http.Request, app string) bool {
	if r.explain == nil || app == "" {
		return false
	}
	ctx, cancel := context.WithTimeout(req.Context(), time.Second)
	defer cancel()
	status, title, text := r.explain(ctx, app)
	if status == 0 {
		return false
	}
	writePage(w, status, page(html.EscapeString(title), html.EscapeString(text)))
	return true
}

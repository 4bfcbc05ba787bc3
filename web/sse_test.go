package web

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
)

// An app's log line cannot add fields to the stream: a CR inside it, which
// SSE reads as a line end, is no line end; an endless line goes out in
// bounded pieces.
func TestSSELinesCannotInjectFields(t *testing.T) {
	rec := httptest.NewRecorder()
	c := echo.New().NewContext(httptest.NewRequest(http.MethodGet, "/", nil), rec)
	w := &sseWriter{c: c, rc: http.NewResponseController(rec), cancel: func() {}}
	w.Write([]byte("hello\revent: error\rdata: forged\r\n"))
	w.Write([]byte(strings.Repeat("x", 3*maxSSELine)))
	for _, l := range strings.Split(rec.Body.String(), "\n") {
		if l != "" && !strings.HasPrefix(l, "data: ") {
			t.Errorf("a stream line that is no data: %q", l)
		}
		if strings.ContainsRune(l, '\r') || len(l) > maxSSELine+len("data: ") {
			t.Errorf("a stream line of %d bytes with CR %v", len(l), strings.ContainsRune(l, '\r'))
		}
	}
	if len(w.buf) >= maxSSELine {
		t.Errorf("%d bytes held back", len(w.buf))
	}
	if n := strings.Count(rec.Body.String(), "x"); n != 3*maxSSELine {
		t.Errorf("%d of the endless line's %d bytes went out", n, 3*maxSSELine)
	}
}

package web

import (
	"maps"
	"net/http"
	"slices"
	"strings"

	"github.com/labstack/echo/v4"

	"pier/app"
)

// Destructive actions (rollback, unset, stop, destroy) ask first: their
// form leads to a page that says what will happen and posts the same
// fields back with confirm=1. No script is needed, and a request forged
// past the CSRF check would still need that second post.

// field is one hidden form field of a confirmation page.
type field struct{ Name, Value string }

// confirmed reports whether the request came from its confirmation page.
// If not, it renders that page (heading, what happens, the button's
// words; typeName asks for the app's name to be typed again) and the
// caller returns the error it gives.
func (d *Dashboard) confirmed(c echo.Context, heading, text, button string, typeName bool) (bool, error) {
	if err := app.ValidName(c.Param("app")); err != nil {
		return false, echo.NewHTTPError(http.StatusNotFound, err.Error())
	}
	if c.FormValue("confirm") == "1" {
		return true, nil
	}
	form, err := c.FormParams()
	if err != nil {
		return false, echo.NewHTTPError(http.StatusBadRequest, err.Error())
	}
	var fields []field
	for _, k := range slices.Sorted(maps.Keys(form)) {
		if k == "_csrf" || k == "confirm" || k == "confirm_name" || len(form[k]) != 1 {
			continue
		}
		fields = append(fields, field{k, form[k][0]})
	}
	return false, d.render(c, http.StatusOK, "confirm", map[string]any{
		"Title": heading, "Heading": heading, "Text": text, "Button": button, "TypeName": typeName,
		"Action": c.Request().URL.Path, "Fields": fields, "App": c.Param("app"),
	})
}

// nameTyped reports whether the confirmation page's typed name is the app's.
func nameTyped(c echo.Context) bool {
	return strings.TrimSpace(c.FormValue("confirm_name")) == c.Param("app")
}

package router

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"io/fs"
	"mime"
	"net/http"
	"os"
	"path"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
)

// A static site is an app whose route names a directory instead of
// backends (SetStatic): the router answers its requests from the files
// there, like http.FileServer but
//
//   - through an os.Root, so neither "..", nor a symbolic link, nor anything
//     else in the pushed content reaches a file outside the directory;
//   - without directory listings: a directory answers with its index.html
//     (after a redirect that adds the trailing slash), else 404;
//   - with "/about" answered by about.html when there is no "about" (clean
//     URLs, as GitHub Pages and Netlify do);
//   - with the site's own 404.html, if it has one, for what is not there;
//   - never serving dotfiles (.env, .git/...) except under /.well-known/;
//   - with Content-Type from pier's own table of web types, so it does not
//     depend on the host's /etc/mime.types;
//   - with an ETag of the file's size and modification time (the files are
//     an immutable image layer, so they only change with a deploy), so that
//     conditional requests get 304s, and Last-Modified;
//   - gzip for compressible types of at least gzipMinSize when the client
//     accepts it: a file's precompressed name.gz sibling if the site has
//     one, else the gzip form made once and kept in a bounded cache (up to
//     gzipCacheMaxFile), else compressed as it is sent with a pooled writer.
//
// Only GET and HEAD are answered; other methods get 405.

// gzipMinSize is the smallest file compressed: below it gzip's 18 bytes of
// framing and the CPU are not worth the few bytes saved.
const gzipMinSize = 1024

// gzipLevel is the level of files compressed as they are sent (those
// larger than gzipCacheMaxFile; smaller ones are compressed once, at the
// best level, and kept: see gzipcache.go). On real 70-90 KB scripts and
// stylesheets it took 0.8-1.4 ms on the 2-core VM, for output within 1.5%
// of level 9's; level 1 took half that for 16-27% more bytes.
const gzipLevel = 5

// site is one opened static site directory. refs counts the route table's
// hold on it (1 while a published route names it) plus the requests using
// it; its root is closed when the count reaches zero, so a replaced site's
// directory is not held open once its last request ended.
type site struct {
	dir      string
	root     *os.Root
	refs     atomic.Int64
	inflight *atomic.Int64 // requests in flight to dir, for Drain
	gz       *gzipCache    // the router's
}

// openSite opens dir as a site, with the table's reference taken.
func (r *Router) openSite(dir string) (*site, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	s := &site{dir: dir, root: root, inflight: r.counter(dir), gz: r.gzipCache}
	s.refs.Store(1)
	return s, nil
}

// acquire takes a reference for a request; false if the site was already
// released by the table and closed.
func (s *site) acquire() bool {
	for {
		n := s.refs.Load()
		if n <= 0 {
			return false
		}
		if s.refs.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// release drops a reference, closing the directory with the last one.
func (s *site) release() {
	if s.refs.Add(-1) == 0 {
		s.root.Close()
		s.gz.forget(s.dir)
	}
}

// open opens name in the site without blocking (a FIFO in the content must
// not hang the request) and stats it.
func (s *site) open(name string) (*os.File, fs.FileInfo, error) {
	f, err := s.root.OpenFile(name, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return f, fi, nil
}

var (
	siteNotFoundPage = page("Not found", "There is no page at this address.")
	methodPage       = page("Method not allowed", "This site answers GET and HEAD requests only.")
)

// serveSite answers req from s's files.
func (r *Router) serveSite(w http.ResponseWriter, req *http.Request, s *site) {
	s.inflight.Add(1)
	defer s.inflight.Add(-1)
	if req.Method != http.MethodGet && req.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		writePage(w, http.StatusMethodNotAllowed, methodPage)
		return
	}
	name, ok := siteName(req.URL.Path)
	if !ok {
		serveSiteNotFound(w, req, s)
		return
	}
	if strings.HasSuffix(req.URL.Path, "/") {
		// A directory's page; no need to open the directory first.
		name = path.Join(name, "index.html")
	}
	f, fi, err := s.open(name)
	switch {
	case err == nil && fi.IsDir():
		f.Close()
		if strings.HasSuffix(req.URL.Path, "/") { // dir/index.html/
			serveSiteNotFound(w, req, s)
			return
		}
		// Relative, as http.FileServer's: right behind any prefix.
		loc := path.Base(req.URL.Path) + "/"
		if req.URL.RawQuery != "" {
			loc += "?" + req.URL.RawQuery
		}
		w.Header().Set("Location", loc)
		w.WriteHeader(http.StatusMovedPermanently)
		return
	case errors.Is(err, fs.ErrNotExist) && path.Ext(name) == "" && name != ".":
		name += ".html"
		f, fi, err = s.open(name)
	}
	if err != nil {
		serveSiteNotFound(w, req, s)
		return
	}
	defer f.Close()
	if !fi.Mode().IsRegular() {
		serveSiteNotFound(w, req, s)
		return
	}
	serveSiteFile(w, req, s, name, f, fi)
}

// siteName turns a request path into a name inside the site: cleaned (no
// "..", no doubled slashes), relative, "." for the top. Paths with a
// segment starting with a dot, other than .well-known, are refused.
func siteName(p string) (string, bool) {
	p = path.Clean("/" + p)
	for _, seg := range strings.Split(p[1:], "/") {
		if strings.HasPrefix(seg, ".") && seg != ".well-known" {
			return "", false
		}
	}
	if p == "/" {
		return ".", true
	}
	return p[1:], true
}

func serveSiteFile(w http.ResponseWriter, req *http.Request, s *site, name string, f *os.File, fi fs.FileInfo) {
	h := w.Header()
	ctype := contentType(name)
	if ctype != "" {
		h.Set("Content-Type", ctype)
	}
	h.Set("X-Content-Type-Options", "nosniff")
	// Files keep their names across deploys: have browsers check (a 304
	// costs one round trip) rather than guess how long a copy stays fresh.
	h.Set("Cache-Control", "public, max-age=0, must-revalidate")
	if compressible(ctype) && fi.Size() >= gzipMinSize {
		h.Add("Vary", "Accept-Encoding")
		// A range of the compressed form is of no use to a client that
		// resumes a download: ranges are of the file itself.
		if req.Header.Get("Range") == "" && acceptsGzip(req.Header.Get("Accept-Encoding")) {
			if gz, gfi, err := s.open(name + ".gz"); err == nil {
				defer gz.Close()
				if gfi.Mode().IsRegular() {
					h.Set("Content-Encoding", "gzip")
					h.Set("Etag", etag(gfi, ""))
					http.ServeContent(w, req, "", gfi.ModTime(), gz)
					return
				}
			}
			tag := etag(fi, "gzip")
			h.Set("Etag", tag)
			if fi.Size() <= gzipCacheMaxFile {
				h.Set("Content-Encoding", "gzip")
				key := gzipKey(s.dir, name, tag)
				http.ServeContent(w, req, "", fi.ModTime(), &gzipBody{load: func() ([]byte, error) {
					if b, ok := s.gz.get(key); ok {
						return b, nil
					}
					b, err := compress(f, fi.Size())
					if err == nil {
						s.gz.put(key, b)
					}
					return b, err
				}})
				return
			}
			gw := &gzipResponse{ResponseWriter: w}
			defer gw.close()
			http.ServeContent(gw, req, "", fi.ModTime(), f)
			return
		}
	}
	h.Set("Etag", etag(fi, ""))
	http.ServeContent(w, req, "", fi.ModTime(), f)
}

// serveSiteNotFound answers 404 with the site's own 404.html if it has
// one (up to 1 MiB), else pier's page.
func serveSiteNotFound(w http.ResponseWriter, req *http.Request, s *site) {
	if f, fi, err := s.open("404.html"); err == nil {
		defer f.Close()
		if fi.Mode().IsRegular() && fi.Size() <= 1<<20 {
			h := w.Header()
			h.Set("Content-Type", "text/html; charset=utf-8")
			h.Set("Content-Length", strconv.FormatInt(fi.Size(), 10))
			h.Set("Cache-Control", "no-cache")
			h.Set("X-Content-Type-Options", "nosniff")
			w.WriteHeader(http.StatusNotFound)
			if req.Method != http.MethodHead {
				io.Copy(w, f)
			}
			return
		}
	}
	writePage(w, http.StatusNotFound, siteNotFoundPage)
}

// etag is a strong validator of a file in an immutable layer: its size and
// modification time, with the encoding for a compressed form.
func etag(fi fs.FileInfo, encoding string) string {
	t := `"` + strconv.FormatInt(fi.ModTime().UnixNano(), 36) + "-" + strconv.FormatInt(fi.Size(), 36)
	if encoding != "" {
		t += "-" + encoding
	}
	return t + `"`
}

// contentTypes are the types of the files websites are made of, so that
// they do not depend on the host's /etc/mime.types. JavaScript is
// text/javascript (RFC 9239).
var contentTypes = map[string]string{
	".html": "text/html; charset=utf-8", ".htm": "text/html; charset=utf-8",
	".css": "text/css; charset=utf-8",
	".js":  "text/javascript; charset=utf-8", ".mjs": "text/javascript; charset=utf-8",
	".json": "application/json", ".map": "application/json",
	".webmanifest": "application/manifest+json",
	".xml":         "application/xml", ".rss": "application/rss+xml", ".atom": "application/atom+xml",
	".txt": "text/plain; charset=utf-8", ".md": "text/markdown; charset=utf-8",
	".csv": "text/csv; charset=utf-8",
	".svg": "image/svg+xml", ".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg",
	".gif": "image/gif", ".webp": "image/webp", ".avif": "image/avif", ".ico": "image/x-icon",
	".woff": "font/woff", ".woff2": "font/woff2", ".ttf": "font/ttf", ".otf": "font/otf",
	".wasm": "application/wasm", ".pdf": "application/pdf",
	".mp4": "video/mp4", ".webm": "video/webm", ".mp3": "audio/mpeg", ".ogg": "audio/ogg",
	".wav": "audio/wav", ".zip": "application/zip", ".gz": "application/gzip",
}

// contentType is the type of a file by its extension; "" if unknown (then
// http.ServeContent sniffs the first bytes).
func contentType(name string) string {
	ext := strings.ToLower(path.Ext(name))
	if t, ok := contentTypes[ext]; ok {
		return t
	}
	return mime.TypeByExtension(ext)
}

// compressible reports whether gzip shrinks content of this type: text, and
// the structured or uncompressed formats among the rest.
func compressible(ctype string) bool {
	t, _, _ := strings.Cut(ctype, ";")
	switch t {
	case "application/json", "application/manifest+json", "application/xml", "application/rss+xml",
		"application/atom+xml", "application/javascript", "image/svg+xml", "application/wasm",
		"font/ttf", "font/otf", "image/x-icon":
		return true
	}
	return strings.HasPrefix(t, "text/")
}

// acceptsGzip reports whether an Accept-Encoding header allows gzip with a
// q-value above zero: named (gzip, x-gzip), or else through "*" (RFC 9110,
// section 12.5.3).
func acceptsGzip(header string) bool {
	named, any := -1.0, -1.0
	for _, part := range strings.Split(header, ",") {
		coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		coding = strings.ToLower(strings.TrimSpace(coding))
		if coding != "gzip" && coding != "x-gzip" && coding != "*" {
			continue
		}
		q := 1.0
		for _, p := range strings.Split(params, ";") {
			k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
			if strings.EqualFold(k, "q") {
				if f, err := strconv.ParseFloat(v, 64); err == nil {
					q = f
				}
			}
		}
		if coding == "*" {
			any = q
		} else {
			named = max(named, q)
		}
	}
	if named >= 0 {
		return named > 0
	}
	return any > 0
}

// gzipBody is a file's gzip form as http.ServeContent reads it, made (or
// taken from the cache) by load only once ServeContent wants the body: a
// 304 costs no compression.
type gzipBody struct {
	load func() ([]byte, error)
	r    *bytes.Reader
	err  error
}

func (b *gzipBody) init() error {
	if b.r == nil && b.err == nil {
		body, err := b.load()
		b.r, b.err = bytes.NewReader(body), err
	}
	return b.err
}

func (b *gzipBody) Read(p []byte) (int, error) {
	if err := b.init(); err != nil {
		return 0, err
	}
	return b.r.Read(p)
}

func (b *gzipBody) Seek(offset int64, whence int) (int64, error) {
	if err := b.init(); err != nil {
		return 0, err
	}
	return b.r.Seek(offset, whence)
}

var gzipWriters = sync.Pool{New: func() any {
	w, _ := gzip.NewWriterLevel(io.Discard, gzipLevel)
	return w
}}

// gzipResponse compresses a 200 response's body with a pooled writer;
// other statuses (304, errors) pass through as they are. close must be
// called once the handler is done.
type gzipResponse struct {
	http.ResponseWriter
	gz     *gzip.Writer // nil until the body starts
	encode bool
}

func (g *gzipResponse) WriteHeader(code int) {
	if code == http.StatusOK {
		h := g.Header()
		h.Del("Content-Length")
		h.Set("Content-Encoding", "gzip")
		g.encode = true
	}
	g.ResponseWriter.WriteHeader(code)
}

func (g *gzipResponse) Write(p []byte) (int, error) {
	if !g.encode {
		return g.ResponseWriter.Write(p)
	}
	if g.gz == nil {
		g.gz = gzipWriters.Get().(*gzip.Writer)
		g.gz.Reset(g.ResponseWriter)
	}
	return g.gz.Write(p)
}

func (g *gzipResponse) close() {
	if g.gz == nil {
		return
	}
	g.gz.Close()
	g.gz.Reset(io.Discard)
	gzipWriters.Put(g.gz)
	g.gz = nil
}

package router

import (
	"bytes"
	"compress/gzip"
	"container/list"
	"io"
	"strings"
	"sync"
)

// Compressing on every request costs about 1 ms of CPU per 80 KB script or
// stylesheet on the 2-core VM (gzip level 5-6; level 1 half that for a
// fifth more bytes), more on a Raspberry Pi. A static site's
// files only change with a deploy, so the gzip form of the files asked for
// compressed is kept: a hit costs a copy. The cache is one for all sites,
// bounded in bytes and least recently used out, so sites that are not
// visited cost nothing; a site's entries go when its directory is closed.
const (
	gzipCacheBytes   = 4 << 20 // all sites together
	gzipCacheMaxFile = 1 << 20 // larger files are compressed as they are sent
)

// gzipCache maps a file of a site (directory, name and ETag) to its gzip
// form. The zero value is not usable: see newGzipCache. Safe for concurrent
// use.
type gzipCache struct {
	mu    sync.Mutex
	max   int
	size  int
	lru   *list.List // of *gzipEntry, most recently used first
	items map[string]*list.Element
}

type gzipEntry struct {
	key  string
	body []byte
}

func newGzipCache(max int) *gzipCache {
	return &gzipCache{max: max, lru: list.New(), items: map[string]*list.Element{}}
}

func gzipKey(dir, name, etag string) string { return dir + "\x00" + name + "\x00" + etag }

func (c *gzipCache) get(key string) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.items[key]
	if !ok {
		return nil, false
	}
	c.lru.MoveToFront(e)
	return e.Value.(*gzipEntry).body, true
}

func (c *gzipCache) put(key string, body []byte) {
	if len(body) > c.max {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.items[key]; ok {
		return // compressed by two requests at once
	}
	c.items[key] = c.lru.PushFront(&gzipEntry{key: key, body: body})
	c.size += len(body)
	for c.size > c.max {
		c.remove(c.lru.Back())
	}
}

// forget drops every entry of the site in dir.
func (c *gzipCache) forget(dir string) {
	prefix := dir + "\x00"
	c.mu.Lock()
	defer c.mu.Unlock()
	for key, e := range c.items {
		if strings.HasPrefix(key, prefix) {
			c.remove(e)
		}
	}
}

func (c *gzipCache) remove(e *list.Element) {
	ent := c.lru.Remove(e).(*gzipEntry)
	delete(c.items, ent.key)
	c.size -= len(ent.body)
}

// compress returns the gzip form of r's content, at the best compression:
// it is made once per file.
func compress(r io.Reader, size int64) ([]byte, error) {
	var buf bytes.Buffer
	buf.Grow(int(size/3) + 64)
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if _, err := io.Copy(zw, r); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

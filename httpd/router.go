package httpd

import (
	"bytes"
	"net/url"
	"slices"
	"strings"
)

// route is one endpoint. pattern segments are literals or "{name}" placeholders matching one
// path segment.
type route struct {
	method string
	// pattern is the path as registered ("/campaigns/{id}/start"), the route's metrics label.
	pattern string
	segs    []string
	// op is the Stream operation name used in error messages ("UpdateUsers failed with error: ...").
	op string
	// serverOnly routes reject user tokens with 403 code 17.
	serverOnly bool
	// stream marks routes that read the request body as a stream with no size limit (bulk import).
	stream bool
	// grows marks routes that add data: refused with 507 while disk space is low
	// (engine.CheckDiskSpace). Reads, stops and deletes are not.
	grows bool
	h     handler
}

// router matches the *escaped* request path segment by segment and unescapes each segment after
// splitting, so ids holding "/" (sent as %2F), spaces or unicode reach handlers intact.
type router struct {
	routes []*route
}

func (rt *router) add(method, pattern, op string, serverOnly bool, h handler) *route {
	r := &route{method: method, pattern: pattern, op: op, serverOnly: serverOnly, h: h}
	r.segs = strings.Split(strings.Trim(pattern, "/"), "/")
	rt.routes = append(rt.routes, r)
	return r
}

// ops returns the operation names of the routes, sorted and unique.
func (rt *router) ops() []string {
	var out []string
	for _, r := range rt.routes {
		out = append(out, r.op)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// match finds the route for method and the raw (escaped) path. It appends the unescaped
// placeholder values to params. pathFound reports whether some route matched the path with
// another method (405 rather than 404).
func (rt *router) match(method, rawPath []byte, params []string) (r *route, out []string, pathFound bool, badEscape bool) {
	// Tolerate a trailing slash and doubled slashes from a baseURL ending in "/".
	p := bytes.Trim(rawPath, "/")
	var segs [8][]byte
	n := 0
	for len(p) > 0 {
		i := bytes.IndexByte(p, '/')
		var s []byte
		if i < 0 {
			s, p = p, nil
		} else {
			s, p = p[:i], p[i+1:]
		}
		if len(s) == 0 {
			continue
		}
		if n == len(segs) {
			return nil, params, false, false
		}
		segs[n] = s
		n++
	}
	for _, cand := range rt.routes {
		if len(cand.segs) != n {
			continue
		}
		ok := true
		for i, want := range cand.segs {
			if want[0] != '{' && want != string(segs[i]) {
				ok = false
				break
			}
		}
		if !ok {
			continue
		}
		if cand.method != string(method) {
			pathFound = true
			continue
		}
		out = params
		for i, want := range cand.segs {
			if want[0] == '{' {
				v, err := url.PathUnescape(string(segs[i]))
				if err != nil {
					return nil, params, true, true
				}
				out = append(out, v)
			}
		}
		return cand, out, true, false
	}
	return nil, params, pathFound, false
}

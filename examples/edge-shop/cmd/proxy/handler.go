package main

import (
	"errors"
	"fmt"
	"log"
	"net/http"
	"net/http/httputil"
	"net/url"
)

// errBadUpstream is returned for an upstream URL that is not http://host:port.
var errBadUpstream = errors.New("bad upstream URL")

func parseUpstream(name, raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "http" || u.Host == "" {
		return nil, fmt.Errorf("%w: %s is %q; set it to http://host:port", errBadUpstream, name, raw)
	}
	return u, nil
}

// newHandler routes /api/ to api and the rest to frontend.
func newHandler(api, frontend string, logger *log.Logger) (http.Handler, error) {
	a, err := parseUpstream("PUBLIC_API_URI", api)
	if err != nil {
		return nil, err
	}
	f, err := parseUpstream("FRONTEND_URI", frontend)
	if err != nil {
		return nil, err
	}
	proxy := func(u *url.URL) *httputil.ReverseProxy {
		return &httputil.ReverseProxy{
			Rewrite: func(pr *httputil.ProxyRequest) {
				pr.SetURL(u)
				pr.SetXForwarded()
			},
			ErrorLog: logger,
		}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("ok\n"))
	})
	mux.Handle("/api/", proxy(a))
	mux.Handle("/", proxy(f))
	return mux, nil
}

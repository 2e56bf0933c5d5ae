// Package edgeshop is the edge shop demo: a small coffee shop in the spirit
// of the tutorial's HashiCups, split like it across two datacenters.
//
//	dc1 (shop.hcl)        shop-db ← product-api
//	dc2 (shop-edge.hcl)   proxy → frontend
//	                      proxy → public-api → product-api (dc1), payments (wasm)
//
// The services live under cmd/ (Go, stdlib only) and wasm/ (C, WASI); this
// package holds only the tests that parse the job files. See README.md.
package edgeshop

// Package shop holds what the edge-shop services share: the coffee and
// order types that travel between them as JSON, how a service finds the
// address it must listen on (NOMAD_IP_<label>:NOMAD_PORT_<label>, as the
// agent sets them for exec and podman tasks), and a Serve loop that stops
// cleanly on SIGTERM.
//
//	addr, err := shop.ListenAddr("db", os.Getenv)   // 127.0.0.1:23456
//	err = shop.Serve(ctx, addr, handler, logger)     // until ctx ends or SIGTERM
package shop

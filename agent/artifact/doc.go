// Package artifact downloads a task's artifacts (the job file's
// artifact { source, destination, checksum } blocks) into its task dir
// before the task starts. Used for exec binaries, wasm modules and podman
// image archives alike.
//
// A Fetcher owns a cache directory of verified downloads keyed by checksum,
// so the same artifact is fetched over the network once per node:
//
//	f := artifact.New(artifact.Options{CacheDir: filepath.Join(dataDir, "artifacts")})
//	path, err := f.Fetch(ctx, artifact.Artifact{
//		Source:      "https://example.com/app.wasm",
//		Destination: "local/",
//		Checksum:    "sha256:9f86d0...",
//	}, taskDir)
//
// Fetch: check destination (inside the task dir) -> file:// source? only
// under Options.FilePaths -> create the destination's directories through
// an os.Root on the task dir -> cache hit? copy out -> else GET (every
// dialed address checked by guard.go: never central's API or a broker,
// no loopback or link-local unless Options.AllowNetworks) into a temp
// file while hashing -> checksum matches? rename into the cache -> copy
// to the destination via a temp file and rename. A mismatch removes the
// temp file and returns ErrChecksumMismatch: nothing is put in place, so
// nothing runs. file:// sources are copied straight in, never cached.
package artifact

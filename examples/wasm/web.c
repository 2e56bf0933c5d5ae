// web is a tiny HTTP/1.0 server for the wasm driver: it accepts in a
// blocking loop on the listener the driver pre-opened for the group port
// "http" (descriptor in TETHER_LISTEN_FD_HTTP) and answers with the path.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int main(void) {
	const char *s = getenv("TETHER_LISTEN_FD_HTTP");
	if (!s) { fprintf(stderr, "TETHER_LISTEN_FD_HTTP is not set\n"); return 2; }
	int lfd = atoi(s);
	printf("serving on fd %d\n", lfd);
	fflush(stdout);
	for (;;) {
		int c = accept(lfd, NULL, NULL);
		if (c < 0) { perror("accept"); return 1; }
		char req[2048];
		int n = 0;
		while (n < (int)sizeof req - 1) { // read the request head
			int r = recv(c, req + n, sizeof req - 1 - n, 0);
			if (r <= 0) break;
			n += r;
			req[n] = 0;
			if (strstr(req, "\r\n\r\n")) break;
		}
		req[n] = 0;
		char path[256] = "/";
		sscanf(req, "%*s %255s", path);
		char body[512];
		int bl = snprintf(body, sizeof body, "hello from wasm: %s\n", path);
		char resp[1024];
		int rl = snprintf(resp, sizeof resp,
			"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", bl, body);
		for (int off = 0; off < rl;) {
			int w = send(c, resp + off, rl - off, 0);
			if (w <= 0) break;
			off += w;
		}
		close(c);
	}
}

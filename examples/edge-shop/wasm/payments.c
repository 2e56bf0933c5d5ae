// payments is the edge shop's payments service, a WebAssembly (WASI) guest
// for Tether's wasm driver. It accepts, in a blocking loop, on the listener
// the driver pre-opened for the group port "payments" (descriptor in
// TETHER_LISTEN_FD_PAYMENTS) and answers:
//
//	GET  /health   ok
//	POST /pay      {"amount":700,"card":"4242..."} -> {"id":"pay-<n>","status":"approved","amount":700}
//
// A card number ending in 0000 is declined. Nothing is charged: it is a demo.
// Build: clang --target=wasm32-wasi -O2 -o payments.wasm payments.c
#define _GNU_SOURCE // strcasestr
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void reply(int c, const char *status, const char *type, const char *body) {
	char head[256];
	int bl = (int)strlen(body);
	int hl = snprintf(head, sizeof head,
		"HTTP/1.0 %s\r\nContent-Type: %s\r\nContent-Length: %d\r\nConnection: close\r\n\r\n", status, type, bl);
	const char *parts[2] = {head, body};
	int lens[2] = {hl, bl};
	for (int i = 0; i < 2; i++) {
		for (int off = 0; off < lens[i];) {
			int w = send(c, parts[i] + off, lens[i] - off, 0);
			if (w <= 0) return;
			off += w;
		}
	}
}

// jsonInt finds "key": <int> in body; def when absent.
static long jsonInt(const char *body, const char *key, long def) {
	char pat[64];
	snprintf(pat, sizeof pat, "\"%s\"", key);
	const char *p = strstr(body, pat);
	if (!p) return def;
	p = strchr(p + strlen(pat), ':');
	if (!p) return def;
	return strtol(p + 1, NULL, 10);
}

// declined reports whether "card":"...0000" is in body.
static int declined(const char *body) {
	const char *p = strstr(body, "\"card\"");
	if (!p) return 0;
	p = strchr(p + 6, '"');
	if (!p) return 0;
	const char *end = strchr(p + 1, '"');
	return end && end - (p + 1) >= 4 && strncmp(end - 4, "0000", 4) == 0;
}

int main(void) {
	const char *s = getenv("TETHER_LISTEN_FD_PAYMENTS");
	if (!s) { fprintf(stderr, "TETHER_LISTEN_FD_PAYMENTS is not set: the group needs a port \"payments\"\n"); return 2; }
	int lfd = atoi(s);
	printf("payments: serving on fd %d\n", lfd);
	fflush(stdout);
	long next = 1;
	for (;;) {
		int c = accept(lfd, NULL, NULL);
		if (c < 0) { perror("accept"); return 1; }
		static char req[8192];
		int n = 0;
		char *body = NULL;
		long want = 0;
		while (n < (int)sizeof req - 1) { // the head, then Content-Length bytes of body
			int r = recv(c, req + n, sizeof req - 1 - n, 0);
			if (r <= 0) break;
			n += r;
			req[n] = 0;
			if (!body) {
				char *e = strstr(req, "\r\n\r\n");
				if (!e) continue;
				body = e + 4;
				char *cl = strcasestr(req, "\r\nContent-Length:");
				want = cl && cl < e ? strtol(cl + 17, NULL, 10) : 0;
			}
			if (req + n - body >= want) break;
		}
		req[n] = 0;
		char method[8] = "", path[256] = "/";
		sscanf(req, "%7s %255s", method, path);
		if (strcmp(path, "/health") == 0) {
			reply(c, "200 OK", "text/plain", "ok\n");
		} else if (strcmp(path, "/pay") == 0 && strcmp(method, "POST") == 0 && body) {
			long amount = jsonInt(body, "amount", -1);
			char out[160];
			if (amount < 0) {
				reply(c, "400 Bad Request", "application/json", "{\"error\":\"amount (cents) is required\"}\n");
			} else {
				snprintf(out, sizeof out, "{\"id\":\"pay-%ld\",\"status\":\"%s\",\"amount\":%ld}\n",
					next++, declined(body) ? "declined" : "approved", amount);
				reply(c, "200 OK", "application/json", out);
			}
		} else {
			reply(c, "404 Not Found", "application/json", "{\"error\":\"try POST /pay or GET /health\"}\n");
		}
		printf("payments: %s %s\n", method, path);
		fflush(stdout);
		close(c);
	}
}

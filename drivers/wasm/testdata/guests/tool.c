// tool is the test guest of the wasm driver: argv[1] picks what it does.
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv) {
	const char *cmd = argc > 1 ? argv[1] : "echo";
	if (strcmp(cmd, "echo") == 0) { // args to stdout, GREETING to stdout, a line to stderr
		for (int i = 2; i < argc; i++) printf("arg:%s\n", argv[i]);
		const char *g = getenv("GREETING");
		printf("env:%s\n", g ? g : "(unset)");
		fprintf(stderr, "to stderr\n");
		return 0;
	}
	if (strcmp(cmd, "exit") == 0 && argc > 2) return atoi(argv[2]);
	if (strcmp(cmd, "write") == 0 && argc > 3) { // write <path> <text>
		FILE *f = fopen(argv[2], "w");
		if (!f) { fprintf(stderr, "open %s: %s\n", argv[2], strerror(errno)); return 2; }
		fputs(argv[3], f);
		fclose(f);
		return 0;
	}
	if (strcmp(cmd, "cat") == 0 && argc > 2) { // cat <path>
		FILE *f = fopen(argv[2], "r");
		if (!f) { fprintf(stderr, "open %s: %s\n", argv[2], strerror(errno)); return 2; }
		char buf[256];
		size_t n;
		while ((n = fread(buf, 1, sizeof buf, f)) > 0) fwrite(buf, 1, n, stdout);
		fclose(f);
		return 0;
	}
	if (strcmp(cmd, "spin") == 0) { // loop forever without calling the host
		volatile unsigned long n = 0;
		for (;;) n++;
	}
	if (strcmp(cmd, "sleep") == 0) { // sleep in the host
		printf("sleeping\n");
		fflush(stdout);
		sleep(3600);
		return 0;
	}
	if (strcmp(cmd, "grow") == 0) { // allocate 1 MiB blocks until malloc fails
		static char *volatile keep[4096]; // volatile: the compiler must not drop the allocations
		for (int i = 0; i < 4096; i++) {
			char *p = malloc(1 << 20);
			if (!p) { fprintf(stderr, "malloc failed after %d MiB\n", i); abort(); }
			memset(p, 1, 1 << 20);
			keep[i] = p;
		}
		return 0;
	}
	if (strcmp(cmd, "trap") == 0) __builtin_trap();
	fprintf(stderr, "unknown command %s\n", cmd);
	return 64;
}
